/* runtime/backend/tcg/pit.c: the 8254 on a made-up clock. */
#include <criterion/criterion.h>

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
