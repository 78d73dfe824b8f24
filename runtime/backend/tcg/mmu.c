/* The page walk (Intel SDM Vol. 3A chapter 4). One loop serves 4-level
 * (IA-32e) and PAE paging; 32-bit paging has its own short loop. */
#include "runtime/backend/tcg/mmu.h"

#include <errno.h>
#include <string.h>

#include "runtime/backend/x86.h"

#define PTE_P (1ULL << 0)
#define PTE_RW (1ULL << 1)
#define PTE_US (1ULL << 2)
#define PTE_A (1ULL << 5)
#define PTE_D (1ULL << 6)
#define PTE_PS (1ULL << 7)
#define PTE_XD (1ULL << 63)
/* Bits 51:12; we report 40 physical address bits in CPUID but, like
 * QEMU, accept the architectural maximum of 52 (§4.1.4). */
#define PTE_ADDR 0x000ffffffffff000ULL
#define PTE_HI_RSVD 0x7ff0000000000000ULL /* 62:52 (no protection keys) */

static bool long_mode(const struct tcg_paging *pg)
{
	return pg->efer & X86_EFER_LMA;
}

/* Reads or sets bits in a paging-structure entry; a table outside RAM
 * reads as zero (not present). */
static uint64_t pte_load(const struct guest_mem *mem, uint64_t gpa, unsigned size)
{
	uint64_t v = 0;
	const void *p = gm_ptr(mem, gpa, size);
	if (p)
		memcpy(&v, p, size);
	return v;
}

static void pte_set(const struct guest_mem *mem, const struct tcg_paging *pg, uint64_t gpa,
		    unsigned size, uint64_t bits)
{
	void *p = gm_ptr(mem, gpa, size);
	if (!p)
		return;
	/* Atomic OR, as the hardware's locked A/D update (§4.8). */
	uint64_t old;
	if (size == 8)
		old = __atomic_fetch_or((uint64_t *)p, bits, __ATOMIC_RELAXED);
	else
		old = __atomic_fetch_or((uint32_t *)p, (uint32_t)bits, __ATOMIC_RELAXED);
	/* A write only if a bit was clear (the leaf's bits are set on every
	 * fill, mostly already there). */
	if ((old & bits) != bits)
		tcg_dirty_mark(pg->dirty, gpa);
}

static uint32_t pf_code(uint32_t base, enum tcg_access acc, bool user, const struct tcg_paging *pg)
{
	uint32_t e = base;
	if (acc == TCG_ACC_WRITE)
		e |= TCG_PF_W;
	if (user)
		e |= TCG_PF_U;
	/* I/D is reported only when execute-disable is in force (§4.7). */
	if (acc == TCG_ACC_FETCH && pg->nx && (pg->cr4 & X86_CR4_PAE))
		e |= TCG_PF_I;
	return e;
}

/* The access check of §4.6 on the combined rights; no SMAP/SMEP: CPUID
 * does not offer them. */
static bool access_ok(const struct tcg_paging *pg, const struct tcg_walk *w, enum tcg_access acc,
		      bool user)
{
	if (user && !w->all_user)
		return false;
	if (acc == TCG_ACC_WRITE && !w->all_write && (user || (pg->cr0 & X86_CR0_WP)))
		return false;
	if (acc == TCG_ACC_FETCH && w->no_exec)
		return false;
	return true;
}

