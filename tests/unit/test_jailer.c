/* jailer/: the command line, cgroup mount and file parsing, the cgroup
 * plan against a made-up hierarchy, the ELF dependency walk, and the jail
 * root with its undo list (the binary itself is driven by
 * tests/integration/t_jailer.sh). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jailer/args.h"
#include "jailer/cgroup.h"
#include "jailer/jail.h"
#include "jailer/libs.h"
#include "jailer/undo.h"

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])))

static int parse(int argc, char **argv, struct jail_args *a, struct errbuf *err)
{
	return jail_parse_args(argc, argv, a, err);
}

Test(jailer_args, firecracker_command_line)
{
	char *v[] = { "jailer", "--id", "551e7604-e35c-42b3-b825-416853441234",
		      "--exec-file", "/usr/bin/ember", "--uid", "123", "--gid=100",
		      "--chroot-base-dir", "/tmp/j", "--netns", "/var/run/netns/a",
		      "--daemonize", "--new-pid-ns", "--cgroup-version", "2",
		      "--cgroup", "cpuset.cpus=0-1", "--cgroup=io.max=8:0 rbps=1000",
		      "--parent-cgroup", "all/vms", "--resource-limit", "fsize=250000000",
		      "--resource-limit", "no-file=1024", "--", "--api-sock", "api.sock",
		      "--level", "Debug" };
	struct jail_args a;
	struct errbuf err = { "" };
	cr_assert_eq(parse(ARGC(v), v, &a, &err), 0, "%s", err.msg);
	cr_assert_str_eq(a.id, "551e7604-e35c-42b3-b825-416853441234");
	cr_assert_str_eq(a.exec_file, "/usr/bin/ember");
	cr_assert_eq(a.uid, 123);
	cr_assert_eq(a.gid, 100);
	cr_assert_str_eq(a.chroot_base, "/tmp/j");
	cr_assert_str_eq(a.netns, "/var/run/netns/a");
	cr_assert(a.daemonize && a.new_pid_ns);
	cr_assert_eq(a.cgroup_version, 2);
	cr_assert_eq(a.ncgroups, 2);
	cr_assert_str_eq(a.cgroups[0].file, "cpuset.cpus");
	cr_assert_str_eq(a.cgroups[0].controller, "cpuset");
	cr_assert_str_eq(a.cgroups[0].value, "0-1");
	cr_assert_str_eq(a.cgroups[1].file, "io.max");
	cr_assert_str_eq(a.cgroups[1].value, "8:0 rbps=1000", "a value may hold '='");
	cr_assert_str_eq(a.parent_cgroup, "all/vms");
	cr_assert(a.has_fsize);
	cr_assert_eq(a.fsize, 250000000);
	cr_assert_eq(a.no_file, 1024);
	cr_assert_eq(a.vmm_argc, 4);
	cr_assert_str_eq(a.vmm_argv[0], "--api-sock");
	cr_assert_str_eq(a.vmm_argv[3], "Debug");
}

Test(jailer_args, defaults)
{
	char *v[] = { "j", "--id", "a", "--exec-file", "e", "--uid", "0", "--gid", "0" };
	struct jail_args a;
	cr_assert_eq(parse(ARGC(v), v, &a, NULL), 0);
	cr_assert_str_eq(a.chroot_base, "/srv/jailer");
	cr_assert_eq(a.cgroup_version, 1);
	cr_assert_eq(a.no_file, 2048, "Firecracker's default");
	cr_assert(!a.has_fsize && !a.daemonize && !a.new_pid_ns && !a.netns && !a.parent_cgroup);
	cr_assert_eq(a.ncgroups, 0);
	cr_assert_eq(a.vmm_argc, 0);
}

Test(jailer_args, help_and_version_win)
{
	char *h[] = { "j", "--bogus", "--help" };
	char *v[] = { "j", "--id", "a/b", "--version" };
	char *after[] = { "j", "--id", "x", "--", "--help" };
	struct jail_args a;
	cr_assert_eq(parse(ARGC(h), h, &a, NULL), 0);
	cr_assert(a.help);
	cr_assert_eq(parse(ARGC(v), v, &a, NULL), 0);
	cr_assert(a.version);
	cr_assert_neq(parse(ARGC(after), after, &a, NULL), 0, "--help after -- is the VMM's");
}

static void refused(int argc, char **argv, const char *word)
{
	struct jail_args a;
	struct errbuf err = { "" };
	cr_assert_eq(parse(argc, argv, &a, &err), -EINVAL, "accepted; want '%s'", word);
	cr_assert(strstr(err.msg, word), "\"%s\" lacks \"%s\"", err.msg, word);
	cr_assert_null(strchr(err.msg, '\n'), "one line: %s", err.msg);
}

#define BASE "j", "--exec-file", "e", "--uid", "1", "--gid", "1"

Test(jailer_args, bad_ids)
{
	char *slash[] = { BASE, "--id", "a/b" };
	char *dots[] = { BASE, "--id", ".." };
	char *under[] = { BASE, "--id", "a_b" };
	char *empty[] = { BASE, "--id", "" };
	char *nl[] = { BASE, "--id", "a\nb" };
	char long65[66];
	memset(long65, 'a', 65);
	long65[65] = 0;
	char *toolong[] = { BASE, "--id", long65 };
	refused(ARGC(slash), slash, "--id");
	refused(ARGC(dots), dots, "[A-Za-z0-9-]");
	refused(ARGC(under), under, "a_b");
	refused(ARGC(empty), empty, "--id");
	refused(ARGC(nl), nl, "a?b");
	refused(ARGC(toolong), toolong, "1..64");
	char long64[65];
	memset(long64, 'a', 64);
	long64[64] = 0;
	char *ok[] = { BASE, "--id", long64 };
	struct jail_args a;
	cr_assert_eq(parse(ARGC(ok), ok, &a, NULL), 0, "64 characters are fine");
}

Test(jailer_args, bad_flags)
{
	char *unknown[] = { BASE, "--id", "a", "--frob" };
	char *twice[] = { BASE, "--id", "a", "--id", "b" };
	char *twice_bool[] = { BASE, "--id", "a", "--daemonize", "--daemonize" };
	char *noval[] = { BASE, "--id" };
	char *nextflag[] = { BASE, "--netns", "--id", "a" };
	char *boolval[] = { BASE, "--id", "a", "--new-pid-ns=1" };
	char *stray[] = { BASE, "--id", "a", "extra" };
	char *missing[] = { "j", "--id", "a", "--uid", "1", "--gid", "1" };
	char *nouid[] = { "j", "--id", "a", "--exec-file", "e", "--gid", "1" };
	char *baduid[] = { BASE, "--id", "a", "--uid", "-1" };
	char *uidmax[] = { "j", "--id", "a", "--exec-file", "e", "--uid", "4294967295", "--gid", "1" };
	char *gidtext[] = { "j", "--id", "a", "--exec-file", "e", "--uid", "1", "--gid", "wheel" };
	char *ver[] = { BASE, "--id", "a", "--cgroup-version", "3" };
	char *emptyv[] = { BASE, "--id", "a", "--chroot-base-dir=" };
	char *vmmid[] = { BASE, "--id", "a", "--", "--api-sock", "s", "--id", "b" };
	refused(ARGC(unknown), unknown, "--frob");
	refused(ARGC(twice), twice, "more than once");
	refused(ARGC(twice_bool), twice_bool, "--daemonize");
	refused(ARGC(noval), noval, "missing value");
	refused(ARGC(nextflag), nextflag, "--netns: missing value");
	refused(ARGC(boolval), boolval, "takes no value");
	refused(ARGC(stray), stray, "\"extra\"");
	refused(ARGC(missing), missing, "--exec-file is required");
	refused(ARGC(nouid), nouid, "--uid is required");
	refused(ARGC(baduid), baduid, "--uid");
	refused(ARGC(uidmax), uidmax, "4294967294");
	refused(ARGC(gidtext), gidtext, "wheel");
	refused(ARGC(ver), ver, "1 or 2");
	refused(ARGC(emptyv), emptyv, "must not be empty");
	refused(ARGC(vmmid), vmmid, "--id is passed on");
}

Test(jailer_args, resource_limits)
{
	struct jail_args a = { .no_file = 2048 };
	struct errbuf err = { "" };
	cr_assert_eq(jail_rlimit_parse("fsize=0", &a, &err), 0);
	cr_assert(a.has_fsize && a.fsize == 0);
	cr_assert_eq(jail_rlimit_parse("no-file=18446744073709551615", &a, &err), 0);
	cr_assert_eq(a.no_file, (rlim_t)-1);
	static const char *const bad[] = { "", "foo", "fsize", "fsize=", "fsize=-1", "fsize=2.5",
					   "fsize= 1", "nofile=3", "no-file=18446744073709551616",
					   "=5", "FSIZE=1", "no-file=1k" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err.msg[0] = 0;
		cr_assert_eq(jail_rlimit_parse(bad[i], &a, &err), -EINVAL, "accepted \"%s\"", bad[i]);
		cr_assert(strstr(err.msg, "--resource-limit"), "%s", err.msg);
	}
}

Test(jailer_args, cgroup_files)
{
	struct jail_cgroup_arg c;
	struct errbuf err = { "" };
	cr_assert_eq(jail_cgroup_arg_parse("memory.swap.high=2", &c, &err), 0, "%s", err.msg);
	cr_assert_str_eq(c.controller, "memory");
	cr_assert_str_eq(c.file, "memory.swap.high");
	cr_assert_str_eq(c.value, "2");
	cr_assert_eq(jail_cgroup_arg_parse("cpuset.cpus=2-4,5.3", &c, &err), 0);
	cr_assert_str_eq(c.value, "2-4,5.3");
	static const char *const bad[] = { "",	       "cpusetcpus=2", "cpuset.cpus=",
					   "cpuset.cpus", "=2",	   ".cpus=1",
					   "cpu.=1",     "../cpu.shares=1", "cpu/x.shares=1",
					   "..=1",       "cpu shares.x=1", "cpu.shares=1\n2" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err.msg[0] = 0;
		cr_assert_eq(jail_cgroup_arg_parse(bad[i], &c, &err), -EINVAL, "accepted \"%s\"",
			     bad[i]);
		cr_assert(strstr(err.msg, "--cgroup"), "%s", err.msg);
		cr_assert_null(strchr(err.msg, '\n'));
	}
}

Test(jailer_args, parent_cgroup)
{
	static const char *const good[] = { "ember", "all_uvms/external_uvms", "a-b.c" };
	static const char *const bad[] = { "",	    "/abs", "a/../b", "./a", "a/.", "..",
					   "a//b", "a/",   "a b" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		cr_assert_eq(jail_parent_cgroup_check(good[i], NULL), 0, "refused %s", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(jail_parent_cgroup_check(bad[i], NULL), -EINVAL, "accepted \"%s\"",
			     bad[i]);
}

/* This machine's shape: v1 controllers, two sharing a mount, a named
 * hierarchy, the v2 mount beside them, other file systems around. */
