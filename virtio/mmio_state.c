/* The virtio-mmio transport's snapshot: its registers, each queue's
 * indexes, and its device's own state, into one blob and back (the
 * contract is in mmio.h). A blob comes from a file: every field is checked
 * against what the register file (mmio.c) can really produce before
 * anything changes. */
#include <errno.h>
#include <inttypes.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <string.h>

#include "runtime/base/log.h"
#include "virtio/mmio_int.h"

_Static_assert(sizeof(struct virtio_mmio_queue_state) == 40,
	       "virtio_mmio_queue_state must have no padding");
_Static_assert(sizeof(struct virtio_mmio_state) == 56 + 40 * VIRTIO_MAX_QUEUES,
	       "virtio_mmio_state must have no padding");

#define S_ACK VIRTIO_CONFIG_S_ACKNOWLEDGE
#define S_DRV VIRTIO_CONFIG_S_DRIVER
#define S_FOK VIRTIO_CONFIG_S_FEATURES_OK
#define S_DOK VIRTIO_CONFIG_S_DRIVER_OK
#define S_FAILED VIRTIO_CONFIG_S_FAILED
#define S_NEEDS_RESET VIRTIO_CONFIG_S_NEEDS_RESET

/* Queues run (the transport is live) exactly in these states: DRIVER_OK
 * is only set once every ready queue started, and NEEDS_RESET stops them
 * until a reset. */
static bool mmio_status_live(uint32_t status)
{
	return (status & S_DOK) && !(status & S_NEEDS_RESET);
}

static void mmio_queue_save(const struct virtio_mmio *t, unsigned q,
			    struct virtio_mmio_queue_state *qs)
{
	const struct virtq_config *c = &t->queues[q];
	qs->desc = c->desc;
	qs->avail = c->avail;
	qs->used = c->used;
	qs->size = c->size;
	qs->ready = c->ready;
	if (q < t->dev->nr_queues) {
		struct virtq_state vs;
		virtq_save(&t->dev->vqs[q], &vs);
		qs->last_avail = vs.last_avail;
		qs->used_idx = vs.used_idx;
		qs->signalled_used = vs.signalled_used;
		qs->signalled_valid = vs.signalled_valid;
	}
}

int virtio_mmio_save(struct virtio_mmio *t, void *buf, size_t len)
{
	struct virtio_dev *d = t->dev;
	struct virtio_mmio_state st;
	memset(&st, 0, sizeof(st));
	/* run_lock: the device's save runs as its other ops do. */
	pthread_mutex_lock(&t->run_lock);
	pthread_mutex_lock(&t->regs_lock);
	st.version = VIRTIO_MMIO_STATE_VERSION;
	st.device_id = d->device_id;
	st.nr_queues = d->nr_queues;
	st.status = t->status;
	st.dev_features_sel = t->dev_features_sel;
	st.drv_features_sel = t->drv_features_sel;
	st.queue_sel = t->queue_sel;
	st.isr = t->isr;
	st.drv_features = t->drv_features;
	st.config_gen = t->config_gen;
	st.config_len = (uint32_t)t->config_len;
	st.bad_features = t->bad_features;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		mmio_queue_save(t, q, &st.queues[q]);
	size_t head = sizeof(st) + t->config_len;
	int r = -ENOSPC;
	if (len >= head) {
		memcpy((uint8_t *)buf + sizeof(st), t->config, t->config_len);
		r = 0;
	}
	pthread_mutex_unlock(&t->regs_lock);
	if (r == 0) {
		size_t room = len - head < VIRTIO_DEV_STATE_MAX ? len - head : VIRTIO_DEV_STATE_MAX;
		r = d->ops->save(d, (uint8_t *)buf + head, room);
		if (r == -ENOSPC && room == VIRTIO_DEV_STATE_MAX)
			r = -E2BIG; /* a device bug, not a small buffer */
	}
	pthread_mutex_unlock(&t->run_lock);
	if (r < 0)
		return r;
	st.dev_len = (uint32_t)r;
	memcpy(buf, &st, sizeof(st));
	return (int)(head + (size_t)r);
}

/* 2.1 and mmio.c's status rules: each of ACKNOWLEDGE, DRIVER,
 * FEATURES_OK, DRIVER_OK only after all before it; FAILED at any point;
 * NEEDS_RESET (the device's) only on a device that was started. */
