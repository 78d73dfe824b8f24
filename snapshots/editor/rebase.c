#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "snapshots/editor/rebase.h"

/* Memory files are guest-sized: copy through a fixed buffer, never whole. */
#define REBASE_CHUNK (1u << 20)

struct rebase {
	int base, diff;
	const char *base_path, *diff_path;
	uint8_t *buf;
};

static int copy_extent(struct rebase *rb, off_t off, off_t len, struct errbuf *err)
{
	while (len > 0) {
		size_t want = len < (off_t)REBASE_CHUNK ? (size_t)len : REBASE_CHUNK;
		ssize_t n = pread(rb->diff, rb->buf, want, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_set(err, -errno, "diff file %s: read at %lld: %s", rb->diff_path,
				       (long long)off, strerror(errno));
		if (n == 0)
			return err_set(err, -EIO, "diff file %s: shrank while being read (at %lld)",
				       rb->diff_path, (long long)off);
		for (ssize_t done = 0; done < n;) {
			ssize_t w = pwrite(rb->base, rb->buf + done, (size_t)(n - done), off + done);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return err_set(err, -errno, "memory file %s: write at %lld: %s",
					       rb->base_path, (long long)(off + done), strerror(errno));
			done += w;
		}
		off += n;
		len -= n;
	}
	return 0;
}

/* Holes read as zeros, but copying them would turn the base's pages to
 * zeros: only the extents SEEK_DATA finds are pages the diff carries. */
static int copy_data(struct rebase *rb, off_t size, struct errbuf *err)
{
	off_t pos = 0;
	while (pos < size) {
		off_t data = lseek(rb->diff, pos, SEEK_DATA);
		if (data < 0 && errno == ENXIO)
			return 0; /* only a hole is left */
		if (data < 0)
			return err_set(err, -errno, "diff file %s: SEEK_DATA: %s", rb->diff_path,
				       strerror(errno));
		if (data >= size)
			return 0; /* it grew since fstat: the rest is not ours to copy */
		off_t hole = lseek(rb->diff, data, SEEK_HOLE);
		if (hole < 0)
			return err_set(err, -errno, "diff file %s: SEEK_HOLE: %s", rb->diff_path,
				       strerror(errno));
		if (hole > size)
			hole = size;
		int r = copy_extent(rb, data, hole - data, err);
		if (r < 0)
			return r;
		pos = hole;
	}
	return 0;
}

static int open_regular(const char *what, const char *path, int flags, struct stat *st,
			struct errbuf *err)
{
	int fd = open(path, flags | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, -errno, "%s %s: %s", what, path, strerror(errno));
	if (fstat(fd, st) < 0) {
		int e = errno;
		close(fd);
		return err_set(err, -e, "%s %s: %s", what, path, strerror(e));
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		return err_set(err, -EINVAL, "%s %s: not a regular file", what, path);
	}
	return fd;
}

int snap_mem_rebase(const char *base_path, const char *diff_path, struct errbuf *err)
{
	struct rebase rb = { .base = -1, .diff = -1, .base_path = base_path, .diff_path = diff_path };
	struct stat bst, dst;
	int r = open_regular("memory file", base_path, O_WRONLY, &bst, err);
	if (r < 0)
		return r;
	rb.base = r;
	r = open_regular("diff file", diff_path, O_RDONLY, &dst, err);
	if (r < 0)
		goto out;
	rb.diff = r;
	if (dst.st_size > bst.st_size) {
		r = err_set(err, -EINVAL, "diff file %s is %lld bytes, longer than memory file %s (%lld)",
			    diff_path, (long long)dst.st_size, base_path, (long long)bst.st_size);
		goto out;
	}
	rb.buf = malloc(REBASE_CHUNK);
	if (!rb.buf) {
		r = err_set(err, -ENOMEM, "out of memory for the copy buffer");
		goto out;
	}
	r = copy_data(&rb, dst.st_size, err);
	if (r == 0 && fdatasync(rb.base) < 0)
		r = err_set(err, -errno, "memory file %s: fdatasync: %s", base_path, strerror(errno));
out:
	free(rb.buf);
	if (rb.diff >= 0)
		close(rb.diff);
	close(rb.base);
	return r < 0 ? r : 0;
}
