/* virtio/net.c: header handling, TX/RX, mergeable buffers and RX flow
 * control against a SOCK_SEQPACKET socketpair standing in for the TAP;
 * then a real TAP in a private network namespace when we may make one. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include <net/if.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config/config.h"
#include "tests/unit/test_virtio_util.h"
#include "virtio/net.h"

#define QSZ 64
#define F(b) VIRTIO_BIT(b)

static struct tbed bed;
static struct virtio_dev *dev;
static int host = -1;
static const uint8_t mac[6] = { 0x06, 0x00, 0xac, 0x10, 0x00, 0x02 };

static void start(uint64_t features)
{
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	host = sv[1];
	struct errbuf err;
	cr_assert_eq(vnet_create_fd(sv[0], mac, 0, &dev, &err), 0);
	cr_assert_eq(tbed_init(&bed, dev, QSZ, features), 0x0f);
}

static void teardown(void)
{
	if (dev)
		tbed_fini(&bed);
	dev = NULL;
	if (host >= 0)
		close(host);
	host = -1;
}

TestSuite(vnet, .fini = teardown);

#define BASE_FEATURES VIRTIO_FEAT_VERSION_1

static uint16_t tx_slot;

/* The guest sends hdr + frame (split into two descriptors). */
static void guest_tx(const struct virtio_net_hdr_v1 *h, size_t frame_len)
{
	struct tq *q = &bed.g.q[1];
	uint64_t hg = tguest_alloc(&bed.g, sizeof(*h)), fg = tguest_alloc(&bed.g, frame_len);
	memcpy(tguest_ptr(&bed.g, hg, sizeof(*h)), h, sizeof(*h));
	uint8_t *f = tguest_ptr(&bed.g, fg, frame_len);
	for (size_t i = 0; i < frame_len; i++)
		f[i] = (uint8_t)i;
	uint16_t d = (uint16_t)(tx_slot++ * 2 % QSZ);
	tq_desc(q, d, hg, sizeof(*h), VRING_DESC_F_NEXT, (uint16_t)(d + 1));
	tq_desc(q, (uint16_t)(d + 1), fg, (uint32_t)frame_len, 0, 0);
	tq_post(q, d);
	tbed_kick(&bed, 1);
	uint32_t id, len;
	cr_assert(tq_used(q, &id, &len));
	cr_expect_eq(len, 0);
}

static ssize_t host_recv(void *buf, size_t len)
{
	return recv(host, buf, len, MSG_DONTWAIT);
}

Test(vnet, config_mac_and_features)
{
	start(BASE_FEATURES | F(VIRTIO_NET_F_MAC));
	uint8_t m[6];
	for (int i = 0; i < 6; i++)
		virtio_mmio_read(bed.t, 0x100 + (uint64_t)i, &m[i], 1);
	cr_expect_eq(memcmp(m, mac, 6), 0);
	uint16_t st;
	virtio_mmio_read(bed.t, 0x106, &st, 2);
	cr_expect_eq(st, VIRTIO_NET_S_LINK_UP);
	cr_expect(dev->features & F(VIRTIO_NET_F_MRG_RXBUF));
	cr_expect(dev->features & F(VIRTIO_NET_F_GUEST_TSO4));
}

Test(vnet, mtu_offered_and_its_frames_pass)
{
	/* Without an MTU none is offered and a frame over 1518 bytes is dropped. */
	start(BASE_FEATURES);
	cr_expect_not(dev->features & F(VIRTIO_NET_F_MTU));
	struct virtio_net_hdr_v1 h = { 0 };
	guest_tx(&h, 4000);
	cr_expect_eq(vnet_stats(dev)->tx_dropped, 1);
	teardown();

	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	host = sv[1];
	struct errbuf err;
	cr_assert_eq(vnet_create_fd(sv[0], mac, 9000, &dev, &err), 0);
	cr_assert(dev->features & F(VIRTIO_NET_F_MTU));
	cr_assert_eq(tbed_init(&bed, dev, QSZ, BASE_FEATURES | F(VIRTIO_NET_F_MTU)), 0x0f);
	uint16_t mtu = 0;
	virtio_mmio_read(bed.t, 0x100 + 10, &mtu, 2);
	cr_expect_eq(mtu, 9000);
	/* A frame of the MTU plus an Ethernet and VLAN header passes; one more byte does not. */
	guest_tx(&h, 9018);
	static uint8_t buf[10000];
	cr_expect_eq(host_recv(buf, sizeof(buf)), 12 + 9018);
	guest_tx(&h, 9019);
	cr_expect_eq(vnet_stats(dev)->tx_dropped, 1);
}

