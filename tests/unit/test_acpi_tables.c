/* ACPI tables read back the way a guest reads them: the RSDP, its two
 * checksums, the XSDT and each table it lists, every length and the
 * fields Linux acts on; the DSDT with 0, 1 and the most devices, byte for
 * byte where it is small and walked by PkgLength where it is not. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/boot/acpi/acpi.h"
#include "runtime/boot/layout.h"
#include "runtime/boot/mptable.h"

#define BASE 0xe0000ULL
#define MAX_VIRTIO (MPTABLE_IRQS - LAYOUT_FIRST_VIRTIO_IRQ) /* runtime/vm/virtio.c */

static uint8_t img[ACPI_TABLES_MAX];

static uint32_t le16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t le32(const uint8_t *p) { return le16(p) | le16(p + 2) << 16; }
static uint64_t le64(const uint8_t *p) { return le32(p) | (uint64_t)le32(p + 4) << 32; }

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

/* The table at guest address gpa: in the image, signature, length within
 * the image and checksum 0. */
static const uint8_t *table(uint64_t gpa, size_t used, const char *sig)
{
	cr_assert_geq(gpa, BASE);
	cr_assert_lt(gpa - BASE + 36, used, "%s inside the image", sig);
	const uint8_t *t = img + (gpa - BASE);
	cr_assert_arr_eq(t, sig, 4, "signature %.4s, want %s", (const char *)t, sig);
	uint32_t len = le32(t + 4);
	cr_assert_geq(len, 36);
	cr_assert_leq(gpa - BASE + len, used, "%s: length past the image", sig);
	cr_assert_eq(sum(t, len), 0, "%s checksum", sig);
	cr_assert_arr_eq(t + 10, "EMBER ", 6, "%s OEM id", sig);
	return t;
}

static unsigned nr_legacy;
static struct acpi_dev_desc devs[ACPI_MAX_DEVS];

/* COM1 and the i8042, as every VM has, then n virtio slots. */
static unsigned make_devs(unsigned nv)
{
	unsigned n = 0;
	devs[n++] = acpi_dev_com1;
	devs[n++] = acpi_dev_i8042;
	nr_legacy = n;
	for (unsigned i = 0; i < nv; i++)
		cr_assert_eq(acpi_dev_virtio_mmio(&devs[n++], i,
						  (uint32_t)(LAYOUT_MMIO_DEV_BASE +
							     i * LAYOUT_MMIO_DEV_SIZE),
						  (uint32_t)LAYOUT_MMIO_DEV_SIZE,
						  LAYOUT_FIRST_VIRTIO_IRQ + i),
			     0);
	return n;
}

static struct acpi_platform platform(bool apic, unsigned cpus, unsigned ndevs)
{
	return (struct acpi_platform){
		.nr_cpus = cpus, .apic = apic,
		.lapic_addr = (uint32_t)LAYOUT_LAPIC, .ioapic_addr = (uint32_t)LAYOUT_IOAPIC,
		.ioapic_pins = MPTABLE_IRQS,
		.pm1_evt_port = LAYOUT_ACPI_PM1_EVT, .pm1_cnt_port = LAYOUT_ACPI_PM1_CNT,
		.sci_irq = LAYOUT_ACPI_SCI_IRQ, .reset_port = 0x64, .reset_value = 0xfe,
		.sleep_port = LAYOUT_ACPI_SLEEP, .devs = devs, .nr_devs = ndevs,
	};
}

struct found {
	const uint8_t *rsdp, *xsdt, *fadt, *facs, *dsdt, *madt;
	unsigned nr_xsdt;
};

