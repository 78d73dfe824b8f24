/* uffdvmm SOCKET MEMORY_FILE MIB: plays a VMM restored with the Uffd
 * memory backend, as runtime/vm/restore.c does it: MIB of fresh guest
 * memory handed to the page-fault handler at SOCKET; then reads every page
 * and compares it with MEMORY_FILE. Exits 0 if all match, 1 otherwise;
 * exiting is how the handler learns the VMM has gone. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/vm/uffd.h"

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: uffdvmm SOCKET MEMORY_FILE MIB\n");
		return 2;
	}
	/* Below the MMIO hole: one region, guest address = file offset. */
	uint64_t size = strtoull(argv[3], NULL, 0) << 20;
	if (size == 0 || size > 1024 << 20) {
		fprintf(stderr, "uffdvmm: MIB must be 1..1024\n");
		return 2;
	}
	struct guest_mem mem;
	struct errbuf err = { "" };
	int uffd, conn, fd = open(argv[2], O_RDONLY | O_CLOEXEC);
	if (fd < 0 || gm_alloc(&mem, size) < 0) {
		perror("uffdvmm");
		return 1;
	}
	if (vm_uffd_attach(&mem, argv[1], &uffd, &conn, &err) < 0) {
		fprintf(stderr, "uffdvmm: %s\n", err.msg);
		return 1;
	}
	static uint8_t want[4096];
	uint64_t bad = 0;
	for (uint64_t off = 0; off < size; off += sizeof(want)) {
		if (pread(fd, want, sizeof(want), (off_t)off) != (ssize_t)sizeof(want)) {
			fprintf(stderr, "uffdvmm: %s: shorter than %s MiB\n", argv[2], argv[3]);
			return 1;
		}
		if (memcmp(gm_ptr(&mem, off, sizeof(want)), want, sizeof(want)) != 0)
			bad++;
	}
	printf("uffdvmm: %" PRIu64 " pages, %" PRIu64 " differ\n", size / 4096, bad);
	return bad ? 1 : 0;
}
