/* virtio/vsock*.c: packets both ways against real Unix sockets, both
 * connection directions, credit, and hostile packets. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>
#include <linux/virtio_vsock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "runtime/base/log.h"
#include "config/config.h"
#include "tests/unit/test_virtio_util.h"
#include "virtio/vsock.h"

#define CID 3
#define QSZ 64
#define RXBUF (4096 + 44)

static char dir[40], uds[64];
static struct tbed bed;
static struct virtio_dev *dev;
static uint64_t rxbuf[QSZ];
static uint16_t tx_slot;
static uint64_t txbuf;

static void rx_post(uint16_t i)
{
	tq_desc(&bed.g.q[0], i, rxbuf[i], RXBUF, VRING_DESC_F_WRITE, 0);
	tq_post(&bed.g.q[0], i);
}

static void setup(void)
{
	strcpy(dir, "/tmp/ember-vsock-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(uds, sizeof(uds), "%s/v.sock", dir);
	struct config_vsock v = { .present = true, .guest_cid = CID, .uds_path = uds };
	struct errbuf err;
	cr_assert_eq(vsock_create(&v, &dev, &err), 0, "%s", err.msg);
	cr_assert_eq(tbed_init(&bed, dev, QSZ, 0), 0x0f);
	for (uint16_t i = 0; i < 16; i++) {
		rxbuf[i] = tguest_alloc(&bed.g, RXBUF);
		rx_post(i);
	}
	tx_slot = 0;
	txbuf = tguest_alloc(&bed.g, 64 * 1024 + 44);
	tbed_kick(&bed, 0);
}

static void teardown(void)
{
	tbed_fini(&bed);
	/* The device unlinks its own socket. */
	cr_expect_eq(access(uds, F_OK), -1);
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_expect_eq(system(cmd), 0);
}

/* Host sockets block; a device bug must fail the test, not hang CI. */
TestSuite(vsock, .init = setup, .fini = teardown, .timeout = 20);

static struct virtio_vsock_hdr mkhdr(uint16_t op, uint32_t src_port, uint32_t dst_port,
				     uint32_t len)
{
	return (struct virtio_vsock_hdr){ .src_cid = CID, .dst_cid = 2, .src_port = src_port,
					  .dst_port = dst_port, .len = len,
					  .type = VIRTIO_VSOCK_TYPE_STREAM, .op = op,
					  .buf_alloc = 64 * 1024 };
}

/* The guest sends one packet (header and payload in one buffer). */
static void tx(struct virtio_vsock_hdr h, const void *data, uint32_t len)
{
	uint8_t *p = tguest_ptr(&bed.g, txbuf, 44 + (len ? len : 1));
	memcpy(p, &h, 44);
	if (len)
		memcpy(p + 44, data, len);
	struct tq *q = &bed.g.q[1];
	uint16_t d = tx_slot++ % QSZ;
	tq_desc(q, d, txbuf, 44 + len, 0, 0);
	tq_post(q, d);
	tbed_kick(&bed, 1);
	uint32_t id, ulen;
	while (tq_used(q, &id, &ulen))
		;
}

static void tx_op(uint16_t op, uint32_t src_port, uint32_t dst_port)
{
	tx(mkhdr(op, src_port, dst_port, 0), NULL, 0);
}

/* The next packet the device gave the guest; payload copied to data. */
static bool rx(struct virtio_vsock_hdr *h, void *data, size_t max)
{
	thub_pump(&bed.hub);
	uint32_t id, len;
	if (!tq_used(&bed.g.q[0], &id, &len))
		return false;
	cr_assert_geq(len, 44);
	uint8_t *p = tguest_ptr(&bed.g, rxbuf[id], RXBUF);
	memcpy(h, p, 44);
	cr_assert_eq(len, 44 + h->len);
	if (data)
		memcpy(data, p + 44, h->len < max ? h->len : max);
	rx_post((uint16_t)id);
	tbed_kick(&bed, 0);
	return true;
}

static int host_listen(uint32_t port)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", uds, port);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(fd, 4), 0);
	return fd;
}

static int host_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	strcpy(sa.sun_path, uds);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static ssize_t host_read(int fd, void *buf, size_t len)
{
	thub_pump(&bed.hub);
	return recv(fd, buf, len, MSG_DONTWAIT);
}