/* The guest's walk: RSDP at BASE, XSDT, its entries, the FADT's DSDT and FACS. */
static void walk(size_t used, const struct acpi_layout *l, struct found *f)
{
	memset(f, 0, sizeof(*f));
	const uint8_t *r = img;
	f->rsdp = r;
	cr_assert_eq(l->rsdp, BASE);
	cr_assert_arr_eq(r, "RSD PTR ", 8);
	cr_assert_eq(sum(r, 20), 0, "RSDP 1.0 checksum");
	cr_assert_eq(r[15], 2, "revision 2");
	cr_assert_eq(le32(r + 16), 0, "no RSDT");
	cr_assert_eq(le32(r + 20), 36);
	cr_assert_eq(sum(r, 36), 0, "RSDP extended checksum");
	cr_assert_eq(le64(r + 24), l->xsdt);
	f->xsdt = table(l->xsdt, used, "XSDT");
	cr_assert_eq(f->xsdt[8], 1, "XSDT revision");
	uint32_t xlen = le32(f->xsdt + 4);
	cr_assert_eq((xlen - 36) % 8, 0);
	f->nr_xsdt = (xlen - 36) / 8;
	for (unsigned i = 0; i < f->nr_xsdt; i++) {
		uint64_t at = le64(f->xsdt + 36 + 8 * i);
		const uint8_t *t = img + (at - BASE);
		if (!memcmp(t, "FACP", 4))
			f->fadt = table(at, used, "FACP");
		else if (!memcmp(t, "APIC", 4))
			f->madt = table(at, used, "APIC");
		else
			cr_assert_fail("unexpected table %.4s in the XSDT", (const char *)t);
	}
	cr_assert_not_null(f->fadt);
	cr_assert_eq(le32(f->fadt + 4), 276, "FADT length (ACPI 6.x)");
	cr_assert_eq(f->fadt[8], 6, "FADT revision");
	cr_assert_eq(f->fadt[131], 3, "FADT minor version");
	cr_assert_eq(le32(f->fadt + 36), 0, "FIRMWARE_CTRL: X_FIRMWARE_CTRL is used");
	cr_assert_eq(le32(f->fadt + 40), 0, "DSDT: X_DSDT is used");
	f->dsdt = table(le64(f->fadt + 140), used, "DSDT");
	cr_assert_eq(f->dsdt[8], 2, "DSDT revision 2: 64-bit integers");
	uint64_t facs = le64(f->fadt + 132);
	if (facs) {
		cr_assert_eq(facs % 64, 0, "FACS 64-byte aligned");
		f->facs = img + (facs - BASE);
		cr_assert_arr_eq(f->facs, "FACS", 4);
		cr_assert_eq(le32(f->facs + 4), 64);
		cr_assert_eq(f->facs[32], 2, "FACS version");
	}
	cr_assert_leq(used, ACPI_TABLES_MAX);
}

/* The MADT's entries, checked to tile the table exactly. */
static void madt_count(const uint8_t *m, unsigned *lapic, unsigned *ioapic, unsigned *iso,
		       unsigned *nmi)
{
	uint32_t len = le32(m + 4);
	*lapic = *ioapic = *iso = *nmi = 0;
	cr_assert_eq(le32(m + 36), LAYOUT_LAPIC);
	cr_assert_eq(le32(m + 40), 1, "PCAT_COMPAT: KVM has the 8259 pair");
	size_t off = 44;
	while (off < len) {
		uint8_t type = m[off], elen = m[off + 1];
		cr_assert_geq(elen, 2);
		cr_assert_leq(off + elen, len);
		switch (type) {
		case 0:
			cr_assert_eq(elen, 8);
			cr_assert_eq(m[off + 2], *lapic, "processor UID");
			cr_assert_eq(m[off + 3], *lapic, "APIC id");
			cr_assert_eq(le32(m + off + 4), 1, "enabled");
			(*lapic)++;
			break;
		case 1:
			cr_assert_eq(elen, 12);
			cr_assert_eq(le32(m + off + 4), LAYOUT_IOAPIC);
			cr_assert_eq(le32(m + off + 8), 0, "GSI base");
			(*ioapic)++;
			break;
		case 2:
			cr_assert_eq(elen, 10);
			cr_assert_eq(m[off + 2], 0, "ISA");
			cr_assert_eq(le32(m + off + 4), m[off + 3], "identity, as the MP table");
			cr_assert_neq(m[off + 3], 2, "the cascade");
			cr_assert_neq(m[off + 3], 0, "would read as the SCI's override");
			(*iso)++;
			break;
		case 4:
			cr_assert_eq(elen, 6);
			cr_assert_eq(m[off + 2], 0xff, "all processors");
			cr_assert_eq(m[off + 5], 1, "LINT1");
			(*nmi)++;
			break;
		default:
			cr_assert_fail("MADT entry type %u", type);
		}
		off += elen;
	}
	cr_assert_eq(off, len);
}

