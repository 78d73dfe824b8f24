#include "jailer/args.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

const char jail_usage[] =
	"usage: ember-jailer --id ID --exec-file PATH --uid UID --gid GID [OPTIONS] [-- VMM ARGS...]\n"
	"\n"
	"Starts the VMM confined, as Firecracker's jailer starts Firecracker: a copy of\n"
	"PATH in <chroot-base-dir>/<exec file name>/<ID>/root, that directory as the\n"
	"root of a new mount namespace, cgroups, resource limits, then UID and GID\n"
	"without any capability and with no_new_privs, and exec of\n"
	"./<exec file name> --id ID VMM ARGS. Paths among the VMM arguments and in\n"
	"API requests are inside the jail. See docs/jailer.md.\n"
	"\n"
	"  --id ID                instance id: 1..64 characters of [A-Za-z0-9-]\n"
	"  --exec-file PATH       the VMM binary (copied into the jail)\n"
	"  --uid UID, --gid GID   the user and group the VMM runs as\n"
	"  --chroot-base-dir DIR  where jails are made; must exist (default " JAIL_DEFAULT_BASE ")\n"
	"  --netns PATH           join this network namespace (/var/run/netns/NAME)\n"
	"  --daemonize            new session, stdin, stdout and stderr on /dev/null\n"
	"  --new-pid-ns           the VMM is pid 1 of a new pid namespace\n"
	"  --cgroup-version 1|2   the cgroup hierarchy to use (default 1)\n"
	"  --cgroup FILE=VALUE    write VALUE into FILE of the VM's cgroup, e.g.\n"
	"                         cpu.shares=512 (repeatable)\n"
	"  --parent-cgroup PATH   the VM's cgroup is <mount>/PATH/ID (default: the exec\n"
	"                         file name)\n"
	"  --resource-limit R=N   fsize=BYTES or no-file=N (repeatable; default\n"
	"                         no-file=2048)\n"
	"  --help, --version      print this help or the version and exit\n"
	"\n"
	"The VMM's pid is written to <root>/<exec file name>.pid.\n"
	"Exit status: 0 the VMM was exec'd (or, with --daemonize or --new-pid-ns,\n"
	"started), 1 failed, 2 bad arguments.\n";

enum kind {
	K_BOOL,  /* no value */
	K_ONE,   /* one value, at most once */
	K_MANY,  /* one value, repeatable */
};

enum flag_id {
	F_ID,
	F_EXEC,
	F_UID,
	F_GID,
	F_BASE,
	F_NETNS,
	F_DAEMONIZE,
	F_PIDNS,
	F_CGVER,
	F_CGROUP,
	F_PARENT,
	F_RLIMIT,
	F_HELP,
	F_VERSION,
	F_COUNT
};

static const struct flag {
	const char *name;
	enum kind kind;
} flags[F_COUNT] = {
	[F_ID] = { "id", K_ONE },
	[F_EXEC] = { "exec-file", K_ONE },
	[F_UID] = { "uid", K_ONE },
	[F_GID] = { "gid", K_ONE },
	[F_BASE] = { "chroot-base-dir", K_ONE },
	[F_NETNS] = { "netns", K_ONE },
	[F_DAEMONIZE] = { "daemonize", K_BOOL },
	[F_PIDNS] = { "new-pid-ns", K_BOOL },
	[F_CGVER] = { "cgroup-version", K_ONE },
	[F_CGROUP] = { "cgroup", K_MANY },
	[F_PARENT] = { "parent-cgroup", K_ONE },
	[F_RLIMIT] = { "resource-limit", K_MANY },
	[F_HELP] = { "help", K_BOOL },
	[F_VERSION] = { "version", K_BOOL },
};

