/* The VM-wide half of a KVM snapshot: the in-kernel PIC pair, I/O APIC,
 * PIT and the KVM clock, in a layout of Ember's own rather than KVM's
 * structs, so the file does not depend on kernel headers and every field
 * read back is one we know.
 *
 * Layout, version 1, every number little-endian:
 *   header   magic "EKPL", version u32, total size u32, section count u32
 *   section  id u32, body size u32, body; in the order of enum section:
 *   PIC      the 16 bytes of struct kvm_pic_state, in its order
 *   IOAPIC   base u64, ioregsel u32, id u32, irr u32, 0 u32, 24 x redir u64
 *   PIT      flags u32, 0 u32, 3 x { count u32, latched_count u16, then
 *            count_latched status_latched status read_state write_state
 *            write_latch rw_mode mode bcd gate, one byte each }
 *   clock    clock ns u64, flags u32, 0 u32, realtime ns u64
 * A restore checks the whole blob before it touches KVM. The clock's
 * flags and realtime (the host's CLOCK_REALTIME when the clock was read,
 * with KVM_CLOCK_REALTIME where the host reported it) serve only
 * clock_realtime restores (clock.c). */
#include "runtime/backend/kvm/kvm.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "runtime/base/log.h"

#define PLATFORM_MAGIC 0x4c504b45u /* "EKPL" */
#define PLATFORM_VERSION 1
#define HEADER_SIZE 16
#define SECTION_HEADER_SIZE 8
/* KVM's I/O APIC answers at a fixed address (it cannot be moved), but
 * KVM_SET_IRQCHIP would take another one from the blob. */
#define IOAPIC_BASE 0xfec00000ULL
#define PIT_FLAGS_KNOWN (KVM_PIT_FLAGS_HPET_LEGACY | KVM_PIT_FLAGS_SPEAKER_DATA_ON)
#define CLOCK_FLAGS_KNOWN (KVM_CLOCK_TSC_STABLE | KVM_CLOCK_REALTIME)

enum section { SEC_PIC_MASTER = 1, SEC_PIC_SLAVE, SEC_IOAPIC, SEC_PIT, SEC_CLOCK, SEC_END };

static const uint32_t section_size[SEC_END] = {
	[SEC_PIC_MASTER] = 16,
	[SEC_PIC_SLAVE] = 16,
	[SEC_IOAPIC] = 24 + 8 * KVM_IOAPIC_NUM_PINS,
	[SEC_PIT] = 8 + 3 * 16,
	[SEC_CLOCK] = 24,
};

struct platform {
	struct kvm_irqchip pic[2], ioapic;
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;
};

static size_t blob_size(void)
{
	size_t n = HEADER_SIZE;
	for (int s = SEC_PIC_MASTER; s < SEC_END; s++)
		n += SECTION_HEADER_SIZE + section_size[s];
	return n;
}

/* A cursor over the blob: every access checks the bounds, and a failed
 * read sets `bad` and yields 0, so decoding checks once at the end. */
struct cur {
	uint8_t *w;
	const uint8_t *r;
	size_t len, off;
	bool bad;
};

static void put(struct cur *c, uint64_t x, unsigned bytes)
{
	if (c->off + bytes > c->len) {
		c->bad = true;
		return;
	}
	for (unsigned i = 0; i < bytes; i++)
		c->w[c->off++] = (uint8_t)(x >> (8 * i));
}

static uint64_t get(struct cur *c, unsigned bytes)
{
	if (c->bad || c->off + bytes > c->len) {
		c->bad = true;
		return 0;
	}
	uint64_t x = 0;
	for (unsigned i = 0; i < bytes; i++)
		x |= (uint64_t)c->r[c->off++] << (8 * i);
	return x;
}

static void put_pic(struct cur *c, const struct kvm_pic_state *p)
{
	const uint8_t f[16] = { p->last_irr, p->irr, p->imr, p->isr, p->priority_add,
				p->irq_base, p->read_reg_select, p->poll, p->special_mask,
				p->init_state, p->auto_eoi, p->rotate_on_auto_eoi,
				p->special_fully_nested_mode, p->init4, p->elcr, p->elcr_mask };
	for (int i = 0; i < 16; i++)
		put(c, f[i], 1);
}

static void get_pic(struct cur *c, struct kvm_pic_state *p)
{
	uint8_t *f[16] = { &p->last_irr, &p->irr, &p->imr, &p->isr, &p->priority_add,
			   &p->irq_base, &p->read_reg_select, &p->poll, &p->special_mask,
			   &p->init_state, &p->auto_eoi, &p->rotate_on_auto_eoi,
			   &p->special_fully_nested_mode, &p->init4, &p->elcr, &p->elcr_mask };
	for (int i = 0; i < 16; i++)
		*f[i] = (uint8_t)get(c, 1);
}

static void put_ioapic(struct cur *c, const struct kvm_ioapic_state *a)
{
	put(c, a->base_address, 8);
	put(c, a->ioregsel, 4);
	put(c, a->id, 4);
	put(c, a->irr, 4);
	put(c, 0, 4);
	for (int i = 0; i < KVM_IOAPIC_NUM_PINS; i++)
		put(c, a->redirtbl[i].bits, 8);
}

