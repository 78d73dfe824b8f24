/* Every device of a VM, legacy or virtio, known only through its
 * device_ops: what the VM counts (metrics), snapshots and frees without
 * knowing the device's kind. VMM thread. */
#ifndef EMBER_VM_DEVICES_H
#define EMBER_VM_DEVICES_H

#include <stdint.h>

#include "runtime/base/device.h"

/* "uart", "block_<drive id>", ...: the metrics group and the snapshot
 * section name. Fits a prefix and a config id (CONFIG_ID_MAX). */
#define VM_DEVICE_NAME_MAX 80

struct vm_device {
	char name[VM_DEVICE_NAME_MAX];
	const struct device_ops *ops;
	void *dev;
};

struct vm_devices {
	struct vm_device *list;
	unsigned n, cap;
};

typedef void (*vm_counter_fn)(void *ctx, const char *group, const char *name, uint64_t value);

/* Takes ownership of dev: on failure (-ENOMEM, -EEXIST for a name taken,
 * -ENAMETOOLONG) it is destroyed through ops. */
int vm_devices_add(struct vm_devices *d, const char *name, const struct device_ops *ops,
		   void *dev);
struct vm_device *vm_devices_find(struct vm_devices *d, const char *name);
/* Every device's counters, in the order the devices were added. */
void vm_devices_counters(const struct vm_devices *d, vm_counter_fn fn, void *ctx);
/* Destroys every device, last added first, and empties the list. */
void vm_devices_destroy(struct vm_devices *d);

#endif
