#include "jailer/jail.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int record(struct undo *u, enum undo_kind kind, const char *prefix, const char *path,
		  struct errbuf *err)
{
	char full[PATH_MAX];
	int n = snprintf(full, sizeof(full), "%s%s", prefix, path);
	if (n < 0 || (size_t)n >= sizeof(full))
		return err_set(err, -ENAMETOOLONG, "%s%s: path too long", prefix, path);
	int r = undo_add(u, kind, full);
	return r < 0 ? err_set(err, r, "out of memory") : 0;
}

int jail_mkdir(const char *path, mode_t mode, const char *undo_prefix, struct undo *u,
	       struct errbuf *err)
{
	struct stat st;
	if (mkdir(path, mode) == 0)
		return record(u, UNDO_RMDIR, undo_prefix, path, err);
	if (errno != EEXIST)
		return err_set(err, -errno, "creating %s%s: %s", undo_prefix, path, strerror(errno));
	if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode))
		return err_set(err, -ENOTDIR, "%s%s: exists and is not a directory", undo_prefix, path);
	return 0;
}

/* mkdir -p of the levels of path after its first skip bytes. */
static int mkdir_levels(const char *path, size_t skip, const char *prefix, struct undo *u,
			struct errbuf *err)
{
	char cur[PATH_MAX];
	size_t len = strlen(path);
	if (len >= sizeof(cur))
		return err_set(err, -ENAMETOOLONG, "%s: path too long", path);
	for (size_t i = skip + 1; i <= len; i++) {
		if (path[i] != '/' && path[i] != 0)
			continue;
		memcpy(cur, path, i);
		cur[i] = 0;
		if (i > 0 && path[i - 1] == '/')
			continue;
		int r = jail_mkdir(cur, 0755, prefix, u, err);
		if (r < 0)
			return r;
	}
	return 0;
}

int jail_root_make(const char *base, const char *root, struct undo *u, struct errbuf *err)
{
	size_t blen = strlen(base);
	while (blen > 1 && base[blen - 1] == '/')
		blen--;
	if (strncmp(root, base, blen) || root[blen] != '/')
		return err_set(err, -EINVAL, "%s is not below %s", root, base);
	return mkdir_levels(root, blen, "", u, err);
}

static int copy_data(int in, int out)
{
	bool fallback = false;
	for (;;) {
		ssize_t n;
		if (!fallback) {
			n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
			if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL ||
				      errno == EOPNOTSUPP)) {
				fallback = true;
				continue;
			}
		} else {
			char buf[65536];
			n = read(in, buf, sizeof(buf));
			for (ssize_t done = 0; n > 0 && done < n;) {
				ssize_t w = write(out, buf + done, (size_t)(n - done));
				if (w < 0 && errno != EINTR)
					return -errno;
				if (w > 0)
					done += w;
			}
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
	}
}

int jail_copy_exec(const char *exec, const char *root, const char *name, uid_t uid, gid_t gid,
		   struct undo *u, struct errbuf *err)
{
	char dst[PATH_MAX], tmp[PATH_MAX];
	struct stat st;
	int n = snprintf(dst, sizeof(dst), "%s/%s", root, name);
	int m = snprintf(tmp, sizeof(tmp), "%s/.%s.jailer-%d", root, name, (int)getpid());
	if (n < 0 || m < 0 || (size_t)n >= sizeof(dst) || (size_t)m >= sizeof(tmp))
		return err_set(err, -ENAMETOOLONG, "%s/%s: path too long", root, name);
	int in = open(exec, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return err_set(err, -errno, "%s: %s", exec, strerror(errno));
	int out = -1, r = fstat(in, &st) < 0 ? -errno : 0;
	if (r == 0) {
		out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		r = out < 0 ? -errno : 0;
	}
	if (r == 0 && (r = copy_data(in, out)) == 0) {
		if (fchown(out, uid, gid) < 0 || fchmod(out, st.st_mode & 0777) < 0)
			r = -errno;
	}
	if (out >= 0 && close(out) < 0 && r == 0)
		r = -errno;
	close(in);
	if (r < 0) {
		if (out >= 0)
			unlink(tmp);
		return err_set(err, r, "copying %s to %s: %s", exec, dst, strerror(-r));
	}
	bool existed = lstat(dst, &st) == 0;
	if (rename(tmp, dst) < 0) {
		r = -errno;
		unlink(tmp);
		return err_set(err, r, "copying %s to %s: %s", exec, dst, strerror(-r));
	}
	return existed ? 0 : record(u, UNDO_UNLINK, "", dst, err);
}

int jail_stage_libs(const struct jail_libs *l, const char *root, struct undo *u,
		    struct errbuf *err)
{
	for (size_t i = 0; i < l->n; i++) {
		char path[PATH_MAX];
		struct stat st;
		int n = snprintf(path, sizeof(path), "%s%s", root, l->v[i].jail);
		if (n < 0 || (size_t)n >= sizeof(path))
			return err_set(err, -ENAMETOOLONG, "%s%s: path too long", root, l->v[i].jail);
		size_t dir = (size_t)(strrchr(path, '/') - path);
		path[dir] = 0;
		int r = mkdir_levels(path, strlen(root), "", u, err);
		path[dir] = '/';
		if (r < 0)
			return r;
		if (lstat(path, &st) == 0) {
			if (S_ISREG(st.st_mode))
				continue; /* a mount point from before */
			return err_set(err, -EEXIST, "%s: in the way of the library %s", path,
				       l->v[i].host);
		}
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd < 0)
			return err_set(err, -errno, "creating %s: %s", path, strerror(errno));
		close(fd);
		if ((r = record(u, UNDO_UNLINK, "", path, err)) < 0)
			return r;
	}
	return 0;
}

int jail_own_dirs(uid_t uid, gid_t gid, const char *host_root, struct undo *u,
		  struct errbuf *err)
{
	static const char *const dirs[] = { "/", "/dev", "/dev/net", "/run" };
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		int r = jail_mkdir(dirs[i], 0700, host_root, u, err);
		if (r < 0)
			return r;
		if (chmod(dirs[i], 0700) < 0 || chown(dirs[i], uid, gid) < 0)
			return err_set(err, -errno, "%s (in the jail): %s", dirs[i], strerror(errno));
	}
	return 0;
}

int jail_write_pid(const char *name, pid_t pid, const char *host_root, struct undo *u,
		   struct errbuf *err)
{
	char path[PATH_MAX], num[24];
	struct stat st;
	snprintf(path, sizeof(path), "/%s.pid", name);
	bool existed = lstat(path, &st) == 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return err_set(err, -errno, "%s (in the jail): %s", path, strerror(errno));
	int n = snprintf(num, sizeof(num), "%d", (int)pid);
	int r = write(fd, num, (size_t)n) == n ? 0 : -EIO;
	close(fd);
	if (r == 0 && !existed)
		r = record(u, UNDO_UNLINK, host_root, path, err);
	return r < 0 ? err_set(err, r, "%s (in the jail): %s", path, strerror(-r)) : 0;
}
