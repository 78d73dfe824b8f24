/* Split virtqueues (virtio 1.2 section 2.7), device side.
 *
 * The rings are validated once, when the queue goes live (virtq_start):
 * size a power of two and at most the device's maximum, each ring aligned
 * and wholly inside one guest memory region. After that the VMM thread
 * keeps host pointers to the three rings (obtained from gm_ptr) and reads
 * each guest-written field exactly once per use, so a guest changing a
 * value under us can only confuse itself.
 *
 * A chain is walked with a hop limit (queue size, section 2.7.5.3.1),
 * indirect tables are checked (length a non-zero multiple of 16, in guest
 * memory, no nesting), and lengths are summed with overflow checks. Every
 * buffer becomes an iovec into guest memory, so devices can readv/writev
 * straight into it. A malformed chain whose head is sane is handed back to
 * the guest as used with length 0 (a dropped request); a ring that lies
 * about its indexes makes the queue "broken" until the device is reset.
 *
 * Device writes: the driver may run code from the buffers it gets back
 * (a block read of an executable), and a software CPU must first forget
 * what it translated from the old bytes. virtq_push_chain reports a
 * chain's whole writable part to the queue's written hook before the used
 * index is published (the written length says what the driver may read,
 * not where the device wrote).
 *
 * Threading: only the VMM thread touches a live virtq. */
#ifndef EMBER_VIRTIO_VIRTQUEUE_H
#define EMBER_VIRTIO_VIRTQUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "runtime/base/gmem.h"

/* The largest queue any Ember device offers (Firecracker uses 256 too); it
 * also bounds a chain (descriptors, direct and indirect, per request). */
#define VIRTQ_MAX_SIZE 256
/* Avail entries one device callback may take from a queue, chains dropped
 * as malformed included: a guest that keeps posting from another vCPU must
 * not keep the VMM thread (the API, the other devices) as long as it likes.
 * Past it virtq_pop finds nothing and virtq_enable_notify nothing new, so
 * every device loop ends; the transport then calls virtq_budget_reset and
 * comes back to the queue on the hub's next pass. */
#define VIRTQ_BUDGET 256

/* What the driver wrote into the transport's queue registers. */
struct virtq_config {
	uint16_t size;
	bool ready;
	uint64_t desc, avail, used; /* guest-physical ring addresses */
};

/* One request: readable buffers first (iov[0..nr_out)), then writable ones
 * (iov[nr_out..nr_out+nr_in)), as section 2.7.4.2 requires of the driver.
 * Zero-length descriptors are accepted and produce no iovec. */
struct virtq_chain {
	uint16_t head;
	unsigned nr_out, nr_in;
	uint32_t out_len, in_len; /* byte sums, overflow-checked */
	struct iovec iov[VIRTQ_MAX_SIZE];
	uint64_t gpa[VIRTQ_MAX_SIZE]; /* guest-physical address of each iov */
};

/* Told about guest memory a device wrote (gpa, len), before the used entry
 * that covers it is published: a software CPU must forget code translated
 * from it (backend_ops.guest_written). */
struct virtq_written_hook {
	void (*fn)(void *opaque, uint64_t gpa, uint64_t len);
	void *opaque;
};

struct virtq_stats {
	uint64_t popped;    /* chains handed to the device */
	uint64_t malformed; /* chains dropped (used with length 0) */
	uint64_t broken;    /* times the ring itself was found lying */
};

/* Explicit, versioned state for snapshots (plain data, re-validated on
 * restore like anything else from outside). */
#define VIRTQ_STATE_VERSION 1
struct virtq_state {
	uint32_t version;
	struct virtq_config cfg;
	uint16_t last_avail, used_idx, signalled_used;
	uint8_t signalled_valid;
};

