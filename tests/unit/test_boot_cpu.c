/* Boot vCPU state: registers per protocol, and the GDT and page tables as
 * the CPU will read them from guest memory. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/boot/cpu.h"
#include "runtime/boot/layout.h"
#include "runtime/boot/pvh.h"

#define BC_RAM (2ULL << 20)

static uint8_t *bc_ram;
static struct guest_mem bc_mem;

static void bc_setup(void)
{
	bc_ram = malloc(BC_RAM);
	cr_assert_not_null(bc_ram);
	memset(bc_ram, 0xa5, BC_RAM); /* stale memory: everything must be written */
	memset(&bc_mem, 0, sizeof(bc_mem));
	bc_mem.regions[0] = (struct gm_region){ .gpa = 0, .size = BC_RAM, .host = bc_ram };
	bc_mem.nr_regions = 1;
	bc_mem.total = BC_RAM;
}

static void bc_teardown(void)
{
	free(bc_ram);
}

static uint64_t bc_q(uint64_t gpa)
{
	uint64_t v;
	cr_assert_eq(gm_read(&bc_mem, gpa, &v, 8), 0);
	return v;
}

/* 4-level walk as the MMU does it; returns -1 for a non-present entry. */
static int64_t bc_walk(uint64_t cr3, uint64_t va)
{
	uint64_t e = bc_q((cr3 & ~0xfffULL) + ((va >> 39) & 511) * 8);
	if (!(e & BOOT_PTE_P))
		return -1;
	e = bc_q((e & 0xffffffffff000ULL) + ((va >> 30) & 511) * 8);
	if (!(e & BOOT_PTE_P))
		return -1;
	cr_assert_eq(e & BOOT_PTE_PS, 0, "no 1 GiB pages");
	e = bc_q((e & 0xffffffffff000ULL) + ((va >> 21) & 511) * 8);
	if (!(e & BOOT_PTE_P))
		return -1;
	cr_assert(e & BOOT_PTE_PS, "2 MiB page");
	cr_assert(e & BOOT_PTE_RW);
	return (int64_t)((e & 0xfffffffe00000ULL) + (va & 0x1fffff));
}

static void bc_flat(const struct x86_segment *s, uint16_t sel, uint8_t type)
{
	cr_assert_eq(s->selector, sel);
	cr_assert_eq(s->base, 0);
	cr_assert_eq(s->limit, 0xffffffff);
	cr_assert_eq(s->type, type);
	cr_assert_eq(s->present, 1);
	cr_assert_eq(s->s, 1);
	cr_assert_eq(s->dpl, 0);
	cr_assert_eq(s->g, 1);
	cr_assert_eq(s->unusable, 0);
}

TestSuite(boot_cpu, .init = bc_setup, .fini = bc_teardown);

Test(boot_cpu, linux64_registers)
{
	struct boot_setup s = { .mode = BOOT_ENTRY_LINUX64, .entry = 0x100000,
				.params_gpa = LAYOUT_ZERO_PAGE };
	struct x86_regs r;
	struct x86_sregs sr;
	struct errbuf err = { "" };

	cr_assert_eq(boot_cpu_state(&bc_mem, &s, &r, &sr, &err), 0, "%s", err.msg);
	cr_assert_eq(r.rip, 0x100000);
	cr_assert_eq(r.rsi, LAYOUT_ZERO_PAGE, "rsi = boot_params");
	cr_assert_eq(r.rsp, LAYOUT_BOOT_STACK);
	cr_assert_eq(r.rflags, 2, "interrupts off");
	cr_assert_eq(sr.cr0 & (X86_CR0_PE | X86_CR0_PG), X86_CR0_PE | X86_CR0_PG);
	cr_assert_eq(sr.cr4 & X86_CR4_PAE, X86_CR4_PAE);
	cr_assert_eq(sr.efer & (X86_EFER_LME | X86_EFER_LMA), X86_EFER_LME | X86_EFER_LMA);
	cr_assert_eq(sr.cr3, LAYOUT_PML4);
	bc_flat(&sr.cs, 0x10, 0xb); /* __BOOT_CS */
	cr_assert_eq(sr.cs.l, 1, "64-bit code");
	cr_assert_eq(sr.cs.db, 0, "L and D are exclusive");
	bc_flat(&sr.ds, 0x18, 0x3); /* __BOOT_DS */
	bc_flat(&sr.es, 0x18, 0x3);
	bc_flat(&sr.ss, 0x18, 0x3);
	cr_assert_eq(sr.tr.type, 0xb, "busy TSS");
	cr_assert_eq(sr.tr.present, 1);
	cr_assert_eq(sr.tr.s, 0);
	cr_assert_eq(sr.apic_base, 0xfee00900ULL, "xAPIC enabled, BSP");
	cr_assert_eq(sr.gdt.base, LAYOUT_GDT);
	cr_assert_eq(sr.gdt.limit, 31);
	cr_assert_eq(sr.idt.base, LAYOUT_IDT);
}

