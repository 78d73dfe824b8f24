/* What the VM knows of a device besides its bus callbacks. Every device,
 * legacy or virtio, describes itself through this table, so the VM can
 * count, snapshot and free its devices without knowing their kinds. */
#ifndef EMBER_BASE_DEVICE_H
#define EMBER_BASE_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef void (*device_counter_fn)(void *ctx, const char *name, uint64_t value);

struct device_ops {
	/* Reports each counter as a running total, always the same names in
	 * the same order (VMM thread). dev NULL: the same names, all 0, for
	 * reports made before the device exists. NULL: no counters. */
	void (*counters)(void *dev, device_counter_fn fn, void *ctx);
	/* Snapshot state; NULL when the device cannot be snapshotted. save
	 * writes the device's versioned state into buf and returns its size,
	 * -ENOSPC if len is too small. restore checks all of buf (it comes
	 * from a file: hostile) before changing anything; -EINVAL if bad. */
	int (*save)(void *dev, void *buf, size_t len);
	int (*restore)(void *dev, const void *buf, size_t len);
	/* A snapshot without this device's section (taken by an Ember that
	 * did not have the device, so the guest never knew it) restores it as
	 * at power-on instead of being refused. */
	bool absent_is_power_on;
	/* Optional: guest memory the device writes on its own account, which
	 * no written hook reports (a virtqueue's used ring), so a Diff
	 * snapshot includes it. Calls mark(ctx, gpa, len) for each range. */
	void (*written_ranges)(void *dev, void (*mark)(void *ctx, uint64_t gpa, uint64_t len),
			       void *ctx);
	void (*destroy)(void *dev);
};

#endif
