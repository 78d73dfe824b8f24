/* A VM's life after it is built: start, pause, stop, destroy, and the
 * small requests the controller makes of a running VM. */
#include "runtime/vm/vm.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <unistd.h>

#include "runtime/base/log.h"
#include "runtime/devices/i8042.h"
#include "runtime/vm/build.h"
#include "runtime/vm/virtio.h"

#define VM_PAUSE_TIMEOUT_MS 2000

static void vm_kick_all(void *opaque)
{
	struct vm *vm = opaque;
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		if (vm->vcpus[i].started)
			vm->be->vcpu_kick(vm->vcpus[i].bv);
}

int vm_pause(struct vm *vm)
{
	return run_gate_pause(&vm->gate, vm_kick_all, vm, VM_PAUSE_TIMEOUT_MS);
}

int vm_resume(struct vm *vm)
{
	run_gate_resume(&vm->gate);
	return 0;
}

bool vm_is_paused(struct vm *vm)
{
	return run_gate_paused(&vm->gate);
}

int vm_send_ctrl_alt_del(struct vm *vm)
{
	return i8042_send_ctrl_alt_del(vm->i8042);
}

void vm_counters(struct vm *vm, vm_counter_fn fn, void *ctx)
{
	if (vm)
		vm_devices_counters(&vm->devs, fn, ctx);
	else
		vm_legacy_zero_counters(fn, ctx);
}

static void vm_on_exit_event(void *opaque, uint32_t events)
{
	(void)events;
	struct vm *vm = opaque;
	uint64_t v;
	ssize_t n = read(vm->exit_efd, &v, sizeof(v));
	(void)n;
}

int vm_start(struct vm *vm)
{
	int r = evloop_add(vm->loop, vm->exit_efd, EPOLLIN, vm_on_exit_event, vm);
	if (r == 0)
		r = vm_console_start(&vm->console, vm->loop, vm->serial, vm->opts.console_in);
	if (r < 0) {
		log_err("VMM event loop set-up: %s", strerror(-r));
		return r;
	}
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		r = vcpu_start(&vm->vcpus[i]);
		if (r < 0) {
			log_err("vCPU %u: cannot start its thread: %s", i, strerror(-r));
			vm_request_exit(vm, 1);
			return r;
		}
	}
	return 0;
}

static void vm_unwatch(struct vm *vm)
{
	vm_console_stop(&vm->console);
	if (vm->exit_efd >= 0)
		evloop_del(vm->loop, vm->exit_efd);
}

/* Guest pages the host really backs: what the guest (and the loader)
 * touched. Only computed for Debug logs: mincore walks every page. */
static void vm_log_guest_resident(struct vm *vm)
{
	if (log_get_level() < LOG_DEBUG)
		return;
	uint64_t resident = 0;
	for (unsigned i = 0; i < vm->mem.nr_regions; i++) {
		const struct gm_region *g = &vm->mem.regions[i];
		size_t pages = g->size / 4096;
		unsigned char *vec = malloc(pages);
		if (!vec || mincore(g->host, g->size, vec) < 0) {
			free(vec);
			return;
		}
		for (size_t p = 0; p < pages; p++)
			resident += vec[p] & 1;
		free(vec);
	}
	log_debug("guest memory resident at exit: %" PRIu64 " KiB", resident * 4);
}

int vm_stop(struct vm *vm)
{
	if (!vm_stopping(vm))
		vm_request_exit(vm, 0);
	run_gate_wake(&vm->gate); /* parked vCPUs see the gate closed */
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_stop(&vm->vcpus[i]);
	vm_unwatch(vm);
	vm_log_guest_resident(vm);
	int code = atomic_load(&vm->exit_code);
	return code < 0 ? 1 : code;
}

int vm_run(struct vm *vm)
{
	if (vm_start(vm) == 0) {
		while (!vm_stopping(vm)) {
			int r = evloop_run_once(vm->loop, -1);
			if (r < 0) {
				log_err("VMM event loop: %s", strerror(-r));
				vm_request_exit(vm, 1);
			}
		}
	}
	return vm_stop(vm);
}

void vm_destroy(struct vm *vm)
{
	if (vm->vcpus) {
		for (unsigned i = 0; i < vm->nr_vcpus; i++) {
			vcpu_stop(&vm->vcpus[i]);
			if (vm->vcpus[i].bv)
				vm->be->vcpu_destroy(vm->vcpus[i].bv);
		}
		free(vm->vcpus);
		vm->vcpus = NULL;
	}
	/* The console watches the UART's output buffer: unwatched before the
	 * UART goes. */
	if (vm->loop)
		vm_unwatch(vm);
	/* Devices before the backend's VM: virtio transports hold irqfds and
	 * ioeventfds on it; before the hub their fds are watched by. */
	vm_devices_destroy(&vm->devs);
	vm->serial = NULL;
	vm->i8042 = NULL;
	vm_virtio_destroy(vm);
	if (vm->bvm)
		vm->be->vm_destroy(vm->bvm);
	vm->bvm = NULL;
	vm_dirty_free(&vm->dirty);
	gm_free(&vm->mem);
	if (vm->uffd >= 0)
		close(vm->uffd);
	vm->uffd = -1;
	/* Tells the page-fault handler the memory is gone. */
	if (vm->uffd_conn >= 0)
		close(vm->uffd_conn);
	vm->uffd_conn = -1;
	bus_destroy(&vm->mmio);
	bus_destroy(&vm->pio);
	if (vm->exit_efd >= 0)
		close(vm->exit_efd);
	vm->exit_efd = -1;
	run_gate_destroy(&vm->gate);
}
