/* ember-jailer: starts the VMM confined, with the flags and in the order
 * of Firecracker's jailer (docs/jailer.md). Each step is one call; until
 * the exec, a failure takes back what this run made (undo.c) and exits 1
 * with one line on stderr. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jailer/args.h"
#include "jailer/cgroup.h"
#include "jailer/check.h"
#include "jailer/devices.h"
#include "jailer/jail.h"
#include "jailer/pivot.h"
#include "jailer/privileges.h"
#include "jailer/proc.h"
#include "jailer/undo.h"

extern char **environ;

struct run {
	const struct jail_args *a;
	struct jail_plan plan;
	struct undo undo;
	int devnull;
	bool inside;    /* pivoted: the host's /proc is gone */
	bool exit_now;  /* a parent of a fork: exit 0 */
};

/* The exec: ./<name> --id ID, then the VMM arguments, with an empty
 * environment. Returns only on failure. */
static int exec_vmm(struct run *s, struct errbuf *err)
{
	const struct jail_args *a = s->a;
	size_t n = (size_t)a->vmm_argc + 4;
	char **argv = calloc(n, sizeof(*argv));
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "./%s", s->plan.name);
	if (!argv)
		return err_set(err, -ENOMEM, "out of memory");
	argv[0] = path;
	argv[1] = "--id";
	argv[2] = (char *)a->id;
	for (int i = 0; i < a->vmm_argc; i++)
		argv[3 + i] = a->vmm_argv[i];
	execve(path, argv, environ);
	int r = -errno;
	free(argv);
	return err_set(err, r, "exec %s in the jail: %s", path, strerror(-r));
}

/* After the pivot: the jail's directories and devices, the network
 * namespace, --daemonize, --new-pid-ns and the pid file. */
static int inside_jail(struct run *s, struct errbuf *err)
{
	const struct jail_args *a = s->a;
	const struct jail_plan *p = &s->plan;
	int r = jail_own_dirs(a->uid, a->gid, p->root, &s->undo, err);
	if (r == 0)
		r = devices_make(p->devs, a->uid, a->gid, p->root, &s->undo, err);
	if (r == 0 && p->netns_fd >= 0 && setns(p->netns_fd, CLONE_NEWNET) < 0)
		r = err_set(err, -errno, "--netns: setns: %s", strerror(errno));
	if (r < 0)
		return r;
	fflush(stderr);
	if (a->daemonize) {
		r = proc_daemonize(s->devnull, err);
		s->devnull = -1;
		if (r != 0) {
			s->exit_now = r > 0;
			return r < 0 ? r : 0;
		}
	}
	pid_t pid = getpid();
	if (a->new_pid_ns) {
		r = proc_new_pid_ns(a->daemonize, &pid, err);
		if (r < 0)
			return r;
		if (r > 0) {
			/* The parent: the VMM's pid into the pid file, then exit 0. */
			s->exit_now = true;
			return jail_write_pid(p->name, pid, p->root, &s->undo, err);
		}
		return 0; /* the child: its host pid is the parent's to write */
	}
	return jail_write_pid(p->name, pid, p->root, &s->undo, err);
}

static int run(struct run *s, struct errbuf *err)
{
	const struct jail_args *a = s->a;
	struct jail_plan *p = &s->plan;
	int r = jail_check(a, p, err);
	if (r < 0)
		return r;
	if ((r = undo_init(&s->undo)) < 0)
		return err_set(err, r, "opening /: %s", strerror(-r));
	if ((r = jail_root_make(p->base, p->root, &s->undo, err)) < 0)
		return r;
	if ((r = jail_copy_exec(p->exec, p->root, p->name, a->uid, a->gid, &s->undo, err)) < 0)
		return r;
	if ((r = jail_stage_libs(&p->libs, p->root, &s->undo, err)) < 0)
		return r;
	if (p->cg && (r = cg_setup(p->cg, getpid(), &s->undo, err)) < 0)
		return r;
	if (a->daemonize && (s->devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
		return err_set(err, -errno, "/dev/null: %s", strerror(errno));
	if ((r = jail_enter(p->root, &p->libs, err)) < 0)
		return r;
	s->inside = true;
	if ((r = inside_jail(s, err)) < 0 || s->exit_now)
		return r;
	if ((r = jail_set_rlimits(a, err)) < 0)
		return r;
	/* From here nothing is taken back: what is left is the VMM's. */
	undo_done(&s->undo);
	jail_plan_free(p);
	if ((r = proc_close_fds(3, -1, err)) < 0)
		return r;
	if ((r = jail_drop_privileges(a->uid, a->gid, err)) < 0)
		return r;
	return exec_vmm(s, err);
}

int main(int argc, char **argv)
{
	struct errbuf err = { "" };
	/* As Firecracker: nothing inherited reaches the jail, no descriptor
	 * and no environment variable. */
	if (proc_close_fds(3, -1, &err) < 0) {
		fprintf(stderr, "ember-jailer: %s\n", err.msg);
		return 1;
	}
	clearenv();

	struct jail_args a;
	if (jail_parse_args(argc, argv, &a, &err) < 0) {
		fprintf(stderr, "ember-jailer: %s (see --help)\n", err.msg);
		return 2;
	}
	if (a.help) {
		fputs(jail_usage, stdout);
		return 0;
	}
	if (a.version) {
		printf("ember-jailer %s\n", JAILER_VERSION);
		return 0;
	}

	struct run s = { .a = &a, .devnull = -1, .undo = { .rootfd = -1, .mntns = -1 }, .plan = { .netns_fd = -1 } };
	int r = run(&s, &err);
	if (r < 0) {
		size_t left = undo_run(&s.undo);
		fprintf(stderr, "ember-jailer: %s%s\n", err.msg,
			left ? " (could not take back all this run made)" : "");
	}
	undo_done(&s.undo);
	jail_plan_free(&s.plan);
	if (s.devnull >= 0)
		close(s.devnull);
	fflush(stdout);
	fflush(stderr);
	/* In the jail, atexit handlers (a sanitizer's leak check among them)
	 * would look for a /proc that is not there. */
	if (s.inside)
		_exit(r < 0 ? 1 : 0);
	return r < 0 ? 1 : 0;
}
