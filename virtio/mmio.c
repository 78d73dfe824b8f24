#include "virtio/mmio.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "runtime/log.h"

#define VIRTIO_MMIO_PENDING_RESET 1u
#define VIRTIO_MMIO_PENDING_ACTIVATE 2u

/* Status bits the driver may set (2.1); NEEDS_RESET is the device's. */
#define VIRTIO_MMIO_DRIVER_BITS                                                           \
	(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK | \
	 VIRTIO_CONFIG_S_DRIVER_OK | VIRTIO_CONFIG_S_FAILED)

static void efd_signal(int fd)
{
	uint64_t one = 1;
	ssize_t n = write(fd, &one, sizeof(one));
	(void)n; /* a saturated counter still wakes the reader */
}

static void efd_drain(int fd)
{
	uint64_t v;
	ssize_t n = read(fd, &v, sizeof(v));
	(void)n;
}

/* --- interrupts --- */

/* regs_lock held. With an irq line, its level follows InterruptStatus. */
static void mmio_update_line(struct virtio_mmio *t)
{
	if (t->irqfd < 0)
		irq_line_set(&t->irq, t->isr != 0);
}

static void mmio_raise(struct virtio_mmio *t, uint32_t bits)
{
	pthread_mutex_lock(&t->regs_lock);
	t->isr |= bits;
	mmio_update_line(t);
	pthread_mutex_unlock(&t->regs_lock);
	if (t->irqfd >= 0)
		efd_signal(t->irqfd);
}

/* --- queues --- */

static void mmio_stop_queues(struct virtio_mmio *t)
{
	for (unsigned q = 0; q < t->dev->nr_queues; q++)
		virtq_stop(&t->dev->vqs[q]);
}

/* DRIVER_OK, run_lock and regs_lock held: every ready queue must be sane
 * (2.7 and 4.2.2.2) before the device may touch it. */
static int mmio_start_queues(struct virtio_mmio *t)
{
	struct virtio_dev *d = t->dev;
	bool event_idx = t->drv_features & VIRTIO_FEAT_EVENT_IDX;
	bool indirect = t->drv_features & VIRTIO_FEAT_INDIRECT_DESC;
	for (unsigned q = 0; q < d->nr_queues; q++) {
		if (!t->queues[q].ready)
			continue;
		int r = virtq_start(&d->vqs[q], d->mem, &t->queues[q], d->queue_max, event_idx,
				    indirect);
		if (r < 0) {
			log_ratelimited(LOG_WARN,
					"%s: queue %u refused: size %u, desc 0x%" PRIx64
					", avail 0x%" PRIx64 ", used 0x%" PRIx64,
					t->name, q, t->queues[q].size, t->queues[q].desc,
					t->queues[q].avail, t->queues[q].used);
			mmio_stop_queues(t);
			return r;
		}
	}
	return 0;
}

/* --- the device-facing API (VMM thread, run_lock held) --- */

void virtio_dev_signal_used(struct virtio_dev *vd, unsigned q)
{
	if (q >= vd->nr_queues || !virtq_should_notify(&vd->vqs[q]))
		return;
	vd->stats.interrupts++;
	mmio_raise(vd->transport, VIRTIO_MMIO_INT_VRING);
}

void virtio_dev_config_changed(struct virtio_dev *vd, const void *config, size_t len)
{
	struct virtio_mmio *t = vd->transport;
	pthread_mutex_lock(&t->regs_lock);
	if (len > sizeof(t->config))
		len = sizeof(t->config);
	memcpy(t->config, config, len);
	t->config_len = len;
	t->config_gen++;
	pthread_mutex_unlock(&t->regs_lock);
	vd->stats.config_changes++;
	mmio_raise(t, VIRTIO_MMIO_INT_CONFIG);
}

void virtio_dev_fail(struct virtio_dev *vd, const char *why)
{
	struct virtio_mmio *t = vd->transport;
	log_ratelimited(LOG_WARN, "%s: %s: device needs reset", t->name, why);
	pthread_mutex_lock(&t->regs_lock);
	t->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
	t->live = false;
	mmio_stop_queues(t);
	pthread_mutex_unlock(&t->regs_lock);
	vd->stats.config_changes++;
	mmio_raise(t, VIRTIO_MMIO_INT_CONFIG);
}

