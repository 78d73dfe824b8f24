/* 8254 counters computed from elapsed real time rather than ticked: a
 * channel remembers when its count was loaded and derives the count and
 * OUT from the ticks since then (the same model as QEMU's i8254). */
#include "runtime/backend/tcg/pit.h"

#include <errno.h>
#include <string.h>

#include "runtime/backend/tcg/le.h"

#define NS_PER_S 1000000000LL

static int64_t ns_to_ticks(int64_t ns)
{
	return ns <= 0 ? 0 : (int64_t)((__int128)ns * TCG_PIT_HZ / NS_PER_S);
}

/* First time at which `ticks` ticks will have elapsed since t0. */
static int64_t ticks_to_time(int64_t t0, int64_t ticks)
{
	return t0 + (int64_t)(((__int128)ticks * NS_PER_S + TCG_PIT_HZ - 1) / TCG_PIT_HZ);
}

static int64_t ticks(const struct tcg_pit_chan *c, int64_t now)
{
	if (!c->counting)
		return 0;
	return c->frozen_ticks + (c->gate ? ns_to_ticks(now - c->load_ns) : 0);
}

static uint16_t count(const struct tcg_pit_chan *c, int64_t now)
{
	if (!c->counting)
		return (uint16_t)c->reload;
	int64_t d = ticks(c, now);
	switch (c->mode) {
	case 2:
		return (uint16_t)(c->reload - d % c->reload);
	case 3: /* counts down by two, twice per period */
		return (uint16_t)((c->reload - (2 * d) % c->reload) & ~1u);
	default: /* 0, 1, 4, 5: one pass, then wraps */
		return (uint16_t)(c->reload - d);
	}
}

static bool out(const struct tcg_pit_chan *c, int64_t now)
{
	if (!c->counting)
		return c->mode != 0; /* mode 0 sets OUT low on the control word */
	int64_t d = ticks(c, now);
	switch (c->mode) {
	case 0:
	case 1:
		return d >= c->reload;
	case 2:
		return d % c->reload != c->reload - 1; /* low for the last tick */
	case 3:
		return d % c->reload < (c->reload + 1) / 2;
	default: /* 4, 5: a one-tick low strobe at terminal count */
		return d != c->reload;
	}
}

void tcg_pit_init(struct tcg_pit *p, int64_t now)
{
	memset(p, 0, sizeof(*p));
	for (int i = 0; i < 3; i++) {
		p->ch[i].reload = 65536;
		p->ch[i].access = 3;
		p->ch[i].gate = i != 2; /* channel 2's gate is port 0x61 bit 0 */
		p->ch[i].load_ns = now;
	}
}

static void load(struct tcg_pit_chan *c, uint32_t v, int64_t now)
{
	c->reload = v ? v : 65536;
	c->load_ns = now;
	c->frozen_ticks = 0;
	c->counting = true;
}

static void latch_count(struct tcg_pit_chan *c, int64_t now)
{
	if (c->latched)
		return; /* a second latch before reading is ignored */
	c->latch = count(c, now);
	c->latched = true;
	c->latch_msb_next = c->access == 2;
}

static void control(struct tcg_pit *p, uint8_t val, int64_t now)
{
	unsigned sc = val >> 6;
	if (sc == 3) {
		/* Read-back: bit 5 clear latches counts, bit 4 clear statuses. */
		for (int i = 0; i < 3; i++) {
			struct tcg_pit_chan *c = &p->ch[i];
			if (!(val & (2u << i)))
				continue;
			if (!(val & 0x20))
				latch_count(c, now);
			if (!(val & 0x10) && !c->status_latched) {
				c->status = (uint8_t)(out(c, now) << 7 | !c->counting << 6 |
						      c->access << 4 | c->mode << 1 | c->bcd);
				c->status_latched = true;
			}
		}
		return;
	}
	struct tcg_pit_chan *c = &p->ch[sc];
	unsigned rw = (val >> 4) & 3;
	if (rw == 0) {
		latch_count(c, now);
		return;
	}
	c->access = rw;
	c->mode = (val >> 1) & 7;
	if (c->mode > 5)
		c->mode -= 4; /* 6 and 7 alias modes 2 and 3 */
	c->bcd = val & 1;
	c->counting = false;
	c->write_msb_next = c->read_msb_next = false;
	c->latched = c->status_latched = false;
}

