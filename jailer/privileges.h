/* The last steps before exec: resource limits, then the identity and
 * capabilities the VMM runs with. */
#ifndef EMBER_JAILER_PRIVILEGES_H
#define EMBER_JAILER_PRIVILEGES_H

#include <sys/types.h>

#include "jailer/args.h"
#include "runtime/base/err.h"

/* RLIMIT_NOFILE (Firecracker's default 2048 without --resource-limit) and
 * RLIMIT_FSIZE when given, soft and hard alike. */
int jail_set_rlimits(const struct jail_args *a, struct errbuf *err);

/* Every capability out of the bounding and ambient sets (while
 * CAP_SETPCAP still allows it), supplementary groups dropped, real,
 * effective and saved gid then uid set, the permitted, effective and
 * inheritable sets cleared, PR_SET_NO_NEW_PRIVS; then all of it checked.
 * uid 0 ends without capabilities too, and an exec cannot give any back
 * (empty bounding set, no_new_privs). */
int jail_drop_privileges(uid_t uid, gid_t gid, struct errbuf *err);

#endif
