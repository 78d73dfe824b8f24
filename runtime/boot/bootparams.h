/* The Linux zero page (struct boot_params), its e820 memory map and the
 * kernel command line (Documentation/arch/x86/boot.rst, zero-page.rst). */
#ifndef EMBER_BOOT_BOOTPARAMS_H
#define EMBER_BOOT_BOOTPARAMS_H

#include <asm/bootparam.h>
#include <stdint.h>

#include "runtime/base/err.h"
#include "runtime/base/gmem.h"
#include "runtime/boot/kernel.h"

/* e820 types (ACPI "Address Range Types"; Linux asm/e820/types.h). */
#define BOOT_E820_RAM 1
#define BOOT_E820_RESERVED 2
/* Our map never has more than four entries; room to spare. */
#define BOOT_E820_MAX 8

/* Fills out[] with the guest's memory map and returns the entry count:
 * RAM below the EBDA, the EBDA..1 MiB legacy area reserved, RAM from
 * 1 MiB to the end of low memory, RAM above 4 GiB if any. */
unsigned bootparams_e820(const struct guest_mem *mem, struct boot_e820_entry *out);

/* Writes cmdline (NULL = empty) NUL-terminated at LAYOUT_CMDLINE. max_len
 * is the most characters the kernel accepts, NUL excluded. Returns 0,
 * -E2BIG with both sizes in err, or -EFAULT. */
int bootparams_write_cmdline(struct guest_mem *mem, const char *cmdline,
			     uint64_t max_len, struct errbuf *err);

/* Builds the zero page for a kernel k placed as s describes; the command
 * line is at LAYOUT_CMDLINE. */
void bootparams_fill(struct boot_params *bp, const struct loader_kernel *k,
		     const struct boot_setup *s, const struct boot_e820_entry *e820,
		     unsigned nr_e820);

#endif
