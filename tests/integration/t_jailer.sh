# ember-jailer as an orchestrator meets it: Firecracker's flags, every bad
# one refused in one line with nothing left behind, then jailed VMMs
# configured through the API socket inside the jail (a bare-metal guest on
# KVM, Linux on the software CPU), checked from the host: uid/gid, no
# capabilities, no_new_privs, the jail as root, its own mount namespace,
# the cgroup, limits, and the guest's clean exit. Needs root (the jailer
# does); JAILER names the binary. Uses t_api.sh's api/body_has/wait_for.

JAIL_UID=123
JAIL_GID=123

need_jailer() {
	[ -n "${JAILER:-}" ] && [ -x "$JAILER" ] || { echo "JAILER not built"; exit 77; }
	[ "$(id -u)" -eq 0 ] || { echo "the jailer needs root"; exit 77; }
}

# jail_setup NAME: a fresh chroot base; sets JAIL_BASE, JAIL_ID, JAIL_ROOT
# and JAIL_PARENT (a cgroup parent of this run only).
jail_setup() {
	need_jailer
	JAIL_BASE=$TEST_TMP/jail-$1
	JAIL_ID=it-$1-$$
	JAIL_PARENT=ember-it-$$
	JAIL_ROOT=$JAIL_BASE/$(basename "$(realpath "$EMBER")")/$JAIL_ID/root
	mkdir -p "$JAIL_BASE"
	JAIL_CGROUPS=()
	trap 'jail_cleanup; bg_reap' EXIT
}

# The cgroup directories this test's jailers made, and a jailed VMM still
# running (not a job of this shell with --daemonize or --new-pid-ns).
jail_cleanup() {
	local pid d
	if [ -f "$JAIL_ROOT/ember.pid" ]; then
		pid=$(cat "$JAIL_ROOT/ember.pid")
		# Only while that pid is still the VMM in this jail.
		[ "$(stat -L -c %d:%i "/proc/$pid/root" 2>/dev/null)" != "$(stat -c %d:%i "$JAIL_ROOT")" ] ||
			kill -KILL "$pid" 2>/dev/null || true
	fi
	for d in "${JAIL_CGROUPS[@]}"; do
		for _ in $(seq 50); do rmdir "$d" 2>/dev/null && break; [ -d "$d" ] || break; sleep 0.1; done
		rmdir "$(dirname "$d")" 2>/dev/null || true
	done
}

# The v1 hierarchy with a controller, from /proc/mounts.
cg_v1() { awk -v c="$1" '$3 == "cgroup" { n = split($4, o, ","); for (i = 1; i <= n; i++) if (o[i] == c) print $2 }' /proc/mounts | head -n 1; }
cg_v2() { awk '$3 == "cgroup2" { print $2 }' /proc/mounts | head -n 1; }

jail_state() { # what exists under the base and in the cgroup hierarchies
	find "$JAIL_BASE" | sort
	local m
	for m in $(awk '$3 ~ /^cgroup2?$/ { print $2 }' /proc/mounts); do
		ls -d "$m/$JAIL_PARENT" "$m/ember" 2>/dev/null || true
	done
}

# jail_refused WORD ARGS...: the jailer must exit non-zero with one line
# naming WORD, and leave the base and cgroups as they were.
jail_refused() {
	local word=$1 rc=0 before after
	shift
	before=$(jail_state)
	"$JAILER" "$@" </dev/null >"$TEST_TMP/jout" 2>"$TEST_TMP/jerr" || rc=$?
	[ "$rc" -ne 0 ] || fail "accepted: $*"
	[ "$(wc -l <"$TEST_TMP/jerr")" -eq 1 ] || fail "want one line for $*, got: $(cat "$TEST_TMP/jerr")"
	grep -qF -- "$word" "$TEST_TMP/jerr" || fail "error for $* lacks '$word': $(cat "$TEST_TMP/jerr")"
	[ ! -s "$TEST_TMP/jout" ] || fail "stdout for $*: $(cat "$TEST_TMP/jout")"
	after=$(jail_state)
	[ "$before" = "$after" ] || fail "left behind by $*: $(diff <(echo "$before") <(echo "$after"))"
	echo "refused ($rc): $(cat "$TEST_TMP/jerr")"
}

