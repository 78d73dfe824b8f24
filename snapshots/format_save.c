/* Putting a snapshot state file on disk so that a crash at any point leaves
 * either the old file or the whole new one under its name. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "snapshots/format.h"

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The rename is only durable once the directory entry is on disk too. */
static int fsync_dir_of(const char *path, char *dir, size_t dir_size)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		snprintf(dir, dir_size, ".");
	else if (slash == path)
		snprintf(dir, dir_size, "/");
	else
		snprintf(dir, dir_size, "%.*s", (int)(slash - path), path);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return r;
}

int snap_writer_save(struct snap_writer *w, const char *path, struct errbuf *err)
{
	const uint8_t *img;
	size_t len;
	int r = snap_writer_image(w, &img, &len, err);
	if (r < 0)
		return err_wrap(err, r, "snapshot %s", path);

	char tmp[PATH_MAX];
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return err_set(err, -ENAMETOOLONG, "snapshot %s: path too long", path);
	/* O_NOFOLLOW: a symlink planted at the temporary name must not
	 * redirect the write elsewhere. */
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return err_set(err, -errno, "snapshot %s: cannot create %s: %s", path, tmp,
			       strerror(errno));
	const char *what = "write";
	r = write_all(fd, img, len);
	if (r == 0 && fsync(fd) < 0) {
		what = "fsync";
		r = -errno;
	}
	/* close() can report a deferred write error (NFS). */
	if (close(fd) < 0 && r == 0) {
		what = "close";
		r = -errno;
	}
	if (r == 0 && rename(tmp, path) < 0) {
		what = "rename";
		r = -errno;
	}
	if (r < 0) {
		unlink(tmp);
		return err_set(err, r, "snapshot %s: %s of %s: %s", path, what, tmp, strerror(-r));
	}
	char dir[PATH_MAX];
	r = fsync_dir_of(path, dir, sizeof(dir));
	if (r < 0)
		return err_set(err, r, "snapshot %s: written, but fsync of its directory %s: %s",
			       path, dir, strerror(-r));
	return 0;
}
