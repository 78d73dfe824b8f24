/* 8259A pair. Priorities, the in-service register and EOI commands follow
 * the data sheet's "fully nested mode"; rotation, special mask mode,
 * auto-EOI and poll mode are there because Linux's driver
 * (arch/x86/kernel/i8259.c) and old guests may use them. */
#include "runtime/backend/tcg/pic.h"

#include <errno.h>
#include <string.h>

/* Priority of the highest bit set in mask, 0 (highest) .. 7, or 8. */
static int priority(const struct tcg_pic_chip *c, uint8_t mask)
{
	if (!mask)
		return 8;
	int p = 0;
	while (!(mask & (1u << ((p + c->priority_add) & 7))))
		p++;
	return p;
}

/* The line this chip would interrupt with, or -1: a request must outrank
 * everything in service (fully nested mode); in special mask mode masked
 * lines do not block (data sheet, "Special Mask Mode"). */
static int chip_pending(const struct tcg_pic_chip *c)
{
	int req = priority(c, c->irr & ~c->imr);
	if (req == 8)
		return -1;
	uint8_t isr = c->special_mask ? c->isr & ~c->imr : c->isr;
	return req < priority(c, isr) ? (req + c->priority_add) & 7 : -1;
}

static void chip_set_line(struct tcg_pic_chip *c, unsigned line, bool level)
{
	uint8_t m = 1u << line;
	if (c->elcr & m) {
		/* Level-triggered: the request follows the line. */
		c->irr = level ? c->irr | m : c->irr & ~m;
	} else if (level && !(c->last_level & m)) {
		c->irr |= m; /* rising edge */
	}
	c->last_level = level ? c->last_level | m : c->last_level & ~m;
}

/* The slave's INT output drives the master's IRQ 2. */
static void update(struct tcg_pic *p)
{
	chip_set_line(&p->chip[0], TCG_PIC_CASCADE_IRQ, chip_pending(&p->chip[1]) >= 0);
}

static const uint8_t elcr_masks[2] = { 0xf8, 0xde };

static void chip_reset(struct tcg_pic_chip *c, uint8_t elcr_mask)
{
	uint8_t elcr = c->elcr;
	memset(c, 0, sizeof(*c));
	c->elcr = elcr & elcr_mask;
	c->elcr_mask = elcr_mask;
	c->imr = 0xff; /* nothing gets through before the guest programs us */
}

void tcg_pic_init(struct tcg_pic *p)
{
	memset(p, 0, sizeof(*p));
	/* IRQ 0, 1, 2, 8 and 13 are always edge-triggered (PIIX4 §3.2.3). */
	chip_reset(&p->chip[0], elcr_masks[0]);
	chip_reset(&p->chip[1], elcr_masks[1]);
}

void tcg_pic_set_irq(struct tcg_pic *p, unsigned irq, bool level)
{
	if (irq > 15)
		return;
	chip_set_line(&p->chip[irq >> 3], irq & 7, level);
	update(p);
}

bool tcg_pic_output(const struct tcg_pic *p)
{
	return chip_pending(&p->chip[0]) >= 0;
}

static void chip_ack(struct tcg_pic_chip *c, int line)
{
	uint8_t m = 1u << line;
	if (c->auto_eoi) {
		if (c->rotate_on_aeoi)
			c->priority_add = (line + 1) & 7;
	} else {
		c->isr |= m;
	}
	/* An edge request is consumed; a level one stays while the line is high. */
	if (!(c->elcr & m))
		c->irr &= ~m;
}

uint8_t tcg_pic_ack(struct tcg_pic *p)
{
	struct tcg_pic_chip *m = &p->chip[0], *s = &p->chip[1];
	int irq = chip_pending(m);
	uint8_t vector;

	if (irq < 0) {
		vector = m->vector_base + 7; /* spurious (data sheet, "Interrupt Sequence") */
	} else {
		chip_ack(m, irq);
		if (irq == TCG_PIC_CASCADE_IRQ) {
			int irq2 = chip_pending(s);
			if (irq2 >= 0)
				chip_ack(s, irq2);
			else
				irq2 = 7;
			vector = s->vector_base + irq2;
		} else {
			vector = m->vector_base + irq;
		}
	}
	update(p);
	return vector;
}

static void eoi(struct tcg_pic_chip *c, int line, bool rotate)
{
	c->isr &= ~(1u << line);
	if (rotate)
		c->priority_add = (line + 1) & 7;
}

static void write_command(struct tcg_pic_chip *c, uint8_t val, uint8_t elcr_mask)
{
	if (val & 0x10) {
		/* ICW1: start initialisation. */
		chip_reset(c, elcr_mask);
		c->init_step = 2;
		c->need_icw4 = val & 1;
		c->single = val & 2;
		return;
	}
	if (val & 0x08) {
		/* OCW3: register select, poll, special mask. */
		if (val & 0x04)
			c->poll = true;
		if (val & 0x02)
			c->read_isr = val & 1;
		if (val & 0x40)
			c->special_mask = (val >> 5) & 1;
		return;
	}
	/* OCW2: EOI and rotation commands. */
	int line = val & 7;
	switch (val >> 5) {
	case 0: /* rotate in auto-EOI mode: clear */
	case 4: /* set */
		c->rotate_on_aeoi = val >> 7;
		break;
	case 1: /* non-specific EOI */
	case 5: { /* rotate on non-specific EOI */
		int pr = priority(c, c->isr);
		if (pr != 8)
			eoi(c, (pr + c->priority_add) & 7, (val >> 5) == 5);
		break;
	}
	case 3: /* specific EOI */
		eoi(c, line, false);
		break;
	case 6: /* set priority: line becomes the lowest */
		c->priority_add = (line + 1) & 7;
		break;
	case 7: /* rotate on specific EOI */
		eoi(c, line, true);
		break;
	default:
		break;
	}
}

