/* The device nodes the VMM opens: /dev/kvm, /dev/net/tun and
 * /dev/userfaultfd, made inside the jail with mknod (as Firecracker does)
 * with the host's device numbers, mode 0600, owned by the jailed user. A
 * device the host lacks is skipped, with a line saying which. */
#ifndef EMBER_JAILER_DEVICES_H
#define EMBER_JAILER_DEVICES_H

#include <stdbool.h>
#include <sys/types.h>

#include "jailer/undo.h"
#include "runtime/base/err.h"

#define JAIL_NDEVS 3

struct jail_dev {
	const char *path; /* the same on the host and in the jail */
	bool present;     /* a character device on the host */
	dev_t rdev;
};

/* Looks at the host's nodes. */
void devices_probe(struct jail_dev devs[JAIL_NDEVS]);

/* Inside the jail, its /dev and /dev/net made: the nodes (an old node
 * there is replaced). */
int devices_make(const struct jail_dev devs[JAIL_NDEVS], uid_t uid, gid_t gid,
		 const char *host_root, struct undo *u, struct errbuf *err);

#endif
