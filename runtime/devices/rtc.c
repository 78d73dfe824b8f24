/* MC146818 CMOS clock. Register names follow Linux's
 * include/linux/mc146818rtc.h. The running clock is the host's wall-clock
 * second plus offset_s; every time register is computed from it at the
 * read, so nothing ticks in the background. */
#include "runtime/devices/rtc.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/base/log.h"

#define NS_PER_S 1000000000LL
/* The clock tells years 0000-9999 (two BCD digits of century and year),
 * so an offset from the host's time never needs to be larger. */
#define RTC_MAX_OFFSET_S (10000LL * 366 * 86400)

struct rtc {
	pthread_mutex_t lock;
	int64_t (*now_ns)(void *ctx);
	void *now_ctx;
	uint8_t index;
	uint8_t cmos[RTC_CMOS_SIZE];
	int64_t offset_s;
	uint64_t set_time_count;
	uint64_t invalid_access_count;
};

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil); m in 1..12, d may run past the month's end. */
int64_t rtc_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = floor_div(y, 400);
	int64_t yoe = y - era * 400;                                   /* [0, 399] */
	int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* [0, 365] */
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* [0, 146096] */
	return era * 146097 + doe - 719468;
}

void rtc_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d)
{
	days += 719468;
	int64_t era = floor_div(days, 146097);
	int64_t doe = days - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	*m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int64_t rtc_t_min(void)
{
	return rtc_days_from_civil(0, 1, 1) * 86400;
}

static int64_t rtc_t_max(void)
{
	return rtc_days_from_civil(10000, 1, 1) * 86400 - 1;
}

static int64_t clamp_time(int64_t t)
{
	int64_t lo = rtc_t_min(), hi = rtc_t_max();
	return t < lo ? lo : t > hi ? hi : t;
}

static int64_t realtime_ns(void *ctx)
{
	(void)ctx;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

/* Register B's SET bit or a divider in reset or a test mode stops the
 * clock (as QEMU's rtc_running: DV above 0x20). */
static bool rtc_running(const struct rtc *d)
{
	return !(d->cmos[RTC_REG_B] & RTC_B_SET) && (d->cmos[RTC_REG_A] & RTC_A_DV_MASK) <= 0x20;
}

static bool is_time_reg(unsigned idx)
{
	return idx == RTC_SECONDS || idx == RTC_MINUTES || idx == RTC_HOURS ||
	       idx == RTC_DAY_OF_WEEK || idx == RTC_DAY_OF_MONTH || idx == RTC_MONTH ||
	       idx == RTC_YEAR || idx == RTC_CENTURY;
}

static uint8_t enc(const struct rtc *d, unsigned v)
{
	if (d->cmos[RTC_REG_B] & RTC_B_DM_BINARY)
		return (uint8_t)v;
	return (uint8_t)(((v / 10) << 4) | (v % 10));
}

/* Any byte decodes to something (BCD digits above 9 count as written):
 * a guest's nonsense gives a nonsense time, never a fault. */
static unsigned dec(const struct rtc *d, uint8_t v)
{
	if (d->cmos[RTC_REG_B] & RTC_B_DM_BINARY)
		return v;
	return (v >> 4) * 10u + (v & 0x0fu);
}

static uint8_t enc_hours(const struct rtc *d, unsigned h)
{
	if (d->cmos[RTC_REG_B] & RTC_B_24H)
		return enc(d, h);
	unsigned h12 = h % 12 ? h % 12 : 12;
	return (uint8_t)(enc(d, h12) | (h >= 12 ? 0x80 : 0));
}

static unsigned dec_hours(const struct rtc *d, uint8_t v)
{
	if (d->cmos[RTC_REG_B] & RTC_B_24H)
		return dec(d, v);
	return dec(d, v & 0x7f) % 12 + ((v & 0x80) ? 12 : 0);
}

/* The registers' image of time t (seconds since the epoch). */
static void time_to_regs(const struct rtc *d, int64_t t, uint8_t regs[RTC_CMOS_SIZE])
{
	t = clamp_time(t);
	int64_t days = floor_div(t, 86400), secs = t - days * 86400, y;
	unsigned m, mday;
	rtc_civil_from_days(days, &y, &m, &mday);
	regs[RTC_SECONDS] = enc(d, (unsigned)(secs % 60));
	regs[RTC_MINUTES] = enc(d, (unsigned)(secs / 60 % 60));
	regs[RTC_HOURS] = enc_hours(d, (unsigned)(secs / 3600));
	/* 1970-01-01 was a Thursday; the chip counts Sunday as 1. */
	regs[RTC_DAY_OF_WEEK] = enc(d, (unsigned)((days % 7 + 7 + 4) % 7) + 1);
	regs[RTC_DAY_OF_MONTH] = enc(d, mday);
	regs[RTC_MONTH] = enc(d, m);
	regs[RTC_YEAR] = enc(d, (unsigned)(y % 100));
	regs[RTC_CENTURY] = enc(d, (unsigned)(y / 100));
}

/* The time the registers say. Out-of-range fields carry over (month 13 is
 * next January, day 0 the previous month's last day), the result is held
 * to years 0000-9999. */
static int64_t regs_to_time(const struct rtc *d, const uint8_t regs[RTC_CMOS_SIZE])
{
	int64_t y = (int64_t)dec(d, regs[RTC_CENTURY]) * 100 + dec(d, regs[RTC_YEAR]);
	int64_t mon0 = (int64_t)dec(d, regs[RTC_MONTH]) - 1; /* -1 .. 254 */
	y += floor_div(mon0, 12);
	unsigned m = (unsigned)(mon0 - floor_div(mon0, 12) * 12) + 1;
	int64_t days = rtc_days_from_civil(y, m, 1) + (int64_t)dec(d, regs[RTC_DAY_OF_MONTH]) - 1;
	int64_t t = days * 86400 + (int64_t)dec_hours(d, regs[RTC_HOURS]) * 3600 +
		    (int64_t)dec(d, regs[RTC_MINUTES]) * 60 + dec(d, regs[RTC_SECONDS]);
	return clamp_time(t);
}

static int64_t host_s(int64_t ns)
{
	return floor_div(ns, NS_PER_S);
}

/* The clock stops: the time registers take the values they show now. */
static void rtc_hold(struct rtc *d, int64_t ns)
{
	uint8_t regs[RTC_CMOS_SIZE];
	time_to_regs(d, host_s(ns) + d->offset_s, regs);
	for (unsigned i = 0; i < RTC_CMOS_SIZE; i++)
		if (is_time_reg(i))
			d->cmos[i] = regs[i];
}

/* The clock runs on from what its registers say. */
static void rtc_release(struct rtc *d, int64_t ns)
{
	d->offset_s = regs_to_time(d, d->cmos) - host_s(ns);
	for (unsigned i = 0; i < RTC_CMOS_SIZE; i++)
		if (is_time_reg(i))
			d->cmos[i] = 0;
	d->set_time_count++;
}

static uint8_t rtc_read_reg(struct rtc *d, unsigned idx)
{
	switch (idx) {
	case RTC_REG_A: {
		uint8_t a = d->cmos[RTC_REG_A];
		if (rtc_running(d)) {
			int64_t ns = d->now_ns(d->now_ctx);
			if (ns - host_s(ns) * NS_PER_S >= NS_PER_S - RTC_UIP_NS)
				a |= RTC_A_UIP;
		}
		return a;
	}
	case RTC_REG_C:
		return 0; /* no interrupt flags: the device raises none */
	case RTC_REG_D:
		return RTC_D_VRT; /* the battery is fine */
	default:
		if (is_time_reg(idx) && rtc_running(d)) {
			uint8_t regs[RTC_CMOS_SIZE];
			time_to_regs(d, host_s(d->now_ns(d->now_ctx)) + d->offset_s, regs);
			return regs[idx];
		}
		return d->cmos[idx];
	}
}

static void rtc_write_reg(struct rtc *d, unsigned idx, uint8_t val)
{
	int64_t ns = d->now_ns(d->now_ctx);
	bool was_running = rtc_running(d);
	switch (idx) {
	case RTC_REG_A:
		d->cmos[RTC_REG_A] = val & (uint8_t)~RTC_A_UIP; /* UIP is read-only */
		break;
	case RTC_REG_B:
		if (val & RTC_B_SET) /* as on the chip: SET clears UIE */
			val &= (uint8_t)~RTC_B_UIE;
		/* The running clock's registers are computed in the format
		 * asked for at the read; held ones are converted on release. */
		d->cmos[RTC_REG_B] = val;
		break;
	case RTC_REG_C:
	case RTC_REG_D:
		d->invalid_access_count++;
		log_ratelimited(LOG_DEBUG, "rtc: write 0x%02x to read-only register 0x%02x", val,
				idx);
		return;
	case RTC_DAY_OF_WEEK:
		if (!was_running)
			d->cmos[idx] = val; /* held until the clock runs; then computed */
		return;
	default:
		if (is_time_reg(idx) && was_running) {
			/* Set this one field of the running clock. */
			rtc_hold(d, ns);
			d->cmos[idx] = val;
			rtc_release(d, ns);
			return;
		}
		d->cmos[idx] = val; /* a held time register, an alarm, or RAM */
		return;
	}
	bool running = rtc_running(d);
	if (was_running && !running)
		rtc_hold(d, ns);
	else if (!was_running && running)
		rtc_release(d, ns);
}

static void rtc_io_read(void *opaque, uint64_t offset, void *data, uint32_t len)
{
	struct rtc *d = opaque;
	memset(data, 0xff, len);
	if (len != 1 || offset > 1) {
		pthread_mutex_lock(&d->lock);
		d->invalid_access_count++;
		pthread_mutex_unlock(&d->lock);
		log_ratelimited(LOG_DEBUG, "rtc: ignored %u-byte read at +%u", len,
				(unsigned)offset);
		return;
	}
	if (offset == 0)
		return; /* the index port is write-only: reads float high */
	pthread_mutex_lock(&d->lock);
	*(uint8_t *)data = rtc_read_reg(d, d->index);
	pthread_mutex_unlock(&d->lock);
}

static void rtc_io_write(void *opaque, uint64_t offset, const void *data, uint32_t len)
{
	struct rtc *d = opaque;
	pthread_mutex_lock(&d->lock);
	if (len != 1 || offset > 1) {
		d->invalid_access_count++;
		pthread_mutex_unlock(&d->lock);
		log_ratelimited(LOG_DEBUG, "rtc: ignored %u-byte write at +%u", len,
				(unsigned)offset);
		return;
	}
	uint8_t val = *(const uint8_t *)data;
	if (offset == 0)
		d->index = val & 0x7f; /* bit 7 masks NMIs on a PC: nothing to mask here */
	else
		rtc_write_reg(d, d->index, val);
	pthread_mutex_unlock(&d->lock);
}

const struct bus_ops rtc_bus_ops = { .read = rtc_io_read, .write = rtc_io_write };

int rtc_create(struct rtc **out, int64_t (*now_ns)(void *ctx), void *ctx)
{
	struct rtc *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	int err = pthread_mutex_init(&d->lock, NULL);
	if (err) {
		free(d);
		return -err;
	}
	d->now_ns = now_ns ? now_ns : realtime_ns;
	d->now_ctx = ctx;
	/* The state a PC's firmware leaves: 32.768 kHz time base, 1024 Hz
	 * rate; 24-hour BCD (rtc-cmos wants 24-hour). */
	d->cmos[RTC_REG_A] = 0x26;
	d->cmos[RTC_REG_B] = RTC_B_24H;
	*out = d;
	return 0;
}

int rtc_register(struct rtc *rtc, struct bus *pio)
{
	return bus_add(pio, RTC_PORT, 2, &rtc_bus_ops, rtc, "rtc");
}

int64_t rtc_time(struct rtc *d)
{
	pthread_mutex_lock(&d->lock);
	int64_t t = rtc_running(d) ? clamp_time(host_s(d->now_ns(d->now_ctx)) + d->offset_s)
				   : regs_to_time(d, d->cmos);
	pthread_mutex_unlock(&d->lock);
	return t;
}

void rtc_destroy(struct rtc *d)
{
	if (!d)
		return;
	pthread_mutex_destroy(&d->lock);
	free(d);
}

_Static_assert(sizeof(struct rtc_state) == 16 + RTC_CMOS_SIZE, "rtc_state must have no padding");

void rtc_save(struct rtc *d, struct rtc_state *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&d->lock);
	out->version = RTC_STATE_VERSION;
	out->index = d->index;
	out->offset_s = d->offset_s;
	memcpy(out->cmos, d->cmos, sizeof(out->cmos));
	pthread_mutex_unlock(&d->lock);
}

int rtc_restore(struct rtc *d, const struct rtc_state *in)
{
	/* Hostile input: only a state the device itself could be in. */
	if (in->version != RTC_STATE_VERSION || in->index >= RTC_CMOS_SIZE || in->reserved[0] ||
	    in->reserved[1] || in->reserved[2] || in->offset_s > RTC_MAX_OFFSET_S ||
	    in->offset_s < -RTC_MAX_OFFSET_S || (in->cmos[RTC_REG_A] & RTC_A_UIP) ||
	    in->cmos[RTC_REG_C] || in->cmos[RTC_REG_D])
		return -EINVAL;
	bool running = !(in->cmos[RTC_REG_B] & RTC_B_SET) &&
		       (in->cmos[RTC_REG_A] & RTC_A_DV_MASK) <= 0x20;
	if (running)
		for (unsigned i = 0; i < RTC_CMOS_SIZE; i++)
			if (is_time_reg(i) && in->cmos[i])
				return -EINVAL;
	if ((in->cmos[RTC_REG_B] & RTC_B_SET) && (in->cmos[RTC_REG_B] & RTC_B_UIE))
		return -EINVAL;

	pthread_mutex_lock(&d->lock);
	d->index = in->index;
	d->offset_s = in->offset_s;
	memcpy(d->cmos, in->cmos, sizeof(d->cmos));
	pthread_mutex_unlock(&d->lock);
	return 0;
}

static void rtc_counters(void *dev, device_counter_fn fn, void *ctx)
{
	struct rtc *d = dev;
	uint64_t set = 0, invalid = 0;
	if (d) {
		pthread_mutex_lock(&d->lock);
		set = d->set_time_count;
		invalid = d->invalid_access_count;
		pthread_mutex_unlock(&d->lock);
	}
	fn(ctx, "set_time_count", set);
	fn(ctx, "invalid_access_count", invalid);
}

static int rtc_dev_save(void *dev, void *buf, size_t len)
{
	struct rtc_state st;
	if (len < sizeof(st))
		return -ENOSPC;
	rtc_save(dev, &st);
	memcpy(buf, &st, sizeof(st));
	return (int)sizeof(st);
}

static int rtc_dev_restore(void *dev, const void *buf, size_t len)
{
	struct rtc_state st; /* buf need not be aligned */
	if (len != sizeof(st))
		return -EINVAL;
	memcpy(&st, buf, sizeof(st));
	return rtc_restore(dev, &st);
}

static void rtc_dev_destroy(void *dev)
{
	rtc_destroy(dev);
}

const struct device_ops rtc_device_ops = {
	.counters = rtc_counters,
	.save = rtc_dev_save,
	/* Added after snapshots were: older ones lack its section. */
	.absent_is_power_on = true,
	.restore = rtc_dev_restore,
	.destroy = rtc_dev_destroy,
};
