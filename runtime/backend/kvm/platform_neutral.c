/* KVM's in-kernel PIC pair, I/O APIC, PIT and clock in the neutral form
 * (runtime/backend/x86_platform.h, whose meanings are these structs'):
 * vm/platform version 2. KVM_SET_PIT2 restarts every channel's count at
 * the moment of the call (it cannot take an elapsed time), as the
 * version 1 layout does; everything else is carried field for field. */
#include "runtime/backend/kvm/kvm.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "runtime/base/log.h"

#define IOAPIC_BASE 0xfec00000ULL
#define PIT_MODE_NEVER_LOADED 0xff /* kvm_pit_reset() */
#define ELAPSED_MAX (1ULL << 61)

static void pic_from_kvm(const struct kvm_pic_state *k, struct x86_pic_state *p)
{
	*p = (struct x86_pic_state){
		k->last_irr, k->irr, k->imr, k->isr, k->priority_add, k->irq_base,
		k->read_reg_select, k->poll, k->special_mask, k->init_state, k->auto_eoi,
		k->rotate_on_auto_eoi, k->special_fully_nested_mode, k->init4, k->elcr,
		k->elcr_mask, 0,
	};
}

static void pic_to_kvm(const struct x86_pic_state *p, struct kvm_pic_state *k)
{
	*k = (struct kvm_pic_state){
		.last_irr = p->last_irr, .irr = p->irr, .imr = p->imr, .isr = p->isr,
		.priority_add = p->priority_add, .irq_base = p->irq_base,
		.read_reg_select = p->read_reg_select, .poll = p->poll,
		.special_mask = p->special_mask, .init_state = p->init_state,
		.auto_eoi = p->auto_eoi, .rotate_on_auto_eoi = p->rotate_on_auto_eoi,
		.special_fully_nested_mode = p->special_fully_nested_mode, .init4 = p->init4,
		.elcr = p->elcr, .elcr_mask = p->elcr_mask,
	};
}

static void chan_from_kvm(const struct kvm_pit_channel_state *k, int64_t now,
			  struct x86_pit_channel *c)
{
	*c = (struct x86_pit_channel){
		.count = k->count, .latched_count = k->latched_count,
		.count_latched = k->count_latched, .status_latched = k->status_latched,
		.status = k->status, .read_state = k->read_state, .write_state = k->write_state,
		.write_latch = k->write_latch, .rw_mode = k->rw_mode, .mode = k->mode,
		.bcd = k->bcd, .gate = k->gate, .counting = 1,
	};
	if (k->mode == PIT_MODE_NEVER_LOADED || k->rw_mode == 0) {
		/* Never programmed: the power-on state in neutral terms. */
		*c = (struct x86_pit_channel){ .count = 65536, .rw_mode = 3, .read_state = 3,
					       .write_state = 3, .gate = k->gate };
		return;
	}
	if (k->gate && k->count_load_time > 0 && k->count_load_time <= now &&
	    (uint64_t)(now - k->count_load_time) <= ELAPSED_MAX)
		c->elapsed_ns = (uint64_t)(now - k->count_load_time);
}

static void chan_to_kvm(const struct x86_pit_channel *c, struct kvm_pit_channel_state *k)
{
	*k = (struct kvm_pit_channel_state){
		.count = c->count, .latched_count = c->latched_count,
		.count_latched = c->count_latched, .status_latched = c->status_latched,
		.status = c->status, .read_state = c->read_state, .write_state = c->write_state,
		.write_latch = c->write_latch, .rw_mode = c->rw_mode,
		.mode = c->counting ? c->mode : PIT_MODE_NEVER_LOADED, .bcd = c->bcd,
		.gate = c->gate,
	};
}