static const char mounts[] =
	"sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0\n"
	"tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0\n"
	"cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,relatime,cpu,cpuacct 0 0\n"
	"cgroup /sys/fs/cgroup/pids cgroup rw,nosuid,relatime,pids 0 0\n"
	"cgroup /sys/fs/cgroup/cpuset cgroup rw,relatime,cpuset 0 0\n"
	"cgroup /sys/fs/cgroup/systemd cgroup rw,relatime,name=systemd 0 0\n"
	"cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0\n"
	"cgroup /mnt/with\\040space cgroup rw,memory 0 0\n"
	"/dev/vda / ext4 rw,relatime 0 0";

Test(jailer_cgroup, mounts)
{
	struct cg_mounts *m = calloc(1, sizeof(*m));
	cr_assert_eq(cg_mounts_parse(mounts, m, NULL), 0);
	cr_assert_eq(m->n, 6);
	cr_assert_str_eq(cg_find_v1(m, "cpu")->dir, "/sys/fs/cgroup/cpu,cpuacct");
	cr_assert_str_eq(cg_find_v1(m, "cpuacct")->dir, "/sys/fs/cgroup/cpu,cpuacct");
	cr_assert_str_eq(cg_find_v1(m, "pids")->dir, "/sys/fs/cgroup/pids");
	cr_assert_str_eq(cg_find_v1(m, "memory")->dir, "/mnt/with space", "\\040 decoded");
	cr_assert_null(cg_find_v1(m, "name=systemd"), "a named hierarchy has no controller");
	cr_assert_null(cg_find_v1(m, "relatime"), "a mount option is no controller");
	cr_assert_null(cg_find_v1(m, "rw"));
	cr_assert_null(cg_find_v1(m, "io"));
	cr_assert_null(cg_find_v1(m, "cpus"));
	cr_assert_str_eq(cg_find_v2(m)->dir, "/sys/fs/cgroup/unified");
	cr_assert_eq(cg_mounts_parse("cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n", m, NULL), 0);
	cr_assert_null(cg_find_v1(m, "cpu"));
	cr_assert_str_eq(cg_find_v2(m)->dir, "/sys/fs/cgroup");
	free(m);
}

