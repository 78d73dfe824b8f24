/* The TCG platform's APICs: a local APIC per vCPU and the I/O APIC
 * (lapic.c, ioapic.c: the state machines), wired to the vCPU, the devices'
 * lines and the timer thread. Everything here runs under vm->lock.
 *
 * Where the CPU's external interrupt comes from, as on KVM: the 8259's
 * INTR when the local APIC passes it through (LINT0 as ExtINT, the
 * virtual-wire mode the BSP starts in, or the APIC disabled), else the
 * local APIC's highest deliverable vector. A device line drives the 8259
 * (GSI 0-15) and the I/O APIC pin of the same number; the I/O APIC's
 * messages and the ICR's IPIs reach the local APICs by destination. */
#include "runtime/backend/tcg/tcg.h"

#include <inttypes.h>
#include <x86intrin.h>

#include "runtime/base/log.h"

/* The I/O APIC's messages and IPIs (lock held). */
static void route(struct backend_vm *vm, const struct tcg_apic_msg *msg)
{
	for (unsigned i = 0; i < vm->nr_lapics; i++) {
		struct tcg_lapic *l = &vm->lapic[i];
		if (!tcg_lapic_match(l, msg))
			continue;
		tcg_lapic_deliver(l, msg);
		if (msg->mode == TCG_DM_LOWEST && !msg->shorthand)
			break; /* one destination: the first that matches */
	}
}

static void ioapic_send(void *ctx, const struct tcg_apic_msg *msg)
{
	route(ctx, msg);
}

void tcg_apic_init(struct backend_vm *vm, unsigned nr_vcpus)
{
	vm->nr_lapics = nr_vcpus;
	for (unsigned i = 0; i < nr_vcpus; i++)
		tcg_lapic_init(&vm->lapic[i], i);
	/* The I/O APIC's id follows the vCPUs', as the MADT and MP table say. */
	tcg_ioapic_init(&vm->ioapic, nr_vcpus, ioapic_send, vm);
}

void tcg_apic_set_irq_locked(struct backend_vm *vm, unsigned gsi, bool level)
{
	if (gsi < 16)
		tcg_pic_set_irq(&vm->pic, gsi, level);
	tcg_ioapic_set_irq(&vm->ioapic, gsi, level);
}

bool tcg_intr_output_locked(const struct backend_vm *vm, unsigned index)
{
	const struct tcg_lapic *l = &vm->lapic[index];
	if (tcg_lapic_accepts_pic(l) && tcg_pic_output(&vm->pic))
		return true;
	return tcg_lapic_pending(l) >= 0;
}

bool tcg_nmi_pending_locked(const struct backend_vm *vm, unsigned index)
{
	return vm->lapic[index].nmi_pending;
}

int tcg_intr_ack_locked(struct backend_vm *vm, unsigned index)
{
	struct tcg_lapic *l = &vm->lapic[index];
	if (tcg_lapic_accepts_pic(l) && tcg_pic_output(&vm->pic))
		return tcg_pic_ack(&vm->pic);
	if (tcg_lapic_pending(l) >= 0)
		return tcg_lapic_ack(l);
	return -1;
}

int64_t tcg_apic_next_locked(const struct backend_vm *vm)
{
	int64_t next = -1;
	for (unsigned i = 0; i < vm->nr_lapics; i++) {
		int64_t t = tcg_lapic_timer_next(&vm->lapic[i]);
		if (t >= 0 && (next < 0 || t < next))
			next = t;
	}
	return next;
}

void tcg_apic_tick_locked(struct backend_vm *vm, int64_t now)
{
	for (unsigned i = 0; i < vm->nr_lapics; i++) {
		struct tcg_lapic *l = &vm->lapic[i];
		int64_t t = tcg_lapic_timer_next(l);
		if (t >= 0 && now >= t)
			tcg_lapic_timer_fire(l, now);
	}
}

/* After a register write (lock held): the message it sent, the
 * level-triggered EOI it broadcasts, the timer it changed. */
static void after_write_locked(struct backend_vcpu *v, uint32_t off,
			       const struct tcg_apic_msg *msg, int eoi)
{
	struct backend_vm *vm = v->vm;
	if (msg) {
		route(vm, msg);
		/* The target runs only when this vCPU makes room (several
		 * vCPUs share one thread): a sender usually waits for it. */
		if (msg->shorthand != 1 && vm->nr_lapics > 1 && !atomic_exchange(&v->yield, true))
			tcg_vcpu_signal_locked(v);
	}
	if (eoi >= 0)
		tcg_ioapic_eoi(&vm->ioapic, (uint8_t)eoi);
	if (off == TCG_APIC_TMICT || off == TCG_APIC_LVTT)
		pthread_cond_signal(&vm->timer_wake);
}

