/* A TCG vCPU's whole state in the neutral snapshot form (x86.h): general
 * registers, segments with their hidden parts, control and debug
 * registers, EFER, the FXSAVE image (fpu.c), the MSRs (msrs.c), the STI /
 * MOV SS shadow, HLT, the guest's TSC and its rate. What the CPU does not
 * have stays 0 with its flag clear: no XSAVE (the CPUID policy offers
 * none), no SMI source, and nothing is ever pending between
 * instructions (delivery is synchronous in the hooks). The TSC deadline
 * is MSR 0x6e0 among the MSRs (msrs.c), as KVM saves it. The local APIC's
 * register page goes in lapic[] (KVM's layout, lapic.h), IA32_APIC_BASE in
 * sregs; a state without the APIC (saved before the software CPU had one)
 * restores it in its power-on state, which passes the 8259's interrupts
 * through as before.
 *
 * Restore takes a file's content: it checks everything first, against
 * what this CPU can hold, and only then writes the vCPU.
 *
 * Not carried, because nothing is lost:
 *  - QEMU's TLB, translated blocks and jump caches, and the
 *    code-page bits: caches, rebuilt on demand (and dropped on a restore
 *    into a vCPU that ran);
 *  - the lazy arithmetic flags (cc_*) and DF: folded into RFLAGS by
 *    unicorn's read and unfolded by its write; softfloat's rounding state:
 *    derived from FCW and MXCSR when they are written;
 *  - FCS/FDS (not in the 64-bit FXSAVE image; QEMU 5's TCG never sets
 *    them); ft0, xmm_t0, mmx_t0 (temporaries inside one instruction);
 *  - YMM/ZMM upper halves, opmask, PKRU, XCR0, the MPX bound registers:
 *    this CPU has no AVX, PKU, XSAVE or MPX, so the guest cannot set them;
 *  - the exception bookkeeping (error code, old_exception, ...): live only
 *    inside a delivery, which our hooks finish before the vCPU stops;
 *  - A20 (no A20 gate), SMM state (no SMIs), GIF (no SVM), read-only MSRs
 *    (msrs.c). A pending NMI and NMI blocking go in events.
 * Debug registers are carried as values, but QEMU's breakpoint objects are
 * not rebuilt from DR7 (unicorn's register write stores it raw): on
 * unicorn 2.0.1 data breakpoints never fire even when the guest arms them
 * itself, and an armed instruction breakpoint crashes its generated code,
 * so arming them on restore would only add a way to crash. */
#include "runtime/backend/tcg/tcg.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <x86intrin.h>

#include "runtime/base/log.h"
#include "runtime/backend/tcg/state.h"
#include "runtime/backend/tcg/tsc.h"
#include "runtime/backend/x86.h"
#include "runtime/backend/tcg/uc.h"

#define KNOWN_FLAGS (X86_STATE_HAS_XSAVE | X86_STATE_HAS_LAPIC | X86_STATE_HAS_EVENTS | \
		     X86_STATE_HAS_TSC_KHZ)
/* QEMU has one shadow flag for both; KVM's numbering (KVM_X86_SHADOW_INT_*). */
#define SHADOW_MOV_SS 1u
#define SHADOW_STI 2u
/* RFLAGS bits that exist: CF 1 PF AF ZF SF TF IF DF OF IOPL NT RF VM AC VIF VIP ID. */
#define RFLAGS_DEFINED 0x3f7fd7ULL
/* The EFER bits this CPU holds: WRMSR keeps LME, env.h adds SCE and NXE. */
#define EFER_HELD (X86_EFER_SCE | X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE)
/* Beyond this the rate is not a TSC's (100 GHz). */
#define TSC_KHZ_MAX 100000000u

/* The guest's TSC now (the vCPU paused: its env is stable). */
static uint64_t guest_tsc(struct backend_vcpu *v)
{
	tcg_env_save(&v->env);
	return __rdtsc() + tcg_env_u64(&v->env, TCG_ENV_TSC_OFFSET);
}

