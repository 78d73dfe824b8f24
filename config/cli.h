/* Ember's command line: Firecracker's flags where they overlap (same names,
 * same defaults, same rules), plus --accel. Parsing never exits or prints;
 * main acts on help/version and reports errors. */
#ifndef EMBER_CLI_H
#define EMBER_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "config/config.h"
#include "runtime/base/err.h"
#include "runtime/base/log.h"

#define CLI_DEFAULT_API_SOCK "/run/ember.socket"
#define CLI_DEFAULT_ID "anonymous-instance"
/* Firecracker's instance id rule: 1..64 of [A-Za-z0-9-]. */
#define CLI_ID_MAX 64
/* Firecracker's --mmds-size-limit default (its API payload limit). */
#define CLI_DEFAULT_MMDS_SIZE_LIMIT 51200
#define CLI_SIZE_MAX (1ull << 30)

/* Strings point into argv or at static defaults: nothing to free. */
struct cli_opts {
	const char *api_sock;    /* --api-sock, default CLI_DEFAULT_API_SOCK */
	const char *config_file; /* --config-file, NULL if not given */
	bool no_api;             /* --no-api (requires --config-file) */
	const char *id;          /* --id, default CLI_DEFAULT_ID */
	const char *log_path;    /* --log-path, NULL: stderr */
	bool has_level;          /* --level given */
	enum log_level level;
	bool show_level;         /* --show-level */
	bool show_log_origin;    /* --show-log-origin */
	const char *module;      /* --module: only log from this module */
	bool boot_timer;         /* --boot-timer */
	const char *metrics_path; /* --metrics-path */
	bool has_accel;          /* --accel given (overrides machine-config) */
	enum config_accel accel;
	size_t mmds_size_limit;  /* --mmds-size-limit */
	const char *metadata;    /* --metadata: MMDS data file, NULL if not given */
	bool no_seccomp;         /* --no-seccomp: no thread installs a filter */
	const char *seccomp_filter; /* --seccomp-filter: Firecracker's JSON, NULL: built in */
	bool print_seccomp;      /* --print-seccomp-filter: print the filters as JSON and exit */
	bool help;               /* --help: other checks skipped */
	bool version;            /* --version: other checks skipped */
};

/* Accepts "--flag value" and "--flag=value". Unknown, repeated or
 * positional arguments, missing values and bad values are -EINVAL. */
int cli_parse(int argc, char **argv, struct cli_opts *out, struct errbuf *err);
void cli_usage(FILE *f);

#endif
