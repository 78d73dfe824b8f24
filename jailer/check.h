/* Everything the flags name, checked on the host before anything is
 * created: the chroot base directory, the exec file and the shared
 * libraries it needs, the network namespace, the cgroup hierarchies and
 * controllers, the resource limits against the kernel's, the devices to
 * make. The result is the plan the later steps follow. */
#ifndef EMBER_JAILER_CHECK_H
#define EMBER_JAILER_CHECK_H

#include <limits.h>

#include "jailer/args.h"
#include "jailer/cgroup.h"
#include "jailer/devices.h"
#include "jailer/libs.h"
#include "runtime/base/err.h"

struct jail_plan {
	char base[PATH_MAX]; /* --chroot-base-dir, canonical */
	char exec[PATH_MAX]; /* --exec-file, canonical */
	const char *name;    /* the exec file's name, inside exec */
	char root[PATH_MAX]; /* <base>/<name>/<id>/root */
	int netns_fd;        /* -1 without --netns */
	struct jail_libs libs;
	struct cg_plan *cg; /* NULL: no cgroup step */
	struct jail_dev devs[JAIL_NDEVS];
};

int jail_check(const struct jail_args *a, struct jail_plan *p, struct errbuf *err);
void jail_plan_free(struct jail_plan *p);

#endif