void kvm_platform_to_neutral(const struct kvm_pic_state *master,
			     const struct kvm_pic_state *slave, const struct kvm_ioapic_state *a,
			     const struct kvm_pit_state2 *pit, const struct kvm_clock_data *clock,
			     int64_t now, struct x86_platform *p)
{
	memset(p, 0, sizeof(*p));
	pic_from_kvm(master, &p->pic[0]);
	pic_from_kvm(slave, &p->pic[1]);
	p->ioapic.id = a->id & 0xf;
	p->ioapic.ioregsel = a->ioregsel & 0xff;
	p->ioapic.irr = a->irr & ((1u << X86_IOAPIC_PINS) - 1);
	for (int i = 0; i < X86_IOAPIC_PINS; i++)
		p->ioapic.redir[i] = a->redirtbl[i].bits;
	for (int i = 0; i < 3; i++)
		chan_from_kvm(&pit->channels[i], now, &p->pit[i]);
	p->speaker_data_on = !!(pit->flags & KVM_PIT_FLAGS_SPEAKER_DATA_ON);
	p->hpet_legacy = !!(pit->flags & KVM_PIT_FLAGS_HPET_LEGACY);
	p->flags = X86_PLATFORM_HAS_KVMCLOCK;
	p->kvmclock_ns = clock->clock;
	p->kvmclock_flags = clock->flags & (KVM_CLOCK_TSC_STABLE | KVM_CLOCK_REALTIME);
	p->kvmclock_realtime_ns = (clock->flags & KVM_CLOCK_REALTIME) ? clock->realtime : 0;
}

int kvm_platform_from_neutral(const struct x86_platform *p, struct kvm_pic_state *master,
			      struct kvm_pic_state *slave, struct kvm_ioapic_state *a,
			      struct kvm_pit_state2 *pit, struct kvm_clock_data *clock,
			      struct errbuf *err)
{
	for (int i = 0; i < 2; i++)
		if (p->pic[i].single_mode)
			return err_set(err, -ENOTSUP,
				       "the %s 8259 is in single mode (ICW1 SNGL), which KVM's "
				       "cannot be",
				       i ? "slave" : "master");
	if (p->kvmclock_flags & ~(uint32_t)(KVM_CLOCK_TSC_STABLE | KVM_CLOCK_REALTIME) ||
	    (!(p->kvmclock_flags & KVM_CLOCK_REALTIME) && p->kvmclock_realtime_ns))
		return err_set(err, -EBADMSG, "kvmclock flags 0x%x", p->kvmclock_flags);
	pic_to_kvm(&p->pic[0], master);
	pic_to_kvm(&p->pic[1], slave);
	memset(a, 0, sizeof(*a));
	a->base_address = IOAPIC_BASE;
	a->id = p->ioapic.id;
	a->ioregsel = p->ioapic.ioregsel;
	a->irr = p->ioapic.irr;
	for (int i = 0; i < X86_IOAPIC_PINS; i++)
		a->redirtbl[i].bits = p->ioapic.redir[i];
	memset(pit, 0, sizeof(*pit));
	for (int i = 0; i < 3; i++)
		chan_to_kvm(&p->pit[i], &pit->channels[i]);
	pit->flags = (p->speaker_data_on ? KVM_PIT_FLAGS_SPEAKER_DATA_ON : 0) |
		     (p->hpet_legacy ? KVM_PIT_FLAGS_HPET_LEGACY : 0);
	memset(clock, 0, sizeof(*clock));
	clock->clock = p->kvmclock_ns;
	clock->flags = p->kvmclock_flags;
	clock->realtime = p->kvmclock_realtime_ns;
	return 0;
}

static int get_chip(struct backend_vm *vm, struct kvm_irqchip *c, uint32_t id)
{
	memset(c, 0, sizeof(*c));
	c->chip_id = id;
	return ioctl(vm->vm_fd, KVM_GET_IRQCHIP, c) < 0 ? -errno : 0;
}

static int64_t realtime_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

