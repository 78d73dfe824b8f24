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
};

/* Explicit, versioned transport state for snapshots. */
#define VIRTIO_MMIO_STATE_VERSION 1
struct virtio_mmio_state {
	uint32_t version;
	uint32_t status, dev_features_sel, drv_features_sel, queue_sel;
	uint64_t drv_features;
	uint32_t isr, config_gen;
	struct virtq_config queues[VIRTIO_MAX_QUEUES];
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
	/* VMM thread */
	bool active;              /* dev->ops->activate succeeded */
	int ctrl_efd;
	struct vhub_watch ctrl_w;
	int notify_efd[VIRTIO_MAX_QUEUES];
	struct vhub_watch notify_w[VIRTIO_MAX_QUEUES];
	char name[48];
};

extern const struct bus_ops virtio_mmio_bus_ops;
/* A transport and its device as the VM sees them: counters (the
 * transport's, then the device's), destroy (virtio_mmio_destroy). */
extern const struct device_ops virtio_mmio_device_ops;

/* Builds the transport around dev (eventfds, ioeventfd/irqfd when the
 * backend has them). On failure nothing is left behind and dev is still
 * the caller's; on success the transport owns dev. */
int virtio_mmio_create(struct virtio_dev *dev, const struct virtio_mmio_opts *o,
		       struct virtio_mmio **out);
int virtio_mmio_register(struct virtio_mmio *t, struct bus *bus);
/* Resets the device if active, destroys it, frees everything. NULL is fine.
 * The vCPUs must be stopped. */
void virtio_mmio_destroy(struct virtio_mmio *t);

/* The bus callbacks (vCPU threads), exposed for tests. */
void virtio_mmio_read(void *opaque, uint64_t offset, void *data, uint32_t len);
void virtio_mmio_write(void *opaque, uint64_t offset, const void *data, uint32_t len);

int virtio_mmio_save(struct virtio_mmio *t, struct virtio_mmio_state *st);

#endif
