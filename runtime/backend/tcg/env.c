/* Patching unicorn's saved CPU state; see env.h for why. */
#include "runtime/backend/tcg/env.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <unicorn/x86.h>

#include "runtime/backend/x86.h"
#include "runtime/backend/tcg/uc.h"

#define MSR_FS_BASE 0xc0000100u
#define DR6_INIT 0xffff0ff0ULL
#define DR7_INIT 0x400ULL

static const int gpr_ids[16] = {
	UC_X86_REG_RAX, UC_X86_REG_RCX, UC_X86_REG_RDX, UC_X86_REG_RBX,
	UC_X86_REG_RSP, UC_X86_REG_RBP, UC_X86_REG_RSI, UC_X86_REG_RDI,
	UC_X86_REG_R8,	UC_X86_REG_R9,	UC_X86_REG_R10, UC_X86_REG_R11,
	UC_X86_REG_R12, UC_X86_REG_R13, UC_X86_REG_R14, UC_X86_REG_R15,
};

uint64_t tcg_env_u64(const struct tcg_env *e, size_t off)
{
	uint64_t v;
	memcpy(&v, e->d + off, 8);
	return v;
}

uint32_t tcg_env_u32(const struct tcg_env *e, size_t off)
{
	uint32_t v;
	memcpy(&v, e->d + off, 4);
	return v;
}

void tcg_env_set_u64(struct tcg_env *e, size_t off, uint64_t v)
{
	memcpy(e->d + off, &v, 8);
}

void tcg_env_set_u32(struct tcg_env *e, size_t off, uint32_t v)
{
	memcpy(e->d + off, &v, 4);
}

void tcg_env_save(struct tcg_env *e)
{
	uc_context_save(e->uc, e->ctx);
}

void tcg_env_restore(struct tcg_env *e)
{
	uc_context_restore(e->uc, e->ctx);
}

static int fail(char *why, size_t why_len, const char *what)
{
	snprintf(why, why_len, "unicorn's CPU state layout is not the QEMU 5 one this backend "
		 "knows (%s); unicorn 2.0.x is required", what);
	return -ENOTSUP;
}

int tcg_env_calibrate(struct tcg_env *e, uc_engine *uc, char *why, size_t why_len)
{
	memset(e, 0, sizeof(*e));
	e->uc = uc;
	size_t size = uc_context_size(uc);
	if (size < TCG_ENV_END || uc_context_alloc(uc, &e->ctx) != UC_ERR_OK)
		return fail(why, why_len, "context too small");

	/* Distinct values everywhere we will read or write. */
	for (int i = 0; i < 16; i++) {
		uint64_t v = 0x5eed000000000000ULL | (uint64_t)i << 8 | 0x11;
		uc_reg_write(uc, gpr_ids[i], &v);
	}
	for (int i = 0; i < 8; i++) {
		uint64_t v = 0xd0d0000000000000ULL | (uint64_t)i;
		uc_reg_write(uc, UC_X86_REG_DR0 + i, &v);
	}
	uint64_t rip = 0x123456789aULL;
	uc_reg_write(uc, UC_X86_REG_RIP, &rip);
	uc_x86_msr fs = { MSR_FS_BASE, 0xf5f5f5f5f5ULL };
	uc_reg_write(uc, UC_X86_REG_MSR, &fs);
	tcg_env_save(e);

	/* The registers lead CPUX86State: find them after the context header. */
	const uint8_t *raw = (const uint8_t *)e->ctx;
	int rc = -ENOTSUP;
	for (size_t off = 0; off <= 64 && off + TCG_ENV_END <= size; off += 8) {
		uint64_t v0, v15;
		memcpy(&v0, raw + off, 8);
		memcpy(&v15, raw + off + 15 * 8, 8);
		if (v0 == (0x5eed000000000000ULL | 0x11) && v15 == (0x5eed000000000000ULL | 15 << 8 | 0x11)) {
			e->data_off = off;
			rc = 0;
			break;
		}
	}
	if (rc)
		return fail(why, why_len, "registers not found");
	e->d = (uint8_t *)e->ctx + e->data_off;

	uc_x86_msr efer = { MSR_EFER, 0 };
	uc_reg_read(uc, UC_X86_REG_MSR, &efer);
	const char *bad = NULL;
	if (tcg_env_u64(e, TCG_ENV_EIP) != rip)
		bad = "eip";
	else if (tcg_env_u64(e, TCG_ENV_SEGS + TCG_R_FS * TCG_SC_SIZE + TCG_SC_BASE) != fs.value)
		bad = "segment cache";
	else if (tcg_env_u64(e, TCG_ENV_CR) != tcg_reg(uc, UC_X86_REG_CR0) ||
		 tcg_env_u64(e, TCG_ENV_CR + 32) != tcg_reg(uc, UC_X86_REG_CR4))
		bad = "control registers";
	else if (tcg_env_u64(e, TCG_ENV_EFER) != efer.value)
		bad = "efer";
	else if ((tcg_env_u32(e, TCG_ENV_HFLAGS) & (TCG_HF_LMA | TCG_HF_CS64)) != (TCG_HF_LMA | TCG_HF_CS64))
		bad = "hflags";
	else if (tcg_env_u64(e, TCG_ENV_DR) != 0xd0d0000000000000ULL ||
		 tcg_env_u64(e, TCG_ENV_DR + 56) != 0xd0d0000000000007ULL)
		bad = "debug registers";
	if (bad) {
		tcg_env_free(e);
		return fail(why, why_len, bad);
	}

	/* Back to a clean reset state. */
	uint64_t zero = 0, dr6 = DR6_INIT, dr7 = DR7_INIT;
	for (int i = 0; i < 16; i++)
		uc_reg_write(uc, gpr_ids[i], &zero);
	for (int i = 0; i < 6; i++)
		uc_reg_write(uc, UC_X86_REG_DR0 + i, &zero);
	uc_reg_write(uc, UC_X86_REG_DR6, &dr6);
	uc_reg_write(uc, UC_X86_REG_DR7, &dr7);
	fs.value = 0;
	uc_reg_write(uc, UC_X86_REG_MSR, &fs);
	return 0;
}

