#include "tests/unit/test_virtio_util.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <stdlib.h>
#include <string.h>

void tguest_init(struct tguest *g)
{
	memset(g, 0, sizeof(*g));
	cr_assert_eq(gm_alloc(&g->mem, TDRV_MEM), 0);
	g->data_next = TDRV_DATA;
}

void tguest_free(struct tguest *g)
{
	gm_free(&g->mem);
}

uint64_t tguest_alloc(struct tguest *g, uint64_t len)
{
	uint64_t at = g->data_next;
	g->data_next = (at + len + 15) & ~15ULL;
	cr_assert_leq(g->data_next, TDRV_MEM);
	memset(tguest_ptr(g, at, len ? len : 1), 0, len);
	return at;
}

void *tguest_ptr(struct tguest *g, uint64_t gpa, uint64_t len)
{
	void *p = gm_ptr(&g->mem, gpa, len);
	cr_assert_not_null(p);
	return p;
}

void tq_init(struct tguest *g, unsigned i, uint16_t size)
{
	struct tq *q = &g->q[i];
	q->mem = &g->mem;
	q->size = size;
	q->desc = 0x10000ULL + i * 0x10000ULL;
	q->avail = q->desc + 0x4000;
	q->used = q->desc + 0x8000;
	q->avail_idx = q->used_seen = 0;
	memset(gm_ptr(&g->mem, q->desc, 0x10000), 0, 0x10000);
}

struct virtq_config tq_config(const struct tq *q)
{
	return (struct virtq_config){ .size = q->size, .ready = true, .desc = q->desc,
				      .avail = q->avail, .used = q->used };
}

void tq_desc(struct tq *q, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
	     uint16_t next)
{
	uint8_t d[16];
	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
	cr_assert_eq(gm_write(q->mem, q->desc + 16ULL * i, d, 16), 0);
}

static void w16(struct tq *q, uint64_t gpa, uint16_t v)
{
	cr_assert_eq(gm_write(q->mem, gpa, &v, 2), 0);
}

static uint16_t r16(const struct tq *q, uint64_t gpa)
{
	uint16_t v;
	cr_assert_eq(gm_read(q->mem, gpa, &v, 2), 0);
	return v;
}

void tq_post(struct tq *q, uint16_t head)
{
	w16(q, q->avail + 4 + 2ULL * (q->avail_idx % q->size), head);
	q->avail_idx++;
	w16(q, q->avail + 2, q->avail_idx);
}

void tq_set_avail_idx(struct tq *q, uint16_t idx)
{
	q->avail_idx = idx;
	w16(q, q->avail + 2, idx);
}

void tq_set_avail_flags(struct tq *q, uint16_t flags)
{
	w16(q, q->avail, flags);
}

void tq_set_used_event(struct tq *q, uint16_t v)
{
	w16(q, q->avail + 4 + 2ULL * q->size, v);
}

uint16_t tq_avail_event(const struct tq *q)
{
	return r16(q, q->used + 4 + 8ULL * q->size);
}

uint16_t tq_used_idx(const struct tq *q)
{
	return r16(q, q->used + 2);
}

bool tq_used(struct tq *q, uint32_t *id, uint32_t *len)
{
	if (tq_used_idx(q) == q->used_seen)
		return false;
	uint64_t e = q->used + 4 + 8ULL * (q->used_seen % q->size);
	cr_assert_eq(gm_read(q->mem, e, id, 4), 0);
	cr_assert_eq(gm_read(q->mem, e + 4, len, 4), 0);
	q->used_seen++;
	return true;
}

uint32_t tmmio_rd(struct virtio_mmio *t, uint64_t off)
{
	uint32_t v;
	virtio_mmio_read(t, off, &v, 4);
	return v;
}

void tmmio_wr(struct virtio_mmio *t, uint64_t off, uint32_t v)
{
	virtio_mmio_write(t, off, &v, 4);
}

