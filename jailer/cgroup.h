/* The VM's cgroups, as Firecracker's jailer makes them. Hierarchies are
 * found in /proc/mounts: v1, one per controller (several controllers may
 * share a mount), at <mount>/<parent>/<id>/ for each controller a --cgroup
 * names; v2, the cgroup2 mount, at <mount>/<parent>/<id>/, with each named
 * controller enabled in cgroup.subtree_control from the mount down to
 * <parent>. The files are written, then the jailer's pid goes into
 * cgroup.procs of each, so the VMM starts inside. v2 without any --cgroup:
 * an existing <mount>/<parent> takes the process as it is (nothing is
 * created), as Firecracker does.
 *
 * Planning (cg_plan_make) only reads: the mounts, each v2 cgroup.controllers,
 * /proc/self/cgroup. Setup (cg_setup) creates and writes, recording in the
 * undo list what it made and where the process was. Both structs are
 * large: allocate them. */
#ifndef EMBER_JAILER_CGROUP_H
#define EMBER_JAILER_CGROUP_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "jailer/args.h"
#include "jailer/undo.h"
#include "runtime/base/err.h"

#define CG_MAX_MOUNTS 64
#define CG_MAX_TARGETS 16

struct cg_mount {
	char dir[PATH_MAX];
	char opts[512]; /* the mount options: v1 lists its controllers there */
	int version;    /* 1 or 2 */
};

struct cg_mounts {
	struct cg_mount m[CG_MAX_MOUNTS];
	size_t n;
};

/* /proc/mounts' text: keeps the cgroup (v1) and cgroup2 lines, with the
 * mount point's octal escapes (\040) decoded. -E2BIG past CG_MAX_MOUNTS. */
int cg_mounts_parse(const char *text, struct cg_mounts *out, struct errbuf *err);
/* The v1 hierarchy carrying controller, or NULL. */
const struct cg_mount *cg_find_v1(const struct cg_mounts *m, const char *controller);
/* The (first) cgroup2 mount, or NULL. */
const struct cg_mount *cg_find_v2(const struct cg_mounts *m);
/* The path of the process' cgroup in a hierarchy from /proc/self/cgroup's
 * text: v2 the "0::" line, v1 the line listing controller. Copies it into
 * out and returns 0, or -ENOENT. */
int cg_self_path(const char *proc_self_cgroup, int version, const char *controller, char *out,
		 size_t len);

/* One cgroup directory to make: per v1 hierarchy, or the v2 one. */
struct cg_target {
	char mount[PATH_MAX];
	char dir[PATH_MAX];    /* <mount>/<parent>/<id>, or <mount>/<parent> to move into */
	char origin[PATH_MAX]; /* cgroup.procs of where the process is now */
	char controllers[256]; /* v2: " cpu memory" to enable down to parent */
	bool cpuset;           /* v1 cpuset: new levels copy cpus and mems from above */
	bool move_only;        /* v2 without --cgroup: join an existing <parent> */
};

struct cg_plan {
	int version;
	struct cg_target t[CG_MAX_TARGETS];
	size_t n;
	const struct jail_cgroup_arg *props;
	size_t nprops;
	size_t prop_target[JAIL_MAX_CGROUPS]; /* which t[] each property goes to */
};

/* The plan for these flags: every controller must be mounted (v1) or
 * offered by the v2 root's cgroup.controllers ("cgroup." files need none).
 * Nothing is created; the file names themselves are checked at setup,
 * where they exist. An empty plan (n == 0) without --cgroup. */
int cg_plan_make(const struct jail_args *a, const char *parent, const struct cg_mounts *m,
		 const char *proc_self_cgroup, struct cg_plan *p, struct errbuf *err);

/* Creates the directories, writes the files (a file the cgroup does not
 * have: -ENOENT naming it), then moves pid into each cgroup. */
int cg_setup(const struct cg_plan *p, pid_t pid, struct undo *u, struct errbuf *err);

#endif
