#include "virtio/blk.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "runtime/base/log.h"
#include "virtio/iov.h"

#define VBLK_QUEUE_SIZE 256
#define VBLK_SECTOR 512ULL
/* 5.2.3: seg_max counts data segments; header and status take two more
 * descriptors of a chain no longer than the queue. */
#define VBLK_SEG_MAX (VBLK_QUEUE_SIZE - 2)
/* Discard / write-zeroes limits we announce (5.2.4). */
#define VBLK_MAX_DZ_SECTORS (UINT32_MAX >> 9)
#define VBLK_MAX_DZ_SEG 32
#define VBLK_ZERO_CHUNK (64 * 1024)

struct vblk {
	struct virtio_dev vd; /* first: the transport hands us this pointer */
	char name[96];
	int fd;
	bool ro, writeback, can_punch;
	uint64_t nsectors;
	char id[VIRTIO_BLK_ID_BYTES];
	struct virtio_blk_config config;
	struct virtq_chain chain;
	struct iovec data[VIRTQ_MAX_SIZE];
	struct vblk_stats stats;
};

static bool vblk_range_ok(const struct vblk *b, uint64_t sector, uint64_t bytes)
{
	if (bytes % VBLK_SECTOR)
		return false;
	uint64_t n = bytes / VBLK_SECTOR;
	return sector <= b->nsectors && n <= b->nsectors - sector;
}

