/* runtime/backend/tcg/deliver.c: IA-32e exception and interrupt delivery without a
 * guest — gate types, privilege and IST stack switches, the pushed frame,
 * error codes, and the nested-fault rules (SDM Vol. 3A §6.14, §6.15). */
#include <criterion/criterion.h>
#include <string.h>

#include "runtime/base/gmem.h"
#include "runtime/backend/tcg/deliver.h"
#include "runtime/backend/tcg/mmu.h"
#include "runtime/backend/x86.h"

#define MEM (4ULL << 20)
#define PML4 0x10000ULL
#define GDT 0x500ULL
#define IDT 0x2000ULL
#define TSS 0x3000ULL
#define RSP0 0x9000ULL
#define IST1 0xa008ULL /* deliberately misaligned: the CPU aligns to 16 */
#define HANDLER 0x5000ULL

static struct guest_mem mem;

static void setup(void)
{
	cr_assert_eq(gm_alloc(&mem, MEM), 0);
	uint64_t *pml4 = gm_ptr(&mem, PML4, 4096), *pdpt = gm_ptr(&mem, PML4 + 0x1000, 4096);
	uint64_t *pd = gm_ptr(&mem, PML4 + 0x2000, 4096);
	pml4[0] = (PML4 + 0x1000) | 7;
	pdpt[0] = (PML4 + 0x2000) | 7;
	pd[0] = 0x87; /* 0-2 MiB, user, writable */
	pd[1] = 0x200000 | 0x87;
	uint64_t *gdt = gm_ptr(&mem, GDT, 64);
	gdt[1] = 0x00af9b000000ffffULL; /* 0x08: 64-bit code, DPL 0 */
	gdt[2] = 0x00cf93000000ffffULL; /* 0x10: data, DPL 0 */
	gdt[3] = 0x00affb000000ffffULL; /* 0x18: 64-bit code, DPL 3 */
	gdt[4] = 0x00cff3000000ffffULL; /* 0x20: data, DPL 3 */
	gdt[5] = 0x00cf9b000000ffffULL; /* 0x28: 32-bit code: not a valid target */
	uint64_t *tss = gm_ptr(&mem, TSS, 0x68);
	memcpy((uint8_t *)tss + 4, &(uint64_t){ RSP0 }, 8);
	memcpy((uint8_t *)tss + 0x24, &(uint64_t){ IST1 }, 8);
}

static void teardown(void)
{
	gm_free(&mem);
}

/* type 0xe interrupt gate, 0xf trap gate. */
static void gate(unsigned vec, uint64_t target, uint16_t sel, unsigned type, unsigned dpl,
		 unsigned ist, bool present)
{
	uint64_t g[2];
	g[0] = (target & 0xffff) | (uint64_t)sel << 16 | (uint64_t)ist << 32 | (uint64_t)type << 40 |
	       (uint64_t)dpl << 45 | (uint64_t)present << 47 | ((target >> 16) & 0xffff) << 48;
	g[1] = target >> 32;
	memcpy(gm_ptr(&mem, IDT + vec * 16, 16), g, 16);
}

static struct tcg_cpu cpu0(unsigned cpl)
{
	struct tcg_cpu c = { 0 };
	c.rip = 0x4321;
	c.rsp = 0x7ff8;
	c.rflags = 0x202;
	c.cs = (struct tcg_seg){ 0, 0xffffffff, cpl ? 0x00a0fb00 : 0x00a09b00, cpl ? 0x1b : 0x08 };
	c.ss = (struct tcg_seg){ 0, 0xffffffff, cpl ? 0x00c0f300 : 0x00c09300, cpl ? 0x23 : 0x10 };
	c.cpl = cpl;
	c.cr0 = X86_CR0_PE | X86_CR0_PG | X86_CR0_WP;
	c.cr3 = PML4;
	c.cr4 = X86_CR4_PAE;
	c.efer = X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE;
	c.gdt_base = GDT;
	c.gdt_limit = 47;
	c.idt_base = IDT;
	c.idt_limit = 256 * 16 - 1;
	c.tr_base = TSS;
	c.tr_limit = 0x67;
	c.tr_sel = 0x30;
	c.nx = true;
	return c;
}

