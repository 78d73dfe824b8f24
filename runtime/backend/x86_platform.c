/* The neutral platform state's encoding and checks; see x86_platform.h.
 *
 * Layout (little-endian, no padding): flags u32; per PIC (master, slave)
 * the 17 bytes of struct x86_pic_state in its order; I/O APIC id, ioregsel,
 * irr, level u32, 24 x redir u64; per PIT channel count u32,
 * latched_count u16, then count_latched status_latched status read_state
 * write_state write_latch rw_mode mode bcd gate counting one byte each,
 * elapsed_ns u64, frozen_ticks u64; speaker_data_on u8, hpet_legacy u8;
 * kvmclock_ns u64, kvmclock_flags u32, kvmclock_realtime_ns u64,
 * realtime_ns u64. */
#include "runtime/backend/x86_platform.h"

#include <errno.h>
#include <string.h>

#define PIC_BYTES 17
#define CHAN_BYTES (4 + 2 + 11 + 8 + 8)
#define SIZE (4 + 2 * PIC_BYTES + 16 + 8 * X86_IOAPIC_PINS + 3 * CHAN_BYTES + 2 + 8 + 4 + 8 + 8)
/* Redirection entry bits that exist: vector, delivery mode, destination
 * mode, delivery status, polarity, remote IRR, trigger, mask, destination. */
#define REDIR_DEFINED 0xff0000000001ffffull
/* 73 years and 240 years of 8254 ticks: no real state is longer, and
 * the backends' time arithmetic stays far from overflowing. */
#define ELAPSED_MAX (1ull << 61)
#define TICKS_MAX (1ull << 53)
#define PINS_MASK ((1u << X86_IOAPIC_PINS) - 1)

struct cur {
	uint8_t *w;
	const uint8_t *r;
	size_t off;
};

static void put(struct cur *c, uint64_t x, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		c->w[c->off++] = (uint8_t)(x >> (8 * i));
}

static uint64_t get(struct cur *c, unsigned bytes)
{
	uint64_t x = 0;
	for (unsigned i = 0; i < bytes; i++)
		x |= (uint64_t)c->r[c->off++] << (8 * i);
	return x;
}

size_t x86_platform_size(void)
{
	return SIZE;
}

#define PIC_FIELDS(p)                                                                       \
	{ &(p)->last_irr, &(p)->irr, &(p)->imr, &(p)->isr, &(p)->priority_add, &(p)->irq_base, \
	  &(p)->read_reg_select, &(p)->poll, &(p)->special_mask, &(p)->init_state,            \
	  &(p)->auto_eoi, &(p)->rotate_on_auto_eoi, &(p)->special_fully_nested_mode,          \
	  &(p)->init4, &(p)->elcr, &(p)->elcr_mask, &(p)->single_mode }
#define CHAN_FIELDS(ch)                                                                  \
	{ &(ch)->count_latched, &(ch)->status_latched, &(ch)->status, &(ch)->read_state,   \
	  &(ch)->write_state, &(ch)->write_latch, &(ch)->rw_mode, &(ch)->mode, &(ch)->bcd, \
	  &(ch)->gate, &(ch)->counting }

void x86_platform_encode(const struct x86_platform *p, uint8_t *buf)
{
	struct cur c = { .w = buf };
	put(&c, p->flags, 4);
	for (int i = 0; i < 2; i++) {
		const uint8_t *f[PIC_BYTES] = PIC_FIELDS(&p->pic[i]);
		for (int k = 0; k < PIC_BYTES; k++)
			put(&c, *f[k], 1);
	}
	put(&c, p->ioapic.id, 4);
	put(&c, p->ioapic.ioregsel, 4);
	put(&c, p->ioapic.irr, 4);
	put(&c, p->ioapic.level, 4);
	for (int i = 0; i < X86_IOAPIC_PINS; i++)
		put(&c, p->ioapic.redir[i], 8);
	for (int i = 0; i < 3; i++) {
		const struct x86_pit_channel *ch = &p->pit[i];
		const uint8_t *f[11] = CHAN_FIELDS(ch);
		put(&c, ch->count, 4);
		put(&c, ch->latched_count, 2);
		for (int k = 0; k < 11; k++)
			put(&c, *f[k], 1);
		put(&c, ch->elapsed_ns, 8);
		put(&c, ch->frozen_ticks, 8);
	}
	put(&c, p->speaker_data_on, 1);
	put(&c, p->hpet_legacy, 1);
	put(&c, p->kvmclock_ns, 8);
	put(&c, p->kvmclock_flags, 4);
	put(&c, p->kvmclock_realtime_ns, 8);
	put(&c, p->realtime_ns, 8);
}

static const char *pic_bad(const struct x86_pic_state *p)
{
	const uint8_t flags[] = { p->read_reg_select, p->poll, p->special_mask, p->auto_eoi,
				  p->rotate_on_auto_eoi, p->special_fully_nested_mode, p->init4,
				  p->single_mode };
	for (size_t i = 0; i < sizeof(flags); i++)
		if (flags[i] > 1)
			return "a flag above 1";
	if (p->priority_add > 7)
		return "priority_add above 7";
	if (p->irq_base & 7)
		return "irq_base not a multiple of 8";
	if (p->init_state > 3)
		return "init_state above 3";
	if (p->elcr & ~p->elcr_mask)
		return "elcr outside elcr_mask";
	return NULL;
}