const char *jail_echo(const char *s, char buf[80])
{
	size_t i = 0;
	for (; s[i] && i < 64; i++)
		buf[i] = isprint((unsigned char)s[i]) ? s[i] : '?';
	if (s[i]) {
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = 0;
	return buf;
}

int jail_id_check(const char *id, struct errbuf *err)
{
	size_t n = strlen(id);
	bool ok = n >= 1 && n <= JAIL_ID_MAX;
	for (size_t i = 0; ok && i < n; i++)
		ok = isalnum((unsigned char)id[i]) || id[i] == '-';
	if (!ok) {
		char e[80];
		return err_set(err, -EINVAL, "--id: must be 1..%d characters of [A-Za-z0-9-] (got \"%s\")",
			       JAIL_ID_MAX, jail_echo(id, e));
	}
	return 0;
}

/* Decimal digits only, no sign, no overflow. */
static bool parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

/* uid_t/gid_t -1 means "unchanged" to setresuid: not a user. */
static int parse_id(const char *flag, const char *s, uint32_t *out, struct errbuf *err)
{
	uint64_t v;
	if (!parse_u64(s, &v) || v >= UINT32_MAX) {
		char e[80];
		return err_set(err, -EINVAL, "--%s: want a number from 0 to %u (got \"%s\")", flag,
			       UINT32_MAX - 1, jail_echo(s, e));
	}
	*out = (uint32_t)v;
	return 0;
}

static bool name_ok(const char *s, size_t n)
{
	return n > 0 && !(n == 1 && s[0] == '.') && !(n == 2 && s[0] == '.' && s[1] == '.');
}

int jail_cgroup_arg_parse(const char *arg, struct jail_cgroup_arg *out, struct errbuf *err)
{
	char e[80];
	const char *eq = strchr(arg, '=');
	memset(out, 0, sizeof(*out));
	if (!eq || eq == arg || !eq[1])
		return err_set(err, -EINVAL, "--cgroup: want FILE=VALUE, e.g. cpu.shares=512 (got \"%s\")",
			       jail_echo(arg, e));
	size_t flen = (size_t)(eq - arg);
	const char *dot = memchr(arg, '.', flen);
	if (flen >= sizeof(out->file) || memchr(arg, '/', flen) || !name_ok(arg, flen) || !dot ||
	    dot == arg || dot + 1 == eq || (size_t)(dot - arg) >= sizeof(out->controller))
		return err_set(err, -EINVAL,
			       "--cgroup: the file must be a name <controller>.<setting>, e.g. "
			       "cpu.shares (got \"%s\")",
			       jail_echo(arg, e));
	for (const char *p = arg; p < eq; p++)
		if (!isgraph((unsigned char)*p))
			return err_set(err, -EINVAL, "--cgroup: unprintable file name \"%s\"",
				       jail_echo(arg, e));
	for (const char *p = eq + 1; *p; p++)
		if (*p == '\n')
			return err_set(err, -EINVAL, "--cgroup: a newline in the value of \"%s\"",
				       jail_echo(arg, e));
	out->arg = arg;
	memcpy(out->file, arg, flen);
	memcpy(out->controller, arg, (size_t)(dot - arg));
	out->value = eq + 1;
	return 0;
}

int jail_parent_cgroup_check(const char *parent, struct errbuf *err)
{
	char e[80];
	bool ok = parent[0] && parent[0] != '/' && strlen(parent) < 1024;
	for (const char *p = parent; ok && *p;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		ok = name_ok(p, n);
		for (size_t i = 0; ok && i < n; i++)
			ok = isgraph((unsigned char)p[i]);
		p += n;
		if (*p == '/') {
			p++;
			ok = ok && *p; /* no trailing '/' */
		}
	}
	if (!ok)
		return err_set(err, -EINVAL,
			       "--parent-cgroup: want a relative path of names, none \".\" or \"..\" "
			       "(got \"%s\")",
			       jail_echo(parent, e));
	return 0;
}

int jail_rlimit_parse(const char *arg, struct jail_args *a, struct errbuf *err)
{
	char e[80];
	const char *eq = strchr(arg, '=');
	uint64_t v;
	if (!eq)
		return err_set(err, -EINVAL,
			       "--resource-limit: want fsize=BYTES or no-file=N (got \"%s\")",
			       jail_echo(arg, e));
	size_t n = (size_t)(eq - arg);
	bool fsize = n == 5 && !strncmp(arg, "fsize", 5);
	bool nofile = n == 7 && !strncmp(arg, "no-file", 7);
	if (!fsize && !nofile)
		return err_set(err, -EINVAL,
			       "--resource-limit: unknown resource in \"%s\" (fsize or no-file)",
			       jail_echo(arg, e));
	if (!parse_u64(eq + 1, &v))
		return err_set(err, -EINVAL,
			       "--resource-limit: the value of \"%s\" is not a non-negative integer",
			       jail_echo(arg, e));
	if (fsize) {
		a->has_fsize = true;
		a->fsize = (rlim_t)v;
	} else {
		a->no_file = (rlim_t)v;
	}
	return 0;
}

static int set_value(enum flag_id f, const char *val, struct jail_args *a, struct errbuf *err)
{
	char e[80];
	if (!*val)
		return err_set(err, -EINVAL, "--%s: must not be empty", flags[f].name);
	switch (f) {
	case F_ID:
		a->id = val;
		return jail_id_check(val, err);
	case F_EXEC:
		a->exec_file = val;
		return 0;
	case F_UID:
	case F_GID: {
		uint32_t v = 0;
		int r = parse_id(flags[f].name, val, &v, err);
		if (r < 0)
			return r;
		if (f == F_UID)
			a->uid = (uid_t)v;
		else
			a->gid = (gid_t)v;
		return 0;
	}
	case F_BASE:
		a->chroot_base = val;
		return 0;
	case F_NETNS:
		a->netns = val;
		return 0;
	case F_CGVER:
		if (strcmp(val, "1") && strcmp(val, "2"))
			return err_set(err, -EINVAL, "--cgroup-version: want 1 or 2 (got \"%s\")",
				       jail_echo(val, e));
		a->cgroup_version = val[0] - '0';
		return 0;
	case F_CGROUP:
		if (a->ncgroups == JAIL_MAX_CGROUPS)
			return err_set(err, -E2BIG, "--cgroup: at most %d", JAIL_MAX_CGROUPS);
		return jail_cgroup_arg_parse(val, &a->cgroups[a->ncgroups++], err);
	case F_PARENT:
		a->parent_cgroup = val;
		return jail_parent_cgroup_check(val, err);
	case F_RLIMIT:
		return jail_rlimit_parse(val, a, err);
	default:
		return err_set(err, -EINVAL, "--%s: takes no value", flags[f].name);
	}
}

static int find_flag(const char *name, size_t n)
{
	for (int f = 0; f < F_COUNT; f++)
		if (strlen(flags[f].name) == n && !strncmp(flags[f].name, name, n))
			return f;
	return -1;
}

int jail_parse_args(int argc, char **argv, struct jail_args *a, struct errbuf *err)
{
	char e[80];
	bool seen[F_COUNT] = { false };
	memset(a, 0, sizeof(*a));
	a->chroot_base = JAIL_DEFAULT_BASE;
	a->cgroup_version = 1;
	a->no_file = JAIL_DEFAULT_NO_FILE;

	int end = argc; /* index of "--" */
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--")) {
			end = i;
			break;
		}
	for (int i = 1; i < end; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			a->help = true;
			return 0;
		}
		if (!strcmp(argv[i], "--version"))
			a->version = true;
	}
	if (a->version)
		return 0;

	for (int i = 1; i < end; i++) {
		const char *arg = argv[i];
		if (strncmp(arg, "--", 2) != 0)
			return err_set(err, -EINVAL,
				       "unexpected argument \"%s\" (VMM arguments go after \"--\")",
				       jail_echo(arg, e));
		const char *name = arg + 2, *eq = strchr(name, '=');
		size_t n = eq ? (size_t)(eq - name) : strlen(name);
		int f = find_flag(name, n);
		if (f < 0)
			return err_set(err, -EINVAL, "unknown option \"%s\"", jail_echo(arg, e));
		if (flags[f].kind != K_MANY && seen[f])
			return err_set(err, -EINVAL, "--%s: given more than once", flags[f].name);
		seen[f] = true;
		if (flags[f].kind == K_BOOL) {
			if (eq)
				return err_set(err, -EINVAL, "--%s: takes no value", flags[f].name);
			if (f == F_DAEMONIZE)
				a->daemonize = true;
			else if (f == F_PIDNS)
				a->new_pid_ns = true;
			continue;
		}
		const char *val;
		if (eq)
			val = eq + 1;
		else if (i + 1 < end && strncmp(argv[i + 1], "--", 2) != 0)
			val = argv[++i];
		else
			return err_set(err, -EINVAL, "--%s: missing value", flags[f].name);
		int r = set_value((enum flag_id)f, val, a, err);
		if (r < 0)
			return r;
	}
	static const enum flag_id required[] = { F_ID, F_EXEC, F_UID, F_GID };
	for (size_t k = 0; k < sizeof(required) / sizeof(required[0]); k++)
		if (!seen[required[k]])
			return err_set(err, -EINVAL, "--%s is required", flags[required[k]].name);

	a->vmm_argv = argv + (end < argc ? end + 1 : argc);
	a->vmm_argc = end < argc ? argc - end - 1 : 0;
	for (int i = 0; i < a->vmm_argc; i++)
		if (!strcmp(a->vmm_argv[i], "--id") || !strncmp(a->vmm_argv[i], "--id=", 5))
			return err_set(err, -EINVAL,
				       "VMM arguments: --id is passed on by the jailer (from its --id)");
	return 0;
}