static void write_data(struct tcg_pic_chip *c, uint8_t val)
{
	switch (c->init_step) {
	case 2: /* ICW2: vector base */
		c->vector_base = val & 0xf8;
		c->init_step = c->single ? (c->need_icw4 ? 4 : 0) : 3;
		break;
	case 3: /* ICW3: cascade wiring, fixed here */
		c->init_step = c->need_icw4 ? 4 : 0;
		break;
	case 4: /* ICW4: auto-EOI; 8086 mode assumed */
		c->auto_eoi = (val >> 1) & 1;
		c->init_step = 0;
		break;
	default: /* OCW1: mask */
		c->imr = val;
		break;
	}
}

void tcg_pic_write(struct tcg_pic *p, uint16_t port, uint8_t val)
{
	if (port == TCG_PIC_ELCR || port == TCG_PIC_ELCR + 1) {
		struct tcg_pic_chip *c = &p->chip[port & 1];
		c->elcr = val & c->elcr_mask;
	} else {
		unsigned i = (port & 0x80) ? 1 : 0;
		struct tcg_pic_chip *c = &p->chip[i];
		if (port & 1)
			write_data(c, val);
		else
			write_command(c, val, elcr_masks[i]);
	}
	update(p);
}

uint8_t tcg_pic_read(struct tcg_pic *p, uint16_t port)
{
	if (port == TCG_PIC_ELCR || port == TCG_PIC_ELCR + 1)
		return p->chip[port & 1].elcr;
	struct tcg_pic_chip *c = &p->chip[(port & 0x80) ? 1 : 0];
	if (c->poll) {
		/* Poll mode: the read is the acknowledge (data sheet, "Poll Command"). */
		c->poll = false;
		int line = chip_pending(c);
		if (line < 0)
			return 0;
		chip_ack(c, line);
		update(p);
		return 0x80 | line;
	}
	if (port & 1)
		return c->imr;
	return c->read_isr ? c->isr : c->irr;
}

#define CHIP_SIZE 16
enum {
	F_NEED_ICW4 = 1u << 0, F_SINGLE = 1u << 1, F_AUTO_EOI = 1u << 2, F_ROTATE_AEOI = 1u << 3,
	F_READ_ISR = 1u << 4, F_POLL = 1u << 5, F_SPECIAL_MASK = 1u << 6,
};

void tcg_pic_save(const struct tcg_pic *p, uint8_t out[TCG_PIC_STATE_SIZE])
{
	memset(out, 0, TCG_PIC_STATE_SIZE);
	for (int i = 0; i < 2; i++) {
		const struct tcg_pic_chip *c = &p->chip[i];
		uint8_t *o = out + i * CHIP_SIZE;
		o[0] = c->irr;
		o[1] = c->isr;
		o[2] = c->imr;
		o[3] = c->last_level;
		o[4] = c->elcr;
		o[5] = c->vector_base;
		o[6] = c->priority_add;
		o[7] = c->init_step;
		o[8] = (uint8_t)((c->need_icw4 ? F_NEED_ICW4 : 0) | (c->single ? F_SINGLE : 0) |
				 (c->auto_eoi ? F_AUTO_EOI : 0) | (c->rotate_on_aeoi ? F_ROTATE_AEOI : 0) |
				 (c->read_isr ? F_READ_ISR : 0) | (c->poll ? F_POLL : 0) |
				 (c->special_mask ? F_SPECIAL_MASK : 0));
	}
}

/* The values the chip's registers can take, as the code above sets them. */
static int chip_load(struct tcg_pic_chip *c, const uint8_t *in, uint8_t elcr_mask)
{
	uint8_t flags = in[8];
	for (int i = 9; i < CHIP_SIZE; i++)
		if (in[i])
			return -EINVAL;
	if ((in[4] & ~elcr_mask) || (in[5] & 7) || in[6] > 7 || (flags & ~0x7fu))
		return -EINVAL;
	switch (in[7]) {
	case 0:
	case 2:
		break;
	case 3: /* ICW3 comes only in cascade mode */
		if (flags & F_SINGLE)
			return -EINVAL;
		break;
	case 4:
		if (!(flags & F_NEED_ICW4))
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}
	*c = (struct tcg_pic_chip){
		.irr = in[0], .isr = in[1], .imr = in[2], .last_level = in[3], .elcr = in[4],
		.elcr_mask = elcr_mask, .vector_base = in[5], .priority_add = in[6],
		.init_step = in[7], .need_icw4 = flags & F_NEED_ICW4, .single = flags & F_SINGLE,
		.auto_eoi = flags & F_AUTO_EOI, .rotate_on_aeoi = flags & F_ROTATE_AEOI,
		.read_isr = flags & F_READ_ISR, .poll = flags & F_POLL,
		.special_mask = flags & F_SPECIAL_MASK,
	};
	return 0;
}

int tcg_pic_load(struct tcg_pic *p, const uint8_t in[TCG_PIC_STATE_SIZE])
{
	struct tcg_pic n;
	for (int i = 0; i < 2; i++)
		if (chip_load(&n.chip[i], in + i * CHIP_SIZE, elcr_masks[i]))
			return -EINVAL;
	/* Every change ends in update(): the master's cascade line is the
	 * slave's output. */
	bool cascade = (n.chip[0].last_level >> TCG_PIC_CASCADE_IRQ) & 1;
	if (cascade != (chip_pending(&n.chip[1]) >= 0))
		return -EINVAL;
	*p = n;
	return 0;
}
