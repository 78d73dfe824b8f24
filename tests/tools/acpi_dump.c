/* Writes the ACPI tables Ember builds, one file per table, so that
 * `iasl -d` can check them (tests/integration/t_acpi.sh):
 *
 *   acpi-dump DIR apic|pic NR_VIRTIO NR_CPUS
 *
 * The device list is what a VM with every legacy device and NR_VIRTIO
 * virtio-mmio slots registers. Prints the file names written. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/boot/acpi/acpi.h"
#include "runtime/boot/layout.h"

static int dump(const char *dir, const char *name, const uint8_t *p, size_t len)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s.dat", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(p, 1, len, f) != len || fclose(f)) {
		fprintf(stderr, "acpi-dump: %s: %s\n", path, strerror(errno));
		return 1;
	}
	printf("%s\n", path);
	return 0;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int main(int argc, char **argv)
{
	if (argc != 5 || (strcmp(argv[2], "apic") && strcmp(argv[2], "pic"))) {
		fprintf(stderr, "usage: acpi-dump DIR apic|pic NR_VIRTIO NR_CPUS\n");
		return 2;
	}
	unsigned nv = (unsigned)atoi(argv[3]), ncpu = (unsigned)atoi(argv[4]);
	struct acpi_dev_desc devs[ACPI_MAX_DEVS];
	unsigned n = 0;
	devs[n++] = acpi_dev_com1;
	devs[n++] = acpi_dev_i8042;
	devs[n++] = acpi_dev_rtc;
	devs[n++] = acpi_dev_pvpanic;
	for (unsigned i = 0; i < nv && n < ACPI_MAX_DEVS; i++)
		if (acpi_dev_virtio_mmio(&devs[n++], i,
					 (uint32_t)(LAYOUT_MMIO_DEV_BASE + i * LAYOUT_MMIO_DEV_SIZE),
					 (uint32_t)LAYOUT_MMIO_DEV_SIZE, LAYOUT_FIRST_VIRTIO_IRQ + i))
			return 1;
	struct acpi_platform p = {
		.nr_cpus = ncpu, .apic = !strcmp(argv[2], "apic"),
		.lapic_addr = (uint32_t)LAYOUT_LAPIC, .ioapic_addr = (uint32_t)LAYOUT_IOAPIC,
		.ioapic_pins = 24, .sleep_port = LAYOUT_ACPI_SLEEP, .pm1_evt_port = LAYOUT_ACPI_PM1_EVT,
		.pm1_cnt_port = LAYOUT_ACPI_PM1_CNT, .sci_irq = LAYOUT_ACPI_SCI_IRQ,
		.reset_port = LAYOUT_I8042_PORT + 4, .reset_value = 0xfe,
		.devs = devs, .nr_devs = n,
	};
	static uint8_t buf[ACPI_TABLES_MAX];
	struct acpi_layout l;
	long r = acpi_build(buf, sizeof(buf), LAYOUT_ACPI_BASE, &p, &l);
	if (r < 0) {
		fprintf(stderr, "acpi-dump: acpi_build: %s\n", strerror((int)-r));
		return 1;
	}
	const struct { const char *name; uint64_t at; } t[] = {
		{ "dsdt", l.dsdt }, { "facp", l.fadt }, { "apic", l.madt }, { "xsdt", l.xsdt },
	};
	int bad = dump(argv[1], "rsdp", buf, 36);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].at)
			bad |= dump(argv[1], t[i].name, buf + (t[i].at - LAYOUT_ACPI_BASE),
				    le32(buf + (t[i].at - LAYOUT_ACPI_BASE) + 4));
	if (l.facs)
		bad |= dump(argv[1], "facs", buf + (l.facs - LAYOUT_ACPI_BASE), 64);
	return bad;
}
