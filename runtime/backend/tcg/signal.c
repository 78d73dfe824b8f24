/* How the TCG platform reaches its vCPUs: a request that makes a vCPU
 * leave guest code at its next block, whether it must stop, and the queue
 * of code ranges a vCPU drops before it runs again. The APICs (apic.c),
 * the timer thread and the vCPUs (vm.c, vcpu.c, smp.c) all use them; they
 * use nothing of those. */
#include "runtime/backend/tcg/tcg.h"

void tcg_vcpu_signal_locked(struct backend_vcpu *v)
{
	if (v->q.cs)
		tcg_qemu_request(v->q.cs);
	else if (atomic_load(&v->running))
		uc_emu_stop(v->uc); /* not started yet: RIP is still exact */
}

bool tcg_vcpu_must_stop(const struct backend_vcpu *v)
{
	if (v->vm->nr_lapics == 1)
		return atomic_load(&v->kick);
	return atomic_load(&v->yield);
}

void tcg_inval_queue_locked(struct backend_vcpu *v, uint64_t gpa, uint64_t len)
{
	if (v->nr_inval < TCG_MAX_INVAL) {
		v->inval[v->nr_inval].gpa = gpa;
		v->inval[v->nr_inval].len = len;
		v->nr_inval++;
	} else {
		v->inval_all = true;
	}
	++v->inval_seq;
}
