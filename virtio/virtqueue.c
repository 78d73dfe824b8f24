#include "virtio/virtqueue.h"

#include <errno.h>
#include <linux/virtio_ring.h>
#include <string.h>

#include "runtime/base/log.h"

/* Section 2.7: sizes of the three parts of a split queue of size n. The
 * trailing u16 of the avail and used rings (used_event / avail_event) is
 * part of the layout whether or not EVENT_IDX is negotiated. */
#define VIRTQ_DESC_BYTES(n) (16ULL * (n))
#define VIRTQ_AVAIL_BYTES(n) (6ULL + 2ULL * (n))
#define VIRTQ_USED_BYTES(n) (6ULL + 8ULL * (n))

#define VQ_NAME(vq) ((vq)->name ? (vq)->name : "virtq")

/* Guest-shared fields are read and written with atomics: the guest changes
 * them concurrently. Alignment was checked in virtq_check_config. */
static inline uint16_t vq_load16(const uint8_t *p, int order)
{
	return __atomic_load_n((const uint16_t *)(const void *)p, order);
}

static inline void vq_store16(uint8_t *p, uint16_t v, int order)
{
	__atomic_store_n((uint16_t *)(void *)p, v, order);
}

static inline void vq_store32(uint8_t *p, uint32_t v)
{
	__atomic_store_n((uint32_t *)(void *)p, v, __ATOMIC_RELAXED);
}

int virtq_check_config(const struct virtq_config *cfg, uint16_t max_size,
		       const struct guest_mem *mem)
{
	uint16_t n = cfg->size;
	/* 2.7: "Queue Size ... is always a power of 2" for split queues, and
	 * 4.2.2.2: the driver writes a QueueNum no larger than QueueNumMax. */
	if (n == 0 || (n & (n - 1)) || n > max_size)
		return -EINVAL;
	/* 2.7 table: descriptor table 16-byte aligned, avail ring 2, used 4. */
	if (cfg->desc % 16 || cfg->avail % 2 || cfg->used % 4)
		return -EINVAL;
	if (!gm_ptr(mem, cfg->desc, VIRTQ_DESC_BYTES(n)) ||
	    !gm_ptr(mem, cfg->avail, VIRTQ_AVAIL_BYTES(n)) ||
	    !gm_ptr(mem, cfg->used, VIRTQ_USED_BYTES(n)))
		return -EINVAL;
	return 0;
}

int virtq_start(struct virtq *vq, const struct guest_mem *mem, const struct virtq_config *cfg,
		uint16_t max_size, bool event_idx, bool indirect)
{
	virtq_stop(vq);
	int r = virtq_check_config(cfg, max_size, mem);
	if (r < 0)
		return r;
	vq->mem = mem;
	vq->cfg = *cfg;
	vq->desc = gm_ptr(mem, cfg->desc, VIRTQ_DESC_BYTES(cfg->size));
	vq->avail = gm_ptr(mem, cfg->avail, VIRTQ_AVAIL_BYTES(cfg->size));
	vq->used = gm_ptr(mem, cfg->used, VIRTQ_USED_BYTES(cfg->size));
	vq->event_idx = event_idx;
	vq->indirect = indirect;
	vq->live = true;
	return 0;
}

void virtq_stop(struct virtq *vq)
{
	struct virtq_stats stats = vq->stats;
	const char *name = vq->name;
	unsigned index = vq->index;
	struct virtq_written_hook written = vq->written;
	memset(vq, 0, sizeof(*vq));
	vq->stats = stats;
	vq->name = name;
	vq->index = index;
	vq->written = written;
}

static inline uint16_t vq_avail_idx(const struct virtq *vq)
{
	/* Acquire: the ring entries the driver published before bumping idx
	 * must be read after it (2.7.13 step 3's write barrier, paired). */
	return vq_load16(vq->avail + 2, __ATOMIC_ACQUIRE);
}

/* Appends one buffer to the chain; readable ones must all come first. */
static int vq_add_buf(struct virtq *vq, struct virtq_chain *c, const struct vring_desc *d)
{
	if (d->len == 0)
		return 0; /* nothing to map; gm_ptr refuses empty ranges */
	void *p = gm_ptr(vq->mem, d->addr, d->len);
	if (!p)
		return -EFAULT;
	unsigned at = c->nr_out + c->nr_in;
	if (at >= VIRTQ_MAX_SIZE)
		return -E2BIG;
	if (d->flags & VRING_DESC_F_WRITE) {
		if (d->len > UINT32_MAX - c->in_len)
			return -EOVERFLOW;
		c->in_len += d->len;
		c->nr_in++;
	} else {
		/* 2.7.4.2: device-readable before device-writable. */
		if (c->nr_in)
			return -EINVAL;
		if (d->len > UINT32_MAX - c->out_len)
			return -EOVERFLOW;
		c->out_len += d->len;
		c->nr_out++;
	}
	c->iov[at] = (struct iovec){ p, d->len };
	c->gpa[at] = d->addr;
	return 0;
}