Test(jailer_cgroup, self_path)
{
	static const char self[] = "9:name=systemd:/\n"
				   "4:memory:/process_api/80ed\n"
				   "2:cpu,cpuacct:/user.slice\n"
				   "0::/init.scope\n";
	char p[256];
	cr_assert_eq(cg_self_path(self, 1, "memory", p, sizeof(p)), 0);
	cr_assert_str_eq(p, "/process_api/80ed");
	cr_assert_eq(cg_self_path(self, 1, "cpuacct", p, sizeof(p)), 0);
	cr_assert_str_eq(p, "/user.slice");
	cr_assert_eq(cg_self_path(self, 2, "", p, sizeof(p)), 0);
	cr_assert_str_eq(p, "/init.scope");
	cr_assert_eq(cg_self_path(self, 1, "pids", p, sizeof(p)), -ENOENT);
	cr_assert_eq(cg_self_path("1:pids:/a", 2, "", p, sizeof(p)), -ENOENT);
}

/* A made-up v1 + v2 pair under a temporary directory. */
struct fake {
	char dir[64];
	char mounts[512];
	struct cg_mounts m;
	struct cg_plan p;
};

static struct fake *fake_make(const char *v2_controllers)
{
	struct fake *f = calloc(1, sizeof(*f));
	strcpy(f->dir, "/tmp/ember-cgtest.XXXXXX");
	cr_assert_not_null(mkdtemp(f->dir));
	snprintf(f->mounts, sizeof(f->mounts),
		 "cgroup %s/pids cgroup rw,pids 0 0\n"
		 "cgroup %s/cpu cgroup rw,cpu,cpuacct 0 0\n"
		 "cgroup2 %s/unified cgroup2 rw 0 0\n",
		 f->dir, f->dir, f->dir);
	char path[128];
	snprintf(path, sizeof(path), "%s/unified", f->dir);
	cr_assert_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/unified/cgroup.controllers", f->dir);
	FILE *fp = fopen(path, "w");
	fputs(v2_controllers, fp);
	fclose(fp);
	cr_assert_eq(cg_mounts_parse(f->mounts, &f->m, NULL), 0);
	return f;
}