Test(vnet, tx_frame_reaches_backend_unchanged)
{
	start(BASE_FEATURES);
	struct virtio_net_hdr_v1 h = { 0 };
	guest_tx(&h, 60);
	uint8_t buf[256];
	cr_assert_eq(host_recv(buf, sizeof(buf)), 72);
	cr_expect_eq(memcmp(buf, &h, 12), 0);
	for (int i = 0; i < 60; i++)
		cr_assert_eq(buf[12 + i], i);
	cr_expect_eq(vnet_stats(dev)->tx_packets, 1);
	cr_expect_eq(vnet_stats(dev)->tx_bytes, 60);
}

Test(vnet, tx_csum_and_tso_only_when_negotiated)
{
	start(BASE_FEATURES);
	struct virtio_net_hdr_v1 h = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 34,
				       .csum_offset = 16 };
	guest_tx(&h, 60);
	h = (struct virtio_net_hdr_v1){ .gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .gso_size = 1448 };
	guest_tx(&h, 60);
	uint8_t buf[256];
	cr_expect_lt(host_recv(buf, sizeof(buf)), 0);
	cr_expect_eq(vnet_stats(dev)->tx_dropped, 2);
}

Test(vnet, tx_offloads_pass_when_negotiated)
{
	start(BASE_FEATURES | F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_HOST_TSO4));
	struct virtio_net_hdr_v1 h = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				       .gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .gso_size = 1448,
				       .hdr_len = 54, .csum_start = 34, .csum_offset = 16 };
	guest_tx(&h, 3000);
	uint8_t buf[4096];
	cr_expect_eq(host_recv(buf, sizeof(buf)), 3012);
	/* TSO6 was not negotiated; UFO, ECN and unknown flags never are. */
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
	guest_tx(&h, 100);
	h.gso_type = VIRTIO_NET_HDR_GSO_UDP;
	guest_tx(&h, 100);
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN;
	guest_tx(&h, 100);
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	h.gso_size = 0;
	guest_tx(&h, 100);
	h = (struct virtio_net_hdr_v1){ .flags = 0x80 };
	guest_tx(&h, 100);
	cr_expect_lt(host_recv(buf, sizeof(buf)), 0);
	cr_expect_eq(vnet_stats(dev)->tx_dropped, 5);
}

Test(vnet, tx_bad_sizes_dropped)
{
	start(BASE_FEATURES);
	struct virtio_net_hdr_v1 h = { 0 };
	guest_tx(&h, 10);   /* shorter than an Ethernet header */
	guest_tx(&h, 1600); /* bigger than a frame without TSO */
	/* Header only, no frame. */
	struct tq *q = &bed.g.q[1];
	uint64_t hg = tguest_alloc(&bed.g, 12);
	tq_desc(q, 40, hg, 12, 0, 0);
	tq_post(q, 40);
	tbed_kick(&bed, 1);
	uint8_t buf[64];
	cr_expect_lt(host_recv(buf, sizeof(buf)), 0);
	cr_expect_eq(vnet_stats(dev)->tx_dropped, 3);
}

static uint64_t rxg[QSZ];

static void post_rx(uint16_t n, uint32_t size)
{
	struct tq *q = &bed.g.q[0];
	for (uint16_t i = 0; i < n; i++) {
		rxg[i] = tguest_alloc(&bed.g, size);
		tq_desc(q, i, rxg[i], size, VRING_DESC_F_WRITE, 0);
		tq_post(q, i);
	}
	tbed_kick(&bed, 0);
}

static void host_send(size_t frame_len)
{
	static uint8_t buf[70000];
	struct virtio_net_hdr_v1 h = { .flags = VIRTIO_NET_HDR_F_DATA_VALID };
	memcpy(buf, &h, sizeof(h));
	for (size_t i = 0; i < frame_len; i++)
		buf[12 + i] = (uint8_t)(i * 3);
	cr_assert_eq(send(host, buf, 12 + frame_len, 0), (ssize_t)(12 + frame_len));
	thub_pump(&bed.hub);
}

