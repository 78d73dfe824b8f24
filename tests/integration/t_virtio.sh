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
# The interface's mtu reaches the driver through VIRTIO_NET_F_MTU.
[ "$(cat /sys/class/net/eth0/mtu 2>/dev/null)" = 1400 ] && echo "VT: net mtu ok"
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
	if timeout -k 5 20 "$EMBER" --no-api --config-file "$TEST_TMP/vt-probe.json" --accel auto \
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
		net=',"network-interfaces":[{"iface_id":"eth0","host_dev_name":"vt0","guest_mac":"06:00:ac:10:00:02","mtu":1400}]'
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
	local serve=$! i
	for ((i = 0; i < 100; i++)); do [ -S "${uds}_52" ] && break; sleep 0.05; done
	local out="$d/console.out"
	"${wrap[@]}" timeout -k 10 "$VT_TIMEOUT" "$EMBER" --no-api --config-file "$d/config.json" \
		--accel "$accel" </dev/null >"$out" 2>&1 &
	local vm=$!
	# Host-initiated vsock once the guest listens. A guest that never
	# reaches init within VT_BOOT_TIMEOUT is the backend's problem, not a
	# virtio verdict: that skips.
	local hostconn=1 booted=0
	for ((i = 0; i < VT_TIMEOUT * 10; i++)); do
		grep -q "EMBER-GUEST-READY" "$out" && booted=1
		grep -q "VT: vsock listening" "$out" && break
		kill -0 "$vm" 2>/dev/null || break
		if [ "$booted" -eq 0 ] && [ "$i" -ge $((VT_BOOT_TIMEOUT * 10)) ]; then
			kill "$vm" "$serve" 2>/dev/null || true
			wait "$vm" "$serve" 2>/dev/null || true
			tail -n 20 "$out"
			# TCG is the backend that must boot Linux here: that is a failure.
			[ "$accel" = tcg ] && fail "Linux did not reach init on tcg within ${VT_BOOT_TIMEOUT}s"
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
		grep -q "VT: net mtu ok" "$out" || fail "guest check failed: the mtu offered is not eth0's"
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
# KVM), announced one way only: with acpi=off on the command line, else in
# the DSDT; and torn down cleanly when a bare-metal guest that ignores them
# ends.
virtio_build() { # ACCEL
	virtio_build_with "$1" "console=ttyS0 acpi=off"
	virtio_build_with "$1" "console=ttyS0"
}

virtio_build_with() { # ACCEL BOOT_ARGS
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
  "boot-source": { "kernel_image_path": "$GUESTS/hello.elf", "boot_args": "$2" },
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
	"${wrap[@]}" timeout -k 5 20 "$EMBER" --no-api --config-file "$d/config.json" --accel "$1" \
		--level Info </dev/null >"$out" 2>&1 || rc=$?
	[ "$rc" -eq 0 ] || fail "ember exited with $rc: $(cat "$out")"
	grep -q "EMBER-TEST-OK hello" "$out" || fail "guest did not run: $(cat "$out")"
	if [ "$2" = "console=ttyS0 acpi=off" ]; then
		local want="virtio_mmio.device=4K@0xd0000000:5 root=/dev/vda rw virtio_mmio.device=4K@0xd0001000:6"
		grep -q "cmdline \"$2 $want virtio_mmio.device=4K@0xd0002000:7 " "$out" ||
			fail "command line: $(grep cmdline "$out")"
		! grep -q "ACPI: RSDP" "$out" || fail "ACPI tables with acpi=off"
	else
		grep -q "cmdline \"$2 root=/dev/vda rw" "$out" || fail "command line: $(grep cmdline "$out")"
		! grep -q "virtio_mmio.device" "$out" || fail "announced on the command line too"
		# COM1, the i8042, the RTC, pvpanic and the 4 or 5 virtio devices.
		local n=8
		[ -z "$net" ] || n=9
		grep -q "ACPI: RSDP at 0xe0000, $n devices in the DSDT" "$out" ||
			fail "DSDT: $(grep 'ACPI:' "$out")"
	fi
	[ ! -e "$d/v.sock" ] || fail "vsock socket left behind"
}

test_virtio_devices_build_kvm() { virtio_build kvm; }
test_virtio_devices_build_tcg() { virtio_build tcg; }

