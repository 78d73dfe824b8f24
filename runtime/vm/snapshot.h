/* Snapshots of a VM: save a paused VM into a memory file and a state file
 * (snapshots/format.h), and build a VM back from them (restore.c). The
 * state file's sections:
 *   vm/machine    backend name, vCPU count, memory layout
 *   vm/config     the configuration, as GET /vm/config shows it (JSON)
 *   vm/platform   the interrupt controllers and timers: version 2 the
 *                 neutral form (x86_platform.h), version 1 the backend's own
 *   vcpu/<i>      struct x86_cpu_state of each vCPU
 *   vcpu/<i>/cpuid  the CPUID table the vCPU presented
 *   dev/<name>    each device's state, named as in the VM's device list
 * VMM thread only. */
#ifndef EMBER_VM_SNAPSHOT_H
#define EMBER_VM_SNAPSHOT_H

#include "config/config.h"
#include "config/snapshot.h"
#include "runtime/base/err.h"
#include "snapshots/format.h"

/* A CPUID table longer than this is not one a backend presents. */
#define VM_SNAPSHOT_MAX_CPUID 1024

struct vm;
struct vm_opts;
struct backend_ops;

/* The VM must be paused (every vCPU parked) with nothing in flight: device
 * code runs on the VMM thread, which is here. A Diff needs dirty-page
 * tracking (-EINVAL otherwise). The memory file is written first, then
 * the state file atomically; after a snapshot the dirty pages start anew. */
int vm_snapshot_save(struct vm *vm, const struct vm_config *cfg,
		     const struct config_snapshot_create *req, struct errbuf *err);

/* What a restore needs to know before it builds anything. */
struct vm_snapshot_info {
	char backend[16];  /* backend_ops.name of the VM that was saved */
	unsigned nr_vcpus;
	uint64_t mem_total;
};

/* Reads vm/machine (and checks the memory layout it describes). */
int vm_snapshot_info(const struct snap_file *snap, struct vm_snapshot_info *info,
		     struct errbuf *err);
/* The saved configuration with the load request's overrides applied
 * (network_overrides, vsock_override, track_dirty_pages); *cfg is
 * overwritten. Checks it against info. */
int vm_snapshot_config(const struct snap_file *snap, const struct vm_snapshot_info *info,
		       const struct config_snapshot_load *load, struct vm_config *cfg,
		       struct errbuf *err);

/* Builds vm from the snapshot on backend be, which may be another than
 * the one it was taken on (docs/snapshots.md, "Across backends"): memory from the load request's backend
 * (File: the memory file mapped private; Uffd: a page-fault handler), the
 * devices of cfg (from vm_snapshot_config), the vCPUs, then each state
 * restored: vCPUs, platform, devices. The VM is left paused, its vCPU
 * threads not started (vm_start parks them at once). On failure nothing
 * is left. */
int vm_restore(struct vm *vm, const struct backend_ops *be, const struct vm_opts *opts,
	       const struct snap_file *snap, const struct vm_config *cfg,
	       const struct config_snapshot_load *load, struct errbuf *err);

#endif