/* Walks the chain starting at head. Returns 0 or why it is malformed. */
static int vq_walk(struct virtq *vq, uint16_t head, struct virtq_chain *c)
{
	const uint8_t *table = vq->desc;
	uint32_t table_size = vq->cfg.size;
	bool in_indirect = false;
	unsigned hops = 0;
	uint32_t i = head;

	c->head = head;
	c->nr_out = c->nr_in = 0;
	c->out_len = c->in_len = 0;
	for (;;) {
		/* Hop limit: 2.7.5.3.1, no chain is longer than the queue size
		 * (counted separately inside an indirect table). This also
		 * ends any loop the driver builds with `next`. */
		if (++hops > vq->cfg.size)
			return -ELOOP;
		struct vring_desc d;
		memcpy(&d, table + 16ULL * i, sizeof(d)); /* read each field once */
		if (d.flags & VRING_DESC_F_INDIRECT) {
			/* 2.7.5.3.1: only with the feature, never with NEXT,
			 * never inside an indirect table; we also accept it
			 * only as the head, as every driver places it. */
			if (!vq->indirect || in_indirect || (d.flags & VRING_DESC_F_NEXT) ||
			    hops != 1)
				return -EINVAL;
			if (d.len == 0 || d.len % 16 || d.len / 16 > vq->cfg.size)
				return -EINVAL;
			table = gm_ptr(vq->mem, d.addr, d.len);
			if (!table)
				return -EFAULT;
			table_size = d.len / 16;
			in_indirect = true;
			hops = 0;
			i = 0;
			continue;
		}
		int r = vq_add_buf(vq, c, &d);
		if (r < 0)
			return r;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		i = d.next;
		if (i >= table_size)
			return -EINVAL;
	}
}

int virtq_pop(struct virtq *vq, struct virtq_chain *c)
{
	if (!vq->live)
		return 0;
	if (vq->broken)
		return -EIO;
	uint16_t size = vq->cfg.size;
	/* Every pass consumes one avail entry; a guest that keeps posting
	 * garbage gets its chains dropped one by one, each with a bound. */
	for (;;) {
		uint16_t avail = vq_avail_idx(vq);
		uint16_t pending = (uint16_t)(avail - vq->last_avail);
		if (pending == 0)
			return 0;
		if (pending > size) {
			/* More entries than the ring holds: the index is a lie. */
			vq->broken = true;
			vq->stats.broken++;
			log_ratelimited(LOG_WARN,
					"%s q%u: avail idx %u is %u ahead of %u (size %u): queue stopped",
					VQ_NAME(vq), vq->index, avail, pending, vq->last_avail, size);
			return -EIO;
		}
		if (vq->taken >= VIRTQ_BUDGET) {
			vq->over_budget = true;
			return 0;
		}
		uint16_t head = vq_load16(vq->avail + 4 + 2 * (vq->last_avail % size),
					  __ATOMIC_RELAXED);
		vq->last_avail++;
		vq->taken++;
		if (head >= size) {
			/* No descriptor to hand back: the entry is skipped, for
			 * good (unpop must not rewind onto it). */
			vq->unpop_floor = vq->last_avail;
			vq->stats.malformed++;
			log_ratelimited(LOG_WARN, "%s q%u: avail ring head %u >= size %u, dropped",
					VQ_NAME(vq), vq->index, head, size);
			continue;
		}
		int r = vq_walk(vq, head, c);
		if (r == 0) {
			vq->stats.popped++;
			return 1;
		}
		vq->stats.malformed++;
		log_ratelimited(LOG_WARN, "%s q%u: malformed chain at head %u (%s), dropped",
				VQ_NAME(vq), vq->index, head, strerror(-r));
		virtq_push(vq, head, 0); /* which also moves unpop_floor past it */
	}
}

int virtq_unpop(struct virtq *vq)
{
	if (!vq->live || vq->last_avail == vq->unpop_floor)
		return -EINVAL;
	vq->last_avail--;
	vq->stats.popped--;
	return 0;
}

