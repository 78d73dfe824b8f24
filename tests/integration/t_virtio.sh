# Virtio devices end to end with the Linux guest (build/guest, `make guest`):
# one boot with an ext4 drive (the root drive's image, written, read back and
# checked from the host), a read-only drive, virtio-rng, vsock both ways
# with host processes, and virtio-net to a TAP in a network namespace of the
# test's own. Skips when the images are missing or no backend here can run
# Linux (TCG not built in and KVM unusable).

VT_GUEST_DIR=${EMBER_GUEST_DIR:-build/guest}
VT_TIMEOUT=${EMBER_LINUX_TIMEOUT:-300}
VT_BOOT_TIMEOUT=${EMBER_LINUX_BOOT_TIMEOUT:-120}

# vt_helper: the vsock/Unix-socket ends of the test, built for the host and
# (static) for the guest. With no arguments it does nothing: the guest's
# init runs everything in /init.d once.
vt_helper_src() {
	cat <<'EOF'
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

static void die(const char *what) { perror(what); exit(1); }

static void put(int fd, const char *s)
{
	size_t n = strlen(s);
	if (write(fd, s, n) != (ssize_t)n) die("write");
}

static void expect(int fd, const char *want)
{
	size_t n = strlen(want), got = 0;
	char buf[256];
	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);
		if (r <= 0) die("read");
		got += (size_t)r;
	}
	if (memcmp(buf, want, n)) { fprintf(stderr, "got %.*s, want %s\n", (int)n, buf, want); exit(1); }
}

static void readline(int fd, char *buf, size_t max)
{
	size_t n = 0;
	while (n + 1 < max) {
		if (read(fd, buf + n, 1) != 1) die("read line");
		if (buf[n++] == '\n') break;
	}
	buf[n] = 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) return 0;
	alarm(120);
	const char *m = argv[1];
	if (!strcmp(m, "guest-connect") && argc == 5) { /* PORT SEND EXPECT */
		int fd = socket(AF_VSOCK, SOCK_STREAM, 0);
		struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = 2, .svm_port = (unsigned)atoi(argv[2]) };
		if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a))) die("vsock connect");
		put(fd, argv[3]);
		expect(fd, argv[4]);
		return 0;
	}
	if (!strcmp(m, "guest-listen") && argc == 5) { /* PORT EXPECT REPLY */
		int fd = socket(AF_VSOCK, SOCK_STREAM, 0);
		struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = (unsigned)atoi(argv[2]) };
		if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 1)) die("vsock listen");
		printf("VT: vsock listening\n");
		fflush(stdout);
		int c = accept(fd, NULL, NULL);
		if (c < 0) die("accept");
		expect(c, argv[3]);
		put(c, argv[4]);
		return 0;
	}
	if (!strcmp(m, "host-serve") && argc == 5) { /* PATH EXPECT REPLY */
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		snprintf(a.sun_path, sizeof(a.sun_path), "%s", argv[2]);
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 1)) die("unix listen");
		int c = accept(fd, NULL, NULL);
		if (c < 0) die("accept");
		expect(c, argv[3]);
		put(c, argv[4]);
		return 0;
	}
	if (!strcmp(m, "host-connect") && argc == 6) { /* UDS PORT SEND EXPECT */
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		snprintf(a.sun_path, sizeof(a.sun_path), "%s", argv[2]);
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a))) die("unix connect");
		char line[64];
		snprintf(line, sizeof(line), "CONNECT %s\n", argv[3]);
		put(fd, line);
		readline(fd, line, sizeof(line));
		if (strncmp(line, "OK ", 3)) { fprintf(stderr, "handshake: %s\n", line); return 1; }
		put(fd, argv[4]);
		expect(fd, argv[5]);
		return 0;
	}
	fprintf(stderr, "usage: %s guest-connect|guest-listen|host-serve|host-connect ...\n", argv[0]);
	return 2;
}
EOF
}

