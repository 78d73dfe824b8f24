#!/bin/bash
# Smoke-test the guest images under QEMU's microvm machine (TCG):
#
#   guest/verify.sh [GUESTDIR]        (default build/guest; make guest-verify)
#
# Each case must print EMBER-GUEST-READY and make QEMU exit by itself
# (reboot=k resets through the i8042, -no-reboot turns that into an exit).
# Cases: bzImage + initramfs; vmlinux (PVH entry) + initramfs; initramfs with
# a concatenated mkoverlay.sh archive and virtio net/rng/balloon devices;
# ext4 rootfs on virtio-blk with 2 vCPUs; legacy PIC (CPU without APIC).
# Logs go to GUESTDIR/verify/; the summary gives wall times and the
# warning-like lines of each boot log.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-build/guest}
logs=$dir/verify
timeout_s=${TIMEOUT:-90}
qemu=${QEMU:-qemu-system-x86_64}
base_append="console=ttyS0 reboot=k panic=-1"

command -v "$qemu" >/dev/null || { echo "verify: $qemu not found (make deps)" >&2; exit 1; }
for f in bzImage vmlinux initramfs.cpio.gz rootfs.ext4; do
	[ -f "$dir/$f" ] || { echo "verify: $dir/$f missing (make guest)" >&2; exit 1; }
done
mkdir -p "$logs"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/ember-verify.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

# Test scripts for the overlay case.
cat >"$scratch/devices.sh" <<'EOF'
#!/bin/sh
echo "overlay: hello from $0"
for d in /sys/bus/virtio/devices/*; do
	echo "overlay: virtio $(basename "$d") device=$(cat "$d/device") driver=$(basename "$(readlink "$d/driver")")"
done
ip link set eth0 up && echo "overlay: eth0 up"
echo "overlay: hwrng=$(cat /sys/class/misc/hw_random/rng_current)"
dd if=/dev/hwrng of=/dev/null bs=16 count=1 2>/dev/null && echo "overlay: hwrng read ok"
echo "overlay: cpus=$(grep -c ^processor /proc/cpuinfo)"
EOF
cat >"$scratch/status.sh" <<'EOF'
#!/bin/sh
echo "overlay: second script, exiting 7"
exit 7
EOF
bash "$here/mkoverlay.sh" "$scratch/overlay.cpio.gz" "$scratch/devices.sh" "$scratch/status.sh"
cat "$dir/initramfs.cpio.gz" "$scratch/overlay.cpio.gz" >"$scratch/initrd-overlay.cpio.gz"
cp --sparse=always "$dir/rootfs.ext4" "$scratch/rootfs.ext4"

fails=0
summary=()

# run NAME EXPECT_REGEX... -- QEMU_ARGS...
run() {
	local name=$1 t0 t1 rc=0 log=$logs/$1.log pat ok=1
	shift
	local expect=()
	while [ "$1" != -- ]; do expect+=("$1"); shift; done
	shift
	t0=$(date +%s.%N)
	timeout "$timeout_s" "$qemu" -M microvm,acpi=off -device i8042 -accel tcg -m 256 \
		-nographic -no-reboot -nodefaults -serial stdio "$@" </dev/null >"$log" 2>&1 || rc=$?
	t1=$(date +%s.%N)
	tr -d '\r' <"$log" >"$log.tmp" && mv "$log.tmp" "$log"
	if [ $rc -ne 0 ]; then
		ok=0
		[ $rc -eq 124 ] && echo "  FAIL    $name: QEMU did not exit within ${timeout_s}s" ||
			echo "  FAIL    $name: QEMU exited with $rc"
	fi
	for pat in EMBER-GUEST-READY "${expect[@]}"; do
		grep -qE "^$pat\$" "$log" || { ok=0; echo "  FAIL    $name: no line matching '$pat'"; }
	done
	local secs
	secs=$(echo "$t1 - $t0" | bc)
	if [ $ok = 1 ]; then
		printf '  PASS    %-12s %5.2fs\n' "$name" "$secs"
	else
		fails=$((fails + 1))
		echo "          log: $log"
	fi
	summary+=("$(printf '%-12s %5.2fs  %s' "$name" "$secs" "$([ $ok = 1 ] && echo pass || echo FAIL)")")
}

run initramfs -- \
	-kernel "$dir/bzImage" -initrd "$dir/initramfs.cpio.gz" -append "$base_append"
run pvh-vmlinux -- \
	-kernel "$dir/vmlinux" -initrd "$dir/initramfs.cpio.gz" -append "$base_append"
run overlay \
	'ember-init: running /init.d/01-devices.sh' 'overlay: hello from .*' \
	'overlay: virtio .* device=0x0001 driver=virtio_net' 'overlay: eth0 up' \
	'overlay: virtio .* device=0x0004 driver=virtio_rng' 'overlay: hwrng read ok' \
	'overlay: virtio .* device=0x0005 driver=virtio_balloon' \
	'ember-init: /init.d/01-devices.sh exited with status 0' \
	'overlay: second script, exiting 7' 'ember-init: /init.d/02-status.sh exited with status 7' -- \
	-kernel "$dir/bzImage" -initrd "$scratch/initrd-overlay.cpio.gz" -append "$base_append" \
	-netdev user,id=n0 -device virtio-net-device,netdev=n0 \
	-device virtio-rng-device -device virtio-balloon-device
run rootfs-smp2 -- \
	-smp 2 -kernel "$dir/bzImage" -append "$base_append root=/dev/vda rw" \
	-drive id=d,file="$scratch/rootfs.ext4",format=raw,if=none -device virtio-blk-device,drive=d
run pic-only -- \
	-cpu qemu64,-apic -kernel "$dir/bzImage" -initrd "$dir/initramfs.cpio.gz" -append "$base_append"
e2fsck -fn "$scratch/rootfs.ext4" >"$logs/rootfs-fsck.log" 2>&1 ||
	{ echo "  FAIL    rootfs.ext4 is not clean after the rw boot (see $logs/rootfs-fsck.log)"; fails=$((fails + 1)); }

echo
echo "Summary (QEMU $("$qemu" --version | head -n1 | awk '{print $4}'), TCG, wall time per boot):"
printf '  %s\n' "${summary[@]}"
echo "Warning-like kernel lines (all cases, deduplicated):"
cat "$logs"/*.log | grep -E '^\[' | sed 's/^\[[ 0-9.]*\] //' |
	grep -iE 'warn|error|fail|unable|bug|mismatch|unstable|taint|call trace|oops|not (found|available|present)|disabled' |
	grep -vE 'IRQ sharing disabled|Quota mode: disabled' |
	sort | uniq -c | sed 's/^/  /' || echo "  (none)"
[ $fails -eq 0 ] && echo "verify: all cases passed" || { echo "verify: $fails case(s) failed"; exit 1; }
