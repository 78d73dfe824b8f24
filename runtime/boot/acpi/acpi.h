/* ACPI tables for the guest (ACPI 6.3): RSDP, XSDT, FADT, FACS, MADT and a
 * DSDT built from a list of device descriptions. Pure: everything is
 * built into a caller's bounded buffer as it will sit at a given guest
 * address; runtime/boot/loader.c copies it into guest memory.
 *
 * Two platforms: with local APICs and an I/O APIC (KVM's in-kernel
 * irqchip) the FADT is hardware-reduced and a MADT lists them; without
 * (the software CPU's 8259 pair) there is no MADT, and since a
 * hardware-reduced FADT makes Linux drop the 8259 (null_legacy_pic), the
 * FADT describes fixed hardware instead: the PM1 event and control blocks
 * (runtime/devices/acpi_pm.c), an SCI line and a FACS. Either way the
 * DSDT's \_S5 and the registers let the guest power off. */
#ifndef EMBER_BOOT_ACPI_ACPI_H
#define EMBER_BOOT_ACPI_ACPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ACPI_MAX_CPUS 32
/* Devices in one DSDT: the virtio-mmio slots and the legacy devices. */
#define ACPI_MAX_DEVS 32
#define ACPI_DEV_MAX_IO 2
/* Bytes all tables for ACPI_MAX_CPUS and ACPI_MAX_DEVS fit in (checked by
 * the unit tests with the largest inputs). */
#define ACPI_TABLES_MAX 0x2000
#define ACPI_NO_IRQ (-1)
/* The sleep type of \_S5 (soft-off) in the DSDT. */
#define ACPI_S5_SLP_TYP 5

/* One device of the DSDT, in \_SB. Every field is checked by acpi_build. */
struct acpi_dev_desc {
	char name[5];  /* ACPI name: 1..4 of A-Z 0-9 _, not starting with a digit */
	char hid[9];   /* "PNP0501" (EISA id, encoded as one) or "LNRO0005" (string) */
	uint32_t uid;
	unsigned nr_io; /* fixed 16-bit I/O ranges */
	struct { uint16_t base; uint8_t len; } io[ACPI_DEV_MAX_IO];
	uint32_t mmio_base, mmio_len; /* len 0: none */
	int irq; /* ACPI_NO_IRQ or the line */
	/* Interrupt() (any GSI) rather than IRQNoFlags() (ISA 0..15). */
	bool irq_extended;
};

struct acpi_platform {
	unsigned nr_cpus; /* 1..ACPI_MAX_CPUS */
	bool apic;        /* local APICs + I/O APIC: MADT, hardware-reduced FADT */
	uint32_t lapic_addr, ioapic_addr;
	unsigned ioapic_pins; /* GSIs 0..pins-1 */
	/* Without apic: the fixed hardware (all non-zero). */
	uint16_t pm1_evt_port, pm1_cnt_port; /* 4 and 2 bytes */
	uint8_t sci_irq;
	/* With apic: the sleep control and status registers, one byte each
	 * at sleep_port and sleep_port + 1 (non-zero). */
	uint16_t sleep_port;
	/* Reset: a byte written to an I/O port (the i8042's 0xFE to 0x64);
	 * port 0: none. */
	uint16_t reset_port;
	uint8_t reset_value;
	const struct acpi_dev_desc *devs;
	unsigned nr_devs; /* <= ACPI_MAX_DEVS */
};

/* Where each table landed, as guest addresses (0: not built). */
struct acpi_layout {
	uint64_t rsdp, xsdt, fadt, facs, dsdt, madt;
	size_t size; /* bytes used from base */
};

/* Builds all tables into buf (cap bytes) as they will sit at guest
 * address base (16-byte aligned; the RSDP comes first, at base, where a
 * BIOS-area scan finds it). Returns the bytes used, -EINVAL for a bad
 * platform or device description, -ENOSPC if cap is too small. */
long acpi_build(uint8_t *buf, size_t cap, uint64_t base, const struct acpi_platform *p,
		struct acpi_layout *out);

/* The DSDT alone (header included), for acpi_build and the tests. */
long acpi_build_dsdt(uint8_t *buf, size_t cap, const struct acpi_dev_desc *devs, unsigned n);

/* Two's-complement checksum: the byte that makes len bytes sum to 0. */
uint8_t acpi_checksum(const uint8_t *p, size_t len);

/* Descriptions of legacy devices, for the VM's device list (an entry is
 * in the DSDT only if the VM registers the device). */
extern const struct acpi_dev_desc acpi_dev_com1;    /* PNP0501, 0x3f8, IRQ 4 */
extern const struct acpi_dev_desc acpi_dev_i8042;   /* PNP0303, 0x60/0x64, IRQ 1 */
extern const struct acpi_dev_desc acpi_dev_rtc;     /* PNP0B00, 0x70-0x71, IRQ 8 */
extern const struct acpi_dev_desc acpi_dev_pvpanic; /* QEMU0001, 0x505 */
/* A virtio-mmio slot: _HID LNRO0005, _UID slot, name "V000" + slot. */
int acpi_dev_virtio_mmio(struct acpi_dev_desc *d, unsigned slot, uint32_t base, uint32_t len,
			 unsigned gsi);

#endif
