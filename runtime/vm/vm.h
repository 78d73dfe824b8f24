/* A microVM: guest memory, buses, devices, vCPU threads, and its share of
 * the VMM thread's event loop. Built from a struct vm_config
 * (runtime/vm/build.c); the backend is chosen by the caller
 * (runtime/backend/accel.h). Every function here but vm_request_exit and
 * vm_stopping runs on the VMM thread. */
#ifndef EMBER_VM_VM_H
#define EMBER_VM_VM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "runtime/backend/backend.h"
#include "runtime/base/bus.h"
#include "runtime/base/err.h"
#include "runtime/base/evloop.h"
#include "runtime/base/gmem.h"
#include "runtime/boot/acpi/acpi.h"
#include "runtime/vm/console.h"
#include "runtime/vm/devices.h"
#include "runtime/vm/dirty.h"
#include "runtime/vm/run_gate.h"
#include "runtime/vm/vcpu.h"

struct vm_config;
struct serial;
struct i8042;
struct vm_virtio;

struct mmds;

struct vm_opts {
	struct evloop *loop;        /* the VMM thread's loop; outlives the VM */
	bool boot_timer;            /* register the boot-timer device (--boot-timer) */
	int console_in;             /* guest console input fd, -1 for none */
	int console_out;            /* guest console output fd */
	struct timespec start_wall; /* process start, CLOCK_MONOTONIC */
	struct timespec start_cpu;  /* process CPU time at start */
	struct mmds *mmds;          /* MMDS for mmds-config's interfaces; may be NULL */
};

/* How the guest learns its devices: from ACPI tables (on), or, when its
 * command line says acpi=off, from virtio_mmio.device= parameters. One way
 * at a time, so a kernel that knows both never registers a device twice.
 * Devices add their DSDT entry while they are built. */
struct vm_acpi {
	bool on;
	unsigned n;
	struct acpi_dev_desc devs[ACPI_MAX_DEVS];
};

struct vm {
	const struct backend_ops *be;
	struct backend_vm *bvm;
	struct guest_mem mem;
	struct vm_dirty dirty;      /* pages written since the last snapshot (track_dirty_pages) */
	int uffd;                   /* the Uffd memory backend's userfaultfd, or -1 */
	int uffd_conn;              /* and the connection to its handler (runtime/vm/uffd.h) */
	struct bus mmio, pio;
	struct evloop *loop;
	struct vm_opts opts;
	unsigned nr_vcpus;
	struct vcpu *vcpus;
	struct vcpu_host vcpu_host; /* what the vCPU threads see of this VM */
	struct vm_devices devs;     /* every device: counters, snapshots, teardown */
	struct serial *serial;      /* in devs too: console input goes here */
	struct i8042 *i8042;        /* in devs too: Ctrl-Alt-Del */
	struct vm_virtio *virtio;   /* runtime/vm/virtio.c; NULL without virtio devices */
	struct vm_acpi acpi;        /* off on a restore: its tables are in guest memory */
	struct vm_console console;
	struct run_gate gate;       /* pause and end, with the vCPU threads */
	int exit_efd;               /* written when some thread asks the VM to end */
	atomic_int exit_code;       /* -1 until asked */
};

/* Builds memory, devices, loads the kernel and sets up the vCPUs.
 * On failure everything built so far is released. */
int vm_create(struct vm *vm, const struct vm_config *cfg, const struct backend_ops *be,
	      const struct vm_opts *opts, struct errbuf *err);
/* Adds the VM's handlers to the loop and starts the vCPU threads. */
int vm_start(struct vm *vm);
/* True once the guest reset, failed, or vm_request_exit() was called. Any thread. */
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
/* Stop all vCPUs at an exit boundary (device state is then quiet for a
 * snapshot) / let them run again. Idempotent. vm_pause returns -ESHUTDOWN
 * if the VM is ending, -ETIMEDOUT (and leaves the VM running) if a vCPU
 * does not park within 2 s. */
int vm_pause(struct vm *vm);
int vm_resume(struct vm *vm);
bool vm_is_paused(struct vm *vm);

/* SendCtrlAltDel: the key presses through the i8042. -ENOSPC if its queue
 * is full. */
int vm_send_ctrl_alt_del(struct vm *vm);
/* Every device's counters as (group, name, running total), devices in the
 * order they were built. vm NULL: the groups every VM has, all 0, so that
 * reports made before a VM exists have the same shape. */
void vm_counters(struct vm *vm, vm_counter_fn fn, void *ctx);

/* The irq_line callback devices get: drives a GSI on the backend. */
int vm_irq_set(void *vm, unsigned gsi, bool level);
/* The virtqueue written hook devices get: a device wrote guest memory
 * [gpa, gpa + len) (dirty pages; the backend's guest_written). */
void vm_guest_written(void *vm, uint64_t gpa, uint64_t len);

#endif
