/* Carrying a vCPU state to another backend; see x86_carry.h. */
#include "runtime/backend/x86_carry.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define XSAVE_LEGACY_SIZE 512
#define XSAVE_XSTATE_BV 512
#define XCR0_X87 (1ull << 0)
#define XCR0_SSE (1ull << 1)

enum msr_class {
	RESET,     /* state: dropped only while it holds `unused`, its power-on value */
	DESCRIBES, /* a read-only description of the CPU: the target answers its own */
	/* State that exists as the source's capability MSR (DESCRIBES) says:
	 * at a power-on value (0, or `unused`) it is dropped even where the
	 * target models it, whose own capability decides what it holds. */
	CAP_STATE,
};

static const struct msr_info {
	uint32_t index;
	uint8_t cls;
	uint64_t unused;
	const char *name;
} msr_info[] = {
	{ 0x10, RESET, 0, "IA32_TIME_STAMP_COUNTER" },
	{ 0x11, RESET, 0, "MSR_KVM_WALL_CLOCK (kvmclock)" },
	{ 0x12, RESET, 0, "MSR_KVM_SYSTEM_TIME (kvmclock)" },
	{ 0x34, DESCRIBES, 0, "MSR_SMI_COUNT" },
	{ 0x3a, DESCRIBES, 0, "IA32_FEATURE_CONTROL" },
	{ 0x3b, RESET, 0, "IA32_TSC_ADJUST" },
	{ 0x48, RESET, 0, "IA32_SPEC_CTRL" },
	{ 0x8b, DESCRIBES, 0, "IA32_BIOS_SIGN_ID (microcode revision)" },
	{ 0x9e, DESCRIBES, 0, "IA32_SMBASE" },
	{ 0x10a, DESCRIBES, 0, "IA32_ARCH_CAPABILITIES" },
	{ 0xce, DESCRIBES, 0, "MSR_PLATFORM_INFO" },
	{ 0xe1, RESET, 0x186a0, "IA32_UMWAIT_CONTROL" },
	{ 0x140, RESET, 0, "MSR_MISC_FEATURES_ENABLES" },
	{ 0x174, RESET, 0, "IA32_SYSENTER_CS" },
	{ 0x175, RESET, 0, "IA32_SYSENTER_ESP" },
	{ 0x176, RESET, 0, "IA32_SYSENTER_EIP" },
	{ 0x179, DESCRIBES, 0, "IA32_MCG_CAP" },
	{ 0x17a, RESET, 0, "IA32_MCG_STATUS" },
	/* Present with IA32_MCG_CAP.MCG_CTL_P (SDM Vol. 3B 15.3.1.3): all ones
	 * at reset on QEMU's CPU; KVM without MCE set up refuses anything but
	 * 0. */
	{ 0x17b, CAP_STATE, ~0ull, "IA32_MCG_CTL" },
	{ 0x1a0, RESET, 0, "IA32_MISC_ENABLE" },
	{ 0x1fc, RESET, 0, "MSR_IA32_POWER_CTL" },
	{ 0x277, RESET, 0x0007040600070406ull, "IA32_PAT" },
	{ 0x2ff, RESET, 0, "IA32_MTRR_DEF_TYPE" },
	{ 0x345, DESCRIBES, 0, "IA32_PERF_CAPABILITIES" },
	{ 0x4d0, RESET, 0, "IA32_MCG_EXT_CTL" },
	{ 0x6e0, RESET, 0, "IA32_TSC_DEADLINE" },
	{ 0xd90, RESET, 0, "IA32_BNDCFGS" },
	{ 0xda0, RESET, 0, "IA32_XSS" },
	{ 0x4b564d00, RESET, 0, "MSR_KVM_WALL_CLOCK_NEW (kvmclock)" },
	{ 0x4b564d01, RESET, 0, "MSR_KVM_SYSTEM_TIME_NEW (kvmclock)" },
	{ 0x4b564d02, RESET, 0, "MSR_KVM_ASYNC_PF_EN" },
	{ 0x4b564d03, RESET, 0, "MSR_KVM_STEAL_TIME" },
	{ 0x4b564d04, RESET, 0, "MSR_KVM_PV_EOI_EN" },
	{ 0x4b564d05, RESET, 1, "MSR_KVM_POLL_CONTROL" },
	{ 0x4b564d06, RESET, 0, "MSR_KVM_ASYNC_PF_INT" },
	{ 0x4b564d07, RESET, 0, "MSR_KVM_ASYNC_PF_ACK" },
	{ 0xc0000080, RESET, 0, "IA32_EFER" },
	{ 0xc0000081, RESET, 0, "IA32_STAR" },
	{ 0xc0000082, RESET, 0, "IA32_LSTAR" },
	{ 0xc0000083, RESET, 0, "IA32_CSTAR" },
	{ 0xc0000084, RESET, 0, "IA32_FMASK" },
	{ 0xc0000100, RESET, 0, "IA32_FS_BASE" },
	{ 0xc0000101, RESET, 0, "IA32_GS_BASE" },
	{ 0xc0000102, RESET, 0, "IA32_KERNEL_GS_BASE" },
	{ 0xc0000103, RESET, 0, "IA32_TSC_AUX" },
	{ 0xc0010117, RESET, 0, "MSR_VM_HSAVE_PA" },
	{ 0xc001011f, RESET, 0, "MSR_AMD64_VIRT_SPEC_CTRL" },
};