Test(boot_cpu, linux64_gdt_in_memory)
{
	struct boot_setup s = { .mode = BOOT_ENTRY_LINUX64, .entry = 0x100000 };
	struct x86_regs r;
	struct x86_sregs sr;

	cr_assert_eq(boot_cpu_state(&bc_mem, &s, &r, &sr, NULL), 0);
	cr_assert_eq(bc_q(LAYOUT_GDT), 0, "null descriptor");
	cr_assert_eq(bc_q(LAYOUT_GDT + 8), 0);
	/* Flat 4 GiB descriptors: long-mode code (G, L, P, S, type 0xb) and
	 * data (G, D/B, P, S, type 3), as in SDM vol. 3 figure 3-8. */
	cr_assert_eq(bc_q(LAYOUT_GDT + 0x10), 0x00af9b000000ffffULL);
	cr_assert_eq(bc_q(LAYOUT_GDT + 0x18), 0x00cf93000000ffffULL);
	cr_assert_eq(bc_q(LAYOUT_IDT), 0, "IDT with no present gate");
}

Test(boot_cpu, linux64_identity_map_4g)
{
	struct boot_setup s = { .mode = BOOT_ENTRY_LINUX64, .entry = 0x100000 };
	struct x86_regs r;
	struct x86_sregs sr;
	const uint64_t va[] = { 0, 0x1fffff, 0x200000, LAYOUT_ZERO_PAGE, 0x1000000,
				0xbfffffff, 0xfee00000, 0xffffffff };

	cr_assert_eq(boot_cpu_state(&bc_mem, &s, &r, &sr, NULL), 0);
	for (size_t i = 0; i < sizeof(va) / sizeof(va[0]); i++)
		cr_assert_eq(bc_walk(sr.cr3, va[i]), (int64_t)va[i], "va 0x%llx",
			     (unsigned long long)va[i]);
	cr_assert_eq(bc_walk(sr.cr3, 0x100000000ULL), -1, "nothing above 4 GiB");
	cr_assert_eq(bc_walk(sr.cr3, 0xffffffff81000000ULL), -1, "no high mapping");
}

Test(boot_cpu, pvh_registers_and_gdt)
{
	struct boot_setup s = { .mode = BOOT_ENTRY_PVH, .entry = 0x100040,
				.params_gpa = LAYOUT_PVH_INFO };
	struct x86_regs r;
	struct x86_sregs sr;

	cr_assert_eq(boot_cpu_state(&bc_mem, &s, &r, &sr, NULL), 0);
	cr_assert_eq(r.rip, 0x100040);
	cr_assert_eq(r.rbx, LAYOUT_PVH_INFO, "ebx = hvm_start_info");
	cr_assert_eq(r.rflags & (X86_RFLAGS_IF | (1 << 8) | (1 << 17)), 0);
	cr_assert_eq(sr.cr0 & X86_CR0_PE, X86_CR0_PE);
	cr_assert_eq(sr.cr0 & X86_CR0_PG, 0, "paging off");
	cr_assert_eq(sr.cr4, 0);
	cr_assert_eq(sr.efer, 0);
	bc_flat(&sr.cs, 0x10, 0xb);
	cr_assert_eq(sr.cs.db, 1, "32-bit code");
	cr_assert_eq(sr.cs.l, 0);
	bc_flat(&sr.ds, 0x18, 0x3);
	cr_assert_eq(sr.tr.base, 0);
	cr_assert_eq(sr.tr.limit, 0x67);
	cr_assert_eq(sr.tr.type, 0xb);
	cr_assert_eq(sr.tr.selector, 0x08);
	cr_assert_eq(bc_q(LAYOUT_GDT + 0x08), 0x00008b0000000067ULL, "32-bit TSS descriptor");
	cr_assert_eq(bc_q(LAYOUT_GDT + 0x10), 0x00cf9b000000ffffULL, "32-bit flat code");
	cr_assert_eq(bc_q(LAYOUT_GDT + 0x18), 0x00cf93000000ffffULL);
	cr_assert_eq(bc_q(LAYOUT_PML4), 0xa5a5a5a5a5a5a5a5ULL, "no page tables written for PVH");
}

Test(boot_cpu, descriptor_encoding)
{
	struct x86_segment s = { .base = 0x12345678, .limit = 0xabcde, .type = 0x2, .present = 1,
				 .s = 1, .dpl = 3, .avl = 1 };
	/* base 31:24 | G D L AVL, limit 19:16 | P DPL S type | base 23:0 | limit 15:0 */
	cr_assert_eq(boot_gdt_entry(&s), 0x121af2345678bcdeULL);
	s.g = 1;
	s.limit = 0xffffffff;
	s.base = 0;
	cr_assert_eq(boot_gdt_entry(&s) & 0x000f00000000ffffULL, 0x000f00000000ffffULL,
		     "limit scaled by 4 KiB");
}

Test(boot_cpu, bad_entry_and_mode)
{
	struct boot_setup s = { .mode = BOOT_ENTRY_LINUX64, .entry = BC_RAM };
	struct x86_regs r;
	struct x86_sregs sr;
	struct errbuf err = { "" };

	cr_assert_eq(boot_cpu_state(&bc_mem, &s, &r, &sr, &err), -EINVAL);
	cr_assert(strstr(err.msg, "0x200000"), "%s", err.msg);
	s.entry = 0x100000;
	s.mode = (enum boot_entry_mode)7;
	cr_assert_eq(boot_cpu_state(&bc_mem, &s, &r, &sr, &err), -EINVAL);
}
