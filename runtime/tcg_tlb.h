/* Guest paging for unicorn 2.0: its x86 MMU walks the guest's page tables
 * to raise page faults but then maps every page virtual == physical
 * ("Unicorn: identity map guest virtual address", unicorn issue #1953,
 * fixed in 2.1 by UC_TLB_CPU). Linux cannot run that way, so the backend
 * replaces QEMU's x86 TLB-fill hook, x86_cpu_tlb_fill_x86_64, which
 * libunicorn.so exports and reaches through its GOT: the executable's
 * definition in tcg_tlb.c wins by ELF symbol interposition. Ours walks the
 * tables with tcg_mmu_walk and installs the real physical page with
 * QEMU's tlb_set_page_with_attrs, or raises #PF / #GP with QEMU's
 * raise_exception_err_ra (both exported too). */
#ifndef EMBER_TCG_TLB_H
#define EMBER_TCG_TLB_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime/gmem.h"

struct tcg_tlb_ctx {
	const struct guest_mem *mem;
	bool nx;           /* honour XD bits whatever EFER.NXE says (tcg_cpuid.h) */
	/* Control registers as last set, to find CPUX86State inside QEMU's
	 * CPUState on the first fill. */
	uint64_t cr[5];
	uint64_t efer;
	long env_off;      /* CPUState -> CPUX86State, found on first use; -1 unknown */
	uint64_t fills;    /* statistics */
};

/* Makes ctx the one used by fills on this thread (NULL: none; a fill then
 * falls back to unicorn's own, identity-mapping one). */
void tcg_tlb_set_current(struct tcg_tlb_ctx *ctx);
/* Whether this process's unicorn calls our fill (the interposition took). */
bool tcg_tlb_interposed(void);

#endif