Test(acpi_tables, kvm_platform_hw_reduced_with_madt)
{
	unsigned n = make_devs(3);
	struct acpi_platform p = platform(true, 2, n);
	struct acpi_layout l;
	long used = acpi_build(img, sizeof(img), BASE, &p, &l);
	cr_assert_gt(used, 0);
	cr_assert_eq((size_t)used, l.size);
	struct found f;
	walk((size_t)used, &l, &f);
	cr_assert_eq(f.nr_xsdt, 2);
	cr_assert_not_null(f.madt);
	cr_assert_null(f.facs, "hardware-reduced: no FACS");
	cr_assert_eq(l.facs, 0);
	uint32_t flags = le32(f.fadt + 112);
	cr_assert(flags & (1u << 20), "HW_REDUCED_ACPI");
	cr_assert(flags & (1u << 10), "RESET_REG_SUP");
	cr_assert_eq(le16(f.fadt + 46), 0, "no SCI");
	cr_assert_eq(le64(f.fadt + 148 + 4), 0, "no PM1a event block");
	uint32_t boot = le16(f.fadt + 109);
	cr_assert(boot & 0x2, "8042 present: Ember has one");
	cr_assert(boot & 0x4, "no VGA");
	cr_assert(boot & 0x8, "no MSI");
	cr_assert(boot & 0x20, "no CMOS RTC registered");
	cr_assert_eq(f.fadt[108], 0, "CENTURY: no RTC, no register");
	/* SLEEP_CONTROL_REG and SLEEP_STATUS_REG: SystemIO bytes, for S5. */
	cr_assert_eq(f.fadt[244], 1);
	cr_assert_eq(f.fadt[245], 8);
	cr_assert_eq(le64(f.fadt + 248), LAYOUT_ACPI_SLEEP);
	cr_assert_eq(f.fadt[256], 1);
	cr_assert_eq(f.fadt[257], 8);
	cr_assert_eq(le64(f.fadt + 260), LAYOUT_ACPI_SLEEP + 1);
	/* RESET_REG: SystemIO byte 0x64, value 0xFE. */
	cr_assert_eq(f.fadt[116], 1);
	cr_assert_eq(f.fadt[117], 8);
	cr_assert_eq(le64(f.fadt + 120), 0x64);
	cr_assert_eq(f.fadt[128], 0xfe);
	unsigned lapic, ioapic, iso, nmi;
	madt_count(f.madt, &lapic, &ioapic, &iso, &nmi);
	cr_assert_eq(lapic, 2);
	cr_assert_eq(ioapic, 1);
	cr_assert_eq(iso, 14);
	cr_assert_eq(nmi, 1);
	cr_assert_eq(f.madt[8], 5, "MADT revision");
	/* The I/O APIC's id follows the CPUs', as in the MP table. */
	cr_assert_eq(f.madt[44 + 2 * 8 + 2], 2);
}

Test(acpi_tables, software_cpu_platform_has_fixed_hardware_and_no_madt)
{
	unsigned n = make_devs(2);
	struct acpi_platform p = platform(false, 1, n);
	struct acpi_layout l;
	long used = acpi_build(img, sizeof(img), BASE, &p, &l);
	cr_assert_gt(used, 0);
	struct found f;
	walk((size_t)used, &l, &f);
	cr_assert_eq(f.nr_xsdt, 1, "FADT only");
	cr_assert_null(f.madt, "no APIC to describe");
	cr_assert_eq(l.madt, 0);
	cr_assert_not_null(f.facs);
	uint32_t flags = le32(f.fadt + 112);
	cr_assert_not(flags & (1u << 20), "not hardware-reduced: Linux would drop the 8259");
	cr_assert_eq(le16(f.fadt + 46), LAYOUT_ACPI_SCI_IRQ);
	cr_assert_eq(le32(f.fadt + 48), 0, "no SMI command port: ACPI mode from the start");
	cr_assert_eq(f.fadt[88], 4, "PM1_EVT_LEN");
	cr_assert_eq(f.fadt[89], 2, "PM1_CNT_LEN");
	/* X_PM1a_EVT_BLK / X_PM1a_CNT_BLK: SystemIO, 32 and 16 bits. */
	cr_assert_eq(f.fadt[148], 1);
	cr_assert_eq(f.fadt[149], 32);
	cr_assert_eq(le64(f.fadt + 152), LAYOUT_ACPI_PM1_EVT);
	cr_assert_eq(f.fadt[172], 1);
	cr_assert_eq(f.fadt[173], 16);
	cr_assert_eq(le64(f.fadt + 176), LAYOUT_ACPI_PM1_CNT);
	cr_assert_eq(le32(f.fadt + 56), 0, "32-bit PM1a field zero beside its X_ twin");
	cr_assert_eq(le64(f.fadt + 248), 0, "no sleep registers beside PM1: S5 goes through PM1_CNT");
}