uint32_t tmmio_init(struct virtio_mmio *t, struct tguest *g, uint64_t features)
{
	tmmio_wr(t, VIRTIO_MMIO_STATUS, 0);
	tmmio_wr(t, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	tmmio_wr(t, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	tmmio_wr(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	tmmio_wr(t, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
	tmmio_wr(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	tmmio_wr(t, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
	uint32_t st = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
		      VIRTIO_CONFIG_S_FEATURES_OK;
	tmmio_wr(t, VIRTIO_MMIO_STATUS, st);
	if (!(tmmio_rd(t, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK))
		return tmmio_rd(t, VIRTIO_MMIO_STATUS);
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		struct tq *q = &g->q[i];
		if (!q->size)
			continue;
		tmmio_wr(t, VIRTIO_MMIO_QUEUE_SEL, i);
		tmmio_wr(t, VIRTIO_MMIO_QUEUE_NUM, q->size);
		tmmio_wr(t, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)q->desc);
		tmmio_wr(t, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(q->desc >> 32));
		tmmio_wr(t, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)q->avail);
		tmmio_wr(t, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (uint32_t)(q->avail >> 32));
		tmmio_wr(t, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)q->used);
		tmmio_wr(t, VIRTIO_MMIO_QUEUE_USED_HIGH, (uint32_t)(q->used >> 32));
		tmmio_wr(t, VIRTIO_MMIO_QUEUE_READY, 1);
	}
	tmmio_wr(t, VIRTIO_MMIO_STATUS, st | VIRTIO_CONFIG_S_DRIVER_OK);
	return tmmio_rd(t, VIRTIO_MMIO_STATUS);
}

void thub_pump(struct vhub *hub)
{
	for (int i = 0; i < 100; i++)
		if (vhub_run(hub, 0) <= 0)
			return;
}

int tirq_set(void *ctx, unsigned gsi, bool level)
{
	(void)gsi;
	struct tirq *irq = ctx;
	if (level && !irq->level)
		irq->raises++;
	irq->level = level;
	return 0;
}

void tbed_attach(struct tbed *b, struct virtio_dev *dev)
{
	memset(&b->irq, 0, sizeof(b->irq));
	struct virtio_mmio_opts o = {
		.base = 0xd0000000ULL, .irq = { tirq_set, &b->irq, 5 }, .hub = &b->hub,
		.mem = &b->g.mem,
	};
	b->dev = dev;
	cr_assert_eq(virtio_mmio_create(dev, &o, &b->t), 0);
}

int tbed_save(struct tbed *b, void *buf, size_t len)
{
	int n = virtio_mmio_save(b->t, buf, len);
	cr_assert_gt(n, (int)sizeof(struct virtio_mmio_state), "save: %d", n);
	return n;
}

void tbed_drop(struct tbed *b)
{
	virtio_mmio_destroy(b->t);
	b->t = NULL;
	b->dev = NULL;
}

static void tblob_refused(struct tbed *b, const uint8_t *blob, size_t len, const char *what,
			  size_t at)
{
	cr_assert_eq(virtio_mmio_restore(b->t, blob, len), -EINVAL, "%s %zu", what, at);
	cr_assert_eq(tmmio_rd(b->t, VIRTIO_MMIO_STATUS), 0, "%s %zu", what, at);
	cr_assert_not(b->t->live);
}

void tblob_truncations(struct tbed *b, const uint8_t *blob, int len)
{
	for (int n = 0; n < len; n++)
		tblob_refused(b, blob, (size_t)n, "length", (size_t)n);
	struct virtio_mmio_state st;
	memcpy(&st, blob, sizeof(st));
	uint8_t *cut = malloc((size_t)len);
	for (uint32_t k = 0; k < st.dev_len; k++) {
		struct virtio_mmio_state h = st;
		h.dev_len = k;
		memcpy(cut, blob, (size_t)len);
		memcpy(cut, &h, sizeof(h));
		tblob_refused(b, cut, sizeof(h) + h.config_len + k, "device length", k);
	}
	free(cut);
}

void tblob_device_flips_refused(struct tbed *b, const uint8_t *blob, int len)
{
	struct virtio_mmio_state st;
	memcpy(&st, blob, sizeof(st));
	size_t from = sizeof(st) + st.config_len;
	cr_assert_eq(from + st.dev_len, (size_t)len);
	uint8_t *bad = malloc((size_t)len);
	for (size_t i = from; i < (size_t)len; i++) {
		for (unsigned x = 1; x < 256; x <<= 1) {
			memcpy(bad, blob, (size_t)len);
			bad[i] ^= (uint8_t)x;
			tblob_refused(b, bad, (size_t)len, "device byte", i - from);
		}
	}
	free(bad);
}

uint32_t tbed_init(struct tbed *b, struct virtio_dev *dev, uint16_t qsize, uint64_t features)
{
	tguest_init(&b->g);
	for (unsigned i = 0; i < dev->nr_queues; i++)
		tq_init(&b->g, i, qsize);
	cr_assert_eq(vhub_init(&b->hub), 0);
	tbed_attach(b, dev);
	uint32_t st = tmmio_init(b->t, &b->g, features ? features : dev->features);
	thub_pump(&b->hub);
	return st;
}

void tbed_fini(struct tbed *b)
{
	virtio_mmio_destroy(b->t);
	vhub_destroy(&b->hub);
	tguest_free(&b->g);
}

void tbed_kick(struct tbed *b, unsigned q)
{
	tmmio_wr(b->t, VIRTIO_MMIO_QUEUE_NOTIFY, q);
	thub_pump(&b->hub);
}
