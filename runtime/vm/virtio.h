/* The VM's virtio-mmio devices, built from the config: the seam between
 * runtime/vm/ and virtio/. Each transport joins the VM's device list
 * (runtime/vm/devices.h) under its metrics group name. VMM thread. */
#ifndef EMBER_VM_VIRTIO_H
#define EMBER_VM_VIRTIO_H

#include "runtime/base/err.h"
#include "runtime/boot/cmdline.h"

struct vm;
struct vm_config;

/* Creates every device cfg asks for (drives, network-interfaces, vsock,
 * entropy), registers each on vm->mmio in its own LAYOUT_MMIO_DEV_SIZE slot
 * from LAYOUT_MMIO_DEV_BASE with IRQ LAYOUT_FIRST_VIRTIO_IRQ + slot, and
 * appends "virtio_mmio.device=4K@0x...:IRQ" (and root=) to cl. */
int vm_virtio_create(struct vm *vm, const struct vm_config *cfg, struct cmdline *cl,
		     struct errbuf *err);
/* Frees what vm_virtio_create built besides the devices (their event hub):
 * after the devices themselves are gone (vm_devices_destroy). */
void vm_virtio_destroy(struct vm *vm);

/* PATCH /drives/{id} on a running VM: the drive gets a new backing file
 * (same read-only mode) and the guest a config-change interrupt. -ENOENT if
 * there is no such drive. */
int vm_virtio_update_drive(struct vm *vm, const char *drive_id, const char *path,
			   struct errbuf *err);

#endif
