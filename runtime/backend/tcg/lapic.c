/* The local APIC's state machine (lapic.h). */
#include "runtime/backend/tcg/lapic.h"

#include <errno.h>
#include <string.h>

#include "runtime/backend/tcg/le.h"

#define R(off) (l->regs[(off) >> 4])
#define LVT_VECTOR(v) ((v) & 0xffu)

/* Bits of a vector in the IRR/ISR/TMR: 8 registers of 32. */
static bool vec_test(const uint32_t *regs, uint32_t base, unsigned vec)
{
	return regs[(base >> 4) + vec / 32] & (1u << (vec % 32));
}

static void vec_set(uint32_t *regs, uint32_t base, unsigned vec, bool on)
{
	uint32_t *w = &regs[(base >> 4) + vec / 32];
	*w = on ? *w | (1u << (vec % 32)) : *w & ~(1u << (vec % 32));
}

static int vec_highest(const uint32_t *regs, uint32_t base)
{
	for (int i = 7; i >= 0; i--) {
		uint32_t w = regs[(base >> 4) + i];
		if (w)
			return i * 32 + 31 - __builtin_clz(w);
	}
	return -1;
}

static void reset_regs(struct tcg_lapic *l)
{
	unsigned index = l->index;
	uint64_t base = l->apic_base;
	memset(l, 0, sizeof(*l));
	l->index = index;
	l->apic_base = base;
	R(TCG_APIC_ID) = index << 24;
	R(TCG_APIC_LVR) = TCG_LAPIC_VERSION;
	R(TCG_APIC_DFR) = 0xffffffffu;
	R(TCG_APIC_SVR) = 0xff;
	for (uint32_t off = TCG_APIC_LVTT; off <= TCG_APIC_LVT_ERR; off += 0x10)
		R(off) = TCG_APIC_LVT_MASKED;
	R(TCG_APIC_LVT_CMCI) = TCG_APIC_LVT_MASKED;
	l->timer_next = -1;
	l->timer_div = 2;
	l->sipi_vector = -1;
}

void tcg_lapic_init(struct tcg_lapic *l, unsigned index)
{
	l->index = index;
	l->apic_base = TCG_LAPIC_BASE | TCG_APIC_BASE_ENABLE | (index == 0 ? TCG_APIC_BASE_BSP : 0);
	reset_regs(l);
	if (index == 0) {
		R(TCG_APIC_LVT0) = TCG_DM_EXTINT << 8;
		R(TCG_APIC_LVT1) = TCG_DM_NMI << 8;
	}
}

bool tcg_lapic_hw_enabled(const struct tcg_lapic *l)
{
	return l->apic_base & TCG_APIC_BASE_ENABLE;
}

bool tcg_lapic_sw_enabled(const struct tcg_lapic *l)
{
	return tcg_lapic_hw_enabled(l) && (R(TCG_APIC_SVR) & TCG_APIC_SVR_ENABLE);
}

uint32_t tcg_lapic_ppr(const struct tcg_lapic *l)
{
	uint32_t tpr = R(TCG_APIC_TPR) & 0xff;
	int isrv = vec_highest(l->regs, TCG_APIC_ISR);
	uint32_t isr_class = isrv < 0 ? 0 : (uint32_t)isrv & 0xf0;
	return (tpr & 0xf0) >= isr_class ? tpr : isr_class;
}

int tcg_lapic_pending(const struct tcg_lapic *l)
{
	if (!tcg_lapic_hw_enabled(l))
		return -1;
	int irrv = vec_highest(l->regs, TCG_APIC_IRR);
	if (irrv < 0 || ((uint32_t)irrv & 0xf0) <= (tcg_lapic_ppr(l) & 0xf0))
		return -1;
	return irrv;
}

uint8_t tcg_lapic_ack(struct tcg_lapic *l)
{
	int v = tcg_lapic_pending(l);
	if (v < 0)
		return (uint8_t)(R(TCG_APIC_SVR) & 0xff); /* spurious */
	vec_set(l->regs, TCG_APIC_IRR, (unsigned)v, false);
	vec_set(l->regs, TCG_APIC_ISR, (unsigned)v, true);
	return (uint8_t)v;
}

static void set_error(struct tcg_lapic *l, uint32_t bit)
{
	bool fresh = !(l->esr_pending & bit);
	l->esr_pending |= bit;
	uint32_t lvt = R(TCG_APIC_LVT_ERR);
	if (fresh && !(lvt & TCG_APIC_LVT_MASKED) && LVT_VECTOR(lvt) >= 16)
		tcg_lapic_accept(l, LVT_VECTOR(lvt), false);
}

