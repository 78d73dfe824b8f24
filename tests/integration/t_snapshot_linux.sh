# Snapshots of a Linux guest on the software CPU: state in tmpfs, a drive
# it writes, vsock connections to the host. One boot, a Full then a Diff
# snapshot, the VMM killed; a new VMM restores the Diff rebased onto the
# Full: the guest's script finds its tmpfs data, goes on counting, its
# drive writes land in the host file and its vsock connections reach the
# new host listener. Then three clones restored from the Full at once.
# Uses api_start/api/wait_for (t_api.sh), vt_helper_src (t_virtio.sh) and
# last_count-style checks of its own.

SL_GUEST_DIR=${EMBER_GUEST_DIR:-build/guest}

sl_guest_script() {
	cat <<'EOF'
#!/bin/sh
h=/init.d/02-vt_helper
echo "tmpfs-$(cat /proc/sys/kernel/random/uuid)" >/tmp/secret
i=0
while :; do
	i=$((i + 1))
	# The tick number in the drive's first block, straight to the device.
	printf 'tick-%08d\n' $i | dd of=/dev/vda bs=512 count=1 conv=sync,fsync oflag=direct 2>/dev/null
	if $h guest-connect 52 "ping-$i" pong >/dev/null 2>&1; then v=ok; else v=fail; fi
	echo "SNAP: tick $i $(cat /tmp/secret) vsock=$v"
	sleep 0.2
done
EOF
}

SL_SERVERS=()

# sl_serve PATH: answers "pong" to every connection on PATH (the host end of
# guest port 52), in the background, until sl_stop_servers.
sl_serve() {
	python3 - "$1" <<'PY' &
import os, socket, sys
path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(16)
while True:
    c, _ = s.accept()
    try:
        c.settimeout(10)
        c.recv(64)
        c.sendall(b"pong")
    except OSError:
        pass
    c.close()
PY
	SL_SERVERS+=($!)
	local i
	for i in $(seq 50); do [ -S "$1" ] && return 0; sleep 0.1; done
	fail "vsock host server did not start on $1"
}

