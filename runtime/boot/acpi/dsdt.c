/* The DSDT: every device of the list as a Device in \_SB with _HID, _UID
 * and a _CRS resource template (ACPI 6.3, 6.1 and 6.2). Linux's
 * virtio_mmio driver binds "LNRO0005" devices (drivers/virtio/virtio_mmio.c)
 * and its PNP layer the PNP ids. */
#include <errno.h>
#include <string.h>

#include "runtime/boot/acpi/acpi.h"
#include "runtime/boot/acpi/aml.h"
#include "runtime/boot/acpi/sdt.h"

#define DSDT_REVISION 2 /* 64-bit integers */

const struct acpi_dev_desc acpi_dev_com1 = {
	.name = "COM1", .hid = "PNP0501", .uid = 1,
	.nr_io = 1, .io = { { 0x3f8, 8 } }, .irq = 4,
};
/* One PNP0303 device with both ports, as a PC BIOS describes the
 * keyboard controller; no PS/2 mouse (PNP0F13): Ember has no aux port. */
const struct acpi_dev_desc acpi_dev_i8042 = {
	.name = "PS2K", .hid = "PNP0303", .uid = 0,
	.nr_io = 2, .io = { { 0x60, 1 }, { 0x64, 1 } }, .irq = 1,
};
const struct acpi_dev_desc acpi_dev_rtc = {
	.name = "RTC", .hid = "PNP0B00", .uid = 0,
	.nr_io = 1, .io = { { 0x70, 2 } }, .irq = 8,
};
/* QEMU's pvpanic ISA device (docs/specs/pvpanic.txt in QEMU). */
const struct acpi_dev_desc acpi_dev_pvpanic = {
	.name = "PEVT", .hid = "QEMU0001", .uid = 0,
	.nr_io = 1, .io = { { 0x505, 1 } }, .irq = ACPI_NO_IRQ,
};

int acpi_dev_virtio_mmio(struct acpi_dev_desc *d, unsigned slot, uint32_t base, uint32_t len,
			 unsigned gsi)
{
	if (slot >= ACPI_MAX_DEVS || gsi > 0xff)
		return -EINVAL;
	memset(d, 0, sizeof(*d));
	d->name[0] = 'V';
	d->name[1] = (char)('0' + slot / 100);
	d->name[2] = (char)('0' + slot / 10 % 10);
	d->name[3] = (char)('0' + slot % 10);
	memcpy(d->hid, "LNRO0005", 9);
	d->uid = slot;
	d->mmio_base = base;
	d->mmio_len = len;
	d->irq = (int)gsi;
	d->irq_extended = true;
	return 0;
}

/* Everything aml would refuse and more, before a byte is written. */
static int dsdt_check_dev(const struct acpi_dev_desc *d)
{
	size_t hid_len = strnlen(d->hid, sizeof(d->hid));
	if (hid_len == 0 || hid_len == sizeof(d->hid))
		return -EINVAL;
	for (size_t i = 0; i < hid_len; i++)
		if (!((d->hid[i] >= 'A' && d->hid[i] <= 'Z') || (d->hid[i] >= '0' && d->hid[i] <= '9')))
			return -EINVAL;
	if (strnlen(d->name, sizeof(d->name)) == sizeof(d->name) || d->nr_io > ACPI_DEV_MAX_IO)
		return -EINVAL;
	for (unsigned i = 0; i < d->nr_io; i++)
		if (!d->io[i].len || d->io[i].base + (unsigned)d->io[i].len > 0x10000)
			return -EINVAL;
	if (d->mmio_len && (uint64_t)d->mmio_base + d->mmio_len > 0x100000000ULL)
		return -EINVAL;
	if (d->irq != ACPI_NO_IRQ && (d->irq < 0 || d->irq > (d->irq_extended ? 0xff : 15)))
		return -EINVAL;
	return 0;
}

static void dsdt_dev(struct aml *a, const struct acpi_dev_desc *d)
{
	aml_device(a, d->name);
	aml_name(a, "_HID");
	if (aml_is_eisaid(d->hid))
		aml_eisaid(a, d->hid);
	else
		aml_string(a, d->hid);
	aml_name(a, "_UID");
	aml_integer(a, d->uid);
	aml_name(a, "_CRS");
	aml_restemplate(a);
	for (unsigned i = 0; i < d->nr_io; i++)
		aml_res_io(a, d->io[i].base, 1, d->io[i].len);
	if (d->mmio_len)
		aml_res_mem32_fixed(a, d->mmio_base, d->mmio_len);
	if (d->irq != ACPI_NO_IRQ) {
		if (d->irq_extended)
			aml_res_interrupt(a, (uint32_t)d->irq, false, false);
		else
			aml_res_irq_noflags(a, (unsigned)d->irq);
	}
	aml_end(a); /* ResourceTemplate */
	aml_end(a); /* Device */
}

long acpi_build_dsdt(uint8_t *buf, size_t cap, const struct acpi_dev_desc *devs, unsigned n)
{
	struct aml a;

	if (n > ACPI_MAX_DEVS || (n && !devs))
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		if (dsdt_check_dev(&devs[i]))
			return -EINVAL;
		for (unsigned j = 0; j < i; j++)
			if (!strcmp(devs[i].name, devs[j].name))
				return -EINVAL; /* one name, one object */
	}
	if (cap < ACPI_SDT_HEADER_SIZE)
		return -ENOSPC;
	aml_init(&a, buf + ACPI_SDT_HEADER_SIZE, cap - ACPI_SDT_HEADER_SIZE);
	/* Soft-off: SLP_TYPa, SLP_TYPb and two reserved values; the sleep
	 * registers act on this type (runtime/devices/acpi_pm.h). */
	aml_name(&a, "\\_S5");
	aml_package(&a, 4);
	aml_integer(&a, ACPI_S5_SLP_TYP);
	aml_integer(&a, ACPI_S5_SLP_TYP);
	aml_integer(&a, 0);
	aml_integer(&a, 0);
	aml_end(&a);
	aml_scope(&a, "\\_SB");
	for (unsigned i = 0; i < n; i++)
		dsdt_dev(&a, &devs[i]);
	aml_end(&a);
	long len = aml_finish(&a);
	if (len < 0)
		return len;
	size_t total = ACPI_SDT_HEADER_SIZE + (size_t)len;
	acpi_sdt_header(buf, "DSDT", (uint32_t)total, DSDT_REVISION);
	acpi_sdt_finish(buf, total);
	return (long)total;
}
