/* RSDP, XSDT, FADT, FACS and MADT around the DSDT, laid out in one
 * buffer (ACPI 6.3 chapter 5.2). Fields are written at their offsets in
 * the spec's tables, little-endian, so no struct packing is involved. */
#include <errno.h>
#include <string.h>

#include "runtime/boot/acpi/acpi.h"
#include "runtime/boot/acpi/sdt.h"

/* 5.2.5.3 RSDP, revision 2 (ACPI 2.0 and later): 36 bytes. */
#define RSDP_SIZE 36
#define RSDP_V1_SIZE 20
#define RSDP_REVISION 2
#define XSDT_REVISION 1
/* 5.2.9 FADT: revision 6, minor 3 (ACPI 6.3), 276 bytes. */
#define FADT_SIZE 276
#define FADT_REVISION 6
#define FADT_MINOR 3
/* 5.2.10 FACS: 64 bytes, 64-byte aligned, version 2. */
#define FACS_SIZE 64
#define FACS_VERSION 2
/* 5.2.12 MADT, revision 5 (ACPI 6.3). */
#define MADT_REVISION 5
#define MADT_PCAT_COMPAT 0x1 /* a dual 8259 is present (KVM has one) */
enum { MADT_LAPIC = 0, MADT_IOAPIC = 1, MADT_ISO = 2, MADT_LAPIC_NMI = 4 };
#define MADT_LAPIC_ENABLED 0x1
#define MADT_ALL_CPUS 0xff
#define MADT_LINT_NMI 1 /* LINT1 carries NMI, as in the MP table */
#define MADT_NR_ISO 14  /* ISA IRQs 1 and 3..15 */

/* FADT Flags (table 5-34). */
#define FADT_WBINVD (1u << 0)
#define FADT_PWR_BUTTON (1u << 4) /* no fixed-feature power button */
#define FADT_SLP_BUTTON (1u << 5) /* no fixed-feature sleep button */
#define FADT_FIX_RTC (1u << 6)    /* no RTC wake status in PM1 */
#define FADT_RESET_REG_SUP (1u << 10)
#define FADT_HW_REDUCED_ACPI (1u << 20)
/* IA-PC Boot Architecture Flags (table 5-35). */
#define BOOT_LEGACY_DEVICES (1u << 0) /* COM1 on ISA ports */
#define BOOT_8042 (1u << 1)           /* Ember has one: reboot=k needs it */
#define BOOT_VGA_NOT_PRESENT (1u << 2)
#define BOOT_MSI_NOT_SUPPORTED (1u << 3) /* no PCI at all */
#define BOOT_CMOS_RTC_NOT_PRESENT (1u << 5)

/* Generic Address Structure (5.2.3.2). */
#define GAS_SIZE 12
#define GAS_SYSTEM_IO 1
#define GAS_ACCESS_BYTE 1
#define GAS_ACCESS_WORD 2

/* FADT offsets (table 5-33). */
#define FADT_X_FIRMWARE_CTRL 132
#define FADT_X_DSDT 140
#define FADT_SCI_INT 46
#define FADT_PM1_EVT_LEN 88
#define FADT_PM1_CNT_LEN 89
#define FADT_CENTURY 108
#define FADT_IAPC_BOOT_ARCH 109
#define FADT_FLAGS 112
#define FADT_RESET_REG 116
#define FADT_RESET_VALUE 128
#define FADT_MINOR_VERSION 131
#define FADT_X_PM1A_EVT_BLK 148
#define FADT_X_PM1A_CNT_BLK 172
#define FADT_SLEEP_CONTROL_REG 244
#define FADT_SLEEP_STATUS_REG 256

static void put_gas(uint8_t *p, uint8_t space, uint8_t bits, uint8_t access, uint64_t addr)
{
	p[0] = space;
	p[1] = bits;
	p[2] = 0;
	p[3] = access;
	acpi_put64(p + 4, addr);
}

static bool has_rtc(const struct acpi_platform *p)
{
	for (unsigned i = 0; i < p->nr_devs; i++)
		if (!strcmp(p->devs[i].hid, "PNP0B00"))
			return true;
	return false;
}