static int walk_32(const struct guest_mem *mem, const struct tcg_paging *pg, uint32_t la,
		   struct tcg_walk *w, uint64_t *leaf_gpa, uint32_t *err)
{
	uint64_t pde_gpa = (pg->cr3 & 0xfffff000u) + ((la >> 22) << 2);
	uint64_t pde = pte_load(mem, pde_gpa, 4);
	if (!(pde & PTE_P))
		return *err = 0, TCG_WALK_PF;
	w->all_user = pde & PTE_US;
	w->all_write = pde & PTE_RW;
	if ((pde & PTE_PS) && (pg->cr4 & X86_CR4_PSE)) {
		/* 4 MiB page; bits 20:13 give PA bits 39:32 (PSE-36). */
		w->gpa = (pde & 0xffc00000u) | ((pde & 0x1fe000ULL) << 19) | (la & 0x3fffff);
		w->page_size = 4ULL << 20;
		*leaf_gpa = pde_gpa;
		w->dirty = pde & PTE_D;
		return 0;
	}
	uint64_t pte_gpa = (pde & 0xfffff000u) + (((la >> 12) & 0x3ff) << 2);
	uint64_t pte = pte_load(mem, pte_gpa, 4);
	if (!(pte & PTE_P))
		return *err = 0, TCG_WALK_PF;
	w->all_user &= !!(pte & PTE_US);
	w->all_write &= !!(pte & PTE_RW);
	w->gpa = (pte & 0xfffff000u) | (la & 0xfff);
	w->page_size = 4096;
	*leaf_gpa = pte_gpa;
	w->dirty = pte & PTE_D;
	/* Set A on the PDE now; the leaf gets A/D from the caller. */
	return 0;
}

/* 4-level (levels = 4) or PAE (levels = 3). Fills w and the leaf's GPA. */
static int walk_pae(const struct guest_mem *mem, const struct tcg_paging *pg, uint64_t la,
		    unsigned levels, bool set_ad, struct tcg_walk *w, uint64_t *leaf_gpa,
		    uint32_t *err)
{
	uint64_t rsvd = PTE_HI_RSVD | (pg->nx ? 0 : PTE_XD);
	uint64_t table = levels == 4 ? pg->cr3 & PTE_ADDR : pg->cr3 & 0xffffffe0u;
	w->all_user = w->all_write = true;
	w->no_exec = false;

	for (unsigned lvl = levels; lvl >= 1; lvl--) {
		unsigned shift = 12 + 9 * (lvl - 1);
		uint64_t idx = levels == 3 && lvl == 3 ? (la >> 30) & 3 : (la >> shift) & 511;
		uint64_t gpa = table + idx * 8;
		uint64_t e = pte_load(mem, gpa, 8);
		if (!(e & PTE_P))
			return *err = 0, TCG_WALK_PF;
		bool pae_pdpte = levels == 3 && lvl == 3;
		if (e & rsvd || ((lvl == 4 || pae_pdpte) && (e & PTE_PS)))
			return *err = TCG_PF_RSVD | TCG_PF_P, TCG_WALK_PF;
		if (!pae_pdpte) {
			/* PAE PDPTEs carry no rights (§4.4.1). */
			w->all_user &= !!(e & PTE_US);
			w->all_write &= !!(e & PTE_RW);
			if (pg->nx && (e & PTE_XD))
				w->no_exec = true;
		}
		bool leaf = lvl == 1 || (lvl <= 2 && (e & PTE_PS)) || (lvl == 3 && !pae_pdpte && (e & PTE_PS));
		if (leaf) {
			uint64_t size = 1ULL << shift;
			/* Large-page frame bits below the page size, except the PAT
			 * bit 12, are reserved (§4.5.4 tables 4-17, 4-19). */
			if (size > 4096 && (e & PTE_ADDR & (size - 1) & ~0x1000ULL))
				return *err = TCG_PF_RSVD | TCG_PF_P, TCG_WALK_PF;
			w->gpa = (e & PTE_ADDR & ~(size - 1)) | (la & (size - 1));
			w->page_size = size;
			w->dirty = e & PTE_D;
			*leaf_gpa = gpa;
			return 0;
		}
		if (set_ad && !pae_pdpte && !(e & PTE_A))
			pte_set(mem, pg, gpa, 8, PTE_A);
		table = e & PTE_ADDR;
	}
	return *err = 0, TCG_WALK_PF; /* not reached */
}