Test(acpi_tables, rtc_in_the_list_clears_no_cmos_rtc)
{
	unsigned n = make_devs(0);
	devs[n++] = acpi_dev_rtc;
	devs[n++] = acpi_dev_pvpanic;
	struct acpi_platform p = platform(true, 1, n);
	struct acpi_layout l;
	long used = acpi_build(img, sizeof(img), BASE, &p, &l);
	cr_assert_gt(used, 0);
	struct found f;
	walk((size_t)used, &l, &f);
	cr_assert_not(le16(f.fadt + 109) & 0x20);
	cr_assert_eq(f.fadt[108], 0x32, "CENTURY: the RTC's century register");
}

Test(acpi_tables, largest_input_fits_the_area)
{
	for (unsigned i = 0; i < ACPI_MAX_DEVS; i++)
		acpi_dev_virtio_mmio(&devs[i], i, 0xd0000000u + i * 0x1000u, 0x1000, 0xff);
	for (int apic = 0; apic < 2; apic++) {
		struct acpi_platform p = platform(apic, ACPI_MAX_CPUS, ACPI_MAX_DEVS);
		struct acpi_layout l;
		long used = acpi_build(img, sizeof(img), BASE, &p, &l);
		cr_assert_gt(used, 0, "apic=%d: %ld", apic, used);
		struct found f;
		walk((size_t)used, &l, &f);
		if (apic) {
			unsigned lapic, ioapic, iso, nmi;
			madt_count(f.madt, &lapic, &ioapic, &iso, &nmi);
			cr_assert_eq(lapic, ACPI_MAX_CPUS);
		}
	}
}

Test(acpi_tables, bad_platforms_are_refused)
{
	unsigned n = make_devs(1);
	struct acpi_layout l;
	struct acpi_platform p = platform(true, 0, n);
	cr_assert_eq(acpi_build(img, sizeof(img), BASE, &p, &l), -EINVAL, "0 CPUs");
	p.nr_cpus = ACPI_MAX_CPUS + 1;
	cr_assert_eq(acpi_build(img, sizeof(img), BASE, &p, &l), -EINVAL, "33 CPUs");
	p.nr_cpus = 1;
	cr_assert_eq(acpi_build(img, sizeof(img), BASE + 8, &p, &l), -EINVAL, "unaligned");
	p.nr_devs = ACPI_MAX_DEVS + 1;
	cr_assert_eq(acpi_build(img, sizeof(img), BASE, &p, &l), -EINVAL, "too many devices");
	p = platform(false, 1, n);
	p.sci_irq = 16;
	cr_assert_eq(acpi_build(img, sizeof(img), BASE, &p, &l), -EINVAL, "SCI past the 8259");
	p = platform(false, 1, n);
	p.pm1_evt_port = 0;
	cr_assert_eq(acpi_build(img, sizeof(img), BASE, &p, &l), -EINVAL, "no PM1 block");
	p = platform(true, 1, n);
	p.sleep_port = 0;
	cr_assert_eq(acpi_build(img, sizeof(img), BASE, &p, &l), -EINVAL, "no sleep registers");
	p.sleep_port = 0xffff;
	cr_assert_eq(acpi_build(img, sizeof(img), BASE, &p, &l), -EINVAL, "status past the ports");
	p = platform(false, 1, n);
	cr_assert_eq(acpi_build(img, 16, BASE, &p, &l), -ENOSPC);
}

