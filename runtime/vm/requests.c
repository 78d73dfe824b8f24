/* What devices and vCPU threads may ask of their VM, from any thread:
 * drive an interrupt line, end the VM. Below the rest of runtime/vm/, so
 * the devices it builds never call back up into its life cycle. */
#include <unistd.h>

#include "runtime/vm/vm.h"

int vm_irq_set(void *opaque, unsigned gsi, bool level)
{
	struct vm *vm = opaque;
	return vm->be->set_irq_line(vm->bvm, gsi, level);
}

void vm_request_exit(struct vm *vm, int code)
{
	int expected = -1;
	atomic_compare_exchange_strong(&vm->exit_code, &expected, code);
	run_gate_close(&vm->gate);
	uint64_t one = 1;
	ssize_t w = write(vm->exit_efd, &one, sizeof(one));
	(void)w; /* a full counter still wakes the loop */
}

void vm_guest_written(void *opaque, uint64_t gpa, uint64_t len)
{
	struct vm *vm = opaque;
	vm_dirty_mark(&vm->dirty, &vm->mem, gpa, len);
	if (vm->be->guest_written)
		vm->be->guest_written(vm->bvm, gpa, len);
}

bool vm_stopping(struct vm *vm)
{
	return run_gate_closed(&vm->gate);
}

