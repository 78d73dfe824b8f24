/* Where things live in guest physical memory and on the buses.
 * Low-memory addresses follow the Linux x86 boot protocol's conventions
 * (Documentation/arch/x86/boot.rst) and the values Firecracker uses. */
#ifndef EMBER_LAYOUT_H
#define EMBER_LAYOUT_H

#include "runtime/base/gmem.h"

#define LAYOUT_GDT 0x500ULL
#define LAYOUT_IDT 0x520ULL
#define LAYOUT_PVH_INFO 0x6000ULL      /* hvm_start_info + memmap */
#define LAYOUT_ZERO_PAGE 0x7000ULL     /* struct boot_params */
#define LAYOUT_BOOT_STACK 0x8ff0ULL
#define LAYOUT_PML4 0x9000ULL
#define LAYOUT_PDPT 0xa000ULL
#define LAYOUT_PD 0xb000ULL            /* 4 pages: identity map of 4 GiB, 2 MiB pages */
#define LAYOUT_CMDLINE 0x20000ULL
#define LAYOUT_CMDLINE_MAX 0x10000ULL  /* bytes, NUL included */
#define LAYOUT_EBDA 0x9fc00ULL         /* MP table lives here; reserved in e820 */
#define LAYOUT_HIMEM 0x100000ULL       /* kernels load at or above 1 MiB */
/* ACPI tables, the RSDP first: in the BIOS area Linux scans for the RSDP
 * (0xE0000-0xFFFFF), reserved in the e820 map with the rest up to 1 MiB. */
#define LAYOUT_ACPI_BASE 0xE0000ULL

/* MMIO: the boot-timer page first (as Firecracker), then virtio-mmio slots. */
#define LAYOUT_BOOT_TIMER 0xC0000000ULL
#define LAYOUT_MMIO_DEV_BASE 0xD0000000ULL
#define LAYOUT_MMIO_DEV_SIZE 0x1000ULL
#define LAYOUT_IOAPIC 0xFEC00000ULL
#define LAYOUT_LAPIC 0xFEE00000ULL

/* Legacy ISA interrupts and ports. */
#define LAYOUT_COM1_PORT 0x3f8
#define LAYOUT_COM1_IRQ 4
#define LAYOUT_I8042_PORT 0x60         /* data 0x60, command/status 0x64 */
#define LAYOUT_I8042_IRQ 1
#define LAYOUT_RTC_PORT 0x70           /* index 0x70, data 0x71 */
#define LAYOUT_RTC_IRQ 8               /* never raised, but x86 Linux takes it for the RTC */
#define LAYOUT_PVPANIC_PORT 0x505
#define LAYOUT_FIRST_VIRTIO_IRQ 5      /* 5, 6, 7, then 9 on: LAYOUT_RTC_IRQ is skipped */
/* ACPI fixed hardware of a platform without APICs (the software CPU):
 * PM1a event (status, enable) and control blocks, and the SCI on IRQ 3,
 * the one ISA line nothing else of Ember uses (COM2's). */
#define LAYOUT_ACPI_PM1_EVT 0x600
#define LAYOUT_ACPI_PM1_CNT 0x604
#define LAYOUT_ACPI_SCI_IRQ 3
/* ACPI sleep control and status registers of a hardware-reduced platform
 * (KVM's), one byte each. */
#define LAYOUT_ACPI_SLEEP 0x606

#endif
