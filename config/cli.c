/* Command-line parsing, table-driven: each flag names the cli_opts field it
 * fills and how to read its value. */
#include "config/cli.h"
#include "config/config_json.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

enum cli_kind {
	CLI_BOOL,  /* no value: sets a bool */
	CLI_STR,   /* non-empty string */
	CLI_ID,    /* instance id */
	CLI_LEVEL, /* log level name */
	CLI_ACCEL, /* kvm | tcg | auto */
	CLI_SIZE,  /* a byte count, 1..CLI_SIZE_MAX (fills a size_t) */
};

static const struct cli_flag {
	const char *name;
	enum cli_kind kind;
	size_t off; /* of the target field in struct cli_opts */
	const char *help;
} cli_flags[] = {
#define F(n, k, field, h) { n, k, offsetof(struct cli_opts, field), h }
	F("api-sock", CLI_STR, api_sock, "PATH  API socket (default " CLI_DEFAULT_API_SOCK ")"),
	F("config-file", CLI_STR, config_file, "PATH  configure the VM from this JSON file"),
	F("no-api", CLI_BOOL, no_api, "      no API socket (needs --config-file)"),
	F("id", CLI_ID, id, "ID    instance id, 1..64 of [A-Za-z0-9-] (default " CLI_DEFAULT_ID ")"),
	F("log-path", CLI_STR, log_path, "PATH  log to this file instead of stderr"),
	F("level", CLI_LEVEL, level, "LEVEL Error|Warning|Info|Debug|Trace|Off"),
	F("show-level", CLI_BOOL, show_level, "      prefix log lines with their level"),
	F("show-log-origin", CLI_BOOL, show_log_origin, "      prefix log lines with file:line"),
	F("module", CLI_STR, module, "NAME  log only messages from this module"),
	F("boot-timer", CLI_BOOL, boot_timer, "      add the boot-timer device"),
	F("metrics-path", CLI_STR, metrics_path, "PATH  write metrics to this file"),
	F("accel", CLI_ACCEL, accel, "ACCEL kvm|tcg|auto: who runs the guest (default auto)"),
	F("mmds-size-limit", CLI_SIZE, mmds_size_limit,
	  "BYTES the MMDS data store's limit (default 51200)"),
	F("metadata", CLI_STR, metadata, "PATH  MMDS data to start with (a JSON file)"),
	F("no-seccomp", CLI_BOOL, no_seccomp, "      no seccomp filters (not for production)"),
	F("seccomp-filter", CLI_STR, seccomp_filter,
	  "PATH  seccomp filters from this file (Firecracker's seccompiler JSON)"),
	F("print-seccomp-filter", CLI_BOOL, print_seccomp,
	  "      print the seccomp filters (built in, or --seccomp-filter's) as JSON and exit"),
	F("version", CLI_BOOL, version, "      print the version and exit"),
	F("help", CLI_BOOL, help, "      print this help and exit"),
#undef F
};
#define CLI_NFLAGS (sizeof(cli_flags) / sizeof(cli_flags[0]))

void cli_usage(FILE *f)
{
	fprintf(f, "Usage: ember [OPTION]...\n"
		   "Run one microVM, configured through the API socket or a config file\n"
		   "(Firecracker's formats). Options take \"--opt VALUE\" or \"--opt=VALUE\".\n\n");
	for (size_t i = 0; i < CLI_NFLAGS; i++)
		fprintf(f, "  --%-20s %s\n", cli_flags[i].name, cli_flags[i].help);
}

static bool cli_id_valid(const char *id)
{
	size_t n = strlen(id);
	if (n < 1 || n > CLI_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)id[i]) && id[i] != '-')
			return false;
	return true;
}

static int cli_set(const struct cli_flag *fl, const char *val, struct cli_opts *o,
		   struct errbuf *err)
{
	void *field = (char *)o + fl->off;
	char e[CONFIG_ECHO_MAX];

