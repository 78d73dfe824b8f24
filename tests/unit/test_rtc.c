/* The CMOS RTC through its ports, on a clock the test moves: registers,
 * BCD/binary and 12/24-hour formats, UIP as Linux's reader meets it,
 * setting the time, index bounds, CMOS RAM, snapshot state. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/base/bus.h"
#include "runtime/devices/rtc.h"

#define NS 1000000000LL

static struct bus pio;
static struct rtc *rtc;
static int64_t now;  /* the fake host CLOCK_REALTIME, ns */
static int64_t step; /* added to now at every read of it */

static int64_t fake_now(void *ctx)
{
	cr_assert_eq(ctx, &now);
	int64_t t = now;
	now += step;
	return t;
}

static int64_t utc(int y, int mon, int d, int h, int mi, int s)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mon - 1, .tm_mday = d,
			 .tm_hour = h, .tm_min = mi, .tm_sec = s };
	return (int64_t)timegm(&tm);
}

static void setup(void)
{
	now = utc(2026, 11, 30, 14, 5, 9) * NS + NS / 2;
	step = 0;
	bus_init(&pio, "pio");
	cr_assert_eq(rtc_create(&rtc, fake_now, &now), 0);
	cr_assert_eq(rtc_register(rtc, &pio), 0);
}

static void teardown(void)
{
	rtc_destroy(rtc);
	bus_destroy(&pio);
}

static uint8_t rd(uint8_t idx)
{
	uint8_t v = idx;
	cr_assert_eq(bus_write(&pio, 0x70, &v, 1), 0);
	v = 0xee;
	cr_assert_eq(bus_read(&pio, 0x71, &v, 1), 0);
	return v;
}

static void wr(uint8_t idx, uint8_t val)
{
	cr_assert_eq(bus_write(&pio, 0x70, &idx, 1), 0);
	cr_assert_eq(bus_write(&pio, 0x71, &val, 1), 0);
}

TestSuite(rtc, .init = setup, .fini = teardown);

Test(rtc, reads_the_host_time_in_bcd_24_hour)
{
	cr_expect_eq(rd(0x00), 0x09);
	cr_expect_eq(rd(0x02), 0x05);
	cr_expect_eq(rd(0x04), 0x14);
	cr_expect_eq(rd(0x06), 0x02, "a Monday (Sunday is 1)");
	cr_expect_eq(rd(0x07), 0x30);
	cr_expect_eq(rd(0x08), 0x11);
	cr_expect_eq(rd(0x09), 0x26);
	cr_expect_eq(rd(0x32), 0x20);
	cr_expect_eq(rd(0x0a), 0x26);
	cr_expect_eq(rd(0x0b), 0x02);
	cr_expect_eq(rd(0x0c), 0x00);
	cr_expect_eq(rd(0x0d), 0x80);
	now += 51 * NS; /* 14:06:00 */
	cr_expect_eq(rd(0x00), 0x00);
	cr_expect_eq(rd(0x02), 0x06);
	cr_expect_eq(rtc_time(rtc), utc(2026, 11, 30, 14, 6, 0));
}

Test(rtc, binary_mode)
{
	wr(0x0b, 0x06);
	cr_expect_eq(rd(0x00), 9);
	cr_expect_eq(rd(0x04), 14);
	cr_expect_eq(rd(0x07), 30);
	cr_expect_eq(rd(0x08), 11);
	cr_expect_eq(rd(0x09), 26);
	cr_expect_eq(rd(0x32), 20);
	wr(0x0b, 0x02);
	cr_expect_eq(rd(0x09), 0x26);
}

Test(rtc, twelve_hour_mode)
{
	wr(0x0b, 0x00); /* BCD, 12-hour */
	cr_expect_eq(rd(0x04), 0x82, "2 PM");
	now = utc(2026, 11, 30, 0, 30, 0) * NS;
	cr_expect_eq(rd(0x04), 0x12, "12 AM");
	now = utc(2026, 11, 30, 12, 30, 0) * NS;
	cr_expect_eq(rd(0x04), 0x92, "12 PM");
	wr(0x0b, 0x04); /* binary, 12-hour */
	now = utc(2026, 11, 30, 23, 0, 0) * NS;
	cr_expect_eq(rd(0x04), 0x80 | 11);
	/* Setting 11 PM in 12-hour mode is 23:00. */
	wr(0x0b, 0x84);
	wr(0x04, 0x80 | 11);
	wr(0x02, 0);
	wr(0x00, 0);
	wr(0x0b, 0x04);
	cr_expect_eq(rtc_time(rtc), utc(2026, 11, 30, 23, 0, 0));
}