/* IN: preadv straight into the guest's buffers, all of them. */
static uint8_t vblk_read(struct vblk *b, uint64_t sector, const struct iovec *in, unsigned nin,
			 uint32_t len, uint32_t *written)
{
	if (!vblk_range_ok(b, sector, len))
		return VIRTIO_BLK_S_IOERR;
	uint32_t done = 0;
	while (done < len) {
		unsigned n = viov_slice(in, nin, done, len - done, b->data, VIRTQ_MAX_SIZE);
		ssize_t r = preadv(b->fd, b->data, (int)n, (off_t)(sector * VBLK_SECTOR + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			log_ratelimited(LOG_ERROR, "%s: read at sector %" PRIu64 ": %s", b->name,
					sector, r < 0 ? strerror(errno) : "end of file");
			return VIRTIO_BLK_S_IOERR;
		}
		done += (uint32_t)r;
	}
	*written = len;
	b->stats.read_bytes += len;
	return VIRTIO_BLK_S_OK;
}

/* OUT: pwritev until all of it is with the kernel, then the request may
 * complete. */
static uint8_t vblk_write(struct vblk *b, uint64_t sector, const struct iovec *out,
			  unsigned nout, uint32_t len)
{
	if (b->ro)
		return VIRTIO_BLK_S_IOERR; /* 5.2.6.2: and write nothing */
	if (!vblk_range_ok(b, sector, len))
		return VIRTIO_BLK_S_IOERR;
	uint32_t done = 0;
	while (done < len) {
		unsigned n = viov_slice(out, nout, sizeof(struct virtio_blk_outhdr) + done,
					len - done, b->data, VIRTQ_MAX_SIZE);
		ssize_t r = pwritev(b->fd, b->data, (int)n, (off_t)(sector * VBLK_SECTOR + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			log_ratelimited(LOG_ERROR, "%s: write at sector %" PRIu64 ": %s", b->name,
					sector, r < 0 ? strerror(errno) : "no progress");
			return VIRTIO_BLK_S_IOERR;
		}
		done += (uint32_t)r;
	}
	b->stats.write_bytes += len;
	return VIRTIO_BLK_S_OK;
}

static uint8_t vblk_flush(struct vblk *b)
{
	/* Unsafe: acknowledged, not performed (the config's promise). */
	if (!b->writeback || b->ro)
		return VIRTIO_BLK_S_OK;
	if (fdatasync(b->fd) < 0) {
		log_ratelimited(LOG_ERROR, "%s: fdatasync: %s", b->name, strerror(errno));
		return VIRTIO_BLK_S_IOERR;
	}
	return VIRTIO_BLK_S_OK;
}

static int vblk_write_zeros(struct vblk *b, uint64_t off, uint64_t len)
{
	static const uint8_t zeros[VBLK_ZERO_CHUNK];
	while (len) {
		size_t k = len < sizeof(zeros) ? (size_t)len : sizeof(zeros);
		ssize_t r = pwrite(b->fd, zeros, k, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		off += (uint64_t)r;
		len -= (uint64_t)r;
	}
	return 0;
}

/* One discard / write-zeroes segment (5.2.6: struct
 * virtio_blk_discard_write_zeroes). */
static uint8_t vblk_dz_segment(struct vblk *b, uint32_t type,
			       const struct virtio_blk_discard_write_zeroes *s)
{
	bool unmap = s->flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;
	/* 5.2.6.2: unknown flags, or unmap on a discard, are unsupported. */
	if ((s->flags & ~(uint32_t)VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) ||
	    (type == VIRTIO_BLK_T_DISCARD && unmap))
		return VIRTIO_BLK_S_UNSUPP;
	if (s->num_sectors > VBLK_MAX_DZ_SECTORS ||
	    !vblk_range_ok(b, s->sector, (uint64_t)s->num_sectors * VBLK_SECTOR))
		return VIRTIO_BLK_S_IOERR;
	off_t off = (off_t)(s->sector * VBLK_SECTOR);
	off_t len = (off_t)s->num_sectors * (off_t)VBLK_SECTOR;
	if (len == 0)
		return VIRTIO_BLK_S_OK;
	int r;
	if (type == VIRTIO_BLK_T_DISCARD) {
		r = fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len) < 0
			    ? -errno : 0;
	} else {
		/* Zero range keeps the blocks; punching (allowed with unmap)
		 * also reads back zeros; writing zeros always works. */
		r = fallocate(b->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, off, len) < 0
			    ? -errno : 0;
		if (r < 0 && unmap && b->can_punch)
			r = fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len) < 0
				    ? -errno : 0;
		if (r < 0)
			r = vblk_write_zeros(b, (uint64_t)off, (uint64_t)len);
	}
	if (r < 0) {
		log_ratelimited(LOG_ERROR, "%s: %s at sector %" PRIu64 ": %s", b->name,
				type == VIRTIO_BLK_T_DISCARD ? "discard" : "write-zeroes",
				(uint64_t)s->sector, strerror(-r));
		return VIRTIO_BLK_S_IOERR;
	}
	return VIRTIO_BLK_S_OK;
}

static uint8_t vblk_discard_zeroes(struct vblk *b, uint32_t type, const struct virtq_chain *c,
				   uint32_t len)
{
	uint64_t feature = VIRTIO_BIT(type == VIRTIO_BLK_T_DISCARD ? VIRTIO_BLK_F_DISCARD
								    : VIRTIO_BLK_F_WRITE_ZEROES);
	if (!virtio_dev_has(&b->vd, feature))
		return b->ro ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_UNSUPP;
	const size_t seg = sizeof(struct virtio_blk_discard_write_zeroes);
	if (len == 0 || len % seg || len / seg > VBLK_MAX_DZ_SEG)
		return VIRTIO_BLK_S_IOERR;
	for (uint32_t i = 0; i < len / seg; i++) {
		struct virtio_blk_discard_write_zeroes s;
		viov_to_buf(c->iov, c->nr_out, sizeof(struct virtio_blk_outhdr) + i * seg, &s, seg);
		uint8_t st = vblk_dz_segment(b, type, &s);
		if (st != VIRTIO_BLK_S_OK)
			return st;
	}
	return VIRTIO_BLK_S_OK;
}

/* 5.2.6: header (readable) | data | status byte (last writable byte). Any
 * framing across descriptors is accepted (VIRTIO_F_VERSION_1 implies
 * ANY_LAYOUT). */
static void vblk_request(struct vblk *b, struct virtq *vq)
{
	struct virtq_chain *c = &b->chain;
	struct virtio_blk_outhdr h;
	if (c->out_len < sizeof(h) || c->in_len < 1) {
		/* No header or nowhere to put a status: drop it. */
		b->stats.invalid++;
		log_ratelimited(LOG_WARN, "%s: request without header or status byte, dropped",
				b->name);
		virtq_push(vq, c->head, 0);
		return;
	}
	viov_to_buf(c->iov, c->nr_out, 0, &h, sizeof(h));
	const struct iovec *in = c->iov + c->nr_out;
	uint32_t in_data = c->in_len - 1, out_data = c->out_len - (uint32_t)sizeof(h);
	uint32_t written = 0;
	uint8_t st;
	switch (h.type) {
	case VIRTIO_BLK_T_IN:
		b->stats.reads++;
		/* Data in device-readable buffers cannot be read into. */
		st = out_data ? VIRTIO_BLK_S_IOERR
			      : vblk_read(b, h.sector, in, c->nr_in, in_data, &written);
		break;
	case VIRTIO_BLK_T_OUT:
		b->stats.writes++;
		st = in_data ? VIRTIO_BLK_S_IOERR
			     : vblk_write(b, h.sector, c->iov, c->nr_out, out_data);
		break;
	case VIRTIO_BLK_T_FLUSH:
		b->stats.flushes++;
		st = vblk_flush(b);
		break;
	case VIRTIO_BLK_T_GET_ID:
		b->stats.get_ids++;
		written = (uint32_t)viov_from_buf(in, c->nr_in, 0, b->id,
						  in_data < sizeof(b->id) ? in_data : sizeof(b->id));
		st = VIRTIO_BLK_S_OK;
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		if (h.type == VIRTIO_BLK_T_DISCARD)
			b->stats.discards++;
		else
			b->stats.write_zeroes++;
		st = vblk_discard_zeroes(b, h.type, c, out_data);
		break;
	default:
		st = VIRTIO_BLK_S_UNSUPP;
	}
	if (st == VIRTIO_BLK_S_IOERR)
		b->stats.io_errors++;
	else if (st == VIRTIO_BLK_S_UNSUPP)
		b->stats.unsupported++;
	viov_from_buf(in, c->nr_in, in_data, &st, 1);
	virtq_push_chain(vq, c, written + 1);
}

static void vblk_notify(struct virtio_dev *vd, unsigned q)
{
	struct vblk *b = (struct vblk *)vd;
	struct virtq *vq = &vd->vqs[q];
	do {
		while (virtq_pop(vq, &b->chain) == 1)
			vblk_request(b, vq);
	} while (virtq_enable_notify(vq));
	virtio_dev_signal_used(vd, q);
}

static int vblk_activate(struct virtio_dev *vd)
{
	(void)vd;
	return 0;
}

static void vblk_reset(struct virtio_dev *vd)
{
	(void)vd;
}

static void vblk_counters(const struct virtio_dev *vd, device_counter_fn fn, void *ctx)
{
	const struct vblk_stats *s = &((const struct vblk *)vd)->stats;
	fn(ctx, "read_count", s->reads);
	fn(ctx, "write_count", s->writes);
	fn(ctx, "flush_count", s->flushes);
	fn(ctx, "read_bytes", s->read_bytes);
	fn(ctx, "write_bytes", s->write_bytes);
	fn(ctx, "invalid_reqs_count", s->invalid + s->unsupported);
	fn(ctx, "ember_io_errors", s->io_errors);
	fn(ctx, "ember_discard_count", s->discards);
	fn(ctx, "ember_write_zeroes_count", s->write_zeroes);
}

static void vblk_destroy(struct virtio_dev *vd)
{
	struct vblk *b = (struct vblk *)vd;
	if (b->fd >= 0)
		close(b->fd);
	free(b);
}

_Static_assert(sizeof(struct vblk_state) == 16, "vblk_state must have no padding");

static uint32_t vblk_state_flags(const struct vblk *b)
{
	return (b->ro ? VBLK_STATE_RO : 0) | (b->writeback ? VBLK_STATE_WRITEBACK : 0);
}

static int vblk_save(struct virtio_dev *vd, void *buf, size_t len)
{
	const struct vblk *b = (const struct vblk *)vd;
	struct vblk_state st = { .version = VBLK_STATE_VERSION, .flags = vblk_state_flags(b),
				 .nsectors = b->nsectors };
	if (len < sizeof(st))
		return -ENOSPC;
	memcpy(buf, &st, sizeof(st));
	return (int)sizeof(st);
}

static int vblk_restore(struct virtio_dev *vd, const void *buf, size_t len)
{
	struct vblk *b = (struct vblk *)vd;
	struct vblk_state st;
	if (len != sizeof(st))
		return -EINVAL;
	memcpy(&st, buf, sizeof(st));
	if (st.version != VBLK_STATE_VERSION || st.flags != vblk_state_flags(b))
		return -EINVAL;
	/* The file as it is now, not as it was when the device was made. */
	off_t size = lseek(b->fd, 0, SEEK_END);
	if (size < 0 || st.nsectors > (uint64_t)size / VBLK_SECTOR) {
		log_warn("%s: snapshot capacity %" PRIu64 " sectors, backing file only %" PRIu64,
			 b->name, st.nsectors, size < 0 ? 0 : (uint64_t)(size / (off_t)VBLK_SECTOR));
		return -EINVAL;
	}
	b->nsectors = st.nsectors;
	b->config.capacity = st.nsectors;
	return 0;
}

static const struct virtio_dev_ops vblk_ops = {
	.activate = vblk_activate,
	.reset = vblk_reset,
	.queue_notify = vblk_notify,
	.counters = vblk_counters,
	.save = vblk_save,
	.restore = vblk_restore,
	.destroy = vblk_destroy,
};

/* Firecracker's (and kvmtool's) disk id: st_dev, st_rdev, st_ino in
 * decimal, cut to VIRTIO_BLK_ID_BYTES. */
static void vblk_make_id(struct vblk *b, const struct stat *st)
{
	char id[64];
	snprintf(id, sizeof(id), "%llu%llu%llu", (unsigned long long)st->st_dev,
		 (unsigned long long)st->st_rdev, (unsigned long long)st->st_ino);
	memset(b->id, 0, sizeof(b->id));
	size_t n = strlen(id);
	memcpy(b->id, id, n < sizeof(b->id) ? n : sizeof(b->id));
}

/* Punching a hole past the end of the file changes nothing, and tells us
 * whether the file system can. */
static bool vblk_probe_punch(int fd, uint64_t size)
{
	return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)size, 4096) == 0;
}

