/* Initial state of the boot vCPU for the two entry protocols, and the GDT
 * and identity page tables it needs in guest memory. */
#ifndef EMBER_BOOT_CPU_H
#define EMBER_BOOT_CPU_H

#include <stdint.h>

#include "runtime/base/err.h"
#include "runtime/base/gmem.h"
#include "runtime/boot/layout.h"
#include "runtime/boot/kernel.h"
#include "runtime/backend/x86.h"

/* Linux boot.rst, "64-bit Boot Protocol": __BOOT_CS 0x10, __BOOT_DS 0x18.
 * Entry 1 is free; PVH puts its 32-bit TSS there. */
#define BOOT_SEL_TSS32 0x08
#define BOOT_SEL_CODE 0x10
#define BOOT_SEL_DATA 0x18
#define BOOT_GDT_ENTRIES 4 /* 32 bytes: ends exactly at LAYOUT_IDT */

/* Page-table entry bits (SDM vol. 3, 4.5). */
#define BOOT_PTE_P (1ULL << 0)
#define BOOT_PTE_RW (1ULL << 1)
#define BOOT_PTE_PS (1ULL << 7)

/* The xAPIC base MSR value of a bootstrap processor: enabled, BSP flag. */
#define BOOT_APIC_BASE_BSP (LAYOUT_LAPIC | (1ULL << 11) | (1ULL << 8))

/* Encodes a flat segment as an 8-byte GDT descriptor (SDM vol. 3, 3.4.5);
 * limit is in bytes, scaled by 4 KiB when g is set. */
uint64_t boot_gdt_entry(const struct x86_segment *s);

/* Sets the BSP's registers for setup->mode and writes the GDT, an empty
 * IDT and (for BOOT_ENTRY_LINUX64) page tables identity-mapping the first
 * 4 GiB with 2 MiB pages. Returns 0 or a negative errno. */
int boot_cpu_state(struct guest_mem *mem, const struct boot_setup *setup,
		   struct x86_regs *regs, struct x86_sregs *sregs, struct errbuf *err);

#endif
