/* Boot-time signal, as Firecracker's devices/pseudo/boot_timer.rs. */
#include "runtime/devices/boot_timer.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/base/log.h"

/* Firecracker's exact line, which its tooling and ours parse. */
#define BOOT_TIMER_FMT                                                                     \
	"Guest-boot-time = %6" PRIu64 " us %" PRIu64 " ms, %6" PRIu64 " CPU us %" PRIu64 \
	" CPU ms"

struct boot_timer {
	struct timespec start_wall, start_cpu;
	void (*cb)(void *ctx, uint64_t wall_us, uint64_t cpu_us);
	void *cb_ctx;
	_Atomic uint64_t last_us;
	atomic_uint hits;
};

/* Microseconds from a to b, 0 if b is earlier (clocks never go back, but
 * a caller could pass a bogus start). */
static uint64_t boot_timer_us_between(const struct timespec *a, const struct timespec *b)
{
	int64_t ns = (int64_t)(b->tv_sec - a->tv_sec) * 1000000000 + (b->tv_nsec - a->tv_nsec);
	return ns > 0 ? (uint64_t)ns / 1000 : 0;
}

static void boot_timer_signal(struct boot_timer *bt)
{
	struct timespec wall, cpu;
	clock_gettime(CLOCK_MONOTONIC, &wall);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
	uint64_t wall_us = boot_timer_us_between(&bt->start_wall, &wall);
	uint64_t cpu_us = boot_timer_us_between(&bt->start_cpu, &cpu);
	atomic_store(&bt->last_us, wall_us ? wall_us : 1); /* 0 means "not yet" */
	/* The guest can write 123 at will: log the first one plainly (it is
	 * the boot time) and rate-limit any later one. */
	if (atomic_fetch_add(&bt->hits, 1) == 0)
		log_info(BOOT_TIMER_FMT, wall_us, wall_us / 1000, cpu_us, cpu_us / 1000);
	else
		log_ratelimited(LOG_INFO, BOOT_TIMER_FMT, wall_us, wall_us / 1000, cpu_us,
				cpu_us / 1000);
	if (bt->cb)
		bt->cb(bt->cb_ctx, wall_us, cpu_us);
}

static void boot_timer_read(void *opaque, uint64_t offset, void *data, uint32_t len)
{
	(void)opaque;
	(void)offset;
	memset(data, 0, len);
}

static void boot_timer_write(void *opaque, uint64_t offset, const void *data, uint32_t len)
{
	/* Only a 1-byte write of the magic at offset 0 counts, as Firecracker. */
	if (offset == 0 && len == 1 && *(const uint8_t *)data == BOOT_TIMER_MAGIC)
		boot_timer_signal(opaque);
}

const struct bus_ops boot_timer_bus_ops = {
	.read = boot_timer_read,
	.write = boot_timer_write,
};

int boot_timer_create(struct boot_timer **out, const struct timespec *start_wall,
		      const struct timespec *start_cpu)
{
	struct boot_timer *bt = calloc(1, sizeof(*bt));
	if (!bt)
		return -ENOMEM;
	if (start_wall)
		bt->start_wall = *start_wall;
	else
		clock_gettime(CLOCK_MONOTONIC, &bt->start_wall);
	if (start_cpu)
		bt->start_cpu = *start_cpu;
	else
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &bt->start_cpu);
	atomic_init(&bt->last_us, 0);
	atomic_init(&bt->hits, 0);
	*out = bt;
	return 0;
}

int boot_timer_register(struct boot_timer *bt, struct bus *mmio, uint64_t base)
{
	return bus_add(mmio, base, BOOT_TIMER_SIZE, &boot_timer_bus_ops, bt, "boot-timer");
}

void boot_timer_set_callback(struct boot_timer *bt,
			     void (*cb)(void *ctx, uint64_t wall_us, uint64_t cpu_us), void *ctx)
{
	bt->cb = cb;
	bt->cb_ctx = ctx;
}

uint64_t boot_timer_last_us(struct boot_timer *bt)
{
	return atomic_load(&bt->last_us);
}

void boot_timer_destroy(struct boot_timer *bt)
{
	free(bt);
}

static void boot_timer_dev_destroy(void *dev)
{
	boot_timer_destroy(dev);
}

static int boot_timer_dev_save(void *dev, void *buf, size_t len)
{
	(void)dev;
	struct boot_timer_state st = { .version = BOOT_TIMER_STATE_VERSION };
	if (len < sizeof(st))
		return -ENOSPC;
	memcpy(buf, &st, sizeof(st));
	return (int)sizeof(st);
}

static int boot_timer_dev_restore(void *dev, const void *buf, size_t len)
{
	(void)dev;
	struct boot_timer_state st;
	if (len != sizeof(st))
		return -EINVAL;
	memcpy(&st, buf, sizeof(st));
	return st.version == BOOT_TIMER_STATE_VERSION ? 0 : -EINVAL;
}

const struct device_ops boot_timer_device_ops = {
	.save = boot_timer_dev_save,
	.restore = boot_timer_dev_restore,
	.destroy = boot_timer_dev_destroy,
};