/* TX batching (the software CPU): after a pass that sent frames the
 * driver is asked not to notify and the timer brings the device back; a
 * pass that finds nothing turns notifications back on. */
#define TX_BATCH_NS 200000

static void start_batched(uint64_t features)
{
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	host = sv[1];
	struct errbuf err;
	cr_assert_eq(vnet_create_fd(sv[0], mac, 0, &dev, &err), 0);
	vnet_set_tx_batch(dev, TX_BATCH_NS);
	cr_assert_eq(tbed_init(&bed, dev, QSZ, features), 0x0f);
}

/* A frame the guest queues without notifying (it was told not to). */
static void guest_tx_quiet(size_t frame_len)
{
	struct tq *q = &bed.g.q[1];
	struct virtio_net_hdr_v1 h = { 0 };
	uint64_t hg = tguest_alloc(&bed.g, sizeof(h)), fg = tguest_alloc(&bed.g, frame_len);
	memcpy(tguest_ptr(&bed.g, hg, sizeof(h)), &h, sizeof(h));
	uint16_t d = (uint16_t)(tx_slot++ * 2 % QSZ);
	tq_desc(q, d, hg, sizeof(h), VRING_DESC_F_NEXT, (uint16_t)(d + 1));
	tq_desc(q, (uint16_t)(d + 1), fg, (uint32_t)frame_len, 0, 0);
	tq_post(q, d);
}

static void wait_tx_timer(void)
{
	usleep(2 * TX_BATCH_NS / 1000);
	thub_pump(&bed.hub);
}

static uint16_t used_flags(void)
{
	uint16_t f;
	memcpy(&f, tguest_ptr(&bed.g, bed.g.q[1].used, 2), 2);
	return f;
}

Test(vnet, tx_batch_takes_unnotified_frames_on_the_timer)
{
	start_batched(BASE_FEATURES);
	struct virtio_net_hdr_v1 h = { 0 };
	guest_tx(&h, 60);
	cr_expect_eq(used_flags(), VRING_USED_F_NO_NOTIFY, "the driver was not asked to hold off");
	guest_tx_quiet(60);
	guest_tx_quiet(60);
	uint32_t id, len;
	cr_expect_not(tq_used(&bed.g.q[1], &id, &len), "sent before the timer");
	wait_tx_timer();
	cr_expect(tq_used(&bed.g.q[1], &id, &len));
	cr_expect(tq_used(&bed.g.q[1], &id, &len));
	uint8_t buf[2048];
	int frames = 0;
	while (host_recv(buf, sizeof(buf)) > 0)
		frames++;
	cr_expect_eq(frames, 3);
	/* Still flowing: held off again; then a pass with nothing ends it. */
	cr_expect_eq(used_flags(), VRING_USED_F_NO_NOTIFY);
	wait_tx_timer();
	cr_expect_eq(used_flags(), 0, "notifications not turned back on when idle");
	cr_expect_eq(vnet_stats(dev)->tx_packets, 3);
}

Test(vnet, tx_batch_with_event_idx_leaves_avail_event_behind)
{
	start_batched(BASE_FEATURES | VIRTIO_FEAT_EVENT_IDX);
	struct virtio_net_hdr_v1 h = { 0 };
	guest_tx(&h, 60);
	uint16_t ev = tq_avail_event(&bed.g.q[1]);
	guest_tx_quiet(60);
	/* 2.7.10: the driver notifies only if the new index passes ev. */
	cr_expect_lt((uint16_t)(bed.g.q[1].avail_idx - ev - 1), 0x8000, "driver would notify");
	wait_tx_timer();
	wait_tx_timer();
	cr_expect_eq(tq_avail_event(&bed.g.q[1]), bed.g.q[1].avail_idx,
		     "idle: avail_event not caught up");
	cr_expect_eq(vnet_stats(dev)->tx_packets, 2);
}

Test(vnet, tx_batch_timer_is_gone_after_reset)
{
	start_batched(BASE_FEATURES);
	struct virtio_net_hdr_v1 h = { 0 };
	guest_tx(&h, 60);
	tmmio_wr(bed.t, VIRTIO_MMIO_STATUS, 0);
	thub_pump(&bed.hub);
	guest_tx_quiet(60);
	wait_tx_timer();
	cr_expect_eq(vnet_stats(dev)->tx_packets, 1);
}

