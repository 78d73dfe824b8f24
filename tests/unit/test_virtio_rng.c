/* virtio/rng.c: buffers filled from getrandom, readable ones ignored. */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>
#include <string.h>

#include "config/config.h"
#include "tests/unit/test_virtio_util.h"
#include "virtio/rng.h"

static struct tbed bed;
static struct virtio_dev *dev;

static void setup(void)
{
	struct config_entropy e = { .present = true };
	struct errbuf err;
	cr_assert_eq(vrng_create(&e, &dev, &err), 0);
	cr_assert_eq(tbed_init(&bed, dev, 16, 0), 0x0f);
}

static void teardown(void)
{
	tbed_fini(&bed);
}

TestSuite(vrng, .init = setup, .fini = teardown);

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

Test(vrng, fills_writable_buffers)
{
	struct tq *q = &bed.g.q[0];
	uint64_t a = tguest_alloc(&bed.g, 64), b = tguest_alloc(&bed.g, 64);
	tq_desc(q, 0, a, 64, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	tq_desc(q, 1, b, 64, VRING_DESC_F_WRITE, 0);
	tq_post(q, 0);
	tbed_kick(&bed, 0);
	uint32_t id, len;
	cr_assert(tq_used(q, &id, &len));
	cr_expect_eq(len, 128);
	cr_expect_not(all_zero(tguest_ptr(&bed.g, a, 64), 64));
	cr_expect_not(all_zero(tguest_ptr(&bed.g, b, 64), 64));
	cr_expect(bed.irq.level);
	cr_expect_eq(vrng_stats(dev)->bytes, 128);
	cr_expect_eq(vrng_stats(dev)->requests, 1);
}

Test(vrng, readable_buffer_is_not_written)
{
	struct tq *q = &bed.g.q[0];
	uint64_t a = tguest_alloc(&bed.g, 64);
	tq_desc(q, 0, a, 64, 0, 0);
	tq_post(q, 0);
	tbed_kick(&bed, 0);
	uint32_t id, len;
	cr_assert(tq_used(q, &id, &len));
	cr_expect_eq(len, 0);
	cr_expect(all_zero(tguest_ptr(&bed.g, a, 64), 64));
}

Test(vrng, large_request_is_capped)
{
	struct tq *q = &bed.g.q[0];
	uint64_t a = tguest_alloc(&bed.g, 200 * 1024);
	tq_desc(q, 0, a, 200 * 1024, VRING_DESC_F_WRITE, 0);
	tq_post(q, 0);
	tbed_kick(&bed, 0);
	uint32_t id, len;
	cr_assert(tq_used(q, &id, &len));
	cr_expect_eq(len, 64 * 1024);
}

/* --- snapshot --- */

static uint8_t sblob[512];
static int sblob_len;

static void rng_reopen(void)
{
	tbed_drop(&bed);
	struct config_entropy e = { .present = true };
	struct errbuf err;
	cr_assert_eq(vrng_create(&e, &dev, &err), 0);
	tbed_attach(&bed, dev);
}

Test(vrng, snapshot_round_trip)
{
	struct tq *q = &bed.g.q[0];
	uint64_t a = tguest_alloc(&bed.g, 32), b = tguest_alloc(&bed.g, 32);
	tq_desc(q, 0, a, 32, VRING_DESC_F_WRITE, 0);
	tq_post(q, 0);
	tbed_kick(&bed, 0);
	/* Posted and notified, never seen by the VMM thread. */
	tq_desc(q, 1, b, 32, VRING_DESC_F_WRITE, 0);
	tq_post(q, 1);
	tmmio_wr(bed.t, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	tq_set_used_event(q, 1); /* EVENT_IDX: the driver saw the first */
	tmmio_wr(bed.t, VIRTIO_MMIO_INTERRUPT_ACK, 3);
	sblob_len = tbed_save(&bed, sblob, sizeof(sblob));
	rng_reopen();
	cr_assert_eq(virtio_mmio_restore(bed.t, sblob, (size_t)sblob_len), 0);
	thub_pump(&bed.hub);
	uint32_t id, len;
	cr_assert(tq_used(q, &id, &len));
	cr_assert(tq_used(q, &id, &len));
	cr_expect_eq(id, 1);
	cr_expect_eq(len, 32);
	cr_expect_not(all_zero(tguest_ptr(&bed.g, b, 32), 32));
	cr_expect_not(tq_used(q, &id, &len), "completed once");
	cr_expect(bed.irq.level);
	cr_expect_eq(vrng_stats(dev)->requests, 1);
}

Test(vrng, snapshot_blob_checked)
{
	sblob_len = tbed_save(&bed, sblob, sizeof(sblob));
	rng_reopen();
	tblob_truncations(&bed, sblob, sblob_len);
	tblob_device_flips_refused(&bed, sblob, sblob_len);
	struct vrng_state st = { VRNG_STATE_VERSION };
	cr_expect_eq(dev->ops->restore(dev, &st, sizeof(st) + 1), -EINVAL);
	cr_expect_eq(virtio_mmio_restore(bed.t, sblob, (size_t)sblob_len), 0);
}

/* A guest on another vCPU reposting each buffer as soon as it is used. */
static void repost(void *opaque, uint64_t gpa, uint64_t len)
{
	(void)opaque;
	(void)gpa;
	(void)len;
	tq_post(&bed.g.q[0], 0);
}

/* Issue 11: a guest that keeps posting must not keep the VMM thread (the
 * API, every other device) in one device's loop for as long as it likes:
 * one pass takes a budget of buffers, and the queue is looked at again on
 * the next pass. */
Test(vrng, a_guest_that_keeps_posting_does_not_hold_the_vmm_thread, .timeout = 10)
{
	struct tq *q = &bed.g.q[0];
	uint64_t a = tguest_alloc(&bed.g, 16);
	tq_desc(q, 0, a, 16, VRING_DESC_F_WRITE, 0);
	dev->vqs[0].written = (struct virtq_written_hook){ repost, NULL };
	tq_post(q, 0);
	tmmio_wr(bed.t, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	cr_assert_eq(vhub_run(&bed.hub, 0), 1);
	cr_expect_eq(vrng_stats(dev)->requests, VIRTQ_BUDGET);
	cr_assert_eq(vhub_run(&bed.hub, 0), 1, "the queue was not looked at again");
	cr_expect_eq(vrng_stats(dev)->requests, 2 * VIRTQ_BUDGET);
	dev->vqs[0].written.fn = NULL;
}