/* Guest port 1000 connects to host port 52; returns the host's socket. */
static int guest_connect(void)
{
	int lfd = host_listen(52);
	tx_op(VIRTIO_VSOCK_OP_REQUEST, 1000, 52);
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	cr_assert_geq(fd, 0);
	close(lfd);
	struct virtio_vsock_hdr h;
	cr_assert(rx(&h, NULL, 0));
	cr_expect_eq(h.op, VIRTIO_VSOCK_OP_RESPONSE);
	cr_expect_eq(h.src_port, 52);
	cr_expect_eq(h.dst_port, 1000);
	cr_expect_eq(h.src_cid, 2);
	cr_expect_eq(h.dst_cid, CID);
	cr_expect_eq(h.buf_alloc, 256 * 1024);
	return fd;
}

Test(vsock, config_has_guest_cid)
{
	uint64_t cid;
	virtio_mmio_read(bed.t, 0x100, &cid, 8);
	cr_expect_eq(cid, CID);
}

Test(vsock, guest_initiated_both_directions_and_clean_close)
{
	int fd = guest_connect();
	tx(mkhdr(VIRTIO_VSOCK_OP_RW, 1000, 52, 5), "hello", 5);
	char buf[64];
	cr_expect_eq(host_read(fd, buf, sizeof(buf)), 5);
	cr_expect_eq(memcmp(buf, "hello", 5), 0);
	cr_expect_eq(send(fd, "world!", 6, 0), 6);
	struct virtio_vsock_hdr h;
	cr_assert(rx(&h, buf, sizeof(buf)));
	cr_expect_eq(h.op, VIRTIO_VSOCK_OP_RW);
	cr_expect_eq(h.len, 6);
	cr_expect_eq(memcmp(buf, "world!", 6), 0);
	cr_expect_eq(h.fwd_cnt, 5);
	/* Guest closes: SHUTDOWN both ways, the host sees EOF and we RST. */
	struct virtio_vsock_hdr sd = mkhdr(VIRTIO_VSOCK_OP_SHUTDOWN, 1000, 52, 0);
	sd.flags = VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND;
	tx(sd, NULL, 0);
	cr_assert(rx(&h, NULL, 0));
	cr_expect_eq(h.op, VIRTIO_VSOCK_OP_RST);
	cr_expect_eq(host_read(fd, buf, sizeof(buf)), 0);
	close(fd);
	const struct vsock_stats *s = vsock_stats(dev);
	cr_expect_eq(s->conns_opened, 1);
	cr_expect_eq(s->conns_closed, 1);
	cr_expect_eq(s->tx_bytes, 5);
	cr_expect_eq(s->rx_bytes, 6);
}

Test(vsock, host_close_sends_shutdown)
{
	int fd = guest_connect();
	close(fd);
	struct virtio_vsock_hdr h;
	cr_assert(rx(&h, NULL, 0));
	cr_expect_eq(h.op, VIRTIO_VSOCK_OP_SHUTDOWN);
	cr_expect_eq(h.flags, VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
	tx_op(VIRTIO_VSOCK_OP_RST, 1000, 52);
	cr_expect_eq(vsock_stats(dev)->conns_closed, 1);
	cr_expect_not(rx(&h, NULL, 0));
}

Test(vsock, guest_half_close_shuts_host_write_side)
{
	int fd = guest_connect();
	struct virtio_vsock_hdr sd = mkhdr(VIRTIO_VSOCK_OP_SHUTDOWN, 1000, 52, 0);
	sd.flags = VIRTIO_VSOCK_SHUTDOWN_SEND;
	tx(sd, NULL, 0);
	char buf[8];
	cr_expect_eq(host_read(fd, buf, sizeof(buf)), 0); /* EOF for the host */
	/* The other direction still works. */
	cr_expect_eq(send(fd, "x", 1, 0), 1);
	struct virtio_vsock_hdr h;
	cr_assert(rx(&h, buf, sizeof(buf)));
	cr_expect_eq(h.op, VIRTIO_VSOCK_OP_RW);
	close(fd);
}

Test(vsock, host_initiated_connect)
{
	int fd = host_connect();
	/* Data right behind the line must not be eaten with it. */
	cr_assert_eq(send(fd, "CONNECT 5000\nearly", 18, 0), 18);
	struct virtio_vsock_hdr h;
	cr_assert(rx(&h, NULL, 0));
	cr_expect_eq(h.op, VIRTIO_VSOCK_OP_REQUEST);
	cr_expect_eq(h.dst_port, 5000);
	cr_expect_eq(h.src_port, 1u << 30);
	tx_op(VIRTIO_VSOCK_OP_RESPONSE, 5000, 1u << 30);
	char buf[64] = "";
	cr_expect_eq(host_read(fd, buf, sizeof(buf)), 14);
	cr_expect_eq(memcmp(buf, "OK 1073741824\n", 14), 0);
	char data[16] = "";
	cr_assert(rx(&h, data, sizeof(data)));
	cr_expect_eq(h.op, VIRTIO_VSOCK_OP_RW);
	cr_expect_eq(h.len, 5);
	cr_expect_eq(memcmp(data, "early", 5), 0);
	tx(mkhdr(VIRTIO_VSOCK_OP_RW, 5000, 1u << 30, 3), "abc", 3);
	cr_expect_eq(host_read(fd, buf, sizeof(buf)), 3);
	close(fd);
}

Test(vsock, host_initiated_refused_by_guest)
{
	int fd = host_connect();
	cr_assert_eq(send(fd, "CONNECT 7\n", 10, 0), 10);
	struct virtio_vsock_hdr h;
	cr_assert(rx(&h, NULL, 0));
	cr_expect_eq(h.op, VIRTIO_VSOCK_OP_REQUEST);
	tx_op(VIRTIO_VSOCK_OP_RST, 7, h.src_port);
	char buf[8];
	cr_expect_eq(host_read(fd, buf, sizeof(buf)), 0);
	close(fd);
}

Test(vsock, bad_connect_lines_close_the_host_socket)
{
	const char *bad[] = { "HELLO 5\n", "CONNECT \n", "CONNECT 5x\n", "CONNECT 99999999999\n",
			      "CONNECT 1234567890123456789012345678901234567890" };
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int fd = host_connect();
		cr_assert_eq(send(fd, bad[i], strlen(bad[i]), 0), (ssize_t)strlen(bad[i]));
		char buf[8];
		/* EOF, or ECONNRESET when our unread bytes were discarded. */
		ssize_t n = host_read(fd, buf, sizeof(buf));
		cr_expect(n == 0 || (n < 0 && errno == ECONNRESET), "line %u: %zd %s", i, n,
			  strerror(errno));
		close(fd);
	}
	struct virtio_vsock_hdr h;
	cr_expect_not(rx(&h, NULL, 0));
	cr_expect_eq(vsock_stats(dev)->conns_refused, 5);
}

