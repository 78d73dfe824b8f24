/* What every virtio device shares, and what a device sees of its transport.
 *
 * A device embeds struct virtio_dev and fills in its ops table, features,
 * queues and initial config space; the virtio-mmio transport (virtio/mmio.h)
 * owns the registers, the status state machine and feature negotiation, and
 * calls the ops below. Devices never see raw registers.
 *
 * Threading: every op runs on the VMM thread with the device's run lock
 * held (see virtio/mmio.h for the rule), so device state needs no locks. */
#ifndef EMBER_VIRTIO_VIRTIO_H
#define EMBER_VIRTIO_VIRTIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/base/device.h"
#include "runtime/base/gmem.h"
#include "virtio/hub.h"
#include "virtio/virtqueue.h"

/* Feature bits every device may offer (virtio 1.2 section 6). */
#define VIRTIO_BIT(b) (1ULL << (b))
#define VIRTIO_FEAT_INDIRECT_DESC VIRTIO_BIT(28) /* 2.7.5.3 */
#define VIRTIO_FEAT_EVENT_IDX VIRTIO_BIT(29)     /* 2.7.7, 2.7.10 */
#define VIRTIO_FEAT_VERSION_1 VIRTIO_BIT(32)     /* required of modern drivers */

#define VIRTIO_MAX_QUEUES 4
#define VIRTIO_DEV_STATE_MAX 256 /* bytes of a device's own snapshot state */

struct virtio_dev;

struct virtio_dev_ops {
	/* The driver set DRIVER_OK and the live queues passed validation;
	 * vd->acked holds the negotiated features. A failure marks the device
	 * NEEDS_RESET. */
	int (*activate)(struct virtio_dev *vd);
	/* The driver reset the device: drop whatever activate built. Queues
	 * are already stopped. Only called after a successful activate. */
	void (*reset)(struct virtio_dev *vd);
	/* The driver notified queue q (also called once per queue right after
	 * activation, so a notification that raced it is never lost). */
	void (*queue_notify)(struct virtio_dev *vd, unsigned q);
	/* The device's own counters, running totals under fixed names (the
	 * transport adds those it keeps for every device). */
	void (*counters)(const struct virtio_dev *vd, device_counter_fn fn, void *ctx);
	/* Snapshot state beyond the transport's, plain and versioned, at most
	 * VIRTIO_DEV_STATE_MAX bytes; required (the transport refuses a
	 * device without them). save: as struct device_ops; nothing is in
	 * flight then. restore: on a device just created and never
	 * activated, before the transport activates it (if the saved status
	 * had DRIVER_OK); checks all of buf, -EINVAL and nothing changed if
	 * bad. activate must then keep what restore set. */
	int (*save)(struct virtio_dev *vd, void *buf, size_t len);
	int (*restore)(struct virtio_dev *vd, const void *buf, size_t len);
	/* Frees the device (after reset, if it was active). */
	void (*destroy)(struct virtio_dev *vd);
};

/* Counters the transport keeps for every device (VMM thread). */
struct virtio_dev_stats {
	uint64_t queue_notifies;  /* notifications handled */
	uint64_t interrupts;      /* used-buffer interrupts raised */
	uint64_t config_changes;  /* config-change interrupts raised */
	uint64_t activations;
	uint64_t activate_fails;  /* activations refused (device marked NEEDS_RESET) */
	uint64_t resets;
};

struct virtio_dev {
	const char *name;            /* for log lines, e.g. "virtio-blk rootfs" */
	uint32_t device_id;          /* section 5: 1 net, 2 block, 4 rng, 19 vsock */
	const struct virtio_dev_ops *ops;
	uint64_t features;           /* offered; fixed at creation */
	uint64_t acked;              /* negotiated; valid while active */
	unsigned nr_queues;          /* <= VIRTIO_MAX_QUEUES */
	uint16_t queue_max;          /* QueueNumMax of every queue */
	struct virtq vqs[VIRTIO_MAX_QUEUES];
	/* The config space, kept current by the device (what it passes to
	 * virtio_dev_config_changed): copied by the transport at creation,
	 * compared with the saved one on restore. */
	const uint8_t *config;
	size_t config_len;
	const struct guest_mem *mem; /* set by the transport */
	struct vhub *hub;            /* set by the transport */
	struct virtio_mmio *transport;
	/* Set by the transport: a notification stops the guest CPU until the
	 * VMM has taken it (no ioeventfd; the software CPU), so a device may
	 * prefer fewer of them (vnet_set_tx_batch). */
	bool notify_exits;
	struct virtio_dev_stats stats;
};

/* --- what a device may call (VMM thread, inside an op or between
 * virtio_dev_enter/leave) --- */

/* Raises the used-buffer interrupt if the driver wants one for queue q. */
void virtio_dev_signal_used(struct virtio_dev *vd, unsigned q);
/* New config space contents: the generation counter moves and the driver
 * gets a config-change interrupt (4.2.2.1). */
void virtio_dev_config_changed(struct virtio_dev *vd, const void *config, size_t len);
/* The device cannot go on: NEEDS_RESET plus a config-change interrupt
 * (2.1.2), queues stopped until the driver resets. Nothing would serve
 * the device's host fds meanwhile, and a readable one left in the hub
 * keeps the VMM thread spinning: if it was active, its reset op runs as
 * the callback that failed it ends (virtio_dev_leave), not at the
 * driver's reset; activation after that reset takes them back. */
void virtio_dev_fail(struct virtio_dev *vd, const char *why);
/* Around a callback of the device's own fds (TAP, sockets): takes the run
 * lock; returns true if the device is active and may touch its queues.
 * leave also fails the device if a queue turned out broken, and brings the
 * hub back to a queue whose VIRTQ_BUDGET ran out (virtqueue.h). */
bool virtio_dev_enter(struct virtio_dev *vd);
void virtio_dev_leave(struct virtio_dev *vd);
/* Whether a negotiated feature is on (meaningful while active). */
static inline bool virtio_dev_has(const struct virtio_dev *vd, uint64_t feature)
{
	return (vd->acked & feature) != 0;
}

#endif
