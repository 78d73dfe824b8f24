/* Making a vCPU state saved on one backend fit another (a cross-backend
 * restore; docs/snapshots.md, "Across backends"). Both backends fill the
 * same struct x86_cpu_state, but not with the same things: KVM carries
 * XSAVE state, events and MSRs the software CPU does not model, and the
 * software CPU MSRs KVM does not list. What has an equivalent is
 * converted; what holds nothing (a value the target's own power-on state
 * has) is dropped; anything else is refused, naming it. */
#ifndef EMBER_BACKEND_X86_CARRY_H
#define EMBER_BACKEND_X86_CARRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/backend/x86.h"
#include "runtime/base/err.h"

struct x86_target {
	const char *desc;   /* "the software CPU (tcg)", in messages */
	bool has_xsave;     /* else FXSAVE state only */
	bool all_events;    /* else only an interrupt shadow can be in flight */
	uint32_t mp_states; /* 1 << enum x86_mp_state it can hold */
	/* Whether the target keeps MSR index as state. */
	bool (*models_msr)(void *ctx, uint32_t index);
	void *ctx;
};

/* The usual name of an MSR ("IA32_PAT", "MSR_KVM_SYSTEM_TIME_NEW
 * (kvmclock)"), or NULL. */
const char *x86_msr_name(uint32_t index);

/* Converts st (saved on backend `from`) in place for target t, or fails
 * with -ENOTSUP and err naming what cannot be carried. */
int x86_state_carry(struct x86_cpu_state *st, const char *from, const struct x86_target *t,
		    struct errbuf *err);

#endif
