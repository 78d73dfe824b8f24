/* The TCG backend's VM: probe, memory slots, and the platform devices KVM
 * would keep in the kernel — the 8259A pair and the 8254 with its timer
 * thread. The vCPU lives in vcpu.c (its registers in vcpu_state.c), its
 * hooks in hooks.c. */
#include "runtime/backend/tcg/tcg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/base/log.h"
#include "runtime/base/seccomp.h"
#include "runtime/backend/tcg/selftest.h"
#include "runtime/backend/tcg/tsc.h"

/* The self-test runs once per process; every probe answers from it. */
static struct {
	pthread_once_t once;
	int r;
	char why[256];
} probe_result = { PTHREAD_ONCE_INIT, 0, "" };

static void probe_once(void)
{
	probe_result.r = tcg_selftest(probe_result.why, sizeof(probe_result.why));
}

static int tcg_probe(char *why, size_t why_len)
{
	pthread_once(&probe_result.once, probe_once);
	snprintf(why, why_len, "%s", probe_result.why);
	return probe_result.r;
}

static void tcg_warm_up(void)
{
	char why[sizeof(probe_result.why)];
	tcg_probe(why, sizeof(why));
	tcg_tsc_khz();
}

static void *timer_main(void *arg);

static int tcg_vm_create(const struct backend_vm_opts *opts, struct backend_vm **out,
			 struct errbuf *err)
{
	if (opts->nr_vcpus < 1 || opts->nr_vcpus > TCG_MAX_VCPUS)
		return err_set(err, -EINVAL,
			       "vcpu_count %u: the software CPU (tcg) runs at most %u vCPU%s",
			       opts->nr_vcpus, TCG_MAX_VCPUS, TCG_MAX_VCPUS == 1 ? "" : "s");
	if (!opts->mem || !opts->mmio_bus || !opts->pio_bus)
		return err_set(err, -EINVAL, "tcg: no guest memory or buses given");

	struct backend_vm *vm = calloc(1, sizeof(*vm));
	if (!vm)
		return err_set(err, -ENOMEM, "tcg: out of memory");
	int r = tcg_template_setup(vm, opts, err);
	if (r < 0) {
		err_wrap(err, r, "tcg");
		tcg_template_free(vm);
		free(vm);
		return r;
	}
	vm->mem = opts->mem;
	vm->mmio_bus = opts->mmio_bus;
	vm->pio_bus = opts->pio_bus;
	vm->pit_next = -1;
	vm->clock_realtime = opts->clock_realtime;
	pthread_mutex_init(&vm->lock, NULL);
	pthread_cond_init(&vm->wake, NULL);
	pthread_cond_init(&vm->park, NULL);
	pthread_cond_init(&vm->inval_cv, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&vm->timer_wake, &ca);
	pthread_condattr_destroy(&ca);
	tcg_pic_init(&vm->pic);
	tcg_pit_init(&vm->pit, tcg_now_ns());
	tcg_apic_init(vm, opts->nr_vcpus);
	if (opts->track_dirty && tcg_dirty_init(&vm->dirty, gm_end(opts->mem))) {
		tcg_template_free(vm);
		free(vm);
		return err_set(err, -ENOMEM, "tcg: dirty page tracking: out of memory");
	}

	r = pthread_create(&vm->timer, NULL, timer_main, vm);
	if (r) {
		tcg_dirty_free(&vm->dirty);
		tcg_template_free(vm);
		free(vm);
		return err_set(err, -r, "tcg: the timer thread: %s", strerror(r));
	}
	vm->timer_started = true;
	*out = vm;
	return 0;
}

static void tcg_vm_destroy(struct backend_vm *vm)
{
	if (!vm)
		return;
	if (vm->timer_started) {
		pthread_mutex_lock(&vm->lock);
		vm->quit = true;
		pthread_cond_broadcast(&vm->timer_wake);
		pthread_mutex_unlock(&vm->lock);
		pthread_join(vm->timer, NULL);
	}
	pthread_cond_destroy(&vm->wake);
	pthread_cond_destroy(&vm->park);
	pthread_cond_destroy(&vm->inval_cv);
	pthread_cond_destroy(&vm->timer_wake);
	pthread_mutex_destroy(&vm->lock);
	tcg_dirty_free(&vm->dirty);
	tcg_template_free(vm);
	free(vm);
}

