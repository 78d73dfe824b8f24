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
 * raised on each rising edge. */
int64_t tcg_pit_next_irq(const struct tcg_pit *p, int64_t after);

#endif