void tcg_lapic_accept(struct tcg_lapic *l, uint8_t vector, bool level_trig)
{
	if (!tcg_lapic_sw_enabled(l))
		return; /* a software-disabled APIC drops fixed interrupts (as KVM) */
	if (vector < 16) {
		set_error(l, TCG_APIC_ESR_RECV_ILLEGAL);
		return;
	}
	vec_set(l->regs, TCG_APIC_IRR, vector, true);
	vec_set(l->regs, TCG_APIC_TMR, vector, level_trig);
}

void tcg_lapic_deliver(struct tcg_lapic *l, const struct tcg_apic_msg *msg)
{
	switch (msg->mode) {
	case TCG_DM_FIXED:
	case TCG_DM_LOWEST:
		tcg_lapic_accept(l, msg->vector, msg->level_trig);
		break;
	case TCG_DM_NMI:
		l->nmi_pending = true;
		break;
	case TCG_DM_INIT:
		/* INIT level de-assert (level-triggered, de-assert) is a no-op
		 * on xAPICs; the BSP ignores INIT as Linux's BSP never gets one. */
		if (msg->level_trig && !msg->assert)
			break;
		l->init_pending = true;
		break;
	case TCG_DM_STARTUP:
		if (l->wait_sipi)
			l->sipi_vector = msg->vector;
		break;
	default:
		break; /* SMI, ExtINT: nothing in Ember sends them */
	}
}

bool tcg_lapic_match(const struct tcg_lapic *l, const struct tcg_apic_msg *msg)
{
	switch (msg->shorthand) {
	case 1:
		return msg->src == l->index;
	case 2:
		return true;
	case 3:
		return msg->src != l->index;
	default:
		break;
	}
	if (tcg_lapic_x2apic(l)) {
		/* 32-bit destinations; an xAPIC-format message (the I/O APIC's)
		 * broadcasts with 0xff (SDM 10.12.9). */
		uint32_t all = msg->x2apic ? 0xffffffffu : 0xffu;
		if (msg->dest == all)
			return true;
		if (!msg->logical)
			return msg->dest == R(TCG_APIC_ID);
		uint32_t ldr = R(TCG_APIC_LDR);
		return (msg->dest >> 16) == (ldr >> 16) && (msg->dest & ldr & 0xffff);
	}
	/* An xAPIC receiving from an x2APIC (an AP not switched yet): the
	 * 32-bit broadcast, or the ID. */
	if (!msg->logical)
		return msg->dest == 0xff || msg->dest == (R(TCG_APIC_ID) >> 24) ||
		       (msg->x2apic && msg->dest == 0xffffffffu);
	uint8_t ldr = (uint8_t)(R(TCG_APIC_LDR) >> 24);
	if ((R(TCG_APIC_DFR) >> 28) == 0xf) /* flat */
		return ldr & msg->dest;
	/* cluster: high nibble the cluster (15 broadcasts), low nibble a mask */
	return ((msg->dest >> 4) == 0xf || (msg->dest >> 4) == (ldr >> 4)) &&
	       (ldr & msg->dest & 0xf);
}

bool tcg_lapic_accepts_pic(const struct tcg_lapic *l)
{
	uint32_t lvt0 = R(TCG_APIC_LVT0);
	if (!tcg_lapic_hw_enabled(l))
		return true;
	return !(lvt0 & TCG_APIC_LVT_MASKED) && TCG_APIC_DM(lvt0) == TCG_DM_EXTINT;
}

/* The timer. One count lasts timer_div ns (a 1 GHz bus clock). */
static uint32_t div_of(uint32_t tdcr)
{
	unsigned v = ((tdcr & 8) >> 1) | (tdcr & 3); /* bits 3, 1:0 */
	return v == 7 ? 1 : 2u << v;
}

static int64_t period_of(const struct tcg_lapic *l)
{
	return (int64_t)R(TCG_APIC_TMICT) * l->timer_div;
}

static void timer_start(struct tcg_lapic *l, int64_t now, uint32_t count)
{
	l->timer_start = now;
	l->timer_period = period_of(l);
	l->timer_next = -1;
	uint32_t mode = TCG_APIC_LVTT_MODE(R(TCG_APIC_LVTT));
	if (!R(TCG_APIC_TMICT) || mode > 1)
		return;
	if (mode == 1 && l->timer_period < TCG_LAPIC_MIN_PERIOD_NS)
		l->timer_period = TCG_LAPIC_MIN_PERIOD_NS;
	int64_t first = (int64_t)count * l->timer_div;
	/* Counting from count rather than TMICT (a restore): as if started
	 * that much earlier. */
	l->timer_start = now - (period_of(l) - first);
	l->timer_next = now + first;
}

