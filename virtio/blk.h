/* virtio-blk (virtio 1.2 section 5.2) backed by a host file or block
 * device, one request queue, synchronous I/O on the VMM thread.
 *
 * What the guest is told is written has been handed to the kernel
 * (pwritev until done) before the request completes; it is durable after a
 * flush when the cache mode is Writeback (fdatasync). Unsafe acknowledges
 * flushes without syncing. Read-only drives offer VIRTIO_BLK_F_RO and
 * refuse writes, discards and write-zeroes with VIRTIO_BLK_S_IOERR. */
#ifndef EMBER_VIRTIO_BLK_H
#define EMBER_VIRTIO_BLK_H

#include <stdint.h>

#include "runtime/base/err.h"
#include "virtio/virtio.h"

struct config_drive;

struct vblk_stats {
	uint64_t reads, writes, flushes, get_ids, discards, write_zeroes;
	uint64_t read_bytes, write_bytes;
	uint64_t io_errors;   /* requests completed with VIRTIO_BLK_S_IOERR */
	uint64_t unsupported; /* VIRTIO_BLK_S_UNSUPP */
	uint64_t invalid;     /* requests too malformed to answer (dropped) */
};

/* Snapshot state, beside the queue's in the transport's (fixed-width, no
 * padding, host byte order). No request is ever in flight at a save:
 * vblk_notify pops, performs (preadv, pwritev, fdatasync, fallocate) and
 * pushes each request before it returns, on the VMM thread under the
 * transport's run lock, and io_engine Async runs as Sync (vblk_create), so
 * the queue's indexes say all. Restore wants a backing file (opened by the
 * VM from the saved configuration) of at least the saved capacity, which
 * the guest keeps seeing even if the file grew; the disk id (GET_ID) is
 * the new file's. */
#define VBLK_STATE_VERSION 1
#define VBLK_STATE_RO 0x1u        /* is_read_only */
#define VBLK_STATE_WRITEBACK 0x2u /* cache_type Writeback */
struct vblk_state {
	uint32_t version;
	uint32_t flags;    /* VBLK_STATE_*: must match the drive restored into */
	uint64_t nsectors; /* capacity the guest was told, in 512-byte sectors */
};

int vblk_create(const struct config_drive *cfg, struct virtio_dev **out, struct errbuf *err);
const struct vblk_stats *vblk_stats(const struct virtio_dev *vd);
/* PATCH /drives/{id} after boot (as Firecracker): switches to another
 * backing file, same read-only mode; the guest sees the new capacity
 * through a config-change interrupt. VMM thread. */
int vblk_update_path(struct virtio_dev *vd, const char *path, struct errbuf *err);

#endif
