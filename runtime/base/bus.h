/* An address bus: devices own disjoint ranges and see offsets into them.
 * One bus for MMIO, one for port I/O.
 *
 * Threading rule: ranges are added before vCPUs start and never removed
 * while they run, so lookups take no lock. Callbacks run on the vCPU thread
 * that made the access; a device whose state another thread also touches
 * protects it with its own lock. */
#ifndef EMBER_BUS_H
#define EMBER_BUS_H

#include <stddef.h>
#include <stdint.h>

struct bus_ops {
	/* len is 1, 2, 4 or 8; data is little-endian guest bytes. */
	void (*read)(void *opaque, uint64_t offset, void *data, uint32_t len);
	void (*write)(void *opaque, uint64_t offset, const void *data, uint32_t len);
};

struct bus_range {
	uint64_t base;
	uint64_t len;
	const struct bus_ops *ops;
	void *opaque;
	const char *name;
};

struct bus {
	const char *name; /* "mmio" or "pio", for log lines */
	struct bus_range *ranges; /* sorted by base, disjoint */
	size_t nr, cap;
};

void bus_init(struct bus *bus, const char *name);
void bus_destroy(struct bus *bus);
/* Refuses len 0, base+len overflow and overlap (-EINVAL / -EEXIST). */
int bus_add(struct bus *bus, uint64_t base, uint64_t len, const struct bus_ops *ops,
	    void *opaque, const char *name);
const struct bus_range *bus_find(const struct bus *bus, uint64_t addr, uint32_t len);
/* An access to nothing (or straddling a range's end) reads as zeros, is
 * logged rate-limited and returns -ENOENT; the guest goes on. */
int bus_read(const struct bus *bus, uint64_t addr, void *data, uint32_t len);
int bus_write(const struct bus *bus, uint64_t addr, const void *data, uint32_t len);

#endif