Test(vsock, request_without_listener_gets_rst)
{
	tx_op(VIRTIO_VSOCK_OP_REQUEST, 1000, 99);
	struct virtio_vsock_hdr h;
	cr_assert(rx(&h, NULL, 0));
	cr_expect_eq(h.op, VIRTIO_VSOCK_OP_RST);
	cr_expect_eq(h.src_port, 99);
	cr_expect_eq(h.dst_port, 1000);
}

Test(vsock, packet_for_unknown_connection_gets_rst)
{
	tx(mkhdr(VIRTIO_VSOCK_OP_RW, 1, 2, 3), "abc", 3);
	struct virtio_vsock_hdr h;
	cr_assert(rx(&h, NULL, 0));
	cr_expect_eq(h.op, VIRTIO_VSOCK_OP_RST);
	tx_op(VIRTIO_VSOCK_OP_RST, 1, 2); /* an RST is never answered */
	cr_expect_not(rx(&h, NULL, 0));
}

Test(vsock, seqpacket_refused)
{
	struct virtio_vsock_hdr r = mkhdr(VIRTIO_VSOCK_OP_REQUEST, 1, 52, 0);
	r.type = VIRTIO_VSOCK_TYPE_SEQPACKET;
	int lfd = host_listen(52);
	tx(r, NULL, 0);
	struct virtio_vsock_hdr h;
	cr_assert(rx(&h, NULL, 0));
	cr_expect_eq(h.op, VIRTIO_VSOCK_OP_RST);
	close(lfd);
}

Test(vsock, hostile_headers_dropped)
{
	struct virtio_vsock_hdr h = mkhdr(VIRTIO_VSOCK_OP_REQUEST, 1, 52, 0);
	h.src_cid = 7; /* not the guest's CID */
	tx(h, NULL, 0);
	h = mkhdr(VIRTIO_VSOCK_OP_REQUEST, 1, 52, 0);
	h.dst_cid = 9;
	tx(h, NULL, 0);
	h = mkhdr(VIRTIO_VSOCK_OP_RW, 1, 52, 1000); /* len past the buffer */
	tx(h, "x", 1);
	/* A chain shorter than a header. */
	struct tq *q = &bed.g.q[1];
	tq_desc(q, 60, txbuf, 10, 0, 0);
	tq_post(q, 60);
	tbed_kick(&bed, 1);
	struct virtio_vsock_hdr r;
	cr_expect_not(rx(&r, NULL, 0));
	cr_expect_eq(vsock_stats(dev)->malformed, 4);
}

