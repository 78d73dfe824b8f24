# CPU templates (docs/cpu-templates.md): a bare-metal guest prints what
# CPUID and RDMSR tell it (tests/guests/cpuid.S) under a custom template,
# a static one, and none; the API's answers to good and bad templates.
# Uses api_start/api/body_has from t_api.sh.

# Leaf 1 EAX set whole (a T2-like signature), the hypervisor bit (ECX bit
# 31) cleared, PAT's entry 0 made write-through (4): all visible to the
# guest. (This machine's nested KVM answers most feature bits of leaf 1
# and all of leaf 7 from the hardware whatever KVM_SET_CPUID2 says, so
# the KVM checks stay with bits it honours; the unit tests check the
# tables themselves.)
CPU_TEMPLATE_JSON='{
  "cpuid_modifiers": [
    { "leaf": "0x1", "subleaf": "0x0", "flags": 0, "modifiers": [
      { "register": "eax", "bitmap": "0b0000_0000_0000_0011_0000_0110_1111_0010" },
      { "register": "ecx", "bitmap": "0b0xxx_xxxx_xxxx_xxxx_xxxx_xxxx_xxxx_xxxx" } ] } ],
  "msr_modifiers": [ { "addr": "0x277", "bitmap": "0b00000100" } ]
}'

# cpuid_value OUT NAME: the hex the guest printed for NAME.
cpuid_value() {
	sed -n "s/^$2=\([0-9a-f]*\)\$/\1/p" "$1" | tail -n 1
}

# cpuid_boot ACCEL TAG CONFIG-EXTRA: boots the cpuid guest with the config
# file's machine-config plus CONFIG-EXTRA (more top-level sections);
# leaves the output in $TEST_TMP/TAG.out.
cpuid_boot() {
	local accel=$1 tag=$2 extra=$3 cfg=$TEST_TMP/$2.json out=$TEST_TMP/$2.out
	need_accel "$accel"
	cat >"$cfg" <<JSON
{
  "boot-source": { "kernel_image_path": "$GUESTS/cpuid.elf" },
  $extra
}
JSON
	local rc=0
	timeout 20 "$EMBER" --no-api --config-file "$cfg" --accel "$accel" --level Info \
		</dev/null >"$out" 2>&1 || rc=$?
	[ "$rc" -eq 0 ] || fail "ember exited with $rc: $(cat "$out")"
	grep -q "EMBER-TEST-OK cpuid" "$out" || fail "no OK line: $(cat "$out")"
}

cpu_template_custom() { # ACCEL: the template's bits are what the guest reads
	local accel=$1 out
	cpuid_boot "$accel" "none-$accel" '"machine-config": { "vcpu_count": 1, "mem_size_mib": 64 }'
	out=$TEST_TMP/none-$accel.out
	local eax0 ecx0
	eax0=$(cpuid_value "$out" cpuid.1.eax)
	ecx0=$(cpuid_value "$out" cpuid.1.ecx)
	[ "$eax0" != 000306f2 ] || fail "the untemplated signature is already the template's"
	[ $((0x$ecx0 >> 31)) -eq 1 ] || fail "no hypervisor bit to clear: $ecx0"
	[ "$(cpuid_value "$out" msr.277)" = 00070406 ] || fail "PAT at reset: $(cat "$out")"

	# The template inline on one backend, from a file on the other
	# (Firecracker's config file takes both).
	local tmpl=$CPU_TEMPLATE_JSON
	if [ "$accel" = tcg ]; then
		printf '%s\n' "$CPU_TEMPLATE_JSON" >"$TEST_TMP/tmpl.json"
		tmpl="\"$TEST_TMP/tmpl.json\""
	fi
	cpuid_boot "$accel" "custom-$accel" \
		"\"machine-config\": { \"vcpu_count\": 1, \"mem_size_mib\": 64 }, \"cpu-config\": $tmpl"
	out=$TEST_TMP/custom-$accel.out
	local eax ecx edx
	eax=$(cpuid_value "$out" cpuid.1.eax)
	ecx=$(cpuid_value "$out" cpuid.1.ecx)
	edx=$(cpuid_value "$out" cpuid.1.edx)
	[ "$eax" = 000306f2 ] || fail "leaf 1 eax $eax, want the template's 000306f2"
	[ $((0x$ecx)) -eq $((0x$ecx0 & 0x7fffffff)) ] || fail "leaf 1 ecx $ecx, want $ecx0 less bit 31"
	[ "$edx" = "$(cpuid_value "$TEST_TMP/none-$accel.out" cpuid.1.edx)" ] || fail "edx changed"
	[ "$(cpuid_value "$out" msr.277)" = 00070404 ] || fail "PAT: $(cat "$out")"
	grep -q "CPU template Custom: 1 CPUID and 1 MSR modifiers" "$out" || fail "no log line"
}

