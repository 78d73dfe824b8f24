/* x86 linear-to-physical translation for the TCG backend: the 4-level
 * page walk of Intel SDM Vol. 3A §4.5, with the permission rules of §4.6
 * and the page-fault error code of §4.7. Pure over guest memory, so the
 * unit tests drive it with hand-built page tables. */
#ifndef EMBER_TCG_MMU_H
#define EMBER_TCG_MMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/base/gmem.h"
#include "runtime/backend/tcg/dirty.h"

enum tcg_access { TCG_ACC_READ = 0, TCG_ACC_WRITE = 1, TCG_ACC_FETCH = 2 };

/* Page-fault error code bits (SDM Vol. 3A §4.7, Figure 4-12). */
#define TCG_PF_P (1u << 0)
#define TCG_PF_W (1u << 1)
#define TCG_PF_U (1u << 2)
#define TCG_PF_RSVD (1u << 3)
#define TCG_PF_I (1u << 4)

/* Walk results besides 0. */
#define TCG_WALK_PF 1 /* page fault: *pf_err holds the error code */
#define TCG_WALK_GP 2 /* non-canonical address: #GP(0) (§3.3.7.1) */

struct tcg_paging {
	uint64_t cr0, cr3, cr4, efer;
	/* XD bits are honoured (else reserved). The backend sets it whenever
	 * CPUID offers NX: TCG drops EFER.NXE on WRMSR (see env.h). */
	bool nx;
	/* Where the walk's A/D updates and tcg_lin_write mark the pages they
	 * write (NULL: untracked). */
	struct tcg_dirty *dirty;
};

struct tcg_walk {
	uint64_t gpa;
	uint64_t page_size;   /* 4 KiB, 2 MiB or 1 GiB */
	bool all_user;        /* U/S set at every level */
	bool all_write;       /* R/W set at every level */
	bool no_exec;         /* XD set at some level (and NX on) */
	bool dirty;           /* D set in the leaf entry */
};

/* Translates la for an access. user: a CPL-3 access (implicit supervisor
 * accesses pass false). set_ad: set the accessed and dirty bits as the
 * hardware does. Returns 0, TCG_WALK_PF (error code in *pf_err) or
 * TCG_WALK_GP. Page tables outside RAM read as not present. */
int tcg_mmu_walk(const struct guest_mem *mem, const struct tcg_paging *pg, uint64_t la,
		 enum tcg_access acc, bool user, bool set_ad, struct tcg_walk *out,
		 uint32_t *pf_err);

/* Copies to or from linear memory page by page. On a fault returns
 * TCG_WALK_PF / TCG_WALK_GP with the error code and the faulting linear
 * address; -EFAULT when a page maps no RAM. */
int tcg_lin_read(const struct guest_mem *mem, const struct tcg_paging *pg, uint64_t la,
		 void *buf, size_t len, bool user, uint32_t *pf_err, uint64_t *fault_la);
int tcg_lin_write(const struct guest_mem *mem, const struct tcg_paging *pg, uint64_t la,
		  const void *buf, size_t len, bool user, uint32_t *pf_err, uint64_t *fault_la);

#endif
