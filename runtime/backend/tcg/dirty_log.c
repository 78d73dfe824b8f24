/* The dirty_log op: the pages the guest's CPU wrote in one memory slot,
 * harvested from the tracker (dirty.c), then a TLB flush so that the next
 * store to each page is seen again. */
#include <errno.h>

#include "runtime/backend/tcg/tcg.h"

/* backend_ops.dirty_log, from the VMM thread with the vCPU paused. The
 * harvest and the flush must not be separated by a guest store, or a
 * store through a still-writable TLB entry would go unseen in the next
 * interval: with the vCPU outside uc_emu_start (checked under the lock
 * the vCPU takes before going back in) none can come. */
int tcg_dirty_log(struct backend_vm *vm, unsigned slot, uint64_t *bitmap)
{
	if (!vm->dirty.bits || !bitmap)
		return -EINVAL; /* the VM was created without track_dirty */
	const struct tcg_slot *s = NULL;
	for (unsigned i = 0; i < vm->nr_slots; i++)
		if (vm->slots[i].id == slot)
			s = &vm->slots[i];
	if (!s)
		return -EINVAL;
	pthread_mutex_lock(&vm->lock);
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		if (atomic_load(&vm->vcpus[i]->running)) {
			pthread_mutex_unlock(&vm->lock);
			return -EBUSY;
		}
	}
	tcg_dirty_harvest(&vm->dirty, s->gpa, s->size, bitmap);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		tcg_qemu_tlb_flush(&vm->vcpus[i]->q);
	pthread_mutex_unlock(&vm->lock);
	return 0;
}
