/* Unit tests for config/cli.c: Firecracker-compatible flags. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/cli.h"

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])))

static int parse(int argc, char **argv, struct cli_opts *o, struct errbuf *err)
{
	memset(o, 0x5a, sizeof(*o)); /* catch fields the parser forgets to set */
	return cli_parse(argc, argv, o, err);
}

static void expect_err(int argc, char **argv, const char *frag)
{
	struct cli_opts o;
	struct errbuf err = { "" };
	cr_assert_eq(parse(argc, argv, &o, &err), -EINVAL, "accepted; want \"%s\"", frag);
	cr_assert(strstr(err.msg, frag), "error \"%s\" lacks \"%s\"", err.msg, frag);
}

Test(config_cli, defaults)
{
	char *argv[] = { "ember" };
	struct cli_opts o;
	struct errbuf err = { "" };
	cr_assert_eq(parse(ARGC(argv), argv, &o, &err), 0, "%s", err.msg);
	cr_assert_str_eq(o.api_sock, "/run/ember.socket");
	cr_assert_str_eq(o.id, "anonymous-instance");
	cr_assert_null(o.config_file);
	cr_assert_null(o.log_path);
	cr_assert_null(o.metrics_path);
	cr_assert_null(o.module);
	cr_assert_not(o.no_api);
	cr_assert_not(o.has_level);
	cr_assert_not(o.show_level);
	cr_assert_not(o.show_log_origin);
	cr_assert_not(o.boot_timer);
	cr_assert_not(o.has_accel);
	cr_assert_not(o.help);
	cr_assert_not(o.version);
	cr_assert_not(o.no_seccomp);
	cr_assert_null(o.seccomp_filter);
	cr_assert_not(o.print_seccomp);
}

Test(config_cli, every_flag_both_forms)
{
	char *argv[] = { "ember",
			 "--api-sock", "/tmp/a.sock",
			 "--config-file=/etc/vm.json",
			 "--no-api",
			 "--id", "vm-01",
			 "--log-path=/var/log/ember.log",
			 "--level", "trace",
			 "--show-level",
			 "--show-log-origin",
			 "--module=virtio",
			 "--boot-timer",
			 "--metrics-path", "/m.fifo",
			 "--accel=tcg" };
	struct cli_opts o;
	struct errbuf err = { "" };
	cr_assert_eq(parse(ARGC(argv), argv, &o, &err), 0, "%s", err.msg);
	cr_assert_str_eq(o.api_sock, "/tmp/a.sock");
	cr_assert_str_eq(o.config_file, "/etc/vm.json");
	cr_assert(o.no_api);
	cr_assert_str_eq(o.id, "vm-01");
	cr_assert_str_eq(o.log_path, "/var/log/ember.log");
	cr_assert(o.has_level);
	cr_assert_eq(o.level, LOG_TRACE);
	cr_assert(o.show_level);
	cr_assert(o.show_log_origin);
	cr_assert_str_eq(o.module, "virtio");
	cr_assert(o.boot_timer);
	cr_assert_str_eq(o.metrics_path, "/m.fifo");
	cr_assert(o.has_accel);
	cr_assert_eq(o.accel, CONFIG_ACCEL_TCG);
	cr_assert_not(o.help);

	/* The other form of each valued flag. */
	char *argv2[] = { "ember", "--api-sock=/s", "--config-file", "/c", "--id=x",
			  "--level=Off", "--accel", "kvm", "--metrics-path=/m", "--log-path", "/l",
			  "--module", "api" };
	cr_assert_eq(parse(ARGC(argv2), argv2, &o, &err), 0, "%s", err.msg);
	cr_assert_str_eq(o.api_sock, "/s");
	cr_assert_str_eq(o.config_file, "/c");
	cr_assert_str_eq(o.id, "x");
	cr_assert_eq(o.level, LOG_OFF);
	cr_assert_eq(o.accel, CONFIG_ACCEL_KVM);
	cr_assert_str_eq(o.metrics_path, "/m");
	cr_assert_str_eq(o.log_path, "/l");
	cr_assert_str_eq(o.module, "api");
	cr_assert_not(o.no_api);
}

