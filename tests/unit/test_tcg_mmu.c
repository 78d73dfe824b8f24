/* runtime/backend/tcg/mmu.c: the 4-level page walk, rights, A/D bits and the
 * page-fault error code (SDM Vol. 3A §4.5-§4.7). */
#include <criterion/criterion.h>
#include <string.h>

#include "runtime/base/gmem.h"
#include "runtime/backend/tcg/mmu.h"
#include "runtime/backend/x86.h"

static struct guest_mem mem;
static uint64_t *pml4, *pdpt, *pd, *pt;

static void setup(void)
{
	cr_assert_eq(gm_alloc(&mem, 4ULL << 20), 0);
	pml4 = gm_ptr(&mem, 0x1000, 4096);
	pdpt = gm_ptr(&mem, 0x2000, 4096);
	pd = gm_ptr(&mem, 0x3000, 4096);
	pt = gm_ptr(&mem, 0x4000, 4096);
	pml4[0] = 0x2000 | 7;
	pdpt[0] = 0x3000 | 7;
	pd[0] = 0x4000 | 7;        /* 0-2 MiB through a page table */
	pd[1] = 0x200000 | 0x83;   /* 2-4 MiB: supervisor 2 MiB page */
	pt[1] = 0x9000 | 3;        /* 0x1000: supervisor, writable */
	pt[2] = 0xa000 | 5;        /* 0x2000: user, read-only */
	pt[3] = 0xb000 | 7 | (1ULL << 63); /* 0x3000: user, writable, no-execute */
	pt[4] = 0xc000 | 3;
	pt[5] = 0xd000 | 3;        /* 0x6000 and up: not present */
}

static void teardown(void)
{
	gm_free(&mem);
}

static struct tcg_paging pg(void)
{
	return (struct tcg_paging){ X86_CR0_PE | X86_CR0_PG | X86_CR0_WP, 0x1000, X86_CR4_PAE,
				    X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE, true };
}

TestSuite(tcg_mmu, .init = setup, .fini = teardown);

Test(tcg_mmu, translates_and_sets_accessed_and_dirty)
{
	struct tcg_paging p = pg();
	struct tcg_walk w;
	uint32_t err;
	cr_assert_eq(tcg_mmu_walk(&mem, &p, 0x1234, TCG_ACC_WRITE, false, true, &w, &err), 0);
	cr_assert_eq(w.gpa, 0x9234);
	cr_assert_eq(w.page_size, 4096);
	cr_assert(pt[1] & (1 << 5) && pt[1] & (1 << 6), "A and D set on the leaf");
	cr_assert(pml4[0] & (1 << 5), "A set on the upper levels");
	cr_assert_eq(tcg_mmu_walk(&mem, &p, 0x201234, TCG_ACC_READ, false, false, &w, &err), 0);
	cr_assert_eq(w.gpa, 0x201234);
	cr_assert_eq(w.page_size, 2u << 20);
}

Test(tcg_mmu, error_codes)
{
	struct tcg_paging p = pg();
	struct tcg_walk w;
	uint32_t err;
	cr_assert_eq(tcg_mmu_walk(&mem, &p, 0x6000, TCG_ACC_WRITE, true, false, &w, &err), TCG_WALK_PF);
	cr_assert_eq(err, TCG_PF_W | TCG_PF_U, "not present");
	cr_assert_eq(tcg_mmu_walk(&mem, &p, 0x1000, TCG_ACC_READ, true, false, &w, &err), TCG_WALK_PF);
	cr_assert_eq(err, TCG_PF_P | TCG_PF_U, "user touching a supervisor page");
	cr_assert_eq(tcg_mmu_walk(&mem, &p, 0x2000, TCG_ACC_WRITE, false, false, &w, &err), TCG_WALK_PF);
	cr_assert_eq(err, TCG_PF_P | TCG_PF_W, "CR0.WP: supervisor write to a read-only page");
	cr_assert_eq(tcg_mmu_walk(&mem, &p, 0x3000, TCG_ACC_FETCH, true, false, &w, &err), TCG_WALK_PF);
	cr_assert_eq(err, TCG_PF_P | TCG_PF_U | TCG_PF_I, "fetch from a no-execute page");
	cr_assert_eq(tcg_mmu_walk(&mem, &p, 0x3000, TCG_ACC_WRITE, true, false, &w, &err), 0);
	p.cr0 &= ~X86_CR0_WP;
	cr_assert_eq(tcg_mmu_walk(&mem, &p, 0x2000, TCG_ACC_WRITE, false, false, &w, &err), 0,
		     "without WP the supervisor may write");
}