/* Opens path as the drive's backing file: size in sectors, disk id, and
 * whether holes can be punched. */
static int vblk_open(struct vblk *b, const char *path, int *fd_out, uint64_t *nsectors,
		     struct errbuf *err)
{
	/* O_NONBLOCK: a path swapped for a FIFO since its PUT must not stall
	 * the VMM thread in open(); it is refused below instead. */
	int fd = open(path, (b->ro ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		int r = -errno;
		if (fd >= 0)
			close(fd);
		return err_set(err, r, "%s: %s", path, strerror(-r));
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		close(fd);
		return err_set(err, -EINVAL, "%s: not a regular file or block device", path);
	}
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		int r = -errno;
		close(fd);
		return err_set(err, r, "%s: fcntl: %s", path, strerror(-r));
	}
	off_t size = lseek(fd, 0, SEEK_END); /* works for block devices too */
	if (size < 0) {
		int r = -errno;
		close(fd);
		return err_set(err, r, "%s: size: %s", path, strerror(-r));
	}
	if (size % VBLK_SECTOR)
		log_warn("%s: %s is not a multiple of 512 bytes; the last %llu bytes are not visible",
			 b->name, path, (unsigned long long)(size % VBLK_SECTOR));
	*fd_out = fd;
	*nsectors = (uint64_t)size / VBLK_SECTOR;
	b->can_punch = !b->ro && S_ISREG(st.st_mode) && vblk_probe_punch(fd, (uint64_t)size);
	vblk_make_id(b, &st);
	return 0;
}