bool virtio_dev_enter(struct virtio_dev *vd)
{
	struct virtio_mmio *t = vd->transport;
	pthread_mutex_lock(&t->run_lock);
	return t->live && t->active;
}

void virtio_dev_leave(struct virtio_dev *vd)
{
	struct virtio_mmio *t = vd->transport;
	if (t->live) {
		for (unsigned q = 0; q < vd->nr_queues; q++) {
			if (vd->vqs[q].broken) {
				virtio_dev_fail(vd, "a queue's ring is corrupt");
				break;
			}
		}
	}
	pthread_mutex_unlock(&t->run_lock);
}

/* --- VMM-thread callbacks --- */

static void mmio_on_notify(struct vhub_watch *w, uint32_t events)
{
	(void)events;
	struct virtio_mmio *t = w->opaque;
	unsigned q = (unsigned)(w - t->notify_w);
	efd_drain(w->fd);
	if (virtio_dev_enter(t->dev)) {
		t->dev->stats.queue_notifies++;
		t->dev->ops->queue_notify(t->dev, q);
	}
	virtio_dev_leave(t->dev);
}

static void mmio_on_ctrl(struct vhub_watch *w, uint32_t events)
{
	(void)events;
	struct virtio_mmio *t = w->opaque;
	struct virtio_dev *d = t->dev;
	efd_drain(w->fd);
	pthread_mutex_lock(&t->run_lock);
	pthread_mutex_lock(&t->regs_lock);
	unsigned pending = t->pending;
	t->pending = 0;
	pthread_mutex_unlock(&t->regs_lock);
	if ((pending & VIRTIO_MMIO_PENDING_RESET) && t->active) {
		d->ops->reset(d);
		t->active = false;
		d->stats.resets++;
	}
	if ((pending & VIRTIO_MMIO_PENDING_ACTIVATE) && t->live && !t->active) {
		int r = d->ops->activate(d);
		if (r < 0) {
			d->stats.activate_fails++;
			log_ratelimited(LOG_WARN, "%s: activation failed: %s", t->name, strerror(-r));
			virtio_dev_fail(d, "activation failed");
		} else {
			t->active = true;
			d->stats.activations++;
			for (unsigned q = 0; q < d->nr_queues && t->live; q++)
				d->ops->queue_notify(d, q);
		}
	}
	/* Unlocks, after the broken-queue check every device callback gets. */
	virtio_dev_leave(d);
}

/* --- registers (vCPU threads) --- */

static bool mmio_queue_window(const struct virtio_mmio *t)
{
	/* 3.1.1 step 7 / 4.2.3.2: queues are set up after FEATURES_OK and
	 * before DRIVER_OK (no VIRTIO_F_RING_RESET). */
	return (t->status & VIRTIO_CONFIG_S_FEATURES_OK) &&
	       !(t->status & (VIRTIO_CONFIG_S_DRIVER_OK | VIRTIO_CONFIG_S_FAILED |
			      VIRTIO_CONFIG_S_NEEDS_RESET));
}

