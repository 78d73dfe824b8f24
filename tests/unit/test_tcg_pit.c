/* runtime/backend/tcg/pit.c: the 8254 on a made-up clock. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "runtime/backend/tcg/pit.h"

#define NS(ticks) ((int64_t)(ticks) * 1000000000LL / TCG_PIT_HZ)

Test(tcg_pit, periodic_mode_2_irq_times)
{
	struct tcg_pit p;
	tcg_pit_init(&p, 0);
	cr_assert_eq(tcg_pit_next_irq(&p, 0), -1, "not programmed");
	tcg_pit_write(&p, 0x43, 0x34, 1000);
	tcg_pit_write(&p, 0x40, 0xa9, 1000);
	tcg_pit_write(&p, 0x40, 0x04, 1000); /* 1193: ~1 kHz */
	int64_t t1 = tcg_pit_next_irq(&p, 1000);
	cr_assert(t1 >= 1000 + NS(1193) && t1 <= 1000 + NS(1193) + 2, "first edge after one period");
	int64_t t2 = tcg_pit_next_irq(&p, t1);
	cr_assert(t2 - t1 >= NS(1193) - 2 && t2 - t1 <= NS(1193) + 2);
	/* Late by ten periods: the next edge is still in the future. */
	int64_t late = t1 + 10 * NS(1193) + 5;
	cr_assert_gt(tcg_pit_next_irq(&p, late), late);
}

Test(tcg_pit, one_shot_mode_4_fires_once)
{
	struct tcg_pit p;
	tcg_pit_init(&p, 0);
	tcg_pit_write(&p, 0x43, 0x38, 0);
	tcg_pit_write(&p, 0x40, 100, 0);
	tcg_pit_write(&p, 0x40, 0, 0);
	int64_t t = tcg_pit_next_irq(&p, 0);
	cr_assert_gt(t, NS(100));
	cr_assert_eq(tcg_pit_next_irq(&p, t), -1);
}

Test(tcg_pit, counter_reads_and_latch)
{
	struct tcg_pit p;
	tcg_pit_init(&p, 0);
	tcg_pit_write(&p, 0x43, 0x34, 0);
	tcg_pit_write(&p, 0x40, 0x00, 0);
	tcg_pit_write(&p, 0x40, 0x10, 0); /* 0x1000 */
	int64_t t = NS(0x100) + 1;
	uint8_t lo = tcg_pit_read(&p, 0x40, t), hi = tcg_pit_read(&p, 0x40, t);
	cr_assert_eq((hi << 8 | lo), 0x0f00);
	tcg_pit_write(&p, 0x43, 0x00, t); /* latch */
	lo = tcg_pit_read(&p, 0x40, t + NS(0x200));
	hi = tcg_pit_read(&p, 0x40, t + NS(0x200));
	cr_assert_eq((hi << 8 | lo), 0x0f00, "the latched value, not the live one");
	tcg_pit_write(&p, 0x43, 0xe2, t); /* read-back: status of counter 0 */
	cr_assert_eq(tcg_pit_read(&p, 0x40, t) & 0x3f, 0x34, "access 3, mode 2, binary");
}

/* Linux's pit_calibrate_tsc: gate on through port 0x61, channel 2 mode 0,
 * poll OUT2 (bit 5). */
Test(tcg_pit, channel_2_gate_and_out2_on_port_61)
{
	struct tcg_pit p;
	tcg_pit_init(&p, 0);
	tcg_pit_write(&p, 0x61, 0x01, 0);
	tcg_pit_write(&p, 0x43, 0xb0, 0);
	tcg_pit_write(&p, 0x42, 0x9b, 0);
	tcg_pit_write(&p, 0x42, 0x2e, 0); /* 11931: 10 ms */
	cr_assert_eq(tcg_pit_read(&p, 0x61, NS(100)) & 0x21, 0x01, "gate on, OUT2 low");
	cr_assert_eq(tcg_pit_read(&p, 0x61, NS(11931) + 10) & 0x20, 0x20, "terminal count");
	tcg_pit_write(&p, 0x61, 0x00, NS(11931) + 20);
	cr_assert_eq(tcg_pit_read(&p, 0x61, NS(11931) + 30) & 1, 0);
}

/* Saved at one clock, loaded at another (a new process): the counters go
 * on from where they stood. */
