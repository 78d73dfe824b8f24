/* Zero page, e820 and command line for the 64-bit Linux boot protocol.
 * Field rules cite Documentation/arch/x86/boot.rst ("Details of header
 * fields") and zero-page.rst. */
#include "runtime/boot/bootparams.h"

#include <errno.h>
#include <string.h>

#include "runtime/boot/layout.h"

#define BP_BOOT_FLAG 0xAA55
#define BP_HDRS 0x53726448        /* "HdrS" */
#define BP_LOADER_UNDEFINED 0xff  /* type_of_loader: "0xFF = undefined" */
/* heap_end_ptr: end of the setup heap minus 0x200, as for a loader that
 * gives the setup code the whole 64 KiB segment (boot.rst example). */
#define BP_HEAP_END 0xfe00
#define BP_VMLINUX_VERSION 0x020c

typedef unsigned long long ull;

static unsigned e820_add(struct boot_e820_entry *out, unsigned n, uint64_t start,
			 uint64_t end, uint32_t type)
{
	if (end <= start || n >= BOOT_E820_MAX)
		return n;
	out[n] = (struct boot_e820_entry){ .addr = start, .size = end - start, .type = type };
	return n + 1;
}

unsigned bootparams_e820(const struct guest_mem *mem, struct boot_e820_entry *out)
{
	uint64_t low = loader_low_end(mem);
	unsigned n = 0;

	/* Linux looks for the MP floating pointer in the last KiB of base
	 * memory (mpparse.c), where LAYOUT_EBDA puts it; it and the legacy
	 * VGA/BIOS range up to 1 MiB must not be handed out as RAM. */
	n = e820_add(out, n, 0, low < LAYOUT_EBDA ? low : LAYOUT_EBDA, BOOT_E820_RAM);
	n = e820_add(out, n, LAYOUT_EBDA, LAYOUT_HIMEM, BOOT_E820_RESERVED);
	n = e820_add(out, n, LAYOUT_HIMEM, low, BOOT_E820_RAM);
	for (unsigned i = 1; i < mem->nr_regions; i++)
		n = e820_add(out, n, mem->regions[i].gpa,
			     mem->regions[i].gpa + mem->regions[i].size, BOOT_E820_RAM);
	return n;
}

int bootparams_write_cmdline(struct guest_mem *mem, const char *cmdline,
			     uint64_t max_len, struct errbuf *err)
{
	const char *s = cmdline ? cmdline : "";
	/* Both limits hold: our buffer and the kernel's cmdline_size. */
	uint64_t limit = max_len < LAYOUT_CMDLINE_MAX - 1 ? max_len : LAYOUT_CMDLINE_MAX - 1;
	size_t len = strnlen(s, limit + 1);

	if (len > limit)
		return err_set(err, -E2BIG,
			       "kernel command line too long: %zu bytes, at most %llu allowed (kernel limit %llu, buffer %llu incl. NUL)",
			       strlen(s), (ull)limit, (ull)max_len, (ull)LAYOUT_CMDLINE_MAX);
	if (gm_write(mem, LAYOUT_CMDLINE, s, len + 1))
		return err_set(err, -EFAULT, "no guest RAM for the command line at 0x%llx",
			       (ull)LAYOUT_CMDLINE);
	return 0;
}

void bootparams_fill(struct boot_params *bp, const struct loader_kernel *k,
		     const struct boot_setup *s, const struct boot_e820_entry *e820,
		     unsigned nr_e820)
{
	struct setup_header *h = &bp->hdr;

	/* "64-bit Boot Protocol": start from all zeros, copy the image's
	 * setup header, then set the loader-written fields. A vmlinux has no
	 * header; the kernel reads the same fields, so we write them. */
	memset(bp, 0, sizeof(*bp));
	if (k->has_setup_header) {
		memcpy(h, &k->hdr, k->hdr_len);
	} else {
		h->boot_flag = BP_BOOT_FLAG;
		h->header = BP_HDRS;
		/* The fields we fill are those of protocol 2.12; a zero version
		 * reads as "boot_params not copied yet" to the kernel
		 * (x86_64_start_reservations in arch/x86/kernel/head64.c). */
		h->version = BP_VMLINUX_VERSION;
		h->cmdline_size = (uint32_t)k->cmdline_max;
	}
	h->type_of_loader = BP_LOADER_UNDEFINED;
	h->loadflags |= LOADED_HIGH | CAN_USE_HEAP;
	h->heap_end_ptr = BP_HEAP_END;
	h->cmd_line_ptr = (uint32_t)LAYOUT_CMDLINE;
	bp->ext_cmd_line_ptr = (uint32_t)(LAYOUT_CMDLINE >> 32);
	h->ramdisk_image = (uint32_t)s->initrd_gpa;
	h->ramdisk_size = (uint32_t)s->initrd_size;
	bp->ext_ramdisk_image = (uint32_t)(s->initrd_gpa >> 32);
	bp->ext_ramdisk_size = (uint32_t)(s->initrd_size >> 32);

	if (nr_e820 > E820_MAX_ENTRIES_ZEROPAGE)
		nr_e820 = E820_MAX_ENTRIES_ZEROPAGE;
	memcpy(bp->e820_table, e820, nr_e820 * sizeof(*e820));
	/* Read by the kernel whatever the protocol version (zero-page.rst). */
	bp->acpi_rsdp_addr = s->rsdp_gpa;
	bp->e820_entries = (uint8_t)nr_e820;
}