Test(vnet, no_tx_batch_without_it_asked)
{
	start(BASE_FEATURES);
	struct virtio_net_hdr_v1 h = { 0 };
	guest_tx(&h, 60);
	cr_expect_eq(used_flags(), 0);
}

Test(vnet, rx_frame_into_one_buffer)
{
	start(BASE_FEATURES);
	post_rx(4, 2048);
	host_send(100);
	uint32_t id, len;
	cr_assert(tq_used(&bed.g.q[0], &id, &len));
	cr_expect_eq(id, 0);
	cr_expect_eq(len, 112);
	struct virtio_net_hdr_v1 h;
	memcpy(&h, tguest_ptr(&bed.g, rxg[0], 12), 12);
	cr_expect_eq(h.num_buffers, 1);
	cr_expect_eq(h.flags, VIRTIO_NET_HDR_F_DATA_VALID);
	uint8_t *p = tguest_ptr(&bed.g, rxg[0], 112);
	cr_expect_eq(p[12 + 99], (uint8_t)(99 * 3));
	cr_expect(bed.irq.level);
	cr_expect_eq(vnet_stats(dev)->rx_bytes, 100);
}

Test(vnet, rx_mergeable_spreads_over_buffers)
{
	start(BASE_FEATURES | F(VIRTIO_NET_F_MRG_RXBUF) | F(VIRTIO_NET_F_GUEST_CSUM) |
	      F(VIRTIO_NET_F_GUEST_TSO4));
	post_rx(20, 4096); /* 80 KiB: room for a 64 KiB GSO frame */
	host_send(10000);
	struct tq *q = &bed.g.q[0];
	uint32_t id, len;
	uint32_t lens[3];
	for (int i = 0; i < 3; i++) {
		cr_assert(tq_used(q, &id, &len));
		cr_expect_eq(id, (uint32_t)i);
		lens[i] = len;
	}
	cr_expect_eq(lens[0], 4096);
	cr_expect_eq(lens[1], 4096);
	cr_expect_eq(lens[2], 10012 - 8192);
	cr_expect_not(tq_used(q, &id, &len));
	struct virtio_net_hdr_v1 h;
	memcpy(&h, tguest_ptr(&bed.g, rxg[0], 12), 12);
	cr_expect_eq(h.num_buffers, 3);
	uint8_t *p = tguest_ptr(&bed.g, rxg[2], 4096);
	cr_expect_eq(p[10012 - 8192 - 1], (uint8_t)(9999 * 3));
	/* The unused buffers were given back: the next frame starts at 3. */
	host_send(60);
	cr_assert(tq_used(q, &id, &len));
	cr_expect_eq(id, 3);
	cr_expect_eq(len, 72);
}

Test(vnet, rx_waits_for_buffers)
{
	start(BASE_FEATURES | F(VIRTIO_NET_F_MRG_RXBUF));
	host_send(100);
	cr_expect_eq(vnet_stats(dev)->rx_packets, 0);
	cr_expect_geq(vnet_stats(dev)->rx_blocked, 1);
	/* Not enough for a full frame yet (1530 bytes needed). */
	post_rx(1, 1024);
	cr_expect_eq(vnet_stats(dev)->rx_packets, 0);
	struct tq *q = &bed.g.q[0];
	rxg[1] = tguest_alloc(&bed.g, 1024);
	tq_desc(q, 1, rxg[1], 1024, VRING_DESC_F_WRITE, 0);
	tq_post(q, 1);
	tbed_kick(&bed, 0);
	cr_expect_eq(vnet_stats(dev)->rx_packets, 1);
	uint32_t id, len;
	cr_assert(tq_used(q, &id, &len));
	cr_expect_eq(len, 112);
}

/* Mergeable RX: good, malformed, good buffers, too little room for a frame.
 * The gather pops both good ones (the malformed one is completed on the
 * way) and gives them back: the second goes back to the ring, the first
 * cannot be rewound to across the malformed entry, so it is returned to
 * the guest empty; nothing is used twice and nothing is lost. */
