/* A microVM: guest memory, buses, legacy devices, vCPU threads and the VMM
 * thread's event loop. Built from a struct vm_config; the backend is chosen
 * by the caller (runtime/backend/accel.h). */
#ifndef EMBER_VM_H
#define EMBER_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include "runtime/backend/backend.h"
#include "runtime/base/bus.h"
#include "runtime/base/err.h"
#include "runtime/base/evloop.h"
#include "runtime/base/gmem.h"

struct vm_config;
struct serial;
struct i8042;
struct boot_timer;
struct vcpu;
struct vm_virtio;

struct vm_opts {
	struct evloop *loop;        /* the VMM thread's loop; outlives the VM */
	bool boot_timer;            /* register the boot-timer device (--boot-timer) */
	int console_in;             /* guest console input fd, -1 for none */
	int console_out;            /* guest console output fd */
	struct timespec start_wall; /* process start, CLOCK_MONOTONIC */
	struct timespec start_cpu;  /* process CPU time at start */
};

struct vm {
	const struct backend_ops *be;
	struct backend_vm *bvm;
	struct guest_mem mem;
	struct bus mmio, pio;
	struct evloop *loop;
	unsigned nr_vcpus;
	struct vcpu *vcpus;
	struct serial *serial;
	struct i8042 *i8042;
	struct boot_timer *boot_timer;
	struct vm_virtio *virtio; /* runtime/vm/virtio.c; NULL without virtio devices */
	struct vm_opts opts;
	int exit_efd;        /* written when some thread asks the VM to end */
	int console_retry_fd; /* timerfd: retry console input when the UART was full */
	bool console_in_armed;
	atomic_bool stopping;
	atomic_int exit_code;
	/* Pause handshake: vm_pause sets pause_requested, kicks, and waits
	 * until every started vCPU sits parked in vcpu_park(). */
	pthread_mutex_t pause_lock;
	pthread_cond_t pause_cond;
	bool pause_requested;
	unsigned nr_parked;
	unsigned nr_started;
};

/* Builds memory, devices, loads the kernel and sets up the vCPUs.
 * On failure everything built so far is released. */
int vm_create(struct vm *vm, const struct vm_config *cfg, const struct backend_ops *be,
	      const struct vm_opts *opts, struct errbuf *err);
/* Adds the VM's handlers to the loop and starts the vCPU threads. */
int vm_start(struct vm *vm);
/* True once the guest reset, failed, or vm_request_exit() was called. */
bool vm_stopping(struct vm *vm);
/* Stops and joins the vCPUs, removes the VM's handlers; returns the exit
 * code asked for (1 if none). */
int vm_stop(struct vm *vm);
/* vm_start, the loop until vm_stopping, vm_stop: the --no-api life. */
int vm_run(struct vm *vm);
/* From any thread (and from signal handlers: it only stores and writes an
 * eventfd). The first code asked for wins. */
void vm_request_exit(struct vm *vm, int code);
void vm_destroy(struct vm *vm);
/* From the VMM thread: stop all vCPUs at an exit boundary (device state is
 * then quiet for a snapshot) / let them run again. Idempotent. vm_pause
 * returns -ESHUTDOWN if the VM is ending, -ETIMEDOUT (and leaves the VM
 * running) if a vCPU does not park within 2 s. */
int vm_pause(struct vm *vm);
int vm_resume(struct vm *vm);
bool vm_is_paused(struct vm *vm);
/* Called by a vCPU thread between exits: parks while a pause is asked for. */
void vm_vcpu_checkpoint(struct vm *vm);
/* Called by a vCPU thread as it ends, so a pending vm_pause stops waiting for it. */
void vm_vcpu_gone(struct vm *vm);

/* The irq_line callback devices get: drives a GSI on the backend. */
int vm_irq_set(void *vm, unsigned gsi, bool level);

#endif