/* MMIO: the local APIC page of the accessing vCPU (where its
 * IA32_APIC_BASE puts it, while enabled) and the I/O APIC. */
bool tcg_apic_mmio(struct backend_vcpu *v, uint64_t addr, uint64_t *val, unsigned size,
		   bool write)
{
	if (!v)
		return false;
	struct backend_vm *vm = v->vm;
	struct tcg_lapic *l = &vm->lapic[v->index];
	bool lapic = addr >= TCG_LAPIC_BASE && addr < TCG_LAPIC_BASE + TCG_LAPIC_SIZE;
	bool ioapic = addr >= TCG_IOAPIC_BASE && addr < TCG_IOAPIC_BASE + TCG_IOAPIC_SIZE;
	if (!lapic && !ioapic)
		return false;
	pthread_mutex_lock(&vm->lock);
	if (lapic && (!tcg_lapic_hw_enabled(l) || tcg_lapic_x2apic(l))) {
		pthread_mutex_unlock(&vm->lock);
		/* A disabled APIC's page is the bus's; in x2APIC mode the page
		 * does not answer either (SDM 10.12.2). */
		return false;
	}
	int64_t now = tcg_now_ns();
	if (size != 4) {
		/* Both chips take 32-bit accesses only: others are dropped. */
		log_ratelimited(LOG_WARN, "tcg: %u-byte access to the %s at 0x%" PRIx64 " ignored", size,
				     lapic ? "local APIC" : "I/O APIC", addr);
		if (!write)
			*val = 0;
	} else if (lapic) {
		uint32_t off = (uint32_t)(addr - TCG_LAPIC_BASE);
		if (write) {
			struct tcg_apic_msg msg;
			int eoi = -1;
			bool send = tcg_lapic_write(l, off, (uint32_t)*val, now, &msg, &eoi);
			after_write_locked(v, off, send ? &msg : NULL, eoi);
		} else {
			*val = tcg_lapic_read(l, off, now);
		}
	} else {
		uint32_t off = (uint32_t)(addr - TCG_IOAPIC_BASE);
		if (write)
			tcg_ioapic_write(&vm->ioapic, off, (uint32_t)*val);
		else
			*val = tcg_ioapic_read(&vm->ioapic, off);
	}
	if (write)
		tcg_platform_notify_locked(vm);
	pthread_mutex_unlock(&vm->lock);
	return true;
}

uint64_t tcg_apic_get_base(struct backend_vcpu *v)
{
	pthread_mutex_lock(&v->vm->lock);
	uint64_t b = v->vm->lapic[v->index].apic_base;
	pthread_mutex_unlock(&v->vm->lock);
	return b;
}

bool tcg_apic_set_base(struct backend_vcpu *v, uint64_t val)
{
	pthread_mutex_lock(&v->vm->lock);
	bool ok = tcg_lapic_set_base(&v->vm->lapic[v->index], val);
	tcg_platform_notify_locked(v->vm);
	pthread_mutex_unlock(&v->vm->lock);
	return ok;
}

void tcg_apic_load_base(struct backend_vcpu *v, uint64_t val)
{
	if (!tcg_lapic_base_ok(val))
		return; /* not one this APIC can hold: it keeps its own */
	pthread_mutex_lock(&v->vm->lock);
	v->vm->lapic[v->index].apic_base = val;
	tcg_platform_notify_locked(v->vm);
	pthread_mutex_unlock(&v->vm->lock);
}

/* The MSRs the APICs own (lock held). 0 handled, 1 not ours, -1 #GP. */
static int apic_msr_locked(struct backend_vcpu *v, uint32_t msr, bool write, uint64_t *val,
			   uint64_t tsc)
{
	struct backend_vm *vm = v->vm;
	struct tcg_lapic *l = &vm->lapic[v->index];
	int64_t now = tcg_now_ns();
	if (msr == TCG_MSR_APIC_BASE) {
		if (!write) {
			*val = l->apic_base;
			return 0;
		}
		if (!tcg_lapic_set_base(l, *val))
			return -1;
		pthread_cond_signal(&vm->timer_wake);
		return 0;
	}
	if (msr == TCG_MSR_TSC_DEADLINE) {
		if (!write) {
			*val = tcg_lapic_deadline(l);
			return 0;
		}
		tcg_lapic_set_deadline(l, *val, now, tsc, tcg_guest_tsc_khz(vm));
		pthread_cond_signal(&vm->timer_wake);
		return 0;
	}
	if (msr < TCG_MSR_X2APIC_FIRST || msr > TCG_MSR_X2APIC_LAST)
		return 1;
	if (!write)
		return tcg_lapic_rdmsr(l, msr, now, val) < 0 ? -1 : 0;
	struct tcg_apic_msg msg;
	int eoi = -1;
	int r = tcg_lapic_wrmsr(l, msr, *val, now, &msg, &eoi);
	if (r < 0)
		return -1;
	after_write_locked(v, (msr - TCG_MSR_X2APIC_FIRST) << 4, r > 0 ? &msg : NULL, eoi);
	return 0;
}