/* Each field of a description that could come out wrong is checked. */
Test(acpi_tables, bad_device_descriptions_are_refused)
{
	struct acpi_dev_desc d[2];
	struct acpi_dev_desc good = acpi_dev_com1;
	uint8_t out[512];
	cr_assert_gt(acpi_build_dsdt(out, sizeof(out), &good, 1), 0);

	d[0] = good, memcpy(d[0].name, "com1", 5);
	cr_assert_eq(acpi_build_dsdt(out, sizeof(out), d, 1), -EINVAL, "lower case name");
	d[0] = good, memset(d[0].name, 'A', 5);
	cr_assert_eq(acpi_build_dsdt(out, sizeof(out), d, 1), -EINVAL, "unterminated name");
	d[0] = good, d[0].hid[0] = 0;
	cr_assert_eq(acpi_build_dsdt(out, sizeof(out), d, 1), -EINVAL, "empty _HID");
	d[0] = good, memcpy(d[0].hid, "PNP-501", 8);
	cr_assert_eq(acpi_build_dsdt(out, sizeof(out), d, 1), -EINVAL, "_HID character");
	d[0] = good, memset(d[0].hid, 'A', 9);
	cr_assert_eq(acpi_build_dsdt(out, sizeof(out), d, 1), -EINVAL, "unterminated _HID");
	d[0] = good, d[0].nr_io = 3;
	cr_assert_eq(acpi_build_dsdt(out, sizeof(out), d, 1), -EINVAL, "3 I/O ranges");
	d[0] = good, d[0].io[0].len = 0;
	cr_assert_eq(acpi_build_dsdt(out, sizeof(out), d, 1), -EINVAL, "empty I/O range");
	d[0] = good, d[0].io[0].base = 0xfffc;
	cr_assert_eq(acpi_build_dsdt(out, sizeof(out), d, 1), -EINVAL, "I/O past 0xffff");
	d[0] = good, d[0].irq = 16;
	cr_assert_eq(acpi_build_dsdt(out, sizeof(out), d, 1), -EINVAL, "ISA IRQ 16");
	d[0] = good, d[0].irq = -5;
	cr_assert_eq(acpi_build_dsdt(out, sizeof(out), d, 1), -EINVAL, "negative IRQ");
	d[0] = good, d[0].mmio_base = 0xfffff000u, d[0].mmio_len = 0x2000;
	cr_assert_eq(acpi_build_dsdt(out, sizeof(out), d, 1), -EINVAL, "MMIO past 4 GiB");
	d[0] = good, d[1] = good;
	cr_assert_eq(acpi_build_dsdt(out, sizeof(out), d, 2), -EINVAL, "the same name twice");
	cr_assert_eq(acpi_dev_virtio_mmio(d, ACPI_MAX_DEVS, 0, 0x1000, 5), -EINVAL);
	cr_assert_eq(acpi_dev_virtio_mmio(d, 0, 0, 0x1000, 256), -EINVAL);
}

Test(acpi_tables, legacy_descriptions_match_the_layout)
{
	cr_assert_eq(acpi_dev_com1.io[0].base, LAYOUT_COM1_PORT);
	cr_assert_eq(acpi_dev_com1.irq, LAYOUT_COM1_IRQ);
	cr_assert_eq(acpi_dev_i8042.io[0].base, LAYOUT_I8042_PORT);
	cr_assert_eq(acpi_dev_i8042.io[1].base, LAYOUT_I8042_PORT + 4);
	cr_assert_eq(acpi_dev_i8042.irq, LAYOUT_I8042_IRQ);
}

/* ---- the DSDT ---- */

#define HDR 36

/* Name (\_S5, Package (4) { 5, 5, 0, 0 }): every DSDT starts with it. */
static const uint8_t S5[] = { 0x08, 0x5c, '_', 'S', '5', '_', 0x12, 0x08, 0x04,
			      0x0a, 0x05, 0x0a, 0x05, 0x00, 0x00 };
