/* The MSRs of the TCG vCPU in a snapshot: every MSR that unicorn 2.0's
 * RDMSR/WRMSR (QEMU 5's helper_rdmsr/helper_wrmsr in misc_helper.c)
 * keep a value for, read and written through UC_X86_REG_MSR. Not here:
 *  - read-only constants of the CPU model (MCG_CAP, MTRRcap, UCODE_REV,
 *    PERF_STATUS, SMI_COUNT): nothing to restore;
 *  - APIC_BASE: our local APIC's (lapic.c, reached through the replaced
 *    RDMSR/WRMSR helpers, qemu/qemu.h); the neutral state carries it in
 *    sregs.apic_base, as KVM's does;
 *  - MSRs QEMU ignores (RDMSR 0, WRMSR dropped: no #GP on this CPU), e.g.
 *    SPEC_CTRL, TSC_ADJUST, the kvmclock and performance-counter MSRs. */
#include "runtime/backend/tcg/state.h"
#include "runtime/backend/tcg/uc.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include <unicorn/x86.h>

enum msr_kind {
	MSR_PLAIN, /* a value QEMU stores and returns */
	MSR_TSC,   /* the guest's TSC: host TSC + QEMU's tsc_offset (env.h) */
	MSR_SREGS, /* carried by the segment registers: accepted if equal */
	MSR_DEADLINE, /* IA32_TSC_DEADLINE: the local APIC's (lapic.c) */
};

enum msr_check {
	ANY,        /* QEMU stores every value */
	LOW16,      /* SYSENTER_CS: QEMU keeps bits 15:0 */
	ALL_OR_NONE, /* MCG_CTL, MCi_CTL: QEMU ignores writes other than 0 and ~0 */
};

struct msr_range {
	uint32_t first;
	uint8_t count, stride; /* first, first + stride, ... */
	uint8_t kind, check;
};

/* In the order a snapshot lists them. */
static const struct msr_range msr_table[] = {
	/* Guest time: a snapshot keeps the guest's TSC running on from where
	 * it stopped (RDMSR of it reads 0 on unicorn; RDTSC is what counts). */
	{ TCG_MSR_TSC, 1, 1, MSR_TSC, ANY },
	/* The armed TSC deadline (0: none), in the guest's TSC, as KVM
	 * saves it: after the TSC, which it is restored against. */
	{ TCG_MSR_TSC_DEADLINE, 1, 1, MSR_DEADLINE, ANY },
	/* SYSENTER target: CS, ESP, EIP (32-bit system calls; the CPU is AMD,
	 * where SYSENTER is #UD in long mode, but the MSRs hold what is written). */
	{ 0x174, 1, 1, MSR_PLAIN, LOW16 },
	{ 0x175, 2, 1, MSR_PLAIN, ANY },
	/* Machine check global control and status; MC0-9 banks below. */
	{ 0x17a, 1, 1, MSR_PLAIN, ANY },
	{ 0x17b, 1, 1, MSR_PLAIN, ALL_OR_NONE },
	/* Linux writes MISC_ENABLE on Intel-looking CPUs; kept as written. */
	{ 0x1a0, 1, 1, MSR_PLAIN, ANY },
	/* MTRRs: CPUID offers none, but WRMSR stores them (variable
	 * base/mask pairs, fixed ranges, default type). */
	{ 0x200, 16, 1, MSR_PLAIN, ANY },
	{ 0x250, 1, 1, MSR_PLAIN, ANY },
	{ 0x258, 2, 1, MSR_PLAIN, ANY },
	{ 0x268, 8, 1, MSR_PLAIN, ANY },
	/* Page attribute table: the guest's memory types (Linux sets it). */
	{ 0x277, 1, 1, MSR_PLAIN, ANY },
	{ 0x2ff, 1, 1, MSR_PLAIN, ANY },
	/* MPX bounds configuration (no MPX in CPUID; stored by WRMSR). */
	{ 0xd90, 1, 1, MSR_PLAIN, ANY },
	/* MCi_CTL (all or none), MCi_STATUS/ADDR/MISC for the 10 banks
	 * MCG_CAP reports. */
	{ 0x400, 10, 4, MSR_PLAIN, ALL_OR_NONE },
	{ 0x401, 10, 4, MSR_PLAIN, ANY },
	{ 0x402, 10, 4, MSR_PLAIN, ANY },
	{ 0x403, 10, 4, MSR_PLAIN, ANY },
	/* EFER lives in sregs.efer (with the bits WRMSR drops, env.h). */
	{ 0xc0000080, 1, 1, MSR_SREGS, ANY },
	/* SYSCALL: STAR, LSTAR, CSTAR (compatibility-mode target), SFMASK. */
	{ 0xc0000081, 4, 1, MSR_PLAIN, ANY },
	/* FS and GS base live in the segments' hidden parts. */
	{ 0xc0000100, 2, 1, MSR_SREGS, ANY },
	/* SWAPGS's other half: the kernel's per-CPU base while in user mode. */
	{ 0xc0000102, 1, 1, MSR_PLAIN, ANY },
	/* RDTSCP's ECX (CPUID offers no RDTSCP, but WRMSR stores it). */
	{ 0xc0000103, 1, 1, MSR_PLAIN, ANY },
	/* SVM host save area (no SVM in CPUID; stored by WRMSR). */
	{ 0xc0010117, 1, 1, MSR_PLAIN, ANY },
};