void tcg_env_free(struct tcg_env *e)
{
	if (e->ctx)
		uc_context_free(e->ctx);
	e->ctx = NULL;
	e->d = NULL;
}

void tcg_env_get_seg(const struct tcg_env *e, size_t off, struct tcg_seg *s)
{
	s->sel = (uint16_t)tcg_env_u32(e, off + TCG_SC_SEL);
	s->base = tcg_env_u64(e, off + TCG_SC_BASE);
	s->limit = tcg_env_u32(e, off + TCG_SC_LIMIT);
	s->flags = tcg_env_u32(e, off + TCG_SC_FLAGS);
}

void tcg_env_set_seg(struct tcg_env *e, size_t off, const struct tcg_seg *s)
{
	tcg_env_set_u32(e, off + TCG_SC_SEL, s->sel);
	tcg_env_set_u64(e, off + TCG_SC_BASE, s->base);
	tcg_env_set_u32(e, off + TCG_SC_LIMIT, s->limit);
	tcg_env_set_u32(e, off + TCG_SC_FLAGS, s->flags);
}

static size_t seg_off(int r)
{
	return TCG_ENV_SEGS + (size_t)r * TCG_SC_SIZE;
}

void tcg_env_sync_hflags(struct tcg_env *e)
{
	struct tcg_seg cs, ss, ds, es;
	tcg_env_get_seg(e, seg_off(TCG_R_CS), &cs);
	tcg_env_get_seg(e, seg_off(TCG_R_SS), &ss);
	tcg_env_get_seg(e, seg_off(TCG_R_DS), &ds);
	tcg_env_get_seg(e, seg_off(TCG_R_ES), &es);
	uint32_t hf = tcg_env_u32(e, TCG_ENV_HFLAGS);
	uint64_t cr0 = tcg_env_u64(e, TCG_ENV_CR);
	uint64_t cr4 = tcg_env_u64(e, TCG_ENV_CR + 32);
	uint64_t efer = tcg_env_u64(e, TCG_ENV_EFER);
	uint64_t eflags = tcg_env_u64(e, TCG_ENV_EFLAGS);

	hf &= ~(TCG_HF_PE | TCG_HF_MP | TCG_HF_EM | TCG_HF_TS | TCG_HF_OSFXSR | TCG_HF_LMA);
	if (cr0 & X86_CR0_PE)
		hf |= TCG_HF_PE;
	hf |= (uint32_t)(cr0 << 8) & (TCG_HF_MP | TCG_HF_EM | TCG_HF_TS);
	if (cr4 & X86_CR4_OSFXSR)
		hf |= TCG_HF_OSFXSR;
	if (efer & X86_EFER_LMA)
		hf |= TCG_HF_LMA;
	hf = (hf & ~TCG_HF_CPL) | TCG_SEG_DPL(ss.flags);
	hf &= ~(TCG_HF_CS32 | TCG_HF_SS32 | TCG_HF_CS64 | TCG_HF_ADDSEG);
	if ((hf & TCG_HF_LMA) && (cs.flags & TCG_SEG_L)) {
		hf |= TCG_HF_CS32 | TCG_HF_SS32 | TCG_HF_CS64;
	} else {
		if (cs.flags & TCG_SEG_DB)
			hf |= TCG_HF_CS32;
		if (ss.flags & TCG_SEG_DB)
			hf |= TCG_HF_SS32;
		/* Non-zero DS/ES/SS bases must be added to every address. */
		if (!(cr0 & 1) || (eflags & (1u << 17)) || !(hf & TCG_HF_CS32) ||
		    (ds.base | es.base | ss.base))
			hf |= TCG_HF_ADDSEG;
	}
	tcg_env_set_u32(e, TCG_ENV_HFLAGS, hf);
}