int tcg_msr_hook(struct tcg_qemu_ctx *q, uint8_t *env, bool write)
{
	struct backend_vcpu *v = (struct backend_vcpu *)q; /* q is the first member */
	struct tcg_env e = { .uc = v->uc, .d = env };
	uint32_t msr = (uint32_t)tcg_env_u64(&e, TCG_ENV_REGS + 1 * 8); /* ECX */
	if (msr != TCG_MSR_APIC_BASE && msr != TCG_MSR_TSC_DEADLINE &&
	    (msr < TCG_MSR_X2APIC_FIRST || msr > TCG_MSR_X2APIC_LAST))
		return 1;
	uint64_t val = (tcg_env_u64(&e, TCG_ENV_REGS) & 0xffffffffu) |
		       tcg_env_u64(&e, TCG_ENV_REGS + 2 * 8) << 32; /* EDX:EAX */
	uint64_t tsc = __rdtsc() + tcg_env_u64(&e, TCG_ENV_TSC_OFFSET);
	pthread_mutex_lock(&v->vm->lock);
	int r = apic_msr_locked(v, msr, write, &val, tsc);
	if (r == 0 && write)
		tcg_platform_notify_locked(v->vm);
	pthread_mutex_unlock(&v->vm->lock);
	if (r == 0 && !write) {
		tcg_env_set_u64(&e, TCG_ENV_REGS, (uint32_t)val);
		tcg_env_set_u64(&e, TCG_ENV_REGS + 2 * 8, val >> 32);
	}
	return r;
}

void tcg_apic_rearm_deadline(struct backend_vcpu *v, uint64_t deadline, uint64_t tsc)
{
	struct backend_vm *vm = v->vm;
	pthread_mutex_lock(&vm->lock);
	tcg_lapic_set_deadline(&vm->lapic[v->index], deadline, tcg_now_ns(), tsc,
			       tcg_guest_tsc_khz(vm));
	pthread_cond_signal(&vm->timer_wake);
	pthread_mutex_unlock(&vm->lock);
}

uint64_t tcg_apic_deadline(struct backend_vcpu *v)
{
	pthread_mutex_lock(&v->vm->lock);
	uint64_t d = tcg_lapic_deadline(&v->vm->lapic[v->index]);
	pthread_mutex_unlock(&v->vm->lock);
	return d;
}

void tcg_peer_written(struct tcg_qemu_ctx *q, uint64_t gpa)
{
	struct backend_vcpu *w = (struct backend_vcpu *)q; /* q is the first member */
	struct backend_vm *vm = w->vm;
	pthread_mutex_lock(&vm->lock);
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct backend_vcpu *v = vm->vcpus[i];
		if (v != w && tcg_qemu_has_code(&v->q, gpa, 4096))
			tcg_inval_queue_locked(v, gpa, 4096);
	}
	pthread_mutex_unlock(&vm->lock);
}

/* Every vCPU's interrupt output after the chips changed: the pending
 * flag each vCPU tests, a request to the ones with something to take, and
 * a wake-up for the halted or round-robin ones. */
void tcg_platform_notify_locked(struct backend_vm *vm)
{
	bool wake = false;
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct backend_vcpu *v = vm->vcpus[i];
		bool out = tcg_intr_output_locked(vm, i) || tcg_nmi_pending_locked(vm, i);
		atomic_store(&v->irq_pending, out);
		if (!out)
			continue;
		tcg_vcpu_signal_locked(v);
		wake |= v->halted;
	}
	/* Several vCPUs: a halted one may be runnable now, and the one
	 * running its own timer or IPIs may need to make room. */
	if (wake || vm->nr_lapics > 1)
		pthread_cond_broadcast(&vm->wake);
}