int vblk_update_path(struct virtio_dev *vd, const char *path, struct errbuf *err)
{
	struct vblk *b = (struct vblk *)vd;
	int fd;
	uint64_t nsectors;
	/* Under the run lock: no request is half way through the old file. */
	virtio_dev_enter(vd);
	bool could_punch = b->can_punch;
	int r = vblk_open(b, path, &fd, &nsectors, err);
	if (r == 0) {
		close(b->fd);
		b->fd = fd;
		b->nsectors = nsectors;
		b->config.capacity = nsectors;
		/* Features were offered once; discard fails with IOERR on a
		 * file that cannot punch holes. */
		b->can_punch = b->can_punch && could_punch;
		virtio_dev_config_changed(vd, &b->config, vd->config_len);
	}
	virtio_dev_leave(vd);
	return r;
}

static void vblk_setup_config(struct vblk *b)
{
	struct virtio_blk_config *c = &b->config;
	memset(c, 0, sizeof(*c));
	c->capacity = b->nsectors;
	c->seg_max = VBLK_SEG_MAX;
	uint64_t f = VIRTIO_FEAT_VERSION_1 | VIRTIO_FEAT_EVENT_IDX | VIRTIO_FEAT_INDIRECT_DESC |
		     VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX);
	if (b->ro) {
		f |= VIRTIO_BIT(VIRTIO_BLK_F_RO);
	} else {
		if (b->writeback)
			f |= VIRTIO_BIT(VIRTIO_BLK_F_FLUSH);
		f |= VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES);
		c->max_write_zeroes_sectors = VBLK_MAX_DZ_SECTORS;
		c->max_write_zeroes_seg = VBLK_MAX_DZ_SEG;
		c->write_zeroes_may_unmap = b->can_punch;
		if (b->can_punch) {
			f |= VIRTIO_BIT(VIRTIO_BLK_F_DISCARD);
			c->max_discard_sectors = VBLK_MAX_DZ_SECTORS;
			c->max_discard_seg = VBLK_MAX_DZ_SEG;
			c->discard_sector_alignment = 4096 / VBLK_SECTOR;
		}
	}
	b->vd.features = f;
	b->vd.config = (const uint8_t *)c;
	/* Up to write_zeroes_may_unmap and its padding; no secure erase. */
	b->vd.config_len = offsetof(struct virtio_blk_config, unused1) + sizeof(c->unused1);
}

