/* What a kernel format loader (elf.c, bzimage.c) found and placed, how
 * the boot vCPU enters the kernel, and the bounded file I/O the format
 * loaders share. Below loader.h: the format loaders, the zero page and
 * PVH start info build on this and never on boot_load. */
#ifndef EMBER_BOOT_KERNEL_H
#define EMBER_BOOT_KERNEL_H

#include <asm/bootparam.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/base/gmem.h"

enum boot_entry_mode {
	BOOT_ENTRY_LINUX64, /* 64-bit boot protocol: long mode, rsi = zero page */
	BOOT_ENTRY_PVH,     /* 32-bit protected mode, paging off, ebx = hvm_start_info */
};

struct boot_setup {
	enum boot_entry_mode mode;
	uint64_t entry;                  /* guest physical address */
	uint64_t params_gpa;             /* zero page or hvm_start_info */
	uint64_t kernel_start, kernel_end; /* [start, end) the kernel may use */
	uint64_t initrd_gpa, initrd_size;  /* 0, 0 without an initrd */
	uint64_t rsdp_gpa;                 /* ACPI RSDP, 0 without ACPI tables */
};

struct loader_kernel {
	enum boot_entry_mode mode;
	uint64_t entry;
	uint64_t start, end;       /* memory the kernel occupies or needs */
	uint64_t initrd_limit;     /* initrd must end at or below this (exclusive) */
	uint64_t cmdline_max;      /* max command-line bytes, NUL excluded */
	bool has_setup_header;     /* bzImage: hdr below is the kernel's */
	struct setup_header hdr;   /* bzImage setup header, loader fields filled */
	size_t hdr_len;            /* bytes of hdr present in the image */
};

/* Reads exactly len bytes at off; a short read (the file shrank) is -EIO. */
int loader_pread_full(int fd, void *buf, uint64_t len, uint64_t off);
/* Copies file bytes [off, off+len) to guest memory at gpa, all-or-nothing
 * bounds check first. */
int loader_copy_to_guest(struct guest_mem *mem, int fd, uint64_t off,
			 uint64_t gpa, uint64_t len);
/* End of the RAM below the 32-bit MMIO hole (region 0). */
uint64_t loader_low_end(const struct guest_mem *mem);

#endif