static uint32_t timer_current(const struct tcg_lapic *l, int64_t now)
{
	uint32_t mode = TCG_APIC_LVTT_MODE(R(TCG_APIC_LVTT));
	if (!R(TCG_APIC_TMICT) || mode > 1 || l->timer_period <= 0)
		return 0;
	if (mode == 0 && l->timer_next < 0)
		return 0; /* fired */
	int64_t elapsed = now - l->timer_start;
	if (elapsed < 0)
		elapsed = 0;
	if (mode == 1)
		elapsed %= l->timer_period;
	int64_t counted = elapsed / l->timer_div;
	if (counted >= R(TCG_APIC_TMICT))
		return 0;
	return R(TCG_APIC_TMICT) - (uint32_t)counted;
}

int64_t tcg_lapic_timer_next(const struct tcg_lapic *l)
{
	return tcg_lapic_hw_enabled(l) ? l->timer_next : -1;
}

void tcg_lapic_timer_fire(struct tcg_lapic *l, int64_t now)
{
	if (l->timer_next < 0 || now < l->timer_next)
		return;
	uint32_t lvtt = R(TCG_APIC_LVTT);
	if (!(lvtt & TCG_APIC_LVT_MASKED))
		tcg_lapic_accept(l, LVT_VECTOR(lvtt), false);
	if (TCG_APIC_LVTT_MODE(lvtt) == 2) {
		l->tsc_deadline = 0; /* fired: reads 0 (SDM 10.5.4.1) */
		l->timer_next = -1;
	} else if (TCG_APIC_LVTT_MODE(lvtt) == 1 && l->timer_period > 0) {
		/* Missed periods come as this one interrupt. */
		int64_t late = now - l->timer_next;
		l->timer_next += (late / l->timer_period + 1) * l->timer_period;
	} else {
		l->timer_next = -1;
	}
}

uint32_t tcg_lapic_read(struct tcg_lapic *l, uint32_t off, int64_t now)
{
	if (off & 0xf || off >= 0x400)
		return 0;
	switch (off) {
	case TCG_APIC_PPR:
		return tcg_lapic_ppr(l);
	case TCG_APIC_TMCCT:
		return timer_current(l, now);
	case TCG_APIC_EOI:
	case TCG_APIC_RRD:
		return 0;
	default:
		return l->regs[off >> 4];
	}
}

static void set_lvt(struct tcg_lapic *l, uint32_t off, uint32_t val, int64_t now)
{
	static const uint32_t lvt_mask = 0x1a7ff; /* mask, trigger, polarity, DM, vector */
	uint32_t keep = lvt_mask;
	if (off == TCG_APIC_LVTT)
		keep = 0x700ff; /* mode (18:17), mask, vector */
	else if (off == TCG_APIC_LVT_ERR || off == TCG_APIC_LVT_THERMAL || off == TCG_APIC_LVT_PERF ||
		 off == TCG_APIC_LVT_CMCI)
		keep = 0x107ff;
	val &= keep;
	if (!tcg_lapic_sw_enabled(l))
		val |= TCG_APIC_LVT_MASKED;
	uint32_t old = R(off);
	R(off) = val;
	if (off == TCG_APIC_LVTT && TCG_APIC_LVTT_MODE(old) != TCG_APIC_LVTT_MODE(val)) {
		/* A mode change stops the timer and disarms a deadline (as
		 * KVM does). */
		R(TCG_APIC_TMICT) = 0;
		l->timer_next = -1;
		l->tsc_deadline = 0;
	}
	(void)now;
}

