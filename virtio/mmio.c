/* The virtio-mmio register file (virtio 1.2 section 4.2.2), reached from
 * vCPU threads through the bus: status state machine, feature negotiation,
 * queue set-up window, interrupt acknowledge, config space. The VMM-thread
 * half is mmio_run.c. */
#include "virtio/mmio.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <string.h>

#include "runtime/base/log.h"
#include "virtio/mmio_int.h"

/* Status bits the driver may set (2.1); NEEDS_RESET is the device's. */
#define VIRTIO_MMIO_DRIVER_BITS                                                           \
	(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK | \
	 VIRTIO_CONFIG_S_DRIVER_OK | VIRTIO_CONFIG_S_FAILED)

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
			virtio_mmio_stop_queues(t);
			return r;
		}
	}
	return 0;
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

/* run_lock and regs_lock held. Returns true if the VMM thread must look. */
static bool mmio_write_status(struct virtio_mmio *t, uint32_t v)
{
	uint32_t old = t->status;
	if (v == 0) {
		virtio_mmio_reset(t);
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
	/* NEEDS_RESET is the device's: a driver writing the status back
	 * without it does not clear it, only a reset does (2.1.2). */
	t->status = v | (old & VIRTIO_CONFIG_S_NEEDS_RESET);
	if (!(added & VIRTIO_CONFIG_S_DRIVER_OK))
		return false;
	if (mmio_start_queues(t) < 0) {
		/* Activation failed before the device saw it: 2.1.2. */
		t->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
		t->isr |= VIRTIO_MMIO_INT_CONFIG;
		virtio_mmio_update_line(t);
		if (t->irqfd >= 0)
			virtio_mmio_efd_signal(t->irqfd);
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
	virtio_mmio_efd_signal(t->notify_efd[q]);
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
			virtio_mmio_efd_signal(t->ctrl_efd);
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
		virtio_mmio_update_line(t);
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