static int tcg_map_memory(struct backend_vm *vm, unsigned slot, uint64_t gpa, uint64_t size,
			  void *host)
{
	if (vm->nr_vcpus)
		return -EBUSY; /* unicorn's map is built once, at vcpu_create */
	if (vm->nr_slots == TCG_MAX_SLOTS)
		return -ENOSPC;
	if (!size || (gpa | size) & 4095 || gpa + size < gpa)
		return -EINVAL;
	for (unsigned i = 0; i < vm->nr_slots; i++)
		if (vm->slots[i].id == slot)
			return -EEXIST;
	vm->slots[vm->nr_slots++] = (struct tcg_slot){ gpa, size, host, slot };
	return 0;
}

static int tcg_set_irq_line(struct backend_vm *vm, unsigned gsi, bool level)
{
	if (gsi >= TCG_IOAPIC_PINS)
		return -EINVAL;
	pthread_mutex_lock(&vm->lock);
	tcg_apic_set_irq_locked(vm, gsi, level);
	tcg_platform_notify_locked(vm);
	pthread_mutex_unlock(&vm->lock);
	return 0;
}

static int tcg_add_ioeventfd(struct backend_vm *vm, uint64_t addr, uint32_t len,
			     uint64_t datamatch, int fd)
{
	(void)vm, (void)addr, (void)len, (void)datamatch, (void)fd;
	return -EOPNOTSUPP; /* MMIO writes reach the bus synchronously */
}

static int tcg_add_irqfd(struct backend_vm *vm, unsigned gsi, int fd)
{
	(void)vm, (void)gsi, (void)fd;
	return -EOPNOTSUPP;
}

static bool pic_port(uint16_t port)
{
	return port == 0x20 || port == 0x21 || port == 0xa0 || port == 0xa1 || port == 0x4d0 ||
	       port == 0x4d1;
}

static bool pit_port(uint16_t port)
{
	return (port >= 0x40 && port <= 0x43) || port == 0x61;
}

/* Port 0x80 (POST codes, Linux's I/O delay) is written constantly: drop
 * it here rather than log each write as an access to nothing. */
#define PORT_POST 0x80

bool tcg_platform_in(struct backend_vm *vm, uint16_t port, uint32_t *val)
{
	if (port == PORT_POST) {
		*val = 0xff;
		return true;
	}
	if (!pic_port(port) && !pit_port(port))
		return false;
	pthread_mutex_lock(&vm->lock);
	if (pic_port(port))
		*val = tcg_pic_read(&vm->pic, port);
	else
		*val = tcg_pit_read(&vm->pit, port, tcg_now_ns());
	pthread_mutex_unlock(&vm->lock);
	return true;
}

/* Lock held. Once per VM: a guest that asks for it again and again gets
 * no log line each time. */
static void log_clamp_locked(struct backend_vm *vm)
{
	int64_t ns = tcg_pit_clamped_ns(&vm->pit);
	if (!ns || vm->pit_clamp_logged)
		return;
	vm->pit_clamp_logged = true;
	log_info("tcg: the guest's PIT period of %lld ns is limited to %d ns (as KVM does)",
		 (long long)ns, TCG_PIT_MIN_PERIOD_NS);
}

bool tcg_platform_out(struct backend_vm *vm, uint16_t port, uint32_t val)
{
	if (port == PORT_POST)
		return true;
	if (!pic_port(port) && !pit_port(port))
		return false;
	pthread_mutex_lock(&vm->lock);
	if (pic_port(port)) {
		tcg_pic_write(&vm->pic, port, (uint8_t)val);
		tcg_platform_notify_locked(vm);
	} else {
		int64_t now = tcg_now_ns();
		tcg_pit_write(&vm->pit, port, (uint8_t)val, now);
		if (port != 0x61) {
			vm->pit_next = tcg_pit_next_irq(&vm->pit, now);
			pthread_cond_signal(&vm->timer_wake);
			log_clamp_locked(vm);
		}
	}
	pthread_mutex_unlock(&vm->lock);
	return true;
}

