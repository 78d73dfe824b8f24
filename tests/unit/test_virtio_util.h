/* Helpers for the virtio unit tests: a pretend guest driver that lays out
 * split rings and buffers in real guest memory (gm_alloc), and drives a
 * virtio-mmio transport through its register callbacks. */
#ifndef EMBER_TEST_VIRTIO_UTIL_H
#define EMBER_TEST_VIRTIO_UTIL_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime/base/gmem.h"
#include "virtio/hub.h"
#include "virtio/mmio.h"
#include "virtio/virtqueue.h"

#define TDRV_MEM (8ULL << 20)
#define TDRV_DATA 0x200000ULL /* buffers are allocated from here up */

/* One queue as the driver sees it. */
struct tq {
	struct guest_mem *mem;
	uint16_t size;
	uint64_t desc, avail, used;
	uint16_t avail_idx, used_seen;
};

/* A guest: memory, a data allocator, and up to 4 queues. */
struct tguest {
	struct guest_mem mem;
	uint64_t data_next;
	struct tq q[VIRTIO_MAX_QUEUES];
};

void tguest_init(struct tguest *g);
void tguest_free(struct tguest *g);
/* Allocates len bytes of guest memory (16-byte aligned), zeroed. */
uint64_t tguest_alloc(struct tguest *g, uint64_t len);
void *tguest_ptr(struct tguest *g, uint64_t gpa, uint64_t len);

/* Rings for queue i at a fixed spot (desc, avail, used 4 KiB apart). */
void tq_init(struct tguest *g, unsigned i, uint16_t size);
struct virtq_config tq_config(const struct tq *q);
void tq_desc(struct tq *q, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
	     uint16_t next);
/* Puts head in the avail ring and bumps idx. */
void tq_post(struct tq *q, uint16_t head);
void tq_set_avail_idx(struct tq *q, uint16_t idx);
void tq_set_avail_flags(struct tq *q, uint16_t flags);
void tq_set_used_event(struct tq *q, uint16_t v);
uint16_t tq_avail_event(const struct tq *q);
uint16_t tq_used_idx(const struct tq *q);
/* Takes the next used element; false if none. */
bool tq_used(struct tq *q, uint32_t *id, uint32_t *len);

/* Register access, 32-bit. */
uint32_t tmmio_rd(struct virtio_mmio *t, uint64_t off);
void tmmio_wr(struct virtio_mmio *t, uint64_t off, uint32_t v);
/* The driver's whole init sequence (3.1.1) with these features and the
 * guest's queues; returns the status read back at the end. */
uint32_t tmmio_init(struct virtio_mmio *t, struct tguest *g, uint64_t features);
/* Runs the hub until it is idle. */
void thub_pump(struct vhub *hub);

/* An irq_line that records the level. */
struct tirq {
	bool level;
	unsigned raises;
};
int tirq_set(void *ctx, unsigned gsi, bool level);

/* A device on its transport in a pretend guest, queues ready to use. */
struct tbed {
	struct tguest g;
	struct vhub hub;
	struct tirq irq;
	struct virtio_mmio *t;
	struct virtio_dev *dev;
};

/* Sets up queues of size qsize, creates the transport around dev and runs
 * the driver's init with `features` (those of dev's offer if 0). Returns
 * the final status. */
uint32_t tbed_init(struct tbed *b, struct virtio_dev *dev, uint16_t qsize, uint64_t features);
void tbed_fini(struct tbed *b);
/* Notifies queue q and runs the hub until idle. */
void tbed_kick(struct tbed *b, unsigned q);

/* Snapshots, as a new VMM process sees them: tbed_save writes b's
 * transport blob into buf and returns its size; tbed_drop destroys the
 * transport and its device, keeping guest memory, hub and the driver's
 * view of the queues; tbed_attach puts dev on a new transport over them,
 * never driven by a driver (what a restore starts from). */
int tbed_save(struct tbed *b, void *buf, size_t len);
void tbed_drop(struct tbed *b);
void tbed_attach(struct tbed *b, struct virtio_dev *dev);
/* Checks on a blob of `len` bytes against b's transport, fresh and left
 * so: every shorter length refused, and the device's own part cut short
 * with the lengths made to agree (the device's restore sees it). */
void tblob_truncations(struct tbed *b, const uint8_t *blob, int len);
/* Every bit of the device's part flipped: refused (for devices whose
 * every field is checked, through their own restore or the config space
 * compare). */
void tblob_device_flips_refused(struct tbed *b, const uint8_t *blob, int len);

#endif