Test(rtc, uip_only_in_the_last_244_us_of_a_second)
{
	int64_t sec = utc(2026, 11, 30, 14, 5, 9) * NS;
	now = sec + NS - RTC_UIP_NS - 1;
	cr_expect_eq(rd(0x0a) & 0x80, 0);
	now = sec + NS - RTC_UIP_NS;
	cr_expect_eq(rd(0x0a) & 0x80, 0x80);
	cr_expect_eq(rd(0x00), 0x09, "the registers still show the old second");
	now = sec + NS;
	cr_expect_eq(rd(0x0a) & 0x80, 0);
	cr_expect_eq(rd(0x00), 0x10);
	/* A stopped clock never updates. */
	now = sec + NS - 1000;
	wr(0x0b, 0x82);
	cr_expect_eq(rd(0x0a) & 0x80, 0);
	/* UIP cannot be written. */
	wr(0x0b, 0x02);
	wr(0x0a, 0xa6);
	now = sec + NS / 2;
	cr_expect_eq(rd(0x0a), 0x26);
}

/* Linux's mc146818_avoid_UIP + mc146818_get_time_callback, with the
 * clock moving 3 us per port access: whatever the phase, it must finish
 * within 4 rounds (UIP lasts 244 us, a round waits 100 us), with a
 * consistent time. */
Test(rtc, a_linux_reader_never_spins)
{
	step = 3000;
	int64_t base = utc(2026, 12, 31, 23, 59, 59) * NS;
	for (int64_t phase = NS - 3000000; phase < NS + 100000; phase += 7000) {
		now = base + phase;
		int tries = 0;
		uint8_t sec, min, hour, day, mon, year;
		for (;;) {
			cr_assert_leq(++tries, 4, "phase %lld", (long long)phase);
			sec = rd(0x00);
			if (rd(0x0a) & 0x80) {
				now += 100000; /* udelay(UIP_RECHECK_DELAY) */
				continue;
			}
			if (sec != rd(0x00))
				continue;
			min = rd(0x02);
			hour = rd(0x04);
			day = rd(0x07);
			mon = rd(0x08);
			year = rd(0x09);
			if (rd(0x0a) & 0x80) {
				now += 100000;
				continue;
			}
			if (sec != rd(0x00))
				continue;
			break;
		}
		bool before = sec == 0x59 && min == 0x59 && hour == 0x23 && day == 0x31 &&
			      mon == 0x12 && year == 0x26;
		bool after = sec == 0x00 && min == 0x00 && hour == 0x00 && day == 0x01 &&
			     mon == 0x01 && year == 0x27;
		cr_expect(before || after, "phase %lld: %02x %02x-%02x %02x:%02x:%02x",
			  (long long)phase, year, mon, day, hour, min, sec);
	}
}

static void count_fn(void *ctx, const char *name, uint64_t value)
{
	uint64_t *v = ctx;
	if (strcmp(name, "set_time_count") == 0)
		v[0] = value;
	else if (strcmp(name, "invalid_access_count") == 0)
		v[1] = value;
	else
		cr_assert_fail("unknown counter %s", name);
}

/* As Linux's mc146818_set_time: SET, divider reset, the registers, then
 * B and A back; the clock runs on from what was written. */
Test(rtc, set_time_the_linux_way)
{
	wr(0x0b, 0x02 | 0x80);
	wr(0x0a, 0x26 | 0x70);
	wr(0x09, 0x99);
	wr(0x08, 0x12);
	wr(0x07, 0x31);
	wr(0x04, 0x23);
	wr(0x02, 0x59);
	wr(0x00, 0x58);
	wr(0x32, 0x19);
	now += 5 * NS; /* stopped: nothing moves */
	cr_expect_eq(rd(0x00), 0x58);
	cr_expect_eq(rd(0x09), 0x99);
	wr(0x0b, 0x02);
	cr_expect_eq(rd(0x00), 0x58, "still held: the divider is in reset");
	wr(0x0a, 0x26);
	cr_expect_eq(rtc_time(rtc), utc(1999, 12, 31, 23, 59, 58));
	now += 3 * NS;
	cr_expect_eq(rtc_time(rtc), utc(2000, 1, 1, 0, 0, 1));
	cr_expect_eq(rd(0x32), 0x20);
	cr_expect_eq(rd(0x09), 0x00);
	cr_expect_eq(rd(0x06), 0x07, "1 Jan 2000 was a Saturday");
	uint64_t c[2] = { 0, 0 };
	rtc_device_ops.counters(rtc, count_fn, c);
	cr_expect_eq(c[0], 1);
	cr_expect_eq(c[1], 0);
	/* SET clears UIE, as on the chip. */
	wr(0x0b, 0x92);
	cr_expect_eq(rd(0x0b), 0x82);
	wr(0x0b, 0x02);
}

