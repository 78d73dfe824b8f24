/* The host's file-descriptor budget for this process: every guest
 * connection, image, TAP and API client costs one, and running out stalls
 * the VMM (docs/architecture.md, "Host resources"). */
#ifndef EMBER_FDLIMIT_H
#define EMBER_FDLIMIT_H

#include <sys/resource.h>

struct fdlimit {
	rlim_t before; /* the soft limit found */
	rlim_t soft;   /* the soft limit now: the budget */
	rlim_t hard;
};

/* Raises the soft RLIMIT_NOFILE to the hard one (an unlimited hard limit
 * means the kernel's fs.nr_open). Call before anything opens many fds.
 * 0, or -errno with out->soft the unchanged limit. */
int fdlimit_raise(struct fdlimit *out);

#endif
