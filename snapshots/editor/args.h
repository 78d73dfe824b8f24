/* ember-snapshot-editor's command line: Firecracker's snapshot-editor
 * commands where they overlap. Parsing neither prints nor exits. */
#ifndef EMBER_SNAP_EDITOR_ARGS_H
#define EMBER_SNAP_EDITOR_ARGS_H

#include <stdbool.h>

#include "runtime/base/err.h"

enum editor_cmd {
	EDITOR_HELP,           /* --help or -h anywhere */
	EDITOR_REBASE,         /* edit-memory rebase */
	EDITOR_VMSTATE_VERSION /* info-vmstate version */
};

struct editor_args {
	enum editor_cmd cmd;
	const char *memory_path; /* --memory-path, -m */
	const char *diff_path;   /* --diff-path, -d */
	const char *vmstate_path; /* --vmstate-path, -v */
};

/* Options take "--name value", "--name=value" or "-x value". Unknown
 * commands or options, repeats, missing values and missing required
 * options are -EINVAL with a one-line message. */
int editor_parse_args(int argc, char **argv, struct editor_args *a, struct errbuf *err);

extern const char editor_usage[];

#endif