int vblk_create(const struct config_drive *cfg, struct virtio_dev **out, struct errbuf *err)
{
	struct vblk *b = calloc(1, sizeof(*b));
	if (!b)
		return err_set(err, -ENOMEM, "virtio-blk: out of memory");
	snprintf(b->name, sizeof(b->name), "virtio-blk %s", cfg->drive_id);
	b->ro = cfg->is_read_only;
	b->writeback = cfg->cache_type == CONFIG_CACHE_WRITEBACK;
	b->fd = -1;
	int r = vblk_open(b, cfg->path_on_host, &b->fd, &b->nsectors, err);
	if (r < 0)
		goto fail;
	if (cfg->io_engine != CONFIG_IO_SYNC)
		log_warn("%s: io_engine %s runs as Sync", b->name,
			 config_io_engine_name(cfg->io_engine));
	b->vd = (struct virtio_dev){
		.name = b->name,
		.device_id = VIRTIO_ID_BLOCK,
		.ops = &vblk_ops,
		.nr_queues = 1,
		.queue_max = VBLK_QUEUE_SIZE,
	};
	vblk_setup_config(b);
	*out = &b->vd;
	return 0;
fail:
	vblk_destroy(&b->vd);
	return r;
}

const struct vblk_stats *vblk_stats(const struct virtio_dev *vd)
{
	return &((const struct vblk *)vd)->stats;
}
