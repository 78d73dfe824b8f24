/* Intel MultiProcessor Specification 1.4 tables: how a guest without ACPI
 * learns its CPUs, its I/O APIC and how ISA/virtio IRQs reach it. */
#ifndef EMBER_MPTABLE_H
#define EMBER_MPTABLE_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/base/err.h"
#include "runtime/base/gmem.h"

#define MPTABLE_MAX_CPUS 32
#define MPTABLE_IRQS 24 /* I/O APIC pins: ISA 0..15, virtio up to 23 */

/* MP spec 4.1: MP Floating Pointer Structure (16 bytes). */
struct mpf_intel {
	char signature[4]; /* "_MP_" */
	uint32_t physptr;  /* MP configuration table */
	uint8_t length;    /* in 16-byte units: 1 */
	uint8_t spec_rev;  /* 4 = version 1.4 */
	uint8_t checksum;  /* all bytes sum to 0 */
	uint8_t feature1;  /* 0: a configuration table is present */
	uint8_t feature2;  /* bit 7 IMCRP clear: virtual wire mode */
	uint8_t feature3[3];
} __attribute__((packed));

/* MP spec 4.2: configuration table header (44 bytes). */
struct mpc_table {
	char signature[4]; /* "PCMP" */
	uint16_t length;   /* base table: header and entries */
	uint8_t spec_rev;
	uint8_t checksum;
	char oem[8];
	char product[12];
	uint32_t oem_ptr;
	uint16_t oem_size;
	uint16_t count;
	uint32_t lapic;
	uint16_t ext_length;
	uint8_t ext_checksum;
	uint8_t reserved;
} __attribute__((packed));

enum { MP_PROCESSOR = 0, MP_BUS = 1, MP_IOAPIC = 2, MP_INTSRC = 3, MP_LINTSRC = 4 };
enum { MP_IRQ_INT = 0, MP_IRQ_NMI = 1, MP_IRQ_SMI = 2, MP_IRQ_EXTINT = 3 };
#define MP_CPU_ENABLED 0x01
#define MP_CPU_BSP 0x02
#define MP_IOAPIC_ENABLED 0x01

struct mpc_cpu { /* 4.3.1, 20 bytes */
	uint8_t type, apic_id, apic_ver, flags;
	uint32_t signature, features, reserved[2];
} __attribute__((packed));

struct mpc_bus { /* 4.3.2, 8 bytes */
	uint8_t type, bus_id;
	char bus_type[6];
} __attribute__((packed));

struct mpc_ioapic { /* 4.3.3, 8 bytes */
	uint8_t type, id, version, flags;
	uint32_t address;
} __attribute__((packed));

struct mpc_intsrc { /* 4.3.4 and 4.3.5 (local), 8 bytes */
	uint8_t type, irq_type;
	uint16_t flags; /* 0: polarity and trigger conform to the bus */
	uint8_t src_bus, src_irq, dst_apic, dst_pin;
} __attribute__((packed));

/* Bytes the floating pointer plus configuration table take for n CPUs. */
size_t mptable_size(unsigned nr_cpus);
/* Builds the tables for nr_cpus (1..MPTABLE_MAX_CPUS) into buf as they
 * will sit at guest address base. Returns the size or -EINVAL/-ENOSPC. */
long mptable_build(uint8_t *buf, size_t buflen, uint32_t base, unsigned nr_cpus);
/* Builds and writes them at LAYOUT_EBDA; they must end below 0xA0000. */
int mptable_write(struct guest_mem *mem, unsigned nr_cpus, struct errbuf *err);
/* Two's-complement checksum: the byte that makes len bytes sum to 0. */
uint8_t mptable_checksum(const uint8_t *p, size_t len);

#endif
