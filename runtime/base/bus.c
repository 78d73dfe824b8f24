#include "runtime/base/bus.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/base/log.h"

void bus_init(struct bus *bus, const char *name)
{
	memset(bus, 0, sizeof(*bus));
	bus->name = name;
}

void bus_destroy(struct bus *bus)
{
	free(bus->ranges);
	bus->ranges = NULL;
	bus->nr = bus->cap = 0;
}

/* Index of the first range whose base is > addr. */
static size_t bus_upper(const struct bus *bus, uint64_t addr)
{
	size_t lo = 0, hi = bus->nr;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (bus->ranges[mid].base <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int bus_add(struct bus *bus, uint64_t base, uint64_t len, const struct bus_ops *ops,
	    void *opaque, const char *name)
{
	if (len == 0 || base + len < base || !ops)
		return -EINVAL;
	size_t pos = bus_upper(bus, base);
	if (pos > 0) {
		const struct bus_range *prev = &bus->ranges[pos - 1];
		if (prev->base + prev->len > base)
			return -EEXIST;
	}
	if (pos < bus->nr && bus->ranges[pos].base < base + len)
		return -EEXIST;
	if (bus->nr == bus->cap) {
		size_t cap = bus->cap ? bus->cap * 2 : 8;
		struct bus_range *r = realloc(bus->ranges, cap * sizeof(*r));
		if (!r)
			return -ENOMEM;
		bus->ranges = r;
		bus->cap = cap;
	}
	memmove(&bus->ranges[pos + 1], &bus->ranges[pos], (bus->nr - pos) * sizeof(*bus->ranges));
	bus->ranges[pos] = (struct bus_range){ base, len, ops, opaque, name };
	bus->nr++;
	return 0;
}

const struct bus_range *bus_find(const struct bus *bus, uint64_t addr, uint32_t len)
{
	size_t pos = bus_upper(bus, addr);
	if (pos == 0 || len == 0)
		return NULL;
	const struct bus_range *r = &bus->ranges[pos - 1];
	uint64_t off = addr - r->base;
	if (off >= r->len || len > r->len - off)
		return NULL;
	return r;
}

int bus_read(const struct bus *bus, uint64_t addr, void *data, uint32_t len)
{
	const struct bus_range *r = bus_find(bus, addr, len);
	if (!r) {
		memset(data, 0, len);
		log_ratelimited(LOG_DEBUG, "%s: read of %u bytes at 0x%" PRIx64 " hits no device",
				bus->name, len, addr);
		return -ENOENT;
	}
	if (r->ops->read)
		r->ops->read(r->opaque, addr - r->base, data, len);
	else
		memset(data, 0, len);
	return 0;
}

int bus_write(const struct bus *bus, uint64_t addr, const void *data, uint32_t len)
{
	const struct bus_range *r = bus_find(bus, addr, len);
	if (!r) {
		log_ratelimited(LOG_DEBUG, "%s: write of %u bytes at 0x%" PRIx64 " hits no device",
				bus->name, len, addr);
		return -ENOENT;
	}
	if (r->ops->write)
		r->ops->write(r->opaque, addr - r->base, data, len);
	return 0;
}