/* The machine-check banks' control registers: both backends power on
 * with every error reporting enabled (all ones), as QEMU and KVM reset
 * them. */
#define MC_BANKS_FIRST 0x400u
#define MC_BANKS_END 0x480u /* 32 banks of 4 */
static const struct msr_info mc_ctl = { 0, RESET, ~0ull, "IA32_MCi_CTL" };

static const struct msr_info *msr_lookup(uint32_t index)
{
	for (size_t i = 0; i < ARRAY_LEN(msr_info); i++)
		if (msr_info[i].index == index)
			return &msr_info[i];
	if (index >= MC_BANKS_FIRST && index < MC_BANKS_END && (index - MC_BANKS_FIRST) % 4 == 0)
		return &mc_ctl;
	return NULL;
}

const char *x86_msr_name(uint32_t index)
{
	const struct msr_info *m = msr_lookup(index);
	return m ? m->name : NULL;
}

/* MSRs not in the table are state whose power-on value is 0 (the MTRRs,
 * the machine-check banks and most others). */
static int carry_msrs(struct x86_cpu_state *st, const char *from, const struct x86_target *t,
		      struct errbuf *err)
{
	uint32_t kept = 0;
	for (uint32_t i = 0; i < st->nr_msrs && i < X86_MAX_MSRS; i++) {
		struct x86_msr m = st->msrs[i];
		const struct msr_info *info = msr_lookup(m.index);
		if (info && info->cls == CAP_STATE && (m.value == 0 || m.value == info->unused))
			continue;
		if (t->models_msr(t->ctx, m.index)) {
			st->msrs[kept++] = m;
			continue;
		}
		if (info && info->cls == DESCRIBES)
			continue;
		if (m.value == (info ? info->unused : 0))
			continue;
		char name[80] = "";
		if (info)
			snprintf(name, sizeof(name), " (%s)", info->name);
		return err_set(err, -ENOTSUP,
			       "MSR 0x%x%s holds 0x%llx on %s; %s does not model it", m.index, name,
			       (unsigned long long)m.value, from, t->desc);
	}
	memset(&st->msrs[kept], 0, (X86_MAX_MSRS - kept) * sizeof(st->msrs[0]));
	st->nr_msrs = kept;
	return 0;
}

/* The XSAVE area's legacy region is the FXSAVE image; components whose
 * XSTATE_BV bit is clear are in their initial state whatever the region
 * holds (SDM vol. 1, 13.6), so they are written as such. */
static int carry_xsave(struct x86_cpu_state *st, const char *from, const struct x86_target *t,
		       struct errbuf *err)
{
	if (!(st->flags & X86_STATE_HAS_XSAVE) || t->has_xsave)
		return 0;
	if (st->xcr0 & ~(XCR0_X87 | XCR0_SSE))
		return err_set(err, -ENOTSUP,
			       "XCR0 is 0x%llx on %s: state beyond x87 and SSE, which %s cannot "
			       "hold (it has no XSAVE)",
			       (unsigned long long)st->xcr0, from, t->desc);
	if (st->sregs.cr4 & X86_CR4_OSXSAVE)
		return err_set(err, -ENOTSUP,
			       "the guest enabled XSAVE (CR4.OSXSAVE) on %s; %s has no XSAVE",
			       from, t->desc);
	uint64_t bv;
	memcpy(&bv, st->xsave + XSAVE_XSTATE_BV, sizeof(bv));
	uint8_t *fx = st->fxsave;
	memcpy(fx, st->xsave, XSAVE_LEGACY_SIZE);
	if (!(bv & XCR0_X87)) {
		const uint16_t fcw = 0x37f;
		memcpy(fx + X86_FX_FCW, &fcw, 2);
		memset(fx + X86_FX_FSW, 0, 2);
		fx[X86_FX_FTW] = 0;
		memset(fx + X86_FX_FOP, 0, 2);
		memset(fx + X86_FX_FIP, 0, 8);
		memset(fx + X86_FX_FDP, 0, 8);
		memset(fx + X86_FX_ST, 0, X86_FX_XMM - X86_FX_ST);
	}
	if (!(bv & XCR0_SSE))
		memset(fx + X86_FX_XMM, 0, X86_FX_XMM_SIZE);
	memset(st->xsave, 0, sizeof(st->xsave));
	st->xcr0 = 0;
	st->flags &= ~(uint32_t)X86_STATE_HAS_XSAVE;
	return 0;
}

