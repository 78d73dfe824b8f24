/* The jail's files: its root directory on the host, the copy of the VMM
 * binary, the places of its shared libraries, and (from inside, after the
 * pivot) the directories the VMM owns and its pid file. Everything this
 * run creates is recorded in the undo list; what was there stays. */
#ifndef EMBER_JAILER_JAIL_H
#define EMBER_JAILER_JAIL_H

#include <limits.h>
#include <sys/types.h>

#include "jailer/libs.h"
#include "jailer/undo.h"
#include "runtime/base/err.h"

/* mkdir path if missing; a directory this call made is recorded as
 * undo_prefix + path (undo_prefix: the jail root's host path once inside
 * it, "" before). */
int jail_mkdir(const char *path, mode_t mode, const char *undo_prefix, struct undo *u,
	       struct errbuf *err);

/* Every missing level of root below base (which exists). */
int jail_root_make(const char *base, const char *root, struct undo *u, struct errbuf *err);

/* Copies exec to root/name (not a link: no two VMMs share its pages), as
 * Firecracker does: owned by uid:gid, with exec's permission bits (set-id
 * bits cleared). Written under a temporary name and renamed into place. */
int jail_copy_exec(const char *exec, const char *root, const char *name, uid_t uid, gid_t gid,
		   struct undo *u, struct errbuf *err);

/* An empty file at root + lib->jail for each library (kept if a file is
 * there already), the mount point pivot.c binds the host's file on. */
int jail_stage_libs(const struct jail_libs *l, const char *root, struct undo *u,
		    struct errbuf *err);

/* Inside the jail: "/", "/dev", "/dev/net" and "/run" exist with mode
 * 0700 and belong to uid:gid (the VMM makes its API socket there). */
int jail_own_dirs(uid_t uid, gid_t gid, const char *host_root, struct undo *u,
		  struct errbuf *err);

/* Inside the jail: /<name>.pid holds pid (replaced if there). */
int jail_write_pid(const char *name, pid_t pid, const char *host_root, struct undo *u,
		   struct errbuf *err);

#endif