static void get_ioapic(struct cur *c, struct kvm_ioapic_state *a)
{
	a->base_address = get(c, 8);
	a->ioregsel = (uint32_t)get(c, 4);
	a->id = (uint32_t)get(c, 4);
	a->irr = (uint32_t)get(c, 4);
	if (get(c, 4))
		c->bad = true;
	for (int i = 0; i < KVM_IOAPIC_NUM_PINS; i++)
		a->redirtbl[i].bits = get(c, 8);
}

/* count_load_time is left out: a host's monotonic clock, which
 * KVM_SET_PIT2 replaces with its own "now" anyway. */
static void put_pit(struct cur *c, const struct kvm_pit_state2 *p)
{
	put(c, p->flags, 4);
	put(c, 0, 4);
	for (int i = 0; i < 3; i++) {
		const struct kvm_pit_channel_state *ch = &p->channels[i];
		put(c, ch->count, 4);
		put(c, ch->latched_count, 2);
		const uint8_t f[10] = { ch->count_latched, ch->status_latched, ch->status,
					ch->read_state, ch->write_state, ch->write_latch,
					ch->rw_mode, ch->mode, ch->bcd, ch->gate };
		for (int j = 0; j < 10; j++)
			put(c, f[j], 1);
	}
}

static void get_pit(struct cur *c, struct kvm_pit_state2 *p)
{
	p->flags = (uint32_t)get(c, 4);
	if (get(c, 4) || (p->flags & ~(uint32_t)PIT_FLAGS_KNOWN))
		c->bad = true;
	for (int i = 0; i < 3; i++) {
		struct kvm_pit_channel_state *ch = &p->channels[i];
		ch->count = (uint32_t)get(c, 4);
		ch->latched_count = (uint16_t)get(c, 2);
		uint8_t *f[10] = { &ch->count_latched, &ch->status_latched, &ch->status,
				   &ch->read_state, &ch->write_state, &ch->write_latch,
				   &ch->rw_mode, &ch->mode, &ch->bcd, &ch->gate };
		for (int j = 0; j < 10; j++)
			*f[j] = (uint8_t)get(c, 1);
	}
}

static void put_clock(struct cur *c, const struct kvm_clock_data *k)
{
	uint32_t flags = k->flags & CLOCK_FLAGS_KNOWN;
	put(c, k->clock, 8);
	put(c, flags, 4);
	put(c, 0, 4);
	put(c, (flags & KVM_CLOCK_REALTIME) ? k->realtime : 0, 8);
}

static void get_clock(struct cur *c, struct kvm_clock_data *k)
{
	k->clock = get(c, 8);
	k->flags = (uint32_t)get(c, 4);
	if (get(c, 4) || (k->flags & ~(uint32_t)CLOCK_FLAGS_KNOWN))
		c->bad = true;
	k->realtime = get(c, 8);
	if (!(k->flags & KVM_CLOCK_REALTIME) && k->realtime)
		c->bad = true;
}

static void put_section(struct cur *c, enum section s, const struct platform *p)
{
	put(c, s, 4);
	put(c, section_size[s], 4);
	switch (s) {
	case SEC_PIC_MASTER:
	case SEC_PIC_SLAVE:
		put_pic(c, &p->pic[s - SEC_PIC_MASTER].chip.pic);
		break;
	case SEC_IOAPIC:
		put_ioapic(c, &p->ioapic.chip.ioapic);
		break;
	case SEC_PIT:
		put_pit(c, &p->pit);
		break;
	case SEC_CLOCK:
		put_clock(c, &p->clock);
		break;
	case SEC_END:
		break;
	}
}

static void get_section(struct cur *c, enum section s, struct platform *p)
{
	if (get(c, 4) != s || get(c, 4) != section_size[s]) {
		c->bad = true;
		return;
	}
	size_t end = c->off + section_size[s];
	switch (s) {
	case SEC_PIC_MASTER:
	case SEC_PIC_SLAVE:
		get_pic(c, &p->pic[s - SEC_PIC_MASTER].chip.pic);
		break;
	case SEC_IOAPIC:
		get_ioapic(c, &p->ioapic.chip.ioapic);
		break;
	case SEC_PIT:
		get_pit(c, &p->pit);
		break;
	case SEC_CLOCK:
		get_clock(c, &p->clock);
		break;
	case SEC_END:
		break;
	}
	if (c->off != end)
		c->bad = true;
}

static int vm_ioctl(struct backend_vm *vm, unsigned long req, void *arg, const char *what)
{
	if (ioctl(vm->vm_fd, req, arg) == 0)
		return 0;
	int r = -errno;
	log_err("kvm: %s: %s", what, strerror(errno));
	return r;
}

