# Seccomp (docs/seccomp.md): every thread of a running VMM is confined
# (Seccomp: 2 in /proc/PID/task/*/status) on KVM and on the software CPU,
# --no-seccomp confines none, a filter file that refuses a call a thread
# needs ends the VMM by SIGSYS, a malformed one is refused in one line
# naming the place. (The rest of the suite runs with the default filters:
# a call missing from a list fails the test that makes it.)

# sc_threads PID: "name mode" for each thread of PID.
sc_threads() {
	local t
	for t in /proc/"$1"/task/*; do
		echo "$(cat "$t/comm" 2>/dev/null) $(awk '/^Seccomp:/ {print $2}' "$t/status" 2>/dev/null)"
	done
}

# sc_expect PID MODE NAME...: every thread of PID is in seccomp MODE, and
# threads of these names exist.
sc_expect() {
	local pid=$1 mode=$2 threads n m name
	shift 2
	threads=$(sc_threads "$pid")
	echo "threads of $pid:"
	echo "$threads"
	while read -r n m; do
		# A thread that ended between the listing and the read.
		[ -n "$n" ] && [ -n "$m" ] || continue
		[ "$m" = "$mode" ] || fail "thread $n: Seccomp: $m, want $mode"
	done <<<"$threads"
	for name in "$@"; do
		grep -q "^$name " <<<"$threads" || fail "no thread $name"
	done
}

# sc_ticker ACCEL VCPUS [ember flags...]: a VMM serving its API, running the
# ticker guest; sets API_PID etc. (t_api.sh).
sc_ticker() {
	local accel=$1 vcpus=$2
	shift 2
	need_accel "$accel"
	api_start "sc-$accel" "$@"
	api 204 PUT /boot-source "{\"kernel_image_path\": \"$GUESTS/ticker.elf\"}"
	api 204 PUT /machine-config "{\"vcpu_count\": $vcpus, \"mem_size_mib\": 64, \"accel\": \"$accel\"}"
	api 204 PUT /actions '{"action_type": "InstanceStart"}'
	wait_for "EMBER-TEST tick" "$API_OUT"
}

test_seccomp_every_thread_kvm() {
	sc_ticker kvm 2
	sc_expect "$API_PID" 2 ember ember-api ember-log ember-vcpu0 ember-vcpu1
	# Confined, it still serves: the API, a pause and a resume.
	api 200 GET /
	body_has '"state":"Running"'
	api 204 PATCH /vm '{"state": "Paused"}'
	api 204 PATCH /vm '{"state": "Resumed"}'
	api_stop 143
}

test_seccomp_every_thread_tcg_linux() {
	need_accel tcg
	local g=${LINUX_GUEST:-build/guest} d="$TEST_TMP/sc-linux"
	[ -f "$g/vmlinux" ] && [ -f "$g/initramfs.cpio.gz" ] || fail "$g/vmlinux missing: make guest"
	mkdir -p "$d"
	printf '#!/bin/sh\necho SECCOMP-GUEST-UP\nsleep 60\n' >"$d/wait.sh"
	bash guest/mkoverlay.sh "$d/overlay.cpio.gz" "$d/wait.sh"
	cat "$g/initramfs.cpio.gz" "$d/overlay.cpio.gz" >"$d/initrd.cpio.gz"
	cat >"$d/vm.json" <<JSON
{
  "boot-source": { "kernel_image_path": "$g/vmlinux", "initrd_path": "$d/initrd.cpio.gz",
                   "boot_args": "console=ttyS0 reboot=k panic=-1" },
  "machine-config": { "vcpu_count": 1, "mem_size_mib": 128 }
}
JSON
	# With the API too, so that every kind of thread is there.
	api_start sc-linux --config-file "$d/vm.json" --accel tcg
	wait_for "SECCOMP-GUEST-UP" "$API_OUT" 600
	sc_expect "$API_PID" 2 ember ember-api ember-log ember-vcpu0 tcg-timer
	api 200 GET /
	body_has '"state":"Running"'
	api_stop 143
}

test_seccomp_off_confines_nothing() {
	sc_ticker kvm 1 --no-seccomp
	sc_expect "$API_PID" 0 ember ember-api ember-log ember-vcpu0
	api_stop 143
}

# sc_edit IN OUT PYTHON: OUT is IN (a filter document, as `d`) edited.
sc_edit() {
	python3 - "$1" "$2" "$3" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
exec(sys.argv[3])
json.dump(d, open(sys.argv[2], "w"))
PY
}

test_seccomp_filter_without_a_needed_call_ends_the_vmm() {
	need_accel kvm
	local all=$TEST_TMP/sc-all.json f=$TEST_TMP/sc-no-run.json out=$TEST_TMP/hello-kvm.out rc=0
	"$EMBER" --print-seccomp-filter >"$all"
	# The printed filter runs a guest as the built-in one does.
	run_guest kvm hello --seccomp-filter "$all" || rc=$?
	[ "$rc" -eq 0 ] || fail "the printed filter: exit $rc: $(cat "$out")"
	# Without KVM_RUN in the vCPU list, the first vCPU to run ends the VMM.
	sc_edit "$all" "$f" '
d["vcpu"]["filter"] = [r for r in d["vcpu"]["filter"]
                       if not any(a.get("comment") == "KVM_RUN" for a in r.get("args", []))]'
	rc=0
	run_guest kvm hello --seccomp-filter "$f" || rc=$?
	cat "$out"
	# 128 + SIGSYS from the shell's point of view either way.
	[ "$rc" -eq 159 ] || fail "exit $rc, want 159 (SIGSYS)"
	grep -q "thread ember-vcpu0 (vcpu filter) made system call 16 (ioctl) with arguments 0x[0-9a-f]*, 0xae80" "$out" ||
		fail "no reporter line for KVM_RUN"
	! grep -q "EMBER-TEST-OK" "$out" || fail "the guest ran"
	# kill_process instead of the trap: the kernel ends it, no line.
	sc_edit "$f" "$f" 'd["vcpu"]["default_action"] = "kill_process"'
	rc=0
	run_guest kvm hello --seccomp-filter "$f" || rc=$?
	[ "$rc" -eq 159 ] || fail "kill_process: exit $rc, want 159 (SIGSYS): $(cat "$out")"
	! grep -q "seccomp\]" "$out" || fail "kill_process left a line: $(cat "$out")"
}

test_seccomp_filter_without_exec_memory_ends_a_tcg_vmm() {
	need_accel tcg
	local f=$TEST_TMP/sc-no-exec.json out=$TEST_TMP/hello-tcg.out rc=0
	"$EMBER" --print-seccomp-filter >"$f"
	# The software CPU's translation buffer is made on the VMM thread.
	sc_edit "$f" "$f" '
d["vmm"]["filter"] = [r for r in d["vmm"]["filter"]
                      if not (r["syscall"] == "mmap" and any(a["val"] == 7 for a in r.get("args", [])))]'
	run_guest tcg hello --seccomp-filter "$f" || rc=$?
	cat "$out"
	[ "$rc" -eq 159 ] || fail "exit $rc, want 159 (SIGSYS)"
	grep -q "(vmm filter) made system call 9 (mmap) with arguments 0x0, 0x[0-9a-f]*, 0x7, 0x22" "$out" ||
		fail "no reporter line for the executable mapping"
}

test_seccomp_malformed_filter_is_refused() {
	local f=$TEST_TMP/sc-bad.json err=$TEST_TMP/sc-bad.err rc
	# sc_refused JSON PLACE: exit 1, one line naming PLACE, nothing started.
	sc_refused() {
		printf '%s' "$1" >"$f"
		rc=0
		"$EMBER" --seccomp-filter "$f" --api-sock "$TEST_TMP/sc-bad.sock" </dev/null >/dev/null 2>"$err" || rc=$?
		cat "$err"
		[ "$rc" -eq 1 ] || fail "exit $rc, want 1"
		[ "$(grep -c . "$err")" -eq 1 ] || fail "not one line"
		grep -qF "ember: --seccomp-filter $f: $2" "$err" || fail "want \"$2\""
		[ ! -e "$TEST_TMP/sc-bad.sock" ] || fail "the API socket was created"
	}
	local ok='{"default_action": "trap", "filter_action": "allow", "filter": []}'
	sc_refused '{"vmm": ' "not valid JSON at line 1"
	sc_refused "{\"vmm\": $ok, \"api\": $ok}" "vcpu: missing"
	sc_refused "{\"vmm\": $ok, \"api\": $ok, \"vcpu\": $ok, \"vmx\": $ok}" '"vmx": not a thread kind'
	sc_refused "{\"vmm\": $ok, \"api\": $ok, \"vcpu\": {\"default_action\": \"trap\", \"filter_action\": \"allow\",
	  \"filter\": [{\"syscall\": \"read\"}, {\"syscall\": \"ioctl\", \"args\": [{\"index\": 1, \"type\": \"dword\",
	  \"op\": \"equal\", \"val\": 44672}]}]}}" \
		'vcpu.filter[1].args[0].op: must be one of "eq", "ne", "lt", "le", "gt", "ge" or {"masked_eq": MASK} (got "equal")'
	sc_refused "{\"vmm\": $ok, \"api\": {\"default_action\": \"trap\", \"filter_action\": \"allow\",
	  \"filter\": [{\"syscall\": \"reed\"}]}, \"vcpu\": $ok}" 'api.filter[0].syscall: unknown system call "reed"'
	sc_refused "{\"vmm\": {\"default_action\": \"allow\", \"filter_action\": \"allow\",
	  \"filter\": [{\"syscall\": \"read\"}]}, \"api\": $ok, \"vcpu\": $ok}" \
		'vmm.filter[0] (read): its action is the default action'
	rc=0
	"$EMBER" --seccomp-filter "$TEST_TMP/nonexistent.json" </dev/null 2>"$err" || rc=$?
	[ "$rc" -eq 1 ] && grep -q "nonexistent.json: No such file" "$err" || fail "missing file: exit $rc: $(cat "$err")"
}