static bool mmio_status_ok(uint32_t s)
{
	static const uint32_t steps[] = { 0, S_ACK, S_ACK | S_DRV, S_ACK | S_DRV | S_FOK,
					  S_ACK | S_DRV | S_FOK | S_DOK };
	if (s & ~(uint32_t)(S_ACK | S_DRV | S_FOK | S_DOK | S_FAILED | S_NEEDS_RESET))
		return false;
	if ((s & S_NEEDS_RESET) && !(s & S_DOK))
		return false;
	uint32_t base = s & ~(uint32_t)(S_FAILED | S_NEEDS_RESET);
	for (unsigned i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if (base == steps[i])
			return true;
	return false;
}

static bool mmio_queue_regs_reset(const struct virtio_mmio_queue_state *qs, uint16_t max)
{
	return qs->size == max && !qs->ready && !qs->desc && !qs->avail && !qs->used;
}

static struct virtq_config mmio_queue_config(const struct virtio_mmio_queue_state *qs)
{
	return (struct virtq_config){ .size = qs->size, .ready = qs->ready != 0,
				      .desc = qs->desc, .avail = qs->avail, .used = qs->used };
}

static int mmio_check_queue(const struct virtio_mmio *t, const struct virtio_mmio_state *st,
			    unsigned q)
{
	const struct virtio_dev *d = t->dev;
	const struct virtio_mmio_queue_state *qs = &st->queues[q];
	for (unsigned i = 0; i < sizeof(qs->reserved); i++)
		if (qs->reserved[i])
			return -EINVAL;
	if (qs->ready > 1 || qs->signalled_valid > 1)
		return -EINVAL;
	/* Queue registers are written only between FEATURES_OK and
	 * DRIVER_OK, and only for queues that exist; otherwise they hold
	 * what a reset left. */
	if ((q >= d->nr_queues || !(st->status & S_FOK)) &&
	    !mmio_queue_regs_reset(qs, d->queue_max))
		return -EINVAL;
	if (q < d->nr_queues && qs->ready && mmio_status_live(st->status)) {
		struct virtq_config c = mmio_queue_config(qs);
		return virtq_check_config(&c, d->queue_max, d->mem);
	}
	/* A queue that is not running has the indexes of a stopped one.
	 * (Those of a running one may be anything: the virtqueue code checks
	 * them against the rings at each use.) */
	if (qs->last_avail || qs->used_idx || qs->signalled_used || qs->signalled_valid)
		return -EINVAL;
	return 0;
}

/* Everything in the blob but the device's part and the config contents
 * (those need the device's own restore). */
static int mmio_check(const struct virtio_mmio *t, const struct virtio_mmio_state *st,
		      size_t len)
{
	const struct virtio_dev *d = t->dev;
	if (st->version != VIRTIO_MMIO_STATE_VERSION || st->device_id != d->device_id ||
	    st->nr_queues != d->nr_queues || st->config_len != d->config_len ||
	    st->dev_len > VIRTIO_DEV_STATE_MAX ||
	    len != sizeof(*st) + (size_t)st->config_len + st->dev_len)
		return -EINVAL;
	if (st->reserved[0] || st->reserved[1] || st->reserved[2] || st->bad_features > 1)
		return -EINVAL;
	if (!mmio_status_ok(st->status))
		return -EINVAL;
	/* 2.2.1: bits not offered never reach drv_features (mmio.c drops
	 * them); features are acked in ACKNOWLEDGE|DRIVER only, and
	 * FEATURES_OK is only accepted with VERSION_1 and nothing bad. */
	if (st->drv_features & ~d->features)
		return -EINVAL;
	if (!(st->status & S_DRV) && (st->drv_features || st->bad_features))
		return -EINVAL;
	if ((st->status & S_FOK) &&
	    (!(st->drv_features & VIRTIO_FEAT_VERSION_1) || st->bad_features))
		return -EINVAL;
	/* A used-buffer interrupt needs a running queue to come from. */
	if ((st->isr & ~(uint32_t)(VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG)) ||
	    ((st->isr & VIRTIO_MMIO_INT_VRING) && !(st->status & S_DOK)))
		return -EINVAL;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		int r = mmio_check_queue(t, st, q);
		if (r < 0) {
			log_warn("%s: snapshot: queue %u state refused", t->name, q);
			return -EINVAL;
		}
	}
	return 0;
}

/* run_lock and regs_lock held; everything checked. Returns 0, or
 * -EINVAL if a queue refuses to start after all (then nothing runs). */