Test(vnet, rx_giveback_across_a_malformed_buffer)
{
	start(BASE_FEATURES | F(VIRTIO_NET_F_MRG_RXBUF));
	struct tq *q = &bed.g.q[0];
	uint64_t g0 = tguest_alloc(&bed.g, 512), g2 = tguest_alloc(&bed.g, 512);
	tq_desc(q, 0, g0, 512, VRING_DESC_F_WRITE, 0);
	tq_desc(q, 1, TDRV_MEM - 8, 512, VRING_DESC_F_WRITE, 0); /* past guest memory */
	tq_desc(q, 2, g2, 512, VRING_DESC_F_WRITE, 0);
	tq_post(q, 0);
	tq_post(q, 1);
	tq_post(q, 2);
	tbed_kick(&bed, 0);
	host_send(100);
	tbed_kick(&bed, 0);
	unsigned seen[3] = { 0 };
	uint32_t id, len;
	while (tq_used(q, &id, &len)) {
		cr_assert_lt(id, 3);
		cr_expect_eq(len, 0);
		seen[id]++;
	}
	cr_expect_eq(seen[0], 1);
	cr_expect_eq(seen[1], 1, "the malformed buffer used %u times", seen[1]);
	cr_expect_eq(seen[2], 0, "kept for the next frame");
	/* More room: the frame goes into buffer 2 and the new one. */
	uint64_t g3 = tguest_alloc(&bed.g, 2048);
	tq_desc(q, 3, g3, 2048, VRING_DESC_F_WRITE, 0);
	tq_post(q, 3);
	tbed_kick(&bed, 0);
	cr_expect_eq(vnet_stats(dev)->rx_packets, 1);
	cr_assert(tq_used(q, &id, &len));
	cr_expect_eq(id, 2);
	cr_expect_eq(len, 112);
}

Test(vnet, rx_buffer_too_small_for_header_dropped)
{
	start(BASE_FEATURES);
	post_rx(1, 8);
	host_send(60);
	uint32_t id, len;
	cr_assert(tq_used(&bed.g.q[0], &id, &len));
	cr_expect_eq(len, 0);
	cr_expect_eq(vnet_stats(dev)->rx_packets, 0);
}

Test(vnet, rx_into_readable_buffer_refused)
{
	start(BASE_FEATURES);
	struct tq *q = &bed.g.q[0];
	uint64_t g = tguest_alloc(&bed.g, 2048);
	tq_desc(q, 0, g, 2048, 0, 0); /* device-readable: must not be written */
	tq_post(q, 0);
	tbed_kick(&bed, 0);
	host_send(60);
	uint32_t id, len;
	cr_assert(tq_used(q, &id, &len));
	cr_expect_eq(len, 0);
	uint8_t *p = tguest_ptr(&bed.g, g, 2048);
	for (int i = 0; i < 2048; i++)
		cr_assert_eq(p[i], 0);
}

/* Runs the hub n times without waiting; returns the callbacks run. */
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

/* Issue 11, finding 2: a device failed by one bad ring index must not
 * leave its TAP watched (nothing drains it: the VMM thread would spin);
 * the driver's reset and a new activation take it back. */