test_cpu_template_custom_kvm() { cpu_template_custom kvm; }
test_cpu_template_custom_tcg() { cpu_template_custom tcg; }

# Firecracker's T2 on this (Intel) host: its signature, no VMX, no
# PREFETCHW. (AVX-512 is hidden too, but this machine's nested KVM shows
# the hardware's leaf 7 whatever the VMM sets.)
test_cpu_template_t2_kvm() {
	need_accel kvm
	grep -q GenuineIntel /proc/cpuinfo || { echo "T2 needs an Intel host"; exit 77; }
	cpuid_boot kvm t2-kvm \
		'"machine-config": { "vcpu_count": 1, "mem_size_mib": 64, "cpu_template": "T2" }'
	local out=$TEST_TMP/t2-kvm.out eax ecx e1ecx
	eax=$(cpuid_value "$out" cpuid.1.eax)
	ecx=$(cpuid_value "$out" cpuid.1.ecx)
	e1ecx=$(cpuid_value "$out" cpuid.80000001.ecx)
	[ $((0x$eax & 0x0fff3fff)) -eq $((0x000306f2)) ] || fail "leaf 1 eax $eax"
	[ $((0x$ecx & 0x20)) -eq 0 ] || fail "VMX offered: $ecx"
	[ $((0x$ecx & 0x80000000)) -ne 0 ] || fail "no hypervisor bit: $ecx"
	[ $((0x$e1ecx & 0x20000100)) -eq 0 ] || fail "0x80000001 ecx $e1ecx: PREFETCHW offered"
}

# The API: PUT /cpu-config, its errors, the one template slot, the
# refusals at InstanceStart (the VMM stays usable after each).
test_cpu_template_api() {
	local accel=kvm
	case " $(ember_accels) " in *" kvm "*) ;; *) accel=tcg ;; esac
	api_start cpu-api
	api 204 PUT /boot-source "{\"kernel_image_path\": \"$GUESTS/cpuid.elf\"}"
	api 204 PUT /machine-config "{\"vcpu_count\": 1, \"mem_size_mib\": 64, \"accel\": \"$accel\"}"
	api 400 PUT /cpu-config '{"cpuid_modifiers": [{"leaf": "0x1", "subleaf": "0x0", "flags": 0,
		"modifiers": [{"register": "ecx", "bitmap": "0b1x"}, {"register": "edx", "bitmap": "0b2"}]}]}'
	body_has 'cpu-config: cpuid_modifiers[0].modifiers[1].bitmap: \"0b2\": '"'2'"' is not a bitmap digit'
	api 400 PUT /cpu-config '{"msr_modifiers": [{"addr": "0x10a", "bitmap": "0b1xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}]}'
	body_has 'cpu-config: msr_modifiers[0].bitmap:'
	body_has 'more than 64 bits'
	api 400 PUT /cpu-config '{"cpuid_modifiers": [{"leaf": 1, "subleaf": "0x0", "flags": 0, "modifiers": []}]}'
	body_has 'cpu-config: cpuid_modifiers[0].leaf: must be a string'
	api 400 PUT /cpu-config '{"reg_modifiers": []}'
	body_has 'reg_modifiers: an aarch64 field'
	api 400 PUT /cpu-config '{"kvm_capabilities": ["12a"]}'
	body_has 'cpu-config: kvm_capabilities[0]: \"12a\"'
	api 400 PUT /cpu-config 'not json'
	api 200 GET /vm/config
	body_lacks '"cpu-config"'

	# A capability KVM does not have: InstanceStart names it (the
	# software CPU ignores them, with a log line).
	if [ "$accel" = kvm ]; then
		api 204 PUT /cpu-config '{"kvm_capabilities": ["999999", "!7"]}'
		api 400 PUT /actions '{"action_type": "InstanceStart"}'
		body_has 'kvm_capabilities: KVM capability 999999 is not offered'
		api 204 PUT /machine-config "{\"vcpu_count\": 1, \"mem_size_mib\": 64, \"accel\": \"kvm\", \"cpu_template\": \"T2A\"}"
		api 200 GET /vm/config
		body_lacks '"cpu-config"'
		if grep -q GenuineIntel /proc/cpuinfo; then
			api 400 PUT /actions '{"action_type": "InstanceStart"}'
			body_has 'cpu_template T2A is made for AuthenticAMD CPUs; this host is GenuineIntel'
		fi
		# A leaf KVM does not have.
		api 204 PUT /cpu-config '{"cpuid_modifiers": [{"leaf": "0x4fffffff", "subleaf": "0x0", "flags": 0, "modifiers": []}]}'
		api 400 PUT /actions '{"action_type": "InstanceStart"}'
		body_has "cpuid_modifiers[0]: leaf 0x4fffffff subleaf 0x0 is not a CPUID leaf this host's KVM has"
		api 204 PUT /cpu-config '{"msr_modifiers": [{"addr": "0x12345", "bitmap": "0b1"}]}'
		api 400 PUT /actions '{"action_type": "InstanceStart"}'
		body_has 'msr_modifiers[0]: MSR 0x12345 is not one'
	fi
	# The one slot: the custom template shows in GET /vm/config, not in
	# machine-config; machine-config naming cpu_template replaces it.
	api 204 PUT /cpu-config "$CPU_TEMPLATE_JSON"
	api 200 GET /vm/config
	body_has '"cpu-config":{"kvm_capabilities":[],"cpuid_modifiers":[{"leaf":"0x1","subleaf":"0x0","flags":0'
	body_has '"bitmap":"0b00000000000000110000011011110010"'
	body_has '"addr":"0x277","bitmap":"0bxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx00000100"'
	api 200 GET /machine-config
	grep -q cpu_template "$TEST_TMP/body" && fail "machine-config shows a template: $(cat "$TEST_TMP/body")"
	api 204 PATCH /machine-config '{"cpu_template": "None"}'
	api 200 GET /vm/config
	body_lacks '"cpu-config"'
	api 204 PUT /cpu-config "$CPU_TEMPLATE_JSON"
	api 204 PUT /actions '{"action_type": "InstanceStart"}'
	wait_for "EMBER-TEST-OK cpuid" "$API_OUT"
	grep -q "cpuid.1.eax=000306f2" "$API_OUT" || fail "template not applied: $(cat "$API_OUT")"
	# Pre-boot only; the guest has reset by now, or soon will.
	wait "$API_PID" || true
}

