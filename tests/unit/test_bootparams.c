/* e820 map, command line and zero page, checked against the byte offsets
 * of Documentation/arch/x86/boot.rst and zero-page.rst. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/boot/bootparams.h"
#include "runtime/boot/kernel.h"
#include "runtime/boot/layout.h"

#define MIB (1ULL << 20)
#define GIB (1ULL << 30)

/* Region bookkeeping only: the e820 builder never touches host memory. */
static struct guest_mem bp_mem(uint64_t size)
{
	struct guest_mem m = { .nr_regions = 1, .total = size };
	uint64_t low = size < GM_MMIO_HOLE_START ? size : GM_MMIO_HOLE_START;
	m.regions[0] = (struct gm_region){ .gpa = 0, .size = low };
	if (size > low) {
		m.regions[1] = (struct gm_region){ .gpa = GM_MMIO_HOLE_END, .size = size - low };
		m.nr_regions = 2;
	}
	return m;
}

static void bp_e(const struct boot_e820_entry *e, uint64_t addr, uint64_t size, uint32_t type)
{
	cr_assert_eq(e->addr, addr, "addr 0x%llx != 0x%llx", (unsigned long long)e->addr,
		     (unsigned long long)addr);
	cr_assert_eq(e->size, size, "size 0x%llx != 0x%llx at 0x%llx",
		     (unsigned long long)e->size, (unsigned long long)size,
		     (unsigned long long)addr);
	cr_assert_eq(e->type, type);
}

/* Sorted, non-overlapping, no RAM over the legacy area or the MMIO hole. */
static void bp_sane(const struct boot_e820_entry *e, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		uint64_t end = e[i].addr + e[i].size;
		cr_assert_gt(e[i].size, 0);
		if (i)
			cr_assert_geq(e[i].addr, e[i - 1].addr + e[i - 1].size);
		if (e[i].type == BOOT_E820_RAM) {
			cr_assert(end <= LAYOUT_EBDA || e[i].addr >= LAYOUT_HIMEM);
			cr_assert(end <= GM_MMIO_HOLE_START || e[i].addr >= GM_MMIO_HOLE_END);
		}
	}
}

Test(bootparams, e820_small)
{
	struct guest_mem m = bp_mem(64 * MIB);
	struct boot_e820_entry e[BOOT_E820_MAX];
	unsigned n = bootparams_e820(&m, e);
	cr_assert_eq(n, 3);
	bp_e(&e[0], 0, LAYOUT_EBDA, BOOT_E820_RAM);
	bp_e(&e[1], LAYOUT_EBDA, LAYOUT_HIMEM - LAYOUT_EBDA, BOOT_E820_RESERVED);
	bp_e(&e[2], LAYOUT_HIMEM, 63 * MIB, BOOT_E820_RAM);
	bp_sane(e, n);
}

Test(bootparams, e820_exactly_3g)
{
	struct guest_mem m = bp_mem(3 * GIB);
	struct boot_e820_entry e[BOOT_E820_MAX];
	unsigned n = bootparams_e820(&m, e);
	cr_assert_eq(n, 3, "nothing above 4 GiB");
	bp_e(&e[2], LAYOUT_HIMEM, 3 * GIB - MIB, BOOT_E820_RAM);
	bp_sane(e, n);
}

Test(bootparams, e820_above_hole)
{
	struct guest_mem m = bp_mem(5 * GIB);
	struct boot_e820_entry e[BOOT_E820_MAX];
	unsigned n = bootparams_e820(&m, e);
	cr_assert_eq(n, 4);
	bp_e(&e[2], LAYOUT_HIMEM, GM_MMIO_HOLE_START - LAYOUT_HIMEM, BOOT_E820_RAM);
	bp_e(&e[3], GM_MMIO_HOLE_END, 2 * GIB, BOOT_E820_RAM);
	bp_sane(e, n);
	uint64_t ram = 0;
	for (unsigned i = 0; i < n; i++)
		ram += e[i].type == BOOT_E820_RAM ? e[i].size : 0;
	cr_assert_eq(ram, 5 * GIB - (LAYOUT_HIMEM - LAYOUT_EBDA), "all RAM but the legacy area");
}

static uint8_t cl_ram[LAYOUT_CMDLINE + LAYOUT_CMDLINE_MAX];

static struct guest_mem cl_mem(void)
{
	struct guest_mem m = { .nr_regions = 1, .total = sizeof(cl_ram) };
	m.regions[0] = (struct gm_region){ .gpa = 0, .size = sizeof(cl_ram), .host = cl_ram };
	memset(cl_ram, 0x5a, sizeof(cl_ram));
	return m;
}

Test(bootparams, cmdline_placed_nul_terminated)
{
	struct guest_mem m = cl_mem();
	struct errbuf err = { "" };
	const char *s = "console=ttyS0 reboot=k panic=1";
	cr_assert_eq(bootparams_write_cmdline(&m, s, 2047, &err), 0, "%s", err.msg);
	cr_assert_str_eq((char *)cl_ram + LAYOUT_CMDLINE, s);
	cr_assert_eq(cl_ram[LAYOUT_CMDLINE - 1], 0x5a, "nothing written before");
	cr_assert_eq(bootparams_write_cmdline(&m, NULL, 2047, &err), 0);
	cr_assert_eq(cl_ram[LAYOUT_CMDLINE], 0);
}

