/* Kernel loading: puts a Linux kernel (ELF vmlinux or bzImage), its
 * command line, initrd and boot tables into guest memory, and says how
 * the boot vCPU must enter it. The boot vCPU's registers come from
 * boot_cpu_state() (runtime/boot/cpu.h). */
#ifndef EMBER_LOADER_H
#define EMBER_LOADER_H

#include <asm/bootparam.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/base/err.h"
#include "runtime/base/gmem.h"

#define BOOT_MAX_VCPUS 32

struct boot_spec {
	const char *kernel_path;
	const char *initrd_path; /* may be NULL */
	const char *cmdline;     /* may be NULL: empty command line */
	unsigned nr_vcpus;       /* 1..BOOT_MAX_VCPUS, for the MP table */
	/* An ELF with a PVH note boots through PVH (as Firecracker does);
	 * this forces the 64-bit Linux boot protocol instead. */
	bool prefer_linux64;
	/* A platform without local APIC and I/O APIC (the software CPU's
	 * 8259 + 8254) gets no MP table, which would announce both. */
	bool no_mptable;
};

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
};

/* Loads everything for spec into mem and describes the entry in *out.
 * Returns 0 or a negative errno with a message in err. */
int boot_load(struct guest_mem *mem, const struct boot_spec *spec,
	      struct boot_setup *out, struct errbuf *err);

/* ---- Internals shared by loader_*.c, bootparams.c, pvh.c and the tests. */

/* What a kernel format loader found and placed. */
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

/* Format loaders. fd is a regular file of file_size bytes. They bounds-check
 * every header field against the file and guest memory. */
int loader_elf_load(struct guest_mem *mem, int fd, uint64_t file_size,
		    bool prefer_linux64, struct loader_kernel *k, struct errbuf *err);
int loader_bzimage_load(struct guest_mem *mem, int fd, uint64_t file_size,
			struct loader_kernel *k, struct errbuf *err);

/* Reads exactly len bytes at off; a short read (the file shrank) is -EIO. */
int loader_pread_full(int fd, void *buf, uint64_t len, uint64_t off);
/* Copies file bytes [off, off+len) to guest memory at gpa, all-or-nothing
 * bounds check first. */
int loader_copy_to_guest(struct guest_mem *mem, int fd, uint64_t off,
			 uint64_t gpa, uint64_t len);
/* End of the RAM below the 32-bit MMIO hole (region 0). */
uint64_t loader_low_end(const struct guest_mem *mem);
/* Picks a page-aligned initrd address as high as possible below limit and
 * at or above floor. Returns 0 or -ENOSPC. */
int loader_place_initrd(uint64_t floor, uint64_t limit, uint64_t size, uint64_t *gpa);

#endif
