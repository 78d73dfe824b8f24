/* The exit dispatcher with fake buses: every exit kind and the hostile ones. */
#include <criterion/criterion.h>
#include <string.h>

#include "runtime/base/bus.h"
#include "runtime/vm/vcpu.h"

struct fake_dev {
	uint64_t last_off;
	uint32_t last_len;
	uint32_t writes, reads;
	uint8_t last_data[8];
};

static void fake_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct fake_dev *d = opaque;
	d->reads++;
	d->last_off = off;
	d->last_len = len;
	memset(data, 0xab, len);
}

static void fake_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct fake_dev *d = opaque;
	d->writes++;
	d->last_off = off;
	d->last_len = len;
	memcpy(d->last_data, data, len);
}

static const struct bus_ops fake_ops = { fake_read, fake_write };
static struct bus mmio, pio;
static struct fake_dev mdev, pdev;

static void setup(void)
{
	memset(&mdev, 0, sizeof(mdev));
	memset(&pdev, 0, sizeof(pdev));
	bus_init(&mmio, "mmio");
	bus_init(&pio, "pio");
	cr_assert_eq(bus_add(&mmio, 0xd0000000, 0x1000, &fake_ops, &mdev, "m"), 0);
	cr_assert_eq(bus_add(&pio, 0x3f8, 8, &fake_ops, &pdev, "p"), 0);
}

static void teardown(void)
{
	bus_destroy(&mmio);
	bus_destroy(&pio);
}

TestSuite(vcpu_dispatch, .init = setup, .fini = teardown);

Test(vcpu_dispatch, port_write_reaches_device_at_offset)
{
	uint8_t data[4] = { 'x' };
	struct vcpu_exit e = { .reason = VCPU_EXIT_IO,
			       .io = { .port = 0x3f9, .size = 1, .is_write = true, .count = 1, .data = data } };
	cr_assert_eq(vcpu_dispatch_exit(&mmio, &pio, &e), VCPU_ACTION_CONTINUE);
	cr_assert_eq(pdev.writes, 1);
	cr_assert_eq(pdev.last_off, 1);
	cr_assert_eq(pdev.last_data[0], 'x');
}

Test(vcpu_dispatch, string_io_repeats_count_times)
{
	uint8_t data[6] = { 0 };
	struct vcpu_exit e = { .reason = VCPU_EXIT_IO,
			       .io = { .port = 0x3f8, .size = 2, .is_write = false, .count = 3, .data = data } };
	cr_assert_eq(vcpu_dispatch_exit(&mmio, &pio, &e), VCPU_ACTION_CONTINUE);
	cr_assert_eq(pdev.reads, 3);
	for (int i = 0; i < 6; i++)
		cr_assert_eq(data[i], 0xab);
}

Test(vcpu_dispatch, unmapped_port_reads_zero_and_goes_on)
{
	uint8_t data[4] = { 0xff, 0xff, 0xff, 0xff };
	struct vcpu_exit e = { .reason = VCPU_EXIT_IO,
			       .io = { .port = 0x80, .size = 4, .is_write = false, .count = 1, .data = data } };
	cr_assert_eq(vcpu_dispatch_exit(&mmio, &pio, &e), VCPU_ACTION_CONTINUE);
	cr_assert_eq(data[0] | data[1] | data[2] | data[3], 0);
}

Test(vcpu_dispatch, bad_io_size_is_fatal)
{
	uint8_t data[8] = { 0 };
	struct vcpu_exit e = { .reason = VCPU_EXIT_IO,
			       .io = { .port = 0x3f8, .size = 3, .is_write = true, .count = 1, .data = data } };
	cr_assert_eq(vcpu_dispatch_exit(&mmio, &pio, &e), VCPU_ACTION_FATAL);
	cr_assert_eq(pdev.writes, 0);
}

Test(vcpu_dispatch, mmio_read_and_write)
{
	uint8_t data[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct vcpu_exit e = { .reason = VCPU_EXIT_MMIO,
			       .mmio = { .addr = 0xd0000050, .len = 4, .is_write = true, .data = data } };
	cr_assert_eq(vcpu_dispatch_exit(&mmio, &pio, &e), VCPU_ACTION_CONTINUE);
	cr_assert_eq(mdev.last_off, 0x50);
	cr_assert_eq(mdev.last_len, 4);
	cr_assert_eq(memcmp(mdev.last_data, data, 4), 0);
	e.mmio.is_write = false;
	cr_assert_eq(vcpu_dispatch_exit(&mmio, &pio, &e), VCPU_ACTION_CONTINUE);
	cr_assert_eq(data[0], 0xab);
}

Test(vcpu_dispatch, mmio_straddling_device_end_hits_nothing)
{
	uint8_t data[8] = { 0xff };
	struct vcpu_exit e = { .reason = VCPU_EXIT_MMIO,
			       .mmio = { .addr = 0xd0000ffc, .len = 8, .is_write = false, .data = data } };
	cr_assert_eq(vcpu_dispatch_exit(&mmio, &pio, &e), VCPU_ACTION_CONTINUE);
	cr_assert_eq(mdev.reads, 0);
	cr_assert_eq(data[0], 0);
}

Test(vcpu_dispatch, mmio_bad_length_is_fatal)
{
	uint8_t data[16] = { 0 };
	struct vcpu_exit e = { .reason = VCPU_EXIT_MMIO,
			       .mmio = { .addr = 0xd0000000, .len = 9, .is_write = true, .data = data } };
	cr_assert_eq(vcpu_dispatch_exit(&mmio, &pio, &e), VCPU_ACTION_FATAL);
	e.mmio.len = 0;
	cr_assert_eq(vcpu_dispatch_exit(&mmio, &pio, &e), VCPU_ACTION_FATAL);
	cr_assert_eq(mdev.writes, 0);
}

Test(vcpu_dispatch, exit_kinds)
{
	struct vcpu_exit e = { .reason = VCPU_EXIT_KICKED };
	cr_assert_eq(vcpu_dispatch_exit(&mmio, &pio, &e), VCPU_ACTION_CONTINUE);
	e.reason = VCPU_EXIT_HLT;
	cr_assert_eq(vcpu_dispatch_exit(&mmio, &pio, &e), VCPU_ACTION_CONTINUE);
	e.reason = VCPU_EXIT_RESET;
	cr_assert_eq(vcpu_dispatch_exit(&mmio, &pio, &e), VCPU_ACTION_RESET);
	e.reason = VCPU_EXIT_SHUTDOWN;
	cr_assert_eq(vcpu_dispatch_exit(&mmio, &pio, &e), VCPU_ACTION_FATAL);
	e.reason = VCPU_EXIT_INTERNAL_ERROR;
	cr_assert_eq(vcpu_dispatch_exit(&mmio, &pio, &e), VCPU_ACTION_FATAL);
	e.reason = VCPU_EXIT_FAIL_ENTRY;
	cr_assert_eq(vcpu_dispatch_exit(&mmio, &pio, &e), VCPU_ACTION_FATAL);
	e.reason = VCPU_EXIT_UNKNOWN;
	cr_assert_eq(vcpu_dispatch_exit(&mmio, &pio, &e), VCPU_ACTION_FATAL);
}