Test(vsock, credit_limits_host_to_guest)
{
	int fd = guest_connect();
	/* The guest announces 10 bytes of buffer. */
	struct virtio_vsock_hdr cu = mkhdr(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 1000, 52, 0);
	cu.buf_alloc = 10;
	tx(cu, NULL, 0);
	char big[100];
	memset(big, 'z', sizeof(big));
	cr_assert_eq(send(fd, big, sizeof(big), 0), 100);
	struct virtio_vsock_hdr h;
	cr_assert(rx(&h, NULL, 0));
	cr_expect_eq(h.op, VIRTIO_VSOCK_OP_RW);
	cr_expect_eq(h.len, 10);
	/* Out of credit: the device asks once, then waits. */
	cr_assert(rx(&h, NULL, 0));
	cr_expect_eq(h.op, VIRTIO_VSOCK_OP_CREDIT_REQUEST);
	cr_expect_not(rx(&h, NULL, 0));
	/* The guest consumed the 10 bytes. */
	cu.fwd_cnt = 10;
	tx(cu, NULL, 0);
	cr_assert(rx(&h, NULL, 0));
	cr_expect_eq(h.op, VIRTIO_VSOCK_OP_RW);
	cr_expect_eq(h.len, 10);
	close(fd);
}

Test(vsock, credit_request_answered)
{
	int fd = guest_connect();
	tx_op(VIRTIO_VSOCK_OP_CREDIT_REQUEST, 1000, 52);
	struct virtio_vsock_hdr h;
	cr_assert(rx(&h, NULL, 0));
	cr_expect_eq(h.op, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	cr_expect_eq(h.buf_alloc, 256 * 1024);
	close(fd);
}

Test(vsock, guest_overrunning_credit_is_reset)
{
	int fd = guest_connect();
	static char chunk[64 * 1024];
	struct virtio_vsock_hdr h;
	bool reset = false;
	for (int i = 0; i < 40 && !reset; i++) {
		tx(mkhdr(VIRTIO_VSOCK_OP_RW, 1000, 52, sizeof(chunk)), chunk, sizeof(chunk));
		while (rx(&h, NULL, 0))
			reset |= h.op == VIRTIO_VSOCK_OP_RST;
	}
	cr_expect(reset);
	cr_expect_eq(vsock_stats(dev)->credit_violations, 1);
	close(fd);
}

Test(vsock, buffered_data_reaches_slow_host_and_credit_flows)
{
	int fd = guest_connect();
	static char chunk[64 * 1024];
	for (size_t i = 0; i < sizeof(chunk); i++)
		chunk[i] = (char)i;
	/* 4 x 64 KiB = our whole buffer: legal even if the host reads nothing. */
	for (int i = 0; i < 4; i++)
		tx(mkhdr(VIRTIO_VSOCK_OP_RW, 1000, 52, sizeof(chunk)), chunk, sizeof(chunk));
	size_t got = 0;
	static char buf[64 * 1024];
	struct virtio_vsock_hdr h;
	uint32_t fwd = 0;
	for (int spins = 0; got < 4 * sizeof(chunk) && spins < 1000; spins++) {
		ssize_t n = host_read(fd, buf, sizeof(buf));
		if (n > 0) {
			for (ssize_t i = 0; i < n; i++)
				cr_assert_eq(buf[i], (char)((got + (size_t)i) % sizeof(chunk)));
			got += (size_t)n;
		}
		while (rx(&h, NULL, 0))
			if (h.op == VIRTIO_VSOCK_OP_CREDIT_UPDATE)
				fwd = h.fwd_cnt;
	}
	cr_expect_eq(got, 4 * sizeof(chunk));
	cr_expect_eq(fwd, 4 * sizeof(chunk));
	cr_expect_eq(vsock_stats(dev)->credit_violations, 0);
	close(fd);
}

Test(vsock, no_rx_buffers_then_some)
{
	/* Use up the RX buffers the setup posted: the replies wait. */
	struct tq *rq = &bed.g.q[0];
	tq_set_avail_idx(rq, rq->avail_idx); /* no change; 16 posted */
	for (uint32_t p = 0; p < 20; p++)
		tx_op(VIRTIO_VSOCK_OP_REQUEST, 2000 + p, 99); /* 20 RSTs, 16 buffers */
	uint32_t id, len;
	int n = 0;
	thub_pump(&bed.hub);
	while (tq_used(rq, &id, &len))
		n++;
	cr_expect_eq(n, 16);
	for (uint16_t i = 0; i < 16; i++)
		rx_post(i);
	tbed_kick(&bed, 0);
	while (tq_used(rq, &id, &len))
		n++;
	cr_expect_eq(n, 20);
}

Test(vsock, reset_drops_connections)
{
	int fd = guest_connect();
	tmmio_wr(bed.t, 0x70, 0);
	thub_pump(&bed.hub);
	char buf[8];
	cr_expect_eq(recv(fd, buf, sizeof(buf), 0), 0);
	close(fd);
	cr_expect_eq(vsock_stats(dev)->conns_closed, 1);
}

static int hub_work(int n)
{
	int ran = 0;
	for (int i = 0; i < n; i++) {
		int r = vhub_run(&bed.hub, 0);
		cr_assert_geq(r, 0);
		ran += r;
	}
	return ran;
}

/* Issue 11, finding 2: after one bad ring index the device needs a reset
 * and nothing serves its sockets; left watched, a readable listener or
 * connection would keep the VMM thread spinning. The failed device lets
 * go of its connections and stops watching its listener until the driver
 * resets it and activates it again. */
Test(vsock, failed_device_releases_its_sockets)
{
	int fd = guest_connect();
	struct tq *tq = &bed.g.q[1];
	tq_set_avail_idx(tq, (uint16_t)(tq->avail_idx + 1000));
	tbed_kick(&bed, 1);
	cr_assert(tmmio_rd(bed.t, VIRTIO_MMIO_STATUS) & 0x40);
	(void)!send(fd, "x", 1, MSG_NOSIGNAL);
	int hfd = host_connect();
	cr_expect_eq(hub_work(50), 0, "the VMM thread works for a failed device");
	char buf[16];
	cr_expect_eq(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), 0, "connection not closed");
	close(fd);
	/* The driver starts over; the host connection that waited is served. */
	for (unsigned i = 0; i < 3; i++)
		tq_init(&bed.g, i, QSZ);
	cr_assert_eq(tmmio_init(bed.t, &bed.g, dev->features), 0x0f);
	thub_pump(&bed.hub);
	for (uint16_t i = 0; i < 16; i++)
		rx_post(i);
	tx_slot = 0;
	tbed_kick(&bed, 0);
	cr_assert_eq(send(hfd, "CONNECT 5000\n", 13, 0), 13);
	struct virtio_vsock_hdr h;
	cr_assert(rx(&h, NULL, 0));
	cr_expect_eq(h.op, VIRTIO_VSOCK_OP_REQUEST);
	cr_expect_eq(h.dst_port, 5000);
	close(hfd);
	const struct vsock_stats *s = vsock_stats(dev);
	cr_expect_eq(s->conns_opened - s->conns_closed, 1);
}