static int mmio_apply(struct virtio_mmio *t, const struct virtio_mmio_state *st,
		      const uint8_t *config)
{
	struct virtio_dev *d = t->dev;
	bool live = mmio_status_live(st->status);
	t->status = st->status;
	t->dev_features_sel = st->dev_features_sel;
	t->drv_features_sel = st->drv_features_sel;
	t->queue_sel = st->queue_sel;
	t->drv_features = st->drv_features;
	t->bad_features = st->bad_features;
	t->isr = st->isr;
	t->config_gen = st->config_gen;
	memcpy(t->config, config, st->config_len);
	t->config_len = st->config_len;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		t->queues[q] = mmio_queue_config(&st->queues[q]);
	d->acked = (st->status & S_DOK) ? st->drv_features : 0;
	bool event_idx = st->drv_features & VIRTIO_FEAT_EVENT_IDX;
	bool indirect = st->drv_features & VIRTIO_FEAT_INDIRECT_DESC;
	for (unsigned q = 0; live && q < d->nr_queues; q++) {
		const struct virtio_mmio_queue_state *qs = &st->queues[q];
		if (!qs->ready)
			continue;
		struct virtq_state vs = {
			.version = VIRTQ_STATE_VERSION, .cfg = t->queues[q],
			.last_avail = qs->last_avail, .used_idx = qs->used_idx,
			.signalled_used = qs->signalled_used, .signalled_valid = qs->signalled_valid,
		};
		if (virtq_restore(&d->vqs[q], d->mem, &vs, d->queue_max, event_idx, indirect) < 0) {
			virtio_mmio_reset(t);
			t->pending = 0; /* the device was never active */
			return -EINVAL;
		}
	}
	t->live = live;
	/* A reset or activation a driver left for the VMM thread is
	 * superseded by the state restored. */
	t->pending = 0;
	virtio_mmio_update_line(t);
	return 0;
}

/* After a successful activation: no interrupt and no notification lost. */
static void mmio_resume(struct virtio_mmio *t)
{
	if (t->isr && t->irqfd >= 0)
		virtio_mmio_efd_signal(t->irqfd);
	for (unsigned q = 0; t->live && q < t->dev->nr_queues; q++)
		virtio_mmio_efd_signal(t->notify_efd[q]);
}

/* The device's own restore, undone if the config space it then presents
 * is not the one the guest saw. run_lock held. */
static int mmio_restore_device(struct virtio_mmio *t, const struct virtio_mmio_state *st,
			       const uint8_t *config, const uint8_t *dev_state)
{
	struct virtio_dev *d = t->dev;
	uint8_t undo[VIRTIO_DEV_STATE_MAX];
	int undo_len = d->ops->save(d, undo, sizeof(undo));
	int r = d->ops->restore(d, dev_state, st->dev_len);
	if (r < 0) {
		log_warn("%s: snapshot: device state refused", t->name);
		return -EINVAL;
	}
	if (d->config_len != st->config_len ||
	    (st->config_len && memcmp(d->config, config, st->config_len))) {
		log_warn("%s: snapshot: config space differs from the device's", t->name);
		if (undo_len >= 0)
			d->ops->restore(d, undo, (size_t)undo_len);
		return -EINVAL;
	}
	return 0;
}

int virtio_mmio_restore(struct virtio_mmio *t, const void *buf, size_t len)
{
	struct virtio_dev *d = t->dev;
	struct virtio_mmio_state st; /* buf need not be aligned */
	if (len < sizeof(st))
		return -EINVAL;
	memcpy(&st, buf, sizeof(st));
	int r = mmio_check(t, &st, len);
	if (r < 0)
		return r;
	const uint8_t *config = (const uint8_t *)buf + sizeof(st);
	const uint8_t *dev_state = config + st.config_len;

	pthread_mutex_lock(&t->run_lock);
	pthread_mutex_lock(&t->regs_lock);
	bool fresh = !t->status && !t->live && !t->active;
	pthread_mutex_unlock(&t->regs_lock);
	r = fresh ? mmio_restore_device(t, &st, config, dev_state) : -EBUSY;
	if (r == 0) {
		pthread_mutex_lock(&t->regs_lock);
		r = mmio_apply(t, &st, config);
		pthread_mutex_unlock(&t->regs_lock);
	}
	/* The device's state is in place before activate runs. */
	if (r == 0 && t->live) {
		r = d->ops->activate(d);
		if (r < 0) {
			d->stats.activate_fails++;
			log_warn("%s: snapshot: activation failed: %s", t->name, strerror(-r));
			pthread_mutex_lock(&t->regs_lock);
			virtio_mmio_reset(t);
			t->pending = 0; /* the device was never active */
			pthread_mutex_unlock(&t->regs_lock);
		} else {
			t->active = true;
			d->stats.activations++;
		}
	}
	if (r == 0)
		mmio_resume(t);
	pthread_mutex_unlock(&t->run_lock);
	return r;
}
