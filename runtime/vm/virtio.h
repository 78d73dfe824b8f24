/* The VM's virtio-mmio devices, built from the config: the seam between
 * runtime/vm/vm.c and virtio/. */
#ifndef EMBER_VM_VIRTIO_H
#define EMBER_VM_VIRTIO_H

#include <stdint.h>

#include "runtime/boot/cmdline.h"
#include "runtime/base/err.h"

struct vm;
struct vm_config;

/* Creates every device cfg asks for (drives, network-interfaces, vsock,
 * entropy), registers each on vm->mmio in its own LAYOUT_MMIO_DEV_SIZE slot
 * from LAYOUT_MMIO_DEV_BASE with IRQ LAYOUT_FIRST_VIRTIO_IRQ + slot, and
 * appends "virtio_mmio.device=4K@0x...:IRQ" (and root=) to cl. */
int vm_virtio_create(struct vm *vm, const struct vm_config *cfg, struct cmdline *cl,
		     struct errbuf *err);
void vm_virtio_destroy(struct vm *vm);

/* PATCH /drives/{id} on a running VM: the drive gets a new backing file
 * (same read-only mode) and the guest a config-change interrupt. VMM
 * thread. -ENOENT if there is no such drive. */
int vm_virtio_update_drive(struct vm *vm, const char *drive_id, const char *path,
			   struct errbuf *err);

/* Every virtio counter, for metrics (VMM thread). Sections and names follow
 * Firecracker's metrics where it has them: "block_<drive_id>",
 * "net_<iface_id>", "vsock", "entropy"; the values are running totals. */
typedef void (*vm_virtio_counter_fn)(void *ctx, const char *section, const char *name,
				     uint64_t value);
void vm_virtio_counters(struct vm *vm, vm_virtio_counter_fn fn, void *ctx);

#endif