test_jailer_help_and_version() {
	need_jailer
	"$JAILER" --version | grep -Eq '^ember-jailer [0-9.]+$' || fail "$("$JAILER" --version)"
	local out f
	out=$("$JAILER" --help)
	for f in --id --exec-file --uid --gid --chroot-base-dir --netns --daemonize --new-pid-ns \
		--cgroup-version --cgroup --parent-cgroup --resource-limit; do
		grep -q -- "$f" <<<"$out" || fail "help lacks $f"
	done
}

test_jailer_bad_flags_leave_nothing() {
	jail_setup bad
	local ok=(--exec-file "$EMBER" --uid $JAIL_UID --gid $JAIL_GID --chroot-base-dir "$JAIL_BASE")
	local long
	long=$(printf 'a%.0s' $(seq 65))
	printf '#!/bin/sh\n' >"$TEST_TMP/script"
	chmod +x "$TEST_TMP/script"
	jail_refused "--frobnicate" --id a "${ok[@]}" --frobnicate
	jail_refused "--uid is required" --id a --exec-file "$EMBER" --gid 1 --chroot-base-dir "$JAIL_BASE"
	jail_refused "--id" --id a/b "${ok[@]}"
	jail_refused "--id" --id .. "${ok[@]}"
	jail_refused "--id" --id ../x "${ok[@]}"
	jail_refused "1..64" --id "$long" "${ok[@]}"
	jail_refused "given more than once" --id a --id b "${ok[@]}"
	jail_refused "--uid" --id a --exec-file "$EMBER" --uid -1 --gid 1 --chroot-base-dir "$JAIL_BASE"
	jail_refused "--exec-file $TEST_TMP/missing" --id a --exec-file "$TEST_TMP/missing" --uid 1 --gid 1 \
		--chroot-base-dir "$JAIL_BASE"
	jail_refused "not a 64-bit x86-64 ELF" --id a --exec-file "$TEST_TMP/script" --uid 1 --gid 1 \
		--chroot-base-dir "$JAIL_BASE"
	jail_refused "--chroot-base-dir" --id a --exec-file "$EMBER" --uid 1 --gid 1 \
		--chroot-base-dir "$TEST_TMP/no-such-base"
	jail_refused "--cgroup-version" --id a "${ok[@]}" --cgroup-version 3
	jail_refused "--cgroup" --id a "${ok[@]}" --cgroup pids.max
	jail_refused "no cgroup v1 hierarchy has the nosuch controller" --id a "${ok[@]}" --cgroup nosuch.max=1
	jail_refused "--parent-cgroup" --id a "${ok[@]}" --parent-cgroup ../up --cgroup pids.max=5
	jail_refused "--resource-limit" --id a "${ok[@]}" --resource-limit fsize=abc
	jail_refused "--resource-limit" --id a "${ok[@]}" --resource-limit nofile=3
	jail_refused "fs.nr_open" --id a "${ok[@]}" --resource-limit no-file=99999999999
	jail_refused "--netns $TEST_TMP/nons" --id a "${ok[@]}" --netns "$TEST_TMP/nons"
	jail_refused "not a network namespace" --id a "${ok[@]}" --netns /etc/hostname
	jail_refused "--id is passed on" --id a "${ok[@]}" -- --api-sock s --id b
	# Found only once the cgroup exists: the jail and the cgroup made
	# for it are taken back.
	[ -n "$(cg_v1 pids)" ] || { echo "no v1 pids hierarchy"; exit 77; }
	jail_refused "has no file pids.bogus" --id a "${ok[@]}" --parent-cgroup "$JAIL_PARENT" \
		--cgroup pids.max=5 --cgroup pids.bogus=1
	# A jail that was there stays, with what a user staged in it.
	mkdir -p "$JAIL_BASE/ember/staged/root"
	echo kernel >"$JAIL_BASE/ember/staged/root/vmlinux"
	jail_refused "has no file pids.bogus" --id staged "${ok[@]}" --parent-cgroup "$JAIL_PARENT" \
		--cgroup pids.bogus=1
	[ "$(cat "$JAIL_BASE/ember/staged/root/vmlinux")" = kernel ] || fail "staged file gone"
	# A failure inside the jail, after the pivot (a file where /dev/net
	# must be), takes back the same: copy, library mount points, the
	# cgroup (the process moved out first).
	mkdir -p "$JAIL_BASE/ember/staged/root/dev"
	: >"$JAIL_BASE/ember/staged/root/dev/net"
	jail_refused "/dev/net" --id staged "${ok[@]}" --parent-cgroup "$JAIL_PARENT" --cgroup pids.max=5
}

