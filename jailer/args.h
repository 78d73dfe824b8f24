/* ember-jailer's command line: Firecracker's jailer flags. Parsing reads
 * nothing but argv (the host is checked later, by check.c), neither
 * prints nor exits. */
#ifndef EMBER_JAILER_ARGS_H
#define EMBER_JAILER_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "runtime/base/err.h"

#define JAILER_VERSION "0.1.0"
#define JAIL_ID_MAX 64
#define JAIL_DEFAULT_BASE "/srv/jailer"
/* Firecracker's default RLIMIT_NOFILE for the jailed VMM. */
#define JAIL_DEFAULT_NO_FILE 2048
#define JAIL_MAX_CGROUPS 32

/* One --cgroup FILE=VALUE: FILE is "<controller>.<name>" (cpu.shares,
 * memory.max, cgroup.max.depth on v2); VALUE is what follows the first '='
 * (it may hold more, as v2's io.max "8:0 rbps=1000" does). */
struct jail_cgroup_arg {
	const char *arg;   /* the whole FILE=VALUE, from argv */
	char file[64];
	char controller[32];
	const char *value; /* inside arg */
};

struct jail_args {
	bool help, version;
	const char *id, *exec_file, *chroot_base, *netns, *parent_cgroup;
	uid_t uid;
	gid_t gid;
	bool daemonize, new_pid_ns;
	int cgroup_version; /* 1 or 2 */
	struct jail_cgroup_arg cgroups[JAIL_MAX_CGROUPS];
	size_t ncgroups;
	bool has_fsize;
	rlim_t fsize;   /* --resource-limit fsize=N */
	rlim_t no_file; /* --resource-limit no-file=N, JAIL_DEFAULT_NO_FILE without */
	char **vmm_argv; /* what follows "--", vmm_argc entries */
	int vmm_argc;
};

/* Flags take "--flag VALUE" or "--flag=VALUE"; --help or --version before
 * "--" wins over anything else. Unknown flags, repeats of single flags,
 * missing or malformed values, a missing required flag, --id among the VMM
 * arguments (the jailer passes it): -EINVAL with a one-line message. */
int jail_parse_args(int argc, char **argv, struct jail_args *a, struct errbuf *err);

/* The pieces, for the parser and the unit tests. */
int jail_id_check(const char *id, struct errbuf *err);
int jail_cgroup_arg_parse(const char *arg, struct jail_cgroup_arg *out, struct errbuf *err);
/* A relative path of names, none "." or "..", no empty component. */
int jail_parent_cgroup_check(const char *parent, struct errbuf *err);
/* "fsize=N" or "no-file=N" into a. */
int jail_rlimit_parse(const char *arg, struct jail_args *a, struct errbuf *err);

/* s for an error message: at most 64 bytes, anything unprintable as '?'
 * (a message stays on one line). */
const char *jail_echo(const char *s, char buf[80]);

extern const char jail_usage[];

#endif
