/* runtime/base/bus.c: range bookkeeping and dispatch. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "runtime/base/bus.h"

/* A device that records its last access and reads back a pattern made
 * from the offset, so a wrong offset shows. */
struct bus_probe {
	int reads, writes;
	uint64_t offset;
	uint32_t len;
	uint8_t written[8];
};

static void bus_probe_read(void *opaque, uint64_t offset, void *data, uint32_t len)
{
	struct bus_probe *p = opaque;
	p->reads++;
	p->offset = offset;
	p->len = len;
	for (uint32_t i = 0; i < len; i++)
		((uint8_t *)data)[i] = (uint8_t)(0xa0 + offset + i);
}

static void bus_probe_write(void *opaque, uint64_t offset, const void *data, uint32_t len)
{
	struct bus_probe *p = opaque;
	p->writes++;
	p->offset = offset;
	p->len = len;
	memcpy(p->written, data, len);
}

static const struct bus_ops bus_probe_ops = { bus_probe_read, bus_probe_write };
static const struct bus_ops bus_noop_ops = { NULL, NULL };

static struct bus b;
static struct bus_probe pa, pb;

static void bus_setup(void)
{
	bus_init(&b, "test");
	memset(&pa, 0, sizeof(pa));
	memset(&pb, 0, sizeof(pb));
}

static void bus_teardown(void)
{
	bus_destroy(&b);
}

TestSuite(bus, .init = bus_setup, .fini = bus_teardown);

Test(bus, lookup_finds_owner_with_offset)
{
	cr_assert_eq(bus_add(&b, 0x2000, 0x100, &bus_probe_ops, &pb, "b"), 0);
	cr_assert_eq(bus_add(&b, 0x1000, 0x10, &bus_probe_ops, &pa, "a"), 0);
	const struct bus_range *r = bus_find(&b, 0x100f, 1);
	cr_assert_not_null(r);
	cr_assert_str_eq(r->name, "a");
	cr_assert_eq(bus_find(&b, 0x2000, 8)->opaque, &pb);
	cr_assert_eq(bus_find(&b, 0x20f8, 8)->opaque, &pb);
	cr_assert_null(bus_find(&b, 0x0fff, 1));
	cr_assert_null(bus_find(&b, 0x1010, 1));
	cr_assert_null(bus_find(&b, 0x1fff, 1));
	cr_assert_null(bus_find(&b, 0x2100, 1));
	cr_assert_null(bus_find(&b, 0x1000, 0), "zero-length access matches nothing");

	uint32_t v = 0;
	cr_assert_eq(bus_read(&b, 0x2004, &v, 4), 0);
	cr_assert_eq(pb.offset, 4);
	cr_assert_eq(pb.len, 4);
	cr_assert_eq(v, 0xa7a6a5a4);
	cr_assert_eq(pa.reads, 0);
	uint16_t w = 0xbeef;
	cr_assert_eq(bus_write(&b, 0x100e, &w, 2), 0);
	cr_assert_eq(pa.writes, 1);
	cr_assert_eq(pa.offset, 0xe);
	cr_assert_eq(memcmp(pa.written, &w, 2), 0);
}

Test(bus, ranges_stay_sorted_as_they_grow)
{
	static struct bus_probe many[40];
	/* Insert in a scrambled order, past the initial capacity. */
	for (unsigned i = 0; i < 40; i++) {
		unsigned k = (i * 17) % 40;
		cr_assert_eq(bus_add(&b, 0x10000 + k * 0x100, 0x80, &bus_probe_ops, &many[k], "m"), 0);
	}
	cr_assert_eq(b.nr, 40);
	for (size_t i = 1; i < b.nr; i++)
		cr_assert_lt(b.ranges[i - 1].base, b.ranges[i].base);
	for (unsigned k = 0; k < 40; k++) {
		cr_assert_eq(bus_find(&b, 0x10000 + k * 0x100 + 0x7f, 1)->opaque, &many[k]);
		cr_assert_null(bus_find(&b, 0x10000 + k * 0x100 + 0x80, 1), "gap after %u", k);
	}
}

Test(bus, overlap_is_refused)
{
	cr_assert_eq(bus_add(&b, 0x1000, 0x100, &bus_probe_ops, &pa, "a"), 0);
	cr_assert_eq(bus_add(&b, 0x1000, 0x100, &bus_probe_ops, &pb, "same"), -EEXIST);
	cr_assert_eq(bus_add(&b, 0x0f00, 0x101, &bus_probe_ops, &pb, "left"), -EEXIST);
	cr_assert_eq(bus_add(&b, 0x10ff, 0x10, &bus_probe_ops, &pb, "right"), -EEXIST);
	cr_assert_eq(bus_add(&b, 0x1010, 0x10, &bus_probe_ops, &pb, "inside"), -EEXIST);
	cr_assert_eq(bus_add(&b, 0x0000, 0x10000, &bus_probe_ops, &pb, "around"), -EEXIST);
	cr_assert_eq(bus_add(&b, 0x1000, UINT64_MAX - 0x1000, &bus_probe_ops, &pb, "to top"), -EEXIST);
	cr_assert_eq(b.nr, 1);
	/* Touching is not overlapping. */
	cr_assert_eq(bus_add(&b, 0x0f00, 0x100, &bus_probe_ops, &pb, "below"), 0);
	cr_assert_eq(bus_add(&b, 0x1100, 0x100, &bus_probe_ops, &pb, "above"), 0);
	cr_assert_eq(bus_add(&b, 0x1180, 1, &bus_probe_ops, &pb, "in above"), -EEXIST);
	cr_assert_eq(b.nr, 3);
}