static void fake_free(struct fake *f)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	cr_assert_eq(system(cmd), 0);
	free(f);
}

static int plan(struct fake *f, int version, const char *const *cg, size_t n, struct errbuf *err)
{
	struct jail_args a = { .id = "vm1", .cgroup_version = version };
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(jail_cgroup_arg_parse(cg[i], &a.cgroups[a.ncgroups++], NULL), 0);
	/* the plan keeps pointers to the flags: keep them alive */
	static struct jail_args keep;
	keep = a;
	return cg_plan_make(&keep, "ember", &f->m, "3:pids:/outer\n2:cpu,cpuacct:/\n0::/x\n",
			    &f->p, err);
}

Test(jailer_cgroup, plan_v1)
{
	struct fake *f = fake_make("");
	static const char *const cg[] = { "pids.max=10", "cpu.shares=512", "cpuacct.x=1" };
	struct errbuf err = { "" };
	cr_assert_eq(plan(f, 1, cg, 3, &err), 0, "%s", err.msg);
	cr_assert_eq(f->p.n, 2, "cpu and cpuacct share one hierarchy");
	char want[256];
	snprintf(want, sizeof(want), "%s/pids/ember/vm1", f->dir);
	cr_assert_str_eq(f->p.t[0].dir, want);
	snprintf(want, sizeof(want), "%s/pids/outer/cgroup.procs", f->dir);
	cr_assert_str_eq(f->p.t[0].origin, want);
	snprintf(want, sizeof(want), "%s/cpu/ember/vm1", f->dir);
	cr_assert_str_eq(f->p.t[1].dir, want);
	snprintf(want, sizeof(want), "%s/cpu/cgroup.procs", f->dir);
	cr_assert_str_eq(f->p.t[1].origin, want);
	cr_assert_eq(f->p.prop_target[0], 0);
	cr_assert_eq(f->p.prop_target[1], 1);
	cr_assert_eq(f->p.prop_target[2], 1);

	static const char *const nomem[] = { "memory.max=1" };
	cr_assert_eq(plan(f, 1, nomem, 1, &err), -ENOENT);
	cr_assert(strstr(err.msg, "no cgroup v1 hierarchy has the memory controller"), "%s", err.msg);
	static const char *const procs[] = { "cgroup.procs=1" };
	cr_assert_eq(plan(f, 2, procs, 1, &err), -EINVAL);
	fake_free(f);
}

