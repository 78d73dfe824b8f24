/* runtime/vm/devices.c and the device ops every device has: the list the
 * VM counts, snapshots and frees its devices through. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "runtime/devices/i8042.h"
#include "runtime/devices/serial.h"
#include "runtime/vm/devices.h"
#include "runtime/vm/vm.h"

static int destroyed[64], nr_destroyed;

struct fake {
	int id;
	uint64_t hits;
};

static void fake_counters(void *dev, device_counter_fn fn, void *ctx)
{
	struct fake *f = dev;
	fn(ctx, "hits", f ? f->hits : 0);
	fn(ctx, "const", 7);
}

static void fake_destroy(void *dev)
{
	destroyed[nr_destroyed++] = ((struct fake *)dev)->id;
}

static const struct device_ops fake_ops = { .counters = fake_counters, .destroy = fake_destroy };
static const struct device_ops quiet_ops = { .destroy = fake_destroy };

struct seen {
	char line[16][64];
	int n;
};

static void record(void *ctx, const char *group, const char *name, uint64_t value)
{
	struct seen *s = ctx;
	cr_assert_lt(s->n, 16);
	snprintf(s->line[s->n++], 64, "%s.%s=%llu", group, name, (unsigned long long)value);
}

Test(vm_devices, counters_in_order_destroy_in_reverse)
{
	struct vm_devices d = { 0 };
	static struct fake a = { 1, 5 }, b = { 2, 0 }, c = { 3, 9 };
	nr_destroyed = 0;
	cr_assert_eq(vm_devices_add(&d, "first", &fake_ops, &a), 0);
	cr_assert_eq(vm_devices_add(&d, "quiet", &quiet_ops, &b), 0);
	cr_assert_eq(vm_devices_add(&d, "third", &fake_ops, &c), 0);
	cr_assert_eq(vm_devices_find(&d, "quiet")->dev, &b);
	cr_assert_null(vm_devices_find(&d, "nope"));
	struct seen s = { 0 };
	vm_devices_counters(&d, record, &s);
	cr_assert_eq(s.n, 4, "a device without a counters op reports nothing");
	cr_expect_str_eq(s.line[0], "first.hits=5");
	cr_expect_str_eq(s.line[1], "first.const=7");
	cr_expect_str_eq(s.line[2], "third.hits=9");
	vm_devices_destroy(&d);
	cr_assert_eq(nr_destroyed, 3);
	cr_expect_eq(destroyed[0], 3);
	cr_expect_eq(destroyed[2], 1);
	cr_expect_eq(d.n, 0);
}

Test(vm_devices, refused_names_destroy_the_device)
{
	struct vm_devices d = { 0 };
	static struct fake a = { 1, 0 }, dup = { 2, 0 }, longname = { 3, 0 };
	char name[VM_DEVICE_NAME_MAX + 1];
	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = 0;
	nr_destroyed = 0;
	cr_assert_eq(vm_devices_add(&d, "uart", &fake_ops, &a), 0);
	cr_expect_eq(vm_devices_add(&d, "uart", &fake_ops, &dup), -EEXIST);
	cr_expect_eq(vm_devices_add(&d, name, &fake_ops, &longname), -ENAMETOOLONG);
	cr_expect_eq(nr_destroyed, 2, "the device is the list's once add is called");
	cr_expect_eq(d.n, 1);
	vm_devices_destroy(&d);
}

Test(vm_devices, many_devices_grow_the_list)
{
	struct vm_devices d = { 0 };
	static struct fake f[40];
	char name[16];
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "dev%d", i);
		cr_assert_eq(vm_devices_add(&d, name, &quiet_ops, &f[i]), 0);
	}
	cr_expect_eq(vm_devices_find(&d, "dev39")->dev, &f[39]);
	nr_destroyed = 0;
	vm_devices_destroy(&d);
	cr_expect_eq(nr_destroyed, 40);
}

Test(vm_devices, counters_before_a_vm_exists)
{
	struct seen s = { 0 };
	vm_counters(NULL, record, &s);
	cr_assert_geq(s.n, 6);
	cr_expect_str_eq(s.line[0], "uart.error_count=0");
	cr_expect_str_eq(s.line[1], "uart.write_count=0");
	cr_expect_str_eq(s.line[5], "ember_i8042.dropped_bytes=0");
	cr_assert_geq(s.n, 10);
	cr_expect_str_eq(s.line[6], "ember_rtc.set_time_count=0");
	cr_expect_str_eq(s.line[7], "ember_rtc.invalid_access_count=0");
	cr_expect_str_eq(s.line[8], "ember_pvpanic.panic_count=0");
	cr_expect_str_eq(s.line[9], "ember_pvpanic.crash_loaded_count=0");
}

Test(vm_devices, serial_state_through_device_ops)
{
	struct serial *u, *v;
	struct irq_line irq = { 0 };
	cr_assert_eq(serial_create(&u, &irq, -1), 0);
	cr_assert_eq(serial_create(&v, &irq, -1), 0);
	cr_assert_eq(serial_receive(u, (const uint8_t *)"x", 1), 1);
	uint8_t buf[256], small[8];
	int n = serial_device_ops.save(u, buf, sizeof(buf));
	cr_assert_eq(n, (int)sizeof(struct serial_state));
	cr_expect_eq(serial_device_ops.save(u, small, sizeof(small)), -ENOSPC);
	cr_expect_eq(serial_device_ops.restore(v, buf, (size_t)n - 1), -EINVAL);
	/* Unaligned input: a state read from a file can sit anywhere. */
	memmove(buf + 1, buf, (size_t)n);
	cr_assert_eq(serial_device_ops.restore(v, buf + 1, (size_t)n), 0);
	cr_expect_eq(serial_rx_space(v), 0, "the restored FIFO (FIFOs off) holds the byte");
	serial_device_ops.destroy(u);
	serial_device_ops.destroy(v);
}