# The in-guest half: prints "VT: <check> ok" lines the host looks for.
vt_guest_script() {
	cat <<'EOF'
#!/bin/sh
h=/init.d/02-vt_helper
echo "VT: start"
mkdir -p /mnt/r
if mount -t ext4 /dev/vda /mnt/r; then
	dd if=/dev/urandom of=/mnt/r/vt_file bs=1024 count=768 2>/dev/null
	sum=$(sha256sum /mnt/r/vt_file | cut -d' ' -f1)
	umount /mnt/r
	# Read back through the device, not the page cache.
	echo 3 >/proc/sys/vm/drop_caches
	mount -t ext4 /dev/vda /mnt/r
	[ "$(sha256sum /mnt/r/vt_file | cut -d' ' -f1)" = "$sum" ] && echo "VT: blk readback ok $sum"
	umount /mnt/r
fi
[ "$(cat /sys/block/vdb/ro)" = 1 ] && echo "VT: ro flag ok"
blockdev --setrw /dev/vdb 2>/dev/null
if dd if=/dev/zero of=/dev/vdb bs=4096 count=1 oflag=direct 2>/dev/null; then
	echo "VT: ro write was accepted"
else
	echo "VT: ro refused ok"
fi
[ "$(dd if=/dev/vdb bs=8 count=1 2>/dev/null)" = "EMBERRO!" ] && echo "VT: ro read ok"
[ "$(cat /sys/class/misc/hw_random/rng_current)" = virtio_rng.0 ] &&
	[ "$(dd if=/dev/hwrng bs=64 count=1 2>/dev/null | od -An -tx1 | tr -d ' 0\n')" != "" ] &&
	echo "VT: hwrng ok"
$h guest-connect 52 ping pong && echo "VT: vsock guest->host ok"
$h guest-listen 5000 hello HELLO && echo "VT: vsock host->guest ok"
if ip link set eth0 up && ip addr add 172.16.0.2/24 dev eth0; then
	ping -c 3 -W 5 172.16.0.1 >/dev/null && echo "VT: net ping ok"
fi
echo "VT: end"
EOF
}

# vt_backend: prints the --accel value that can run Linux here, or nothing.
vt_backend() {
	case " $(ember_accels) " in
	*" tcg "*) echo tcg; return ;;
	esac
	# Only KVM: usable for Linux only if accel auto does not refuse it.
	write_config "$TEST_TMP/vt-probe.json" "$GUESTS/hello.elf"
	if timeout 20 "$EMBER" --no-api --config-file "$TEST_TMP/vt-probe.json" --accel auto \
		</dev/null >"$TEST_TMP/vt-probe.out" 2>&1; then
		echo auto
	fi
}