Test(jailer_cgroup, plan_v2)
{
	struct fake *f = fake_make("cpuset cpu io memory hugetlb\n");
	static const char *const cg[] = { "memory.max=1G", "cpu.max=max 100000",
					  "cgroup.max.depth=2", "memory.high=1G" };
	struct errbuf err = { "" };
	cr_assert_eq(plan(f, 2, cg, 4, &err), 0, "%s", err.msg);
	cr_assert_eq(f->p.n, 1);
	char want[256];
	snprintf(want, sizeof(want), "%s/unified/ember/vm1", f->dir);
	cr_assert_str_eq(f->p.t[0].dir, want);
	snprintf(want, sizeof(want), "%s/unified/x/cgroup.procs", f->dir);
	cr_assert_str_eq(f->p.t[0].origin, want);
	cr_assert_str_eq(f->p.t[0].controllers, " memory cpu", "core files need no controller");

	static const char *const pids[] = { "pids.max=5" };
	cr_assert_eq(plan(f, 2, pids, 1, &err), -ENOENT);
	cr_assert(strstr(err.msg, "does not offer the pids controller (it has: cpuset cpu io memory "
				  "hugetlb)"),
		  "%s", err.msg);

	cr_assert_eq(plan(f, 2, NULL, 0, &err), 0, "%s", err.msg);
	cr_assert(f->p.t[0].move_only, "v2 without --cgroup: move into the parent");
	snprintf(want, sizeof(want), "%s/unified/ember", f->dir);
	cr_assert_str_eq(f->p.t[0].dir, want);

	cr_assert_eq(plan(f, 1, NULL, 0, &err), 0);
	cr_assert_eq(f->p.n, 0, "v1 without --cgroup: nothing");
	fake_free(f);
}

Test(jailer_cgroup, no_v2_mount)
{
	struct cg_mounts *m = calloc(1, sizeof(*m));
	struct cg_plan *p = calloc(1, sizeof(*p));
	cr_assert_eq(cg_mounts_parse("cgroup /c cgroup rw,cpu 0 0\n", m, NULL), 0);
	struct jail_args a = { .id = "x", .cgroup_version = 2 };
	struct errbuf err = { "" };
	cr_assert_eq(cg_plan_make(&a, "ember", m, "", p, &err), -ENOENT);
	cr_assert(strstr(err.msg, "no cgroup2 mount"), "%s", err.msg);
	free(m);
	free(p);
}

