/* pvpanic through its port: the events it offers, what a PANICKED or
 * CRASH_LOADED write does, once; counters and snapshot state. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "runtime/base/bus.h"
#include "runtime/devices/pvpanic.h"

static struct bus pio;
static struct pvpanic *pv;
static int panics;

static void on_panic(void *ctx)
{
	cr_assert_eq(ctx, &panics);
	panics++;
}

static void setup(void)
{
	panics = 0;
	bus_init(&pio, "pio");
	cr_assert_eq(pvpanic_create(&pv, on_panic, &panics), 0);
	cr_assert_eq(pvpanic_register(pv, &pio), 0);
}

static void teardown(void)
{
	pvpanic_destroy(pv);
	bus_destroy(&pio);
}

static void out8(uint8_t v)
{
	cr_assert_eq(bus_write(&pio, 0x505, &v, 1), 0);
}

struct seen {
	uint64_t panic, crash;
	int n;
};

static void count_fn(void *ctx, const char *name, uint64_t v)
{
	struct seen *s = ctx;
	if (strcmp(name, "panic_count") == 0)
		s->panic = v;
	else if (strcmp(name, "crash_loaded_count") == 0)
		s->crash = v;
	else
		cr_assert_fail("unknown counter %s", name);
	s->n++;
}

static void counts(void *dev, uint64_t *panic, uint64_t *crash)
{
	struct seen s = { 0, 0, 0 };
	pvpanic_device_ops.counters(dev, count_fn, &s);
	cr_assert_eq(s.n, 2);
	*panic = s.panic;
	*crash = s.crash;
}

TestSuite(pvpanic, .init = setup, .fini = teardown);

Test(pvpanic, reads_the_supported_events)
{
	uint8_t v = 0;
	cr_assert_eq(bus_read(&pio, 0x505, &v, 1), 0);
	cr_expect_eq(v, PVPANIC_PANICKED | PVPANIC_CRASH_LOADED);
	uint16_t w = 0xeeee;
	pvpanic_bus_ops.read(pv, 0, &w, 2);
	cr_expect_eq(w, 0, "a 2-byte read is not the device's");
}

Test(pvpanic, the_first_panic_ends_the_vm_once)
{
	uint64_t p, c;
	out8(0x00);
	out8(0x04);
	cr_expect_eq(panics, 0, "no PANICKED bit, no panic");
	out8(PVPANIC_PANICKED);
	cr_expect_eq(panics, 1);
	out8(PVPANIC_PANICKED);
	out8(PVPANIC_PANICKED | PVPANIC_CRASH_LOADED);
	cr_expect_eq(panics, 1, "the callback runs once");
	counts(pv, &p, &c);
	cr_expect_eq(p, 3);
	cr_expect_eq(c, 0);
}

Test(pvpanic, crash_loaded_is_counted_not_ended)
{
	uint64_t p, c;
	out8(PVPANIC_CRASH_LOADED);
	out8(PVPANIC_CRASH_LOADED);
	cr_expect_eq(panics, 0);
	uint16_t w = PVPANIC_PANICKED;
	pvpanic_bus_ops.write(pv, 0, &w, 2);
	cr_expect_eq(panics, 0, "a 2-byte write is ignored");
	counts(pv, &p, &c);
	cr_expect_eq(p, 0);
	cr_expect_eq(c, 2);
	counts(NULL, &p, &c);
	cr_expect_eq(p + c, 0);
}

Test(pvpanic, snapshot_state)
{
	uint8_t buf[8], small[2];
	int n = pvpanic_device_ops.save(pv, buf + 1, sizeof(buf) - 1);
	cr_assert_eq(n, (int)sizeof(struct pvpanic_state));
	cr_expect_eq(pvpanic_device_ops.save(pv, small, sizeof(small)), -ENOSPC);
	cr_expect_eq(pvpanic_device_ops.restore(pv, buf + 1, (size_t)n), 0);
	cr_expect_eq(pvpanic_device_ops.restore(pv, buf + 1, (size_t)n + 1), -EINVAL);
	struct pvpanic_state bad = { .version = 2 };
	cr_expect_eq(pvpanic_device_ops.restore(pv, &bad, sizeof(bad)), -EINVAL);
}