bool tcg_lapic_write(struct tcg_lapic *l, uint32_t off, uint32_t val, int64_t now,
		     struct tcg_apic_msg *msg, int *eoi_vector)
{
	*eoi_vector = -1;
	if (off & 0xf || off >= 0x400)
		return false;
	switch (off) {
	case TCG_APIC_ID:
		R(off) = val & 0xff000000u;
		break;
	case TCG_APIC_TPR:
		R(off) = val & 0xff;
		break;
	case TCG_APIC_EOI: {
		int v = vec_highest(l->regs, TCG_APIC_ISR);
		if (v >= 0) {
			vec_set(l->regs, TCG_APIC_ISR, (unsigned)v, false);
			if (vec_test(l->regs, TCG_APIC_TMR, (unsigned)v))
				*eoi_vector = v;
		}
		break;
	}
	case TCG_APIC_LDR:
		R(off) = val & 0xff000000u;
		break;
	case TCG_APIC_DFR:
		R(off) = val | 0x0fffffffu;
		break;
	case TCG_APIC_SVR:
		R(off) = val & 0x3ff;
		if (!(val & TCG_APIC_SVR_ENABLE)) {
			for (uint32_t o = TCG_APIC_LVTT; o <= TCG_APIC_LVT_ERR; o += 0x10)
				R(o) |= TCG_APIC_LVT_MASKED;
			R(TCG_APIC_LVT_CMCI) |= TCG_APIC_LVT_MASKED;
		}
		break;
	case TCG_APIC_ESR:
		R(off) = l->esr_pending; /* a write latches the errors so far */
		l->esr_pending = 0;
		break;
	case TCG_APIC_ICR2:
		R(off) = val & 0xff000000u;
		break;
	case TCG_APIC_ICR: {
		R(off) = val & ~(1u << 12); /* delivery status: always idle */
		*msg = (struct tcg_apic_msg){
			.vector = (uint8_t)val, .mode = (uint8_t)TCG_APIC_DM(val),
			.shorthand = (uint8_t)((val >> 18) & 3), .logical = val & (1u << 11),
			.assert = val & (1u << 14), .level_trig = val & (1u << 15),
			.dest = R(TCG_APIC_ICR2) >> 24, .src = l->index,
		};
		if ((msg->mode == TCG_DM_FIXED || msg->mode == TCG_DM_LOWEST) && msg->vector < 16) {
			set_error(l, TCG_APIC_ESR_SEND_ILLEGAL);
			return false;
		}
		return true;
	}
	case TCG_APIC_LVTT:
	case TCG_APIC_LVT_THERMAL:
	case TCG_APIC_LVT_PERF:
	case TCG_APIC_LVT0:
	case TCG_APIC_LVT1:
	case TCG_APIC_LVT_ERR:
	case TCG_APIC_LVT_CMCI:
		set_lvt(l, off, val, now);
		break;
	case TCG_APIC_TMICT:
		if (TCG_APIC_LVTT_MODE(R(TCG_APIC_LVTT)) == 2)
			break; /* ignored in TSC-deadline mode (SDM 10.5.4.1) */
		R(off) = val;
		timer_start(l, now, val);
		break;
	case TCG_APIC_TDCR:
		R(off) = val & 0xb;
		l->timer_div = div_of(val);
		break;
	default:
		break; /* read-only or reserved */
	}
	return false;
}

/* x2APIC mode's ID and LDR (SDM 10.12.10.2): cluster id << 16 | one bit
 * for the APIC's position in its cluster of 16. */
static void enter_x2apic(struct tcg_lapic *l)
{
	R(TCG_APIC_ID) = l->index;
	R(TCG_APIC_LDR) = ((l->index >> 4) << 16) | (1u << (l->index & 0xf));
}

bool tcg_lapic_x2apic(const struct tcg_lapic *l)
{
	return (l->apic_base & (TCG_APIC_BASE_ENABLE | TCG_APIC_BASE_X2APIC)) ==
	       (TCG_APIC_BASE_ENABLE | TCG_APIC_BASE_X2APIC);
}

bool tcg_lapic_set_base(struct tcg_lapic *l, uint64_t val)
{
	/* The page stays where the MP table and MADT put it: relocation is
	 * refused (#GP), as nothing could route a moved page's accesses (the
	 * APIC page is a fixed MMIO window on every engine). */
	if (!tcg_lapic_base_ok(val) || (val & TCG_APIC_BASE_BSP) != (l->apic_base & TCG_APIC_BASE_BSP))
		return false;
	bool was_on = tcg_lapic_hw_enabled(l), was_x2 = tcg_lapic_x2apic(l);
	bool on = val & TCG_APIC_BASE_ENABLE, x2 = on && (val & TCG_APIC_BASE_X2APIC);
	/* SDM 10.12.5, Figure 10-27: x2APIC is entered from xAPIC mode only,
	 * and left only by disabling the APIC. */
	if ((x2 && !was_on) || (was_x2 && on && !x2))
		return false;
	l->apic_base = val;
	if (was_on && !on)
		reset_regs(l); /* a hardware disable resets the APIC (SDM 10.4.3) */
	else if (x2 && !was_x2)
		enter_x2apic(l);
	return true;
}