#define SB (HDR + sizeof(S5)) /* where \_SB's Scope starts */

Test(acpi_dsdt, no_devices_is_s5_and_an_empty_sb_scope)
{
	uint8_t out[64];
	long n = acpi_build_dsdt(out, sizeof(out), NULL, 0);
	cr_assert_eq(n, (long)SB + 7);
	cr_assert_arr_eq(out, "DSDT", 4);
	cr_assert_eq(le32(out + 4), SB + 7);
	cr_assert_eq(sum(out, (size_t)n), 0);
	cr_assert_arr_eq(out + HDR, S5, sizeof(S5));
	cr_assert_eq(S5[10], ACPI_S5_SLP_TYP);
	const uint8_t body[] = { 0x10, 0x06, 0x5c, '_', 'S', 'B', '_' };
	cr_assert_arr_eq(out + SB, body, sizeof(body));
}

Test(acpi_dsdt, one_virtio_device_byte_for_byte)
{
	struct acpi_dev_desc d;
	cr_assert_eq(acpi_dev_virtio_mmio(&d, 0, 0xd0000000u, 0x1000, 5), 0);
	uint8_t out[256];
	long n = acpi_build_dsdt(out, sizeof(out), &d, 1);
	const uint8_t body[] = {
		0x10, 0x43, 0x04, 0x5c, '_', 'S', 'B', '_',      /* Scope (\_SB), 67 bytes */
		0x5b, 0x82, 0x3a, 'V', '0', '0', '0',            /* Device (V000), 58 bytes */
		0x08, '_', 'H', 'I', 'D', 0x0d, 'L', 'N', 'R', 'O', '0', '0', '0', '5', 0x00,
		0x08, '_', 'U', 'I', 'D', 0x00,
		0x08, '_', 'C', 'R', 'S', 0x11, 0x1a, 0x0a, 0x17,
		0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0xd0, 0x00, 0x10, 0x00, 0x00,
		0x89, 0x06, 0x00, 0x03, 0x01, 0x05, 0x00, 0x00, 0x00,
		0x79, 0x7f,
	};
	cr_assert_eq(n, (long)SB + (long)sizeof(body));
	cr_assert_arr_eq(out + HDR, S5, sizeof(S5));
	cr_assert_arr_eq(out + SB, body, sizeof(body));
	cr_assert_eq(sum(out, (size_t)n), 0);
}

/* Walks \_SB's devices by their PkgLengths; returns how many and checks
 * each virtio one's window and GSI. */
static unsigned dsdt_walk(const uint8_t *t, size_t len)
{
	size_t off = SB;
	cr_assert_eq(t[off], 0x10);
	unsigned lead = t[off + 1] >> 6;
	size_t plen = lead ? (t[off + 1] & 0x0f) : (t[off + 1] & 0x3f);
	for (unsigned i = 0; i < lead; i++)
		plen |= (size_t)t[off + 2 + i] << (4 + 8 * i);
	cr_assert_eq(off + 1 + plen, len, "Scope's PkgLength ends the table");
	off += 1 + 1 + lead + 5;
	unsigned ndev = 0;
	while (off < len) {
		cr_assert_eq(t[off], 0x5b);
		cr_assert_eq(t[off + 1], 0x82);
		unsigned dl = t[off + 2] >> 6;
		size_t dlen = dl ? (t[off + 2] & 0x0f) : (t[off + 2] & 0x3f);
		for (unsigned i = 0; i < dl; i++)
			dlen |= (size_t)t[off + 3 + i] << (4 + 8 * i);
		const uint8_t *name = t + off + 3 + dl;
		if (name[0] == 'V') {
			unsigned slot = (unsigned)((name[1] - '0') * 100 + (name[2] - '0') * 10 +
						   (name[3] - '0'));
			const uint8_t *mem = memmem(name, dlen, "\x86\x09\x00\x01", 4);
			cr_assert_not_null(mem, "V%03u: Memory32Fixed", slot);
			cr_assert_eq(le32(mem + 4), LAYOUT_MMIO_DEV_BASE + slot * LAYOUT_MMIO_DEV_SIZE);
			cr_assert_eq(le32(mem + 8), LAYOUT_MMIO_DEV_SIZE);
			cr_assert_eq(mem[12], 0x89, "V%03u: Interrupt", slot);
			cr_assert_eq(le32(mem + 17), LAYOUT_FIRST_VIRTIO_IRQ + slot);
			cr_assert_eq(mem[21], 0x79, "End Tag");
		}
		off += 2 + dlen;
		ndev++;
	}
	cr_assert_eq(off, len);
	return ndev;
}

