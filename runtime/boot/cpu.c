/* Boot vCPU state. LINUX64 follows boot.rst "64-bit Boot Protocol" (long
 * mode, paging on, flat __BOOT_CS/__BOOT_DS, rsi = boot_params); PVH
 * follows Xen docs/misc/pvh.pandoc (32-bit protected mode, paging off,
 * flat segments, TR a 32-bit TSS with base 0 and limit 0x67, ebx =
 * hvm_start_info). Segment fields are filled as KVM's kvm_segment wants
 * them: limit in bytes, every attribute bit explicit. */
#include "runtime/boot/cpu.h"

#include <errno.h>
#include <string.h>

#include "runtime/boot/layout.h"

#define BOOT_TYPE_CODE_XRA 0xb /* execute/read, accessed */
#define BOOT_TYPE_DATA_RWA 0x3 /* read/write, accessed */
#define BOOT_TYPE_TSS_BUSY 0xb /* 32/64-bit TSS, busy: what VM entry requires */
#define BOOT_TYPE_LDT 0x2
#define BOOT_TSS_LIMIT 0x67    /* 104-byte TSS, no I/O bitmap */
#define BOOT_FLAT_LIMIT 0xffffffffu
#define BOOT_PD_PAGES 4        /* 4 x 512 x 2 MiB = 4 GiB */

typedef unsigned long long ull;

uint64_t boot_gdt_entry(const struct x86_segment *s)
{
	uint64_t lim = s->g ? s->limit >> 12 : s->limit;

	return (lim & 0xffff) | ((s->base & 0xffffff) << 16) | ((uint64_t)(s->type & 0xf) << 40) |
	       ((uint64_t)(s->s & 1) << 44) | ((uint64_t)(s->dpl & 3) << 45) |
	       ((uint64_t)(s->present & 1) << 47) | (((lim >> 16) & 0xf) << 48) |
	       ((uint64_t)(s->avl & 1) << 52) | ((uint64_t)(s->l & 1) << 53) |
	       ((uint64_t)(s->db & 1) << 54) | ((uint64_t)(s->g & 1) << 55) |
	       (((s->base >> 24) & 0xff) << 56);
}

static struct x86_segment boot_flat(uint16_t sel, uint8_t type, uint8_t db, uint8_t l)
{
	return (struct x86_segment){ .base = 0, .limit = BOOT_FLAT_LIMIT, .selector = sel,
				     .type = type, .present = 1, .s = 1, .db = db, .l = l,
				     .g = 1 };
}

/* Identity map of [0, 4 GiB): covers the kernel's init_size, the zero page
 * and the command line, as the 64-bit protocol requires. */
static int boot_page_tables(struct guest_mem *mem)
{
	uint64_t *pml4 = gm_ptr(mem, LAYOUT_PML4, 4096);
	uint64_t *pdpt = gm_ptr(mem, LAYOUT_PDPT, 4096);
	uint64_t *pd = gm_ptr(mem, LAYOUT_PD, BOOT_PD_PAGES * 4096);

	if (!pml4 || !pdpt || !pd)
		return -EFAULT;
	memset(pml4, 0, 4096);
	memset(pdpt, 0, 4096);
	pml4[0] = LAYOUT_PDPT | BOOT_PTE_P | BOOT_PTE_RW;
	for (unsigned i = 0; i < BOOT_PD_PAGES; i++)
		pdpt[i] = (LAYOUT_PD + i * 4096ULL) | BOOT_PTE_P | BOOT_PTE_RW;
	for (unsigned i = 0; i < BOOT_PD_PAGES * 512; i++)
		pd[i] = ((uint64_t)i << 21) | BOOT_PTE_P | BOOT_PTE_RW | BOOT_PTE_PS;
	return 0;
}

int boot_cpu_state(struct guest_mem *mem, const struct boot_setup *setup,
		   struct x86_regs *regs, struct x86_sregs *sregs, struct errbuf *err)
{
	bool pvh = setup->mode == BOOT_ENTRY_PVH;
	uint64_t gdt[BOOT_GDT_ENTRIES] = { 0 };
	uint64_t idt = 0;

