/* The boot-timer page, driven through the MMIO bus. */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/devices/boot_timer.h"
#include "runtime/base/bus.h"
#include "runtime/boot/layout.h"
#include "runtime/base/log.h"

#define BT LAYOUT_BOOT_TIMER

struct boot_timer_hits {
	int n;
	uint64_t wall_us, cpu_us;
};

static void boot_timer_record(void *ctx, uint64_t wall_us, uint64_t cpu_us)
{
	struct boot_timer_hits *h = ctx;
	h->n++;
	h->wall_us = wall_us;
	h->cpu_us = cpu_us;
}

static struct bus mmio;
static struct boot_timer *bt;
static struct boot_timer_hits hits;
static char logpath[64];

/* The process "started" 50 ms ago; CPU time is counted from now. */
static void boot_timer_setup(void)
{
	memset(&hits, 0, sizeof(hits));
	bus_init(&mmio, "mmio");
	struct timespec wall, cpu;
	clock_gettime(CLOCK_MONOTONIC, &wall);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
	wall.tv_nsec -= 50000000;
	if (wall.tv_nsec < 0) {
		wall.tv_nsec += 1000000000;
		wall.tv_sec--;
	}
	cr_assert_eq(boot_timer_create(&bt, &wall, &cpu), 0);
	cr_assert_eq(boot_timer_register(bt, &mmio, BT), 0);
	boot_timer_set_callback(bt, boot_timer_record, &hits);
	snprintf(logpath, sizeof(logpath), "/tmp/ember-boot-timer-XXXXXX");
	int fd = mkstemp(logpath);
	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(log_set_path(logpath), 0);
	log_set_level(LOG_INFO);
}

static void boot_timer_teardown(void)
{
	log_close();
	unlink(logpath);
	boot_timer_destroy(bt);
	bus_destroy(&mmio);
}

static void bt_write8(uint64_t addr, uint8_t v)
{
	cr_assert_eq(bus_write(&mmio, addr, &v, 1), 0);
}

TestSuite(boot_timer, .init = boot_timer_setup, .fini = boot_timer_teardown);

Test(boot_timer, magic_byte_reports_boot_time)
{
	cr_assert_eq(boot_timer_last_us(bt), 0);
	bt_write8(BT, 123);
	cr_assert_eq(hits.n, 1);
	cr_assert_geq(hits.wall_us, 50000);
	cr_assert_lt(hits.wall_us, 10000000, "wall %" PRIu64 " us", hits.wall_us);
	cr_assert_lt(hits.cpu_us, 10000000, "cpu %" PRIu64 " us", hits.cpu_us);
	cr_assert_eq(boot_timer_last_us(bt), hits.wall_us);

	log_close();
	FILE *f = fopen(logpath, "r");
	cr_assert_not_null(f);
	char line[512] = { 0 };
	cr_assert_not_null(fgets(line, sizeof(line), f));
	fclose(f);
	const char *p = strstr(line, "Guest-boot-time = ");
	cr_assert_not_null(p, "log line: %s", line);
	unsigned long long us, ms, cus, cms;
	cr_assert_eq(sscanf(p, "Guest-boot-time = %llu us %llu ms, %llu CPU us %llu CPU ms", &us,
			    &ms, &cus, &cms),
		     4, "log line: %s", line);
	cr_assert_eq(us, hits.wall_us);
	cr_assert_eq(ms, us / 1000);
	cr_assert_eq(cus, hits.cpu_us);
	cr_assert_eq(cms, cus / 1000);
}

Test(boot_timer, other_accesses_are_ignored)
{
	bt_write8(BT, 122);
	bt_write8(BT, 124);
	bt_write8(BT + 1, 123);
	bt_write8(BT + 0xfff, 123);
	uint16_t w = 123;
	cr_assert_eq(bus_write(&mmio, BT, &w, 2), 0);
	uint32_t d = 123;
	cr_assert_eq(bus_write(&mmio, BT, &d, 4), 0);
	uint64_t q = 0x7b7b7b7b7b7b7b7bULL;
	cr_assert_eq(bus_read(&mmio, BT, &q, 8), 0);
	cr_assert_eq(q, 0, "reads return 0");
	cr_assert_eq(bus_read(&mmio, BT + 0xff8, &q, 8), 0);
	cr_assert_eq(q, 0);
	cr_assert_eq(bus_write(&mmio, BT + 0x1000, (uint8_t[]){ 123 }, 1), -ENOENT,
		     "one page only");
	cr_assert_eq(hits.n, 0);
	cr_assert_eq(boot_timer_last_us(bt), 0);
}

Test(boot_timer, every_signal_calls_back_once)
{
	bt_write8(BT, 123);
	cr_assert_eq(hits.n, 1);
	uint64_t first = hits.wall_us;
	usleep(2000);
	bt_write8(BT, 123);
	cr_assert_eq(hits.n, 2);
	cr_assert_gt(hits.wall_us, first);
}

Test(boot_timer, null_start_means_now)
{
	struct boot_timer *b2;
	struct bus m2;
	bus_init(&m2, "mmio2");
	cr_assert_eq(boot_timer_create(&b2, NULL, NULL), 0);
	cr_assert_eq(boot_timer_register(b2, &m2, BT), 0);
	cr_assert_eq(boot_timer_register(b2, &m2, BT + 0x800), -EEXIST);
	bus_write(&m2, BT, (uint8_t[]){ 123 }, 1);
	cr_assert_gt(boot_timer_last_us(b2), 0, "a hit never reads as 'not yet'");
	cr_assert_lt(boot_timer_last_us(b2), 50000);
	boot_timer_destroy(b2);
	bus_destroy(&m2);
}

Test(boot_timer, state_is_a_version_only)
{
	uint8_t buf[8] = { 0 };
	cr_assert_eq(boot_timer_device_ops.save(bt, buf, 3), -ENOSPC);
	int n = boot_timer_device_ops.save(bt, buf, sizeof(buf));
	cr_assert_eq(n, (int)sizeof(struct boot_timer_state));
	cr_assert_eq(boot_timer_device_ops.restore(bt, buf, (size_t)n), 0);
	for (int len = 0; len < n; len++)
		cr_assert_eq(boot_timer_device_ops.restore(bt, buf, (size_t)len), -EINVAL);
	cr_assert_eq(boot_timer_device_ops.restore(bt, buf, (size_t)n + 1), -EINVAL);
	buf[0] ^= 1;
	cr_assert_eq(boot_timer_device_ops.restore(bt, buf, (size_t)n), -EINVAL);
}