int tcg_mmu_walk(const struct guest_mem *mem, const struct tcg_paging *pg, uint64_t la,
		 enum tcg_access acc, bool user, bool set_ad, struct tcg_walk *out,
		 uint32_t *pf_err)
{
	struct tcg_walk w = { .all_user = true, .all_write = true };
	uint64_t leaf_gpa = 0;
	uint32_t err = 0;
	int r;

	if (!(pg->cr0 & X86_CR0_PG)) {
		w.gpa = long_mode(pg) ? la : (uint32_t)la;
		w.page_size = 4096;
		w.dirty = true;
		*out = w;
		return 0;
	}
	if (long_mode(pg)) {
		/* Canonical: bits 63:47 all equal (§3.3.7.1). */
		int64_t top = (int64_t)la >> 47;
		if (top != 0 && top != -1)
			return TCG_WALK_GP;
		r = walk_pae(mem, pg, la, 4, set_ad, &w, &leaf_gpa, &err);
	} else if (pg->cr4 & X86_CR4_PAE) {
		r = walk_pae(mem, pg, (uint32_t)la, 3, set_ad, &w, &leaf_gpa, &err);
	} else {
		r = walk_32(mem, pg, (uint32_t)la, &w, &leaf_gpa, &err);
	}
	if (r == TCG_WALK_PF) {
		*pf_err = pf_code(err, acc, user, pg);
		return r;
	}
	if (!access_ok(pg, &w, acc, user)) {
		*pf_err = pf_code(TCG_PF_P, acc, user, pg);
		return TCG_WALK_PF;
	}
	if (set_ad) {
		uint64_t bits = PTE_A | (acc == TCG_ACC_WRITE ? PTE_D : 0);
		unsigned size = long_mode(pg) || (pg->cr4 & X86_CR4_PAE) ? 8 : 4;
		if (!long_mode(pg) && !(pg->cr4 & X86_CR4_PAE) && w.page_size == 4096)
			pte_set(mem, pg, (pg->cr3 & 0xfffff000u) + (((uint32_t)la >> 22) << 2), 4, PTE_A);
		pte_set(mem, pg, leaf_gpa, size, bits);
		if (acc == TCG_ACC_WRITE)
			w.dirty = true;
	}
	*out = w;
	return 0;
}

static int lin_copy(const struct guest_mem *mem, const struct tcg_paging *pg, uint64_t la,
		    void *buf, const void *src, size_t len, bool user, uint32_t *pf_err,
		    uint64_t *fault_la)
{
	uint8_t *d = buf;
	const uint8_t *s = src;

	while (len) {
		struct tcg_walk w;
		size_t chunk = 4096 - (la & 4095);
		if (chunk > len)
			chunk = len;
		int r = tcg_mmu_walk(mem, pg, la, src ? TCG_ACC_WRITE : TCG_ACC_READ, user, true, &w,
				     pf_err);
		if (r) {
			*fault_la = la;
			return r;
		}
		void *p = gm_ptr(mem, w.gpa, chunk);
		if (!p)
			return -EFAULT;
		if (src) {
			memcpy(p, s, chunk);
			tcg_dirty_mark(pg->dirty, w.gpa);
			s += chunk;
		} else {
			memcpy(d, p, chunk);
			d += chunk;
		}
		la += chunk;
		len -= chunk;
	}
	return 0;
}

int tcg_lin_read(const struct guest_mem *mem, const struct tcg_paging *pg, uint64_t la,
		 void *buf, size_t len, bool user, uint32_t *pf_err, uint64_t *fault_la)
{
	return lin_copy(mem, pg, la, buf, NULL, len, user, pf_err, fault_la);
}

int tcg_lin_write(const struct guest_mem *mem, const struct tcg_paging *pg, uint64_t la,
		  const void *buf, size_t len, bool user, uint32_t *pf_err, uint64_t *fault_la)
{
	/* All or nothing, as a pushed frame must be: check every page first. */
	for (uint64_t a = la & ~4095ULL; a < la + len; a += 4096) {
		struct tcg_walk w;
		uint64_t at = a < la ? la : a;
		int r = tcg_mmu_walk(mem, pg, at, TCG_ACC_WRITE, user, false, &w, pf_err);
		if (r) {
			*fault_la = at;
			return r;
		}
	}
	return lin_copy(mem, pg, la, NULL, buf, len, user, pf_err, fault_la);
}
