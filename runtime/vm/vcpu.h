/* vCPU threads: each runs guest code and dispatches exits to the buses;
 * nothing else happens on them. A vCPU thread sees its VM only through
 * struct vcpu_host. */
#ifndef EMBER_VM_VCPU_H
#define EMBER_VM_VCPU_H

#include <pthread.h>
#include <stdbool.h>

#include "runtime/backend/backend.h"
#include "runtime/base/bus.h"
#include "runtime/base/gmem.h"
#include "runtime/vm/run_gate.h"

/* The codes a VM ends with, which become the process's exit status
 * (docs/api.md, "Life of the process"; 2 is main's, for bad arguments, and
 * 128+N a signal's). */
#define VM_EXIT_RESET 0       /* the guest reset or powered off */
#define VM_EXIT_FAILURE 1     /* a fatal exit, or the VMM failed */
#define VM_EXIT_GUEST_PANIC 3 /* the guest kernel said it panicked (pvpanic) */

/* What a vCPU thread may use of its VM; shared by all its vCPUs. */
struct vcpu_host {
	const struct backend_ops *be;
	const struct bus *mmio, *pio;
	const struct guest_mem *mem; /* to quote the code bytes of a fatal exit */
	struct run_gate *gate;
	/* Asks the VM to end with this exit code (VM_EXIT_*). Callable from
	 * any thread; the first code asked for wins, so a guest's panic
	 * stays a panic when the reset it does next arrives. */
	void (*end)(void *ctx, int code);
	void *ctx;
	/* Every vCPU, for an exit a backend returns on another vCPU's thread
	 * (vcpu_exit.other); fixed once the vCPUs are built. */
	struct vcpu *vcpus;
	unsigned nr_vcpus;
};

struct vcpu {
	const struct vcpu_host *host;
	unsigned index;
	struct backend_vcpu *bv;
	pthread_t thread;
	bool started;
};

enum vcpu_action {
	VCPU_ACTION_CONTINUE,
	VCPU_ACTION_RESET, /* the guest asked for a reset: end the VM, code 0 */
	VCPU_ACTION_FATAL, /* report the exit and end the VM with an error */
};

/* Routes one exit to the buses. A plain function so tests can drive it with
 * fake buses and crafted exits. */
enum vcpu_action vcpu_dispatch_exit(const struct bus *mmio, const struct bus *pio,
				    struct vcpu_exit *exit);
/* Counts the thread in at the gate, then starts it. */
int vcpu_start(struct vcpu *vcpu);
/* Kicks and joins; safe to call on a vCPU that never started. */
void vcpu_stop(struct vcpu *vcpu);

#endif
