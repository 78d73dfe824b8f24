/* libFuzzer target: a hostile guest driving one virtio device through the
 * real virtio-mmio transport (the bus callbacks a vCPU thread calls, the
 * hub the VMM thread runs), with the device's host side poking back.
 *
 * Input: one byte picking the device (blk on a temporary file, net on a
 * SOCK_SEQPACKET socketpair standing in for the TAP, vsock on a temporary
 * socket path with two host listeners, rng) and a few options; a u16
 * length and that many bytes tiled over the 1 MiB of guest memory; then a
 * script of operations (see run_op), each reading its operands from the
 * input, zeros past its end. Every run builds the device and its transport
 * afresh and tears them down, so runs are independent.
 *
 * Beyond the sanitizers: every range a device reports written must lie in
 * guest memory, and a run must give back every fd it opened. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "config/config.h"
#include "runtime/base/gmem.h"
#include "runtime/base/log.h"
#include "virtio/blk.h"
#include "virtio/hub.h"
#include "virtio/mmio.h"
#include "virtio/net.h"
#include "virtio/rng.h"
#include "virtio/vsock.h"

#define MEM_SIZE (1u << 20)
#define DISK_SIZE (64u * 1024)
#define MAX_OPS 512  /* a run stays short: libFuzzer explores by many runs */
#define MAX_HOST 8   /* host-side vsock connections the script may hold */
#define RING_SPAN 0x2000 /* desc + avail + used of a 256-entry queue fit */

enum { DEV_BLK, DEV_NET, DEV_VSOCK, DEV_RNG, DEV_KINDS };

static struct guest_mem mem;
static char dir[64], disk[96], uds[96];

static struct {
	const uint8_t *in;
	size_t len, pos;
	unsigned kind, opts;
	struct vhub hub;
	struct virtio_mmio *t;
	struct virtio_dev *dev;
	int net_host;
	int listen[2];
	int host[MAX_HOST];
	struct {
		uint16_t size, avail_idx;
		uint64_t desc, avail, used;
	} q[VIRTIO_MAX_QUEUES];
} w;

/* --- input --- */

static void take(void *dst, size_t n)
{
	size_t k = w.len - w.pos < n ? w.len - w.pos : n;
	memcpy(dst, w.in + w.pos, k);
	memset((uint8_t *)dst + k, 0, n - k);
	w.pos += k;
}

static uint8_t u8(void)
{
	uint8_t v;
	take(&v, 1);
	return v;
}

static uint16_t u16(void)
{
	uint16_t v;
	take(&v, 2);
	return v;
}

static uint32_t u32(void)
{
	uint32_t v;
	take(&v, 4);
	return v;
}

/* --- what the device sees of the machine --- */

static void check_written(void *opaque, uint64_t gpa, uint64_t len)
{
	(void)opaque;
	if (!gm_ptr(&mem, gpa, len))
		abort(); /* a device wrote (or says it did) outside guest memory */
}

static int irq_set(void *ctx, unsigned gsi, bool level)
{
	(void)ctx;
	(void)gsi;
	(void)level;
	return 0;
}

static void count(void *ctx, const char *name, uint64_t v)
{
	(void)ctx;
	(void)name;
	(void)v;
}

static void mark(void *ctx, uint64_t gpa, uint64_t len)
{
	check_written(ctx, gpa, len);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		abort();
	int n = 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void pump(int n)
{
	for (int i = 0; i < n; i++)
		if (vhub_run(&w.hub, 0) <= 0)
			return;
}

static void wr(uint64_t off, uint32_t v)
{
	virtio_mmio_write(w.t, off, &v, 4);
}

static uint32_t rd(uint64_t off)
{
	uint32_t v;
	virtio_mmio_read(w.t, off, &v, 4);
	return v;
}

/* --- the device and its host side --- */

static int unix_listen(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		abort();
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0)
		abort();
	return fd;
}

