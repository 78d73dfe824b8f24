/* virtio/virtqueue.c: ring validation, chain walking against hostile
 * descriptors, used ring and notification suppression. */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/virtio_ring.h>
#include <string.h>

#include "tests/unit/test_virtio_util.h"
#include "virtio/virtqueue.h"

static struct tguest g;
static struct tq *q;
static struct virtq vq;
static struct virtq_chain ch;

static void setup(void)
{
	tguest_init(&g);
	tq_init(&g, 0, 16);
	q = &g.q[0];
	memset(&vq, 0, sizeof(vq));
	struct virtq_config c = tq_config(q);
	cr_assert_eq(virtq_start(&vq, &g.mem, &c, 256, false, true), 0);
}

static void teardown(void)
{
	tguest_free(&g);
}

TestSuite(virtq, .init = setup, .fini = teardown);

static int start_with(struct virtq_config c)
{
	struct virtq v;
	memset(&v, 0, sizeof(v));
	return virtq_start(&v, &g.mem, &c, 256, false, false);
}

Test(virtq, config_size_must_be_power_of_two_and_within_max)
{
	struct virtq_config c = tq_config(q);
	c.size = 0;
	cr_expect_eq(start_with(c), -EINVAL);
	c.size = 24;
	cr_expect_eq(start_with(c), -EINVAL);
	c.size = 512;
	cr_expect_eq(start_with(c), -EINVAL);
	c.size = 256;
	cr_expect_eq(start_with(c), 0);
	c.size = 1;
	cr_expect_eq(start_with(c), 0);
}

Test(virtq, config_rings_must_be_aligned)
{
	struct virtq_config c = tq_config(q);
	c.desc += 8;
	cr_expect_eq(start_with(c), -EINVAL);
	c = tq_config(q);
	c.avail += 1;
	cr_expect_eq(start_with(c), -EINVAL);
	c = tq_config(q);
	c.used += 2;
	cr_expect_eq(start_with(c), -EINVAL);
}

Test(virtq, config_rings_must_be_in_memory)
{
	struct virtq_config c = tq_config(q);
	c.desc = TDRV_MEM - 16 * 8; /* half the table past the end */
	cr_expect_eq(start_with(c), -EINVAL);
	c = tq_config(q);
	c.used = 0xD0000000ULL; /* MMIO hole */
	cr_expect_eq(start_with(c), -EINVAL);
	c = tq_config(q);
	c.avail = 0xfffffffffffffff0ULL; /* wraps */
	cr_expect_eq(start_with(c), -EINVAL);
	c = tq_config(q);
	c.used = TDRV_MEM - (6 + 8 * 16) + 4; /* avail_event past the end */
	c.used &= ~3ULL;
	cr_expect_eq(start_with(c), -EINVAL);
}

Test(virtq, empty_queue_pops_nothing)
{
	cr_expect_eq(virtq_pop(&vq, &ch), 0);
	cr_expect_not(virtq_has_avail(&vq));
}