Test(vnet, failed_device_leaves_the_tap_unwatched)
{
	start(BASE_FEATURES);
	post_rx(4, 2048);
	struct tq *tq = &bed.g.q[1];
	tq_set_avail_idx(tq, (uint16_t)(tq->avail_idx + 1000));
	tbed_kick(&bed, 1);
	cr_assert(tmmio_rd(bed.t, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	static uint8_t frame[12 + 60];
	cr_assert_eq(send(host, frame, sizeof(frame), 0), (ssize_t)sizeof(frame));
	cr_expect_eq(hub_work(50), 0, "the VMM thread works for a failed device");
	cr_expect_eq(vnet_stats(dev)->rx_packets, 0);
	/* The driver starts over: the frame waiting in the TAP arrives. */
	tq_init(&bed.g, 0, QSZ);
	tq_init(&bed.g, 1, QSZ);
	cr_assert_eq(tmmio_init(bed.t, &bed.g, BASE_FEATURES), 0x0f);
	thub_pump(&bed.hub);
	post_rx(4, 2048);
	cr_expect_eq(vnet_stats(dev)->rx_packets, 1);
	cr_expect_eq(hub_work(5), 0);
}

/* --- a real TAP, in a network namespace of our own --- */

static int set_up(const char *ifname)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = { 0 };
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	int r = ioctl(s, SIOCGIFFLAGS, &ifr);
	ifr.ifr_flags |= IFF_UP;
	if (r == 0)
		r = ioctl(s, SIOCSIFFLAGS, &ifr);
	close(s);
	return r;
}

Test(vnet, real_tap_in_private_netns)
{
	if (unshare(CLONE_NEWNET) < 0 || access("/dev/net/tun", R_OK | W_OK) < 0)
		cr_skip_test("cannot make a network namespace or open /dev/net/tun here");
	struct config_net cn = { .iface_id = "eth0", .host_dev_name = "vtap0",
				 .has_guest_mac = true, .mtu = 1400 };
	memcpy(cn.guest_mac, mac, 6);
	struct errbuf err;
	cr_assert_eq(vnet_check_tap(&cn, &err), 0, "%s", err.msg);
	cr_assert_eq(vnet_create(&cn, &dev, &err), 0, "%s", err.msg);
	/* The TAP took the interface's MTU. */
	int us = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = { 0 };
	strcpy(ifr.ifr_name, "vtap0");
	cr_assert_eq(ioctl(us, SIOCGIFMTU, &ifr), 0);
	cr_expect_eq(ifr.ifr_mtu, 1400);
	close(us);
	cr_assert_eq(tbed_init(&bed, dev, QSZ,
			       BASE_FEATURES | F(VIRTIO_NET_F_MRG_RXBUF) | F(VIRTIO_NET_F_CSUM) |
				       F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_TSO4)),
		     0x0f);
	cr_assert_eq(set_up("vtap0"), 0);
	int ps = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	cr_assert_geq(ps, 0);
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
				   .sll_ifindex = (int)if_nametoindex("vtap0") };
	cr_assert_eq(bind(ps, (struct sockaddr *)&sll, sizeof(sll)), 0);
	/* Guest -> host: an Ethernet frame with a private ethertype. */
	struct virtio_net_hdr_v1 h = { 0 };
	struct tq *q = &bed.g.q[1];
	uint64_t g = tguest_alloc(&bed.g, 12 + 64);
	uint8_t *p = tguest_ptr(&bed.g, g, 12 + 64);
	memcpy(p, &h, 12);
	memset(p + 12, 0xff, 6);      /* broadcast */
	memcpy(p + 18, mac, 6);
	p[24] = 0x88, p[25] = 0xb5;   /* local experimental ethertype */
	memcpy(p + 26, "ember-tx", 8);
	tq_desc(q, 0, g, 12 + 64, 0, 0);
	tq_post(q, 0);
	tbed_kick(&bed, 1);
	uint8_t buf[2048];
	ssize_t n = -1;
	for (int i = 0; i < 100 && n < 0; i++) {
		n = recv(ps, buf, sizeof(buf), MSG_DONTWAIT);
		if (n >= 0 && (n < 22 || buf[12] != 0x88)) /* skip IPv6 noise */
			n = -1;
		if (n < 0)
			usleep(1000);
	}
	cr_assert_eq(n, 64);
	cr_expect_eq(memcmp(buf + 14, "ember-tx", 8), 0);
	/* Host -> guest. */
	post_rx(20, 4096);
	uint8_t f[64] = { 0 };
	memcpy(f, mac, 6);
	f[12] = 0x88, f[13] = 0xb5;
	memcpy(f + 14, "ember-rx", 8);
	cr_assert_eq(send(ps, f, sizeof(f), 0), 64);
	uint32_t id, len;
	bool got = false;
	for (int i = 0; i < 100 && !got; i++) {
		thub_pump(&bed.hub);
		while (!got && tq_used(&bed.g.q[0], &id, &len)) {
			uint8_t *r = tguest_ptr(&bed.g, rxg[id], 4096);
			got = len == 12 + 64 && r[12 + 12] == 0x88 && !memcmp(r + 26, "ember-rx", 8);
		}
		if (!got)
			usleep(1000);
	}
	cr_expect(got);
	close(ps);
}

/* --- snapshot --- */

static uint8_t sblob[1024];
static int sblob_len;

/* A new VMM process: a new packet fd (the VM reopens the TAP by name) and
 * the device made again, on a transport no driver has touched. */
static void net_reopen(const uint8_t *m)
{
	if (dev)
		tbed_drop(&bed);
	if (host >= 0)
		close(host);
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	host = sv[1];
	struct errbuf err;
	cr_assert_eq(vnet_create_fd(sv[0], m, 0, &dev, &err), 0);
	tbed_attach(&bed, dev);
}

static int restore_sblob(void)
{
	return virtio_mmio_restore(bed.t, sblob, (size_t)sblob_len);
}

