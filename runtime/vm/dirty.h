/* Which guest pages changed since the last snapshot, for Diff snapshots.
 * Two writers no single tracker sees: the guest's CPUs (the backend's
 * dirty_log, read when a snapshot is taken) and the devices, which write
 * guest memory through host pointers (marked here as they do it, from the
 * virtqueue's written hook). One bit per 4 KiB page of each memory region.
 * Marking is atomic (any thread); collect and clear run on the VMM thread
 * while the VM is paused. */
#ifndef EMBER_VM_DIRTY_H
#define EMBER_VM_DIRTY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "runtime/backend/backend.h"
#include "runtime/base/gmem.h"

#define VM_PAGE_SIZE 4096ULL

struct vm_dirty {
	bool on;
	_Atomic uint64_t *bits[GM_MAX_REGIONS];
	uint64_t nr_pages[GM_MAX_REGIONS];
	/* What the backend reported but was not yet written to a snapshot
	 * (the backend starts a new interval at every read). */
	uint64_t *scratch;
	uint64_t scratch_words;
};

/* all: start with every page dirty (a VM built from a config: the loader
 * wrote memory before any tracking, so a first Diff must hold it all). */
int vm_dirty_init(struct vm_dirty *d, const struct guest_mem *mem, bool all);
void vm_dirty_free(struct vm_dirty *d);
/* Marks the pages [gpa, gpa + len) touches; outside guest RAM is ignored. */
void vm_dirty_mark(struct vm_dirty *d, const struct guest_mem *mem, uint64_t gpa, uint64_t len);
/* ORs what the backend's CPUs wrote since its last report into the bitmap. */
int vm_dirty_collect(struct vm_dirty *d, const struct backend_ops *be, struct backend_vm *bvm);
bool vm_dirty_test(const struct vm_dirty *d, unsigned region, uint64_t page);
void vm_dirty_clear(struct vm_dirty *d);

#endif