test_virtio_linux_end_to_end() {
	local g=$VT_GUEST_DIR
	for f in vmlinux initramfs.cpio.gz rootfs.ext4; do
		[ -f "$g/$f" ] || { echo "$g/$f missing (make guest)"; exit 77; }
	done
	local accel
	accel=$(vt_backend)
	[ -n "$accel" ] || { echo "no backend here runs Linux (TCG not built in, KVM unusable)"; exit 77; }
	local d="$TEST_TMP/vt"
	mkdir -p "$d"
	# Helper for both sides, the guest script, the overlay.
	vt_helper_src >"$d/vt_helper.c"
	gcc -O1 -o "$d/vt_helper_host" "$d/vt_helper.c"
	gcc -O1 -static -o "$d/vt_helper" "$d/vt_helper.c"
	vt_guest_script >"$d/t_virtio_guest.sh"
	bash guest/mkoverlay.sh "$d/overlay.cpio.gz" "$d/t_virtio_guest.sh" "$d/vt_helper"
	cat "$g/initramfs.cpio.gz" "$d/overlay.cpio.gz" >"$d/initrd.cpio.gz"
	# Disks: a copy of the root image, and a small read-only one.
	cp --sparse=always "$g/rootfs.ext4" "$d/root.ext4"
	{ printf 'EMBERRO!'; head -c $((1024 * 1024 - 8)) /dev/zero; } >"$d/ro.img"
	local ro_sum
	ro_sum=$(sha256sum <"$d/ro.img")
	# Network: a TAP in a namespace of our own, if we may make one.
	local net="" wrap=()
	if unshare -n true 2>/dev/null && [ -w /dev/net/tun ]; then
		net=',"network-interfaces":[{"iface_id":"eth0","host_dev_name":"vt0","guest_mac":"06:00:ac:10:00:02"}]'
		wrap=(unshare -n sh -c 'ip link set lo up && ip tuntap add dev vt0 mode tap &&
			ip addr add 172.16.0.1/24 dev vt0 && ip link set vt0 up && exec "$0" "$@"')
	fi
	local uds="$d/v.sock"
	cat >"$d/config.json" <<JSON
{
  "boot-source": { "kernel_image_path": "$g/vmlinux", "initrd_path": "$d/initrd.cpio.gz",
                   "boot_args": "console=ttyS0 reboot=k panic=1" },
  "machine-config": { "vcpu_count": 1, "mem_size_mib": 256 },
  "drives": [
    { "drive_id": "rootfs", "path_on_host": "$d/root.ext4", "is_root_device": true, "is_read_only": false },
    { "drive_id": "ro", "path_on_host": "$d/ro.img", "is_root_device": false, "is_read_only": true }
  ],
  "vsock": { "guest_cid": 3, "uds_path": "$uds" },
  "entropy": {}$net
}
JSON
	# The host end the guest connects to (port 52).
	"$d/vt_helper_host" host-serve "${uds}_52" ping pong &
	local serve=$!
	local out="$d/console.out"
	"${wrap[@]}" timeout "$VT_TIMEOUT" "$EMBER" --no-api --config-file "$d/config.json" \
		--accel "$accel" </dev/null >"$out" 2>&1 &
	local vm=$!
	# Host-initiated vsock once the guest listens. A guest that never
	# reaches init within VT_BOOT_TIMEOUT is the backend's problem, not a
	# virtio verdict: that skips.
	local i hostconn=1 booted=0
	for ((i = 0; i < VT_TIMEOUT * 10; i++)); do
		grep -q "EMBER-GUEST-READY" "$out" && booted=1
		grep -q "VT: vsock listening" "$out" && break
		kill -0 "$vm" 2>/dev/null || break
		if [ "$booted" -eq 0 ] && [ "$i" -ge $((VT_BOOT_TIMEOUT * 10)) ]; then
			kill "$vm" "$serve" 2>/dev/null || true
			wait "$vm" "$serve" 2>/dev/null || true
			tail -n 20 "$out"
			echo "Linux did not reach init on $accel within ${VT_BOOT_TIMEOUT}s"
			exit 77
		fi
		sleep 0.1
	done
	if grep -q "VT: vsock listening" "$out"; then
		"$d/vt_helper_host" host-connect "$uds" 5000 hello HELLO && hostconn=0
	fi
	local rc=0
	wait "$vm" || rc=$?
	kill "$serve" 2>/dev/null || true
	wait "$serve" 2>/dev/null || true
	echo "--- console (ember exit $rc) ---"
	cat "$out"
	[ "$rc" -eq 0 ] || fail "ember exited with $rc"
	grep -q "VT: end" "$out" || fail "the guest script did not finish"
	local c
	for c in "blk readback" "ro flag" "ro refused" "ro read" hwrng "vsock guest->host" \
		"vsock host->guest"; do
		grep -q "VT: $c ok" "$out" || fail "guest check failed: $c"
	done
	[ "$hostconn" -eq 0 ] || fail "host-initiated vsock connection failed"
	if [ -n "$net" ]; then
		grep -q "VT: net ping ok" "$out" || fail "guest check failed: net ping"
	else
		echo "(net not checked: no network namespace or /dev/net/tun here)"
	fi
	# What the guest wrote is in the image; the read-only one is untouched.
	local sum
	sum=$(sed -n 's/.*VT: blk readback ok \([0-9a-f]*\).*/\1/p' "$out" | head -n 1)
	[ "$(debugfs -R "cat /vt_file" "$d/root.ext4" 2>/dev/null | sha256sum | cut -d' ' -f1)" = "$sum" ] ||
		fail "the file the guest wrote is not in the image"
	[ "$(sha256sum <"$d/ro.img")" = "$ro_sum" ] || fail "the read-only image changed"
	[ ! -e "$uds" ] || fail "vsock socket $uds left behind"
}

# Every virtio device built on a backend (ioeventfds and irqfds registered on
# KVM), announced on the command line, and torn down cleanly when a
# bare-metal guest that ignores them ends.
virtio_build() { # ACCEL
	need_accel "$1"
	local d="$TEST_TMP/vb-$1"
	mkdir -p "$d"
	head -c 1048576 /dev/zero >"$d/root.img"
	head -c 65536 /dev/zero >"$d/ro.img"
	local net="" wrap=()
	if unshare -n true 2>/dev/null && [ -w /dev/net/tun ]; then
		net=',"network-interfaces":[{"iface_id":"eth0","host_dev_name":"vb0"}]'
		wrap=(unshare -n)
	fi
	cat >"$d/config.json" <<JSON
{
  "boot-source": { "kernel_image_path": "$GUESTS/hello.elf", "boot_args": "console=ttyS0" },
  "machine-config": { "vcpu_count": 1, "mem_size_mib": 64 },
  "drives": [
    { "drive_id": "rootfs", "path_on_host": "$d/root.img", "is_root_device": true, "is_read_only": false },
    { "drive_id": "ro", "path_on_host": "$d/ro.img", "is_root_device": false, "is_read_only": true,
      "cache_type": "Writeback" }
  ],
  "vsock": { "guest_cid": 3, "uds_path": "$d/v.sock" },
  "entropy": {}$net
}
JSON
	local out="$d/out" rc=0
	"${wrap[@]}" timeout 20 "$EMBER" --no-api --config-file "$d/config.json" --accel "$1" \
		--level Info </dev/null >"$out" 2>&1 || rc=$?
	[ "$rc" -eq 0 ] || fail "ember exited with $rc: $(cat "$out")"
	grep -q "EMBER-TEST-OK hello" "$out" || fail "guest did not run: $(cat "$out")"
	local want="virtio_mmio.device=4K@0xd0000000:5 root=/dev/vda rw virtio_mmio.device=4K@0xd0001000:6"
	grep -q "cmdline \"console=ttyS0 $want virtio_mmio.device=4K@0xd0002000:7 " "$out" ||
		fail "command line: $(grep cmdline "$out")"
	[ ! -e "$d/v.sock" ] || fail "vsock socket left behind"
}

test_virtio_devices_build_kvm() { virtio_build kvm; }
test_virtio_devices_build_tcg() { virtio_build tcg; }