static uint64_t q(uint64_t gpa)
{
	uint64_t v;
	memcpy(&v, gm_ptr(&mem, gpa, 8), 8);
	return v;
}

TestSuite(tcg_deliver, .init = setup, .fini = teardown);

Test(tcg_deliver, interrupt_gate_same_privilege_pushes_five_and_clears_if)
{
	gate(0x30, HANDLER, 0x08, 0xe, 0, 0, true);
	struct tcg_cpu c = cpu0(0);
	struct tcg_event ev = { 0x30, TCG_EV_EXTINT, false, 0 };
	cr_assert_eq(tcg_deliver(&c, &mem, ev), TCG_DELIVERED);
	cr_assert_eq(c.rip, HANDLER);
	cr_assert_eq(c.rsp, 0x7ff0 - 40); /* aligned to 16, then five slots */
	cr_assert_eq(q(c.rsp), 0x4321);
	cr_assert_eq(q(c.rsp + 8), 0x08);
	cr_assert_eq(q(c.rsp + 16), 0x202);
	cr_assert_eq(q(c.rsp + 24), 0x7ff8);
	cr_assert_eq(q(c.rsp + 32), 0x10);
	cr_assert_eq(c.rflags & X86_RFLAGS_IF, 0);
	cr_assert_eq(c.cs.sel, 0x08);
	cr_assert_eq(c.ss.sel, 0x10, "no privilege change keeps SS");
}

Test(tcg_deliver, trap_gate_keeps_if_and_pushes_error_code)
{
	gate(TCG_GP, HANDLER, 0x08, 0xf, 0, 0, true);
	struct tcg_cpu c = cpu0(0);
	cr_assert_eq(tcg_deliver(&c, &mem, (struct tcg_event){ TCG_GP, TCG_EV_EXCEPTION, true, 0x1234 }),
		     TCG_DELIVERED);
	cr_assert_eq(c.rsp, 0x7ff0 - 48);
	cr_assert_eq(q(c.rsp), 0x1234, "error code on top");
	cr_assert_eq(q(c.rsp + 8), 0x4321);
	cr_assert(c.rflags & X86_RFLAGS_IF);
}

Test(tcg_deliver, user_to_kernel_switches_to_rsp0_and_null_ss)
{
	gate(TCG_PF, HANDLER, 0x08, 0xe, 0, 0, true);
	struct tcg_cpu c = cpu0(3);
	c.rflags = 0x202 | (1 << 8); /* TF is cleared on entry */
	cr_assert_eq(tcg_deliver(&c, &mem, (struct tcg_event){ TCG_PF, TCG_EV_EXCEPTION, true, 6 }),
		     TCG_DELIVERED);
	cr_assert_eq(c.cpl, 0);
	cr_assert_eq(c.rsp, RSP0 - 48);
	cr_assert_eq(q(c.rsp), 6);
	cr_assert_eq(q(c.rsp + 16), 0x1b, "user CS pushed");
	cr_assert_eq(q(c.rsp + 32), 0x7ff8, "user RSP pushed");
	cr_assert_eq(q(c.rsp + 40), 0x23, "user SS pushed");
	cr_assert_eq(c.ss.sel, 0, "NULL SS with RPL 0");
	cr_assert_eq(c.cs.sel, 0x08);
	cr_assert_eq(c.rflags & (1 << 8), 0);
}

Test(tcg_deliver, ist_stack_even_without_privilege_change)
{
	gate(TCG_DF, HANDLER, 0x08, 0xe, 0, 1, true);
	struct tcg_cpu c = cpu0(0);
	cr_assert_eq(tcg_deliver(&c, &mem, (struct tcg_event){ TCG_DF, TCG_EV_EXCEPTION, true, 0 }),
		     TCG_DELIVERED);
	cr_assert_eq(c.rsp, (IST1 & ~0xfULL) - 48);
}