Test(vsock, existing_socket_path_refused)
{
	struct config_vsock v = { .present = true, .guest_cid = CID, .uds_path = uds };
	struct virtio_dev *d2;
	struct errbuf err;
	cr_expect_eq(vsock_create(&v, &d2, &err), -EADDRINUSE);
	cr_expect(strstr(err.msg, "stale"));
	/* And the failed attempt did not remove the live one. */
	cr_expect_eq(access(uds, F_OK), 0);
}

/* Random headers from a guest that makes things up, with a real listener
 * and a host process poking at the other end: nothing crashes, every TX
 * buffer comes back, and the device ends with no leaked connections. */
Test(vsock, random_packets)
{
	int lfd = host_listen(52);
	cr_assert_eq(fcntl(lfd, F_SETFL, O_NONBLOCK), 0);
	uint64_t s = 0x1234567887654321ULL;
	static char payload[2048];
	for (int i = 0; i < 2000; i++) {
		s ^= s << 13, s ^= s >> 7, s ^= s << 17;
		struct virtio_vsock_hdr h = mkhdr((uint16_t)(s % 9), (uint32_t)(1000 + (s >> 8) % 4),
						  (s >> 12) % 3 ? 52 : (uint32_t)(s >> 20),
						  (uint32_t)((s >> 24) % 3 ? 0 : (s >> 30) % 2048));
		if ((s >> 40) % 7 == 0)
			h.type = (uint16_t)(s >> 44);
		h.flags = (uint32_t)(s >> 33) & 7;
		h.buf_alloc = (uint32_t)(s >> 16);
		h.fwd_cnt = (uint32_t)(s >> 3);
		tx(h, payload, h.op == VIRTIO_VSOCK_OP_RW ? h.len : 0);
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			if (s & 1)
				(void)!write(fd, "data", 4);
			if (s & 2)
				close(fd);
		}
		struct virtio_vsock_hdr r;
		while (rx(&r, NULL, 0))
			;
	}
	close(lfd);
	/* Reset frees whatever is left. */
	tmmio_wr(bed.t, 0x70, 0);
	thub_pump(&bed.hub);
	const struct vsock_stats *st = vsock_stats(dev);
	cr_expect_eq(st->conns_opened, st->conns_closed);
	cr_expect_gt(st->conns_opened, 10, "%llu", (unsigned long long)st->conns_opened);
	cr_expect_gt(st->tx_packets, 1000);
	cr_expect_gt(st->rsts_sent, 10);
	cr_expect_gt(st->malformed, 10);
}