Test(config_cli, unknown_and_positional)
{
	char *a1[] = { "ember", "--vcpus", "2" };
	expect_err(ARGC(a1), a1, "unknown option \"--vcpus\"");
	char *a2[] = { "ember", "--api-socket=/x" };
	expect_err(ARGC(a2), a2, "unknown option \"--api-socket\"");
	char *a3[] = { "ember", "vm.json" };
	expect_err(ARGC(a3), a3, "unexpected argument \"vm.json\"");
	char *a4[] = { "ember", "-h" };
	expect_err(ARGC(a4), a4, "unexpected argument \"-h\"");
	char *a5[] = { "ember", "--" };
	expect_err(ARGC(a5), a5, "unexpected argument \"--\"");
	char *a7[] = { "ember", "--x\nfake" };
	expect_err(ARGC(a7), a7, "unknown option \"--x?fake\"");
	/* A prefix is not a match. */
	char *a6[] = { "ember", "--api" };
	expect_err(ARGC(a6), a6, "unknown option \"--api\"");
}

Test(config_cli, values)
{
	char *a1[] = { "ember", "--api-sock" };
	expect_err(ARGC(a1), a1, "--api-sock: missing value");
	char *a2[] = { "ember", "--log-path", "--no-api" };
	expect_err(ARGC(a2), a2, "--log-path: missing value");
	char *a3[] = { "ember", "--no-api=true", "--config-file", "/c" };
	expect_err(ARGC(a3), a3, "--no-api: takes no value");
	char *a4[] = { "ember", "--api-sock=" };
	expect_err(ARGC(a4), a4, "--api-sock: must not be empty");
	char *a5[] = { "ember", "--id", "a", "--id", "b" };
	expect_err(ARGC(a5), a5, "--id: given more than once");
	char *a6[] = { "ember", "--show-level", "--show-level" };
	expect_err(ARGC(a6), a6, "--show-level: given more than once");
	char *a7[] = { "ember", "--level", "verbose" };
	expect_err(ARGC(a7), a7, "--level: must be one of Error, Warning, Info, Debug, Trace, Off");
	char *a8[] = { "ember", "--accel=hvf" };
	expect_err(ARGC(a8), a8, "--accel: must be one of kvm, tcg, auto (got \"hvf\")");

	/* "--opt=--x" passes a value that looks like a flag on purpose. */
	char *a9[] = { "ember", "--log-path=--weird" };
	struct cli_opts o;
	struct errbuf err = { "" };
	cr_assert_eq(parse(ARGC(a9), a9, &o, &err), 0, "%s", err.msg);
	cr_assert_str_eq(o.log_path, "--weird");
}

Test(config_cli, instance_id)
{
	char *a1[] = { "ember", "--id", "my_vm" };
	expect_err(ARGC(a1), a1, "--id: must be 1..64 characters of [A-Za-z0-9-] (got \"my_vm\")");
	char *a2[] = { "ember", "--id=" };
	expect_err(ARGC(a2), a2, "--id: must be 1..64");
	char id65[66], id64[65];
	memset(id65, 'a', 65);
	id65[65] = 0;
	memset(id64, 'b', 64);
	id64[64] = 0;
	char *a3[] = { "ember", "--id", id65 };
	expect_err(ARGC(a3), a3, "--id: must be 1..64");
	char *a4[] = { "ember", "--id", id64 };
	struct cli_opts o;
	struct errbuf err = { "" };
	cr_assert_eq(parse(ARGC(a4), a4, &o, &err), 0, "%s", err.msg);
	cr_assert_str_eq(o.id, id64);
}

