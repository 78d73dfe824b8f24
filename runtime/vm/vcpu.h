/* vCPU threads: each runs guest code and dispatches exits to the buses;
 * nothing else happens on them. */
#ifndef EMBER_VCPU_H
#define EMBER_VCPU_H

#include <pthread.h>
#include <stdbool.h>

#include "runtime/backend/backend.h"
#include "runtime/base/bus.h"

struct vm;

struct vcpu {
	struct vm *vm;
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
int vcpu_start(struct vcpu *vcpu);
/* Kicks and joins; safe to call on a vCPU that never started. */
void vcpu_stop(struct vcpu *vcpu);

#endif