/* Several vCPUs (lock held): ends the running one's slice when it is
 * over; returns when to look again (-1: nothing runs). */
static int64_t watch_slice(struct backend_vm *vm, int64_t now)
{
	struct backend_vcpu *v = vm->running;
	if (vm->nr_lapics == 1 || !v || atomic_load(&v->yield))
		return -1;
	if (now < v->slice_end)
		return v->slice_end;
	atomic_store(&v->yield, true);
	tcg_vcpu_signal_locked(v);
	/* Look again in a slice: by then the next vCPU runs. */
	return now + TCG_SLICE_NS;
}

/* Raises IRQ 0 on the PIT's edges and the local APIC timers' vectors. IRQ 0 is edge-triggered: a pulse per edge, and edges the
 * guest was too slow to see are coalesced into one (as on a busy host). */
static void *timer_main(void *arg)
{
	struct backend_vm *vm = arg;
	/* Named, so that its CPU time can be told apart (/proc/PID/task). */
	pthread_setname_np(pthread_self(), "tcg-timer");
	/* A VMM helper: made by the VMM or warm-up thread, it inherits their
	 * filter already (a no-op then). */
	seccomp_enter(THREAD_VMM);
	pthread_mutex_lock(&vm->lock);
	while (!vm->quit) {
		int64_t now = tcg_now_ns();
		if (vm->pit_next >= 0 && now >= vm->pit_next) {
			tcg_apic_set_irq_locked(vm, 0, true);
			tcg_apic_set_irq_locked(vm, 0, false);
			vm->pit_next = tcg_pit_next_irq(&vm->pit, now);
			tcg_platform_notify_locked(vm);
		}
		int64_t apic_next = tcg_apic_next_locked(vm);
		if (apic_next >= 0 && now >= apic_next) {
			tcg_apic_tick_locked(vm, now);
			tcg_platform_notify_locked(vm);
			apic_next = tcg_apic_next_locked(vm);
		}
		int64_t deadline = vm->pit_next, sl = watch_slice(vm, now);
		if (apic_next >= 0 && (deadline < 0 || apic_next < deadline))
			deadline = apic_next;
		if (sl >= 0 && (deadline < 0 || sl < deadline))
			deadline = sl;
		if (deadline < 0) {
			pthread_cond_wait(&vm->timer_wake, &vm->lock);
		} else {
			struct timespec ts = { deadline / 1000000000LL, deadline % 1000000000LL };
			pthread_cond_timedwait(&vm->timer_wake, &vm->lock, &ts);
		}
	}
	pthread_mutex_unlock(&vm->lock);
	return NULL;
}

/* A device wrote guest memory: translated code from the old contents
 * must not run again (backend_ops.guest_written). Only the vCPU thread
 * can drop translations (QEMU's TB structures are its own), so queue the
 * range, make the vCPU look at its next block boundary (as for an
 * interrupt) and wait until it has, or
 * until it is outside guest code: it drains before it goes back in. The
 * wait cannot deadlock on the caller's locks (a transport's run_lock):
 * the vCPU leaves guest code before any bus callback. */
static void tcg_guest_written(struct backend_vm *vm, uint64_t gpa, uint64_t len)
{
	if (!len)
		return;
	/* The device's stores, then the code bitmap: a page getting its first
	 * block after this was translated from the new contents. */
	atomic_thread_fence(memory_order_seq_cst);
	pthread_mutex_lock(&vm->lock);
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct backend_vcpu *v = vm->vcpus[i];
		if (!tcg_qemu_has_code(&v->q, gpa, len))
			continue;
		tcg_inval_queue_locked(v, gpa, len);
		uint64_t seq = v->inval_seq;
		if (v->in_guest) {
			tcg_vcpu_signal_locked(v);
			while (v->in_guest && v->inval_done < seq)
				pthread_cond_wait(&vm->inval_cv, &vm->lock);
		}
	}
	pthread_mutex_unlock(&vm->lock);
}

