# Snapshots across backends (docs/snapshots.md, "Across backends"), on a
# bare-metal guest that runs on the local APIC timer and prints its tick
# count (tests/guests/lapicticks.S): KVM under the software-CPU template,
# restored on the software CPU, snapshotted there and restored on KVM,
# the count going on each time; and what cannot cross is refused by name.
# Uses api_start/api/wait_for from t_api.sh.

# Two vCPUs: the AP, never started, crosses too (KVM's "before INIT").
CROSS_CFG='"vcpu_count": 2, "mem_size_mib": 64'
CROSS_TEMPLATE=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/docs/cpu-templates/software-cpu.json
# The software CPU showing GenuineIntel (with Intel's semantics).
CROSS_INTEL_TEMPLATE=$(dirname "$CROSS_TEMPLATE")/software-cpu-intel.json

# tick_lines FILE: "N M" per complete tick line (count, mcycles per window).
tick_lines() {
	grep -ao 'EMBER-TEST ticks [0-9]* mcycles [0-9]*$' "$1" | awk '{print $3, $5}'
}

last_ticks() {
	local n
	n=$(tick_lines "$1" | tail -n 1 | cut -d' ' -f1)
	[ -n "$n" ] || fail "no tick line in $1: $(tail -n 5 "$1")"
	echo "$n"
}

# cross_boot NAME ACCEL [TEMPLATE]: an API ember running the guest.
cross_boot() {
	api_start "$1"
	[ -z "${3:-}" ] || api 204 PUT /cpu-config "$(cat "$3")"
	api 204 PUT /boot-source "{\"kernel_image_path\": \"$GUESTS/lapicticks.elf\"}"
	api 204 PUT /machine-config "{$CROSS_CFG, \"accel\": \"$2\"}"
	api 204 PUT /actions '{"action_type": "InstanceStart"}'
	wait_for "EMBER-TEST ticks 200 " "$API_OUT" 300
}

# cross_save STATE MEM: pause, snapshot, kill the VMM; prints the last count.
cross_save() {
	api 204 PATCH /vm '{"state": "Paused"}'
	api 204 PUT /snapshot/create \
		"{\"snapshot_type\": \"Full\", \"snapshot_path\": \"$1\", \"mem_file_path\": \"$2\"}"
	kill -KILL "$API_PID"
	wait "$API_PID" 2>/dev/null || true
	rm -f "$API_SOCK"
}

cross_load_body() { # STATE MEM
	echo "{\"snapshot_path\": \"$1\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$2\"}, \"resume_vm\": true}"
}

# expect_ticks_go_on BEFORE FILE REF: the count goes on from BEFORE (one
# window later, or two if the pause fell while a line was printed),
# never from the start; keeps coming; and after the window that spans the
# restore, each window lasts within a factor 2 of REF TSC cycles.
expect_ticks_go_on() {
	local before=$1 out=$2 ref=$3 first n m
	wait_for "EMBER-TEST ticks $((before + 300)) " "$out" 300
	first=$(tick_lines "$out" | head -n 1 | cut -d' ' -f1)
	[ "$first" -eq $((before + 100)) ] || [ "$first" -eq $((before + 200)) ] ||
		fail "restored count starts at $first, want $((before + 100)): $(head -n 5 "$out")"
	! grep -aq "lapicticks: running" "$out" || fail "the guest restarted: $(head -n 5 "$out")"
	tick_lines "$out" | tail -n +2 | while read -r n m; do
		[ "$m" -ge $((ref / 2)) ] && [ "$m" -le $((ref * 2)) ] ||
			fail "ticks $n: a window of $m M TSC cycles, $ref at boot: the timer's rate changed"
	done
}

# cross_roundtrip NAME BORN OTHER TEMPLATE: the ticking guest booted on
# BORN with TEMPLATE, snapshotted and restored on OTHER, snapshotted there
# and restored on BORN again; after each restore the ticks go on from the
# saved count at the boot rate.
cross_roundtrip() {
	local name=$1 born=$2 other=$3 template=$4 d=$TEST_TMP/$1 before ref
	mkdir -p "$d"
	cross_boot "${name}1" "$born" "$template"
	ref=$(tick_lines "$API_OUT" | sed -n 2p | cut -d' ' -f2)
	cross_save "$d/1.state" "$d/1.mem"
	before=$(last_ticks "$TEST_TMP/${name}1.out")

	api_start "${name}2" --accel "$other"
	api 204 PUT /snapshot/load "$(cross_load_body "$d/1.state" "$d/1.mem")"
	api 200 GET /
	body_has '"state":"Running"'
	expect_ticks_go_on "$before" "$API_OUT" "$ref"
	cross_save "$d/2.state" "$d/2.mem"
	before=$(last_ticks "$TEST_TMP/${name}2.out")

	api_start "${name}3" --accel "$born"
	api 204 PUT /snapshot/load "$(cross_load_body "$d/2.state" "$d/2.mem")"
	expect_ticks_go_on "$before" "$API_OUT" "$ref"
	api_stop
}