Test(tcg_mmu, reserved_bits_and_canonical_addresses)
{
	struct tcg_paging p = pg();
	struct tcg_walk w;
	uint32_t err;
	p.nx = false; /* XD becomes a reserved bit */
	cr_assert_eq(tcg_mmu_walk(&mem, &p, 0x3000, TCG_ACC_READ, false, false, &w, &err), TCG_WALK_PF);
	cr_assert_eq(err, TCG_PF_P | TCG_PF_RSVD);
	p = pg();
	pd[2] = 0x300000 | 0x1000 | 0x2000 | 0x83; /* PAT bit fine, bit 13 reserved */
	cr_assert_eq(tcg_mmu_walk(&mem, &p, 0x400000, TCG_ACC_READ, false, false, &w, &err), TCG_WALK_PF);
	cr_assert(err & TCG_PF_RSVD);
	cr_assert_eq(tcg_mmu_walk(&mem, &p, 0x0000800000000000ULL, TCG_ACC_READ, false, false, &w, &err),
		     TCG_WALK_GP);
}

Test(tcg_mmu, paging_off_and_linear_copies)
{
	struct tcg_paging p = { X86_CR0_PE, 0, 0, 0, false };
	struct tcg_walk w;
	uint32_t err;
	uint64_t la;
	cr_assert_eq(tcg_mmu_walk(&mem, &p, 0x1234567890ULL, TCG_ACC_READ, false, false, &w, &err), 0);
	cr_assert_eq(w.gpa, 0x34567890, "32-bit linear addresses outside long mode");
	p = pg();
	const char msg[] = "crosses a page";
	cr_assert_eq(tcg_lin_write(&mem, &p, 0x4ff8, msg, sizeof(msg), false, &err, &la), 0);
	cr_assert_eq(memcmp(gm_ptr(&mem, 0xcff8, 8), msg, 8), 0);
	cr_assert_eq(memcmp(gm_ptr(&mem, 0xd000, sizeof(msg) - 8), msg + 8, sizeof(msg) - 8), 0);
	char buf[sizeof(msg)];
	cr_assert_eq(tcg_lin_read(&mem, &p, 0x4ff8, buf, sizeof(buf), false, &err, &la), 0);
	cr_assert_str_eq(buf, msg);
	/* All or nothing: the second page faults, the first is not written. */
	memset(gm_ptr(&mem, 0xdff8, 8), 0, 8);
	cr_assert_eq(tcg_lin_write(&mem, &p, 0x5ff8, msg, sizeof(msg), false, &err, &la), TCG_WALK_PF);
	cr_assert_eq(la, 0x6000);
	cr_assert_eq(*(uint64_t *)gm_ptr(&mem, 0xdff8, 8), 0);
}

static unsigned marked(const struct tcg_dirty *d, uint64_t *first)
{
	unsigned n = 0;
	for (uint64_t pg = d->nr_pages; pg-- > 0;)
		if (d->bits[pg / 64] & (1ULL << (pg % 64))) {
			*first = pg;
			n++;
		}
	return n;
}

/* The walk's A/D updates and pushed frames are CPU writes a Diff
 * snapshot must carry; bits already set are not writes. */
Test(tcg_mmu, a_d_updates_and_linear_writes_mark_pages_dirty)
{
	struct tcg_dirty d;
	struct tcg_paging p = pg();
	struct tcg_walk w;
	uint32_t err;
	uint64_t la, first = 0;
	cr_assert_eq(tcg_dirty_init(&d, 4ULL << 20), 0);
	p.dirty = &d;
	cr_assert_eq(tcg_mmu_walk(&mem, &p, 0x1234, TCG_ACC_READ, false, true, &w, &err), 0);
	cr_assert_eq(marked(&d, &first), 4, "A on all four tables");
	memset(d.bits, 0, (d.nr_pages + 63) / 64 * 8);
	cr_assert_eq(tcg_mmu_walk(&mem, &p, 0x1234, TCG_ACC_READ, false, true, &w, &err), 0);
	cr_assert_eq(marked(&d, &first), 0, "nothing new");
	cr_assert_eq(tcg_mmu_walk(&mem, &p, 0x1234, TCG_ACC_WRITE, false, true, &w, &err), 0);
	cr_assert_eq(marked(&d, &first), 1, "D on the leaf");
	cr_assert_eq(first, 0x4);
	memset(d.bits, 0, (d.nr_pages + 63) / 64 * 8);
	uint64_t frame[2] = { 1, 2 };
	cr_assert_eq(tcg_lin_write(&mem, &p, 0x3ff8, frame, sizeof(frame), false, &err, &la), 0);
	cr_assert_eq(marked(&d, &first), 3, "A/D in the page table, 0xb000 and 0xc000 written");
	cr_assert_eq(first, 0x4);
	cr_assert(d.bits[0] & (1ULL << 0xb) && d.bits[0] & (1ULL << 0xc));
	tcg_dirty_free(&d);
}