# The software CPU: static templates and MSRs it does not keep are refused
# at InstanceStart, with the reason.
test_cpu_template_tcg_refusals() {
	need_accel tcg
	api_start cpu-tcg --level Info
	api 204 PUT /boot-source "{\"kernel_image_path\": \"$GUESTS/cpuid.elf\"}"
	api 204 PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64, "accel": "tcg", "cpu_template": "T2"}'
	api 400 PUT /actions '{"action_type": "InstanceStart"}'
	body_has 'cpu_template T2 is made for GenuineIntel CPUs; the software CPU is AuthenticAMD'
	api 204 PATCH /machine-config '{"cpu_template": "T2A"}'
	api 400 PUT /actions '{"action_type": "InstanceStart"}'
	body_has 'leaf 0xd subleaf 0x0 is not a CPUID leaf the software CPU has'
	api 204 PUT /cpu-config '{"msr_modifiers": [{"addr": "0x10a", "bitmap": "0b1"}]}'
	api 400 PUT /actions '{"action_type": "InstanceStart"}'
	body_has 'msr_modifiers[0]: MSR 0x10a is not one the software CPU keeps as written'
	api 204 PUT /cpu-config '{"kvm_capabilities": ["999999"], "cpuid_modifiers": [{"leaf": "0x7", "subleaf": "0x0", "flags": 1, "modifiers": [{"register": "ebx", "bitmap": "0b1xxxxxxxxxxxxxxxx"}]}]}'
	api 204 PUT /actions '{"action_type": "InstanceStart"}'
	wait_for "EMBER-TEST-OK cpuid" "$API_OUT"
	grep -q "cpuid.7.ebx=00010000" "$API_OUT" || fail "leaf 7 ebx: $(cat "$API_OUT")"
	grep -q "kvm_capabilities (1) do not apply to the software CPU; ignored" "$API_OUT" ||
		fail "no log line for the ignored capabilities"
	grep -q "sets CPUID leaf 0x7 ebx bits 0x00010000, features the software CPU does not have" \
		"$API_OUT" || fail "no warning for a feature the CPU lacks: $(cat "$API_OUT")"
	wait "$API_PID" || true
}

# Pre-boot only, as Firecracker.
test_cpu_template_after_start_refused() {
	need_accel tcg
	api_start cpu-post
	api 204 PUT /boot-source "{\"kernel_image_path\": \"$GUESTS/spin.elf\"}"
	api 204 PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64, "accel": "tcg"}'
	api 204 PUT /actions '{"action_type": "InstanceStart"}'
	api 400 PUT /cpu-config '{}'
	body_has 'The requested operation is not supported after starting the microVM.'
	api_stop
}