static struct virtio_dev *make_device(void)
{
	static const uint8_t mac[6] = { 0x06, 0, 0xac, 0x10, 0, 2 };
	struct virtio_dev *d = NULL;
	struct errbuf err;
	int r = -EINVAL;
	switch (w.kind) {
	case DEV_BLK: {
		struct config_drive c = { .drive_id = "fuzz", .path_on_host = disk,
					  .is_read_only = w.opts & 1,
					  .cache_type = w.opts & 2 ? CONFIG_CACHE_WRITEBACK
								   : CONFIG_CACHE_UNSAFE };
		r = vblk_create(&c, &d, &err);
		break;
	}
	case DEV_NET: {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
			abort();
		if (w.net_host >= 0)
			close(w.net_host);
		w.net_host = sv[1];
		r = vnet_create_fd(sv[0], w.opts & 1 ? mac : NULL, 0, &d, &err);
		break;
	}
	case DEV_VSOCK: {
		/* A small cap, so that scripts reach it. */
		struct config_vsock c = { .present = true, .guest_cid = 3, .uds_path = uds,
					  .max_connections = 4 };
		r = vsock_create(&c, &d, &err);
		break;
	}
	default: {
		struct config_entropy c = { .present = true };
		r = vrng_create(&c, &d, &err);
	}
	}
	if (r < 0) {
		fprintf(stderr, "device: %s\n", err.msg);
		abort();
	}
	return d;
}

static void attach(void)
{
	struct virtio_mmio_opts o = {
		.base = 0xd0000000ULL, .irq = { irq_set, NULL, 5 }, .hub = &w.hub, .mem = &mem,
		.written = { check_written, NULL },
	};
	w.dev = make_device();
	if (virtio_mmio_create(w.dev, &o, &w.t) < 0)
		abort();
}

static void host_close(int i)
{
	if (w.host[i] >= 0)
		close(w.host[i]);
	w.host[i] = -1;
}

static void host_op(void)
{
	uint8_t op = u8();
	static uint8_t buf[70000];
	if (w.kind == DEV_NET) {
		if (op % 3 == 0) {
			/* A frame from the TAP: header from the input, then a pattern. */
			size_t n = 12 + u16() % (op & 8 ? 65550 : 1600);
			take(buf, 12);
			memset(buf + 12, op, n - 12);
			(void)!send(w.net_host, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		} else if (op % 3 == 1) {
			for (int i = 0; i < 64 && recv(w.net_host, buf, sizeof(buf), MSG_DONTWAIT) >= 0; i++)
				;
		} else {
			shutdown(w.net_host, SHUT_RDWR); /* the device reads end of file */
		}
	} else if (w.kind == DEV_VSOCK) {
		int i = u8() % MAX_HOST;
		switch (op % 6) {
		case 0: { /* connect to the device and ask for a guest port */
			if (w.host[i] >= 0)
				break;
			struct sockaddr_un sa = { .sun_family = AF_UNIX };
			snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", uds);
			int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
			if (fd < 0)
				abort();
			if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
				close(fd);
				break;
			}
			w.host[i] = fd;
			int n = op & 8 ? snprintf((char *)buf, 32, "CONNECT %u\n", u32())
				       : (int)(u8() % 40);
			if (!(op & 8))
				take(buf, (size_t)n);
			(void)!send(fd, buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
			break;
		}
		case 1: { /* data from the host */
			size_t n = u16() % 8192;
			memset(buf, op, n);
			if (w.host[i] >= 0)
				(void)!send(w.host[i], buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
			break;
		}
		case 2:
			host_close(i);
			break;
		case 3: /* a guest connection reached a host listener */
			if (w.host[i] < 0)
				w.host[i] = accept4(w.listen[op >> 7], NULL, NULL,
						    SOCK_NONBLOCK | SOCK_CLOEXEC);
			break;
		case 4:
			if (w.host[i] >= 0)
				for (int k = 0; k < 16 && recv(w.host[i], buf, sizeof(buf), MSG_DONTWAIT) > 0; k++)
					;
			break;
		default:
			if (w.host[i] >= 0)
				shutdown(w.host[i], SHUT_WR);
		}
	} else if (w.kind == DEV_BLK && op % 2 == 0) {
		struct errbuf err;
		vblk_update_path(w.dev, disk, &err); /* PATCH /drives: a config change */
	}
}

/* --- the driver --- */

/* The driver's whole init (3.1.1) with queues laid out from the input. */
static void driver_init(void)
{
	uint8_t sel = u8();
	uint64_t f = w.dev->features;
	if (sel & 1)
		f &= ~VIRTIO_FEAT_VERSION_1;
	if (sel & 2)
		f &= ~VIRTIO_FEAT_EVENT_IDX;
	if (sel & 4)
		f &= ~VIRTIO_FEAT_INDIRECT_DESC;
	if (sel & 8)
		f &= ~0xffffffULL; /* no device-specific features */
	if (sel & 16)
		f |= VIRTIO_BIT(50); /* not offered */
	wr(VIRTIO_MMIO_STATUS, 0);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	for (uint32_t page = 0; page < 2; page++) {
		wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, page);
		wr(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(f >> (32 * page)));
	}
	uint32_t st = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
		      VIRTIO_CONFIG_S_FEATURES_OK;
	wr(VIRTIO_MMIO_STATUS, st);
	for (unsigned q = 0; q < w.dev->nr_queues; q++) {
		uint16_t size = (uint16_t)(1u << (u8() % 9));
		uint64_t base = (u16() * 64ULL) % (MEM_SIZE - RING_SPAN);
		w.q[q].size = size;
		w.q[q].avail_idx = 0;
		w.q[q].desc = base;
		w.q[q].avail = base + 16ULL * size;
		w.q[q].used = (w.q[q].avail + 6 + 2ULL * size + 3) & ~3ULL;
		memset(gm_ptr(&mem, w.q[q].used, 6 + 8ULL * size), 0, 6 + 8ULL * size);
		wr(VIRTIO_MMIO_QUEUE_SEL, q);
		wr(VIRTIO_MMIO_QUEUE_NUM, size);
		wr(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)w.q[q].desc);
		wr(VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
		wr(VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)w.q[q].avail);
		wr(VIRTIO_MMIO_QUEUE_AVAIL_HIGH, 0);
		wr(VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)w.q[q].used);
		wr(VIRTIO_MMIO_QUEUE_USED_HIGH, 0);
		wr(VIRTIO_MMIO_QUEUE_READY, 1);
	}
	wr(VIRTIO_MMIO_STATUS, st | VIRTIO_CONFIG_S_DRIVER_OK);
	pump(8);
}

