/* mkvmstate OUT [NAME[:VERSION]=TEXT ...]: writes a snapshot state file
 * with one section per argument, TEXT's bytes as its payload (version 1
 * unless given). For tests and fuzz seeds: shell cannot compute the CRC. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snapshots/format.h"

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: mkvmstate OUT [NAME[:VERSION]=TEXT ...]\n");
		return 2;
	}
	struct snap_writer w;
	snap_writer_init(&w);
	for (int i = 2; i < argc; i++) {
		char name[SNAP_NAME_MAX + 2];
		const char *eq = strchr(argv[i], '=');
		size_t nlen = eq ? (size_t)(eq - argv[i]) : 0;
		if (!eq || nlen >= sizeof(name)) {
			fprintf(stderr, "mkvmstate: bad section argument: %s\n", argv[i]);
			return 2;
		}
		memcpy(name, argv[i], nlen);
		name[nlen] = 0;
		unsigned long version = 1;
		char *colon = strrchr(name, ':');
		if (colon) {
			*colon = 0;
			version = strtoul(colon + 1, NULL, 0);
		}
		snap_put_section(&w, name, (uint16_t)version, eq + 1, strlen(eq + 1));
	}
	struct errbuf err = { "" };
	int r = snap_writer_save(&w, argv[1], &err);
	snap_writer_free(&w);
	if (r < 0) {
		fprintf(stderr, "mkvmstate: %s\n", err.msg);
		return 1;
	}
	return 0;
}