sl_stop_servers() {
	[ ${#SL_SERVERS[@]} -eq 0 ] || kill "${SL_SERVERS[@]}" 2>/dev/null || true
	SL_SERVERS=()
}

# The last / first complete tick of FILE, and the secret it printed.
sl_last_tick() { grep -a '^SNAP: tick [0-9]* ' "$1" | tail -n 1 | awk '{print $3}'; }
sl_first_tick() { grep -a '^SNAP: tick [0-9]* ' "$1" | head -n 1 | awk '{print $3}'; }
sl_secret() { grep -a '^SNAP: tick [0-9]* ' "$1" | tail -n 1 | awk '{print $4}'; }

# sl_restored NAME STATE MEM UDS BEFORE SECRET: loads, resumes, and checks
# the guest goes on: count, tmpfs secret, vsock to the host at UDS.
sl_restored() {
	local name=$1 state=$2 mem=$3 uds=$4 before=$5 secret=$6
	api_start "$name"
	api 204 PUT /snapshot/load "{\"snapshot_path\": \"$state\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$mem\"}, \"vsock_override\": {\"uds_path\": \"$uds\"}, \"resume_vm\": true}"
	wait_for "vsock=ok" "$API_OUT" 600
	local first
	first=$(sl_first_tick "$API_OUT")
	[ -n "$first" ] && [ "$first" -gt "$before" ] && [ "$first" -le $((before + 2)) ] ||
		fail "$name: restored count starts at '$first' after $before: $(head -n 5 "$API_OUT")"
	grep -aq "^SNAP: tick [0-9]* $secret vsock=ok" "$API_OUT" ||
		fail "$name: tmpfs secret or vsock lost: $(tail -n 5 "$API_OUT")"
	! grep -aq "EMBER-GUEST-READY\|Kernel panic\|BUG:\|Oops" "$API_OUT" ||
		fail "$name: the guest rebooted or broke: $(head -n 20 "$API_OUT")"
}

snapshot_linux_tcg() { # VCPUS
	need_accel tcg
	local g=$SL_GUEST_DIR d=$TEST_TMP/sl$1
	for f in vmlinux initramfs.cpio.gz; do
		[ -f "$g/$f" ] || fail "$g/$f missing (make guest)"
	done
	mkdir -p "$d"
	vt_helper_src >"$d/vt_helper.c"
	gcc -O1 -static -o "$d/vt_helper" "$d/vt_helper.c"
	sl_guest_script >"$d/snap.sh"
	bash guest/mkoverlay.sh "$d/overlay.cpio.gz" "$d/snap.sh" "$d/vt_helper"
	cat "$g/initramfs.cpio.gz" "$d/overlay.cpio.gz" >"$d/initrd.cpio.gz"
	head -c 1048576 /dev/zero >"$d/data.img"
	cat >"$d/vm.json" <<JSON
{
  "boot-source": { "kernel_image_path": "$g/vmlinux", "initrd_path": "$d/initrd.cpio.gz",
                   "boot_args": "console=ttyS0 reboot=k panic=-1 quiet" },
  "machine-config": { "vcpu_count": $1, "mem_size_mib": 128, "track_dirty_pages": true, "accel": "tcg" },
  "drives": [ { "drive_id": "data", "path_on_host": "$d/data.img", "is_root_device": false, "is_read_only": false } ],
  "vsock": { "guest_cid": 3, "uds_path": "$d/v0.sock" }
}
JSON
	sl_serve "$d/v0.sock_52"

	# Boot, then Full, run on, Diff; kill.
	api_start sl-a --config-file "$d/vm.json"
	wait_for "^SNAP: tick 3 .*vsock=ok" "$API_OUT" 600
	api 204 PATCH /vm '{"state": "Paused"}'
	api 204 PUT /snapshot/create "{\"snapshot_type\": \"Full\", \"snapshot_path\": \"$d/full.state\", \"mem_file_path\": \"$d/full.mem\"}"
	local full_tick secret
	full_tick=$(sl_last_tick "$API_OUT")
	secret=$(sl_secret "$API_OUT")
	api 204 PATCH /vm '{"state": "Resumed"}'
	wait_for "^SNAP: tick $((full_tick + 4)) " "$API_OUT" 600
	api 204 PATCH /vm '{"state": "Paused"}'
	api 204 PUT /snapshot/create "{\"snapshot_type\": \"Diff\", \"snapshot_path\": \"$d/diff.state\", \"mem_file_path\": \"$d/diff.mem\"}"
	local diff_tick
	diff_tick=$(sl_last_tick "$API_OUT")
	kill -KILL "$API_PID"
	wait "$API_PID" 2>/dev/null || true
	rm -f "$API_SOCK"
	local full_kib diff_kib
	full_kib=$(du -k "$d/full.mem" | cut -f1)
	diff_kib=$(du -k "$d/diff.mem" | cut -f1)
	echo "memory files: Full ${full_kib} KiB, Diff ${diff_kib} KiB (of 131072)"
	[ "$diff_kib" -lt "$full_kib" ] || fail "the Diff (${diff_kib} KiB) is not smaller than the Full"

	# The Diff rebased onto the Full, in a new VMM with a new vsock host end.
	cp --sparse=always "$d/full.mem" "$d/merged.mem"
	"$SNAPSHOT_EDITOR" edit-memory rebase --memory-path "$d/merged.mem" --diff-path "$d/diff.mem" ||
		fail "rebase failed"
	sl_serve "$d/v1.sock_52"
	sl_restored sl-b "$d/diff.state" "$d/merged.mem" "$d/v1.sock" "$diff_tick" "$secret"
	# Its drive writes after the restore are in the host file.
	local t
	t=$(sl_last_tick "$API_OUT")
	wait_for "^SNAP: tick $((t + 1)) " "$API_OUT" 600
	local on_disk
	on_disk=$(head -c 13 "$d/data.img" | sed -n 's/^tick-0*\([0-9]*\)$/\1/p')
	[ -n "$on_disk" ] && [ "$on_disk" -gt "$diff_tick" ] ||
		fail "the drive holds tick '$on_disk', want one after $diff_tick"
	api_stop

	# Three clones from the Full, at once, each with its own vsock host end.
	local pids=() socks=() outs=() i
	for i in 1 2 3; do
		sl_serve "$d/c$i.sock_52"
		api_start "sl-c$i"
		api 204 PUT /snapshot/load "{\"snapshot_path\": \"$d/full.state\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$d/full.mem\"}, \"vsock_override\": {\"uds_path\": \"$d/c$i.sock\"}, \"resume_vm\": true}"
		pids+=("$API_PID")
		socks+=("$API_SOCK")
		outs+=("$API_OUT")
	done
	for i in 0 1 2; do
		API_PID=${pids[$i]} API_SOCK=${socks[$i]} API_OUT=${outs[$i]}
		wait_for "vsock=ok" "$API_OUT" 600
		grep -aq "^SNAP: tick $((full_tick + 1)) $secret\|^SNAP: tick $((full_tick + 2)) $secret" "$API_OUT" ||
			fail "clone $i did not go on from tick $full_tick: $(head -n 3 "$API_OUT")"
	done
	for i in 0 1 2; do
		API_PID=${pids[$i]} API_SOCK=${socks[$i]} API_OUT=${outs[$i]}
		api_stop
	done
	sl_stop_servers
}

test_snapshot_linux_tcg() { snapshot_linux_tcg 1; }
# Several vCPUs: each one's registers and local APIC, the APs included.
test_snapshot_linux_2vcpus_tcg() { snapshot_linux_tcg 2; }
