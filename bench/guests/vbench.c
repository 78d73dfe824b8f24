/* vbench: the in-guest half of bench/virtio_bench.py, built with
 * `gcc -static -O2` and packed into the initramfs by guest/mkoverlay.sh.
 * Every figure is measured inside the guest (CLOCK_MONOTONIC); each phase
 * prints "VBENCH phase NAME" before it starts and one result line
 * "VBENCH NAME key=value ..." after, which the host parses.
 *
 *   vbench blk DEV SECONDS            sequential write/read (1 MiB, O_DIRECT),
 *                                     random 4 KiB read/write (O_DIRECT, QD1)
 *   vbench vsock PORT SECONDS         stream to the host (CID 2) for SECONDS,
 *                                     then wait for the host's byte count
 *   vbench udp IP PORT SECONDS SIZE   send SIZE-byte UDP datagrams for SECONDS
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/fs.h>
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void phase(const char *name)
{
	printf("VBENCH phase %s\n", name);
	fflush(stdout);
}

static void fail(const char *name, const char *what)
{
	printf("VBENCH %s error=%s:%s\n", name, what, strerror(errno));
	fflush(stdout);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int blk(const char *dev, double secs)
{
	const size_t big = 1 << 20, small = 4096;
	uint64_t limit = (uint64_t)(secs * 1e9);
	int fd = open(dev, O_RDWR | O_DIRECT);
	if (fd < 0) {
		fail("blk", "open");
		return 1;
	}
	uint64_t size = 0;
	if (ioctl(fd, BLKGETSIZE64, &size) || size < big) {
		fail("blk", "size");
		return 1;
	}
	uint64_t nbig = size / big, nsmall = size / small;
	char *buf;
	if (posix_memalign((void **)&buf, 4096, big)) return 1;
	for (size_t i = 0; i < big; i++) buf[i] = (char)(i * 131 + 7);
	printf("VBENCH blk-size bytes=%llu\n", (unsigned long long)size);

	static const char *const names[] = { "blk-seq-write", "blk-seq-read", "blk-rand-read",
					      "blk-rand-write" };
	for (int t = 0; t < 4; t++) {
		phase(names[t]);
		uint64_t ops = 0, bytes = 0, t0 = now_ns(), t1 = t0;
		while (t1 - t0 < limit) {
			ssize_t r;
			if (t < 2) {
				off_t off = (off_t)((ops % nbig) * big);
				r = t == 0 ? pwrite(fd, buf, big, off) : pread(fd, buf, big, off);
				if (r != (ssize_t)big) break;
			} else {
				off_t off = (off_t)((next_rand() % nsmall) * small);
				r = t == 2 ? pread(fd, buf, small, off) : pwrite(fd, buf, small, off);
				if (r != (ssize_t)small) break;
			}
			ops++;
			bytes += (uint64_t)r;
			t1 = now_ns();
		}
		if (t1 - t0 < limit) {
			fail(names[t], "io");
			return 1;
		}
		if ((t == 0 || t == 3) && fsync(fd)) {
			fail(names[t], "fsync");
			return 1;
		}
		t1 = now_ns();
		printf("VBENCH %s ops=%llu bytes=%llu ns=%llu\n", names[t], (unsigned long long)ops,
		       (unsigned long long)bytes, (unsigned long long)(t1 - t0));
		fflush(stdout);
	}
	close(fd);
	return 0;
}

static int vsock(unsigned port, double secs)
{
	const size_t chunk = 64 << 10;
	uint64_t limit = (uint64_t)(secs * 1e9);
	phase("vsock-tx");
	int fd = socket(AF_VSOCK, SOCK_STREAM, 0);
	struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = 2, .svm_port = port };
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		fail("vsock-tx", "connect");
		return 1;
	}
	char *buf = malloc(chunk);
	memset(buf, 0xa5, chunk);
	uint64_t bytes = 0, t0 = now_ns();
	while (now_ns() - t0 < limit) {
		ssize_t r = write(fd, buf, chunk);
		if (r <= 0) {
			fail("vsock-tx", "write");
			return 1;
		}
		bytes += (uint64_t)r;
	}
	shutdown(fd, SHUT_WR);
	/* The host answers with the byte count it received, then closes. */
	char reply[64];
	size_t got = 0;
	for (;;) {
		ssize_t r = read(fd, reply + got, sizeof(reply) - 1 - got);
		if (r <= 0) break;
		got += (size_t)r;
	}
	uint64_t t1 = now_ns();
	reply[got] = 0;
	printf("VBENCH vsock-tx bytes=%llu ns=%llu host_bytes=%s\n", (unsigned long long)bytes,
	       (unsigned long long)(t1 - t0), got ? reply : "none");
	fflush(stdout);
	close(fd);
	return 0;
}

static int udp(const char *ip, unsigned port, double secs, size_t size)
{
	uint64_t limit = (uint64_t)(secs * 1e9);
	phase("net-udp-tx");
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	inet_pton(AF_INET, ip, &a.sin_addr);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		fail("net-udp-tx", "connect");
		return 1;
	}
	char buf[2048] = { 0 };
	if (size > sizeof(buf)) size = sizeof(buf);
	/* One packet first so that ARP is resolved before the clock starts. */
	send(fd, buf, size, 0);
	usleep(200000);
	uint64_t sent = 0, errs = 0, t0 = now_ns(), t1 = t0;
	while (t1 - t0 < limit) {
		for (int i = 0; i < 64; i++) {
			if (send(fd, buf, size, 0) == (ssize_t)size)
				sent++;
			else
				errs++;
		}
		t1 = now_ns();
	}
	printf("VBENCH net-udp-tx pkts=%llu errors=%llu size=%zu ns=%llu\n", (unsigned long long)sent,
	       (unsigned long long)errs, size, (unsigned long long)(t1 - t0));
	fflush(stdout);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 4 && !strcmp(argv[1], "blk")) return blk(argv[2], atof(argv[3]));
	if (argc == 4 && !strcmp(argv[1], "vsock")) return vsock((unsigned)atoi(argv[2]), atof(argv[3]));
	if (argc == 6 && !strcmp(argv[1], "udp"))
		return udp(argv[2], (unsigned)atoi(argv[3]), atof(argv[4]), (size_t)atoi(argv[5]));
	if (argc < 2) return 0; /* run from /init.d by itself: nothing to do */
	fprintf(stderr, "usage: vbench blk DEV SECS | vsock PORT SECS | udp IP PORT SECS SIZE\n");
	return 2;
}