int tcg_vcpu_save(struct backend_vcpu *v, struct x86_cpu_state *st)
{
	memset(st, 0, sizeof(*st));
	st->version = X86_CPU_STATE_VERSION;
	st->flags = X86_STATE_HAS_EVENTS;
	tcg_get_regs(v, &st->regs);
	tcg_get_sregs(v, &st->sregs);
	for (int i = 0; i < 4; i++)
		st->dr[i] = tcg_reg(v->uc, UC_X86_REG_DR0 + i);
	st->dr6 = tcg_reg(v->uc, UC_X86_REG_DR6);
	st->dr7 = tcg_reg(v->uc, UC_X86_REG_DR7);
	tcg_fpu_save(v->uc, st->fxsave);

	tcg_env_save(&v->env);
	if (tcg_env_u32(&v->env, TCG_ENV_HFLAGS) & TCG_HF_INHIBIT_IRQ)
		st->events.interrupt_shadow = SHADOW_MOV_SS;
	st->events.nmi_masked = !!(tcg_env_u32(&v->env, TCG_ENV_HFLAGS2) & TCG_HF2_NMI_MASK);
	uint64_t tsc = __rdtsc() + tcg_env_u64(&v->env, TCG_ENV_TSC_OFFSET);
	st->nr_msrs = tcg_msrs_save(v->uc, tsc, tcg_apic_deadline(v), st->msrs, X86_MAX_MSRS);

	pthread_mutex_lock(&v->vm->lock);
	st->mp_state = v->halted ? X86_MP_HALTED : X86_MP_RUNNABLE;
	struct tcg_lapic *l = &v->vm->lapic[v->index];
	bool wait_sipi = l->wait_sipi;
	if (wait_sipi)
		st->mp_state = X86_MP_INIT_RECEIVED;
	st->events.nmi_pending = l->nmi_pending;
	st->flags |= X86_STATE_HAS_LAPIC;
	tcg_lapic_save(l, st->lapic, tcg_now_ns());
	st->sregs.apic_base = l->apic_base;
	pthread_mutex_unlock(&v->vm->lock);
	/* Its engine holds whatever it was made with until SIPI sets every
	 * register (tcg_vcpu_startup); another backend checks them. */
	if (wait_sipi) {
		uint64_t apic_base = st->sregs.apic_base;
		tcg_init_state(v, &st->regs, &st->sregs);
		st->sregs.apic_base = apic_base;
	}
	unsigned long khz = tcg_guest_tsc_khz(v->vm);
	if (khz && khz <= TSC_KHZ_MAX) {
		st->flags |= X86_STATE_HAS_TSC_KHZ;
		st->tsc_khz = (uint32_t)khz;
	}
	return 0;
}

static bool all_zero(const void *p, size_t len)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < len; i++)
		if (b[i])
			return false;
	return true;
}

/* Every field fits its encoding (the packing in vcpu_state.c would drop
 * what does not). */
static bool seg_ok(const struct x86_segment *s)
{
	return s->type <= 15 && s->dpl <= 3 && s->present <= 1 && s->s <= 1 && s->l <= 1 &&
	       s->db <= 1 && s->g <= 1 && s->avl <= 1 && s->unusable <= 1;
}

static bool sregs_ok(const struct x86_sregs *s)
{
	const struct x86_segment *segs[] = { &s->cs, &s->ds, &s->es, &s->fs,
					     &s->gs, &s->ss, &s->tr, &s->ldt };
	for (size_t i = 0; i < sizeof(segs) / sizeof(segs[0]); i++)
		if (!seg_ok(segs[i]))
			return false;
	/* In protected mode the CPU runs from a present code segment; TR and
	 * LDTR hold system descriptors. */
	bool cs_live = s->cs.present && !s->cs.unusable;
	if ((s->cr0 & X86_CR0_PE) && (!cs_live || !s->cs.s || !(s->cs.type & 8)))
		return false;
	if ((s->tr.present && !s->tr.unusable && s->tr.s) ||
	    (s->ldt.present && !s->ldt.unusable && s->ldt.s))
		return false;
	return (s->efer & ~EFER_HELD) == 0 && s->cr8 <= 15;
}

/* Only a shadow and NMIs can be in flight on this CPU: nothing else is
 * injected or pending between instructions, and there are no SMIs or
 * SIPIs. An NMI KVM had injected but not yet delivered is pending here
 * (taken at the next instruction boundary either way). */
static bool events_ok(const struct x86_cpu_state *st)
{
	struct x86_events e = st->events;
	if (!(st->flags & X86_STATE_HAS_EVENTS))
		return all_zero(&e, sizeof(e));
	if (e.interrupt_shadow > (SHADOW_MOV_SS | SHADOW_STI) || e.nmi_masked > 1)
		return false;
	e.interrupt_shadow = 0;
	e.nmi_injected = e.nmi_pending = e.nmi_masked = 0;
	return all_zero(&e, sizeof(e));
}

static int check(const struct x86_cpu_state *st)
{
	if (st->version != X86_CPU_STATE_VERSION || (st->flags & ~KNOWN_FLAGS) || st->reserved)
		return -EINVAL;
	/* Cross-backend restore (a KVM vCPU's XSAVE area onto this
	 * XSAVE-less CPU) is not done yet. */
	if (st->flags & X86_STATE_HAS_XSAVE)
		return -EINVAL;
	if (st->xcr0 || !all_zero(st->xsave, sizeof(st->xsave)) ||
	    (!(st->flags & X86_STATE_HAS_LAPIC) && !all_zero(st->lapic, sizeof(st->lapic))))
		return -EINVAL;
	if (st->mp_state != X86_MP_RUNNABLE && st->mp_state != X86_MP_HALTED &&
	    st->mp_state != X86_MP_INIT_RECEIVED)
		return -EINVAL;
	if ((st->flags & X86_STATE_HAS_TSC_KHZ) ? !st->tsc_khz || st->tsc_khz > TSC_KHZ_MAX
						 : st->tsc_khz != 0)
		return -EINVAL;
	if (st->regs.rflags & ~RFLAGS_DEFINED)
		return -EINVAL;
	if (!sregs_ok(&st->sregs) || !events_ok(st))
		return -EINVAL;
	return tcg_msrs_check(st);
}

