/* The virtio-mmio transport, version 2 registers (virtio 1.2 section 4.2.2):
 * mmio.c holds the register file (vCPU threads), mmio_run.c the VMM-thread
 * side (device API, notifications, activation, life cycle).
 *
 * Threading rule (why devices need no locks):
 *  - Register accesses come from vCPU threads and are serialised by
 *    regs_lock, held only briefly.
 *  - Device code runs on the VMM thread, always with run_lock held (the
 *    transport's own callbacks take it; a device's fd callbacks use
 *    virtio_dev_enter/leave).
 *  - A status write (reset, DRIVER_OK) takes run_lock before regs_lock, so
 *    when the guest's reset write returns, no device code is touching its
 *    queues and none will until it is activated again: the queues are
 *    stopped under both locks. Device-level work (activate, reset) is then
 *    handed to the VMM thread through an eventfd.
 *  - Queue notifications: an ioeventfd on KVM (the write never leaves the
 *    kernel); otherwise the QueueNotify write handler writes the same
 *    eventfd. Interrupts: an irqfd on KVM (edge, as Firecracker); otherwise
 *    the irq_line at level (InterruptStatus != 0), updated on every change
 *    and on InterruptACK, which is right for edge and level controllers
 *    alike: every 0 -> non-zero change is a new edge, and the driver acks
 *    all it has read.
 *  - Lock order: run_lock, then regs_lock; irq_line.set is called under
 *    regs_lock and never calls back into a device. */
#ifndef EMBER_VIRTIO_MMIO_H
#define EMBER_VIRTIO_MMIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "runtime/backend/backend.h"
#include "runtime/base/bus.h"
#include "runtime/base/irq.h"
#include "virtio/hub.h"
#include "virtio/virtio.h"

#define VIRTIO_MMIO_SIZE 0x1000ULL
#define VIRTIO_MMIO_MAGIC 0x74726976U /* "virt" */
#define VIRTIO_MMIO_VERSION_MODERN 2
#define VIRTIO_MMIO_VENDOR 0          /* as Firecracker */
#define VIRTIO_MMIO_CONFIG_MAX (VIRTIO_MMIO_SIZE - 0x100)

struct virtio_mmio_opts {
	uint64_t base;                 /* guest-physical address of the 4 KiB window */
	struct irq_line irq;           /* used when there is no irqfd */
	const struct backend_ops *be;  /* NULL (tests) or the VM's backend */
	struct backend_vm *bvm;
	struct vhub *hub;
	const struct guest_mem *mem;
	/* Told about every device write into guest memory before the guest
	 * can see it completed (a software CPU forgets code translated from
	 * it; dirty pages for Diff snapshots). fn NULL: nobody asks. */
	struct virtq_written_hook written;
};

/* Snapshot blob (virtio_mmio_save): this header, then config_len bytes of
 * config space as the guest sees it, then dev_len bytes of the device's
 * own state (virtio_dev_ops.save). Fixed-width fields, no padding, host
 * byte order; reserved fields are 0. Version 1 was an in-memory struct
 * that never reached a file. */
#define VIRTIO_MMIO_STATE_VERSION 2

/* One queue: the registers as the driver wrote them, and the virtqueue's
 * indexes (struct virtq_state), which are 0 unless the queue is live. */
struct virtio_mmio_queue_state {
	uint64_t desc, avail, used;
	uint16_t size;            /* QueueNum (0 if the driver wrote > 0xffff) */
	uint16_t last_avail, used_idx, signalled_used;
	uint8_t ready;            /* QueueReady, 0 or 1 */
	uint8_t signalled_valid;  /* 0 or 1 */
	uint8_t reserved[6];
};

struct virtio_mmio_state {
	uint32_t version;
	uint32_t device_id, nr_queues; /* must match the device restored into */
	uint32_t status;
	uint32_t dev_features_sel, drv_features_sel, queue_sel;
	uint32_t isr;                  /* InterruptStatus */
	uint64_t drv_features;
	uint32_t config_gen;
	uint32_t config_len;           /* bytes of config space after the header */
	uint32_t dev_len;              /* bytes of device state after those */
	uint8_t bad_features;          /* unoffered bits acked: FEATURES_OK will be refused */
	uint8_t reserved[3];
	struct virtio_mmio_queue_state queues[VIRTIO_MAX_QUEUES];
};