static uint32_t mmio_read_reg(struct virtio_mmio *t, uint64_t off)
{
	const struct virtio_dev *d = t->dev;
	const struct virtq_config *qc = t->queue_sel < d->nr_queues ? &t->queues[t->queue_sel] : NULL;
	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return VIRTIO_MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION:
		return VIRTIO_MMIO_VERSION_MODERN;
	case VIRTIO_MMIO_DEVICE_ID:
		return d->device_id;
	case VIRTIO_MMIO_VENDOR_ID:
		return VIRTIO_MMIO_VENDOR;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		return t->dev_features_sel < 2 ? (uint32_t)(d->features >> (32 * t->dev_features_sel))
					       : 0;
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		/* 0 tells the driver the queue does not exist (4.2.3.2). */
		return qc ? d->queue_max : 0;
	case VIRTIO_MMIO_QUEUE_NUM:
		return qc ? qc->size : 0;
	case VIRTIO_MMIO_QUEUE_READY:
		return qc ? qc->ready : 0;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return t->isr;
	case VIRTIO_MMIO_STATUS:
		return t->status;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
		return qc ? (uint32_t)qc->desc : 0;
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		return qc ? (uint32_t)(qc->desc >> 32) : 0;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
		return qc ? (uint32_t)qc->avail : 0;
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		return qc ? (uint32_t)(qc->avail >> 32) : 0;
	case VIRTIO_MMIO_QUEUE_USED_LOW:
		return qc ? (uint32_t)qc->used : 0;
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		return qc ? (uint32_t)(qc->used >> 32) : 0;
	case VIRTIO_MMIO_SHM_LEN_LOW:
	case VIRTIO_MMIO_SHM_LEN_HIGH:
		return 0xffffffffu; /* 4.2.2: all ones = no such shared memory region */
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return t->config_gen;
	default:
		log_ratelimited(LOG_DEBUG, "%s: read of write-only or unknown register 0x%" PRIx64,
				t->name, off);
		return 0;
	}
}

/* regs_lock held. The driver acks features page by page (4.2.2.1). */
static void mmio_write_features(struct virtio_mmio *t, uint32_t v)
{
	if ((t->status & ~(uint32_t)VIRTIO_CONFIG_S_NEEDS_RESET) !=
	    (VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER)) {
		log_ratelimited(LOG_WARN, "%s: DriverFeatures written in status 0x%x, ignored",
				t->name, t->status);
		return;
	}
	unsigned sel = t->drv_features_sel;
	uint64_t offered = sel < 2 ? (uint32_t)(t->dev->features >> (32 * sel)) : 0;
	if (v & ~offered) {
		/* 2.2.1: the driver MUST NOT accept what was not offered; the
		 * bits are dropped and FEATURES_OK will be refused. */
		t->bad_features = true;
		log_ratelimited(LOG_WARN, "%s: driver acked unoffered features 0x%x (page %u)",
				t->name, (uint32_t)(v & ~offered), sel);
	}
	if (sel < 2) {
		uint64_t mask = 0xffffffffULL << (32 * sel);
		t->drv_features = (t->drv_features & ~mask) | ((uint64_t)(v & offered) << (32 * sel));
	}
}

/* run_lock and regs_lock held. 0 is a reset (2.1.2, 4.2.2.1). */
static void mmio_reset(struct virtio_mmio *t)
{
	const struct virtio_dev *d = t->dev;
	t->status = 0;
	t->dev_features_sel = t->drv_features_sel = t->queue_sel = 0;
	t->drv_features = 0;
	t->bad_features = false;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		t->queues[q] = (struct virtq_config){ .size = d->queue_max };
	t->isr = 0;
	mmio_update_line(t);
	t->live = false;
	mmio_stop_queues(t);
	t->pending = (t->pending & ~VIRTIO_MMIO_PENDING_ACTIVATE) | VIRTIO_MMIO_PENDING_RESET;
}