/* --- the connection cap (issue 11, finding 1) --- */

static int nr_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	cr_assert_not_null(d);
	int n = 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* The device is made under a soft fd limit of 128: a default cap of 32. */
static void setup_fd_limit_128(void)
{
	struct rlimit rl;
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	rl.rlim_cur = 128;
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0, "%s", strerror(errno));
	setup();
}

TestSuite(vsock_cap, .init = setup_fd_limit_128, .fini = teardown, .timeout = 20);

/* A new device with max_connections, driven up to DRIVER_OK. */
static void vsock_recreate(uint32_t max)
{
	tbed_drop(&bed);
	struct config_vsock v = { .present = true, .guest_cid = CID, .uds_path = uds,
				  .max_connections = max };
	struct errbuf err;
	cr_assert_eq(vsock_create(&v, &dev, &err), 0, "%s", err.msg);
	tbed_attach(&bed, dev);
	for (unsigned i = 0; i < 3; i++)
		tq_init(&bed.g, i, QSZ);
	cr_assert_eq(tmmio_init(bed.t, &bed.g, dev->features), 0x0f);
	thub_pump(&bed.hub);
	for (uint16_t i = 0; i < 16; i++)
		rx_post(i);
	tx_slot = 0;
	tbed_kick(&bed, 0);
}

/* The guest asks for port 52 from guest port p: true if it was accepted
 * (the host end then in *hfd), false if refused with an RST. */
static bool guest_open(int lfd, uint32_t p, int *hfd)
{
	tx_op(VIRTIO_VSOCK_OP_REQUEST, p, 52);
	struct virtio_vsock_hdr h;
	cr_assert(rx(&h, NULL, 0));
	cr_assert_eq(h.dst_port, p);
	if (h.op != VIRTIO_VSOCK_OP_RESPONSE) {
		cr_assert_eq(h.op, VIRTIO_VSOCK_OP_RST);
		return false;
	}
	*hfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	cr_assert_geq(*hfd, 0);
	return true;
}

/* A host process connecting to guest port 5000: true if the guest was
 * asked (REQUEST), false if the device closed the connection. */
static bool host_open(int *fd)
{
	*fd = host_connect();
	cr_assert_eq(send(*fd, "CONNECT 5000\n", 13, 0), 13);
	struct virtio_vsock_hdr h;
	if (rx(&h, NULL, 0)) {
		cr_assert_eq(h.op, VIRTIO_VSOCK_OP_REQUEST);
		return true;
	}
	char buf[8];
	ssize_t n = host_read(*fd, buf, sizeof(buf));
	cr_assert(n == 0 || (n < 0 && errno == ECONNRESET), "%zd %s", n, strerror(errno));
	close(*fd);
	*fd = -1;
	return false;
}

Test(vsock_cap, guest_over_the_default_cap_gets_rst)
{
	int lfd = host_listen(52);
	/* The logger opens its fds with its first line (the limit's warning
	 * below): open them now, so they are not counted as the device's. */
	log_warn("vsock_cap: counting fds");
	int before = nr_fds();
	int hfd[40], ok = 0, refused = 0;
	for (uint32_t i = 0; i < 40; i++) {
		if (guest_open(lfd, 1000 + i, &hfd[ok]))
			ok++;
		else
			refused++;
	}
	cr_expect_eq(ok, 32, "a quarter of the fd limit");
	cr_expect_eq(refused, 8);
	/* The device's socket and the host's end of each: nothing more. */
	cr_expect_leq(nr_fds() - before, 2 * 32);
	const struct vsock_stats *s = vsock_stats(dev);
	cr_expect_eq(s->conns_over_limit, 8);
	cr_expect_eq(s->conns_refused, 8);
	cr_expect_eq(vsock_max_conns(dev), 32);
	/* The host side is refused too, and told by a close. */
	int fd;
	cr_expect_not(host_open(&fd));
	cr_expect_eq(s->conns_over_limit, 9);
	/* What is open still works. */
	tx(mkhdr(VIRTIO_VSOCK_OP_RW, 1000, 52, 5), "hello", 5);
	char buf[8];
	cr_expect_eq(host_read(hfd[0], buf, sizeof(buf)), 5);
	/* One closes: the host gets through again. */
	tx_op(VIRTIO_VSOCK_OP_RST, 1005, 52);
	cr_expect(host_open(&fd));
	close(fd);
	for (int i = 0; i < ok; i++)
		close(hfd[i]);
	close(lfd);
}