int kvm_platform_save(struct backend_vm *vm, void *buf, size_t len)
{
	size_t size = blob_size();
	if (len < size)
		return -ENOSPC;
	struct platform p;
	memset(&p, 0, sizeof(p));
	p.pic[0].chip_id = KVM_IRQCHIP_PIC_MASTER;
	p.pic[1].chip_id = KVM_IRQCHIP_PIC_SLAVE;
	p.ioapic.chip_id = KVM_IRQCHIP_IOAPIC;
	int r;
	if ((r = vm_ioctl(vm, KVM_GET_IRQCHIP, &p.pic[0], "KVM_GET_IRQCHIP (PIC master)")) < 0 ||
	    (r = vm_ioctl(vm, KVM_GET_IRQCHIP, &p.pic[1], "KVM_GET_IRQCHIP (PIC slave)")) < 0 ||
	    (r = vm_ioctl(vm, KVM_GET_IRQCHIP, &p.ioapic, "KVM_GET_IRQCHIP (I/O APIC)")) < 0 ||
	    (r = vm_ioctl(vm, KVM_GET_PIT2, &p.pit, "KVM_GET_PIT2")) < 0 ||
	    (r = vm_ioctl(vm, KVM_GET_CLOCK, &p.clock, "KVM_GET_CLOCK")) < 0)
		return r;
	struct cur c = { .w = buf, .len = size };
	put(&c, PLATFORM_MAGIC, 4);
	put(&c, PLATFORM_VERSION, 4);
	put(&c, size, 4);
	put(&c, SEC_END - SEC_PIC_MASTER, 4);
	for (int s = SEC_PIC_MASTER; s < SEC_END; s++)
		put_section(&c, (enum section)s, &p);
	if (c.bad || c.off != size)
		return -EIO;
	return (int)size;
}

/* 0 and p filled, or -EINVAL with a log line; touches nothing. */
static int decode(const void *buf, size_t len, struct platform *p)
{
	struct cur c = { .r = buf, .len = len };
	if (!buf || len < HEADER_SIZE || get(&c, 4) != PLATFORM_MAGIC) {
		log_err("kvm: platform state refused: not Ember's KVM platform state");
		return -EINVAL;
	}
	uint64_t version = get(&c, 4);
	if (version != PLATFORM_VERSION) {
		log_err("kvm: platform state refused: version %llu, this Ember reads %d",
			(unsigned long long)version, PLATFORM_VERSION);
		return -EINVAL;
	}
	if (len != blob_size() || get(&c, 4) != len) {
		log_err("kvm: platform state refused: %zu bytes (or a header saying otherwise), "
			"version %d has %zu", len, PLATFORM_VERSION, blob_size());
		return -EINVAL;
	}
	if (get(&c, 4) != SEC_END - SEC_PIC_MASTER) {
		log_err("kvm: platform state refused: not %d sections", SEC_END - SEC_PIC_MASTER);
		return -EINVAL;
	}
	memset(p, 0, sizeof(*p));
	for (int s = SEC_PIC_MASTER; s < SEC_END && !c.bad; s++)
		get_section(&c, (enum section)s, p);
	if (c.bad || c.off != len) {
		log_err("kvm: platform state refused: a section is malformed");
		return -EINVAL;
	}
	for (int i = 0; i < 2; i++)
		if (p->pic[i].chip.pic.irq_base & 7) {
			log_err("kvm: platform state refused: PIC vector base not a multiple of 8");
			return -EINVAL;
		}
	if (p->ioapic.chip.ioapic.base_address != IOAPIC_BASE) {
		log_err("kvm: platform state refused: I/O APIC at 0x%llx, KVM's is at 0x%llx",
			(unsigned long long)p->ioapic.chip.ioapic.base_address, IOAPIC_BASE);
		return -EINVAL;
	}
	p->pic[0].chip_id = KVM_IRQCHIP_PIC_MASTER;
	p->pic[1].chip_id = KVM_IRQCHIP_PIC_SLAVE;
	p->ioapic.chip_id = KVM_IRQCHIP_IOAPIC;
	return 0;
}

int kvm_platform_restore(struct backend_vm *vm, const void *buf, size_t len)
{
	struct platform p;
	int r = decode(buf, len, &p);
	if (r < 0)
		return r;
	if ((r = kvm_clock_check(vm, &p.clock)) < 0)
		return r;
	/* Firecracker's order: the PIT, the clock, then the interrupt
	 * controllers, so that what the guest finds in them is their saved
	 * state, whatever loading the PIT raised. */
	if ((r = vm_ioctl(vm, KVM_SET_PIT2, &p.pit, "KVM_SET_PIT2")) < 0 ||
	    (r = kvm_clock_restore(vm, &p.clock)) < 0 ||
	    (r = vm_ioctl(vm, KVM_SET_IRQCHIP, &p.pic[0], "KVM_SET_IRQCHIP (PIC master)")) < 0 ||
	    (r = vm_ioctl(vm, KVM_SET_IRQCHIP, &p.pic[1], "KVM_SET_IRQCHIP (PIC slave)")) < 0 ||
	    (r = vm_ioctl(vm, KVM_SET_IRQCHIP, &p.ioapic, "KVM_SET_IRQCHIP (I/O APIC)")) < 0)
		return r;
	return 0;
}