bool tcg_lapic_base_ok(uint64_t v)
{
	uint64_t flags = TCG_APIC_BASE_ENABLE | TCG_APIC_BASE_BSP | TCG_APIC_BASE_X2APIC;
	if ((v & ~flags) != TCG_LAPIC_BASE)
		return false;
	/* x2APIC without the global enable is the invalid state. */
	return !(v & TCG_APIC_BASE_X2APIC) || (v & TCG_APIC_BASE_ENABLE);
}

/* x2APIC MSR n is the register at offset n << 4 of the page (SDM Table
 * 10-6). */
int tcg_lapic_rdmsr(struct tcg_lapic *l, uint32_t msr, int64_t now, uint64_t *val)
{
	if (!tcg_lapic_x2apic(l) || msr < TCG_MSR_X2APIC_FIRST || msr > TCG_MSR_X2APIC_LAST)
		return -1;
	uint32_t off = (msr - TCG_MSR_X2APIC_FIRST) << 4;
	switch (off) {
	case TCG_APIC_ID: case TCG_APIC_LVR: case TCG_APIC_TPR: case TCG_APIC_PPR:
	case TCG_APIC_LDR: case TCG_APIC_SVR: case TCG_APIC_ESR: case TCG_APIC_LVT_CMCI:
	case TCG_APIC_LVTT: case TCG_APIC_LVT_THERMAL: case TCG_APIC_LVT_PERF:
	case TCG_APIC_LVT0: case TCG_APIC_LVT1: case TCG_APIC_LVT_ERR: case TCG_APIC_TMICT:
	case TCG_APIC_TMCCT: case TCG_APIC_TDCR:
		*val = tcg_lapic_read(l, off, now);
		return 0;
	case TCG_APIC_ICR:
		*val = (uint64_t)R(TCG_APIC_ICR2) << 32 | R(TCG_APIC_ICR);
		return 0;
	default:
		if (off >= TCG_APIC_ISR && off < TCG_APIC_IRR + 0x80) {
			*val = l->regs[off >> 4];
			return 0;
		}
		/* EOI and SELF_IPI are write-only; APR, RRD, DFR and ICR2 do
		 * not exist in x2APIC mode; the rest is reserved. */
		return -1;
	}
}

int tcg_lapic_wrmsr(struct tcg_lapic *l, uint32_t msr, uint64_t val, int64_t now,
		    struct tcg_apic_msg *msg, int *eoi_vector)
{
	*eoi_vector = -1;
	if (!tcg_lapic_x2apic(l) || msr < TCG_MSR_X2APIC_FIRST || msr > TCG_MSR_X2APIC_LAST)
		return -1;
	uint32_t off = (msr - TCG_MSR_X2APIC_FIRST) << 4;
	if (off != TCG_APIC_ICR && val >> 32)
		return -1;
	uint32_t v32 = (uint32_t)val;
	switch (off) {
	case TCG_APIC_TPR:
		if (v32 & ~0xffu)
			return -1;
		break;
	case TCG_APIC_EOI:
	case TCG_APIC_ESR:
		if (v32)
			return -1;
		break;
	case TCG_APIC_SVR:
		if (v32 & ~0x13ffu)
			return -1;
		break;
	case TCG_APIC_TDCR:
		if (v32 & ~0xbu)
			return -1;
		break;
	case TCG_APIC_SELF_IPI:
		if (v32 & ~0xffu)
			return -1;
		if (v32 < 16)
			set_error(l, TCG_APIC_ESR_SEND_ILLEGAL);
		else
			tcg_lapic_accept(l, (uint8_t)v32, false);
		return 0;
	case TCG_APIC_ICR: {
		/* Reserved bits (31:20, 17:16, 13:12) are dropped, not
		 * faulted, as KVM does. */
		v32 &= ~0xfff33000u;
		R(TCG_APIC_ICR2) = (uint32_t)(val >> 32);
		R(TCG_APIC_ICR) = v32;
		*msg = (struct tcg_apic_msg){
			.vector = (uint8_t)v32, .mode = (uint8_t)TCG_APIC_DM(v32),
			.shorthand = (uint8_t)((v32 >> 18) & 3), .logical = v32 & (1u << 11),
			.assert = v32 & (1u << 14), .level_trig = v32 & (1u << 15), .x2apic = true,
			.dest = (uint32_t)(val >> 32), .src = l->index,
		};
		if ((msg->mode == TCG_DM_FIXED || msg->mode == TCG_DM_LOWEST) && msg->vector < 16) {
			set_error(l, TCG_APIC_ESR_SEND_ILLEGAL);
			return 0;
		}
		return 1;
	}
	case TCG_APIC_LVTT: case TCG_APIC_LVT_THERMAL: case TCG_APIC_LVT_PERF:
	case TCG_APIC_LVT0: case TCG_APIC_LVT1: case TCG_APIC_LVT_ERR: case TCG_APIC_LVT_CMCI:
	case TCG_APIC_TMICT:
		break;
	default:
		return -1; /* read-only, reserved, or not in x2APIC mode */
	}
	tcg_lapic_write(l, off, v32, now, msg, eoi_vector);
	return 0;
}