# vt_driver: a bare-metal guest that drives the devices itself through the
# virtio-mmio registers and split rings (polling the used rings): block
# read/write/flush/get-id, a read-only drive's refusal, vsock to a host
# process and back, virtio-rng. Real MMIO exits and notifications
# (ioeventfd on KVM), no Linux needed.
vt_driver_src() {
	cat <<'EOF2'
#include <stdint.h>
typedef uint64_t u64; typedef uint32_t u32; typedef uint16_t u16; typedef uint8_t u8;
__asm__(".section .text.start,\"ax\"\n.globl _start\n_start:\n lea stack_top(%rip), %rsp\n"
	" call gmain\n1: hlt\n jmp 1b\n.section .bss\n.align 16\n.skip 16384\nstack_top:\n.text\n");

static inline void outb(u16 p, u8 v) { __asm__ volatile("outb %0,%1" ::"a"(v), "Nd"(p)); }
static inline u8 inb(u16 p) { u8 v; __asm__ volatile("inb %1,%0" : "=a"(v) : "Nd"(p)); return v; }
static void putch(char c) { while (!(inb(0x3fd) & 0x20)); outb(0x3f8, (u8)c); }
static void puts_(const char *s) { while (*s) putch(*s++); }
static void puthex(u64 v) { for (int i = 60; i >= 0; i -= 4) putch("0123456789abcdef"[(v >> i) & 15]); }
static void mb(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
static void *set(void *d, int c, u64 n) { u8 *p = d; while (n--) *p++ = (u8)c; return d; }
static void cpy(void *d, const void *s, u64 n) { u8 *p = d; const u8 *q = s; while (n--) *p++ = *q++; }
static int cmp(const void *a, const void *b, u64 n) { const u8 *p = a, *q = b; for (; n--; p++, q++) if (*p != *q) return 1; return 0; }
static void end(const char *fail)
{
	if (fail) { puts_("EMBER-TEST-FAIL virtio: "); puts_(fail); puts_("\n"); for (;;) __asm__ volatile("cli; hlt"); }
	puts_("EMBER-TEST-OK virtio\n");
	outb(0x64, 0xfe);
	for (;;) __asm__ volatile("hlt");
}
#define CHECK(c, what) do { if (!(c)) end(what); } while (0)

#define R(b, o) (*(volatile u32 *)((b) + (o)))
struct desc { u64 addr; u32 len; u16 flags, next; };
struct vq { u64 base; unsigned idx; volatile struct desc *d; volatile u16 *avail; volatile u8 *used; u16 size, next, seen; };

static void dev_init(u64 b, u32 id, u64 feats, struct vq *q, unsigned nq, u64 mem)
{
	CHECK(R(b, 0) == 0x74726976 && R(b, 4) == 2, "magic/version");
	CHECK(R(b, 8) == id, "device id");
	R(b, 0x70) = 0; R(b, 0x70) = 1; R(b, 0x70) = 3;
	R(b, 0x14) = 1;
	CHECK(R(b, 0x10) & 1, "VERSION_1 not offered");
	R(b, 0x24) = 1; R(b, 0x20) = (u32)(feats >> 32);
	R(b, 0x24) = 0; R(b, 0x20) = (u32)feats;
	R(b, 0x70) = 11;
	CHECK(R(b, 0x70) == 11, "FEATURES_OK refused");
	for (unsigned i = 0; i < nq; i++) {
		u64 a = mem + i * 0x4000;
		set((void *)a, 0, 0x4000);
		q[i] = (struct vq){ b, i, (void *)a, (void *)(a + 0x1000), (void *)(a + 0x2000), 8, 0, 0 };
		R(b, 0x30) = i;
		CHECK(R(b, 0x34) >= 8 && R(b, 0x44) == 0, "queue max/ready");
		R(b, 0x38) = 8;
		R(b, 0x80) = (u32)a; R(b, 0x84) = 0;
		R(b, 0x90) = (u32)(a + 0x1000); R(b, 0x94) = 0;
		R(b, 0xa0) = (u32)(a + 0x2000); R(b, 0xa4) = 0;
		R(b, 0x44) = 1;
	}
	R(b, 0x70) = 15;
	CHECK(R(b, 0x70) == 15, "DRIVER_OK");
}

/* Chains n buffers (addr, len, write?) from descriptor 0 and posts it. */
static void post(struct vq *q, unsigned n, const u64 *addr, const u32 *len, const int *wr)
{
	unsigned base = (q->next * 4u) % q->size;
	for (unsigned i = 0; i < n; i++) {
		volatile struct desc *d = &q->d[base + i];
		d->addr = addr[i]; d->len = len[i];
		d->flags = (u16)((wr[i] ? 2 : 0) | (i + 1 < n ? 1 : 0));
		d->next = (u16)(base + i + 1);
	}
	q->avail[2 + q->next % q->size] = (u16)base;
	mb();
	q->avail[1] = ++q->next;
	mb();
	R(q->base, 0x50) = q->idx;
}

/* Waits for the next used element; returns its length. */
static u32 wait_used(struct vq *q, const char *what)
{
	for (u64 spin = 0; spin < 4000000000ULL; spin++) {
		mb();
		if (*(volatile u16 *)(q->used + 2) != q->seen) {
			u32 len = *(volatile u32 *)(q->used + 4 + 8 * (q->seen % q->size) + 4);
			q->seen++;
			return len;
		}
		__asm__ volatile("pause");
	}
	end(what);
	return 0;
}

static u32 blk(struct vq *q, u32 type, u64 sector, u64 data, u32 len, int wr, u8 *status)
{
	u64 h = 0x900000;
	((u32 *)h)[0] = type; ((u32 *)h)[1] = 0; *(u64 *)(h + 8) = sector;
	u64 st = 0x900100;
	*(u8 *)st = 0xee;
	u64 a[3] = { h, data, st }; u32 l[3] = { 16, len, 1 }; int w[3] = { 0, wr, 1 };
	if (len) post(q, 3, a, l, w);
	else { u64 a2[2] = { h, st }; u32 l2[2] = { 16, 1 }; int w2[2] = { 0, 1 }; post(q, 2, a2, l2, w2); }
	u32 used = wait_used(q, "block request never completed");
	*status = *(volatile u8 *)st;
	return used;
}

struct vsock_hdr { u64 src_cid, dst_cid; u32 src_port, dst_port, len; u16 type, op; u32 flags, buf_alloc, fwd_cnt; } __attribute__((packed));

static void vs_send(struct vq *tx, u16 op, u32 len, const char *data)
{
	static u64 at = 0xa00000;
	at = at == 0xa00000 ? 0xa01000 : 0xa00000;
	struct vsock_hdr *h = (void *)at;
	*h = (struct vsock_hdr){ 3, 2, 1234, 52, len, 1, op, 0, 65536, 0 };
	cpy((void *)(at + 44), data, len);
	u64 a[1] = { at }; u32 l[1] = { 44 + len }; int w[1] = { 0 };
	post(tx, 1, a, l, w);
	wait_used(tx, "vsock TX not returned");
}

static struct vsock_hdr *vs_recv(struct vq *rx, u8 **payload)
{
	static unsigned n;
	u64 buf = 0xa10000 + (n++ % 2) * 0x2000;
	u32 len = wait_used(rx, "no vsock RX packet");
	struct vsock_hdr *h = (void *)buf;
	CHECK(len == 44 + h->len, "vsock RX length");
	*payload = (u8 *)(buf + 44);
	u64 a[1] = { buf }; u32 l[1] = { 0x2000 }; int w[1] = { 1 };
	post(rx, 1, a, l, w); /* give it back */
	return h;
}

void gmain(void)
{
	struct vq q[3];
	u8 st;
	u8 *data = (u8 *)0x800000;
	/* Slot 0: the read-write drive. */
	u64 b0 = 0xd0000000;
	dev_init(b0, 2, 1ULL << 32, q, 1, 0x400000);
	CHECK(*(volatile u32 *)(b0 + 0x100) == 128, "capacity");
	CHECK(blk(&q[0], 0, 0, (u64)data, 512, 1, &st) == 513 && st == 0, "read");
	CHECK(!cmp(data, "EMBERDSK", 8), "sector 0 content");
	CHECK(R(b0, 0x60) & 1, "interrupt status after completion");
	R(b0, 0x64) = 1;
	CHECK(R(b0, 0x60) == 0, "interrupt ack");
	for (int i = 0; i < 1024; i++) data[i] = (u8)(i ^ 0x5a);
	cpy(data, "GUESTWRT", 8);
	CHECK(blk(&q[0], 1, 2, (u64)data, 1024, 0, &st) == 1 && st == 0, "write");
	set(data, 0, 1024);
	CHECK(blk(&q[0], 0, 2, (u64)data, 1024, 1, &st) == 1025 && st == 0 && !cmp(data, "GUESTWRT", 8), "read back");
	CHECK(blk(&q[0], 4, 0, 0, 0, 0, &st) == 1 && st == 0, "flush");
	set(data, 0, 20);
	CHECK(blk(&q[0], 8, 0, (u64)data, 20, 1, &st) == 21 && st == 0 && data[0], "get-id");
	CHECK(blk(&q[0], 0, 200, (u64)data, 512, 1, &st) == 1 && st == 1, "read past the end");
	/* Slot 1: the read-only drive. */
	u64 b1 = 0xd0001000;
	dev_init(b1, 2, 1ULL << 32, q, 1, 0x400000);
	R(b1, 0x14) = 0;
	CHECK(R(b1, 0x10) & (1u << 5), "VIRTIO_BLK_F_RO not offered");
	CHECK(blk(&q[0], 1, 0, (u64)data, 512, 0, &st) == 1 && st == 1, "read-only write not refused");
	/* Slot 2: vsock, guest port 1234 to host port 52. */
	u64 b2 = 0xd0002000;
	dev_init(b2, 19, 1ULL << 32, q, 3, 0x400000);
	CHECK(*(volatile u32 *)(b2 + 0x100) == 3, "guest cid");
	for (int i = 0; i < 2; i++) {
		u64 a[1] = { 0xa10000 + (u64)i * 0x2000 }; u32 l[1] = { 0x2000 }; int w[1] = { 1 };
		post(&q[0], 1, a, l, w);
	}
	u8 *p;
	vs_send(&q[1], 1, 0, "");
	struct vsock_hdr *h = vs_recv(&q[0], &p);
	CHECK(h->op == 2 && h->src_port == 52 && h->dst_port == 1234, "vsock RESPONSE");
	vs_send(&q[1], 5, 4, "ping");
	h = vs_recv(&q[0], &p);
	while (h->op == 6) h = vs_recv(&q[0], &p); /* credit updates */
	CHECK(h->op == 5 && h->len == 4 && !cmp(p, "pong", 4), "vsock reply");
	/* Slot 3: rng. */
	u64 b3 = 0xd0003000;
	dev_init(b3, 4, 1ULL << 32, q, 1, 0x400000);
	set(data, 0, 64);
	u64 a[1] = { (u64)data }; u32 l[1] = { 64 }; int w[1] = { 1 };
	post(&q[0], 1, a, l, w);
	CHECK(wait_used(&q[0], "rng") == 64, "rng length");
	u8 any = 0;
	for (int i = 0; i < 64; i++) any |= data[i];
	CHECK(any, "rng gave zeros");
	puthex(R(b0, 0x70));
	puts_(" all devices driven\n");
	end(0);
}
EOF2
}

virtio_driver() { # ACCEL
	need_accel "$1"
	local d="$TEST_TMP/vd-$1"
	mkdir -p "$d"
	vt_driver_src >"$d/driver.c"
	gcc -O2 -ffreestanding -fno-stack-protector -fno-pic -no-pie -mno-red-zone -mgeneral-regs-only \
		-fno-builtin -nostdlib -static -Wl,--build-id=none -Wl,--no-warn-rwx-segments \
		-Wl,-T,tests/guests/guest.ld -o "$d/driver.elf" "$d/driver.c"
	vt_helper_src >"$d/vt_helper.c"
	gcc -O1 -o "$d/vt_helper_host" "$d/vt_helper.c"
	{ printf 'EMBERDSK'; head -c $((65536 - 8)) /dev/zero; } >"$d/rw.img"
	{ printf 'READONLY'; head -c $((65536 - 8)) /dev/zero; } >"$d/ro.img"
	local ro_sum
	ro_sum=$(sha256sum <"$d/ro.img")
	cat >"$d/config.json" <<JSON
{
  "boot-source": { "kernel_image_path": "$d/driver.elf", "boot_args": "console=ttyS0" },
  "machine-config": { "vcpu_count": 1, "mem_size_mib": 64 },
  "drives": [
    { "drive_id": "rw", "path_on_host": "$d/rw.img", "is_root_device": false, "is_read_only": false,
      "cache_type": "Writeback" },
    { "drive_id": "ro", "path_on_host": "$d/ro.img", "is_root_device": false, "is_read_only": true }
  ],
  "vsock": { "guest_cid": 3, "uds_path": "$d/v.sock" },
  "entropy": {}
}
JSON
	timeout 30 "$d/vt_helper_host" host-serve "$d/v.sock_52" ping pong &
	local serve=$! rc=0 i
	for ((i = 0; i < 100; i++)); do [ -S "$d/v.sock_52" ] && break; sleep 0.05; done
	timeout -k 5 30 "$EMBER" --no-api --config-file "$d/config.json" --accel "$1" </dev/null \
		>"$d/out" 2>&1 || rc=$?
	wait "$serve" || fail "host end of the vsock connection: exit $?"
	[ "$rc" -eq 0 ] || fail "ember exited with $rc: $(cat "$d/out")"
	grep -q "EMBER-TEST-OK virtio" "$d/out" || fail "$(cat "$d/out")"
	[ "$(dd if="$d/rw.img" bs=512 skip=2 count=1 2>/dev/null | head -c 8)" = GUESTWRT ] ||
		fail "the guest's write is not in the file"
	[ "$(sha256sum <"$d/ro.img")" = "$ro_sum" ] || fail "the read-only image changed"
}

test_virtio_driver_kvm() { virtio_driver kvm; }
test_virtio_driver_tcg() { virtio_driver tcg; }
