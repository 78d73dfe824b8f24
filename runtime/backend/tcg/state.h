/* The pieces of a TCG vCPU's snapshot (x86_cpu_state) that unicorn keeps
 * behind its register API: the FXSAVE image (fpu.c) and the MSRs
 * (msrs.c). state.c puts them together with the registers, the hidden
 * segment state and the run state. Each part has a check, which reads
 * only the state given, and an apply, which assumes the check passed. */
#ifndef EMBER_TCG_STATE_H
#define EMBER_TCG_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include <unicorn/unicorn.h>

#include "runtime/backend/tcg/lapic.h" /* TCG_MSR_TSC_DEADLINE */
#include "runtime/backend/x86.h"

/* fpu.c: FPU, MMX and SSE as the 64-bit FXSAVE image. Every value of
 * every field is one this CPU can hold (QEMU 5 checks none of them on
 * FXRSTOR or LDMXCSR), so there is nothing to check. */
void tcg_fpu_save(uc_engine *uc, uint8_t fx[X86_FXSAVE_SIZE]);
void tcg_fpu_restore(uc_engine *uc, const uint8_t fx[X86_FXSAVE_SIZE]);

/* msrs.c: the MSRs the TCG CPU models. guest_tsc is the TSC as the
 * guest reads it now, tsc_deadline the local APIC's armed deadline (0:
 * none). Returns how many entries were written (at most max; the table
 * holds fewer than X86_MAX_MSRS). */
#define TCG_MSR_TSC 0x10u
uint32_t tcg_msrs_save(uc_engine *uc, uint64_t guest_tsc, uint64_t tsc_deadline,
		       struct x86_msr *out, uint32_t max);
/* 0, or -EINVAL: an index not in the table or given twice, a value this
 * CPU cannot hold, an MSR the segments also carry (FS/GS base, EFER)
 * that disagrees with them, a reserved field set. */
int tcg_msrs_check(const struct x86_cpu_state *st);
/* Writes them; *tsc is the guest's TSC if the state carries it (the
 * return value says), *tsc_deadline the TSC deadline (0 if none) for the
 * caller to arm once the TSC is in place. */
bool tcg_msrs_restore(uc_engine *uc, const struct x86_cpu_state *st, uint64_t *tsc,
		      uint64_t *tsc_deadline);
/* Whether the CPU keeps any value written to index as it is (what a CPU
 * template's MSR modifier needs). */
bool tcg_msr_settable(uint32_t index);
/* Whether the CPU keeps index as state at all (a snapshot may carry it). */
bool tcg_msr_known(uint32_t index);

#endif