Test(tcg_pit, save_load_counts_on_under_another_clock)
{
	struct tcg_pit p, q;
	uint8_t st[TCG_PIT_STATE_SIZE], again[TCG_PIT_STATE_SIZE];
	const int64_t t0 = 1000, saved = t0 + NS(5000), loaded = 987654321000LL;
	tcg_pit_init(&p, 0);
	tcg_pit_write(&p, 0x43, 0x34, t0); /* ch0 mode 2, 3000 */
	tcg_pit_write(&p, 0x40, 0xb8, t0);
	tcg_pit_write(&p, 0x40, 0x0b, t0);
	tcg_pit_write(&p, 0x61, 0x03, t0); /* ch2 gated on, speaker on */
	tcg_pit_write(&p, 0x43, 0xb0, t0); /* ch2 mode 0, 0x1234 */
	tcg_pit_write(&p, 0x42, 0x34, t0);
	tcg_pit_write(&p, 0x42, 0x12, t0);
	tcg_pit_write(&p, 0x61, 0x02, t0 + NS(100)); /* gate off: frozen after 100 */
	tcg_pit_write(&p, 0x43, 0x76, t0); /* ch1 mode 3, LSB then MSB, half written */
	tcg_pit_write(&p, 0x41, 0x10, t0);
	tcg_pit_write(&p, 0x43, 0x00, saved); /* ch0 latched, LSB read */
	(void)tcg_pit_read(&p, 0x40, saved);

	tcg_pit_save(&p, saved, st);
	cr_assert_eq(tcg_pit_load(&q, st, loaded), 0);
	tcg_pit_save(&q, loaded, again);
	cr_assert_eq(memcmp(st, again, sizeof(st)), 0);
	cr_assert_eq(tcg_pit_read(&q, 0x40, loaded), tcg_pit_read(&p, 0x40, saved), "latched MSB");
	for (int64_t d = 0; d < NS(20000); d += NS(777)) {
		cr_assert_eq(tcg_pit_read(&q, 0x61, loaded + d) & 0x23,
			     tcg_pit_read(&p, 0x61, saved + d) & 0x23, "port 0x61 at +%ld", (long)d);
		tcg_pit_write(&q, 0x43, 0x00, loaded + d);
		tcg_pit_write(&p, 0x43, 0x00, saved + d);
		for (int i = 0; i < 2; i++)
			cr_assert_eq(tcg_pit_read(&q, 0x40, loaded + d), tcg_pit_read(&p, 0x40, saved + d));
		cr_assert_eq(tcg_pit_read(&q, 0x42, loaded + d), tcg_pit_read(&p, 0x42, saved + d),
			     "frozen channel 2");
		int64_t nq = tcg_pit_next_irq(&q, loaded + d), np = tcg_pit_next_irq(&p, saved + d);
		cr_assert((nq - loaded) - (np - saved) <= 1 && (np - saved) - (nq - loaded) <= 1,
			  "next IRQ 0 at the same distance");
	}
	/* Channel 1 takes the MSB it was waiting for. */
	tcg_pit_write(&q, 0x41, 0x20, loaded);
	cr_assert_eq(q.ch[1].reload, 0x2010);
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4); /* the host is little-endian, as the format */
}