int tcg_vcpu_restore(struct backend_vcpu *v, const struct x86_cpu_state *st)
{
	struct backend_vm *vm = v->vm;
	int r = check(st);
	if (r)
		return r;
	/* The APIC into a copy first: a bad page changes nothing. */
	struct tcg_lapic lapic = vm->lapic[v->index];
	if (st->flags & X86_STATE_HAS_LAPIC) {
		if (tcg_lapic_load(&lapic, st->lapic, st->sregs.apic_base, tcg_now_ns()))
			return -EINVAL;
	} else {
		tcg_lapic_init(&lapic, v->index);
	}
	lapic.wait_sipi = st->mp_state == X86_MP_INIT_RECEIVED;
	lapic.nmi_pending = st->events.nmi_pending || st->events.nmi_injected;
	/* Nothing scales unicorn's RDTSC: the guest keeps the rate it was
	 * told only where the host's TSC runs at it. */
	if ((st->flags & X86_STATE_HAS_TSC_KHZ) && !tcg_tsc_rate_matches(st->tsc_khz)) {
		log_err("tcg: the snapshot's guest TSC runs at %" PRIu32 " kHz, this host's at %lu kHz",
			st->tsc_khz, tcg_tsc_khz());
		return -ENOTSUP;
	}

	tcg_set_sregs(v, &st->sregs);
	tcg_set_regs(v, &st->regs);
	for (int i = 0; i < 4; i++)
		tcg_set_reg(v->uc, UC_X86_REG_DR0 + i, st->dr[i]);
	tcg_set_reg(v->uc, UC_X86_REG_DR6, st->dr6);
	tcg_set_reg(v->uc, UC_X86_REG_DR7, st->dr7);
	tcg_fpu_restore(v->uc, st->fxsave);
	uint64_t tsc = 0, deadline = 0;
	bool have_tsc = tcg_msrs_restore(v->uc, st, &tsc, &deadline);

	/* What the register API cannot reach, last: it saves all of the above. */
	tcg_env_save(&v->env);
	/* EFER exactly, LMA included (set_sregs keeps the engine's LMA for
	 * the boot path), and the hflags that follow from it. */
	tcg_env_set_u64(&v->env, TCG_ENV_EFER, st->sregs.efer);
	tcg_env_sync_hflags(&v->env);
	uint32_t hf = tcg_env_u32(&v->env, TCG_ENV_HFLAGS) & ~TCG_HF_INHIBIT_IRQ;
	if (st->events.interrupt_shadow)
		hf |= TCG_HF_INHIBIT_IRQ;
	tcg_env_set_u32(&v->env, TCG_ENV_HFLAGS, hf);
	uint32_t hf2 = tcg_env_u32(&v->env, TCG_ENV_HFLAGS2) & ~TCG_HF2_NMI_MASK;
	tcg_env_set_u32(&v->env, TCG_ENV_HFLAGS2, hf2 | (st->events.nmi_masked ? TCG_HF2_NMI_MASK : 0));
	tcg_env_set_u32(&v->env, TCG_ENV_OLD_EXCEPTION, (uint32_t)-1);
	if (have_tsc)
		tcg_env_set_u64(&v->env, TCG_ENV_TSC_OFFSET, tsc - __rdtsc());
	tcg_env_restore(&v->env);

	pthread_mutex_lock(&vm->lock);
	v->halted = st->mp_state == X86_MP_HALTED;
	vm->lapic[v->index] = lapic;
	pthread_cond_signal(&vm->timer_wake); /* its timer */
	v->exit_set = false;
	if (v->q.cs) {
		/* A vCPU that ran before: its TLB and translations describe
		 * the old state (the register API flushes nothing). */
		tcg_qemu_tlb_flush(&v->q);
		v->inval_all = true;
		v->inval_seq++;
	}
	if (st->flags & X86_STATE_HAS_TSC_KHZ)
		vm->tsc_khz = st->tsc_khz;
	pthread_mutex_unlock(&vm->lock);
	/* The deadline against the TSC as restored (ignored outside
	 * TSC-deadline mode, as the hardware does). */
	tcg_apic_rearm_deadline(v, deadline, guest_tsc(v));
	return 0;
}

void tcg_vcpu_tsc_advance(struct backend_vcpu *v, uint64_t ns)
{
	/* Modulo 2^64, as the counter itself wraps. */
	uint64_t cycles = (uint64_t)((unsigned __int128)ns * tcg_guest_tsc_khz(v->vm) / 1000000);
	tcg_env_save(&v->env);
	tcg_env_set_u64(&v->env, TCG_ENV_TSC_OFFSET,
			tcg_env_u64(&v->env, TCG_ENV_TSC_OFFSET) + cycles);
	tcg_env_restore(&v->env);
	/* An armed deadline is a TSC value: its time moved with the TSC. */
	uint64_t deadline = tcg_apic_deadline(v);
	if (deadline)
		tcg_apic_rearm_deadline(v, deadline, guest_tsc(v));
}