void tcg_inval_drain_locked(struct backend_vcpu *v)
{
	if (v->inval_done == v->inval_seq)
		return;
	if (v->inval_all)
		tcg_qemu_invalidate_all(&v->q);
	else
		for (unsigned i = 0; i < v->nr_inval; i++)
			tcg_qemu_invalidate(&v->q, v->inval[i].gpa, v->inval[i].len);
	v->nr_inval = 0;
	v->inval_all = false;
	v->inval_done = v->inval_seq;
	pthread_cond_broadcast(&v->vm->inval_cv);
}

void tcg_guest_leave(struct backend_vcpu *v)
{
	if (!v)
		return;
	struct backend_vm *vm = v->vm;
	pthread_mutex_lock(&vm->lock);
	v->in_guest = false;
	if (v->inval_done != v->inval_seq)
		pthread_cond_broadcast(&vm->inval_cv);
	pthread_mutex_unlock(&vm->lock);
}

void tcg_guest_enter(struct backend_vcpu *v)
{
	if (!v)
		return;
	struct backend_vm *vm = v->vm;
	pthread_mutex_lock(&vm->lock);
	tcg_inval_drain_locked(v);
	v->in_guest = true;
	pthread_mutex_unlock(&vm->lock);
}

/* Linux cannot calibrate the TSC against an emulated PIT (see tsc.h):
 * tell it the rate. A tsc_early_khz= the user gave wins; the VM leaves
 * ours out then. */
static int tcg_kernel_cmdline(struct backend_vm *vm, char *buf, size_t len)
{
	if (!len)
		return -E2BIG;
	buf[0] = '\0';
	unsigned long khz = tcg_tsc_khz();
	if (!khz)
		return 0;
	int n = snprintf(buf, len, "tsc_early_khz=%lu", khz);
	if (n < 0 || (size_t)n >= len) {
		buf[0] = '\0';
		return -E2BIG;
	}
	vm->tsc_khz = khz; /* what snapshots record */
	return 0;
}

const struct backend_ops backend_tcg = {
	.name = "tcg",
	.vcpu_thread = THREAD_VCPU_TCG,
	.has_apic = true,
	.probe = tcg_probe,
	.warm_up = tcg_warm_up,
	.vm_create = tcg_vm_create,
	.vm_destroy = tcg_vm_destroy,
	.map_memory = tcg_map_memory,
	.vcpu_create = tcg_vcpu_create,
	.vcpu_destroy = tcg_vcpu_destroy,
	.vcpu_run = tcg_vcpu_run,
	.vcpu_kick = tcg_vcpu_kick,
	.get_regs = tcg_get_regs,
	.set_regs = tcg_set_regs,
	.get_sregs = tcg_get_sregs,
	.set_sregs = tcg_set_sregs,
	.translate = tcg_translate,
	.set_irq_line = tcg_set_irq_line,
	.add_ioeventfd = tcg_add_ioeventfd,
	.add_irqfd = tcg_add_irqfd,
	.kernel_cmdline = tcg_kernel_cmdline,
	.guest_written = tcg_guest_written,
	.vcpu_save = tcg_vcpu_save,
	.vcpu_restore = tcg_vcpu_restore,
	.platform_save = tcg_platform_save,
	.vcpu_get_cpuid = tcg_vcpu_get_cpuid,
	.vcpu_set_cpuid = tcg_vcpu_set_cpuid,
	.vcpu_import = tcg_vcpu_import,
	.platform_get = tcg_platform_get,
	.platform_set = tcg_platform_set,
	.platform_restore = tcg_platform_restore,
	.dirty_log = tcg_dirty_log,
};
