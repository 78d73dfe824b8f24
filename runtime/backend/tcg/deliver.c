/* IA-32e exception and interrupt delivery (Intel SDM Vol. 3A §6.14) and
 * the nested-fault rules (§6.15, Table 6-5). */
#include "runtime/backend/tcg/deliver.h"

#include <string.h>

#include "runtime/backend/tcg/mmu.h"
#include "runtime/backend/x86.h"

#define RFLAGS_TF (1ULL << 8)
#define RFLAGS_IF (1ULL << 9)
#define RFLAGS_NT (1ULL << 14)
#define RFLAGS_RF (1ULL << 16)
#define RFLAGS_VM (1ULL << 17)

#define GATE_INT64 0xe
#define GATE_TRAP64 0xf

bool tcg_exception_has_error(uint8_t v)
{
	return v == TCG_DF || v == TCG_TS || v == TCG_NP || v == TCG_SS || v == TCG_GP ||
	       v == TCG_PF || v == TCG_AC;
}

enum fault_class { CLASS_BENIGN, CLASS_CONTRIBUTORY, CLASS_PAGE_FAULT, CLASS_DOUBLE_FAULT };

/* Table 6-4. External and software interrupts count as benign. */
static enum fault_class fault_class(struct tcg_event ev)
{
	if (ev.kind != TCG_EV_EXCEPTION)
		return CLASS_BENIGN;
	switch (ev.vector) {
	case TCG_DE: case TCG_TS: case TCG_NP: case TCG_SS: case TCG_GP:
		return CLASS_CONTRIBUTORY;
	case TCG_PF:
		return CLASS_PAGE_FAULT;
	case TCG_DF:
		return CLASS_DOUBLE_FAULT;
	default:
		return CLASS_BENIGN;
	}
}

static struct tcg_event fault(uint8_t vector, uint32_t error)
{
	return (struct tcg_event){ vector, TCG_EV_EXCEPTION, tcg_exception_has_error(vector), error };
}

static struct tcg_paging paging(const struct tcg_cpu *cpu)
{
	return (struct tcg_paging){ cpu->cr0, cpu->cr3, cpu->cr4, cpu->efer, cpu->nx, cpu->dirty };
}

/* A system-table read or stack write that faulted becomes #PF (with CR2)
 * or, for a non-canonical address, gp_vec (#GP, or #SS for the stack). */
static struct tcg_event mem_fault(struct tcg_cpu *cpu, int r, uint32_t pf_err, uint64_t la,
				  uint8_t gp_vec)
{
	if (r == TCG_WALK_PF) {
		cpu->cr2 = la;
		return fault(TCG_PF, pf_err);
	}
	return fault(gp_vec, 0);
}

/* Reads the 8-byte descriptor for sel from the GDT or LDT. */
static bool read_desc(struct tcg_cpu *cpu, const struct guest_mem *mem, uint16_t sel,
		      uint32_t ext, uint64_t *desc, struct tcg_event *f)
{
	bool ldt = sel & 4;
	uint64_t base = ldt ? cpu->ldt_base : cpu->gdt_base;
	uint32_t limit = ldt ? cpu->ldt_limit : cpu->gdt_limit;
	uint32_t off = sel & ~7u;
	struct tcg_paging pg = paging(cpu);
	uint32_t pf_err;
	uint64_t la;

	if ((uint64_t)off + 7 > limit) {
		*f = fault(TCG_GP, (sel & 0xfffc) | ext);
		return false;
	}
	int r = tcg_lin_read(mem, &pg, base + off, desc, 8, false, &pf_err, &la);
	if (r) {
		*f = r < 0 ? fault(TCG_GP, (sel & 0xfffc) | ext) : mem_fault(cpu, r, pf_err, la, TCG_GP);
		return false;
	}
	return true;
}

static bool canonical(uint64_t a)
{
	int64_t top = (int64_t)a >> 47;
	return top == 0 || top == -1;
}

/* One delivery attempt (§6.14.1, §6.14.2, §6.14.4, §6.14.5). Returns true
 * and updates cpu, or false with the fault it raised in *f. */
static bool deliver_once(struct tcg_cpu *cpu, const struct guest_mem *mem, struct tcg_event ev,
			 struct tcg_event *f)
{
	struct tcg_paging pg = paging(cpu);
	struct tcg_cpu n = *cpu;
	uint32_t ext = ev.kind == TCG_EV_EXTINT ? 1 : 0;
	uint32_t idt_err = ev.vector * 8u + 2 + ext;
	uint64_t gate[2], desc, la;
	uint32_t pf_err;
	int r;

