/* See platform_neutral.h. The chips' own loaders (tcg_pic_load,
 * tcg_pit_load, tcg_ioapic_load) judge the converted values: a state is
 * built, saved in the chip's layout and loaded back, so this file adds no
 * second idea of what the chips can hold. */
#include "runtime/backend/tcg/platform_neutral.h"

#include <errno.h>
#include <string.h>

#define IOAPIC_ID_SHIFT 24

static void pic_out(const struct tcg_pic_chip *c, struct x86_pic_state *p, uint8_t elcr_mask)
{
	*p = (struct x86_pic_state){
		.last_irr = c->last_level, .irr = c->irr, .imr = c->imr, .isr = c->isr,
		.priority_add = c->priority_add, .irq_base = c->vector_base,
		.read_reg_select = c->read_isr, .poll = c->poll, .special_mask = c->special_mask,
		/* This chip counts ICW2..ICW4 as steps 2..4, KVM's as 1..3. */
		.init_state = c->init_step ? (uint8_t)(c->init_step - 1) : 0,
		.auto_eoi = c->auto_eoi, .rotate_on_auto_eoi = c->rotate_on_aeoi,
		.init4 = c->need_icw4, .elcr = c->elcr, .elcr_mask = elcr_mask,
		.single_mode = c->single,
	};
}

static void pic_in(const struct x86_pic_state *p, struct tcg_pic_chip *c, uint8_t elcr_mask)
{
	*c = (struct tcg_pic_chip){
		.irr = p->irr, .isr = p->isr, .imr = p->imr, .last_level = p->last_irr,
		.elcr = p->elcr, .elcr_mask = elcr_mask, .vector_base = p->irq_base,
		.priority_add = p->priority_add,
		.init_step = p->init_state ? (uint8_t)(p->init_state + 1) : 0,
		.need_icw4 = p->init4, .single = p->single_mode, .auto_eoi = p->auto_eoi,
		.rotate_on_aeoi = p->rotate_on_auto_eoi, .read_isr = p->read_reg_select,
		.poll = p->poll, .special_mask = p->special_mask,
	};
}

static void chan_out(const struct tcg_pit_chan *c, int64_t now, struct x86_pit_channel *p)
{
	bool word = c->access == 3;
	*p = (struct x86_pit_channel){
		.count = c->reload, .latched_count = c->latch, .status_latched = c->status_latched,
		.status = c->status,
		.read_state = word ? (c->read_msb_next ? X86_PIT_RW_WORD1 : X86_PIT_RW_WORD0)
				   : c->access,
		.write_state = word ? (c->write_msb_next ? X86_PIT_RW_WORD1 : X86_PIT_RW_WORD0)
				    : c->access,
		.write_latch = c->write_lsb, .rw_mode = c->access, .mode = c->mode, .bcd = c->bcd,
		.gate = c->gate, .counting = c->counting,
	};
	if (c->latched)
		p->count_latched = c->latch_msb_next ? X86_PIT_RW_MSB
				 : word		     ? X86_PIT_RW_WORD0
						     : c->access;
	if (c->counting) {
		p->frozen_ticks = c->frozen_ticks > 0 ? (uint64_t)c->frozen_ticks : 0;
		if (c->gate && now > c->load_ns)
			p->elapsed_ns = (uint64_t)(now - c->load_ns);
	}
}

static void chan_in(const struct x86_pit_channel *p, int64_t now, struct tcg_pit_chan *c)
{
	*c = (struct tcg_pit_chan){
		.reload = p->count, .load_ns = now - (int64_t)p->elapsed_ns,
		.frozen_ticks = (int64_t)p->frozen_ticks, .mode = p->mode, .access = p->rw_mode,
		.bcd = p->bcd, .gate = p->gate, .counting = p->counting,
		.write_msb_next = p->write_state == X86_PIT_RW_WORD1,
		.read_msb_next = p->read_state == X86_PIT_RW_WORD1, .write_lsb = p->write_latch,
		.latched = p->count_latched != 0, .status_latched = p->status_latched,
		.latch = p->latched_count, .status = p->status,
		.latch_msb_next = p->count_latched == X86_PIT_RW_MSB,
	};
}

/* The ELCR bits each chip implements (IRQ 0-2 and 8, 13 are edge only). */
static const uint8_t elcr_masks[2] = { 0xf8, 0xde };

void tcg_platform_to_neutral(const struct tcg_pic *pic, const struct tcg_pit *pit,
			     const struct tcg_ioapic *ioapic, int64_t now,
			     struct x86_platform *out)
{
	for (int i = 0; i < 2; i++)
		pic_out(&pic->chip[i], &out->pic[i], elcr_masks[i]);
	for (int i = 0; i < 3; i++)
		chan_out(&pit->ch[i], now, &out->pit[i]);
	out->speaker_data_on = pit->speaker;
	out->hpet_legacy = 0;
	out->ioapic.id = ioapic->id >> IOAPIC_ID_SHIFT;
	out->ioapic.ioregsel = ioapic->ioregsel;
	out->ioapic.irr = ioapic->irr;
	out->ioapic.level = ioapic->level;
	memcpy(out->ioapic.redir, ioapic->redir, sizeof(out->ioapic.redir));
}

int tcg_platform_from_neutral(const struct x86_platform *in, int64_t now, struct tcg_pic *pic,
			      struct tcg_pit *pit, struct tcg_ioapic *ioapic,
			      struct errbuf *err)
{
	_Static_assert(TCG_IOAPIC_PINS == X86_IOAPIC_PINS, "I/O APIC pins");
	if (in->hpet_legacy)
		return err_set(err, -ENOTSUP,
			       "the PIT's interrupt is routed to an HPET (KVM's HPET legacy "
			       "flag); the software CPU has no HPET");
	for (int i = 0; i < 2; i++)
		if (in->pic[i].special_fully_nested_mode)
			return err_set(err, -ENOTSUP,
				       "the %s 8259 is in special fully nested mode, which the "
				       "software CPU's does not implement",
				       i ? "slave" : "master");
	struct tcg_pic np;
	struct tcg_pit nt;
	struct tcg_ioapic na = *ioapic;
	for (int i = 0; i < 2; i++)
		pic_in(&in->pic[i], &np.chip[i], elcr_masks[i]);
	for (int i = 0; i < 3; i++)
		chan_in(&in->pit[i], now, &nt.ch[i]);
	nt.speaker = in->speaker_data_on;
	na.id = in->ioapic.id << IOAPIC_ID_SHIFT;
	na.ioregsel = in->ioapic.ioregsel;
	na.irr = in->ioapic.irr;
	na.level = in->ioapic.level;
	memcpy(na.redir, in->ioapic.redir, sizeof(na.redir));

	uint8_t pb[TCG_PIC_STATE_SIZE], tb[TCG_PIT_STATE_SIZE], ab[TCG_IOAPIC_STATE_SIZE];
	tcg_pic_save(&np, pb);
	tcg_pit_save(&nt, now, tb);
	tcg_ioapic_save(&na, ab);
	if (tcg_pic_load(&np, pb))
		return err_set(err, -EINVAL, "vm/platform: a PIC state the 8259s cannot hold");
	if (tcg_pit_load(&nt, tb, now))
		return err_set(err, -EINVAL, "vm/platform: a PIT state the 8254 cannot hold");
	if (tcg_ioapic_load(&na, ab))
		return err_set(err, -EINVAL, "vm/platform: an I/O APIC state it cannot hold");
	*pic = np;
	*pit = nt;
	*ioapic = na;
	return 0;
}
