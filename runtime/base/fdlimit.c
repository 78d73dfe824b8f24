/* Raising RLIMIT_NOFILE's soft limit: distributions default it to 1024
 * for select()'s sake, far below what a VM with many guest connections
 * needs; Ember waits with epoll only, so the hard limit is safe to use. */
#include "runtime/base/fdlimit.h"

#include <errno.h>
#include <stdio.h>

/* What the kernel allows when the hard limit is "unlimited": setrlimit
 * refuses anything above fs.nr_open. Its default when /proc is not there
 * (a jail). */
static rlim_t nr_open(void)
{
	unsigned long long n = 0;
	FILE *f = fopen("/proc/sys/fs/nr_open", "re");
	if (f) {
		if (fscanf(f, "%llu", &n) != 1)
			n = 0;
		fclose(f);
	}
	return n ? (rlim_t)n : (rlim_t)1 << 20;
}

int fdlimit_raise(struct fdlimit *out)
{
	struct rlimit r;
	if (getrlimit(RLIMIT_NOFILE, &r) < 0)
		return -errno;
	out->before = out->soft = r.rlim_cur;
	out->hard = r.rlim_max;
	rlim_t want = r.rlim_max == RLIM_INFINITY ? nr_open() : r.rlim_max;
	if (r.rlim_cur == RLIM_INFINITY || r.rlim_cur >= want)
		return 0;
	r.rlim_cur = want;
	if (setrlimit(RLIMIT_NOFILE, &r) < 0)
		return -errno;
	out->soft = want;
	return 0;
}
