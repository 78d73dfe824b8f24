#include "jailer/proc.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int close_range_(unsigned first, unsigned last)
{
	if (first > last)
		return 0;
	return syscall(SYS_close_range, first, last, 0) < 0 ? -errno : 0;
}

/* Without close_range (Linux < 5.9). */
static int close_listed(int first, int keep)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -errno;
	int self = dirfd(d);
	struct dirent *e;
	int *fds = NULL;
	size_t n = 0, cap = 0;
	while ((e = readdir(d))) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);
		if (*end || end == e->d_name || fd < first || fd == self || fd == keep)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			int *v = realloc(fds, cap * sizeof(*v));
			if (!v) {
				free(fds);
				closedir(d);
				return -ENOMEM;
			}
			fds = v;
		}
		fds[n++] = (int)fd;
	}
	closedir(d);
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
	free(fds);
	return 0;
}

int proc_close_fds(int first, int keep, struct errbuf *err)
{
	int r;
	if (keep >= first)
		r = close_range_((unsigned)first, (unsigned)keep - 1) ?:
			close_range_((unsigned)keep + 1, ~0U);
	else
		r = close_range_((unsigned)first, ~0U);
	if (r == -ENOSYS)
		r = close_listed(first, keep);
	return r < 0 ? err_set(err, r, "closing the inherited file descriptors: %s", strerror(-r)) : 0;
}

int proc_daemonize(int devnull, struct errbuf *err)
{
	pid_t p = fork();
	if (p < 0)
		return err_set(err, -errno, "--daemonize: fork: %s", strerror(errno));
	if (p > 0)
		return 1;
	if (setsid() < 0)
		return err_set(err, -errno, "--daemonize: setsid: %s", strerror(errno));
	if ((p = fork()) < 0)
		return err_set(err, -errno, "--daemonize: fork: %s", strerror(errno));
	if (p > 0)
		return 1;
	for (int fd = 0; fd < 3; fd++)
		if (dup2(devnull, fd) < 0)
			return err_set(err, -errno, "--daemonize: dup2: %s", strerror(errno));
	close(devnull);
	return 0;
}

int proc_new_pid_ns(bool daemonized, pid_t *child, struct errbuf *err)
{
	bool leader = !daemonized && getsid(0) == getpid();
	if (unshare(CLONE_NEWPID) < 0)
		return err_set(err, -errno, "--new-pid-ns: unshare(CLONE_NEWPID): %s", strerror(errno));
	pid_t p = fork();
	if (p < 0)
		return err_set(err, -errno, "--new-pid-ns: fork: %s", strerror(errno));
	if (p > 0) {
		*child = p;
		return 1;
	}
	if (leader && setsid() < 0)
		return err_set(err, -errno, "--new-pid-ns: setsid: %s", strerror(errno));
	return 0;
}