static void build_fadt(uint8_t *t, const struct acpi_platform *p, uint64_t dsdt, uint64_t facs)
{
	uint32_t flags = FADT_WBINVD | FADT_PWR_BUTTON | FADT_SLP_BUTTON;
	uint16_t boot = BOOT_LEGACY_DEVICES | BOOT_8042 | BOOT_VGA_NOT_PRESENT |
			BOOT_MSI_NOT_SUPPORTED;

	acpi_sdt_header(t, "FACP", FADT_SIZE, FADT_REVISION);
	/* Only the 64-bit X_ fields: the spec wants FIRMWARE_CTRL, DSDT and
	 * the PM block fields zero when their X_ twins are set. */
	acpi_put64(t + FADT_X_FIRMWARE_CTRL, facs);
	acpi_put64(t + FADT_X_DSDT, dsdt);
	if (p->apic) {
		flags |= FADT_HW_REDUCED_ACPI;
		put_gas(t + FADT_SLEEP_CONTROL_REG, GAS_SYSTEM_IO, 8, GAS_ACCESS_BYTE,
			p->sleep_port);
		put_gas(t + FADT_SLEEP_STATUS_REG, GAS_SYSTEM_IO, 8, GAS_ACCESS_BYTE,
			p->sleep_port + 1u);
	} else {
		/* Fixed hardware: SCI, PM1a event (status + enable, 2 bytes
		 * each) and control blocks; no SMI command port, so the
		 * platform is in ACPI mode from the start. */
		flags |= FADT_FIX_RTC;
		acpi_put16(t + FADT_SCI_INT, p->sci_irq);
		t[FADT_PM1_EVT_LEN] = 4;
		t[FADT_PM1_CNT_LEN] = 2;
		put_gas(t + FADT_X_PM1A_EVT_BLK, GAS_SYSTEM_IO, 32, GAS_ACCESS_WORD,
			p->pm1_evt_port);
		put_gas(t + FADT_X_PM1A_CNT_BLK, GAS_SYSTEM_IO, 16, GAS_ACCESS_WORD,
			p->pm1_cnt_port);
	}
	/* The CMOS register holding the century (the RTC's 0x32), which
	 * Linux's clock read takes from here. */
	if (has_rtc(p))
		t[FADT_CENTURY] = 0x32;
	else
		boot |= BOOT_CMOS_RTC_NOT_PRESENT;
	if (p->reset_port) {
		flags |= FADT_RESET_REG_SUP;
		put_gas(t + FADT_RESET_REG, GAS_SYSTEM_IO, 8, GAS_ACCESS_BYTE, p->reset_port);
		t[FADT_RESET_VALUE] = p->reset_value;
	}
	acpi_put16(t + FADT_IAPC_BOOT_ARCH, boot);
	acpi_put32(t + FADT_FLAGS, flags);
	t[FADT_MINOR_VERSION] = FADT_MINOR;
	acpi_sdt_finish(t, FADT_SIZE);
}

static void build_facs(uint8_t *t)
{
	memset(t, 0, FACS_SIZE);
	memcpy(t, "FACS", 4);
	acpi_put32(t + 4, FACS_SIZE);
	t[32] = FACS_VERSION;
}

/* The MADT's size for p: header, LAPIC address and flags, the entries. */
static size_t madt_size(const struct acpi_platform *p)
{
	return ACPI_SDT_HEADER_SIZE + 8 + p->nr_cpus * 8 + 12 + MADT_NR_ISO * 10 + 6;
}

static void build_madt(uint8_t *t, const struct acpi_platform *p)
{
	size_t len = madt_size(p), off = ACPI_SDT_HEADER_SIZE + 8;
	uint8_t ioapic_id = (uint8_t)p->nr_cpus; /* after the CPUs', as the MP table */

	acpi_sdt_header(t, "APIC", (uint32_t)len, MADT_REVISION);
	acpi_put32(t + 36, p->lapic_addr);
	acpi_put32(t + 40, MADT_PCAT_COMPAT);
	for (unsigned i = 0; i < p->nr_cpus; i++, off += 8) {
		uint8_t *e = t + off;
		e[0] = MADT_LAPIC;
		e[1] = 8;
		e[2] = (uint8_t)i; /* ACPI processor UID */
		e[3] = (uint8_t)i; /* APIC id */
		acpi_put32(e + 4, MADT_LAPIC_ENABLED);
	}
	uint8_t *io = t + off;
	io[0] = MADT_IOAPIC;
	io[1] = 12;
	io[2] = ioapic_id;
	io[3] = 0;
	acpi_put32(io + 4, p->ioapic_addr);
	acpi_put32(io + 8, 0); /* GSI base */
	off += 12;
	/* ISA IRQ n on pin n, polarity and trigger as the bus (edge, high):
	 * the MP table's identity routing, which is KVM's default GSI
	 * routing. IRQ 2, the 8259 cascade, has no pin of its own. IRQ 0 is
	 * left to the default identity mapping: with the hardware-reduced
	 * FADT's SCI_INT of 0, Linux would take an entry for IRQ 0 for the
	 * SCI's override and make the timer's pin level-triggered, active low
	 * (acpi_parse_int_src_ovr). */
	for (unsigned irq = 1; irq < 16; irq++) {
		if (irq == 2)
			continue;
		uint8_t *e = t + off;
		e[0] = MADT_ISO;
		e[1] = 10;
		e[2] = 0; /* ISA */
		e[3] = (uint8_t)irq;
		acpi_put32(e + 4, irq);
		acpi_put16(e + 8, 0);
		off += 10;
	}
	uint8_t *nmi = t + off;
	nmi[0] = MADT_LAPIC_NMI;
	nmi[1] = 6;
	nmi[2] = MADT_ALL_CPUS;
	acpi_put16(nmi + 3, 0);
	nmi[5] = MADT_LINT_NMI;
	acpi_sdt_finish(t, len);
}

