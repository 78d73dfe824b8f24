/* CMOS real-time clock (Motorola MC146818 as in every PC): ports 0x70
 * (index; bit 7, the NMI mask, is ignored) and 0x71 (data). It tells the
 * guest the host's wall-clock time (CLOCK_REALTIME, UTC) plus whatever the
 * guest set it to differ by, in BCD or binary (register B's DM bit), 24- or
 * 12-hour (its 24/12 bit), with the century at 0x32 (the IBM PC's place,
 * which an ACPI FADT names in its CENTURY field), and 114 bytes of CMOS
 * RAM (0x0E-0x7F but 0x32) that read back what was written.
 *
 * Register A's update-in-progress bit is set in the last 244 us of each
 * host second while the clock runs, as on the chip, so a reader that waits
 * for it to clear (Linux's mc146818_avoid_UIP) waits at most that long.
 * Register B's SET bit or a divider held in reset (register A's DV bits
 * 0x60/0x70) stops the clock: the time registers then hold their values
 * and take writes, and the clock runs on from what they say once neither
 * holds it any more (Linux's mc146818_set_time sets the time that way). A
 * write to a time register while the clock runs sets that field at once.
 * The day of the week is computed, not kept; a write to it is ignored.
 *
 * No interrupts: no periodic, alarm or update-ended IRQ 8 is raised and
 * register C reads 0. The alarm registers keep what is written. Daylight
 * saving (register B's DSE) is not applied.
 *
 * Threading: bus callbacks run on vCPU threads; save/restore, counters and
 * destroy on the VMM thread. A mutex keeps the index and registers
 * consistent between vCPUs. */
#ifndef EMBER_RTC_H
#define EMBER_RTC_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime/base/bus.h"
#include "runtime/base/device.h"

#define RTC_PORT 0x70 /* index 0x70, data 0x71 */
#define RTC_CMOS_SIZE 128

/* Register indexes. */
#define RTC_SECONDS 0x00
#define RTC_SECONDS_ALARM 0x01
#define RTC_MINUTES 0x02
#define RTC_MINUTES_ALARM 0x03
#define RTC_HOURS 0x04
#define RTC_HOURS_ALARM 0x05
#define RTC_DAY_OF_WEEK 0x06
#define RTC_DAY_OF_MONTH 0x07
#define RTC_MONTH 0x08
#define RTC_YEAR 0x09
#define RTC_REG_A 0x0a
#define RTC_REG_B 0x0b
#define RTC_REG_C 0x0c
#define RTC_REG_D 0x0d
#define RTC_CENTURY 0x32

#define RTC_A_UIP 0x80
#define RTC_A_DV_MASK 0x70
#define RTC_B_SET 0x80
#define RTC_B_UIE 0x10
#define RTC_B_DM_BINARY 0x04
#define RTC_B_24H 0x02
#define RTC_D_VRT 0x80
/* How long before each second's update UIP is set (the chip's 244 us). */
#define RTC_UIP_NS 244000

/* Snapshot state: fixed-width fields, no padding, host byte order.
 *
 * The clock is stored as its difference from the host's wall-clock time
 * (offset_s: 0 unless the guest set the clock), not as a time: a restored
 * VM's RTC reads the host's time at the restore (plus that difference), as
 * a battery-backed clock goes on while its machine is off. That is what a
 * guest expects of its RTC (Linux reads it at boot and on resume from
 * suspend to learn how much time passed); the guest's own clocks follow
 * the snapshot's clock_realtime option, the RTC does not.
 *
 * cmos[] holds the RAM, the alarm registers, registers A (without UIP) and
 * B, and, while the clock is stopped (SET or divider reset), the held time
 * registers; the time registers, C and D are 0 while it runs. */
#define RTC_STATE_VERSION 1
struct rtc_state {
	uint32_t version;
	uint8_t index;      /* selected register, < RTC_CMOS_SIZE */
	uint8_t reserved[3];
	int64_t offset_s;   /* RTC time - host CLOCK_REALTIME, in seconds */
	uint8_t cmos[RTC_CMOS_SIZE];
};

struct rtc;

/* now_ns returns the host's wall-clock time in ns since the epoch; NULL
 * means CLOCK_REALTIME (tests pass their own). Returns 0 or -ENOMEM. */
int rtc_create(struct rtc **out, int64_t (*now_ns)(void *ctx), void *ctx);
/* Claims ports 0x70 and 0x71. */
int rtc_register(struct rtc *rtc, struct bus *pio);
/* The guest's time as the clock would tell it now, in seconds since the
 * epoch (for tests and logs). */
int64_t rtc_time(struct rtc *rtc);
void rtc_save(struct rtc *rtc, struct rtc_state *out);
/* Validates every field first; on -EINVAL the device is unchanged. */
int rtc_restore(struct rtc *rtc, const struct rtc_state *in);
void rtc_destroy(struct rtc *rtc);

/* Calendar arithmetic (proleptic Gregorian, UTC), exposed for tests. */
int64_t rtc_days_from_civil(int64_t y, unsigned m, unsigned d);
void rtc_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);

extern const struct bus_ops rtc_bus_ops;
/* Counters ("set_time_count": times the guest set the clock,
 * "invalid_access_count": accesses wider than a byte and writes to the
 * read-only registers C and D), snapshot state (struct rtc_state), destroy. */
extern const struct device_ops rtc_device_ops;

#endif