Test(acpi_dsdt, most_virtio_devices_and_the_legacy_ones)
{
	unsigned n = make_devs(MAX_VIRTIO);
	devs[n++] = acpi_dev_rtc;
	devs[n++] = acpi_dev_pvpanic;
	uint8_t *out = malloc(ACPI_TABLES_MAX);
	cr_assert_not_null(out);
	long len = acpi_build_dsdt(out, ACPI_TABLES_MAX, devs, n);
	cr_assert_gt(len, 0);
	cr_assert_eq(le32(out + 4), (uint32_t)len);
	cr_assert_eq(sum(out, (size_t)len), 0);
	cr_assert_eq(dsdt_walk(out, (size_t)len), n);
	/* Every shorter buffer: -ENOSPC, no overrun (exact-size heap copies). */
	for (size_t cap = 0; cap < (size_t)len; cap += 7) {
		uint8_t *b = malloc(cap ? cap : 1);
		cr_assert_eq(acpi_build_dsdt(b, cap, devs, n), -ENOSPC, "cap %zu", cap);
		free(b);
	}
	free(out);
}

Test(acpi_dsdt, string_hid_for_non_eisa_ids)
{
	uint8_t out[256];
	long n = acpi_build_dsdt(out, sizeof(out), &acpi_dev_pvpanic, 1);
	cr_assert_gt(n, 0);
	cr_assert_not_null(memmem(out, (size_t)n, "\x08_HID\x0dQEMU0001\x00", 15));
	/* No IRQ: I/O 0x505 then the End Tag. */
	cr_assert_not_null(memmem(out, (size_t)n, "\x47\x01\x05\x05\x05\x05\x01\x01\x79", 9));
}

/* Arbitrary descriptions (every byte random, a fixed seed): each build is
 * refused or yields a table whose length and checksum hold, never more
 * bytes than the buffer (an exact-size heap buffer under ASan). */
Test(acpi_dsdt, random_descriptions_never_overrun)
{
	unsigned seed = 12345, built = 0, refused = 0;
	for (int round = 0; round < 2000; round++) {
		struct acpi_dev_desc d[3];
		uint8_t *raw = (uint8_t *)d;
		for (size_t i = 0; i < sizeof(d); i++)
			raw[i] = (uint8_t)rand_r(&seed);
		for (int k = 0; k < 3; k++) /* a bool holds 0 or 1 only */
			d[k].irq_extended = rand_r(&seed) & 1;
		if (round % 2) { /* often well-formed strings, so builds succeed too */
			for (int k = 0; k < 3; k++) {
				snprintf(d[k].name, sizeof(d[k].name), "D%u", (unsigned)k);
				snprintf(d[k].hid, sizeof(d[k].hid), "%s", k ? "PNP0C02" : "LNRO0005");
				d[k].nr_io %= 3;
				d[k].irq = (int)(rand_r(&seed) % 300) - 20;
			}
		}
		size_t cap = (size_t)(rand_r(&seed) % 400);
		uint8_t *b = malloc(cap ? cap : 1);
		long n = acpi_build_dsdt(b, cap, d, 1 + (unsigned)(round % 3));
		if (n >= 0) {
			cr_assert_leq((size_t)n, cap);
			cr_assert_eq(le32(b + 4), (uint32_t)n);
			cr_assert_eq(sum(b, (size_t)n), 0);
			built++;
		} else {
			cr_assert(n == -EINVAL || n == -ENOSPC, "round %d: %ld", round, n);
			refused++;
		}
		free(b);
	}
	cr_assert_gt(built, 50, "%u built", built);
	cr_assert_gt(refused, 50, "%u refused", refused);
}