/* The byte sequencing states a channel can be in (KVM's i8254.c). */
static const char *chan_bad(const struct x86_pit_channel *ch, int i)
{
	if (ch->count < 1 || ch->count > 65536)
		return "count outside 1..65536";
	if (ch->mode > 5 || ch->rw_mode < 1 || ch->rw_mode > 3)
		return "mode or rw_mode out of range";
	bool word = ch->rw_mode == 3;
	if (word ? ch->read_state < 3 || ch->read_state > 4 : ch->read_state != ch->rw_mode)
		return "read_state does not fit rw_mode";
	if (word ? ch->write_state < 3 || ch->write_state > 4 : ch->write_state != ch->rw_mode)
		return "write_state does not fit rw_mode";
	if (ch->count_latched &&
	    (word ? ch->count_latched != 3 && ch->count_latched != 2
		  : ch->count_latched != ch->rw_mode))
		return "count_latched does not fit rw_mode";
	if (ch->status_latched > 1 || ch->bcd > 1 || ch->gate > 1 || ch->counting > 1)
		return "a flag above 1";
	if (i != 2 && !ch->gate)
		return "the gate of channel 0 or 1 low (they are tied high)";
	if (ch->elapsed_ns > ELAPSED_MAX || ch->frozen_ticks > TICKS_MAX)
		return "elapsed time out of range";
	if (!ch->counting && (ch->elapsed_ns || ch->frozen_ticks))
		return "elapsed time without a count";
	if (ch->elapsed_ns && !ch->gate)
		return "elapsed time with the gate low";
	return NULL;
}

int x86_platform_decode(const uint8_t *buf, size_t len, struct x86_platform *out,
			struct errbuf *err)
{
	if (!buf || len != SIZE)
		return err_set(err, -EBADMSG, "%zu bytes, version %d has %d", len,
			       X86_PLATFORM_VERSION, SIZE);
	struct x86_platform p;
	memset(&p, 0, sizeof(p));
	struct cur c = { .r = buf };
	p.flags = (uint32_t)get(&c, 4);
	for (int i = 0; i < 2; i++) {
		uint8_t *f[PIC_BYTES] = PIC_FIELDS(&p.pic[i]);
		for (int k = 0; k < PIC_BYTES; k++)
			*f[k] = (uint8_t)get(&c, 1);
	}
	p.ioapic.id = (uint32_t)get(&c, 4);
	p.ioapic.ioregsel = (uint32_t)get(&c, 4);
	p.ioapic.irr = (uint32_t)get(&c, 4);
	p.ioapic.level = (uint32_t)get(&c, 4);
	for (int i = 0; i < X86_IOAPIC_PINS; i++)
		p.ioapic.redir[i] = get(&c, 8);
	for (int i = 0; i < 3; i++) {
		struct x86_pit_channel *ch = &p.pit[i];
		uint8_t *f[11] = CHAN_FIELDS(ch);
		ch->count = (uint32_t)get(&c, 4);
		ch->latched_count = (uint16_t)get(&c, 2);
		for (int k = 0; k < 11; k++)
			*f[k] = (uint8_t)get(&c, 1);
		ch->elapsed_ns = get(&c, 8);
		ch->frozen_ticks = get(&c, 8);
	}
	p.speaker_data_on = (uint8_t)get(&c, 1);
	p.hpet_legacy = (uint8_t)get(&c, 1);
	p.kvmclock_ns = get(&c, 8);
	p.kvmclock_flags = (uint32_t)get(&c, 4);
	p.kvmclock_realtime_ns = get(&c, 8);
	p.realtime_ns = get(&c, 8);

	if (p.flags & ~(uint32_t)X86_PLATFORM_HAS_KVMCLOCK)
		return err_set(err, -EBADMSG, "unknown flags 0x%x", p.flags);
	for (int i = 0; i < 2; i++) {
		const char *why = pic_bad(&p.pic[i]);
		if (why)
			return err_set(err, -EBADMSG, "PIC %s: %s", i ? "slave" : "master", why);
	}
	if (p.ioapic.id > 15 || p.ioapic.ioregsel > 0xff || (p.ioapic.irr & ~PINS_MASK) ||
	    (p.ioapic.level & ~PINS_MASK))
		return err_set(err, -EBADMSG, "I/O APIC: id, ioregsel, irr or level out of range");
	for (int i = 0; i < X86_IOAPIC_PINS; i++)
		if (p.ioapic.redir[i] & ~REDIR_DEFINED)
			return err_set(err, -EBADMSG, "I/O APIC: pin %d sets reserved bits", i);
	for (int i = 0; i < 3; i++) {
		const char *why = chan_bad(&p.pit[i], i);
		if (why)
			return err_set(err, -EBADMSG, "PIT channel %d: %s", i, why);
	}
	if (p.speaker_data_on > 1 || p.hpet_legacy > 1)
		return err_set(err, -EBADMSG, "PIT: a flag above 1");
	if (!(p.flags & X86_PLATFORM_HAS_KVMCLOCK) &&
	    (p.kvmclock_ns || p.kvmclock_flags || p.kvmclock_realtime_ns))
		return err_set(err, -EBADMSG, "kvmclock fields without HAS_KVMCLOCK");
	if (p.realtime_ns > (uint64_t)INT64_MAX || p.kvmclock_realtime_ns > (uint64_t)INT64_MAX)
		return err_set(err, -EBADMSG, "a wall-clock time out of range");
	*out = p;
	return 0;
}
