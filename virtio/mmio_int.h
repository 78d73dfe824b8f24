/* Internals shared by the parts of the virtio-mmio transport: mmio.c (the
 * register file, vCPU threads), mmio_run.c (the VMM-thread side: device
 * API, notifications, activation, life cycle), mmio_state.c (snapshots);
 * the functions below live in mmio_core.c. */
#ifndef EMBER_VIRTIO_MMIO_INT_H
#define EMBER_VIRTIO_MMIO_INT_H

#include "virtio/mmio.h"

/* What the vCPU side leaves for the VMM thread in t->pending. */
#define VIRTIO_MMIO_PENDING_RESET 1u
#define VIRTIO_MMIO_PENDING_ACTIVATE 2u

void virtio_mmio_efd_signal(int fd);
/* regs_lock held. With an irq line, its level follows InterruptStatus. */
void virtio_mmio_update_line(struct virtio_mmio *t);
/* Sets InterruptStatus bits and interrupts (takes regs_lock). */
void virtio_mmio_raise(struct virtio_mmio *t, uint32_t bits);
/* run_lock held. */
void virtio_mmio_stop_queues(struct virtio_mmio *t);
/* run_lock and regs_lock held: registers as after a driver's reset,
 * queues stopped, device reset left to the VMM thread. */
void virtio_mmio_reset(struct virtio_mmio *t);

#endif
