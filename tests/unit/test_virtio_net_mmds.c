/* virtio/net.c with MMDS on the interface: frames to the MMDS address are
 * answered on the RX queue and never reach the backend (a socketpair
 * standing in for the TAP); other frames still do; answers wait for RX
 * buffers. */
#include <criterion/criterion.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mmds/mmds.h"
#include "mmds/stack.h"
#include "tests/unit/test_virtio_util.h"
#include "virtio/net.h"

#define QSZ 64

static struct tbed bed;
static struct virtio_dev *dev;
static struct mmds mm;
static int host = -1;
static uint16_t tx_slot;
static uint64_t rxg[QSZ];

static void start(void)
{
	int sv[2];
	struct errbuf err;
	cr_assert_eq(mmds_init(&mm, 1000, "t", &err), 0);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	host = sv[1];
	cr_assert_eq(vnet_create_fd(sv[0], NULL, 0, &dev, &err), 0);
	cr_assert_eq(vnet_enable_mmds(dev, &mm, &err), 0);
	cr_assert_eq(tbed_init(&bed, dev, QSZ, VIRTIO_FEAT_VERSION_1), 0x0f);
	tx_slot = 0;
}

static void teardown(void)
{
	if (dev)
		tbed_fini(&bed);
	dev = NULL;
	if (host >= 0)
		close(host);
	host = -1;
	mmds_destroy(&mm);
}

TestSuite(vnet_mmds, .init = start, .fini = teardown);

static void guest_tx(const uint8_t *frame, size_t len)
{
	struct tq *q = &bed.g.q[1];
	struct virtio_net_hdr_v1 h = { 0 };
	uint64_t hg = tguest_alloc(&bed.g, sizeof(h)), fg = tguest_alloc(&bed.g, len);
	memcpy(tguest_ptr(&bed.g, hg, sizeof(h)), &h, sizeof(h));
	memcpy(tguest_ptr(&bed.g, fg, len), frame, len);
	uint16_t d = (uint16_t)(tx_slot++ * 2 % QSZ);
	tq_desc(q, d, hg, sizeof(h), VRING_DESC_F_NEXT, (uint16_t)(d + 1));
	tq_desc(q, (uint16_t)(d + 1), fg, (uint32_t)len, 0, 0);
	tq_post(q, d);
	tbed_kick(&bed, 1);
	uint32_t id, l;
	cr_assert(tq_used(q, &id, &l));
}

static void post_rx(uint16_t n)
{
	struct tq *q = &bed.g.q[0];
	for (uint16_t i = 0; i < n; i++) {
		rxg[i] = tguest_alloc(&bed.g, 2048);
		tq_desc(q, i, rxg[i], 2048, VRING_DESC_F_WRITE, 0);
		tq_post(q, i);
	}
	tbed_kick(&bed, 0);
}

static size_t arp_for(uint8_t *f, uint32_t ip)
{
	static const uint8_t a[] = { 0, 1, 8, 0, 6, 4, 0, 1, 6, 0, 0xac, 0x10, 0, 2, 172, 16, 0, 2,
				     0, 0, 0, 0, 0, 0 };
	memset(f, 0xff, 6);
	memcpy(f + 6, a + 8, 6);
	f[12] = 8;
	f[13] = 6;
	memcpy(f + 14, a, sizeof(a));
	f[38] = (uint8_t)(ip >> 24);
	f[39] = (uint8_t)(ip >> 16);
	f[40] = (uint8_t)(ip >> 8);
	f[41] = (uint8_t)ip;
	return 42;
}

Test(vnet_mmds, arp_answered_not_forwarded_and_held_for_rx_buffers)
{
	uint8_t f[64], buf[256];
	/* No RX buffers yet: the reply waits. */
	guest_tx(f, arp_for(f, MMDS_DEFAULT_IPV4));
	cr_expect_lt(recv(host, buf, sizeof(buf), MSG_DONTWAIT), 0, "MMDS frames never reach the TAP");
	uint32_t id, len;
	cr_expect_not(tq_used(&bed.g.q[0], &id, &len));
	post_rx(4);
	cr_assert(tq_used(&bed.g.q[0], &id, &len));
	cr_expect_eq(len, 12 + 42);
	const uint8_t *r = tguest_ptr(&bed.g, rxg[id], 64);
	cr_expect_eq(r[12 + 12], 8);
	cr_expect_eq(r[12 + 13], 6);
	cr_expect_eq(r[12 + 14 + 7], 2, "an ARP reply");
	cr_expect_eq(memcmp(r + 12 + 14 + 8, mm.mac, 6), 0);
	/* An ARP for another address goes to the TAP as before. */
	guest_tx(f, arp_for(f, 0xac100001));
	cr_expect_eq(recv(host, buf, sizeof(buf), MSG_DONTWAIT), 12 + 42);
	const struct mmds_stack_stats *st = vnet_mmds_stats(dev);
	cr_assert(st);
	cr_expect_eq(st->frames_in, 1);
	cr_expect_eq(st->frames_out, 1);
	/* With RX buffers waiting, the answer goes out at once. */
	guest_tx(f, arp_for(f, MMDS_DEFAULT_IPV4));
	cr_assert(tq_used(&bed.g.q[0], &id, &len));
	cr_expect_eq(len, 12 + 42);
}
