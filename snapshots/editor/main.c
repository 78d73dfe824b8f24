/* ember-snapshot-editor: offline edits and queries of Ember snapshot
 * files, with Firecracker's snapshot-editor command line. */
#include <errno.h>
#include <stdio.h>

#include "snapshots/editor/args.h"
#include "snapshots/editor/rebase.h"
#include "snapshots/format.h"

static int run(const struct editor_args *a, struct errbuf *err)
{
	switch (a->cmd) {
	case EDITOR_HELP:
		fputs(editor_usage, stdout);
		return 0;
	case EDITOR_REBASE:
		return snap_mem_rebase(a->memory_path, a->diff_path, err);
	case EDITOR_VMSTATE_VERSION: {
		uint32_t version;
		int r = snap_peek_version(a->vmstate_path, &version, err);
		if (r == 0)
			printf("v%u\n", version);
		return r;
	}
	}
	return err_set(err, -EINVAL, "no command");
}

int main(int argc, char **argv)
{
	struct editor_args a;
	struct errbuf err = { "" };
	if (editor_parse_args(argc, argv, &a, &err) < 0) {
		fprintf(stderr, "ember-snapshot-editor: %s (see --help)\n", err.msg);
		return 2;
	}
	if (run(&a, &err) < 0) {
		fprintf(stderr, "ember-snapshot-editor: %s\n", err.msg);
		return 1;
	}
	if (fflush(stdout) != 0) {
		perror("ember-snapshot-editor: stdout");
		return 1;
	}
	return 0;
}
