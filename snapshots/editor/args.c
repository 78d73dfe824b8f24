#include <errno.h>
#include <string.h>

#include "snapshots/editor/args.h"

const char editor_usage[] =
	"usage: ember-snapshot-editor COMMAND SUBCOMMAND [OPTIONS]\n"
	"\n"
	"  edit-memory rebase --memory-path BASE --diff-path DIFF\n"
	"      Copy every data extent of the sparse Diff memory file DIFF into the\n"
	"      memory file BASE at the same offsets (BASE is changed in place).\n"
	"      A DIFF longer than BASE is refused.\n"
	"  info-vmstate version --vmstate-path FILE\n"
	"      Print the snapshot format version of the state file FILE, as \"v1\".\n"
	"\n"
	"  -h, --help   print this help and exit\n"
	"\n"
	"Exit status: 0 done, 1 failed, 2 bad arguments.\n";

struct opt {
	const char *name; /* without the leading "--" */
	char letter;
	const char **dest;
};

/* Matches argv[*i] against opts; takes the value from "=value" or the
 * next argument. */
static int take_option(int argc, char **argv, int *i, const struct opt *opts, size_t n,
		       const char *cmd, struct errbuf *err)
{
	const char *arg = argv[*i], *value = NULL;
	const struct opt *o = NULL;
	for (size_t k = 0; k < n && !o; k++) {
		size_t len = strlen(opts[k].name);
		if (arg[0] == '-' && arg[1] == '-' && !strncmp(arg + 2, opts[k].name, len) &&
		    (arg[2 + len] == 0 || arg[2 + len] == '=')) {
			o = &opts[k];
			if (arg[2 + len] == '=')
				value = arg + 3 + len;
		} else if (arg[0] == '-' && arg[1] == opts[k].letter && arg[2] == 0) {
			o = &opts[k];
		}
	}
	if (!o)
		return err_set(err, -EINVAL, "%s: unknown %s '%s'", cmd,
			       arg[0] == '-' ? "option" : "argument", arg);
	if (!value) {
		if (*i + 1 >= argc)
			return err_set(err, -EINVAL, "%s: --%s needs a value", cmd, o->name);
		value = argv[++*i];
	}
	if (*o->dest)
		return err_set(err, -EINVAL, "%s: --%s given twice", cmd, o->name);
	if (!value[0])
		return err_set(err, -EINVAL, "%s: --%s is empty", cmd, o->name);
	*o->dest = value;
	return 0;
}

int editor_parse_args(int argc, char **argv, struct editor_args *a, struct errbuf *err)
{
	memset(a, 0, sizeof(*a));
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			a->cmd = EDITOR_HELP;
			return 0;
		}
	}
	if (argc < 2)
		return err_set(err, -EINVAL, "no command (edit-memory or info-vmstate)");
	const char *cmd = argv[1], *sub = argc > 2 ? argv[2] : NULL;
	struct opt opts[2];
	size_t nopts;
	const char *name;
	if (!strcmp(cmd, "edit-memory")) {
		if (!sub || strcmp(sub, "rebase"))
			return err_set(err, -EINVAL, "edit-memory: want the subcommand 'rebase'%s%s%s",
				       sub ? ", not '" : "", sub ? sub : "", sub ? "'" : "");
		a->cmd = EDITOR_REBASE;
		name = "edit-memory rebase";
		opts[0] = (struct opt){ "memory-path", 'm', &a->memory_path };
		opts[1] = (struct opt){ "diff-path", 'd', &a->diff_path };
		nopts = 2;
	} else if (!strcmp(cmd, "info-vmstate")) {
		if (!sub || strcmp(sub, "version"))
			return err_set(err, -EINVAL, "info-vmstate: want the subcommand 'version'%s%s%s",
				       sub ? ", not '" : "", sub ? sub : "", sub ? "'" : "");
		a->cmd = EDITOR_VMSTATE_VERSION;
		name = "info-vmstate version";
		opts[0] = (struct opt){ "vmstate-path", 'v', &a->vmstate_path };
		nopts = 1;
	} else {
		return err_set(err, -EINVAL, "unknown command '%s' (edit-memory or info-vmstate)", cmd);
	}
	for (int i = 3; i < argc; i++) {
		int r = take_option(argc, argv, &i, opts, nopts, name, err);
		if (r < 0)
			return r;
	}
	for (size_t k = 0; k < nopts; k++)
		if (!*opts[k].dest)
			return err_set(err, -EINVAL, "%s: --%s is required", name, opts[k].name);
	return 0;
}