# jail_check_vmm PID: the jailed VMM as the host sees it.
jail_check_vmm() {
	local pid=$1 st=/proc/$1/status
	grep -Eq "^Uid:\s+$JAIL_UID\s+$JAIL_UID\s+$JAIL_UID\s+$JAIL_UID$" "$st" || fail "$(grep Uid: "$st")"
	grep -Eq "^Gid:\s+$JAIL_GID\s+$JAIL_GID\s+$JAIL_GID\s+$JAIL_GID$" "$st" || fail "$(grep Gid: "$st")"
	grep -Eq "^Groups:\s*$" "$st" || fail "$(grep Groups: "$st")"
	local c
	for c in CapInh CapPrm CapEff CapBnd CapAmb; do
		grep -Eq "^$c:\s+0+$" "$st" || fail "$(grep "$c:" "$st")"
	done
	grep -Eq "^NoNewPrivs:\s+1$" "$st" || fail "$(grep NoNewPrivs: "$st")"
	# Its root is the jail: the same directory, showing what was staged.
	[ "$(stat -L -c %d:%i "/proc/$pid/root")" = "$(stat -c %d:%i "$JAIL_ROOT")" ] ||
		fail "root is not $JAIL_ROOT"
	[ -e "/proc/$pid/root/ember" ] || fail "no ember in its root"
	[ ! -e "/proc/$pid/root/proc" ] && [ ! -e "/proc/$pid/root/etc" ] || fail "host tree visible"
	[ "$(readlink "/proc/$pid/ns/mnt")" != "$(readlink /proc/self/ns/mnt)" ] ||
		fail "shares the host's mount namespace"
	[ "$(readlink "/proc/$pid/exe")" != "$(realpath "$EMBER")" ] || fail "runs the host's binary"
	# Every thread, the same.
	local t
	for t in /proc/"$pid"/task/*; do
		grep -Eq "^CapEff:\s+0+$" "$t/status" && grep -Eq "^NoNewPrivs:\s+1$" "$t/status" ||
			fail "thread $t: $(grep -E 'CapEff|NoNewPrivs' "$t/status")"
	done
	jail_check_seccomp "$pid"
}

# Every thread of the jailed VMM runs under its seccomp filters (mode 2):
# the VMM installs them itself, the jailer none (docs/seccomp.md).
jail_check_seccomp() {
	local pid=$1 t
	for t in /proc/"$pid"/task/*; do
		grep -Eq '^Seccomp:\s+2$' "$t/status" || fail "thread $t: $(grep Seccomp: "$t/status")"
	done
}

# jail_wait_api PID [SOCK]: until the API socket in the jail (by default
# its /api.sock) answers; sets API_SOCK for t_api.sh's api.
jail_wait_api() {
	local i
	API_SOCK=$JAIL_ROOT/${2:-api.sock}
	for i in $(seq 100); do
		curl -s -o /dev/null --max-time 2 --unix-socket "$API_SOCK" http://localhost/ && return 0
		kill -0 "$1" 2>/dev/null || fail "the jailed VMM died: $(cat "$API_OUT" 2>/dev/null)"
		sleep 0.05
	done
	fail "no answer on $API_SOCK after 5 s: $(cat "$API_OUT" 2>/dev/null)"
}

test_jailer_kvm_guest_via_api() {
	need_accel kvm
	jail_setup kvm
	local pids
	pids=$(cg_v1 pids)
	[ -n "$pids" ] || { echo "no v1 pids hierarchy"; exit 77; }
	# Staged by the user: a copy owned by the jailed user.
	mkdir -p "$JAIL_ROOT"
	cp "$GUESTS/hello.elf" "$JAIL_ROOT/hello.elf"
	chown $JAIL_UID:$JAIL_GID "$JAIL_ROOT/hello.elf"
	# The default parent cgroup: the exec file's name.
	JAIL_CGROUPS=("$pids/ember/$JAIL_ID")
	API_OUT=$TEST_TMP/jail-kvm.out
	# An inherited fd and environment variable that must not reach the VMM.
	EMBER_IT_SECRET=1 "$JAILER" --id "$JAIL_ID" --exec-file "$EMBER" --uid $JAIL_UID --gid $JAIL_GID \
		--chroot-base-dir "$JAIL_BASE" --cgroup pids.max=64 \
		-- --api-sock api.sock --level Info </dev/null >"$API_OUT" 2>&1 9>"$TEST_TMP/inherited" &
	local pid=$!
	jail_wait_api $pid
	[ "$(tr '\0' ' ' <"/proc/$pid/cmdline")" = "./ember --id $JAIL_ID --api-sock api.sock --level Info " ] ||
		fail "command line: $(tr '\0' ' ' <"/proc/$pid/cmdline")"
	[ ! -s "/proc/$pid/environ" ] || fail "environment: $(tr '\0' ' ' <"/proc/$pid/environ")"
	! ls -l "/proc/$pid/fd/" | grep -q inherited || fail "an inherited fd reached the VMM"
	[ "$(cat "$JAIL_ROOT/ember.pid")" = "$pid" ] || fail "pid file: $(cat "$JAIL_ROOT/ember.pid"), want $pid"
	jail_check_vmm $pid
	[ "$(cat "$pids/ember/$JAIL_ID/pids.max")" = 64 ] || fail "pids.max: $(cat "$pids/ember/$JAIL_ID/pids.max")"
	grep -Eq "^[0-9]+:pids:/ember/$JAIL_ID$" "/proc/$pid/cgroup" || fail "cgroup: $(cat "/proc/$pid/cgroup")"
	grep -Eq "^Max open files +2048 +2048 " "/proc/$pid/limits" || fail "$(grep 'open files' "/proc/$pid/limits")"
	[ "$(stat -c '%U:%G %a' "$JAIL_ROOT/ember")" = "$JAIL_UID:$JAIL_GID 755" ] ||
		[ "$(stat -c '%u:%g %a' "$JAIL_ROOT/ember")" = "$JAIL_UID:$JAIL_GID 755" ] ||
		fail "ember in the jail: $(stat -c '%u:%g %a' "$JAIL_ROOT/ember")"
	[ "$(stat -c '%F %t:%T %u:%g %a' "$JAIL_ROOT/dev/kvm")" = "character special file a:e8 $JAIL_UID:$JAIL_GID 600" ] ||
		fail "/dev/kvm: $(stat -c '%F %t:%T %u:%g %a' "$JAIL_ROOT/dev/kvm")"
	api 200 GET /
	body_has "\"id\":\"$JAIL_ID\""
	# Paths inside the jail.
	api 204 PUT /boot-source '{"kernel_image_path": "hello.elf"}'
	api 204 PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64, "accel": "kvm"}'
	api 204 PUT /actions '{"action_type": "InstanceStart"}'
	local rc=0
	timeout 20 tail --pid="$pid" -f /dev/null || fail "the VMM still runs"
	wait "$pid" || rc=$?
	[ "$rc" -eq 0 ] || fail "exit $rc: $(cat "$API_OUT")"
	grep -q "EMBER-TEST-OK hello" "$API_OUT" || fail "$(cat "$API_OUT")"
	grep -q "VM built on kvm" "$API_OUT" || fail "$(cat "$API_OUT")"
	[ ! -e "$JAIL_ROOT/api.sock" ] || fail "socket left in the jail"
}

test_jailer_linux_tcg_via_api() {
	need_accel tcg
	jail_setup tcg
	local g=${LINUX_GUEST:-build/guest} pids
	[ -f "$g/vmlinux" ] && [ -f "$g/initramfs.cpio.gz" ] || fail "$g/vmlinux missing: make guest"
	pids=$(cg_v1 pids)
	[ -n "$pids" ] || { echo "no v1 pids hierarchy"; exit 77; }
	mkdir -p "$JAIL_ROOT"
	# Staged: the kernel hard-linked (read-only use: readable is enough),
	# the initrd and a drive copied and owned by the jailed user.
	ln "$g/vmlinux" "$JAIL_ROOT/vmlinux" 2>/dev/null || cp "$g/vmlinux" "$JAIL_ROOT/vmlinux"
	cp "$g/initramfs.cpio.gz" "$JAIL_ROOT/initrd"
	truncate -s 1M "$JAIL_ROOT/disk.img"
	chown $JAIL_UID:$JAIL_GID "$JAIL_ROOT/initrd" "$JAIL_ROOT/disk.img"
	JAIL_CGROUPS=("$pids/$JAIL_PARENT/$JAIL_ID")
	API_OUT=$TEST_TMP/jail-tcg.out
	"$JAILER" --id "$JAIL_ID" --exec-file "$EMBER" --uid $JAIL_UID --gid $JAIL_GID \
		--chroot-base-dir "$JAIL_BASE" --parent-cgroup "$JAIL_PARENT" --cgroup pids.max=100 \
		--resource-limit no-file=1024 --resource-limit fsize=100000000 \
		-- --api-sock /run/api.sock </dev/null >"$API_OUT" 2>&1 &
	local pid=$!
	jail_wait_api $pid run/api.sock
	api 204 PUT /boot-source '{"kernel_image_path": "vmlinux", "initrd_path": "/initrd", "boot_args": "console=ttyS0 reboot=k panic=-1"}'
	api 204 PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 128, "accel": "tcg"}'
	api 204 PUT /drives/d1 '{"drive_id": "d1", "path_on_host": "disk.img", "is_root_device": false, "is_read_only": false}'
	api 204 PUT /vsock '{"guest_cid": 3, "uds_path": "/run/v.sock"}'
	api 204 PUT /actions '{"action_type": "InstanceStart"}'
	# While the guest boots: the vCPU thread is there too.
	wait_for "Linux version" "$API_OUT" 300
	jail_check_vmm $pid
	[ -S "$JAIL_ROOT/run/v.sock" ] || fail "vsock socket not in the jail's /run"
	grep -Eq "^[0-9]+:pids:/$JAIL_PARENT/$JAIL_ID$" "/proc/$pid/cgroup" || fail "cgroup: $(cat "/proc/$pid/cgroup")"
	[ "$(cat "$pids/$JAIL_PARENT/$JAIL_ID/pids.max")" = 100 ] || fail "pids.max"
	grep -Eq "^Max open files +1024 +1024 " "/proc/$pid/limits" || fail "$(grep 'open files' "/proc/$pid/limits")"
	grep -Eq "^Max file size +100000000 +100000000 " "/proc/$pid/limits" || fail "$(grep 'file size' "/proc/$pid/limits")"
	[ "$(ls /proc/$pid/task | wc -l)" -ge 3 ] || fail "threads: $(ls /proc/$pid/task)"
	local rc=0
	timeout -k 5 120 tail --pid="$pid" -f /dev/null || fail "the guest did not end"
	wait "$pid" || rc=$?
	[ "$rc" -eq 0 ] || fail "exit $rc: $(tail -n 30 "$API_OUT")"
	grep -q "EMBER-GUEST-READY" "$API_OUT" || fail "init not reached: $(tail -n 30 "$API_OUT")"
	grep -q "virtio_blk.*\[vda\]" "$API_OUT" || fail "the drive in the jail did not show: $(grep -i virtio "$API_OUT")"
	! grep -Eq "Kernel panic|BUG:|Oops" "$API_OUT" || fail "kernel trouble"
}

test_jailer_daemon_in_pid_ns_netns_cgroup_v2() {
	need_accel kvm
	jail_setup ns
	local v2
	v2=$(cg_v2)
	[ -n "$v2" ] || { echo "no cgroup2 mount"; exit 77; }
	command -v ip >/dev/null || { echo "no ip(8)"; exit 77; }
	local ns=ember-it-$$
	ip netns add "$ns"
	JAIL_CGROUPS=("$v2/$JAIL_PARENT/$JAIL_ID")
	trap 'ip netns del '"$ns"' 2>/dev/null; jail_cleanup; bg_reap' EXIT
	mkdir -p "$JAIL_ROOT"
	cp "$GUESTS/hello.elf" "$JAIL_ROOT/hello.elf"
	chown $JAIL_UID:$JAIL_GID "$JAIL_ROOT/hello.elf"
	local rc=0
	timeout 10 "$JAILER" --id "$JAIL_ID" --exec-file "$EMBER" --uid $JAIL_UID --gid $JAIL_GID \
		--chroot-base-dir "$JAIL_BASE" --daemonize --new-pid-ns --netns "/var/run/netns/$ns" \
		--cgroup-version 2 --parent-cgroup "$JAIL_PARENT" --cgroup cgroup.max.descendants=3 \
		-- --api-sock api.sock --log-path /run/log --level Info </dev/null >"$TEST_TMP/jout" 2>&1 || rc=$?
	[ "$rc" -eq 0 ] || fail "jailer exit $rc: $(cat "$TEST_TMP/jout")"
	local i
	for i in $(seq 50); do [ -s "$JAIL_ROOT/ember.pid" ] && break; sleep 0.1; done
	local pid
	pid=$(cat "$JAIL_ROOT/ember.pid")
	jail_wait_api "$pid"
	jail_check_vmm "$pid"
	# pid 1 of its own pid namespace; a daemon: in a session of its own
	# (the double fork's, so it leads none) without a terminal, stdio on
	# /dev/null; in the network namespace and the v2 cgroup.
	grep -Eq "^NSpid:\s+$pid\s+1$" "/proc/$pid/status" || fail "$(grep NSpid: "/proc/$pid/status")"
	local sid tty
	read -r sid tty < <(sed 's/.*) //' "/proc/$pid/stat" | awk '{print $4, $5}')
	[ "$sid" != "$(sed 's/.*) //' /proc/$$/stat | awk '{print $4}')" ] && [ "$sid" != "$pid" ] ||
		fail "session $sid"
	[ "$tty" = 0 ] || fail "controlling terminal $tty"
	local fd
	for fd in 0 1 2; do
		[ "$(stat -L -c %t:%T "/proc/$pid/fd/$fd")" = 1:3 ] || fail "fd $fd is not /dev/null"
	done
	[ "$(stat -L -c %i "/proc/$pid/ns/net")" = "$(stat -L -c %i "/var/run/netns/$ns")" ] || fail "not in netns $ns"
	grep -q "^0::/$JAIL_PARENT/$JAIL_ID$" "/proc/$pid/cgroup" || fail "cgroup: $(cat "/proc/$pid/cgroup")"
	[ "$(cat "$v2/$JAIL_PARENT/$JAIL_ID/cgroup.max.descendants")" = 3 ] || fail "cgroup.max.descendants"
	api 204 PUT /boot-source '{"kernel_image_path": "/hello.elf"}'
	api 204 PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64, "accel": "kvm"}'
	api 204 PUT /actions '{"action_type": "InstanceStart"}'
	timeout 20 tail --pid="$pid" -f /dev/null || fail "the VMM still runs"
	grep -q "VM built on kvm" "$JAIL_ROOT/run/log" || fail "log: $(cat "$JAIL_ROOT/run/log")"
}
