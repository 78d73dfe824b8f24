/* Internals shared by the parts of the virtio-mmio transport: mmio.c (the
 * register file, vCPU threads), mmio_run.c (the VMM-thread side: device
 * API, notifications, activation, life cycle), mmio_state.c (snapshots);
 * the functions below live in mmio_core.c. */
#ifndef EMBER_VIRTIO_MMIO_INT_H
#define EMBER_VIRTIO_MMIO_INT_H

#include <stdbool.h>

#include "virtio/mmio.h"

/* What the vCPU side leaves for the VMM thread in t->pending. */
#define VIRTIO_MMIO_PENDING_RESET 1u
#define VIRTIO_MMIO_PENDING_ACTIVATE 2u

void virtio_mmio_efd_signal(int fd);
/* regs_lock held. With an irq line, its level follows InterruptStatus. */
void virtio_mmio_update_line(struct virtio_mmio *t);
/* Sets InterruptStatus bits and interrupts (takes regs_lock). */
void virtio_mmio_raise(struct virtio_mmio *t, uint32_t bits);
/* vCPU thread, no lock held: runs queue q's handler right here if the
 * device allows it (virtio_dev.inline_queues), there is no ioeventfd and
 * run_lock is free; at most one VIRTQ_BUDGET pass, the rest goes to the
 * VMM thread through the queue's eventfd. false: nothing ran, signal the
 * eventfd. */
bool virtio_mmio_notify_inline(struct virtio_mmio *t, unsigned q);
/* run_lock held. */
void virtio_mmio_stop_queues(struct virtio_mmio *t);
/* run_lock and regs_lock held: registers as after a driver's reset,
 * queues stopped, device reset left to the VMM thread. */
void virtio_mmio_reset(struct virtio_mmio *t);

#endif