/* KVM reports an external interrupt it had taken from the local APIC
 * (its vector moved from IRR to ISR) but not yet delivered as injected.
 * Where it is the APIC's highest in-service vector, putting it back in IRR
 * makes the target's APIC deliver it again: the same interrupt, taken one
 * instruction boundary later. An interrupt from the 8259 (ExtINT) leaves
 * no trace in the page and cannot be put back. */
#define APIC_ISR 0x100
#define APIC_IRR 0x200

static bool apic_bit(const uint8_t *page, unsigned base, unsigned vec)
{
	return page[base + 0x10 * (vec / 32) + (vec % 32) / 8] & (1u << (vec % 8));
}

static bool requeue_interrupt(struct x86_cpu_state *st)
{
	struct x86_events *e = &st->events;
	if (!(st->flags & X86_STATE_HAS_LAPIC) || e->interrupt_soft || e->interrupt_nr < 16 ||
	    !apic_bit(st->lapic, APIC_ISR, e->interrupt_nr))
		return false;
	for (unsigned v = 255; v > e->interrupt_nr; v--)
		if (apic_bit(st->lapic, APIC_ISR, v))
			return false;
	unsigned vec = e->interrupt_nr;
	st->lapic[APIC_ISR + 0x10 * (vec / 32) + (vec % 32) / 8] &= (uint8_t)~(1u << (vec % 8));
	st->lapic[APIC_IRR + 0x10 * (vec / 32) + (vec % 32) / 8] |= (uint8_t)(1u << (vec % 8));
	e->interrupt_injected = 0;
	e->interrupt_nr = 0;
	return true;
}

static int carry_events(struct x86_cpu_state *st, const char *from, const struct x86_target *t,
			struct errbuf *err)
{
	/* An AP that has not started: KVM tells "before INIT" from "after
	 * INIT, waiting for SIPI"; a target that has only the latter (the
	 * software CPU's APs power on in it) takes the AP there, where the
	 * INIT-SIPI-SIPI every OS sends starts it the same way. */
	if (st->mp_state == X86_MP_UNINITIALIZED && !(t->mp_states & (1u << X86_MP_UNINITIALIZED)) &&
	    (t->mp_states & (1u << X86_MP_INIT_RECEIVED)))
		st->mp_state = X86_MP_INIT_RECEIVED;
	if (!(t->mp_states & (1u << st->mp_state)))
		return err_set(err, -ENOTSUP, "the vCPU is in MP state %u on %s, which %s cannot hold",
			       st->mp_state, from, t->desc);
	if (t->all_events || !(st->flags & X86_STATE_HAS_EVENTS))
		return 0;
	struct x86_events *e = &st->events;
	if (e->interrupt_injected && !e->exception_injected && !e->exception_pending)
		requeue_interrupt(st);
	const char *what = e->exception_injected || e->exception_pending ? "an exception"
			 : e->interrupt_injected ? "an interrupt"
			 : e->nmi_injected || e->nmi_pending ? "an NMI"
			 : e->smi_pending ? "an SMI"
			 : e->nmi_masked ? "NMI blocking (inside an NMI handler)"
			 : NULL;
	if (what)
		return err_set(err, -ENOTSUP,
			       "%s is in flight on %s, which %s cannot hold; resume the source "
			       "and pause it again",
			       what, from, t->desc);
	/* Meaningful only in wait-for-SIPI, which the target keeps itself. */
	e->sipi_vector = 0;
	e->exception_nr = e->exception_has_error = 0;
	e->exception_error = 0;
	e->interrupt_nr = e->interrupt_soft = 0;
	return 0;
}

int x86_state_carry(struct x86_cpu_state *st, const char *from, const struct x86_target *t,
		    struct errbuf *err)
{
	if (st->nr_msrs > X86_MAX_MSRS)
		return err_set(err, -EINVAL, "%u MSRs, more than the state holds", st->nr_msrs);
	if (st->mp_state > X86_MP_SIPI_RECEIVED)
		return err_set(err, -EINVAL, "MP state %u out of range", st->mp_state);
	int r = carry_xsave(st, from, t, err);
	if (r == 0)
		r = carry_events(st, from, t, err);
	if (r == 0)
		r = carry_msrs(st, from, t, err);
	return r;
}
