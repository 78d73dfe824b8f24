/* The I/O APIC's state machine (ioapic.h). */
#include "runtime/backend/tcg/ioapic.h"

#include <errno.h>
#include <string.h>

#include "runtime/backend/tcg/le.h"

#define VERSION 0x11u
#define REG_ID 0
#define REG_VER 1
#define REG_ARB 2
#define REG_REDIR 0x10
/* Writable bits of an entry: all but delivery status (12), remote IRR (14)
 * and the reserved 17..55. */
#define REDIR_WRITABLE (0xff00000000000000ULL | 0x1afffULL)

void tcg_ioapic_init(struct tcg_ioapic *io, unsigned id, tcg_ioapic_send_fn *send, void *ctx)
{
	memset(io, 0, sizeof(*io));
	io->id = (id & 0xf) << 24;
	for (unsigned i = 0; i < TCG_IOAPIC_PINS; i++)
		io->redir[i] = TCG_IOAPIC_MASKED;
	io->send = send;
	io->send_ctx = ctx;
}

/* Sends pin's request if its entry lets it through. */
static void service(struct tcg_ioapic *io, unsigned pin)
{
	uint64_t e = io->redir[pin];
	uint32_t bit = 1u << pin;
	if (!(io->irr & bit) || (e & TCG_IOAPIC_MASKED))
		return;
	bool level = e & TCG_IOAPIC_LEVEL;
	if (level && (e & TCG_IOAPIC_REMOTE_IRR))
		return;
	struct tcg_apic_msg msg = {
		.vector = (uint8_t)e, .mode = (uint8_t)((e >> 8) & 7), .logical = e & (1u << 11),
		.level_trig = level, .assert = true, .dest = (uint8_t)(e >> 56),
	};
	if (level)
		io->redir[pin] |= TCG_IOAPIC_REMOTE_IRR;
	else
		io->irr &= ~bit;
	io->send(io->send_ctx, &msg);
}

void tcg_ioapic_set_irq(struct tcg_ioapic *io, unsigned pin, bool level)
{
	if (pin >= TCG_IOAPIC_PINS)
		return;
	uint32_t bit = 1u << pin;
	bool was = io->level & bit;
	io->level = level ? io->level | bit : io->level & ~bit;
	if (io->redir[pin] & TCG_IOAPIC_LEVEL) {
		io->irr = level ? io->irr | bit : io->irr & ~bit;
	} else if (level && !was) {
		io->irr |= bit; /* a rising edge */
	}
	service(io, pin);
}

uint32_t tcg_ioapic_read(struct tcg_ioapic *io, uint32_t off)
{
	if (off == 0x00)
		return io->ioregsel;
	if (off != 0x10)
		return 0;
	uint32_t r = io->ioregsel;
	switch (r) {
	case REG_ID:
	case REG_ARB:
		return io->id;
	case REG_VER:
		return ((TCG_IOAPIC_PINS - 1) << 16) | VERSION;
	default:
		if (r >= REG_REDIR && r < REG_REDIR + 2 * TCG_IOAPIC_PINS) {
			uint64_t e = io->redir[(r - REG_REDIR) / 2];
			return (r & 1) ? (uint32_t)(e >> 32) : (uint32_t)e;
		}
		return 0;
	}
}

void tcg_ioapic_write(struct tcg_ioapic *io, uint32_t off, uint32_t val)
{
	if (off == 0x00) {
		io->ioregsel = val & 0xff;
		return;
	}
	if (off != 0x10)
		return;
	uint32_t r = io->ioregsel;
	if (r == REG_ID) {
		io->id = val & 0x0f000000u;
		return;
	}
	if (r < REG_REDIR || r >= REG_REDIR + 2 * TCG_IOAPIC_PINS)
		return;
	unsigned pin = (r - REG_REDIR) / 2;
	uint64_t e = io->redir[pin];
	if (r & 1)
		e = (e & 0xffffffffULL) | ((uint64_t)val << 32);
	else
		e = (e & ~0xffffffffULL) | val;
	e = (e & REDIR_WRITABLE) | (io->redir[pin] & TCG_IOAPIC_REMOTE_IRR);
	if (!(e & TCG_IOAPIC_LEVEL))
		e &= ~TCG_IOAPIC_REMOTE_IRR; /* an edge entry has none */
	io->redir[pin] = e;
	/* A level line held high is a request again once unmasked. */
	if ((e & TCG_IOAPIC_LEVEL) && (io->level & (1u << pin)))
		io->irr |= 1u << pin;
	service(io, pin);
}

void tcg_ioapic_eoi(struct tcg_ioapic *io, uint8_t vector)
{
	for (unsigned pin = 0; pin < TCG_IOAPIC_PINS; pin++) {
		uint64_t e = io->redir[pin];
		if ((uint8_t)e != vector || !(e & TCG_IOAPIC_REMOTE_IRR))
			continue;
		io->redir[pin] = e & ~TCG_IOAPIC_REMOTE_IRR;
		service(io, pin);
	}
}

void tcg_ioapic_save(const struct tcg_ioapic *io, uint8_t out[TCG_IOAPIC_STATE_SIZE])
{
	le_put32(out, io->id);
	le_put32(out + 4, io->ioregsel);
	le_put32(out + 8, io->level);
	le_put32(out + 12, io->irr);
	for (unsigned i = 0; i < TCG_IOAPIC_PINS; i++)
		le_put64(out + 16 + 8 * i, io->redir[i]);
}

int tcg_ioapic_load(struct tcg_ioapic *io, const uint8_t in[TCG_IOAPIC_STATE_SIZE])
{
	uint32_t pins = (1u << TCG_IOAPIC_PINS) - 1;
	uint32_t id = le_get32(in), sel = le_get32(in + 4);
	uint32_t level = le_get32(in + 8), irr = le_get32(in + 12);
	if (id & ~0x0f000000u || sel > 0xff || level & ~pins || irr & ~pins)
		return -EINVAL;
	for (unsigned i = 0; i < TCG_IOAPIC_PINS; i++)
		if (le_get64(in + 16 + 8 * i) & ~(REDIR_WRITABLE | TCG_IOAPIC_REMOTE_IRR))
			return -EINVAL;
	io->id = id;
	io->ioregsel = sel;
	io->level = level;
	io->irr = irr;
	for (unsigned i = 0; i < TCG_IOAPIC_PINS; i++)
		io->redir[i] = le_get64(in + 16 + 8 * i);
	return 0;
}