	if (setup->mode != BOOT_ENTRY_LINUX64 && !pvh)
		return err_set(err, -EINVAL, "unknown boot entry mode %d", (int)setup->mode);
	if (!gm_ptr(mem, setup->entry, 1) || (pvh && setup->entry >= GM_MMIO_HOLE_START))
		return err_set(err, -EINVAL, "kernel entry 0x%llx is not in guest RAM",
			       (ull)setup->entry);

	memset(regs, 0, sizeof(*regs));
	memset(sregs, 0, sizeof(*sregs));
	regs->rip = setup->entry;
	regs->rflags = X86_RFLAGS_FIXED; /* IF clear: both protocols want interrupts off */
	regs->rsp = LAYOUT_BOOT_STACK;
	regs->rbp = LAYOUT_BOOT_STACK;

	sregs->cs = boot_flat(BOOT_SEL_CODE, BOOT_TYPE_CODE_XRA, pvh, !pvh);
	sregs->ds = boot_flat(BOOT_SEL_DATA, BOOT_TYPE_DATA_RWA, 1, 0);
	sregs->es = sregs->fs = sregs->gs = sregs->ss = sregs->ds;
	sregs->tr = (struct x86_segment){ .limit = BOOT_TSS_LIMIT, .type = BOOT_TYPE_TSS_BUSY,
					  .present = 1 };
	sregs->ldt = (struct x86_segment){ .limit = 0xffff, .type = BOOT_TYPE_LDT, .present = 1 };
	gdt[BOOT_SEL_CODE / 8] = boot_gdt_entry(&sregs->cs);
	gdt[BOOT_SEL_DATA / 8] = boot_gdt_entry(&sregs->ds);
	if (pvh) {
		/* A 32-bit TSS descriptor is 8 bytes and fits in entry 1; a
		 * 64-bit one takes 16 and does not fit before LAYOUT_IDT, so in
		 * long mode TR lives only in the register (VM entry reads the
		 * cached TR, never the GDT; Linux loads its own TSS). */
		sregs->tr.selector = BOOT_SEL_TSS32;
		gdt[BOOT_SEL_TSS32 / 8] = boot_gdt_entry(&sregs->tr);
	}
	sregs->gdt = (struct x86_dtable){ .base = LAYOUT_GDT, .limit = sizeof(gdt) - 1 };
	/* An IDT with no valid gate: a fault before the kernel installs its
	 * own IDT shuts the VM down instead of running garbage. */
	sregs->idt = (struct x86_dtable){ .base = LAYOUT_IDT, .limit = sizeof(idt) - 1 };
	_Static_assert(LAYOUT_GDT + sizeof(gdt) <= LAYOUT_IDT, "GDT overlaps the IDT");
	if (gm_write(mem, LAYOUT_GDT, gdt, sizeof(gdt)) || gm_write(mem, LAYOUT_IDT, &idt, sizeof(idt)))
		return err_set(err, -EFAULT, "no guest RAM for the GDT/IDT at 0x%llx",
			       (ull)LAYOUT_GDT);
	sregs->apic_base = BOOT_APIC_BASE_BSP;

	if (pvh) {
		/* pvh.pandoc: cr0 PE set, other writable bits clear (ET is
		 * read-only 1); cr4 all clear; ebx = start info. */
		sregs->cr0 = X86_CR0_PE | X86_CR0_ET;
		regs->rbx = setup->params_gpa;
		return 0;
	}
	if (boot_page_tables(mem))
		return err_set(err, -EFAULT, "no guest RAM for the page tables at 0x%llx",
			       (ull)LAYOUT_PML4);
	sregs->cr3 = LAYOUT_PML4;
	sregs->cr4 = X86_CR4_PAE;
	sregs->cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_NE | X86_CR0_PG;
	sregs->efer = X86_EFER_LME | X86_EFER_LMA;
	regs->rsi = setup->params_gpa;
	return 0;
}