Test(config_cli, no_api_needs_config_file)
{
	char *a1[] = { "ember", "--no-api" };
	expect_err(ARGC(a1), a1, "--no-api requires --config-file");

	/* --help and --version win over that rule. */
	struct cli_opts o;
	struct errbuf err = { "" };
	char *a2[] = { "ember", "--no-api", "--help" };
	cr_assert_eq(parse(ARGC(a2), a2, &o, &err), 0, "%s", err.msg);
	cr_assert(o.help);
	char *a3[] = { "ember", "--version", "--no-api" };
	cr_assert_eq(parse(ARGC(a3), a3, &o, &err), 0, "%s", err.msg);
	cr_assert(o.version);
	cr_assert_not(o.help);
	/* ...but not over an unknown flag. */
	char *a4[] = { "ember", "--help", "--bogus" };
	expect_err(ARGC(a4), a4, "unknown option \"--bogus\"");
}

Test(config_cli, usage_lists_every_flag)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	cr_assert_not_null(f);
	cli_usage(f);
	fclose(f);
	static const char *const flags[] = { "--api-sock", "--config-file", "--no-api",
					     "--id", "--log-path", "--level", "--show-level",
					     "--show-log-origin", "--module", "--boot-timer",
					     "--metrics-path", "--accel", "--no-seccomp",
					     "--seccomp-filter", "--print-seccomp-filter", "--version",
					     "--help" };
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		cr_assert(strstr(buf, flags[i]), "usage lacks %s:\n%s", flags[i], buf);
	cr_assert(strstr(buf, "/run/ember.socket"));
	cr_assert(strstr(buf, "anonymous-instance"));
	free(buf);
}

Test(config_cli, seccomp_flags)
{
	struct cli_opts o;
	struct errbuf err = { "" };
	char *a1[] = { "ember", "--no-seccomp" };
	cr_assert_eq(parse(ARGC(a1), a1, &o, &err), 0, "%s", err.msg);
	cr_assert(o.no_seccomp);
	cr_assert_null(o.seccomp_filter);
	char *a2[] = { "ember", "--seccomp-filter", "/etc/ember/filter.json", "--print-seccomp-filter" };
	cr_assert_eq(parse(ARGC(a2), a2, &o, &err), 0, "%s", err.msg);
	cr_assert_not(o.no_seccomp);
	cr_assert_str_eq(o.seccomp_filter, "/etc/ember/filter.json");
	cr_assert(o.print_seccomp);
	/* Off and a filter at once is a contradiction, as in Firecracker. */
	char *a3[] = { "ember", "--seccomp-filter=f.json", "--no-seccomp" };
	expect_err(ARGC(a3), a3, "--no-seccomp contradicts --seccomp-filter");
	char *a4[] = { "ember", "--no-seccomp", "--print-seccomp-filter" };
	expect_err(ARGC(a4), a4, "--no-seccomp contradicts --print-seccomp-filter");
	char *a5[] = { "ember", "--seccomp-filter" };
	expect_err(ARGC(a5), a5, "--seccomp-filter: missing value");
}

Test(config_cli, mmds_flags)
{
	char *argv[] = { "ember" };
	struct cli_opts o;
	struct errbuf err = { "" };
	cr_assert_eq(parse(ARGC(argv), argv, &o, &err), 0, "%s", err.msg);
	cr_assert_eq(o.mmds_size_limit, 51200);
	cr_assert_null(o.metadata);
	char *argv2[] = { "ember", "--mmds-size-limit", "100", "--metadata=/m.json" };
	cr_assert_eq(parse(ARGC(argv2), argv2, &o, &err), 0, "%s", err.msg);
	cr_assert_eq(o.mmds_size_limit, 100);
	cr_assert_str_eq(o.metadata, "/m.json");
	char *bad1[] = { "ember", "--mmds-size-limit=0" };
	expect_err(ARGC(bad1), bad1, "--mmds-size-limit: must be a number of bytes");
	char *bad2[] = { "ember", "--mmds-size-limit", "-5" };
	expect_err(ARGC(bad2), bad2, "--mmds-size-limit");
	char *bad3[] = { "ember", "--mmds-size-limit", "12k" };
	expect_err(ARGC(bad3), bad3, "(got \"12k\")");
	char *bad4[] = { "ember", "--metadata=" };
	expect_err(ARGC(bad4), bad4, "--metadata: must not be empty");
}