Test(jailer_libs, this_binary)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	cr_assert_gt(n, 0);
	self[n] = 0;
	struct elf_deps d;
	struct errbuf err = { "" };
	cr_assert_eq(elf_deps_read(self, &d, &err), 0, "%s", err.msg);
	cr_assert_str_eq(d.interp, "/lib64/ld-linux-x86-64.so.2");
	elf_deps_free(&d);

	struct jail_libs l;
	cr_assert_eq(jail_libs_resolve(self, &l, &err), 0, "%s", err.msg);
	bool interp = false, libc = false, criterion = false;
	for (size_t i = 0; i < l.n; i++) {
		interp |= !strcmp(l.v[i].jail, "/lib64/ld-linux-x86-64.so.2");
		libc |= !strcmp(l.v[i].jail, JAIL_LIB_DIR "/libc.so.6");
		criterion |= !strncmp(l.v[i].jail, JAIL_LIB_DIR "/libcriterion.so", 34);
		cr_assert_eq(access(l.v[i].host, R_OK), 0, "%s", l.v[i].host);
		for (size_t j = 0; j < i; j++)
			cr_assert_str_neq(l.v[i].jail, l.v[j].jail, "each once");
	}
	cr_assert(interp && libc && criterion, "%zu libraries", l.n);
	jail_libs_free(&l);
}

Test(jailer_libs, not_elf)
{
	char path[] = "/tmp/ember-notelf.XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "#!/bin/sh\nexit 0\n", 17), 17);
	close(fd);
	struct jail_libs l;
	struct errbuf err = { "" };
	cr_assert_eq(jail_libs_resolve(path, &l, &err), -ENOEXEC);
	cr_assert(strstr(err.msg, "not a 64-bit x86-64 ELF"), "%s", err.msg);
	unlink(path);
}

Test(jailer_jail, root_made_and_taken_back)
{
	char base[] = "/tmp/ember-jailtest.XXXXXX", root[256], path[300];
	cr_assert_not_null(mkdtemp(base));
	snprintf(root, sizeof(root), "%s/ember/vm1/root", base);
	struct undo u;
	struct errbuf err = { "" };
	cr_assert_eq(undo_init(&u), 0);
	cr_assert_eq(jail_root_make(base, root, &u, &err), 0, "%s", err.msg);
	cr_assert_eq(u.n, 3, "ember, vm1, root");
	snprintf(path, sizeof(path), "%s/exe", base);
	FILE *fp = fopen(path, "w");
	fputs("binary", fp);
	fclose(fp);
	chmod(path, 04755);
	cr_assert_eq(jail_copy_exec(path, root, "ember", getuid(), getgid(), &u, &err), 0, "%s",
		     err.msg);
	struct stat st;
	snprintf(path, sizeof(path), "%s/ember", root);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0755, "permissions copied, set-id bits not");
	cr_assert_eq(st.st_size, 6);
	cr_assert_eq(st.st_nlink, 1, "a copy, not a link");
	cr_assert_eq(undo_run(&u), 0);
	undo_done(&u);
	snprintf(path, sizeof(path), "%s/ember", base);
	cr_assert_neq(access(path, F_OK), 0, "everything made is gone");

	/* A jail that was there stays, with what a user staged in it. */
	cr_assert_eq(undo_init(&u) == 0 && jail_root_make(base, root, &u, NULL) == 0, 1);
	undo_done(&u);
	snprintf(path, sizeof(path), "%s/kernel", root);
	fp = fopen(path, "w");
	fclose(fp);
	cr_assert_eq(undo_init(&u), 0);
	cr_assert_eq(jail_root_make(base, root, &u, NULL), 0);
	cr_assert_eq(u.n, 0);
	snprintf(path, sizeof(path), "%s/exe", base);
	cr_assert_eq(jail_copy_exec(path, root, "ember", getuid(), getgid(), &u, NULL), 0);
	cr_assert_eq(u.n, 1);
	cr_assert_eq(undo_run(&u), 0);
	snprintf(path, sizeof(path), "%s/kernel", root);
	cr_assert_eq(access(path, F_OK), 0, "the staged file stays");
	undo_done(&u);

	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
	cr_assert_eq(system(cmd), 0);
}