	switch (fl->kind) {
	case CLI_BOOL:
		*(bool *)field = true;
		return 0;
	case CLI_ID:
		if (!cli_id_valid(val))
			return err_set(err, -EINVAL,
				       "--id: must be 1..%d characters of [A-Za-z0-9-] (got \"%s\")",
				       CLI_ID_MAX, config_echo(val, SIZE_MAX, e));
		break;
	case CLI_STR:
		if (!*val)
			return err_set(err, -EINVAL, "--%s: must not be empty", fl->name);
		break;
	case CLI_LEVEL:
		if (log_level_parse(val, &o->level) < 0)
			return err_set(err, -EINVAL,
				       "--level: must be one of Error, Warning, Info, Debug, Trace, "
				       "Off (got \"%s\")",
				       config_echo(val, SIZE_MAX, e));
		o->has_level = true;
		return 0;
	case CLI_SIZE: {
		char *end;
		errno = 0;
		unsigned long long v = strtoull(val, &end, 10);
		if (!isdigit((unsigned char)*val) || *end || errno || v < 1 || v > CLI_SIZE_MAX)
			return err_set(err, -EINVAL, "--%s: must be a number of bytes, 1..%llu (got \"%s\")",
				       fl->name, (unsigned long long)CLI_SIZE_MAX,
				       config_echo(val, SIZE_MAX, e));
		*(size_t *)field = (size_t)v;
		return 0;
	}
	case CLI_ACCEL:
		if (config_accel_parse(val, &o->accel) < 0)
			return err_set(err, -EINVAL,
				       "--accel: must be one of kvm, tcg, auto (got \"%s\")",
				       config_echo(val, SIZE_MAX, e));
		o->has_accel = true;
		return 0;
	}
	*(const char **)field = val;
	return 0;
}

int cli_parse(int argc, char **argv, struct cli_opts *out, struct errbuf *err)
{
	struct cli_opts o = {
		.api_sock = CLI_DEFAULT_API_SOCK,
		.id = CLI_DEFAULT_ID,
		.mmds_size_limit = CLI_DEFAULT_MMDS_SIZE_LIMIT,
	};
	bool seen[CLI_NFLAGS] = { false };

	char e[CONFIG_ECHO_MAX];

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (strncmp(arg, "--", 2) != 0 || !arg[2])
			return err_set(err, -EINVAL, "unexpected argument \"%s\"",
				       config_echo(arg, SIZE_MAX, e));
		const char *name = arg + 2, *eq = strchr(name, '=');
		size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
		size_t f = 0;
		while (f < CLI_NFLAGS &&
		       (strlen(cli_flags[f].name) != nlen || strncmp(cli_flags[f].name, name, nlen)))
			f++;
		if (f == CLI_NFLAGS)
			return err_set(err, -EINVAL, "unknown option \"--%s\"",
				       config_echo(name, nlen, e));
		const struct cli_flag *fl = &cli_flags[f];
		if (seen[f])
			return err_set(err, -EINVAL, "--%s: given more than once", fl->name);
		seen[f] = true;

		const char *val = NULL;
		if (fl->kind == CLI_BOOL) {
			if (eq)
				return err_set(err, -EINVAL, "--%s: takes no value", fl->name);
		} else if (eq) {
			val = eq + 1;
		} else if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
			/* A following "--x" is the next option, not a value (as
			 * Firecracker); "--opt=--x" still allows such a value. */
			val = argv[++i];
		} else {
			return err_set(err, -EINVAL, "--%s: missing value", fl->name);
		}
		int rc = cli_set(fl, val, &o, err);
		if (rc)
			return rc;
	}
	if (!o.help && !o.version && o.no_api && !o.config_file)
		return err_set(err, -EINVAL, "--no-api requires --config-file");
	if (o.no_seccomp && (o.seccomp_filter || o.print_seccomp))
		return err_set(err, -EINVAL, "--no-seccomp contradicts --%s",
			       o.seccomp_filter ? "seccomp-filter" : "print-seccomp-filter");
	*out = o;
	return 0;
}