Test(tcg_pit, load_refuses_states_the_8254_cannot_be_in)
{
	struct tcg_pit p;
	uint8_t good[TCG_PIT_STATE_SIZE], st[TCG_PIT_STATE_SIZE], after[TCG_PIT_STATE_SIZE];
	tcg_pit_init(&p, 0);
	tcg_pit_write(&p, 0x43, 0x34, 0);
	tcg_pit_write(&p, 0x40, 0x00, 0);
	tcg_pit_write(&p, 0x40, 0x10, 0);
	tcg_pit_write(&p, 0x43, 0x50, 0); /* ch1 LSB only, mode 0, not counting */
	tcg_pit_write(&p, 0x43, 0xb0, 0); /* ch2 counting, gate low */
	tcg_pit_write(&p, 0x42, 0x10, 0);
	tcg_pit_write(&p, 0x42, 0x00, 0);
	tcg_pit_save(&p, NS(10), good);
	struct {
		int at, len;
		uint32_t val;
	} bad[] = {
		{ 0, 4, 0 },                   /* reload 0 */
		{ 0, 4, 65537 },
		{ 4, 1, 6 },                   /* mode 6 */
		{ 5, 1, 0 }, { 5, 1, 4 },      /* access */
		{ 6, 1, 0x04 },                /* ch0 gate low */
		{ 32 + 6, 1, 0x02 | 0x08 },    /* ch1: MSB pending in LSB-only access */
		{ 32 + 6, 1, 0x02 | 0x20 | 0x80 }, /* ch1: latched count read MSB first */
		{ 32 + 16, 1, 1 },             /* ch1: a time base without a count */
		{ 32 + 24, 1, 1 },
		{ 16 + 4, 4, 0x00200001 },     /* ch0: ticks past 2^53 */
		{ 24 + 4, 4, 0x20000001 },     /* ch0: time past 2^61 ns */
		{ 64 + 24, 1, 1 },             /* ch2: time running with the gate low */
		{ 11, 1, 1 }, { 15, 1, 1 },    /* reserved */
		{ 96, 1, 2 }, { 103, 1, 1 },   /* port 0x61 */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(st, good, sizeof(st));
		if (bad[i].len == 4)
			put32(st + bad[i].at, bad[i].val);
		else
			st[bad[i].at] = (uint8_t)bad[i].val;
		cr_assert_eq(tcg_pit_load(&p, st, NS(10)), -EINVAL, "case %zu", i);
		tcg_pit_save(&p, NS(10), after);
		cr_assert_eq(memcmp(after, good, sizeof(good)), 0, "unchanged");
	}
}

/* A guest asking for divisor 1 (838 ns) or any period under KVM's 200 us
 * floor gets IRQ 0 at most every 200 us; the counter still reads back at
 * the programmed rate. Divisor 239 and above are left alone. */
Test(tcg_pit, short_periods_clamped_as_kvm)
{
	struct tcg_pit p;
	for (unsigned mode = 2; mode <= 3; mode++) {
		tcg_pit_init(&p, 0);
		tcg_pit_write(&p, 0x43, (uint8_t)(0x30 | mode << 1), 500);
		tcg_pit_write(&p, 0x40, 1, 500);
		tcg_pit_write(&p, 0x40, 0, 500);
		cr_assert_eq(tcg_pit_clamped_ns(&p), NS(1) + 1, "mode %u: divisor 1 is 839 ns", mode);
		int64_t t = 500, edges = 0;
		while ((t = tcg_pit_next_irq(&p, t)) < 500 + 1000000000LL) {
			cr_assert_gt(t, 0);
			edges++;
		}
		cr_assert_eq(edges, 1000000000LL / TCG_PIT_MIN_PERIOD_NS - 1, "mode %u: %ld in 1 s",
			     mode, (long)edges);
		/* Late by many periods: the next edge is the next slot, not a burst. */
		int64_t late = 500 + 7 * TCG_PIT_MIN_PERIOD_NS + 3;
		cr_assert_eq(tcg_pit_next_irq(&p, late), 500 + 8 * TCG_PIT_MIN_PERIOD_NS);
	}
	/* Reads back as divisor 1 would: mode 2 counts 1 every tick. */
	cr_assert_eq(tcg_pit_read(&p, 0x40, 12345) & 0xfe, 0);

	for (uint32_t div = 2; div <= 65535; div++) {
		tcg_pit_init(&p, 0);
		tcg_pit_write(&p, 0x43, 0x34, 0);
		tcg_pit_write(&p, 0x40, (uint8_t)div, 0);
		tcg_pit_write(&p, 0x40, (uint8_t)(div >> 8), 0);
		int64_t t1 = tcg_pit_next_irq(&p, 0), t2 = tcg_pit_next_irq(&p, t1);
		cr_assert_geq(t2 - t1, TCG_PIT_MIN_PERIOD_NS - 1, "divisor %u", div);
		if (div >= 239)
			cr_assert(t2 - t1 >= NS(div) - 1 && t2 - t1 <= NS(div) + 1 &&
					  !tcg_pit_clamped_ns(&p),
				  "divisor %u keeps its period", div);
		else
			cr_assert(tcg_pit_clamped_ns(&p), "divisor %u", div);
	}
	/* One-shots are one edge per programming: nothing to clamp. */
	tcg_pit_init(&p, 0);
	tcg_pit_write(&p, 0x43, 0x38, 0);
	tcg_pit_write(&p, 0x40, 1, 0);
	tcg_pit_write(&p, 0x40, 0, 0);
	cr_assert_eq(tcg_pit_clamped_ns(&p), 0);
	cr_assert_lt(tcg_pit_next_irq(&p, 0), NS(3));
}