int kvm_platform_get(struct backend_vm *vm, struct x86_platform *p)
{
	struct kvm_irqchip pic[2], ioapic;
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;
	memset(&clock, 0, sizeof(clock));
	int r;
	if ((r = get_chip(vm, &pic[0], KVM_IRQCHIP_PIC_MASTER)) < 0 ||
	    (r = get_chip(vm, &pic[1], KVM_IRQCHIP_PIC_SLAVE)) < 0 ||
	    (r = get_chip(vm, &ioapic, KVM_IRQCHIP_IOAPIC)) < 0 ||
	    (r = ioctl(vm->vm_fd, KVM_GET_PIT2, &pit) < 0 ? -errno : 0) < 0 ||
	    (r = ioctl(vm->vm_fd, KVM_GET_CLOCK, &clock) < 0 ? -errno : 0) < 0) {
		log_err("kvm: the platform's state: %s", strerror(-r));
		return r;
	}
	kvm_platform_to_neutral(&pic[0].chip.pic, &pic[1].chip.pic, &ioapic.chip.ioapic, &pit,
				&clock, kvm_mono_ns(), p);
	int64_t real = realtime_ns();
	p->realtime_ns = real > 0 ? (uint64_t)real : 0;
	return 0;
}

static int set_ioctl(struct backend_vm *vm, unsigned long req, void *arg, const char *what,
		     struct errbuf *err)
{
	if (ioctl(vm->vm_fd, req, arg) == 0)
		return 0;
	int r = -errno;
	log_err("kvm: %s: %s", what, strerror(errno));
	return err_set(err, r, "%s: %s", what, strerror(-r));
}

int kvm_platform_set(struct backend_vm *vm, const struct x86_platform *p, struct errbuf *err)
{
	struct kvm_irqchip pic[2] = { { .chip_id = KVM_IRQCHIP_PIC_MASTER },
				      { .chip_id = KVM_IRQCHIP_PIC_SLAVE } };
	struct kvm_irqchip ioapic = { .chip_id = KVM_IRQCHIP_IOAPIC };
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;
	int r = kvm_platform_from_neutral(p, &pic[0].chip.pic, &pic[1].chip.pic,
					  &ioapic.chip.ioapic, &pit, &clock, err);
	if (r < 0)
		return r;
	bool has_clock = p->flags & X86_PLATFORM_HAS_KVMCLOCK;
	if (clock.flags & ~(uint32_t)(KVM_CLOCK_TSC_STABLE | KVM_CLOCK_REALTIME) ||
	    (!(clock.flags & KVM_CLOCK_REALTIME) && clock.realtime))
		return err_set(err, -EBADMSG, "vm/platform: kvmclock flags 0x%x", clock.flags);
	if (!has_clock && vm->clock_realtime) {
		log_err("kvm: clock_realtime: the snapshot has no KVM clock to move on (it was "
			"taken on another backend)");
		return err_set(err, -ENOTSUP,
			       "clock_realtime: the snapshot has no KVM clock to move on");
	}
	if (has_clock && (r = kvm_clock_check(vm, &clock)) < 0)
		return err_set(err, r, "clock_realtime: the kvm backend cannot advance this "
				       "snapshot's clocks here (the log says why)");
	/* As kvm_platform_restore: the PIT, the clock, then the interrupt
	 * controllers. */
	if ((r = set_ioctl(vm, KVM_SET_PIT2, &pit, "KVM_SET_PIT2", err)) < 0)
		return r;
	if (has_clock && (r = kvm_clock_restore(vm, &clock)) < 0)
		return err_set(err, r, "the KVM clock: %s", strerror(-r));
	if ((r = set_ioctl(vm, KVM_SET_IRQCHIP, &pic[0], "KVM_SET_IRQCHIP (PIC master)", err)) < 0 ||
	    (r = set_ioctl(vm, KVM_SET_IRQCHIP, &pic[1], "KVM_SET_IRQCHIP (PIC slave)", err)) < 0 ||
	    (r = set_ioctl(vm, KVM_SET_IRQCHIP, &ioapic, "KVM_SET_IRQCHIP (I/O APIC)", err)) < 0)
		return r;
	return 0;
}