Test(virtq, pops_readable_then_writable_chain)
{
	uint64_t a = tguest_alloc(&g, 100), b = tguest_alloc(&g, 50), c = tguest_alloc(&g, 7);
	tq_desc(q, 3, a, 100, VRING_DESC_F_NEXT, 9);
	tq_desc(q, 9, b, 50, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
	tq_desc(q, 2, c, 7, VRING_DESC_F_WRITE, 0);
	tq_post(q, 3);
	cr_assert_eq(virtq_pop(&vq, &ch), 1);
	cr_expect_eq(ch.head, 3);
	cr_expect_eq(ch.nr_out, 1);
	cr_expect_eq(ch.nr_in, 2);
	cr_expect_eq(ch.out_len, 100);
	cr_expect_eq(ch.in_len, 57);
	cr_expect_eq(ch.iov[0].iov_base, gm_ptr(&g.mem, a, 1));
	cr_expect_eq(ch.iov[1].iov_base, gm_ptr(&g.mem, b, 1));
	cr_expect_eq(ch.iov[2].iov_len, 7);
	cr_expect_eq(virtq_pop(&vq, &ch), 0);
	virtq_push(&vq, 3, 57);
	uint32_t id, len;
	cr_assert(tq_used(q, &id, &len));
	cr_expect_eq(id, 3);
	cr_expect_eq(len, 57);
}

/* The written hook hears every writable range before the used index
 * publishes the chain, and nothing for dropped chains. */
struct written_log {
	unsigned n;
	uint64_t gpa[4], len[4];
	uint16_t used_idx_then[4];
};

static void log_written(void *opaque, uint64_t gpa, uint64_t len)
{
	struct written_log *l = opaque;
	if (l->n < 4) {
		l->gpa[l->n] = gpa;
		l->len[l->n] = len;
		l->used_idx_then[l->n] = tq_used_idx(q);
	}
	l->n++;
}

Test(virtq, push_chain_reports_writable_ranges_before_publishing)
{
	struct written_log l = { 0 };
	vq.written = (struct virtq_written_hook){ log_written, &l };
	virtq_stop(&vq); /* the hook outlives a reset */
	struct virtq_config c = tq_config(q);
	cr_assert_eq(virtq_start(&vq, &g.mem, &c, 256, false, true), 0);
	uint64_t a = tguest_alloc(&g, 100), b = tguest_alloc(&g, 50), d = tguest_alloc(&g, 7);
	tq_desc(q, 3, a, 100, VRING_DESC_F_NEXT, 9);
	tq_desc(q, 9, b, 50, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
	tq_desc(q, 2, d, 7, VRING_DESC_F_WRITE, 0);
	tq_post(q, 3);
	tq_desc(q, 5, a, 8, VRING_DESC_F_WRITE, 0);
	tq_desc(q, 4, b, 8, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 4); /* loops: dropped */
	tq_post(q, 4);
	tq_post(q, 5);
	cr_assert_eq(virtq_pop(&vq, &ch), 1);
	cr_expect_eq(ch.gpa[1], b);
	cr_expect_eq(ch.gpa[2], d);
	virtq_push_chain(&vq, &ch, 1); /* written says nothing of where */
	cr_assert_eq(l.n, 2);
	cr_expect_eq(l.gpa[0], b);
	cr_expect_eq(l.len[0], 50);
	cr_expect_eq(l.gpa[1], d);
	cr_expect_eq(l.len[1], 7);
	cr_expect_eq(l.used_idx_then[1], 0, "reported before used idx moved");
	cr_expect_eq(tq_used_idx(q), 1);
	cr_assert_eq(virtq_pop(&vq, &ch), 1); /* head 4 dropped on the way */
	cr_expect_eq(ch.head, 5);
	cr_expect_eq(l.n, 2, "a dropped chain reports nothing");
	virtq_push(&vq, ch.head, 0);
	cr_expect_eq(l.n, 2, "plain push reports nothing");
	virtq_report_written(&vq, a, 0);
	cr_expect_eq(l.n, 2, "empty ranges are not reported");
}

Test(virtq, zero_length_descriptor_is_skipped)
{
	uint64_t a = tguest_alloc(&g, 8);
	tq_desc(q, 0, 0, 0, VRING_DESC_F_NEXT, 1);
	tq_desc(q, 1, a, 8, VRING_DESC_F_WRITE, 0);
	tq_post(q, 0);
	cr_assert_eq(virtq_pop(&vq, &ch), 1);
	cr_expect_eq(ch.nr_out + ch.nr_in, 1);
	cr_expect_eq(ch.in_len, 8);
}

/* A dropped chain comes back used with length 0 and the next one pops. */
static void expect_dropped(uint16_t head)
{
	uint64_t ok = tguest_alloc(&g, 4);
	tq_desc(q, 15, ok, 4, VRING_DESC_F_WRITE, 0);
	tq_post(q, head);
	tq_post(q, 15);
	cr_assert_eq(virtq_pop(&vq, &ch), 1);
	cr_expect_eq(ch.head, 15);
	cr_expect_eq(vq.stats.malformed, 1);
	uint32_t id, len;
	cr_assert(tq_used(q, &id, &len));
	cr_expect_eq(id, head);
	cr_expect_eq(len, 0);
}

Test(virtq, descriptor_loop_is_dropped)
{
	uint64_t a = tguest_alloc(&g, 4);
	tq_desc(q, 0, a, 4, VRING_DESC_F_NEXT, 1);
	tq_desc(q, 1, a, 4, VRING_DESC_F_NEXT, 0);
	expect_dropped(0);
}

Test(virtq, self_loop_is_dropped)
{
	uint64_t a = tguest_alloc(&g, 4);
	tq_desc(q, 5, a, 4, VRING_DESC_F_NEXT, 5);
	expect_dropped(5);
}

Test(virtq, chain_longer_than_queue_hits_hop_limit)
{
	/* 16 distinct descriptors chained, plus a 17th hop back to the start:
	 * a queue of 16 cannot hold a longer chain (2.7.5.3.1). */
	uint64_t a = tguest_alloc(&g, 4);
	for (uint16_t i = 0; i < 16; i++)
		tq_desc(q, i, a, 4, VRING_DESC_F_NEXT, (uint16_t)((i + 1) % 16));
	tq_post(q, 0);
	cr_expect_eq(virtq_pop(&vq, &ch), 0);
	cr_expect_eq(vq.stats.malformed, 1);
	uint32_t id, len;
	cr_assert(tq_used(q, &id, &len));
	cr_expect_eq(len, 0);
}

Test(virtq, full_length_chain_is_fine)
{
	uint64_t a = tguest_alloc(&g, 4);
	for (uint16_t i = 0; i < 15; i++)
		tq_desc(q, i, a, 4, VRING_DESC_F_NEXT, (uint16_t)(i + 1));
	tq_desc(q, 15, a, 4, 0, 0);
	tq_post(q, 0);
	cr_assert_eq(virtq_pop(&vq, &ch), 1);
	cr_expect_eq(ch.nr_out, 16);
	cr_expect_eq(ch.out_len, 64);
}

Test(virtq, next_index_out_of_range_is_dropped)
{
	uint64_t a = tguest_alloc(&g, 4);
	tq_desc(q, 0, a, 4, VRING_DESC_F_NEXT, 16);
	expect_dropped(0);
}

Test(virtq, head_out_of_range_is_skipped)
{
	uint64_t ok = tguest_alloc(&g, 4);
	tq_desc(q, 1, ok, 4, 0, 0);
	tq_post(q, 200);
	tq_post(q, 1);
	cr_assert_eq(virtq_pop(&vq, &ch), 1);
	cr_expect_eq(ch.head, 1);
	cr_expect_eq(vq.stats.malformed, 1);
	cr_expect_eq(tq_used_idx(q), 0); /* nothing to give back for head 200 */
}

Test(virtq, buffer_past_memory_is_dropped)
{
	tq_desc(q, 0, TDRV_MEM - 8, 16, VRING_DESC_F_WRITE, 0);
	expect_dropped(0);
}

Test(virtq, buffer_address_wrap_is_dropped)
{
	tq_desc(q, 0, 0xfffffffffffff000ULL, 0x2000, 0, 0);
	expect_dropped(0);
}

Test(virtq, readable_after_writable_is_dropped)
{
	uint64_t a = tguest_alloc(&g, 4);
	tq_desc(q, 0, a, 4, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	tq_desc(q, 1, a, 4, 0, 0);
	expect_dropped(0);
}

Test(virtq, length_sum_overflow_is_dropped)
{
	/* Three descriptors of 2 GiB - 1 each over the same (huge) region
	 * cannot exist in 8 MiB, so point them at RAM and let the sum be the
	 * only problem: use a queue over a bigger guest. */
	struct guest_mem big;
	cr_assert_eq(gm_alloc(&big, 3ULL << 30), 0); /* MAP_NORESERVE: cheap */
	struct tq bq = { .mem = &big, .size = 4, .desc = 0x1000, .avail = 0x2000, .used = 0x3000 };
	struct virtq v;
	memset(&v, 0, sizeof(v));
	struct virtq_config c = tq_config(&bq);
	cr_assert_eq(virtq_start(&v, &big, &c, 256, false, false), 0);
	tq_desc(&bq, 0, 0x10000, 0x80000000u, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	tq_desc(&bq, 1, 0x10000, 0x80000000u, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	tq_desc(&bq, 2, 0x10000, 0x80000000u, VRING_DESC_F_WRITE, 0);
	tq_post(&bq, 0);
	cr_expect_eq(virtq_pop(&v, &ch), 0);
	cr_expect_eq(v.stats.malformed, 1);
	gm_free(&big);
}

Test(virtq, avail_idx_jump_breaks_queue)
{
	tq_set_avail_idx(q, 17); /* 17 new entries in a ring of 16 */
	cr_expect_eq(virtq_pop(&vq, &ch), -EIO);
	cr_expect(vq.broken);
	cr_expect_eq(virtq_pop(&vq, &ch), -EIO);
	cr_expect_not(virtq_enable_notify(&vq));
	/* A reset (stop + start) brings it back. */
	struct virtq_config c = tq_config(q);
	tq_set_avail_idx(q, 0);
	cr_assert_eq(virtq_start(&vq, &g.mem, &c, 256, false, true), 0);
	cr_expect_eq(virtq_pop(&vq, &ch), 0);
}

Test(virtq, avail_idx_wraps_around)
{
	uint64_t a = tguest_alloc(&g, 4);
	tq_desc(q, 0, a, 4, 0, 0);
	vq.last_avail = 0xfffe;
	q->avail_idx = 0xfffe;
	tq_post(q, 0);
	tq_post(q, 0);
	tq_post(q, 0);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(virtq_pop(&vq, &ch), 1);
		virtq_push(&vq, ch.head, 0);
	}
	cr_expect_eq(virtq_pop(&vq, &ch), 0);
	cr_expect_eq(vq.last_avail, 1);
}

Test(virtq, indirect_table)
{
	uint64_t a = tguest_alloc(&g, 32), b = tguest_alloc(&g, 64);
	uint64_t tbl = tguest_alloc(&g, 3 * 16);
	struct vring_desc t[3] = {
		{ .addr = a, .len = 16, .flags = VRING_DESC_F_NEXT, .next = 2 },
		{ .addr = b, .len = 64, .flags = VRING_DESC_F_WRITE },
		{ .addr = a + 16, .len = 16, .flags = VRING_DESC_F_NEXT, .next = 1 },
	};
	memcpy(tguest_ptr(&g, tbl, sizeof(t)), t, sizeof(t));
	tq_desc(q, 4, tbl, sizeof(t), VRING_DESC_F_INDIRECT, 0);
	tq_post(q, 4);
	cr_assert_eq(virtq_pop(&vq, &ch), 1);
	cr_expect_eq(ch.head, 4);
	cr_expect_eq(ch.nr_out, 2);
	cr_expect_eq(ch.nr_in, 1);
	cr_expect_eq(ch.out_len, 32);
	cr_expect_eq(ch.in_len, 64);
}

Test(virtq, indirect_without_feature_is_dropped)
{
	struct virtq_config c = tq_config(q);
	cr_assert_eq(virtq_start(&vq, &g.mem, &c, 256, false, false), 0);
	uint64_t tbl = tguest_alloc(&g, 16);
	tq_desc(q, 0, tbl, 16, VRING_DESC_F_INDIRECT, 0);
	expect_dropped(0);
}

Test(virtq, indirect_inside_indirect_is_dropped)
{
	uint64_t inner = tguest_alloc(&g, 16), tbl = tguest_alloc(&g, 16);
	struct vring_desc t = { .addr = inner, .len = 16, .flags = VRING_DESC_F_INDIRECT };
	memcpy(tguest_ptr(&g, tbl, 16), &t, 16);
	tq_desc(q, 0, tbl, 16, VRING_DESC_F_INDIRECT, 0);
	expect_dropped(0);
}

Test(virtq, indirect_with_next_is_dropped)
{
	uint64_t tbl = tguest_alloc(&g, 16), a = tguest_alloc(&g, 4);
	struct vring_desc t = { .addr = a, .len = 4 };
	memcpy(tguest_ptr(&g, tbl, 16), &t, 16);
	tq_desc(q, 0, tbl, 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
	tq_desc(q, 1, a, 4, 0, 0);
	expect_dropped(0);
}

Test(virtq, indirect_length_not_multiple_of_16_is_dropped)
{
	uint64_t tbl = tguest_alloc(&g, 32);
	tq_desc(q, 0, tbl, 24, VRING_DESC_F_INDIRECT, 0);
	expect_dropped(0);
}

Test(virtq, indirect_zero_length_is_dropped)
{
	uint64_t tbl = tguest_alloc(&g, 16);
	tq_desc(q, 0, tbl, 0, VRING_DESC_F_INDIRECT, 0);
	expect_dropped(0);
}

Test(virtq, indirect_table_past_memory_is_dropped)
{
	tq_desc(q, 0, TDRV_MEM - 32, 64, VRING_DESC_F_INDIRECT, 0);
	expect_dropped(0);
}

Test(virtq, indirect_table_larger_than_queue_is_dropped)
{
	uint64_t tbl = tguest_alloc(&g, 17 * 16);
	tq_desc(q, 0, tbl, 17 * 16, VRING_DESC_F_INDIRECT, 0);
	expect_dropped(0);
}

Test(virtq, indirect_loop_is_dropped)
{
	uint64_t a = tguest_alloc(&g, 4), tbl = tguest_alloc(&g, 32);
	struct vring_desc t[2] = {
		{ .addr = a, .len = 4, .flags = VRING_DESC_F_NEXT, .next = 1 },
		{ .addr = a, .len = 4, .flags = VRING_DESC_F_NEXT, .next = 0 },
	};
	memcpy(tguest_ptr(&g, tbl, 32), t, 32);
	tq_desc(q, 0, tbl, 32, VRING_DESC_F_INDIRECT, 0);
	expect_dropped(0);
}

Test(virtq, indirect_next_out_of_table_is_dropped)
{
	uint64_t a = tguest_alloc(&g, 4), tbl = tguest_alloc(&g, 32);
	struct vring_desc t[2] = {
		{ .addr = a, .len = 4, .flags = VRING_DESC_F_NEXT, .next = 2 },
		{ .addr = a, .len = 4 },
	};
	memcpy(tguest_ptr(&g, tbl, 32), t, 32);
	tq_desc(q, 0, tbl, 32, VRING_DESC_F_INDIRECT, 0);
	expect_dropped(0);
}

Test(virtq, indirect_not_at_head_is_dropped)
{
	uint64_t a = tguest_alloc(&g, 4), tbl = tguest_alloc(&g, 16);
	struct vring_desc t = { .addr = a, .len = 4 };
	memcpy(tguest_ptr(&g, tbl, 16), &t, 16);
	tq_desc(q, 0, a, 4, VRING_DESC_F_NEXT, 1);
	tq_desc(q, 1, tbl, 16, VRING_DESC_F_INDIRECT, 0);
	expect_dropped(0);
}

Test(virtq, unpop_returns_the_chain)
{
	uint64_t a = tguest_alloc(&g, 4);
	tq_desc(q, 0, a, 4, 0, 0);
	tq_post(q, 0);
	cr_assert_eq(virtq_pop(&vq, &ch), 1);
	virtq_unpop(&vq);
	cr_assert_eq(virtq_pop(&vq, &ch), 1);
	cr_expect_eq(ch.head, 0);
	cr_expect_eq(virtq_pop(&vq, &ch), 0);
}

/* Issue 11, finding 5: good A, malformed M, good B; pop A, pop B (M is
 * completed on the way), then two unpops. Rewinding twice would land on M,
 * complete it a second time and lose A. Only B may be given back. */
Test(virtq, unpop_never_rewinds_across_a_completed_entry)
{
	uint64_t a = tguest_alloc(&g, 4);
	tq_desc(q, 0, a, 4, 0, 0);
	tq_desc(q, 1, TDRV_MEM - 8, 16, 0, 0); /* past guest memory */
	tq_desc(q, 2, a, 4, 0, 0);
	tq_post(q, 0);
	tq_post(q, 1);
	tq_post(q, 2);
	cr_assert_eq(virtq_pop(&vq, &ch), 1);
	cr_assert_eq(ch.head, 0);
	cr_assert_eq(virtq_pop(&vq, &ch), 1);
	cr_assert_eq(ch.head, 2);
	cr_expect_eq(virtq_unpop(&vq), 0);
	cr_expect_eq(virtq_unpop(&vq), -EINVAL, "A is still the caller's");
	cr_assert_eq(virtq_pop(&vq, &ch), 1);
	cr_expect_eq(ch.head, 2);
	cr_expect_eq(virtq_pop(&vq, &ch), 0);
	virtq_push(&vq, 0, 0);
	virtq_push(&vq, 2, 0);
	/* Each head used exactly once: M (by pop), A, B. */
	uint32_t id, len, seen[3] = { 0 };
	while (tq_used(q, &id, &len)) {
		cr_assert_lt(id, 3);
		seen[id]++;
	}
	cr_expect_eq(seen[0], 1);
	cr_expect_eq(seen[1], 1, "M completed %u times", seen[1]);
	cr_expect_eq(seen[2], 1);
	cr_expect_eq(vq.stats.malformed, 1);
}

Test(virtq, unpop_rewinds_consecutive_pops_and_nothing_more)
{
	uint64_t a = tguest_alloc(&g, 4);
	for (uint16_t i = 0; i < 3; i++) {
		tq_desc(q, i, a, 4, 0, 0);
		tq_post(q, i);
	}
	cr_expect_eq(virtq_unpop(&vq), -EINVAL, "nothing popped yet");
	for (int i = 0; i < 3; i++)
		cr_assert_eq(virtq_pop(&vq, &ch), 1);
	for (int i = 0; i < 3; i++)
		cr_expect_eq(virtq_unpop(&vq), 0);
	cr_expect_eq(virtq_unpop(&vq), -EINVAL);
	/* A chain the device completed is not given back either. */
	cr_assert_eq(virtq_pop(&vq, &ch), 1);
	virtq_push(&vq, ch.head, 0);
	cr_expect_eq(virtq_unpop(&vq), -EINVAL);
	cr_assert_eq(virtq_pop(&vq, &ch), 1);
	cr_expect_eq(ch.head, 1);
}

Test(virtq, budget_ends_a_pass_and_says_so)
{
	uint64_t a = tguest_alloc(&g, 4);
	tq_desc(q, 0, a, 4, 0, 0);
	tq_desc(q, 1, TDRV_MEM - 8, 16, 0, 0); /* malformed: counts too */
	for (int i = 0; i < VIRTQ_BUDGET; i++) {
		tq_post(q, i % 2 ? 1 : 0);
		int r = virtq_pop(&vq, &ch);
		if (r == 1)
			virtq_push(&vq, ch.head, 0);
	}
	tq_post(q, 0);
	cr_expect_eq(virtq_pop(&vq, &ch), 0);
	cr_expect_not(virtq_enable_notify(&vq), "the loop must end");
	cr_expect(virtq_budget_reset(&vq));
	cr_expect_not(virtq_budget_reset(&vq));
	cr_expect_eq(virtq_pop(&vq, &ch), 1);
	cr_expect_eq(virtq_pop(&vq, &ch), 0);
	cr_expect_not(virtq_budget_reset(&vq), "nothing was left");
}

Test(virtq, notify_respects_no_interrupt_flag)
{
	virtq_push(&vq, 0, 0);
	cr_expect(virtq_should_notify(&vq));
	cr_expect_not(virtq_should_notify(&vq)); /* nothing new */
	tq_set_avail_flags(q, VRING_AVAIL_F_NO_INTERRUPT);
	virtq_push(&vq, 0, 0);
	cr_expect_not(virtq_should_notify(&vq));
}

Test(virtq, event_idx_suppresses_interrupts)
{
	struct virtq_config c = tq_config(q);
	cr_assert_eq(virtq_start(&vq, &g.mem, &c, 256, true, false), 0);
	/* First decision always notifies (nothing signalled before). */
	virtq_push(&vq, 0, 0);
	cr_expect(virtq_should_notify(&vq));
	/* The driver wants an interrupt once used idx passes 3. */
	tq_set_used_event(q, 3);
	virtq_push(&vq, 0, 0); /* idx 2 */
	cr_expect_not(virtq_should_notify(&vq));
	virtq_push(&vq, 0, 0); /* idx 3 */
	cr_expect_not(virtq_should_notify(&vq));
	virtq_push(&vq, 0, 0); /* idx 4: crossed 3 */
	cr_expect(virtq_should_notify(&vq));
	virtq_push(&vq, 0, 0);
	cr_expect_not(virtq_should_notify(&vq));
}

Test(virtq, event_idx_publishes_avail_event)
{
	struct virtq_config c = tq_config(q);
	cr_assert_eq(virtq_start(&vq, &g.mem, &c, 256, true, false), 0);
	uint64_t a = tguest_alloc(&g, 4);
	tq_desc(q, 0, a, 4, 0, 0);
	tq_post(q, 0);
	tq_post(q, 0);
	cr_assert_eq(virtq_pop(&vq, &ch), 1);
	/* One more is waiting: enable_notify says so. */
	cr_expect(virtq_enable_notify(&vq));
	cr_expect_eq(tq_avail_event(q), 1);
	cr_assert_eq(virtq_pop(&vq, &ch), 1);
	cr_expect_not(virtq_enable_notify(&vq));
	cr_expect_eq(tq_avail_event(q), 2);
}

Test(virtq, need_event_matches_spec)
{
	cr_expect(virtq_need_event(0, 1, 0));
	cr_expect_not(virtq_need_event(1, 1, 0));
	cr_expect(virtq_need_event(0xffff, 0, 0xfffe));
	cr_expect_not(virtq_need_event(5, 3, 1));
}

Test(virtq, stopped_queue_ignores_everything)
{
	virtq_stop(&vq);
	uint64_t a = tguest_alloc(&g, 4);
	tq_desc(q, 0, a, 4, 0, 0);
	tq_post(q, 0);
	cr_expect_eq(virtq_pop(&vq, &ch), 0);
	virtq_push(&vq, 0, 4);
	cr_expect_eq(tq_used_idx(q), 0);
	cr_expect_not(virtq_should_notify(&vq));
}

Test(virtq, save_restore_round_trip_and_validation)
{
	uint64_t a = tguest_alloc(&g, 4);
	tq_desc(q, 0, a, 4, 0, 0);
	tq_post(q, 0);
	cr_assert_eq(virtq_pop(&vq, &ch), 1);
	virtq_push(&vq, 0, 0);
	struct virtq_state st;
	cr_assert_eq(virtq_save(&vq, &st), 0);
	struct virtq v2;
	memset(&v2, 0, sizeof(v2));
	cr_assert_eq(virtq_restore(&v2, &g.mem, &st, 256, false, true), 0);
	cr_expect_eq(v2.last_avail, 1);
	cr_expect_eq(v2.used_idx, 1);
	st.cfg.size = 3;
	cr_expect_eq(virtq_restore(&v2, &g.mem, &st, 256, false, true), -EINVAL);
	st.cfg.size = 16;
	st.version = 99;
	cr_expect_eq(virtq_restore(&v2, &g.mem, &st, 256, false, true), -EINVAL);
}

/* A guest writing random bytes over its rings and tables: the walk must
 * only ever hand out buffers inside guest memory, never loop, never crash
 * (ASan and UBSan watch the rest). */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static bool in_guest(const void *p, size_t len)
{
	const struct gm_region *r = &g.mem.regions[0];
	const uint8_t *b = p;
	return b >= r->host && len <= r->size && b - r->host <= (ptrdiff_t)(r->size - len);
}

Test(virtq, random_rings_stay_inside_guest_memory)
{
	struct virtq_config c = tq_config(q);
	for (int round = 0; round < 300; round++) {
		cr_assert_eq(virtq_start(&vq, &g.mem, &c, 256, round & 1, round & 2), 0);
		for (uint16_t i = 0; i < 16; i++) {
			uint64_t r = rnd();
			/* Mostly plausible addresses, sometimes wild ones. */
			uint64_t addr = (r & 3) ? TDRV_DATA + (rnd() % (TDRV_MEM - TDRV_DATA)) : rnd();
			uint32_t len = (r & 4) ? (uint32_t)(rnd() % 8192) : (uint32_t)rnd();
			tq_desc(q, i, addr, len, (uint16_t)(rnd() & 7), (uint16_t)(rnd() % 20));
		}
		/* Indirect tables of garbage too. */
		uint8_t *data = tguest_ptr(&g, TDRV_DATA, 4096);
		for (int i = 0; i < 4096; i += 8) {
			uint64_t v = rnd();
			if (i % 16 == 0)
				v = TDRV_DATA + (v % 65536);
			memcpy(data + i, &v, 8);
		}
		q->avail_idx = 0;
		unsigned posts = (unsigned)(rnd() % 20);
		for (unsigned i = 0; i < posts; i++)
			tq_post(q, (uint16_t)(rnd() % 18));
		if (rnd() % 4 == 0)
			tq_set_avail_idx(q, (uint16_t)rnd());
		for (int pops = 0; pops < 40; pops++) {
			int r = virtq_pop(&vq, &ch);
			if (r <= 0)
				break;
			cr_assert_leq(ch.nr_out + ch.nr_in, VIRTQ_MAX_SIZE);
			uint64_t out = 0, in = 0;
			for (unsigned i = 0; i < ch.nr_out + ch.nr_in; i++) {
				cr_assert(in_guest(ch.iov[i].iov_base, ch.iov[i].iov_len));
				*(i < ch.nr_out ? &out : &in) += ch.iov[i].iov_len;
			}
			cr_assert_eq(out, ch.out_len);
			cr_assert_eq(in, ch.in_len);
			virtq_push(&vq, ch.head, ch.in_len);
		}
		virtq_should_notify(&vq);
		virtq_enable_notify(&vq);
	}
}