	/* Gate lookup: 16-byte entries, limit-checked (§6.14.1). */
	if ((uint64_t)ev.vector * 16 + 15 > cpu->idt_limit)
		return *f = fault(TCG_GP, idt_err), false;
	r = tcg_lin_read(mem, &pg, cpu->idt_base + ev.vector * 16ULL, gate, 16, false, &pf_err, &la);
	if (r) {
		*f = r < 0 ? fault(TCG_GP, idt_err) : mem_fault(&n, r, pf_err, la, TCG_GP);
		cpu->cr2 = n.cr2;
		return false;
	}
	unsigned type = (gate[0] >> 40) & 0xf;
	unsigned gate_dpl = (gate[0] >> 45) & 3;
	unsigned ist = (gate[0] >> 32) & 7;
	uint16_t sel = (gate[0] >> 16) & 0xffff;
	uint64_t target = (gate[0] & 0xffff) | ((gate[0] >> 32) & 0xffff0000ULL) |
			  ((gate[1] & 0xffffffffULL) << 32);

	if (type != GATE_INT64 && type != GATE_TRAP64)
		return *f = fault(TCG_GP, idt_err), false;
	/* Software interrupts may only use gates their CPL can reach. */
	if (ev.kind == TCG_EV_SOFTINT && gate_dpl < cpu->cpl)
		return *f = fault(TCG_GP, ev.vector * 8u + 2), false;
	if (!((gate[0] >> 47) & 1))
		return *f = fault(TCG_NP, idt_err), false;

	/* The target code segment: a present 64-bit code descriptor with
	 * DPL <= CPL (§6.12.1.1). */
	if ((sel & 0xfffc) == 0)
		return *f = fault(TCG_GP, ext), false;
	if (!read_desc(&n, mem, sel, ext, &desc, f)) {
		cpu->cr2 = n.cr2;
		return false;
	}
	uint32_t dflags = (uint32_t)(desc >> 32) & 0x00f0ff00u;
	unsigned dpl = TCG_SEG_DPL(dflags);
	bool code = (dflags & TCG_SEG_S) && (TCG_SEG_TYPE(dflags) & 8);
	if (!code || !(dflags & TCG_SEG_L) || (dflags & TCG_SEG_DB) || dpl > cpu->cpl)
		return *f = fault(TCG_GP, (sel & 0xfffc) | ext), false;
	if (!(dflags & TCG_SEG_P))
		return *f = fault(TCG_NP, (sel & 0xfffc) | ext), false;
	bool conforming = TCG_SEG_TYPE(dflags) & 4;
	unsigned new_cpl = conforming ? cpu->cpl : dpl;

	/* Stack: RSPn from the TSS on a privilege change, ISTn always when
	 * the gate names one; aligned to 16 bytes (§6.14.2, §6.14.5). */
	uint64_t rsp = cpu->rsp;
	if (new_cpl < cpu->cpl || ist) {
		uint32_t off = ist ? 0x24 + 8 * (ist - 1) : 4 + 8 * new_cpl;
		if ((uint64_t)off + 7 > cpu->tr_limit)
			return *f = fault(TCG_TS, (cpu->tr_sel & 0xfffc) | ext), false;
		r = tcg_lin_read(mem, &pg, cpu->tr_base + off, &rsp, 8, false, &pf_err, &la);
		if (r) {
			*f = r < 0 ? fault(TCG_TS, (cpu->tr_sel & 0xfffc) | ext)
				   : mem_fault(&n, r, pf_err, la, TCG_TS);
			cpu->cr2 = n.cr2;
			return false;
		}
	}
	rsp &= ~0xfULL;

	/* The frame: SS, RSP, RFLAGS, CS, RIP and maybe the error code. */
	uint64_t frame[6];
	unsigned nr = 0;
	bool push_err = ev.kind == TCG_EV_EXCEPTION && ev.has_error;
	if (push_err)
		frame[nr++] = ev.error;
	frame[nr++] = cpu->rip;
	frame[nr++] = cpu->cs.sel;
	frame[nr++] = cpu->rflags;
	frame[nr++] = cpu->rsp;
	frame[nr++] = cpu->ss.sel;
	uint64_t new_rsp = rsp - nr * 8ULL;
	if (!canonical(new_rsp) || !canonical(rsp - 1))
		return *f = fault(TCG_SS, ext), false;
	r = tcg_lin_write(mem, &pg, new_rsp, frame, nr * 8ULL, new_cpl == 3, &pf_err, &la);
	if (r) {
		*f = r < 0 ? fault(TCG_SS, ext) : mem_fault(&n, r, pf_err, la, TCG_SS);
		cpu->cr2 = n.cr2;
		return false;
	}
	if (!canonical(target))
		return *f = fault(TCG_GP, 0), false;

