/* PVH start info (Xen docs/misc/pvh.pandoc, "Initial boot"): the loader
 * leaves a struct hvm_start_info in guest memory and its address in ebx. */
#include "runtime/boot/pvh.h"

#include <errno.h>
#include <string.h>

#include "runtime/boot/layout.h"

#define PVH_PAGE_SIZE 0x1000ULL

int pvh_write_start_info(struct guest_mem *mem, const struct boot_setup *s,
			 const struct boot_e820_entry *e820, unsigned n, struct errbuf *err)
{
	uint8_t page[PVH_PAGE_SIZE];
	struct hvm_start_info si = {
		.magic = PVH_START_MAGIC,
		.version = PVH_START_VERSION,
		.cmdline_paddr = LAYOUT_CMDLINE,
		.memmap_paddr = PVH_MEMMAP_GPA,
		.memmap_entries = n,
		.rsdp_paddr = s->rsdp_gpa,
	};

	if ((PVH_MEMMAP_GPA - LAYOUT_PVH_INFO) + (uint64_t)n * sizeof(struct hvm_memmap_table_entry) >
	    PVH_PAGE_SIZE)
		return err_set(err, -E2BIG, "PVH memory map of %u entries does not fit", n);
	memset(page, 0, sizeof(page));
	if (s->initrd_size) {
		/* Linux takes the first module as the initrd (enlighten_pvh.c). */
		struct hvm_modlist_entry mod = { .paddr = s->initrd_gpa, .size = s->initrd_size };
		memcpy(page + (PVH_MODLIST_GPA - LAYOUT_PVH_INFO), &mod, sizeof(mod));
		si.nr_modules = 1;
		si.modlist_paddr = PVH_MODLIST_GPA;
	}
	memcpy(page, &si, sizeof(si));
	for (unsigned i = 0; i < n; i++) {
		struct hvm_memmap_table_entry m = {
			.addr = e820[i].addr, .size = e820[i].size, .type = e820[i].type,
		};
		memcpy(page + (PVH_MEMMAP_GPA - LAYOUT_PVH_INFO) + i * sizeof(m), &m, sizeof(m));
	}
	if (gm_write(mem, LAYOUT_PVH_INFO, page, sizeof(page)))
		return err_set(err, -EFAULT, "no guest RAM for PVH start info at 0x%llx",
			       (unsigned long long)LAYOUT_PVH_INFO);
	return 0;
}
