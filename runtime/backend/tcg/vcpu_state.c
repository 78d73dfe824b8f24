/* The TCG vCPU's state as the VMM sees it: general and system registers
 * to and from unicorn and QEMU's CPU state (env.h), and linear addresses
 * through the guest's own page tables. Below vcpu.c and hooks.c, which
 * both use it. */
#include "runtime/backend/tcg/tcg.h"

#include <errno.h>
#include <string.h>

#include "runtime/base/gmem.h"
#include "runtime/backend/tcg/mmu.h"
#include "runtime/backend/x86.h"
#include "runtime/backend/tcg/uc.h"


static const int gpr_ids[16] = {
	UC_X86_REG_RAX, UC_X86_REG_RBX, UC_X86_REG_RCX, UC_X86_REG_RDX,
	UC_X86_REG_RSI, UC_X86_REG_RDI, UC_X86_REG_RSP, UC_X86_REG_RBP,
	UC_X86_REG_R8,	UC_X86_REG_R9,	UC_X86_REG_R10, UC_X86_REG_R11,
	UC_X86_REG_R12, UC_X86_REG_R13, UC_X86_REG_R14, UC_X86_REG_R15,
};

int tcg_get_regs(struct backend_vcpu *v, struct x86_regs *regs)
{
	uint64_t *r = &regs->rax; /* x86_regs starts with the 16 GPRs in this order */
	for (int i = 0; i < 16; i++)
		r[i] = tcg_reg(v->uc, gpr_ids[i]);
	regs->rip = tcg_reg(v->uc, UC_X86_REG_RIP);
	regs->rflags = tcg_reg(v->uc, UC_X86_REG_RFLAGS);
	return 0;
}

int tcg_set_regs(struct backend_vcpu *v, const struct x86_regs *regs)
{
	const uint64_t *r = &regs->rax;
	for (int i = 0; i < 16; i++)
		tcg_set_reg(v->uc, gpr_ids[i], r[i]);
	tcg_set_reg(v->uc, UC_X86_REG_RIP, regs->rip);
	tcg_set_reg(v->uc, UC_X86_REG_RFLAGS, regs->rflags | X86_RFLAGS_FIXED);
	return 0;
}

static struct tcg_seg seg_in(const struct x86_segment *s)
{
	bool p = s->present && !s->unusable;
	uint32_t f = (uint32_t)(s->type & 0xf) << 8 | (uint32_t)(s->s & 1) << 12 |
		     (uint32_t)(s->dpl & 3) << 13 | (uint32_t)p << 15 | (uint32_t)(s->avl & 1) << 20 |
		     (uint32_t)(s->l & 1) << 21 | (uint32_t)(s->db & 1) << 22 | (uint32_t)(s->g & 1) << 23;
	return (struct tcg_seg){ s->base, s->limit, f, s->selector };
}

/* Field by field into o, zeroed by the caller: a struct returned by value
 * may carry its padding byte from the stack, and the state goes to a file
 * as is (and must be the same bytes for the same vCPU). */
static void seg_out(const struct tcg_seg *s, struct x86_segment *o)
{
	o->base = s->base;
	o->limit = s->limit;
	o->selector = s->sel;
	o->type = (s->flags >> 8) & 0xf;
	o->s = (s->flags >> 12) & 1;
	o->dpl = (s->flags >> 13) & 3;
	o->present = (s->flags >> 15) & 1;
	o->avl = (s->flags >> 20) & 1;
	o->l = (s->flags >> 21) & 1;
	o->db = (s->flags >> 22) & 1;
	o->g = (s->flags >> 23) & 1;
	o->unusable = !((s->flags >> 15) & 1);
}

static const size_t seg_offs[6] = {
	TCG_ENV_SEGS + TCG_R_CS * TCG_SC_SIZE, TCG_ENV_SEGS + TCG_R_DS * TCG_SC_SIZE,
	TCG_ENV_SEGS + TCG_R_ES * TCG_SC_SIZE, TCG_ENV_SEGS + TCG_R_FS * TCG_SC_SIZE,
	TCG_ENV_SEGS + TCG_R_GS * TCG_SC_SIZE, TCG_ENV_SEGS + TCG_R_SS * TCG_SC_SIZE,
};