Test(tcg_deliver, not_present_gate_raises_np_with_idt_error_code)
{
	gate(0x31, HANDLER, 0x08, 0xe, 0, 0, false);
	gate(TCG_NP, HANDLER + 0x100, 0x08, 0xe, 0, 0, true);
	struct tcg_cpu c = cpu0(0);
	cr_assert_eq(tcg_deliver(&c, &mem, (struct tcg_event){ 0x31, TCG_EV_EXTINT, false, 0 }),
		     TCG_DELIVERED);
	cr_assert_eq(c.rip, HANDLER + 0x100);
	/* index 0x31, IDT bit, EXT bit: the event came from outside. */
	cr_assert_eq(q(c.rsp), 0x31 * 8 + 2 + 1);
}

Test(tcg_deliver, int_n_through_a_dpl0_gate_from_user_is_gp)
{
	gate(0x80, HANDLER, 0x08, 0xe, 0, 0, true);
	gate(TCG_GP, HANDLER + 0x200, 0x08, 0xe, 0, 0, true);
	struct tcg_cpu c = cpu0(3);
	cr_assert_eq(tcg_deliver(&c, &mem, (struct tcg_event){ 0x80, TCG_EV_SOFTINT, false, 0 }),
		     TCG_DELIVERED);
	cr_assert_eq(c.rip, HANDLER + 0x200);
	cr_assert_eq(q(c.rsp), 0x80 * 8 + 2);
	gate(0x80, HANDLER, 0x08, 0xf, 3, 0, true);
	c = cpu0(3);
	cr_assert_eq(tcg_deliver(&c, &mem, (struct tcg_event){ 0x80, TCG_EV_SOFTINT, false, 0 }),
		     TCG_DELIVERED);
	cr_assert_eq(c.rip, HANDLER, "a DPL-3 gate admits INT n from user mode");
	cr_assert_eq(c.rsp, RSP0 - 40, "software interrupts push no error code");
}

Test(tcg_deliver, bad_gate_type_and_bad_target_segment_are_gp)
{
	gate(0x40, HANDLER, 0x08, 0x6, 0, 0, true); /* a 16-bit gate type */
	gate(0x41, HANDLER, 0x28, 0xe, 0, 0, true); /* 32-bit code segment */
	gate(TCG_GP, HANDLER + 0x200, 0x08, 0xe, 0, 0, true);
	struct tcg_cpu c = cpu0(0);
	tcg_deliver(&c, &mem, (struct tcg_event){ 0x40, TCG_EV_EXCEPTION, false, 0 });
	cr_assert_eq(q(c.rsp), 0x40 * 8 + 2);
	c = cpu0(0);
	tcg_deliver(&c, &mem, (struct tcg_event){ 0x41, TCG_EV_EXCEPTION, false, 0 });
	cr_assert_eq(q(c.rsp), 0x28, "selector error code");
}

Test(tcg_deliver, contributory_during_contributory_is_double_fault)
{
	gate(TCG_GP, HANDLER, 0x08, 0xe, 0, 0, true);
	gate(TCG_NP, HANDLER, 0x08, 0xe, 0, 0, false); /* #NP's own gate is missing */
	gate(TCG_DF, HANDLER + 0x300, 0x08, 0xe, 0, 1, true);
	gate(0x50, HANDLER, 0x08, 0xe, 0, 0, false);
	struct tcg_cpu c = cpu0(0);
	/* 0x50 not present -> #NP (benign first: serial) -> #NP's gate not
	 * present -> #NP again, contributory on contributory -> #DF. */
	cr_assert_eq(tcg_deliver(&c, &mem, (struct tcg_event){ 0x50, TCG_EV_EXCEPTION, false, 0 }),
		     TCG_DELIVERED);
	cr_assert_eq(c.rip, HANDLER + 0x300);
	cr_assert_eq(q(c.rsp), 0, "#DF pushes error code 0");
}