Test(vsock_cap, configured_cap_counts_both_directions)
{
	vsock_recreate(3);
	cr_assert_eq(vsock_max_conns(dev), 3);
	int lfd = host_listen(52), hfd[2], fd;
	cr_assert(host_open(&fd));
	cr_assert(guest_open(lfd, 1000, &hfd[0]));
	cr_assert(guest_open(lfd, 1001, &hfd[1]));
	cr_expect_not(guest_open(lfd, 1002, &hfd[1]));
	int fd2;
	cr_expect_not(host_open(&fd2));
	cr_expect_eq(vsock_stats(dev)->conns_over_limit, 2);
	/* The host connection goes (the guest refuses it): room again. */
	tx_op(VIRTIO_VSOCK_OP_RST, 5000, 1u << 30);
	close(fd);
	cr_expect(guest_open(lfd, 1002, &fd));
	close(fd);
	close(hfd[0]);
	close(hfd[1]);
	close(lfd);
}

/* Out of fds for another reason: a host connection cannot be accepted,
 * and a listener left watched would wake the VMM thread for nothing, over
 * and over. It waits unwatched until the guest notifies a queue (or one
 * of the device's connections closes). */
Test(vsock_cap, out_of_fds_the_listener_waits)
{
	int hc = host_connect();
	cr_assert_eq(send(hc, "CONNECT 5000\n", 13, 0), 13);
	/* Every fd under the soft limit (128) in use. */
	static int filler[128];
	int nfill = 0;
	for (int fd; nfill < 128 && (fd = dup(0)) >= 0;)
		filler[nfill++] = fd;
	cr_assert_eq(errno, EMFILE);
	int ran = 0;
	for (int i = 0; i < 20; i++)
		ran += vhub_run(&bed.hub, 0);
	while (nfill)
		close(filler[--nfill]);
	cr_expect_leq(ran, 1, "the listener woke the VMM thread %d times", ran);
	struct virtio_vsock_hdr h;
	cr_expect_not(rx(&h, NULL, 0));
	/* Any guest notification looks again. */
	tbed_kick(&bed, 1);
	cr_assert(rx(&h, NULL, 0));
	cr_expect_eq(h.op, VIRTIO_VSOCK_OP_REQUEST);
	cr_expect_eq(h.dst_port, 5000);
	close(hc);
}

Test(vsock_cap, configured_cap_stays_under_half_the_fd_limit)
{
	vsock_recreate(100);
	cr_expect_eq(vsock_max_conns(dev), 64);
}

/* --- snapshot --- */

static uint8_t sblob[1024];
static int sblob_len;
static uint64_t evbuf[4];

static void ev_post(uint16_t n)
{
	for (uint16_t i = 0; i < n; i++) {
		evbuf[i] = tguest_alloc(&bed.g, 8);
		memset(tguest_ptr(&bed.g, evbuf[i], 8), 0xee, 8);
		tq_desc(&bed.g.q[2], i, evbuf[i], 8, VRING_DESC_F_WRITE, 0);
		tq_post(&bed.g.q[2], i);
	}
}

/* A new VMM process: the device made again from the configuration (its
 * socket bound anew), on a transport no driver has touched. */
static void vsock_reopen(uint64_t cid)
{
	tbed_drop(&bed);
	struct config_vsock v = { .present = true, .guest_cid = cid, .uds_path = uds };
	struct errbuf err;
	cr_assert_eq(vsock_create(&v, &dev, &err), 0, "%s", err.msg);
	tbed_attach(&bed, dev);
}

static int restore_sblob(void)
{
	return virtio_mmio_restore(bed.t, sblob, (size_t)sblob_len);
}

/* The next event the device gave the guest. */
static bool ev_next(uint32_t *event)
{
	uint32_t id, len;
	if (!tq_used(&bed.g.q[2], &id, &len))
		return false;
	cr_assert_lt(id, 4);
	cr_assert_eq(len, 4);
	memcpy(event, tguest_ptr(&bed.g, evbuf[id], 4), 4);
	return true;
}