static void put16(uint64_t gpa, uint16_t v)
{
	gm_write(&mem, gpa, &v, 2);
}

/* A new VMM process restoring the device from its own snapshot blob. */
static void snapshot_round_trip(void)
{
	static uint8_t blob[4096];
	int n = virtio_mmio_save(w.t, blob, sizeof(blob));
	if (n < 0)
		abort(); /* nothing is ever in flight at a save */
	virtio_mmio_destroy(w.t);
	w.t = NULL;
	attach();
	uint8_t flip = u8();
	if (flip && n > 0)
		blob[u16() % (unsigned)n] ^= flip; /* a damaged file: refused or harmless */
	virtio_mmio_restore(w.t, blob, (size_t)n);
	pump(8);
}

static void run_op(void)
{
	uint8_t op = u8();
	unsigned nq = w.dev->nr_queues;
	switch (op % 13) {
	case 0: { /* a register write */
		uint64_t off = (uint64_t)u8() * 4;
		wr(off, u32());
		break;
	}
	case 1: { /* any read, config space included, any width */
		uint64_t off = u16() % 0x200;
		uint8_t buf[8];
		virtio_mmio_read(w.t, off, buf, 1u << (u8() % 4));
		break;
	}
	case 2: { /* an odd-sized or config write */
		uint64_t off = u16() % 0x200;
		uint8_t buf[8];
		take(buf, sizeof(buf));
		virtio_mmio_write(w.t, off, buf, 1u << (u8() % 4));
		break;
	}
	case 3:
		wr(VIRTIO_MMIO_QUEUE_NOTIFY, u8() % (nq + 1));
		pump(8);
		break;
	case 4:
		driver_init();
		break;
	case 5: { /* guest memory written anywhere */
		uint32_t at = u32() % MEM_SIZE, n = u8();
		if (n > MEM_SIZE - at)
			n = MEM_SIZE - at;
		if (n)
			take(gm_ptr(&mem, at, n), n);
		break;
	}
	case 6: { /* a descriptor */
		unsigned q = u8() % nq;
		uint8_t d[16];
		uint16_t i = u16();
		take(d, sizeof(d));
		if (w.q[q].size)
			gm_write(&mem, w.q[q].desc + 16ULL * (i % w.q[q].size), d, sizeof(d));
		break;
	}
	case 7: { /* a chain made available */
		unsigned q = u8() % nq;
		uint16_t head = u16();
		if (!w.q[q].size)
			break;
		put16(w.q[q].avail + 4 + 2ULL * (w.q[q].avail_idx % w.q[q].size), head);
		put16(w.q[q].avail + 2, ++w.q[q].avail_idx);
		break;
	}
	case 8: { /* an avail index that lies, or flags and used_event */
		unsigned q = u8() % nq;
		uint16_t v = u16();
		if (!w.q[q].size)
			break;
		if (op & 0x80)
			put16(w.q[q].avail + (op & 0x40 ? 4 + 2ULL * w.q[q].size : 0), v);
		else
			put16(w.q[q].avail + 2, w.q[q].avail_idx = v);
		break;
	}
	case 9:
		host_op();
		pump(8);
		break;
	case 10:
		pump(1 + u8() % 16);
		break;
	case 11:
		wr(VIRTIO_MMIO_INTERRUPT_ACK, rd(VIRTIO_MMIO_INTERRUPT_STATUS));
		break;
	default:
		if (op & 0x80) {
			snapshot_round_trip();
		} else {
			wr(VIRTIO_MMIO_STATUS, 0); /* the driver's reset */
			pump(4);
		}
	}
}