static void build_rsdp(uint8_t *r, uint64_t xsdt)
{
	memset(r, 0, RSDP_SIZE);
	memcpy(r, "RSD PTR ", 8);
	memcpy(r + 9, ACPI_OEM_ID, 6);
	r[15] = RSDP_REVISION;
	/* RsdtAddress 0: a revision-2 RSDP is read through its XSDT. */
	acpi_put32(r + 20, RSDP_SIZE);
	acpi_put64(r + 24, xsdt);
	r[8] = acpi_checksum(r, RSDP_V1_SIZE);
	r[32] = acpi_checksum(r, RSDP_SIZE);
}

static size_t align_up(size_t v, size_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static int check_platform(const struct acpi_platform *p, uint64_t base)
{
	if (!p || p->nr_cpus < 1 || p->nr_cpus > ACPI_MAX_CPUS || base & 15 ||
	    base > UINT64_MAX - ACPI_TABLES_MAX)
		return -EINVAL;
	if (p->apic && (p->ioapic_pins < 16 || p->ioapic_pins > 240 || !p->sleep_port ||
			p->sleep_port > 0xfffe))
		return -EINVAL;
	if (!p->apic && (!p->pm1_evt_port || !p->pm1_cnt_port || p->pm1_evt_port > 0xfffc ||
			 p->pm1_cnt_port > 0xfffe || p->sci_irq > 15 || p->sci_irq == 2 ||
			 !p->sci_irq))
		return -EINVAL;
	return 0;
}

long acpi_build(uint8_t *buf, size_t cap, uint64_t base, const struct acpi_platform *p,
		struct acpi_layout *out)
{
	size_t off = align_up(RSDP_SIZE, 16), facs = 0, fadt, madt = 0, xsdt;
	int r = check_platform(p, base);

	if (r)
		return r;
	memset(out, 0, sizeof(*out));
	if (cap < off)
		return -ENOSPC;
	if (cap > ACPI_TABLES_MAX)
		cap = ACPI_TABLES_MAX; /* tables stay within the area the e820 map reserves */
	memset(buf, 0, cap);

	size_t dsdt = off;
	long n = acpi_build_dsdt(buf + dsdt, cap - dsdt, p->devs, p->nr_devs);
	if (n < 0)
		return n;
	off = dsdt + (size_t)n;
	if (!p->apic) {
		facs = align_up(off, 64);
		off = facs + FACS_SIZE;
	}
	fadt = align_up(off, 16);
	off = fadt + FADT_SIZE;
	if (p->apic) {
		madt = align_up(off, 16);
		off = madt + madt_size(p);
	}
	xsdt = align_up(off, 16);
	unsigned nr_entries = p->apic ? 2 : 1;
	size_t xsdt_len = ACPI_SDT_HEADER_SIZE + 8 * (size_t)nr_entries;
	off = xsdt + xsdt_len;
	if (off > cap)
		return -ENOSPC;

	if (facs)
		build_facs(buf + facs);
	build_fadt(buf + fadt, p, base + dsdt, facs ? base + facs : 0);
	if (madt)
		build_madt(buf + madt, p);
	acpi_sdt_header(buf + xsdt, "XSDT", (uint32_t)xsdt_len, XSDT_REVISION);
	acpi_put64(buf + xsdt + ACPI_SDT_HEADER_SIZE, base + fadt);
	if (madt)
		acpi_put64(buf + xsdt + ACPI_SDT_HEADER_SIZE + 8, base + madt);
	acpi_sdt_finish(buf + xsdt, xsdt_len);
	build_rsdp(buf, base + xsdt);

	*out = (struct acpi_layout){
		.rsdp = base, .xsdt = base + xsdt, .fadt = base + fadt,
		.facs = facs ? base + facs : 0, .dsdt = base + dsdt,
		.madt = madt ? base + madt : 0, .size = off,
	};
	return (long)off;
}