Test(bootparams, cmdline_limits)
{
	struct guest_mem m = cl_mem();
	struct errbuf err = { "" };
	char *s = malloc(LAYOUT_CMDLINE_MAX + 1);

	cr_assert_eq(bootparams_write_cmdline(&m, "0123456789", 10, &err), 0, "exactly the limit");
	cr_assert_eq(bootparams_write_cmdline(&m, "0123456789a", 10, &err), -E2BIG);
	cr_assert(strstr(err.msg, "11 bytes") && strstr(err.msg, "10"), "%s", err.msg);
	memset(s, 'x', LAYOUT_CMDLINE_MAX - 1);
	s[LAYOUT_CMDLINE_MAX - 1] = 0;
	cr_assert_eq(bootparams_write_cmdline(&m, s, UINT32_MAX, &err), 0, "buffer incl. NUL");
	cr_assert_eq(cl_ram[LAYOUT_CMDLINE + LAYOUT_CMDLINE_MAX - 1], 0);
	s[LAYOUT_CMDLINE_MAX - 1] = 'x';
	s[LAYOUT_CMDLINE_MAX] = 0;
	cr_assert_eq(bootparams_write_cmdline(&m, s, UINT32_MAX, &err), -E2BIG);
	free(s);
}

static uint32_t rd32(const void *p, size_t off)
{
	uint32_t v;
	memcpy(&v, (const uint8_t *)p + off, 4);
	return v;
}

static uint16_t rd16(const void *p, size_t off)
{
	uint16_t v;
	memcpy(&v, (const uint8_t *)p + off, 2);
	return v;
}

Test(bootparams, zero_page_for_vmlinux)
{
	struct guest_mem m = bp_mem(64 * MIB);
	struct boot_e820_entry e[BOOT_E820_MAX];
	unsigned n = bootparams_e820(&m, e);
	struct loader_kernel k = { .cmdline_max = LAYOUT_CMDLINE_MAX - 1 };
	struct boot_setup s = { .initrd_gpa = 0x3000000, .initrd_size = 0x12345 };
	static struct boot_params bp;

	cr_assert_eq(sizeof(bp), 4096);
	memset(&bp, 0xcc, sizeof(bp));
	bootparams_fill(&bp, &k, &s, e, n);
	cr_assert_eq(rd16(&bp, 0x1fe), 0xAA55, "boot_flag");
	cr_assert_eq(rd32(&bp, 0x202), 0x53726448, "HdrS");
	cr_assert_eq(((uint8_t *)&bp)[0x210], 0xff, "type_of_loader");
	cr_assert_eq(((uint8_t *)&bp)[0x211], LOADED_HIGH | CAN_USE_HEAP, "loadflags");
	cr_assert_eq(rd32(&bp, 0x218), 0x3000000, "ramdisk_image");
	cr_assert_eq(rd32(&bp, 0x21c), 0x12345, "ramdisk_size");
	cr_assert_eq(rd16(&bp, 0x224), 0xfe00, "heap_end_ptr");
	cr_assert_eq(rd32(&bp, 0x228), LAYOUT_CMDLINE, "cmd_line_ptr");
	cr_assert_eq(rd32(&bp, 0x238), LAYOUT_CMDLINE_MAX - 1, "cmdline_size");
	cr_assert_eq(rd32(&bp, 0x0c0), 0, "ext_ramdisk_image");
	cr_assert_eq(rd32(&bp, 0x0c8), 0, "ext_cmd_line_ptr");
	cr_assert_eq(((uint8_t *)&bp)[0x1e8], 3, "e820_entries");
	cr_assert_eq(memcmp((uint8_t *)&bp + 0x2d0, e, 3 * 20), 0, "e820_table");
	cr_assert_eq(((uint8_t *)&bp)[0x1ef], 0, "sentinel cleared");
	cr_assert_eq(rd16(&bp, 0x206), 0x020c, "protocol version of the fields we fill");
}

Test(bootparams, zero_page_keeps_bzimage_header)
{
	struct guest_mem m = bp_mem(64 * MIB);
	struct boot_e820_entry e[BOOT_E820_MAX];
	unsigned n = bootparams_e820(&m, e);
	struct loader_kernel k = { .has_setup_header = true, .cmdline_max = 2047 };
	struct boot_setup s = { 0 };
	static struct boot_params bp;

	k.hdr.version = 0x020f;
	k.hdr.header = 0x53726448;
	k.hdr.boot_flag = 0xAA55;
	k.hdr.cmdline_size = 2047;
	k.hdr.loadflags = KASLR_FLAG;
	k.hdr.code32_start = 0x1000000;
	k.hdr.init_size = 0x99999; /* beyond hdr_len: must not be copied */
	k.hdr_len = offsetof(struct setup_header, init_size);
	bootparams_fill(&bp, &k, &s, e, n);
	cr_assert_eq(rd16(&bp, 0x206), 0x020f, "version kept");
	cr_assert_eq(rd32(&bp, 0x238), 2047, "kernel's cmdline_size kept");
	cr_assert_eq(rd32(&bp, 0x214), 0x1000000, "code32_start");
	cr_assert_eq(((uint8_t *)&bp)[0x211], KASLR_FLAG | LOADED_HIGH | CAN_USE_HEAP);
	cr_assert_eq(((uint8_t *)&bp)[0x210], 0xff);
	cr_assert_eq(rd32(&bp, 0x260), 0, "past the declared header");
	cr_assert_eq(rd32(&bp, 0x218), 0, "no initrd");
}
