/* What this run of the jailer made, so that a failure takes it back: a
 * list of host paths, undone last first. It goes back into the host's
 * mount namespace first (where the jail's library mounts, which would make
 * their mount points busy, do not exist) and reaches the host's files
 * through a directory fd of the host's root opened at the start, so it
 * works after pivot_root too. A jail, cgroup or file that existed before
 * the run is never in it. */
#ifndef EMBER_JAILER_UNDO_H
#define EMBER_JAILER_UNDO_H

#include <stddef.h>

enum undo_kind {
	UNDO_UNLINK, /* a file this run created */
	UNDO_RMDIR,  /* a directory (or cgroup) this run created */
	UNDO_MOVE,   /* write "0" to this cgroup.procs: the process goes back there */
};

struct undo_entry {
	enum undo_kind kind;
	char *path; /* absolute, on the host */
};

struct undo {
	int rootfd; /* O_PATH of the host's "/", -1 when closed */
	int mntns;  /* the host's mount namespace, -1 when closed */
	struct undo_entry *e;
	size_t n, cap;
};

/* Opens the host root and mount namespace; 0 or -errno. */
int undo_init(struct undo *u);
/* Records path (copied); -ENOMEM. */
int undo_add(struct undo *u, enum undo_kind kind, const char *path);
/* Takes everything back, last first, as far as it can; returns how many
 * entries failed. Leaves the list empty. */
size_t undo_run(struct undo *u);
/* Success: forgets the list and closes its fds (before exec). */
void undo_done(struct undo *u);

#endif