	n.rsp = new_rsp;
	n.rip = target;
	n.cs = (struct tcg_seg){ .base = 0, .limit = 0xffffffffu, .flags = dflags,
				 .sel = (uint16_t)((sel & 0xfffc) | new_cpl) };
	if (new_cpl != cpu->cpl) {
		/* A privilege change loads a NULL SS with RPL = new CPL
		 * (§6.14.4); its hidden DPL carries the CPL, as in QEMU. */
		n.ss = (struct tcg_seg){ .base = 0, .limit = 0, .flags = new_cpl << 13,
					 .sel = (uint16_t)new_cpl };
	}
	n.cpl = new_cpl;
	/* §6.12.1.3: TF, NT, RF and VM clear; an interrupt gate clears IF. */
	n.rflags &= ~(RFLAGS_TF | RFLAGS_NT | RFLAGS_RF | RFLAGS_VM);
	if (type == GATE_INT64)
		n.rflags &= ~RFLAGS_IF;
	n.rflags |= X86_RFLAGS_FIXED;
	*cpu = n;
	return true;
}

enum tcg_deliver_result tcg_deliver(struct tcg_cpu *cpu, const struct guest_mem *mem,
				    struct tcg_event ev)
{
	if (!(cpu->efer & X86_EFER_LMA) || !(cpu->cr0 & X86_CR0_PE))
		return TCG_NOT_LONG_MODE;

	struct tcg_cpu orig = *cpu;
	struct tcg_event cur = ev;
	/* At most: the event, a #DF, then shutdown. A benign event followed
	 * by a benign fault is handled serially, so allow a few more. */
	for (int tries = 0; tries < 4; tries++) {
		struct tcg_cpu c = *cpu;
		struct tcg_event f;
		if (deliver_once(&c, mem, cur, &f)) {
			*cpu = c;
			return TCG_DELIVERED;
		}
		cpu->cr2 = c.cr2; /* a #PF raised by the delivery updates CR2 */
		enum fault_class first = fault_class(cur), second = fault_class(f);
		if (first == CLASS_DOUBLE_FAULT)
			break;
		if ((first == CLASS_CONTRIBUTORY && second == CLASS_CONTRIBUTORY) ||
		    (first == CLASS_PAGE_FAULT &&
		     (second == CLASS_CONTRIBUTORY || second == CLASS_PAGE_FAULT)))
			cur = fault(TCG_DF, 0);
		else
			cur = f; /* handled serially (Table 6-5) */
	}
	*cpu = orig;
	return TCG_TRIPLE_FAULT;
}

bool tcg_syscall(struct tcg_cpu *cpu, uint64_t star, uint64_t lstar, uint64_t cstar,
		 uint64_t fmask, uint64_t next_rip, uint64_t *rcx, uint64_t *r11)
{
	if (!(cpu->efer & X86_EFER_LMA))
		return false;
	uint16_t sel = (star >> 32) & 0xffff;
	bool compat = !(cpu->cs.flags & TCG_SEG_L);

	*rcx = next_rip;
	*r11 = cpu->rflags & ~RFLAGS_RF;
	/* Flat 64-bit code (type 0xb) and data (type 3), DPL 0. */
	cpu->cs = (struct tcg_seg){ 0, 0xffffffffu, TCG_SEG_G | TCG_SEG_L | TCG_SEG_P | TCG_SEG_S | 0xb00,
				    (uint16_t)(sel & 0xfffc) };
	cpu->ss = (struct tcg_seg){ 0, 0xffffffffu, TCG_SEG_G | TCG_SEG_DB | TCG_SEG_P | TCG_SEG_S | 0x300,
				    (uint16_t)((sel + 8) & 0xfffc) };
	cpu->cpl = 0;
	cpu->rflags = (cpu->rflags & ~(fmask | RFLAGS_RF)) | X86_RFLAGS_FIXED;
	cpu->rip = compat ? cstar : lstar;
	return true;
}