/* run_lock and regs_lock held. Returns true if the VMM thread must look. */
static bool mmio_write_status(struct virtio_mmio *t, uint32_t v)
{
	uint32_t old = t->status;
	if (v == 0) {
		mmio_reset(t);
		return true;
	}
	uint32_t added = v & ~old;
	const char *why = NULL;
	if (old & ~v & ~(uint32_t)VIRTIO_CONFIG_S_NEEDS_RESET)
		why = "clears bits (only a reset may)";
	else if (added & ~(uint32_t)VIRTIO_MMIO_DRIVER_BITS)
		why = "sets bits the driver may not";
	else if ((old & VIRTIO_CONFIG_S_FAILED) && added)
		why = "goes on after FAILED";
	else if ((added & VIRTIO_CONFIG_S_DRIVER) && !(v & VIRTIO_CONFIG_S_ACKNOWLEDGE))
		why = "DRIVER before ACKNOWLEDGE";
	else if ((added & VIRTIO_CONFIG_S_FEATURES_OK) && !(v & VIRTIO_CONFIG_S_DRIVER))
		why = "FEATURES_OK before DRIVER";
	else if ((added & VIRTIO_CONFIG_S_DRIVER_OK) && !(old & VIRTIO_CONFIG_S_FEATURES_OK))
		why = "DRIVER_OK before the device accepted FEATURES_OK";
	else if ((added & VIRTIO_CONFIG_S_DRIVER_OK) && (old & VIRTIO_CONFIG_S_NEEDS_RESET))
		why = "DRIVER_OK on a device that needs a reset";
	if (why) {
		log_ratelimited(LOG_WARN, "%s: status 0x%x -> 0x%x refused: %s", t->name, old, v,
				why);
		return false;
	}
	if (added & VIRTIO_CONFIG_S_FEATURES_OK) {
		/* 3.1.1 step 5-6: refuse by leaving FEATURES_OK clear. A
		 * version 2 device needs VIRTIO_F_VERSION_1 (4.2.4). */
		if (t->bad_features || !(t->drv_features & VIRTIO_FEAT_VERSION_1)) {
			log_ratelimited(LOG_WARN, "%s: features 0x%" PRIx64 " refused%s", t->name,
					t->drv_features,
					t->bad_features ? " (unoffered bits acked)"
							: " (VIRTIO_F_VERSION_1 missing)");
			v &= ~(uint32_t)VIRTIO_CONFIG_S_FEATURES_OK;
		}
	}
	t->status = v;
	if (!(added & VIRTIO_CONFIG_S_DRIVER_OK))
		return false;
	if (mmio_start_queues(t) < 0) {
		/* Activation failed before the device saw it: 2.1.2. */
		t->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
		t->isr |= VIRTIO_MMIO_INT_CONFIG;
		mmio_update_line(t);
		if (t->irqfd >= 0)
			efd_signal(t->irqfd);
		t->dev->stats.activate_fails++;
		return false;
	}
	t->dev->acked = t->drv_features;
	t->live = true;
	t->pending |= VIRTIO_MMIO_PENDING_ACTIVATE;
	return true;
}

static void mmio_write_queue(struct virtio_mmio *t, uint64_t off, uint32_t v)
{
	if (t->queue_sel >= t->dev->nr_queues || !mmio_queue_window(t)) {
		/* Linux writes QueueReady=0 after a reset when deleting queues. */
		if (!(off == VIRTIO_MMIO_QUEUE_READY && v == 0))
			log_ratelimited(LOG_WARN,
					"%s: queue register 0x%" PRIx64 " write refused (queue %u, status 0x%x)",
					t->name, off, t->queue_sel, t->status);
		return;
	}
	struct virtq_config *qc = &t->queues[t->queue_sel];
	switch (off) {
	case VIRTIO_MMIO_QUEUE_NUM:
		/* Checked against QueueNumMax when the queue goes live. */
		qc->size = v > 0xffff ? 0 : (uint16_t)v;
		break;
	case VIRTIO_MMIO_QUEUE_READY:
		qc->ready = v & 1;
		break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
		qc->desc = (qc->desc & ~0xffffffffULL) | v;
		break;
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		qc->desc = (qc->desc & 0xffffffffULL) | ((uint64_t)v << 32);
		break;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
		qc->avail = (qc->avail & ~0xffffffffULL) | v;
		break;
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		qc->avail = (qc->avail & 0xffffffffULL) | ((uint64_t)v << 32);
		break;
	case VIRTIO_MMIO_QUEUE_USED_LOW:
		qc->used = (qc->used & ~0xffffffffULL) | v;
		break;
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		qc->used = (qc->used & 0xffffffffULL) | ((uint64_t)v << 32);
		break;
	}
}

static void mmio_notify(struct virtio_mmio *t, uint32_t q)
{
	/* Reached only when no ioeventfd took the write (TCG, or a value no
	 * ioeventfd matches). The VMM thread checks the device is live. */
	if (q >= t->dev->nr_queues) {
		log_ratelimited(LOG_WARN, "%s: notify of queue %u, which does not exist", t->name, q);
		return;
	}
	efd_signal(t->notify_efd[q]);
}

