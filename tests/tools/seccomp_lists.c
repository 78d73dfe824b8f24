/* seccomp-lists [--json]: the built-in seccomp filters of this build, each
 * thread kind's calls with their conditions and reasons (`make
 * seccomp-lists`); --json prints them as `ember --print-seccomp-filter`
 * does. */
#include <stdio.h>
#include <string.h>

#include "runtime/seccomp/filters.h"

int main(int argc, char **argv)
{
	struct filter_set set;
	filters_builtin(&set);
	if (argc == 2 && strcmp(argv[1], "--json") == 0)
		return filters_print_json(&set, stdout) < 0;
	if (argc != 1) {
		fprintf(stderr, "usage: seccomp-lists [--json]\n");
		return 2;
	}
	filters_print_text(&set, stdout);
	return 0;
}