Test(rtc, one_field_of_the_running_clock)
{
	wr(0x02, 0x45); /* minutes */
	cr_expect_eq(rtc_time(rtc), utc(2026, 11, 30, 14, 45, 9));
	wr(0x06, 0x05); /* day of week: computed, the write is ignored */
	cr_expect_eq(rd(0x06), 0x02);
	now += 61 * NS;
	cr_expect_eq(rd(0x02), 0x46);
	cr_expect_eq(rd(0x00), 0x10);
}

/* Whatever a guest writes, the clock stays within years 0000-9999 and
 * every register reads something. */
Test(rtc, nonsense_registers)
{
	for (unsigned fill = 0; fill < 256; fill += 17) {
		wr(0x0b, 0x82);
		for (uint8_t i = 0; i < 10; i++)
			wr(i, (uint8_t)fill);
		wr(0x32, (uint8_t)fill);
		wr(0x0b, 0x02);
		int64_t t = rtc_time(rtc);
		cr_expect_geq(t, utc(0, 1, 1, 0, 0, 0));
		cr_expect_leq(t, utc(9999, 12, 31, 23, 59, 59));
		for (uint8_t i = 0; i < 0x80; i++)
			(void)rd(i);
	}
	wr(0x0b, 0x82);
	wr(0x08, 0x13); /* month 13: next January */
	wr(0x07, 0x00); /* day 0: the last of the month before */
	wr(0x09, 0x26);
	wr(0x32, 0x20);
	wr(0x04, 0x00);
	wr(0x02, 0x00);
	wr(0x00, 0x00);
	wr(0x0b, 0x02);
	cr_expect_eq(rtc_time(rtc), utc(2026, 12, 31, 0, 0, 0));
}

Test(rtc, index_bounds_nmi_bit_and_cmos_ram)
{
	for (unsigned i = 0x0e; i < 0x80; i++)
		if (i != 0x32)
			wr((uint8_t)i, (uint8_t)(i ^ 0xa5));
	for (unsigned i = 0x0e; i < 0x80; i++)
		if (i != 0x32)
			cr_expect_eq(rd((uint8_t)i), (uint8_t)(i ^ 0xa5), "byte 0x%02x", i);
	/* Bit 7 of the index is the NMI mask: same register. */
	wr(0x80 | 0x40, 0x11);
	cr_expect_eq(rd(0x40), 0x11);
	cr_expect_eq(rd(0xff), 0x7f ^ 0xa5);
	/* The alarm registers keep what is written. */
	wr(0x01, 0x30);
	cr_expect_eq(rd(0x01), 0x30);
	/* The index port reads 0xff; C and D ignore writes. */
	uint8_t v = 0;
	cr_expect_eq(bus_read(&pio, 0x70, &v, 1), 0);
	cr_expect_eq(v, 0xff);
	wr(0x0c, 0xff);
	wr(0x0d, 0x00);
	cr_expect_eq(rd(0x0c), 0x00);
	cr_expect_eq(rd(0x0d), 0x80);
	/* Wider accesses are dropped and counted. */
	uint16_t w = 0x0e0e;
	cr_expect_eq(bus_write(&pio, 0x70, &w, 2), 0);
	cr_expect_eq(bus_read(&pio, 0x70, &w, 2), 0);
	cr_expect_eq(w, 0xffff);
	uint64_t c[2] = { 0, 0 };
	rtc_device_ops.counters(rtc, count_fn, c);
	cr_expect_eq(c[1], 4);
	uint64_t z[2] = { 9, 9 };
	rtc_device_ops.counters(NULL, count_fn, z);
	cr_expect_eq(z[0], 0);
	cr_expect_eq(z[1], 0);
}