/* The guest TSC counts khz per ms. Rounded up, plus 1/4096 for the error
 * of the measured rate (tsc.h: about 1/10000), so that the guest never
 * sees its interrupt before its RDTSC reaches the deadline. */
static int64_t ns_until(uint64_t deadline, uint64_t tsc, unsigned long khz)
{
	if (deadline <= tsc || !khz)
		return 0;
	unsigned __int128 ns = ((unsigned __int128)(deadline - tsc) * 1000000 + khz - 1) / khz;
	ns += ns / 4096 + 1;
	return ns > (unsigned __int128)INT64_MAX / 2 ? INT64_MAX / 2 : (int64_t)ns;
}

void tcg_lapic_set_deadline(struct tcg_lapic *l, uint64_t deadline, int64_t now, uint64_t tsc,
			    unsigned long khz)
{
	if (TCG_APIC_LVTT_MODE(R(TCG_APIC_LVTT)) != 2)
		return;
	l->tsc_deadline = deadline;
	l->timer_next = deadline ? now + ns_until(deadline, tsc, khz) : -1;
}

uint64_t tcg_lapic_deadline(const struct tcg_lapic *l)
{
	return TCG_APIC_LVTT_MODE(R(TCG_APIC_LVTT)) == 2 ? l->tsc_deadline : 0;
}

void tcg_lapic_save(const struct tcg_lapic *l, uint8_t out[TCG_LAPIC_STATE_SIZE], int64_t now)
{
	memset(out, 0, TCG_LAPIC_STATE_SIZE);
	for (unsigned i = 0; i < 64; i++)
		le_put32(out + i * 16, l->regs[i]);
	le_put32(out + TCG_APIC_PPR, tcg_lapic_ppr(l));
	le_put32(out + TCG_APIC_TMCCT, timer_current(l, now));
	le_put32(out + TCG_APIC_ESR, l->esr_pending | l->regs[TCG_APIC_ESR >> 4]);
}

int tcg_lapic_load(struct tcg_lapic *l, const uint8_t in[TCG_LAPIC_STATE_SIZE],
		   uint64_t apic_base, int64_t now)
{
	if (!tcg_lapic_base_ok(apic_base))
		return -EINVAL;
	for (unsigned i = 0; i < 64; i++)
		for (unsigned b = 4; b < 16; b++)
			if (in[i * 16 + b])
				return -EINVAL;
	struct tcg_lapic n = { .index = l->index, .apic_base = apic_base };
	reset_regs(&n);
	for (unsigned i = 0; i < 64; i++)
		n.regs[i] = le_get32(in + i * 16);
	uint32_t cur = n.regs[TCG_APIC_TMCCT >> 4];
	if (cur > n.regs[TCG_APIC_TMICT >> 4])
		return -EINVAL;
	n.regs[TCG_APIC_LVR >> 4] = TCG_LAPIC_VERSION;
	n.regs[TCG_APIC_PPR >> 4] = 0;
	n.regs[TCG_APIC_TMCCT >> 4] = 0;
	n.regs[TCG_APIC_DFR >> 4] |= 0x0fffffffu;
	n.regs[TCG_APIC_TDCR >> 4] &= 0xb;
	n.esr_pending = n.regs[TCG_APIC_ESR >> 4];
	n.regs[TCG_APIC_ESR >> 4] = 0;
	n.timer_div = div_of(n.regs[TCG_APIC_TDCR >> 4]);
	bool one_shot = TCG_APIC_LVTT_MODE(n.regs[TCG_APIC_LVTT >> 4]) == 0;
	if (!cur && !one_shot)
		cur = n.regs[TCG_APIC_TMICT >> 4];
	timer_start(&n, now, cur);
	if (!cur)
		n.timer_next = -1; /* a one-shot that has fired */
	*l = n;
	return 0;
}
