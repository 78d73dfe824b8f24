/* Kernel loading: puts a Linux kernel (ELF vmlinux or bzImage), its
 * command line, initrd and boot tables into guest memory, and says how
 * the boot vCPU must enter it. The boot vCPU's registers come from
 * boot_cpu_state() (runtime/boot/cpu.h). */
#ifndef EMBER_BOOT_LOADER_H
#define EMBER_BOOT_LOADER_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime/base/err.h"
#include "runtime/base/gmem.h"
#include "runtime/boot/acpi/acpi.h"
#include "runtime/boot/kernel.h"

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
	/* ACPI tables to write at LAYOUT_ACPI_BASE (RSDP first), announced
	 * in the zero page and the PVH start info; NULL: none. */
	const struct acpi_platform *acpi;
};

/* Loads everything for spec into mem and describes the entry in *out.
 * Returns 0 or a negative errno with a message in err. */
int boot_load(struct guest_mem *mem, const struct boot_spec *spec,
	      struct boot_setup *out, struct errbuf *err);

/* Picks a page-aligned initrd address as high as possible below limit and
 * at or above floor. Returns 0 or -ENOSPC. */
int loader_place_initrd(uint64_t floor, uint64_t limit, uint64_t size, uint64_t *gpa);

#endif
