/* The guest pages the TCG vCPU writes, for Diff snapshots
 * (backend_vm_opts.track_dirty, backend_ops.dirty_log).
 *
 * Every CPU write to guest RAM passes one of three places, and each marks
 * the page here: QEMU's stores, through a TLB entry that our fill
 * (qemu/qemu.c) makes writable only for a store, and marks then, or for
 * any access to a page marked already (its next stores need no telling);
 * the page walk setting accessed and dirty bits (mmu.c); the frames that
 * interrupt delivery pushes (mmu.c, tcg_lin_write). After a harvest the
 * TLB is flushed, so that each page's next store comes back to the fill.
 * Device writes (virtqueue buffers) are not here: the VM tracks those.
 *
 * A bit per 4 KiB page of guest-physical memory. Marked by the vCPU
 * thread, harvested by the VMM thread while the vCPU is paused; atomics,
 * relaxed, since the run gate orders the two. */
#ifndef EMBER_TCG_DIRTY_H
#define EMBER_TCG_DIRTY_H

#include <stdbool.h>
#include <stdint.h>

struct tcg_dirty {
	uint64_t *bits;
	uint64_t nr_pages;
};

static inline void tcg_dirty_mark(struct tcg_dirty *d, uint64_t gpa)
{
	uint64_t pg = gpa >> 12;
	if (!d || pg >= d->nr_pages)
		return;
	uint64_t *w = &d->bits[pg / 64], m = 1ULL << (pg % 64);
	/* Most stores hit a page marked already: keep the line shared. */
	if (!(__atomic_load_n(w, __ATOMIC_RELAXED) & m))
		__atomic_fetch_or(w, m, __ATOMIC_RELAXED);
}

static inline bool tcg_dirty_test(const struct tcg_dirty *d, uint64_t gpa)
{
	uint64_t pg = gpa >> 12;
	return pg < d->nr_pages && (__atomic_load_n(&d->bits[pg / 64], __ATOMIC_RELAXED) >> (pg % 64)) & 1;
}

/* Pages [0, mem_end). 0 or -ENOMEM. */
int tcg_dirty_init(struct tcg_dirty *d, uint64_t mem_end);
void tcg_dirty_free(struct tcg_dirty *d);
/* ORs the marks of pages [gpa, gpa + size) into bitmap (bit i: page
 * gpa + 4096 i; ceil(size / 2^18) words) and clears them. gpa and size
 * are multiples of 4096. */
void tcg_dirty_harvest(struct tcg_dirty *d, uint64_t gpa, uint64_t size, uint64_t *bitmap);

#endif