void virtio_mmio_read(void *opaque, uint64_t offset, void *data, uint32_t len)
{
	struct virtio_mmio *t = opaque;
	memset(data, 0, len);
	pthread_mutex_lock(&t->regs_lock);
	if (offset >= 0x100) {
		/* Device config: any width (4.2.2.2 asks drivers for natural
		 * widths; we do not depend on it), bounded by its length. */
		uint64_t off = offset - 0x100;
		if (off < t->config_len && len <= t->config_len - off)
			memcpy(data, t->config + off, len);
		else
			log_ratelimited(LOG_WARN, "%s: config read of %u bytes at %" PRIu64
					" past its end (%zu)", t->name, len, off, t->config_len);
	} else if (len != 4 || offset % 4) {
		/* 4.2.2.2: control registers are 32-bit, aligned. */
		log_ratelimited(LOG_WARN, "%s: %u-byte read at 0x%" PRIx64 " refused", t->name, len,
				offset);
	} else {
		uint32_t v = mmio_read_reg(t, offset);
		memcpy(data, &v, 4);
	}
	pthread_mutex_unlock(&t->regs_lock);
}

void virtio_mmio_write(void *opaque, uint64_t offset, const void *data, uint32_t len)
{
	struct virtio_mmio *t = opaque;
	uint32_t v = 0;
	if (offset >= 0x100) {
		/* None of Ember's devices has a writable config field. */
		log_ratelimited(LOG_WARN, "%s: config write at %" PRIu64 " refused", t->name,
				offset - 0x100);
		return;
	}
	if (len != 4 || offset % 4) {
		log_ratelimited(LOG_WARN, "%s: %u-byte write at 0x%" PRIx64 " refused", t->name, len,
				offset);
		return;
	}
	memcpy(&v, data, 4);
	if (offset == VIRTIO_MMIO_QUEUE_NOTIFY) {
		mmio_notify(t, v);
		return;
	}
	if (offset == VIRTIO_MMIO_STATUS) {
		/* run_lock first: see the threading rule in mmio.h. */
		pthread_mutex_lock(&t->run_lock);
		pthread_mutex_lock(&t->regs_lock);
		bool kick = mmio_write_status(t, v);
		pthread_mutex_unlock(&t->regs_lock);
		pthread_mutex_unlock(&t->run_lock);
		if (kick)
			efd_signal(t->ctrl_efd);
		return;
	}
	pthread_mutex_lock(&t->regs_lock);
	switch (offset) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		t->dev_features_sel = v;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		t->drv_features_sel = v;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		mmio_write_features(t, v);
		break;
	case VIRTIO_MMIO_QUEUE_SEL:
		t->queue_sel = v;
		break;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		t->isr &= ~v;
		mmio_update_line(t);
		break;
	case VIRTIO_MMIO_QUEUE_NUM:
	case VIRTIO_MMIO_QUEUE_READY:
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
	case VIRTIO_MMIO_QUEUE_USED_LOW:
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		mmio_write_queue(t, offset, v);
		break;
	default:
		log_ratelimited(LOG_WARN, "%s: write to read-only or unknown register 0x%" PRIx64,
				t->name, offset);
	}
	pthread_mutex_unlock(&t->regs_lock);
}

const struct bus_ops virtio_mmio_bus_ops = { virtio_mmio_read, virtio_mmio_write };

/* --- life cycle --- */

static void mmio_free(struct virtio_mmio *t);

static int mmio_setup_irq(struct virtio_mmio *t)
{
	/* Without an irqfd the line itself must exist (the TCG backend's
	 * 8259 pair has only ISA lines 0-15): find out now, not when the
	 * guest waits for its first interrupt. */
	if (!t->be || !t->be->add_irqfd)
		return irq_line_set(&t->irq, false);
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0)
		return -errno;
	int r = t->be->add_irqfd(t->bvm, t->irq.gsi, fd);
	if (r == -EOPNOTSUPP) {
		close(fd);
		return irq_line_set(&t->irq, false);
	}
	if (r < 0) {
		close(fd);
		return r;
	}
	t->irqfd = fd;
	return 0;
}

