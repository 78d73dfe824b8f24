/* The bzImage format loader (64-bit boot protocol). */
#ifndef EMBER_BOOT_BZIMAGE_H
#define EMBER_BOOT_BZIMAGE_H

#include <stdint.h>

#include "runtime/base/err.h"
#include "runtime/base/gmem.h"
#include "runtime/boot/kernel.h"

/* Loads the protected-mode part of the bzImage in fd (a regular file of
 * file_size bytes) and fills k, setup header included. Every header field
 * is bounds-checked against the file and guest memory. Returns 0 or a
 * negative errno with a message in err. */
int loader_bzimage_load(struct guest_mem *mem, int fd, uint64_t file_size,
			struct loader_kernel *k, struct errbuf *err);

#endif