int tcg_get_sregs(struct backend_vcpu *v, struct x86_sregs *s)
{
	struct x86_segment *segs[6] = { &s->cs, &s->ds, &s->es, &s->fs, &s->gs, &s->ss };
	struct tcg_seg t;
	memset(s, 0, sizeof(*s));
	tcg_env_save(&v->env);
	for (int i = 0; i < 6; i++) {
		tcg_env_get_seg(&v->env, seg_offs[i], &t);
		seg_out(&t, segs[i]);
	}
	tcg_env_get_seg(&v->env, TCG_ENV_TR, &t);
	seg_out(&t, &s->tr);
	tcg_env_get_seg(&v->env, TCG_ENV_LDT, &t);
	seg_out(&t, &s->ldt);
	s->gdt.base = tcg_env_u64(&v->env, TCG_ENV_GDT + TCG_SC_BASE);
	s->gdt.limit = (uint16_t)tcg_env_u32(&v->env, TCG_ENV_GDT + TCG_SC_LIMIT);
	s->idt.base = tcg_env_u64(&v->env, TCG_ENV_IDT + TCG_SC_BASE);
	s->idt.limit = (uint16_t)tcg_env_u32(&v->env, TCG_ENV_IDT + TCG_SC_LIMIT);
	s->cr0 = tcg_env_u64(&v->env, TCG_ENV_CR);
	s->cr2 = tcg_env_u64(&v->env, TCG_ENV_CR + 16);
	s->cr3 = tcg_env_u64(&v->env, TCG_ENV_CR + 24);
	s->cr4 = tcg_env_u64(&v->env, TCG_ENV_CR + 32);
	s->efer = tcg_env_u64(&v->env, TCG_ENV_EFER);
	s->cr8 = v->cr8;
	s->apic_base = tcg_apic_get_base(v);
	return 0;
}

int tcg_set_sregs(struct backend_vcpu *v, const struct x86_sregs *s)
{
	const struct x86_segment *segs[6] = { &s->cs, &s->ds, &s->es, &s->fs, &s->gs, &s->ss };
	uc_engine *uc = v->uc;

	/* Control registers through the API, in an order that keeps QEMU's
	 * long-mode bookkeeping right: paging off, EFER, CR4, CR3, then CR0
	 * (setting PG with EFER.LME and CR4.PAE activates IA-32e mode). */
	tcg_set_reg(uc, UC_X86_REG_CR0, (s->cr0 & ~X86_CR0_PG) | X86_CR0_ET);
	uc_x86_msr efer = { MSR_EFER, s->efer & ~X86_EFER_LMA };
	uc_reg_write(uc, UC_X86_REG_MSR, &efer);
	tcg_set_reg(uc, UC_X86_REG_CR4, s->cr4);
	tcg_set_reg(uc, UC_X86_REG_CR3, s->cr3);
	tcg_set_reg(uc, UC_X86_REG_CR0, s->cr0 | X86_CR0_ET);
	v->cr8 = s->cr8; /* the TPR is the APIC page's (CR8 is not wired to it) */
	tcg_apic_load_base(v, s->apic_base);

	/* Hidden segment state, descriptor tables and the EFER bits WRMSR
	 * drops, straight into QEMU's state (env.h). */
	tcg_env_save(&v->env);
	for (int i = 0; i < 6; i++) {
		struct tcg_seg t = seg_in(segs[i]);
		tcg_env_set_seg(&v->env, seg_offs[i], &t);
	}
	struct tcg_seg tr = seg_in(&s->tr), ldt = seg_in(&s->ldt);
	tcg_env_set_seg(&v->env, TCG_ENV_TR, &tr);
	tcg_env_set_seg(&v->env, TCG_ENV_LDT, &ldt);
	tcg_env_set_u64(&v->env, TCG_ENV_GDT + TCG_SC_BASE, s->gdt.base);
	tcg_env_set_u32(&v->env, TCG_ENV_GDT + TCG_SC_LIMIT, s->gdt.limit);
	tcg_env_set_u64(&v->env, TCG_ENV_IDT + TCG_SC_BASE, s->idt.base);
	tcg_env_set_u32(&v->env, TCG_ENV_IDT + TCG_SC_LIMIT, s->idt.limit);
	tcg_env_set_u64(&v->env, TCG_ENV_CR + 16, s->cr2);
	uint64_t lma = tcg_env_u64(&v->env, TCG_ENV_EFER) & X86_EFER_LMA;
	tcg_env_set_u64(&v->env, TCG_ENV_EFER, (s->efer & ~X86_EFER_LMA) | lma);
	tcg_env_sync_hflags(&v->env);
	tcg_env_restore(&v->env);
	return 0;
}