static int mmio_setup_queue(struct virtio_mmio *t, unsigned q)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0)
		return -errno;
	t->notify_efd[q] = fd;
	if (t->be && t->be->add_ioeventfd) {
		int r = t->be->add_ioeventfd(t->bvm, t->base + VIRTIO_MMIO_QUEUE_NOTIFY, 4, q, fd);
		if (r < 0 && r != -EOPNOTSUPP)
			return r;
	}
	return vhub_add(t->hub, &t->notify_w[q], fd, EPOLLIN, mmio_on_notify, t);
}

int virtio_mmio_create(struct virtio_dev *dev, const struct virtio_mmio_opts *o,
		       struct virtio_mmio **out)
{
	if (dev->nr_queues > VIRTIO_MAX_QUEUES || dev->config_len > VIRTIO_MMIO_CONFIG_MAX ||
	    dev->queue_max == 0 || dev->queue_max > VIRTQ_MAX_SIZE ||
	    !(dev->features & VIRTIO_FEAT_VERSION_1))
		return -EINVAL;
	struct virtio_mmio *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->dev = dev;
	t->hub = o->hub;
	t->base = o->base;
	t->be = o->be;
	t->bvm = o->bvm;
	t->irq = o->irq;
	t->irqfd = t->ctrl_efd = -1;
	t->ctrl_w.fd = -1;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		t->notify_efd[q] = -1;
		t->notify_w[q].fd = -1;
		t->queues[q].size = dev->queue_max;
	}
	pthread_mutex_init(&t->regs_lock, NULL);
	pthread_mutex_init(&t->run_lock, NULL);
	snprintf(t->name, sizeof(t->name), "%s@0x%" PRIx64, dev->name, o->base);
	if (dev->config_len)
		memcpy(t->config, dev->config, dev->config_len);
	t->config_len = dev->config_len;
	dev->mem = o->mem;
	dev->hub = o->hub;
	for (unsigned q = 0; q < dev->nr_queues; q++) {
		dev->vqs[q].name = t->name;
		dev->vqs[q].index = q;
	}
	dev->transport = t;

	int r = mmio_setup_irq(t);
	if (r == 0) {
		t->ctrl_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		r = t->ctrl_efd < 0 ? -errno : vhub_add(o->hub, &t->ctrl_w, t->ctrl_efd,
							 EPOLLIN, mmio_on_ctrl, t);
	}
	for (unsigned q = 0; r == 0 && q < dev->nr_queues; q++)
		r = mmio_setup_queue(t, q);
	if (r < 0) {
		dev->transport = NULL;
		mmio_free(t);
		return r;
	}
	*out = t;
	return 0;
}

int virtio_mmio_register(struct virtio_mmio *t, struct bus *bus)
{
	return bus_add(bus, t->base, VIRTIO_MMIO_SIZE, &virtio_mmio_bus_ops, t, t->name);
}

/* Everything but the device. */
static void mmio_free(struct virtio_mmio *t)
{
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		vhub_del(t->hub, &t->notify_w[q]);
		if (t->notify_efd[q] >= 0)
			close(t->notify_efd[q]);
	}
	vhub_del(t->hub, &t->ctrl_w);
	if (t->ctrl_efd >= 0)
		close(t->ctrl_efd);
	if (t->irqfd >= 0)
		close(t->irqfd);
	pthread_mutex_destroy(&t->regs_lock);
	pthread_mutex_destroy(&t->run_lock);
	free(t);
}

void virtio_mmio_destroy(struct virtio_mmio *t)
{
	if (!t)
		return;
	if (t->active)
		t->dev->ops->reset(t->dev);
	t->active = false;
	mmio_stop_queues(t);
	t->dev->ops->destroy(t->dev);
	mmio_free(t);
}

int virtio_mmio_save(struct virtio_mmio *t, struct virtio_mmio_state *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&t->regs_lock);
	st->version = VIRTIO_MMIO_STATE_VERSION;
	st->status = t->status;
	st->dev_features_sel = t->dev_features_sel;
	st->drv_features_sel = t->drv_features_sel;
	st->queue_sel = t->queue_sel;
	st->drv_features = t->drv_features;
	st->isr = t->isr;
	st->config_gen = t->config_gen;
	memcpy(st->queues, t->queues, sizeof(st->queues));
	pthread_mutex_unlock(&t->regs_lock);
	return 0;
}