test_snapshot_cross_roundtrip() { # KVM (template) -> TCG -> KVM
	need_accel kvm
	need_accel tcg
	cross_roundtrip crossk kvm tcg "$CROSS_TEMPLATE"
}

# Born on the software CPU with the Intel-vendor template, fitted to what
# this host's KVM lists (tests/tools/kvm_fit_template.py): this Intel
# host's KVM takes it (the vendor matches), and it goes back again.
test_snapshot_cross_intel_vendor() { # TCG (Intel template) -> KVM -> TCG
	need_accel kvm
	need_accel tcg
	grep -q GenuineIntel /proc/cpuinfo || { echo "host is not Intel"; exit 77; }
	mkdir -p "$TEST_TMP/crossfit"
	python3 "$(dirname "${BASH_SOURCE[0]}")/../tools/kvm_fit_template.py" \
		"$CROSS_INTEL_TEMPLATE" "$TEST_TMP/crossfit/intel-fit.json" || fail "kvm_fit_template"
	cross_roundtrip crossi tcg kvm "$TEST_TMP/crossfit/intel-fit.json"
}

test_snapshot_cross_refused() { # what cannot cross, named; the VMM goes on
	need_accel kvm
	need_accel tcg
	local d=$TEST_TMP/crossno
	mkdir -p "$d"
	# KVM without the template offers what the software CPU lacks.
	cross_boot crossn1 kvm
	cross_save "$d/k.state" "$d/k.mem"
	api_start crossn2 --accel tcg --level Info
	api 400 PUT /snapshot/load "$(cross_load_body "$d/k.state" "$d/k.mem")"
	body_has 'vcpu/0: the guest was offered '
	body_has 'on kvm; the software CPU (tcg) lacks it'
	grep -q 'CPUID.(EAX=' "$TEST_TMP/body" || fail "no CPUID bit named: $(cat "$TEST_TMP/body")"
	[ "$(grep -c 'the software CPU (tcg) lacks it' "$API_OUT")" -eq 1 ] ||
		fail "the refusal is not logged once: $(cat "$API_OUT")"
	api 200 GET /
	body_has '"state":"Not started"'
	# A corrupt cross snapshot: the file's checksum, before anything.
	cp "$d/k.state" "$d/flipped"
	printf '\x5a' | dd of="$d/flipped" bs=1 seek=300 conv=notrunc status=none
	api 400 PUT /snapshot/load "$(cross_load_body "$d/flipped" "$d/k.mem")"
	body_has 'checksum mismatch'
	# The same snapshot still loads where it was taken.
	api_stop
	api_start crossn3 --accel kvm
	api 204 PUT /snapshot/load "$(cross_load_body "$d/k.state" "$d/k.mem")"
	api_stop

	# Foreign or older files: an older Ember's snapshot (no CPUID section,
	# or the platform in KVM's own layout) restores only where it was
	# taken; a neutral platform cut short is refused naming the section.
	cross_boot crossn6 kvm "$CROSS_TEMPLATE"
	cross_save "$d/kt.state" "$d/kt.mem"
	local edit
	edit=$(dirname "${BASH_SOURCE[0]}")/../tools/snapsections.py
	python3 "$edit" "$d/kt.state" "$d/nocpuid.state" drop vcpu/0/cpuid || fail "snapsections"
	python3 "$edit" "$d/kt.state" "$d/v1.state" version vm/platform 1 || fail "snapsections"
	python3 "$edit" "$d/kt.state" "$d/cut.state" cut vm/platform 10 || fail "snapsections"
	api_start crossn7 --accel tcg
	api 400 PUT /snapshot/load "$(cross_load_body "$d/nocpuid.state" "$d/kt.mem")"
	body_has 'no vcpu/0/cpuid section (an older Ember'"'"'s snapshot): it restores only on kvm'
	api 400 PUT /snapshot/load "$(cross_load_body "$d/v1.state" "$d/kt.mem")"
	body_has "vm/platform: version 1 is kvm's own layout"
	api 400 PUT /snapshot/load "$(cross_load_body "$d/cut.state" "$d/kt.mem")"
	body_has 'vm/platform: 10 bytes, version 2 has'
	api 204 PUT /snapshot/load "$(cross_load_body "$d/kt.state" "$d/kt.mem")"
	api_stop
	api_start crossn8 --accel kvm
	api 204 PUT /snapshot/load "$(cross_load_body "$d/nocpuid.state" "$d/kt.mem")"
	api_stop

	# The software CPU says AuthenticAMD; this host's KVM cannot.
	grep -q GenuineIntel /proc/cpuinfo || { echo "host is not Intel"; exit 77; }
	cross_boot crossn4 tcg
	cross_save "$d/t.state" "$d/t.mem"
	api_start crossn5 --accel kvm
	api 400 PUT /snapshot/load "$(cross_load_body "$d/t.state" "$d/t.mem")"
	body_has 'the guest was shown the CPU vendor \"AuthenticAMD\" on tcg'
	body_has "runs GenuineIntel's instruction semantics"
	api_stop
}
