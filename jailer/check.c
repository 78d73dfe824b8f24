#include "jailer/check.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

/* A whole (small, /proc) file, NUL-terminated; NULL with errno set. */
static char *read_all(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	for (;;) {
		if (!buf)
			break;
		if (len + 1 == cap) {
			char *b = cap < (16 << 20) ? realloc(buf, cap *= 2) : NULL;
			if (!b) {
				free(buf);
				buf = NULL;
				errno = ENOMEM;
				break;
			}
			buf = b;
		}
		ssize_t n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			free(buf);
			buf = NULL;
			errno = e;
			break;
		}
		if (n == 0) {
			buf[len] = 0;
			break;
		}
		len += (size_t)n;
	}
	int e = errno;
	close(fd);
	errno = e;
	return buf;
}

static int check_paths(const struct jail_args *a, struct jail_plan *p, struct errbuf *err)
{
	char e[80];
	struct stat st;
	if (!realpath(a->exec_file, p->exec))
		return err_set(err, -errno, "--exec-file %s: %s", jail_echo(a->exec_file, e),
			       strerror(errno));
	if (stat(p->exec, &st) < 0 || !S_ISREG(st.st_mode))
		return err_set(err, -EINVAL, "--exec-file %s: not a regular file", p->exec);
	if (!realpath(a->chroot_base, p->base))
		return err_set(err, -errno, "--chroot-base-dir %s: %s", jail_echo(a->chroot_base, e),
			       strerror(errno));
	if (stat(p->base, &st) < 0 || !S_ISDIR(st.st_mode))
		return err_set(err, -ENOTDIR, "--chroot-base-dir %s: not a directory", p->base);
	p->name = strrchr(p->exec, '/') + 1;
	int n = snprintf(p->root, sizeof(p->root), "%s/%s/%s/root",
			 strcmp(p->base, "/") ? p->base : "", p->name, a->id);
	if (n < 0 || (size_t)n >= sizeof(p->root))
		return err_set(err, -ENAMETOOLONG, "the jail's path is too long");
	return 0;
}

static int check_netns(const char *path, struct jail_plan *p, struct errbuf *err)
{
	char e[80];
	p->netns_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (p->netns_fd < 0)
		return err_set(err, -errno, "--netns %s: %s", jail_echo(path, e), strerror(errno));
	if (ioctl(p->netns_fd, NS_GET_NSTYPE) != CLONE_NEWNET)
		return err_set(err, -EINVAL, "--netns %s: not a network namespace", jail_echo(path, e));
	return 0;
}

static int check_cgroups(const struct jail_args *a, struct jail_plan *p, struct errbuf *err)
{
	if (!a->ncgroups && a->cgroup_version == 1)
		return 0;
	char *mounts = read_all("/proc/mounts"), *self = read_all("/proc/self/cgroup");
	struct cg_mounts *m = calloc(1, sizeof(*m));
	p->cg = calloc(1, sizeof(*p->cg));
	int r;
	if (!mounts || !self)
		r = err_set(err, -errno, "reading /proc/mounts and /proc/self/cgroup: %s",
			    strerror(errno));
	else if (!m || !p->cg)
		r = err_set(err, -ENOMEM, "out of memory");
	else if ((r = cg_mounts_parse(mounts, m, err)) == 0)
		r = cg_plan_make(a, a->parent_cgroup ? a->parent_cgroup : p->name, m, self, p->cg,
				 err);
	free(mounts);
	free(self);
	free(m);
	return r;
}

static int check_limits(const struct jail_args *a, struct errbuf *err)
{
	char *s = read_all("/proc/sys/fs/nr_open");
	unsigned long long max = s ? strtoull(s, NULL, 10) : 0;
	free(s);
	if (max && a->no_file > max)
		return err_set(err, -EINVAL,
			       "--resource-limit no-file=%llu: above the kernel's fs.nr_open (%llu)",
			       (unsigned long long)a->no_file, max);
	return 0;
}

int jail_check(const struct jail_args *a, struct jail_plan *p, struct errbuf *err)
{
	memset(p, 0, sizeof(*p));
	p->netns_fd = -1;
	if (geteuid() != 0)
		return err_set(err, -EPERM, "must run as root (it mounts, makes devices, sets ids)");
	int r = check_paths(a, p, err);
	if (r == 0)
		r = jail_libs_resolve(p->exec, &p->libs, err);
	if (r == 0 && a->netns)
		r = check_netns(a->netns, p, err);
	if (r == 0)
		r = check_cgroups(a, p, err);
	if (r == 0)
		r = check_limits(a, err);
	if (r == 0)
		devices_probe(p->devs);
	return r;
}

void jail_plan_free(struct jail_plan *p)
{
	jail_libs_free(&p->libs);
	free(p->cg);
	p->cg = NULL;
	if (p->netns_fd >= 0)
		close(p->netns_fd);
	p->netns_fd = -1;
}
