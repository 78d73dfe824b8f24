/* Building a VM, step by step. vm_create (build.c) builds one from a
 * config and boots its kernel; a VM restored from a snapshot takes the
 * same steps and then loads state instead of a kernel. Internal to
 * runtime/vm/. */
#ifndef EMBER_VM_BUILD_H
#define EMBER_VM_BUILD_H

#include <stdint.h>

#include "runtime/vm/vm.h"

struct vm_machine_spec {
	unsigned nr_vcpus;
	uint64_t mem_bytes;
	enum config_cpu_template cpu_template;
	const struct cpu_template *cpu_config; /* with CONFIG_CPU_TEMPLATE_CUSTOM */
	bool track_dirty; /* dirty-page tracking for Diff snapshots */
	bool clock_realtime; /* a restore advancing the guest's clocks (backend.h) */
	/* NULL: fresh memory of mem_bytes, every page counted dirty (the
	 * loader writes before any tracking). Else memory already mapped (a
	 * snapshot's), taken over whole: *mem is left empty; nothing dirty. */
	struct guest_mem *mem;
	int uffd; /* with mem: its userfaultfd, taken over; else -1 */
	int uffd_conn; /* and the connection to its handler, taken over; else -1 */
};

/* The machine without devices: memory, buses, the backend's VM with the
 * memory mapped, the exit eventfd and the run gate. */
int vm_build_machine(struct vm *vm, const struct backend_ops *be, const struct vm_opts *opts,
		     const struct vm_machine_spec *spec, struct errbuf *err);
/* The legacy devices every VM has (UART, i8042) and the optional boot timer. */
int vm_build_legacy(struct vm *vm, struct errbuf *err);
/* Adds a device's DSDT entry (vm->acpi.on only); -ENOSPC when full. */
int vm_acpi_add(struct vm *vm, const struct acpi_dev_desc *d, struct errbuf *err);
/* The vCPUs, with no registers set yet; their threads start in vm_start. */
int vm_build_vcpus(struct vm *vm, struct errbuf *err);
/* The legacy devices' counters with every value 0 (vm_counters(NULL)). */
void vm_legacy_zero_counters(vm_counter_fn fn, void *ctx);

#endif