int tcg_translate(struct backend_vcpu *v, uint64_t gva, uint64_t *gpa)
{
	uc_x86_msr efer = { MSR_EFER, 0 };
	uc_reg_read(v->uc, UC_X86_REG_MSR, &efer);
	struct tcg_paging pg = { tcg_reg(v->uc, UC_X86_REG_CR0), tcg_reg(v->uc, UC_X86_REG_CR3),
				 tcg_reg(v->uc, UC_X86_REG_CR4), efer.value, v->q.nx, NULL };
	struct tcg_walk w;
	uint32_t err;
	if (tcg_mmu_walk(v->vm->mem, &pg, gva, TCG_ACC_READ, false, false, &w, &err))
		return -EFAULT;
	*gpa = w.gpa;
	return 0;
}

int tcg_fetch_byte(struct backend_vcpu *v, uint64_t la)
{
	uint64_t gpa;
	if (tcg_translate(v, la, &gpa))
		return -1;
	const uint8_t *p = gm_ptr(v->vm->mem, gpa, 1);
	return p ? *p : -1;
}

void tcg_init_state(struct backend_vcpu *v, struct x86_regs *r, struct x86_sregs *s)
{
	/* The state INIT leaves (SDM Vol. 3A Table 9-1): real mode, CS:IP at
	 * the reset vector. */
	struct x86_segment code = { .base = 0xffff0000, .limit = 0xffff, .selector = 0xf000,
				    .type = 0xb, .present = 1, .s = 1 };
	struct x86_segment data = { .limit = 0xffff, .type = 3, .present = 1, .s = 1 };
	*s = (struct x86_sregs){ .cs = code, .ds = data, .es = data, .fs = data, .gs = data,
				 .ss = data };
	s->tr = (struct x86_segment){ .limit = 0xffff, .type = 0xb, .present = 1 };
	s->ldt = (struct x86_segment){ .limit = 0xffff, .type = 2, .present = 1 };
	s->gdt.limit = s->idt.limit = 0xffff;
	s->cr0 = X86_CR0_ET;
	s->apic_base = tcg_apic_get_base(v);
	*r = (struct x86_regs){ .rflags = X86_RFLAGS_FIXED, .rip = 0xfff0 };
}

void tcg_vcpu_startup(struct backend_vcpu *v, uint8_t vector)
{
	/* INIT's state, then CS:IP from the startup vector: real mode at
	 * vector << 12. */
	struct x86_sregs s;
	struct x86_regs r;
	tcg_init_state(v, &r, &s);
	s.cs.base = (uint64_t)vector << 12;
	s.cs.selector = (uint16_t)(vector << 8);
	r.rip = 0;
	tcg_set_sregs(v, &s);
	tcg_set_regs(v, &r);
	/* EFER exactly (set_sregs keeps the engine's LMA for the boot path). */
	tcg_env_save(&v->env);
	tcg_env_set_u64(&v->env, TCG_ENV_EFER, 0);
	tcg_env_sync_hflags(&v->env);
	tcg_env_restore(&v->env);
}