# A snapshot keeps the custom template (in its copy of the configuration):
# the restored VM is built with it and the guest goes on. Uses the
# helpers of t_snapshot.sh.
cpu_template_snapshot() { # ACCEL
	local accel=$1 d=$TEST_TMP/tsnap-$1
	need_accel "$accel"
	mkdir -p "$d"
	api_start "tsnap1-$accel" --level Info
	api 204 PUT /boot-source "{\"kernel_image_path\": \"$GUESTS/counter.elf\"}"
	api 204 PUT /machine-config "{$SNAP_GUEST_CFG, \"accel\": \"$accel\"}"
	api 204 PUT /cpu-config "$CPU_TEMPLATE_JSON"
	api 204 PUT /actions '{"action_type": "InstanceStart"}'
	wait_for "EMBER-TEST count 0000000000000003" "$API_OUT" 300
	api 204 PATCH /vm '{"state": "Paused"}'
	snap_take Full "$d/state" "$d/mem"
	local before
	before=$(last_count "$API_OUT")
	api_stop
	api_start "tsnap2-$accel" --level Info
	api 204 PUT /snapshot/load "{\"snapshot_path\": \"$d/state\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$d/mem\"}, \"resume_vm\": true}"
	api 200 GET /vm/config
	body_has '"cpu-config":{"kvm_capabilities":[],"cpuid_modifiers":[{"leaf":"0x1"'
	grep -q "CPU template Custom: 1 CPUID and 1 MSR modifiers" "$API_OUT" ||
		fail "restored without the template: $(cat "$API_OUT")"
	expect_continues "$before" "$API_OUT"
	api_stop
}

test_cpu_template_snapshot_kvm() { cpu_template_snapshot kvm; }
test_cpu_template_snapshot_tcg() { cpu_template_snapshot tcg; }

# Linux on the software CPU with a template that hides SSE4.2 (leaf 1 ECX
# bit 20): the kernel's flags lack sse4_2 and keep sse4_1. One boot.
test_cpu_template_linux_tcg() {
	need_accel tcg
	local g=${LINUX_GUEST:-build/guest} d="$TEST_TMP/linux-tmpl"
	[ -f "$g/vmlinux" ] && [ -f "$g/initramfs.cpio.gz" ] || fail "$g/vmlinux missing: make guest"
	mkdir -p "$d"
	cat >"$d/check.sh" <<'SH'
#!/bin/sh
flags=$(sed -n 's/^flags[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
echo "LINUX-CHECK flags: $flags"
case " $flags " in *" sse4_2 "*) echo "LINUX-CHECK sse4_2 present" ;; esac
case " $flags " in *" sse4_1 "*) echo "LINUX-CHECK sse4_1 present" ;; esac
echo "LINUX-CHECK done"
SH
	bash guest/mkoverlay.sh "$d/overlay.cpio.gz" "$d/check.sh"
	cat "$g/initramfs.cpio.gz" "$d/overlay.cpio.gz" >"$d/initrd.cpio.gz"
	cat >"$d/vm.json" <<JSON
{
  "boot-source": { "kernel_image_path": "$g/vmlinux", "initrd_path": "$d/initrd.cpio.gz",
                   "boot_args": "console=ttyS0 reboot=k panic=-1" },
  "machine-config": { "vcpu_count": 1, "mem_size_mib": 192 },
  "cpu-config": { "cpuid_modifiers": [ { "leaf": "0x1", "subleaf": "0x0", "flags": 0,
    "modifiers": [ { "register": "ecx", "bitmap": "0b0_xxxx_xxxx_xxxx_xxxx_xxxx" } ] } ] }
}
JSON
	local rc=0
	timeout -k 5 120 "$EMBER" --no-api --config-file "$d/vm.json" --accel tcg </dev/null \
		>"$d/console" 2>&1 || rc=$?
	[ "$rc" -eq 0 ] || fail "ember exited with $rc: $(tail -n 30 "$d/console")"
	grep -q "LINUX-CHECK done" "$d/console" || fail "script did not finish: $(tail -n 30 "$d/console")"
	grep -q "LINUX-CHECK sse4_1 present" "$d/console" || fail "sse4_1 gone too: $(grep LINUX-CHECK "$d/console")"
	! grep -q "LINUX-CHECK sse4_2 present" "$d/console" || fail "sse4_2 still in /proc/cpuinfo"
	! grep -Eq "Kernel panic|BUG:|Oops|WARNING:" "$d/console" || fail "kernel trouble in the log"
}