void tcg_pit_write(struct tcg_pit *p, uint16_t port, uint8_t val, int64_t now)
{
	if (port == TCG_PIT_PORT61) {
		struct tcg_pit_chan *c = &p->ch[2];
		bool gate = val & 1;
		if (gate != c->gate) {
			if (!gate) {
				c->frozen_ticks = ticks(c, now); /* counting pauses */
			} else if (c->mode != 0 && c->mode != 4) {
				c->frozen_ticks = 0; /* modes 1, 2, 3, 5 retrigger */
			}
			c->load_ns = now;
			c->gate = gate;
		}
		p->speaker = val & 2;
		return;
	}
	if (port == TCG_PIT_PORT + 3) {
		control(p, val, now);
		return;
	}
	struct tcg_pit_chan *c = &p->ch[port & 3];
	switch (c->access) {
	case 1:
		load(c, val, now);
		break;
	case 2:
		load(c, (uint32_t)val << 8, now);
		break;
	default:
		if (!c->write_msb_next) {
			c->write_lsb = val;
			c->write_msb_next = true;
			if (c->mode == 0)
				c->counting = false; /* mode 0: the first byte stops the count */
		} else {
			c->write_msb_next = false;
			load(c, c->write_lsb | (uint32_t)val << 8, now);
		}
		break;
	}
}

static uint8_t read_counter(struct tcg_pit_chan *c, int64_t now)
{
	if (c->status_latched) {
		c->status_latched = false;
		return c->status;
	}
	if (c->latched) {
		uint8_t v = c->latch_msb_next ? c->latch >> 8 : c->latch & 0xff;
		if (c->access == 3 && !c->latch_msb_next)
			c->latch_msb_next = true;
		else
			c->latched = false;
		return v;
	}
	uint16_t v = count(c, now);
	switch (c->access) {
	case 1:
		return v & 0xff;
	case 2:
		return v >> 8;
	default:
		c->read_msb_next = !c->read_msb_next;
		return c->read_msb_next ? v & 0xff : v >> 8;
	}
}

uint8_t tcg_pit_read(struct tcg_pit *p, uint16_t port, int64_t now)
{
	if (port == TCG_PIT_PORT61) {
		const struct tcg_pit_chan *c = &p->ch[2];
		/* Bit 4 toggles with each DRAM refresh, every 15.085 us. */
		bool refresh = (now / 15085) & 1;
		return (uint8_t)(c->gate | p->speaker << 1 | refresh << 4 | out(c, now) << 5);
	}
	if (port == TCG_PIT_PORT + 3)
		return 0xff; /* the control word register is write-only */
	return read_counter(&p->ch[port & 3], now);
}

int64_t tcg_pit_clamped_ns(const struct tcg_pit *p)
{
	const struct tcg_pit_chan *c = &p->ch[0];
	if (!c->counting || (c->mode != 2 && c->mode != 3))
		return 0;
	int64_t ns = ticks_to_time(0, c->reload);
	return ns < TCG_PIT_MIN_PERIOD_NS ? ns : 0;
}

/* A too-short period's edges, every TCG_PIT_MIN_PERIOD_NS from when an
 * uninterrupted count would have started: strictly after `after`. */
static int64_t clamped_edge(const struct tcg_pit_chan *c, int64_t after)
{
	int64_t origin = c->load_ns - ticks_to_time(0, c->frozen_ticks);
	int64_t k = after < origin ? 0 : (after - origin) / TCG_PIT_MIN_PERIOD_NS;
	return origin + (k + 1) * TCG_PIT_MIN_PERIOD_NS;
}

int64_t tcg_pit_next_irq(const struct tcg_pit *p, int64_t after)
{
	const struct tcg_pit_chan *c = &p->ch[0];
	if (!c->counting || !c->gate)
		return -1;
	if (tcg_pit_clamped_ns(p))
		return clamped_edge(c, after);
	int64_t d = ticks(c, after);
	int64_t edge;
	switch (c->mode) {
	case 2:
	case 3:
		/* Periodic: OUT rises at every multiple of the reload value. */
		edge = (d / c->reload + 1) * c->reload;
		break;
	case 4:
	case 5:
		edge = c->reload + 1; /* after the strobe */
		break;
	default:
		edge = c->reload;
		break;
	}
	int64_t t = ticks_to_time(c->load_ns, edge - c->frozen_ticks);
	if (t <= after) {
		if (c->mode == 2 || c->mode == 3)
			t = ticks_to_time(c->load_ns, edge + c->reload - c->frozen_ticks);
		else
			return -1;
	}
	return t;
}

#define CHAN_SIZE 32
#define PORT61_OFF (3 * CHAN_SIZE)
/* 2^53 ticks (240 years of counting) and 2^61 ns (73 years): far from
 * overflowing the time arithmetic above. */
