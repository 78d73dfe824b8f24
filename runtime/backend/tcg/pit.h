/* Intel 8254 programmable interval timer (data sheet, order no. 231164)
 * on ports 0x40-0x43, plus the port 0x61 bits the PC wires to it (gate of
 * channel 2, speaker enable, OUT2 read-back: IBM PC/AT technical reference,
 * "System Control Port B"). Counters run on real time: every call takes
 * the current CLOCK_MONOTONIC time in nanoseconds, so the pure logic is
 * testable with a made-up clock. Linux uses channel 0 as its clock event
 * device (drivers/clocksource/i8253.c: mode 2 periodic, mode 4 one-shot)
 * and channel 2 gated through port 0x61 to calibrate the TSC
 * (arch/x86/kernel/tsc.c, pit_calibrate_tsc / quick_pit_calibrate). */
#ifndef EMBER_TCG_PIT_H
#define EMBER_TCG_PIT_H

#include <stdbool.h>
#include <stdint.h>

#define TCG_PIT_PORT 0x40 /* 0x40-0x42 counters, 0x43 control word */
#define TCG_PIT_PORT61 0x61
#define TCG_PIT_HZ 1193182
/* The shortest period channel 0 interrupts at in modes 2 and 3, whatever
 * the divisor: KVM's (arch/x86/kvm/i8254.c, create_pit_timer, with
 * x86.c's min_timer_period_us = 200), since each edge costs the timer
 * thread a wake-up: divisor 1 would be 1.2 million a second. Counts read
 * back still run at the programmed rate, as under KVM. Divisors below 239
 * are affected; Linux programs 1193 (HZ=1000) or more. */
#define TCG_PIT_MIN_PERIOD_NS 200000

struct tcg_pit_chan {
	uint32_t reload;      /* 1..65536 (0 written means 65536) */
	int64_t load_ns;      /* when counting (re)started */
	int64_t frozen_ticks; /* ticks counted before the gate went low */
	uint8_t mode;         /* 0..5 */
	uint8_t access;       /* 1 LSB, 2 MSB, 3 LSB then MSB */
	bool bcd;             /* accepted, counted in binary */
	bool gate;
	bool counting;        /* a count was written */
	bool write_msb_next;  /* access 3: second byte pending */
	bool read_msb_next;
	uint8_t write_lsb;
	bool latched, status_latched;
	uint16_t latch;
	uint8_t status, latch_msb_next;
};

struct tcg_pit {
	struct tcg_pit_chan ch[3];
	bool speaker;
};

void tcg_pit_init(struct tcg_pit *p, int64_t now);
/* Ports 0x40-0x43 and 0x61. */
uint8_t tcg_pit_read(struct tcg_pit *p, uint16_t port, int64_t now);
void tcg_pit_write(struct tcg_pit *p, uint16_t port, uint8_t val, int64_t now);
/* Channel 0's OUT: the next rising edge strictly after `after`, or -1 when
 * it will not rise again (stopped, or a one-shot already fired). IRQ 0 is
 * raised on each rising edge; periodic edges come no closer together than
 * TCG_PIT_MIN_PERIOD_NS. */
int64_t tcg_pit_next_irq(const struct tcg_pit *p, int64_t after);
/* Channel 0's programmed period in ns when periodic and shorter than
 * TCG_PIT_MIN_PERIOD_NS (the caller logs the clamp), else 0. */
int64_t tcg_pit_clamped_ns(const struct tcg_pit *p);

/* Snapshots: three counters of 32 bytes, then 8 for port 0x61. A counter:
 * u32 reload (1..65536), u8 mode (0..5), u8 access (1..3), u8 flags (BCD,
 * gate, counting, write MSB next, read MSB next, count latched, status
 * latched, latch MSB next: bits 0-7), u8 LSB written, u16 latched count,
 * u8 latched status, 5 reserved bytes, then the time base: u64 ticks
 * counted before the gate last went low, u64 nanoseconds since counting
 * last (re)started (0 while the gate is low or nothing counts). Port
 * 0x61: u8 speaker enable, 7 reserved. Reserved bytes are zero, integers
 * little-endian. Elapsed time rather than clock readings, so that a new
 * process (another clock origin) counts on from where the counter stood,
 * to the nanosecond. */
#define TCG_PIT_STATE_SIZE (3 * 32 + 8)
void tcg_pit_save(const struct tcg_pit *p, int64_t now, uint8_t out[TCG_PIT_STATE_SIZE]);
/* 0, or -EINVAL with p untouched if in is not a state the 8254 can be in. */
int tcg_pit_load(struct tcg_pit *p, const uint8_t in[TCG_PIT_STATE_SIZE], int64_t now);
/* Counters that count (gate high) move on by ns more, as if loaded that
 * much earlier: a restore whose guest clocks advance by the wall time
 * since the save. ns is 0..2^61, as the saved elapsed times. */
void tcg_pit_advance(struct tcg_pit *p, int64_t ns);

#endif