Test(vsock, snapshot_resets_the_guests_connections)
{
	ev_post(2);
	tbed_kick(&bed, 2);
	int fd = guest_connect();
	tx(mkhdr(VIRTIO_VSOCK_OP_RW, 1000, 52, 5), "hello", 5);
	char buf[16];
	cr_assert_eq(host_read(fd, buf, sizeof(buf)), 5);
	uint16_t rx_used = tq_used_idx(&bed.g.q[0]);
	tmmio_wr(bed.t, VIRTIO_MMIO_INTERRUPT_ACK, 3);
	sblob_len = tbed_save(&bed, sblob, sizeof(sblob));

	vsock_reopen(CID);
	cr_assert_eq(restore_sblob(), 0);
	thub_pump(&bed.hub);
	/* The host end of the old connection saw the old process go. */
	cr_expect_eq(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), 0);
	close(fd);
	/* One TRANSPORT_RESET, in the first event buffer, and nothing else. */
	uint32_t event = 0xffffffff;
	cr_assert(ev_next(&event));
	cr_expect_eq(event, VIRTIO_VSOCK_EVENT_TRANSPORT_RESET);
	cr_expect_not(ev_next(&event));
	cr_expect(bed.irq.level);
	cr_expect_eq(tq_used_idx(&bed.g.q[0]), rx_used);
	/* A packet of the old connection gets an RST... */
	tx(mkhdr(VIRTIO_VSOCK_OP_RW, 1000, 52, 3), "abc", 3);
	struct virtio_vsock_hdr h;
	cr_assert(rx(&h, NULL, 0));
	cr_expect_eq(h.op, VIRTIO_VSOCK_OP_RST);
	cr_expect_eq(tq_used_idx(&bed.g.q[0]), (uint16_t)(rx_used + 1));
	/* ...and the guest connects again. */
	char old[80];
	snprintf(old, sizeof(old), "%s_52", uds);
	unlink(old);
	int fd2 = guest_connect();
	tx(mkhdr(VIRTIO_VSOCK_OP_RW, 1000, 52, 5), "again", 5);
	cr_expect_eq(host_read(fd2, buf, sizeof(buf)), 5);
	cr_expect_eq(memcmp(buf, "again", 5), 0);
	cr_expect_not(ev_next(&event));
	close(fd2);
}

Test(vsock, snapshot_event_waits_for_an_event_buffer)
{
	sblob_len = tbed_save(&bed, sblob, sizeof(sblob));
	vsock_reopen(CID);
	cr_assert_eq(restore_sblob(), 0);
	thub_pump(&bed.hub);
	uint32_t event;
	cr_expect_not(ev_next(&event));
	ev_post(1);
	tbed_kick(&bed, 2);
	cr_assert(ev_next(&event));
	cr_expect_eq(event, VIRTIO_VSOCK_EVENT_TRANSPORT_RESET);
	tq_post(&bed.g.q[2], 0);
	tbed_kick(&bed, 2);
	cr_expect_not(ev_next(&event), "one event only");
}

Test(vsock, snapshot_driver_reset_before_the_event_drops_it)
{
	sblob_len = tbed_save(&bed, sblob, sizeof(sblob));
	vsock_reopen(CID);
	cr_assert_eq(restore_sblob(), 0);
	thub_pump(&bed.hub);
	/* The driver starts over: it has no connections left to reset. */
	for (unsigned i = 0; i < 3; i++)
		tq_init(&bed.g, i, QSZ);
	cr_assert_eq(tmmio_init(bed.t, &bed.g, dev->features), 0x0f);
	thub_pump(&bed.hub);
	ev_post(1);
	tbed_kick(&bed, 2);
	uint32_t event;
	cr_expect_not(ev_next(&event));
}

Test(vsock, snapshot_blob_checked)
{
	sblob_len = tbed_save(&bed, sblob, sizeof(sblob));
	vsock_reopen(CID);
	tblob_truncations(&bed, sblob, sblob_len);
	tblob_device_flips_refused(&bed, sblob, sblob_len);
	struct virtio_mmio_state hd;
	memcpy(&hd, sblob, sizeof(hd));
	cr_assert_eq(hd.dev_len, sizeof(struct vsock_state));
	struct vsock_state st;
	memcpy(&st, sblob + sizeof(hd) + hd.config_len, sizeof(st));
	cr_expect_eq(st.version, VSOCK_STATE_VERSION);
	cr_expect_eq(st.guest_cid, CID);
	cr_expect_eq(dev->ops->restore(dev, &st, sizeof(st) + 1), -EINVAL);
	/* The guest CID must still be the configured one. */
	vsock_reopen(CID + 1);
	cr_expect_eq(dev->ops->restore(dev, &st, sizeof(st)), -EINVAL);
	cr_expect_eq(restore_sblob(), -EINVAL);
	vsock_reopen(CID);
	cr_expect_eq(restore_sblob(), 0);
}
