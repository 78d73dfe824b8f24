/* What vcpu_restore checks in a struct x86_cpu_state before it applies
 * any of it: the state comes from a file. Structure and ranges only; KVM
 * judges the architectural values (CR/EFER combinations, XSAVE headers,
 * event vectors) when they are set. */
#include "runtime/backend/kvm/kvm.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "runtime/base/log.h"

#define KNOWN_FLAGS \
	(X86_STATE_HAS_XSAVE | X86_STATE_HAS_LAPIC | X86_STATE_HAS_EVENTS | X86_STATE_HAS_TSC_KHZ)
#define FXSAVE_MXCSR 24

static bool all_zero(const void *p, size_t len)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < len; i++)
		if (b[i])
			return false;
	return true;
}

/* What the host's FXSAVE reports as the writable MXCSR bits: KVM runs the
 * guest's FPU state on the host's, and an MXCSR with other bits makes the
 * host kernel's FXRSTOR fault (it recovers with a warning and a reset FPU),
 * so KVM_SET_FPU's value is checked here. */
uint32_t kvm_host_mxcsr_mask(void)
{
	uint8_t area[512] __attribute__((aligned(16)));
	uint32_t mask;
	__asm__ volatile("fxsave64 %0" : "=m"(area));
	memcpy(&mask, area + 28, sizeof(mask));
	/* SDM vol. 1, 11.6.6: zero means the default mask. */
	return mask ? mask : 0xffbf;
}

static int bad(unsigned index, const char *what)
{
	log_err("kvm: vCPU %u: snapshot state refused: %s", index, what);
	return -EINVAL;
}

static bool seg_ok(const struct x86_segment *s)
{
	return s->type <= 15 && s->dpl <= 3 && s->present <= 1 && s->db <= 1 && s->s <= 1 &&
	       s->l <= 1 && s->g <= 1 && s->avl <= 1 && s->unusable <= 1;
}

static bool events_ok(const struct x86_events *e)
{
	return e->exception_injected <= 1 && e->exception_has_error <= 1 &&
	       e->exception_pending <= 1 && e->interrupt_injected <= 1 && e->interrupt_soft <= 1 &&
	       e->interrupt_shadow <= (KVM_X86_SHADOW_INT_MOV_SS | KVM_X86_SHADOW_INT_STI) &&
	       e->nmi_injected <= 1 && e->nmi_masked <= 1 && e->smi_pending <= 1 &&
	       e->reserved == 0;
}

int kvm_state_check(unsigned index, const struct x86_cpu_state *st)
{
	if (st->version != X86_CPU_STATE_VERSION) {
		char what[64];
		snprintf(what, sizeof(what), "version %u, this Ember reads %u", st->version,
			 X86_CPU_STATE_VERSION);
		return bad(index, what);
	}
	if (st->flags & ~(uint32_t)KNOWN_FLAGS)
		return bad(index, "unknown flags");
	if (st->reserved)
		return bad(index, "reserved field not 0");
	if (st->nr_msrs > X86_MAX_MSRS)
		return bad(index, "more MSRs than the state holds");
	for (unsigned i = 0; i < st->nr_msrs; i++)
		if (st->msrs[i].reserved)
			return bad(index, "MSR entry with a reserved field not 0");
	if (!all_zero(&st->msrs[st->nr_msrs],
		      (X86_MAX_MSRS - st->nr_msrs) * sizeof(st->msrs[0])))
		return bad(index, "MSR entries beyond nr_msrs");
	if (st->mp_state > X86_MP_SIPI_RECEIVED)
		return bad(index, "MP state out of range");
	const struct x86_sregs *s = &st->sregs;
	const struct x86_segment *segs[] = { &s->cs, &s->ds, &s->es, &s->fs,
					     &s->gs, &s->ss, &s->tr, &s->ldt };
	for (size_t i = 0; i < sizeof(segs) / sizeof(segs[0]); i++)
		if (!seg_ok(segs[i]))
			return bad(index, "segment attribute out of range");
	if (s->cr8 > 15)
		return bad(index, "CR8 above 15");
	if (st->flags & X86_STATE_HAS_XSAVE) {
		/* KVM checks the XSAVE header and XCR0 itself. */
	} else {
		uint32_t mxcsr;
		memcpy(&mxcsr, st->fxsave + FXSAVE_MXCSR, sizeof(mxcsr));
		if (mxcsr & ~kvm_host_mxcsr_mask())
			return bad(index, "MXCSR sets bits this CPU does not have");
		if (st->xcr0 || !all_zero(st->xsave, sizeof(st->xsave)))
			return bad(index, "XSAVE state without HAS_XSAVE");
	}
	if (!(st->flags & X86_STATE_HAS_LAPIC) && !all_zero(st->lapic, sizeof(st->lapic)))
		return bad(index, "LAPIC page without HAS_LAPIC");
	if (st->flags & X86_STATE_HAS_EVENTS) {
		if (!events_ok(&st->events))
			return bad(index, "event field out of range");
	} else if (!all_zero(&st->events, sizeof(st->events))) {
		return bad(index, "events without HAS_EVENTS");
	}
	if (!!(st->flags & X86_STATE_HAS_TSC_KHZ) != (st->tsc_khz != 0))
		return bad(index, "TSC rate and HAS_TSC_KHZ disagree");
	return 0;
}
