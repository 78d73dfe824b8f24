/* ember-uffd-handler: the reference page-fault handler for the Uffd
 * memory backend (snapshots/uffd/handler.h, docs/snapshots.md). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "snapshots/uffd/handler.h"

static const char usage[] =
	"usage: ember-uffd-handler SOCKET_PATH MEMORY_FILE\n"
	"\n"
	"Serves the guest memory of one VMM restored with the Uffd memory backend\n"
	"(PUT /snapshot/load with \"mem_backend\": {\"backend_type\": \"Uffd\",\n"
	"\"backend_path\": SOCKET_PATH}) from MEMORY_FILE, a snapshot's memory file.\n"
	"Listens on SOCKET_PATH (which appears once it listens and is removed when\n"
	"the VMM connects), takes one VMM, copies in each page on its first touch,\n"
	"and exits when the VMM has gone. Start one per VMM, each with its own\n"
	"socket; several may serve the same MEMORY_FILE at once.\n"
	"\n"
	"Exit status: 0 the VMM has gone, 1 failed (one line on stderr),\n"
	"2 bad arguments.\n";

/* One line whatever the paths held. */
static void print_err(const char *msg)
{
	char line[sizeof(((struct errbuf *)0)->msg)];
	size_t i = 0;
	for (; msg[i] && i < sizeof(line) - 1; i++)
		line[i] = msg[i] == '\n' || msg[i] == '\r' ? '?' : msg[i];
	line[i] = 0;
	fprintf(stderr, "ember-uffd-handler: %s\n", line);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(usage, stdout);
			return 0;
		}
	}
	for (int i = 1; i < argc; i++) {
		if (argv[i][0] == '-' && argv[i][1]) {
			struct errbuf e;
			err_set(&e, -EINVAL, "unknown option %.64s (see --help)", argv[i]);
			print_err(e.msg);
			return 2;
		}
	}
	if (argc != 3) {
		fputs("ember-uffd-handler: want SOCKET_PATH MEMORY_FILE (see --help)\n", stderr);
		return 2;
	}
	struct errbuf err = { "" };
	if (uffd_handler_run(argv[1], argv[2], &err) < 0) {
		print_err(err.msg);
		return 1;
	}
	return 0;
}