void tcg_env_to_cpu(const struct tcg_env *e, struct tcg_cpu *cpu)
{
	struct tcg_seg tr, ldt;
	memset(cpu, 0, sizeof(*cpu));
	cpu->rip = tcg_env_u64(e, TCG_ENV_EIP);
	cpu->rsp = tcg_env_u64(e, TCG_ENV_REGS + 4 * 8);
	cpu->rflags = tcg_reg(e->uc, UC_X86_REG_RFLAGS);
	tcg_env_get_seg(e, seg_off(TCG_R_CS), &cpu->cs);
	tcg_env_get_seg(e, seg_off(TCG_R_SS), &cpu->ss);
	cpu->cpl = tcg_env_u32(e, TCG_ENV_HFLAGS) & TCG_HF_CPL;
	cpu->cr0 = tcg_env_u64(e, TCG_ENV_CR);
	cpu->cr2 = tcg_env_u64(e, TCG_ENV_CR + 16);
	cpu->cr3 = tcg_env_u64(e, TCG_ENV_CR + 24);
	cpu->cr4 = tcg_env_u64(e, TCG_ENV_CR + 32);
	cpu->efer = tcg_env_u64(e, TCG_ENV_EFER);
	cpu->gdt_base = tcg_env_u64(e, TCG_ENV_GDT + TCG_SC_BASE);
	cpu->gdt_limit = tcg_env_u32(e, TCG_ENV_GDT + TCG_SC_LIMIT);
	cpu->idt_base = tcg_env_u64(e, TCG_ENV_IDT + TCG_SC_BASE);
	cpu->idt_limit = tcg_env_u32(e, TCG_ENV_IDT + TCG_SC_LIMIT);
	tcg_env_get_seg(e, TCG_ENV_TR, &tr);
	tcg_env_get_seg(e, TCG_ENV_LDT, &ldt);
	cpu->tr_base = tr.base;
	cpu->tr_limit = tr.limit;
	cpu->tr_sel = tr.sel;
	cpu->ldt_base = ldt.base;
	cpu->ldt_limit = ldt.limit;
}

void tcg_env_from_cpu(struct tcg_env *e, const struct tcg_cpu *cpu)
{
	tcg_env_set_u64(e, TCG_ENV_EIP, cpu->rip);
	tcg_env_set_u64(e, TCG_ENV_REGS + 4 * 8, cpu->rsp);
	tcg_env_set_seg(e, seg_off(TCG_R_CS), &cpu->cs);
	tcg_env_set_seg(e, seg_off(TCG_R_SS), &cpu->ss);
	tcg_env_set_u64(e, TCG_ENV_CR + 16, cpu->cr2);
	tcg_env_set_u64(e, TCG_ENV_EFER, cpu->efer);
	tcg_env_sync_hflags(e);
	/* The delivery is complete: nothing is "in flight" for QEMU's
	 * double-fault check any more (QEMU's x86_cpu_do_interrupt does this). */
	tcg_env_set_u32(e, TCG_ENV_OLD_EXCEPTION, (uint32_t)-1);
	/* No interrupt shadow survives a delivery. */
	tcg_env_set_u32(e, TCG_ENV_HFLAGS, tcg_env_u32(e, TCG_ENV_HFLAGS) & ~TCG_HF_INHIBIT_IRQ);
}