#define TICKS_MAX (1ULL << 53)
#define NS_MAX (1ULL << 61)
enum {
	F_BCD = 1u << 0, F_GATE = 1u << 1, F_COUNTING = 1u << 2, F_WRITE_MSB = 1u << 3,
	F_READ_MSB = 1u << 4, F_LATCHED = 1u << 5, F_STATUS_LATCHED = 1u << 6,
	F_LATCH_MSB = 1u << 7,
};

void tcg_pit_save(const struct tcg_pit *p, int64_t now, uint8_t out[TCG_PIT_STATE_SIZE])
{
	memset(out, 0, TCG_PIT_STATE_SIZE);
	for (int i = 0; i < 3; i++) {
		const struct tcg_pit_chan *c = &p->ch[i];
		uint8_t *o = out + i * CHAN_SIZE;
		le_put32(o, c->reload);
		o[4] = c->mode;
		o[5] = c->access;
		o[6] = (uint8_t)((c->bcd ? F_BCD : 0) | (c->gate ? F_GATE : 0) |
				 (c->counting ? F_COUNTING : 0) | (c->write_msb_next ? F_WRITE_MSB : 0) |
				 (c->read_msb_next ? F_READ_MSB : 0) | (c->latched ? F_LATCHED : 0) |
				 (c->status_latched ? F_STATUS_LATCHED : 0) |
				 (c->latch_msb_next ? F_LATCH_MSB : 0));
		o[7] = c->write_lsb;
		le_put16(o + 8, c->latch);
		o[10] = c->status;
		if (c->counting) {
			le_put64(o + 16, (uint64_t)c->frozen_ticks);
			if (c->gate)
				le_put64(o + 24, (uint64_t)(now - c->load_ns));
		}
	}
	out[PORT61_OFF] = p->speaker;
}

static bool zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* The values a counter can take, as the code above sets them. */
static int chan_load(struct tcg_pit_chan *c, const uint8_t *in, int i, int64_t now)
{
	uint32_t reload = le_get32(in);
	uint8_t mode = in[4], access = in[5], f = in[6];
	uint64_t t = le_get64(in + 16), ns = le_get64(in + 24);
	if (!zero(in + 11, 5))
		return -EINVAL;
	if (reload < 1 || reload > 65536 || mode > 5 || access < 1 || access > 3)
		return -EINVAL;
	/* Channels 0 and 1 have their gates tied high. */
	if (i != 2 && !(f & F_GATE))
		return -EINVAL;
	/* Byte sequencing exists only in LSB-then-MSB access; a latched
	 * count is read MSB first exactly in MSB-only access. */
	if ((f & (F_WRITE_MSB | F_READ_MSB)) && access != 3)
		return -EINVAL;
	if ((f & F_LATCHED) && access != 3 && !!(f & F_LATCH_MSB) != (access == 2))
		return -EINVAL;
	if (!(f & F_COUNTING) && (t || ns))
		return -EINVAL;
	if (t > TICKS_MAX || ns > NS_MAX || (ns && !(f & F_GATE)))
		return -EINVAL;
	*c = (struct tcg_pit_chan){
		.reload = reload, .load_ns = now - (int64_t)ns, .frozen_ticks = (int64_t)t, .mode = mode,
		.access = access, .bcd = f & F_BCD, .gate = f & F_GATE, .counting = f & F_COUNTING,
		.write_msb_next = f & F_WRITE_MSB, .read_msb_next = f & F_READ_MSB,
		.write_lsb = in[7], .latched = f & F_LATCHED, .status_latched = f & F_STATUS_LATCHED,
		.latch = le_get16(in + 8), .status = in[10], .latch_msb_next = f & F_LATCH_MSB,
	};
	return 0;
}

void tcg_pit_advance(struct tcg_pit *p, int64_t ns)
{
	for (int i = 0; i < 3; i++)
		if (p->ch[i].counting && p->ch[i].gate)
			p->ch[i].load_ns -= ns;
}

int tcg_pit_load(struct tcg_pit *p, const uint8_t in[TCG_PIT_STATE_SIZE], int64_t now)
{
	struct tcg_pit n;
	for (int i = 0; i < 3; i++)
		if (chan_load(&n.ch[i], in + i * CHAN_SIZE, i, now))
			return -EINVAL;
	if (in[PORT61_OFF] > 1 || !zero(in + PORT61_OFF + 1, 7))
		return -EINVAL;
	n.speaker = in[PORT61_OFF];
	*p = n;
	return 0;
}