Test(vnet, snapshot_round_trip)
{
	start(BASE_FEATURES | F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_MRG_RXBUF));
	struct tq *rxq = &bed.g.q[0], *txq = &bed.g.q[1];
	post_rx(4, 2048);
	host_send(100);
	struct virtio_net_hdr_v1 h = { 0 };
	guest_tx(&h, 60);
	uint8_t buf[256];
	cr_assert_eq(host_recv(buf, sizeof(buf)), 72);
	tmmio_wr(bed.t, VIRTIO_MMIO_INTERRUPT_ACK, 3);
	uint32_t id, len;
	cr_assert(tq_used(rxq, &id, &len));
	sblob_len = tbed_save(&bed, sblob, sizeof(sblob));

	net_reopen(mac);
	cr_assert_eq(restore_sblob(), 0);
	thub_pump(&bed.hub);
	cr_expect_eq(tq_used_idx(rxq), 1);
	cr_expect_eq(tq_used_idx(txq), 1);
	cr_expect_not(bed.irq.level);
	uint8_t m[6];
	for (int i = 0; i < 6; i++)
		virtio_mmio_read(bed.t, 0x100 + (uint64_t)i, &m[i], 1);
	cr_expect_eq(memcmp(m, mac, 6), 0);
	/* TX goes on, to the new TAP. */
	guest_tx(&h, 70);
	cr_expect_eq(host_recv(buf, sizeof(buf)), 82);
	cr_expect_eq(tq_used_idx(txq), 2);
	/* RX goes on into the next buffer the guest posted before the save. */
	host_send(50);
	cr_assert(tq_used(rxq, &id, &len));
	cr_expect_eq(id, 1);
	cr_expect_eq(len, 62);
	struct virtio_net_hdr_v1 rh;
	memcpy(&rh, tguest_ptr(&bed.g, rxg[1], 12), 12);
	cr_expect_eq(rh.num_buffers, 1);
	cr_expect_not(tq_used(rxq, &id, &len));
	cr_expect(bed.irq.level);
}

Test(vnet, snapshot_rx_waiting_for_buffers_resumes)
{
	start(BASE_FEATURES);
	host_send(100); /* no RX buffers: the device waits */
	cr_assert_geq(vnet_stats(dev)->rx_blocked, 1);
	sblob_len = tbed_save(&bed, sblob, sizeof(sblob));
	net_reopen(mac);
	cr_assert_eq(restore_sblob(), 0);
	thub_pump(&bed.hub);
	/* The frame the old TAP held is gone; new ones arrive once the
	 * guest posts buffers. */
	post_rx(2, 2048);
	host_send(60);
	uint32_t id, len;
	cr_assert(tq_used(&bed.g.q[0], &id, &len));
	cr_expect_eq(id, 0);
	cr_expect_eq(len, 72);
}

Test(vnet, snapshot_blob_checked)
{
	start(BASE_FEATURES | F(VIRTIO_NET_F_MAC));
	sblob_len = tbed_save(&bed, sblob, sizeof(sblob));
	net_reopen(mac);
	tblob_truncations(&bed, sblob, sblob_len);
	tblob_device_flips_refused(&bed, sblob, sblob_len);
	struct virtio_mmio_state hd;
	memcpy(&hd, sblob, sizeof(hd));
	cr_assert_eq(hd.dev_len, sizeof(struct vnet_state));
	struct vnet_state st;
	memcpy(&st, sblob + sizeof(hd) + hd.config_len, sizeof(st));
	cr_expect_eq(st.version, VNET_STATE_VERSION);
	cr_expect_eq(st.has_mac, 1);
	cr_expect_eq(memcmp(st.mac, mac, 6), 0);
	cr_expect_eq(dev->ops->restore(dev, &st, sizeof(st) - 1), -EINVAL);
	/* Another MAC, or none, is another interface. */
	const uint8_t other[6] = { 0x06, 0, 0, 0, 0, 9 };
	net_reopen(other);
	cr_expect_eq(dev->ops->restore(dev, &st, sizeof(st)), -EINVAL);
	cr_expect_eq(restore_sblob(), -EINVAL);
	net_reopen(NULL);
	cr_expect_eq(dev->ops->restore(dev, &st, sizeof(st)), -EINVAL);
	cr_expect_eq(restore_sblob(), -EINVAL);
	net_reopen(mac);
	cr_expect_eq(restore_sblob(), 0);
}