#define TABLE_LEN (sizeof(msr_table) / sizeof(msr_table[0]))
#define MSR_FS_BASE 0xc0000100u
#define MSR_GS_BASE 0xc0000101u

/* The range and position of index in the table's expansion, or NULL. */
static const struct msr_range *lookup(uint32_t index, unsigned *pos)
{
	unsigned n = 0;
	for (size_t i = 0; i < TABLE_LEN; i++) {
		const struct msr_range *r = &msr_table[i];
		uint32_t off = index - r->first;
		if (index >= r->first && off % r->stride == 0 && off / r->stride < r->count) {
			*pos = n + off / r->stride;
			return r;
		}
		n += r->count;
	}
	return NULL;
}

static uint64_t rdmsr(uc_engine *uc, uint32_t index)
{
	uc_x86_msr m = { index, 0 };
	uc_reg_read(uc, UC_X86_REG_MSR, &m);
	return m.value;
}

uint32_t tcg_msrs_save(uc_engine *uc, uint64_t guest_tsc, uint64_t tsc_deadline,
		       struct x86_msr *out, uint32_t max)
{
	uint32_t n = 0;
	for (size_t i = 0; i < TABLE_LEN; i++) {
		const struct msr_range *r = &msr_table[i];
		if (r->kind == MSR_SREGS)
			continue;
		for (unsigned k = 0; k < r->count && n < max; k++) {
			uint32_t index = r->first + k * r->stride;
			uint64_t val = r->kind == MSR_TSC	 ? guest_tsc
				     : r->kind == MSR_DEADLINE ? tsc_deadline
							       : rdmsr(uc, index);
			out[n++] = (struct x86_msr){ index, 0, val };
		}
	}
	return n;
}

static bool value_ok(const struct msr_range *r, const struct x86_msr *m,
		     const struct x86_sregs *s)
{
	if (r->kind == MSR_SREGS) {
		uint64_t want = m->index == MSR_EFER ? s->efer
			      : m->index == MSR_FS_BASE ? s->fs.base : s->gs.base;
		return m->value == want;
	}
	switch (r->check) {
	case LOW16:
		return m->value <= 0xffff;
	case ALL_OR_NONE:
		return m->value == 0 || m->value == ~0ULL;
	default:
		return true;
	}
}

int tcg_msrs_check(const struct x86_cpu_state *st)
{
	uint8_t seen[32] = { 0 }; /* bit per table position */
	if (st->nr_msrs > X86_MAX_MSRS)
		return -EINVAL;
	for (uint32_t i = 0; i < X86_MAX_MSRS; i++) {
		const struct x86_msr *m = &st->msrs[i];
		unsigned pos;
		if (i >= st->nr_msrs) {
			/* Unused entries are zero, as save leaves them. */
			if (m->index || m->reserved || m->value)
				return -EINVAL;
			continue;
		}
		const struct msr_range *r = lookup(m->index, &pos);
		if (!r || m->reserved || pos >= 8 * sizeof(seen) || (seen[pos / 8] & (1u << (pos % 8))) ||
		    !value_ok(r, m, &st->sregs))
			return -EINVAL;
		seen[pos / 8] |= (uint8_t)(1u << (pos % 8));
	}
	return 0;
}

bool tcg_msrs_restore(uc_engine *uc, const struct x86_cpu_state *st, uint64_t *tsc,
		      uint64_t *tsc_deadline)
{
	bool have_tsc = false;
	*tsc_deadline = 0;
	for (uint32_t i = 0; i < st->nr_msrs && i < X86_MAX_MSRS; i++) {
		const struct x86_msr *m = &st->msrs[i];
		unsigned pos;
		const struct msr_range *r = lookup(m->index, &pos);
		if (!r || r->kind == MSR_SREGS)
			continue;
		if (r->kind == MSR_TSC) {
			*tsc = m->value;
			have_tsc = true;
			continue;
		}
		if (r->kind == MSR_DEADLINE) {
			*tsc_deadline = m->value;
			continue;
		}
		uc_x86_msr w = { m->index, m->value };
		uc_reg_write(uc, UC_X86_REG_MSR, &w);
	}
	return have_tsc;
}

bool tcg_msr_settable(uint32_t index)
{
	unsigned pos;
	const struct msr_range *r = lookup(index, &pos);
	return r && r->kind == MSR_PLAIN && r->check == ANY;
}

bool tcg_msr_known(uint32_t index)
{
	unsigned pos;
	return lookup(index, &pos) != NULL;
}