struct virtio_mmio {
	struct virtio_dev *dev;
	struct vhub *hub;
	uint64_t base;
	const struct backend_ops *be;
	struct backend_vm *bvm;
	struct irq_line irq;
	int irqfd;                /* -1: drive irq instead */
	pthread_mutex_t regs_lock, run_lock;
	/* regs_lock */
	uint32_t status, dev_features_sel, drv_features_sel, queue_sel;
	uint64_t drv_features;
	bool bad_features;        /* the driver acked something not offered */
	uint32_t isr, config_gen;
	struct virtq_config queues[VIRTIO_MAX_QUEUES];
	uint8_t config[VIRTIO_MMIO_CONFIG_MAX];
	size_t config_len;
	unsigned pending;         /* VIRTIO_MMIO_PENDING_* for the VMM thread */
	/* run_lock */
	bool live;                /* queues started; device may run once active */
	/* VMM thread, run_lock */
	bool active;              /* dev->ops->activate succeeded */
	/* virtio_dev_fail ran: virtio_dev_leave resets the device at once
	 * (failing), which then waits for the driver's reset (halted). */
	bool failing, halted;
	int ctrl_efd;
	struct vhub_watch ctrl_w;
	int notify_efd[VIRTIO_MAX_QUEUES];
	struct vhub_watch notify_w[VIRTIO_MAX_QUEUES];
	char name[48];
};

extern const struct bus_ops virtio_mmio_bus_ops;
/* A transport and its device as the VM sees them: counters (the
 * transport's, then the device's), snapshot state (virtio_mmio_save and
 * virtio_mmio_restore), destroy (virtio_mmio_destroy). */
extern const struct device_ops virtio_mmio_device_ops;

/* Builds the transport around dev (eventfds, ioeventfd/irqfd when the
 * backend has them). -EINVAL for a device the transport cannot carry (too
 * many queues or too much config, no VIRTIO_F_VERSION_1, no snapshot
 * ops). On failure nothing is left behind and dev is still the caller's;
 * on success the transport owns dev. */
int virtio_mmio_create(struct virtio_dev *dev, const struct virtio_mmio_opts *o,
		       struct virtio_mmio **out);
int virtio_mmio_register(struct virtio_mmio *t, struct bus *bus);
/* Resets the device if active, destroys it, frees everything. NULL is fine.
 * The vCPUs must be stopped. */
void virtio_mmio_destroy(struct virtio_mmio *t);

/* The bus callbacks (vCPU threads), exposed for tests. */
void virtio_mmio_read(void *opaque, uint64_t offset, void *data, uint32_t len);
void virtio_mmio_write(void *opaque, uint64_t offset, const void *data, uint32_t len);

/* Snapshots (mmio_state.c), on the VMM thread with the vCPUs stopped.
 *
 * save writes the blob above into buf and returns its size; -ENOSPC if
 * len is too small, -E2BIG if the device's state outgrew
 * VIRTIO_DEV_STATE_MAX. Nothing is in flight at that point: every device
 * completes what it pops within the callback that popped it.
 *
 * restore takes a blob from a file (hostile) into a transport just created
 * around a fresh device, before any guest code runs; -EBUSY if the
 * transport was already driven. It checks the whole blob first (-EINVAL,
 * nothing changed; the device's own restore is undone if the config space
 * it then presents differs from the saved one). Then: the device's state,
 * the registers, and with DRIVER_OK (and no NEEDS_RESET) the live queues at
 * their saved indexes, dev->ops->activate with the negotiated features, the
 * interrupt re-asserted if InterruptStatus was non-zero (the edge may have
 * been lost with the old process; a spurious one is harmless), and every
 * queue's notify eventfd written once, since a notification pending at
 * save time died with the old eventfd: the hub then looks at each queue as
 * after an activation. Restore itself reads no guest memory. If activate
 * fails, the transport is left reset and its error returned. FAILED and
 * NEEDS_RESET come back as they were; a NEEDS_RESET device stays stopped
 * until the driver resets it. The VM should restore its interrupt
 * controller first, so the re-asserted interrupt lands on top of it. */
int virtio_mmio_save(struct virtio_mmio *t, void *buf, size_t len);
int virtio_mmio_restore(struct virtio_mmio *t, const void *buf, size_t len);

#endif