Test(rtc, calendar_matches_libc)
{
	/* Every day from year 0 to 9999 would be slow; every 997th is not. */
	for (int64_t days = rtc_days_from_civil(0, 1, 1); days < rtc_days_from_civil(10000, 1, 1);
	     days += 997) {
		int64_t y;
		unsigned m, d;
		rtc_civil_from_days(days, &y, &m, &d);
		cr_assert_eq(rtc_days_from_civil(y, m, d), days);
		struct tm tm;
		time_t t = (time_t)(days * 86400);
		cr_assert_not_null(gmtime_r(&t, &tm));
		cr_assert_eq(y, tm.tm_year + 1900);
		cr_assert_eq(m, (unsigned)tm.tm_mon + 1);
		cr_assert_eq(d, (unsigned)tm.tm_mday);
	}
	cr_expect_eq(rtc_days_from_civil(2000, 2, 29) + 1, rtc_days_from_civil(2000, 3, 1));
	cr_expect_eq(rtc_days_from_civil(2100, 2, 29), rtc_days_from_civil(2100, 3, 1));
}

/* The state keeps the guest's difference from host time: restored later,
 * the clock reads the new host time plus that difference. */
Test(rtc, save_and_restore)
{
	wr(0x02, 0x45); /* the guest moves the clock 40 minutes on */
	wr(0x50, 0x77);
	wr(0x70, 0x00); /* leave the index at 0x00... */
	uint8_t idx = 0x0e;
	cr_assert_eq(bus_write(&pio, 0x70, &idx, 1), 0); /* ...then select 0x0e */
	uint8_t buf[sizeof(struct rtc_state) + 1], small[8];
	int n = rtc_device_ops.save(rtc, buf + 1, sizeof(buf) - 1); /* unaligned */
	cr_assert_eq(n, (int)sizeof(struct rtc_state));
	cr_expect_eq(rtc_device_ops.save(rtc, small, sizeof(small)), -ENOSPC);

	int64_t later = now + 3600 * NS;
	struct rtc *r2;
	cr_assert_eq(rtc_create(&r2, fake_now, &now), 0);
	cr_expect_eq(rtc_device_ops.restore(r2, buf + 1, (size_t)n - 1), -EINVAL);
	cr_assert_eq(rtc_device_ops.restore(r2, buf + 1, (size_t)n), 0);
	now = later;
	cr_expect_eq(rtc_time(r2), utc(2026, 11, 30, 15, 45, 9));
	rtc_destroy(rtc);
	rtc = r2;
	bus_destroy(&pio);
	bus_init(&pio, "pio");
	cr_assert_eq(rtc_register(rtc, &pio), 0);
	uint8_t v = 0;
	cr_assert_eq(bus_read(&pio, 0x71, &v, 1), 0);
	cr_expect_eq(v, 0x00, "index 0x0e restored (byte 0x0e was never written)");
	cr_expect_eq(rd(0x50), 0x77);

	/* A held clock comes back held. */
	wr(0x0b, 0x82);
	wr(0x00, 0x33);
	struct rtc_state st;
	rtc_save(rtc, &st);
	cr_assert_eq(rtc_restore(rtc, &st), 0);
	now += 10 * NS;
	cr_expect_eq(rd(0x00), 0x33);
}

Test(rtc, restore_refuses_states_the_device_cannot_be_in)
{
	struct rtc_state good, bad;
	wr(0x02, 0x45);
	rtc_save(rtc, &good);
	int64_t t = rtc_time(rtc);
#define REFUSE(what, stmt)                                                     \
	do {                                                                   \
		bad = good;                                                    \
		stmt;                                                          \
		cr_expect_eq(rtc_restore(rtc, &bad), -EINVAL, what);           \
		cr_expect_eq(rtc_time(rtc), t, what ": the device changed");   \
	} while (0)
	REFUSE("version", bad.version = 2);
	REFUSE("index", bad.index = 0x80);
	REFUSE("reserved", bad.reserved[1] = 1);
	REFUSE("offset", bad.offset_s = 20000LL * 366 * 86400);
	REFUSE("negative offset", bad.offset_s = -20000LL * 366 * 86400);
	REFUSE("UIP stored", bad.cmos[0x0a] |= 0x80);
	REFUSE("register C", bad.cmos[0x0c] = 0x10);
	REFUSE("register D", bad.cmos[0x0d] = 0x80);
	REFUSE("a time register of a running clock", bad.cmos[0x00] = 0x12);
	REFUSE("UIE with SET", bad.cmos[0x0b] = 0x92);
#undef REFUSE
	cr_expect_eq(rtc_restore(rtc, &good), 0);
}
