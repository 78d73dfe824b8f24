/* What both halves of the transport (mmio.c, mmio_run.c) and its snapshot
 * part (mmio_state.c) share: eventfd signals, the interrupt line, stopping
 * the queues, the register reset. Below the three, so none calls up. */
#include <stdint.h>
#include <unistd.h>

#include "virtio/mmio_int.h"

void virtio_mmio_efd_signal(int fd)
{
	uint64_t one = 1;
	ssize_t n = write(fd, &one, sizeof(one));
	(void)n; /* a saturated counter still wakes the reader */
}

/* --- interrupts --- */

/* regs_lock held. With an irq line, its level follows InterruptStatus. */
void virtio_mmio_update_line(struct virtio_mmio *t)
{
	if (t->irqfd < 0)
		irq_line_set(&t->irq, t->isr != 0);
}

void virtio_mmio_raise(struct virtio_mmio *t, uint32_t bits)
{
	pthread_mutex_lock(&t->regs_lock);
	t->isr |= bits;
	virtio_mmio_update_line(t);
	pthread_mutex_unlock(&t->regs_lock);
	if (t->irqfd >= 0)
		virtio_mmio_efd_signal(t->irqfd);
}

/* --- queues --- */

void virtio_mmio_stop_queues(struct virtio_mmio *t)
{
	for (unsigned q = 0; q < t->dev->nr_queues; q++)
		virtq_stop(&t->dev->vqs[q]);
}

/* 0 written to Status is a reset (2.1.2, 4.2.2.1). */
void virtio_mmio_reset(struct virtio_mmio *t)
{
	const struct virtio_dev *d = t->dev;
	t->status = 0;
	t->dev_features_sel = t->drv_features_sel = t->queue_sel = 0;
	t->drv_features = 0;
	t->bad_features = false;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		t->queues[q] = (struct virtq_config){ .size = d->queue_max };
	t->isr = 0;
	virtio_mmio_update_line(t);
	t->live = false;
	virtio_mmio_stop_queues(t);
	t->pending = (t->pending & ~VIRTIO_MMIO_PENDING_ACTIVATE) | VIRTIO_MMIO_PENDING_RESET;
}