void virtq_push(struct virtq *vq, uint16_t head, uint32_t written)
{
	if (!vq->live)
		return;
	uint8_t *e = vq->used + 4 + 8ULL * (vq->used_idx % vq->cfg.size);
	vq_store32(e, head);
	vq_store32(e + 4, written);
	vq->used_idx++;
	/* Whatever was popped before is no longer the device's to give
	 * back: rewinding over it could hand out a chain used already. */
	vq->unpop_floor = vq->last_avail;
	/* Release: the element must be visible before the index that
	 * publishes it (2.7.8.2 / 2.7.14). */
	vq_store16(vq->used + 2, vq->used_idx, __ATOMIC_RELEASE);
}

void virtq_report_written(struct virtq *vq, uint64_t gpa, uint64_t len)
{
	if (vq->written.fn && len)
		vq->written.fn(vq->written.opaque, gpa, len);
}

void virtq_push_chain(struct virtq *vq, const struct virtq_chain *c, uint32_t written)
{
	if (!vq->live)
		return;
	for (unsigned i = c->nr_out; i < c->nr_out + c->nr_in; i++)
		virtq_report_written(vq, c->gpa[i], c->iov[i].iov_len);
	virtq_push(vq, c->head, written);
}

bool virtq_should_notify(struct virtq *vq)
{
	if (!vq->live)
		return false;
	/* Full barrier: our used idx store must be ordered before we read the
	 * driver's suppression flag / used_event, or we could miss the update
	 * it made just before going to sleep (2.7.7.2, 2.7.10.1). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	uint16_t old = vq->signalled_used, now = vq->used_idx;
	bool valid = vq->signalled_valid;
	vq->signalled_used = now;
	vq->signalled_valid = true;
	if (old == now)
		return false; /* nothing used since the last decision */
	if (!vq->event_idx)
		return !(vq_load16(vq->avail, __ATOMIC_RELAXED) & VRING_AVAIL_F_NO_INTERRUPT);
	uint16_t used_event = vq_load16(vq->avail + 4 + 2ULL * vq->cfg.size, __ATOMIC_RELAXED);
	return !valid || virtq_need_event(used_event, now, old);
}

bool virtq_enable_notify(struct virtq *vq)
{
	/* Over budget: no need to be told, the transport comes back. */
	if (!vq->live || vq->broken || vq->over_budget)
		return false;
	if (vq->event_idx)
		vq_store16(vq->used + 4 + 8ULL * vq->cfg.size, vq->last_avail, __ATOMIC_RELAXED);
	else
		vq_store16(vq->used, 0, __ATOMIC_RELAXED); /* clear VRING_USED_F_NO_NOTIFY */
	/* Full barrier: publish avail_event before re-reading avail idx, so a
	 * buffer added in between is either seen now or notified (2.7.10). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return vq_avail_idx(vq) != vq->last_avail;
}

void virtq_disable_notify(struct virtq *vq)
{
	if (vq->live && !vq->broken && !vq->event_idx)
		vq_store16(vq->used, VRING_USED_F_NO_NOTIFY, __ATOMIC_RELAXED);
}

bool virtq_budget_reset(struct virtq *vq)
{
	bool over = vq->over_budget;
	vq->taken = 0;
	vq->over_budget = false;
	return over;
}

bool virtq_has_avail(struct virtq *vq)
{
	return vq->live && !vq->broken && vq_avail_idx(vq) != vq->last_avail;
}

int virtq_save(const struct virtq *vq, struct virtq_state *st)
{
	memset(st, 0, sizeof(*st));
	st->version = VIRTQ_STATE_VERSION;
	st->cfg = vq->cfg;
	st->cfg.ready = vq->live;
	st->last_avail = vq->last_avail;
	st->used_idx = vq->used_idx;
	st->signalled_used = vq->signalled_used;
	st->signalled_valid = vq->signalled_valid;
	return 0;
}

int virtq_restore(struct virtq *vq, const struct guest_mem *mem, const struct virtq_state *st,
		  uint16_t max_size, bool event_idx, bool indirect)
{
	if (st->version != VIRTQ_STATE_VERSION || st->signalled_valid > 1)
		return -EINVAL;
	if (!st->cfg.ready) {
		virtq_stop(vq);
		vq->cfg = st->cfg;
		return 0;
	}
	int r = virtq_start(vq, mem, &st->cfg, max_size, event_idx, indirect);
	if (r < 0)
		return r;
	vq->last_avail = st->last_avail;
	vq->unpop_floor = st->last_avail;
	vq->used_idx = st->used_idx;
	vq->signalled_used = st->signalled_used;
	vq->signalled_valid = st->signalled_valid;
	return 0;
}

int virtq_used_range(const struct virtq *vq, uint64_t *gpa, uint64_t *len)
{
	if (!vq->live)
		return -ENODEV;
	*gpa = vq->cfg.used;
	*len = VIRTQ_USED_BYTES(vq->cfg.size);
	return 0;
}
