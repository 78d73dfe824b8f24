/* The ELF64 vmlinux format loader. */
#ifndef EMBER_BOOT_ELF_H
#define EMBER_BOOT_ELF_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime/base/err.h"
#include "runtime/base/gmem.h"
#include "runtime/boot/kernel.h"

/* Loads the vmlinux in fd (a regular file of file_size bytes) and fills k;
 * a PVH note selects BOOT_ENTRY_PVH unless prefer_linux64. Every header
 * field is bounds-checked against the file and guest memory. Returns 0 or
 * a negative errno with a message in err. */
int loader_elf_load(struct guest_mem *mem, int fd, uint64_t file_size,
		    bool prefer_linux64, struct loader_kernel *k, struct errbuf *err);

#endif
