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

