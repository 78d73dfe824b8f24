/* pvpanic, as QEMU's hw/misc/pvpanic-isa.c presents it to the guest. */
#include "runtime/devices/pvpanic.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/base/log.h"

struct pvpanic {
	void (*panicked)(void *ctx);
	void *ctx;
	atomic_uint_fast64_t panics;
	atomic_uint_fast64_t crash_loaded;
};

static void pvpanic_read(void *opaque, uint64_t offset, void *data, uint32_t len)
{
	(void)opaque;
	memset(data, 0, len);
	if (offset == 0 && len == 1)
		*(uint8_t *)data = PVPANIC_EVENTS;
}

static void pvpanic_write(void *opaque, uint64_t offset, const void *data, uint32_t len)
{
	struct pvpanic *pv = opaque;
	if (offset != 0 || len != 1) {
		log_ratelimited(LOG_DEBUG, "pvpanic: ignored %u-byte write", len);
		return;
	}
	uint8_t ev = *(const uint8_t *)data;
	/* A guest may write again and again: only the first panic speaks
	 * and ends the VM; the rest are counted. */
	if (ev & PVPANIC_PANICKED) {
		if (atomic_fetch_add(&pv->panics, 1) == 0) {
			log_err("guest kernel panicked");
			if (pv->panicked)
				pv->panicked(pv->ctx);
		}
	} else if (ev & PVPANIC_CRASH_LOADED) {
		if (atomic_fetch_add(&pv->crash_loaded, 1) == 0)
			log_warn("guest kernel panicked with a crash kernel loaded; it runs on");
	} else if (ev) {
		log_ratelimited(LOG_DEBUG, "pvpanic: ignored event bits 0x%02x", ev);
	}
}

const struct bus_ops pvpanic_bus_ops = { .read = pvpanic_read, .write = pvpanic_write };

int pvpanic_create(struct pvpanic **out, void (*panicked)(void *ctx), void *ctx)
{
	struct pvpanic *pv = calloc(1, sizeof(*pv));
	if (!pv)
		return -ENOMEM;
	pv->panicked = panicked;
	pv->ctx = ctx;
	atomic_init(&pv->panics, 0);
	atomic_init(&pv->crash_loaded, 0);
	*out = pv;
	return 0;
}

int pvpanic_register(struct pvpanic *pv, struct bus *pio)
{
	return bus_add(pio, PVPANIC_PORT, 1, &pvpanic_bus_ops, pv, "pvpanic");
}

void pvpanic_destroy(struct pvpanic *pv)
{
	free(pv);
}

static void pvpanic_counters(void *dev, device_counter_fn fn, void *ctx)
{
	struct pvpanic *pv = dev;
	fn(ctx, "panic_count", pv ? atomic_load(&pv->panics) : 0);
	fn(ctx, "crash_loaded_count", pv ? atomic_load(&pv->crash_loaded) : 0);
}

static int pvpanic_save(void *dev, void *buf, size_t len)
{
	(void)dev;
	struct pvpanic_state st = { .version = PVPANIC_STATE_VERSION };
	if (len < sizeof(st))
		return -ENOSPC;
	memcpy(buf, &st, sizeof(st));
	return (int)sizeof(st);
}

static int pvpanic_restore(void *dev, const void *buf, size_t len)
{
	(void)dev;
	struct pvpanic_state st;
	if (len != sizeof(st))
		return -EINVAL;
	memcpy(&st, buf, sizeof(st));
	return st.version == PVPANIC_STATE_VERSION ? 0 : -EINVAL;
}

static void pvpanic_dev_destroy(void *dev)
{
	pvpanic_destroy(dev);
}

const struct device_ops pvpanic_device_ops = {
	.counters = pvpanic_counters,
	.save = pvpanic_save,
	/* Added after snapshots were: older ones lack its section. */
	.absent_is_power_on = true,
	.restore = pvpanic_restore,
	.destroy = pvpanic_dev_destroy,
};