struct virtq {
	const char *name;  /* owner, for log lines (kept across stop) */
	unsigned index;
	struct virtq_written_hook written; /* kept across stop; fn NULL: none */
	const struct guest_mem *mem;
	struct virtq_config cfg;
	bool live;      /* validated, in use */
	bool broken;    /* the ring lied: processing stops until reset */
	bool event_idx; /* VIRTIO_F_EVENT_IDX negotiated (2.7.7, 2.7.10) */
	bool indirect;  /* VIRTIO_F_INDIRECT_DESC negotiated (2.7.5.3) */
	uint8_t *desc, *avail, *used; /* host views of the rings */
	uint16_t last_avail;     /* next avail ring slot to read */
	/* virtq_unpop may rewind last_avail down to here, no further: the
	 * entries before were used (by virtq_pop or a push) or never popped. */
	uint16_t unpop_floor;
	uint16_t used_idx;       /* next used ring slot to write */
	uint16_t signalled_used; /* used_idx when we last decided about an interrupt */
	bool signalled_valid;
	unsigned taken;    /* avail entries taken since the budget was reset */
	bool over_budget;  /* and some were left for later */
	struct virtq_stats stats;
};

/* Checks a queue configuration against a device maximum and guest memory
 * (section 2.7: sizes and alignment of the three parts). 0 or -EINVAL. */
int virtq_check_config(const struct virtq_config *cfg, uint16_t max_size,
		       const struct guest_mem *mem);
/* Validates cfg and makes the queue live with fresh indexes. */
int virtq_start(struct virtq *vq, const struct guest_mem *mem, const struct virtq_config *cfg,
		uint16_t max_size, bool event_idx, bool indirect);
/* Back to the reset state (not live, not broken, stats kept). */
void virtq_stop(struct virtq *vq);

/* Takes the next available chain. Returns 1 with *c filled, 0 when nothing
 * is available, -EIO when the queue is (or just became) broken. Malformed
 * chains are completed with length 0 and skipped. */
int virtq_pop(struct virtq *vq, struct virtq_chain *c);
/* Gives back the last chain popped and not yet given back (e.g. no room
 * for it yet); it will be popped again. Repeated calls give back earlier
 * pops, newest first, but never rewind across an entry that is already
 * used: one virtq_pop completed or skipped itself (a malformed chain), or
 * any push since. -EINVAL then (or when nothing was popped): that chain
 * stays the caller's, to complete with virtq_push. */
int virtq_unpop(struct virtq *vq);
/* Marks a chain used with `written` bytes written into its writable part.
 * Reports nothing to the written hook: for chains the device did not
 * write, or whose writes were reported with virtq_report_written. */
void virtq_push(struct virtq *vq, uint16_t head, uint32_t written);
/* Reports the whole writable part of c to the written hook (the length
 * written says how much the driver may read, not where the device
 * wrote), then pushes it. Use for every chain the device may have
 * written into. */
void virtq_push_chain(struct virtq *vq, const struct virtq_chain *c, uint32_t written);
/* Tells the written hook the device wrote [gpa, gpa + len). */
void virtq_report_written(struct virtq *vq, uint64_t gpa, uint64_t len);
/* After pushes: whether the driver wants an interrupt now (2.7.7.2). */
bool virtq_should_notify(struct virtq *vq);
/* Tells the driver to notify us for the next buffer (2.7.10) and returns
 * true if buffers arrived meanwhile, so the caller keeps popping. */
bool virtq_enable_notify(struct virtq *vq);
/* Asks the driver not to notify: the device will come back to the queue
 * by itself (a timer). With EVENT_IDX, leaving avail_event behind is
 * enough; without it, VRING_USED_F_NO_NOTIFY. virtq_enable_notify ends it. */
void virtq_disable_notify(struct virtq *vq);
/* A new budget; true if the last one ran out with entries left. */
bool virtq_budget_reset(struct virtq *vq);
/* Whether unread entries are in the avail ring (no side effects). */
bool virtq_has_avail(struct virtq *vq);

int virtq_save(const struct virtq *vq, struct virtq_state *st);
/* The used ring of a live queue, which the device writes (entries, index,
 * avail_event): 0, or -ENODEV if the queue is not live. */
int virtq_used_range(const struct virtq *vq, uint64_t *gpa, uint64_t *len);
/* Re-validates everything, as if st came from an attacker. */
int virtq_restore(struct virtq *vq, const struct guest_mem *mem, const struct virtq_state *st,
		  uint16_t max_size, bool event_idx, bool indirect);

/* Section 2.7.7.2's vring_need_event(): true if new_idx passed event_idx
 * since old_idx. */
static inline bool virtq_need_event(uint16_t event_idx, uint16_t new_idx, uint16_t old_idx)
{
	return (uint16_t)(new_idx - event_idx - 1) < (uint16_t)(new_idx - old_idx);
}

#endif
