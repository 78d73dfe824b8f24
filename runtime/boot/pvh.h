/* PVH boot: the hvm_start_info block a PVH kernel finds through ebx.
 * Layouts from Xen's public/arch-x86/hvm/start_info.h (version 1). */
#ifndef EMBER_BOOT_PVH_H
#define EMBER_BOOT_PVH_H

#include <asm/bootparam.h>
#include <stdint.h>

#include "runtime/base/err.h"
#include "runtime/base/gmem.h"
#include "runtime/boot/layout.h"
#include "runtime/boot/kernel.h"

#define PVH_START_MAGIC 0x336ec578 /* "xEn3" with the 0x80 bit of the "E" set */
#define PVH_START_VERSION 1        /* adds memmap_paddr/memmap_entries */

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;  /* array of hvm_modlist_entry */
	uint64_t cmdline_paddr;  /* NUL-terminated ASCII */
	uint64_t rsdp_paddr;     /* 0: the guest searches for ACPI itself */
	uint64_t memmap_paddr;   /* array of hvm_memmap_table_entry */
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type; /* E820 types */
	uint32_t reserved;
};

_Static_assert(sizeof(struct hvm_start_info) == 56, "start_info.h layout");
_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "start_info.h layout");
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "start_info.h layout");

/* Everything lives in the LAYOUT_PVH_INFO page: start_info, then the
 * module list, then the memory map. */
#define PVH_MODLIST_GPA (LAYOUT_PVH_INFO + 0x40)
#define PVH_MEMMAP_GPA (LAYOUT_PVH_INFO + 0x80)

/* Writes start_info, modlist (the initrd, if s has one) and the memory map
 * (e820[0..n)) into guest memory. The command line is at LAYOUT_CMDLINE. */
int pvh_write_start_info(struct guest_mem *mem, const struct boot_setup *s,
			 const struct boot_e820_entry *e820, unsigned n, struct errbuf *err);

#endif