/* --- libFuzzer --- */

/* Empty but for what a run that crashed left (runs unlink their sockets). */
static void cleanup(void)
{
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOG_OFF);
	/* tmpfs if there is one: flushes cost nothing there. */
	snprintf(dir, sizeof(dir), "%s/ember-fuzz-virtio-XXXXXX",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if (!mkdtemp(dir) || gm_alloc(&mem, MEM_SIZE) < 0)
		abort();
	snprintf(disk, sizeof(disk), "%s/disk", dir);
	snprintf(uds, sizeof(uds), "%s/v.sock", dir);
	/* Unlinked at once, reached through /proc: no file outlives us, crash
	 * or not. */
	int fd = open(disk, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, DISK_SIZE) < 0 || unlink(disk) < 0)
		abort();
	snprintf(disk, sizeof(disk), "/proc/self/fd/%d", fd);
	atexit(cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Counted per run: libFuzzer opens fds of its own between runs (the
	 * symbolizer's pipes). */
	int fds = count_fds();
	memset(&w, 0, sizeof(w));
	w.in = data;
	w.len = size;
	w.net_host = -1;
	w.listen[0] = w.listen[1] = -1;
	for (int i = 0; i < MAX_HOST; i++)
		w.host[i] = -1;
	uint8_t b = u8();
	w.kind = b % DEV_KINDS;
	w.opts = b / DEV_KINDS;
	/* Guest memory: the image tiled, so rings anywhere see fuzzed bytes. */
	uint16_t img = u16();
	size_t have = w.len - w.pos < img ? w.len - w.pos : img;
	uint8_t *ram = gm_ptr(&mem, 0, MEM_SIZE);
	if (have) {
		memcpy(ram, w.in + w.pos, have);
		for (size_t done = have; done < MEM_SIZE; done *= 2)
			memcpy(ram + done, ram, done < MEM_SIZE - done ? done : MEM_SIZE - done);
	} else {
		memset(ram, 0, MEM_SIZE);
	}
	w.pos += have;

	if (vhub_init(&w.hub) < 0)
		abort();
	if (w.kind == DEV_VSOCK) {
		char p[128];
		for (int i = 0; i < 2; i++) {
			snprintf(p, sizeof(p), "%s_%d", uds, 52 + i);
			w.listen[i] = unix_listen(p);
		}
	}
	attach();
	for (int n = 0; n < MAX_OPS && w.pos < w.len; n++)
		run_op();
	pump(16);
	/* What metrics and Diff snapshots ask of the device, in any state. */
	virtio_mmio_device_ops.counters(w.t, count, NULL);
	virtio_mmio_device_ops.written_ranges(w.t, mark, NULL);

	virtio_mmio_destroy(w.t);
	for (int i = 0; i < MAX_HOST; i++)
		host_close(i);
	for (int i = 0; i < 2; i++) {
		if (w.listen[i] >= 0) {
			char p[128];
			close(w.listen[i]);
			snprintf(p, sizeof(p), "%s_%d", uds, 52 + i);
			unlink(p);
		}
	}
	if (w.net_host >= 0)
		close(w.net_host);
	vhub_destroy(&w.hub);
	if (count_fds() != fds)
		abort(); /* an fd outlived its device */
	return 0;
}