Test(tcg_deliver, page_fault_while_pushing_a_page_fault_is_double_fault)
{
	gate(TCG_PF, HANDLER, 0x08, 0xe, 0, 0, true);
	gate(TCG_DF, HANDLER + 0x300, 0x08, 0xe, 0, 1, true);
	struct tcg_cpu c = cpu0(0);
	c.rsp = 0x40000008; /* stack in unmapped memory */
	cr_assert_eq(tcg_deliver(&c, &mem, (struct tcg_event){ TCG_PF, TCG_EV_EXCEPTION, true, 2 }),
		     TCG_DELIVERED);
	cr_assert_eq(c.rip, HANDLER + 0x300);
	cr_assert_eq(c.cr2, 0x40000000 - 48 + 0, "CR2 names the failed push");
}

Test(tcg_deliver, fault_while_delivering_double_fault_is_triple_fault)
{
	gate(TCG_GP, HANDLER, 0x08, 0xe, 0, 0, false);
	gate(TCG_NP, HANDLER, 0x08, 0xe, 0, 0, false);
	gate(TCG_DF, HANDLER, 0x08, 0xe, 0, 0, false);
	struct tcg_cpu c = cpu0(0), before = c;
	cr_assert_eq(tcg_deliver(&c, &mem, (struct tcg_event){ TCG_GP, TCG_EV_EXCEPTION, true, 0 }),
		     TCG_TRIPLE_FAULT);
	cr_assert_eq(c.rip, before.rip, "state untouched on shutdown");
}

Test(tcg_deliver, idt_limit_and_legacy_mode)
{
	gate(TCG_GP, HANDLER, 0x08, 0xe, 0, 0, true);
	struct tcg_cpu c = cpu0(0);
	c.idt_limit = 16 * 0x20 - 1; /* vectors 0..31 only */
	tcg_deliver(&c, &mem, (struct tcg_event){ 0x21, TCG_EV_EXTINT, false, 0 });
	cr_assert_eq(q(c.rsp), 0x21 * 8 + 2 + 1);
	c = cpu0(0);
	c.efer = 0;
	cr_assert_eq(tcg_deliver(&c, &mem, (struct tcg_event){ 0x21, TCG_EV_EXTINT, false, 0 }),
		     TCG_NOT_LONG_MODE);
}

Test(tcg_deliver, error_code_table)
{
	for (unsigned v = 0; v < 32; v++) {
		bool want = v == 8 || (v >= 10 && v <= 14) || v == 17;
		cr_assert_eq(tcg_exception_has_error((uint8_t)v), want, "vector %u", v);
	}
}

Test(tcg_deliver, syscall_loads_star_lstar_and_masks_rflags)
{
	struct tcg_cpu c = cpu0(3);
	uint64_t rcx = 0, r11 = 0;
	c.rflags = 0x10302 | (1 << 10); /* RF, TF, IF, DF */
	uint64_t star = 0x0023001000000000ULL; /* kernel CS 0x10, user base 0x23 */
	cr_assert(tcg_syscall(&c, star, 0xffffffff81000000ULL, 0x1234, 0x47700, 0x4323, &rcx, &r11));
	cr_assert_eq(rcx, 0x4323);
	cr_assert_eq(r11, 0x302 | (1 << 10), "RF cleared in the saved RFLAGS");
	cr_assert_eq(c.rip, 0xffffffff81000000ULL);
	cr_assert_eq(c.cs.sel, 0x10);
	cr_assert_eq(c.ss.sel, 0x18);
	cr_assert_eq(c.cpl, 0);
	cr_assert_eq(c.rflags & (X86_RFLAGS_IF | (1 << 8) | (1 << 10)), 0, "FMASK applied");
	c.efer = 0;
	cr_assert_not(tcg_syscall(&c, star, 0, 0, 0, 0, &rcx, &r11), "#UD outside IA-32e mode");
}