Test(bus, zero_length_overflow_and_null_ops_are_refused)
{
	cr_assert_eq(bus_add(&b, 0x1000, 0, &bus_probe_ops, &pa, "zero"), -EINVAL);
	cr_assert_eq(bus_add(&b, UINT64_MAX, 2, &bus_probe_ops, &pa, "wrap"), -EINVAL);
	cr_assert_eq(bus_add(&b, 1, UINT64_MAX, &bus_probe_ops, &pa, "wrap"), -EINVAL);
	cr_assert_eq(bus_add(&b, 0x1000, 0x10, NULL, &pa, "no ops"), -EINVAL);
	cr_assert_eq(b.nr, 0);
	/* The largest ranges that do fit. */
	cr_assert_eq(bus_add(&b, UINT64_MAX - 0xff, 0xff, &bus_probe_ops, &pa, "top"), 0);
	cr_assert_not_null(bus_find(&b, UINT64_MAX - 1, 1));
	cr_assert_null(bus_find(&b, UINT64_MAX, 1));
	cr_assert_null(bus_find(&b, UINT64_MAX - 1, 8), "access past the top of the range");
}

Test(bus, straddling_accesses_hit_nothing)
{
	cr_assert_eq(bus_add(&b, 0x1000, 0x10, &bus_probe_ops, &pa, "a"), 0);
	cr_assert_eq(bus_add(&b, 0x1010, 0x10, &bus_probe_ops, &pb, "b"), 0);
	uint64_t v = 0x1122334455667788ULL;
	cr_assert_eq(bus_read(&b, 0x100c, &v, 8), -ENOENT, "spans a and b");
	cr_assert_eq(v, 0);
	v = 0x1122334455667788ULL;
	cr_assert_eq(bus_read(&b, 0x101e, &v, 4), -ENOENT, "runs off the end of b");
	cr_assert_eq(v, 0x1122334400000000ULL, "exactly len bytes zeroed");
	v = 1;
	cr_assert_eq(bus_read(&b, 0x0ffe, &v, 4), -ENOENT, "starts before a");
	cr_assert_eq(v, 0);
	cr_assert_eq(bus_write(&b, 0x100f, &v, 2), -ENOENT);
	cr_assert_eq(pa.reads + pa.writes + pb.reads + pb.writes, 0);
	cr_assert_eq(bus_read(&b, 0x100c, &v, 4), 0, "last 4 bytes of a are fine");
	cr_assert_eq(pa.offset, 0xc);
}

Test(bus, unmapped_reads_return_zeros)
{
	uint8_t buf[8];
	memset(buf, 0xff, sizeof(buf));
	cr_assert_eq(bus_read(&b, 0x1234, buf, 8), -ENOENT, "empty bus");
	for (int i = 0; i < 8; i++)
		cr_assert_eq(buf[i], 0);
	cr_assert_eq(bus_add(&b, 0x1000, 0x10, &bus_probe_ops, &pa, "a"), 0);
	memset(buf, 0xff, sizeof(buf));
	cr_assert_eq(bus_read(&b, 0x2000, buf, 2), -ENOENT);
	cr_assert_eq(buf[0] | buf[1], 0);
	cr_assert_eq(buf[2], 0xff, "only len bytes are written");
	cr_assert_eq(bus_write(&b, 0x2000, buf, 1), -ENOENT);
	cr_assert_eq(bus_write(&b, UINT64_MAX, buf, 1), -ENOENT);
	cr_assert_eq(pa.reads + pa.writes, 0);
}

Test(bus, device_without_callbacks_reads_zeros)
{
	cr_assert_eq(bus_add(&b, 0x1000, 0x10, &bus_noop_ops, NULL, "mute"), 0);
	uint32_t v = 0xdeadbeef;
	cr_assert_eq(bus_read(&b, 0x1004, &v, 4), 0);
	cr_assert_eq(v, 0);
	cr_assert_eq(bus_write(&b, 0x1004, &v, 4), 0);
}

Test(bus, destroy_then_reuse)
{
	cr_assert_eq(bus_add(&b, 0x1000, 0x10, &bus_probe_ops, &pa, "a"), 0);
	bus_destroy(&b);
	cr_assert_eq(b.nr, 0);
	cr_assert_null(bus_find(&b, 0x1000, 1));
	cr_assert_eq(bus_add(&b, 0x1000, 0x10, &bus_probe_ops, &pb, "b"), 0);
	cr_assert_eq(bus_find(&b, 0x1000, 1)->opaque, &pb);
}
