/* The vCPU half of a snapshot: KVM's per-vCPU state into the neutral
 * struct x86_cpu_state (runtime/backend/x86.h) and back. The order of the
 * ioctls follows Firecracker's save_state/restore_state and the ordering
 * rules of Documentation/virt/kvm/api.rst; the reasons are at each step. */
#include "runtime/backend/kvm/kvm.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "runtime/base/log.h"

#define MSR_IA32_TSC 0x10
#define MSR_IA32_TSC_DEADLINE 0x6e0
/* A TSC rate this close to the host's is the same clock measured twice
 * (calibration differs by a few kHz between boots); scaling it would cost
 * speed for nothing, and NTP absorbs far more (500 ppm). Firecracker uses
 * the same bound. */
#define TSC_KHZ_TOLERANCE_PPM 250

static bool has_cap(const struct backend_vcpu *v, int cap)
{
	return ioctl(v->vm->vm_fd, KVM_CHECK_EXTENSION, cap) > 0;
}

static int fail(const struct backend_vcpu *v, const char *what)
{
	int r = -errno;
	log_err("kvm: vCPU %u: %s: %s", v->index, what, strerror(errno));
	return r;
}

/* After a port I/O or MMIO exit the instruction is not retired until the
 * next KVM_RUN, and the state read now would replay it on restore. Enter
 * once with immediate_exit, which completes it and returns at once
 * (api.rst, KVM_CAP_IMMEDIATE_EXIT). */
static int finish_pending_exit(struct backend_vcpu *v)
{
	if (!v->completion_pending)
		return 0;
	v->run->immediate_exit = 1;
	int r = ioctl(v->fd, KVM_RUN, 0);
	int e = errno;
	v->run->immediate_exit = 0;
	if (r < 0 && e == EINTR) {
		v->completion_pending = false;
		return 0;
	}
	if (r == 0) {
		/* An MMIO access KVM splits in parts and this was not the
		 * last: only the vCPU thread can serve the next one, when it
		 * runs again. */
		v->exit_waiting = true;
		log_err("kvm: vCPU %u: paused inside an I/O instruction that needs another exit "
			"(KVM exit %u); resume and pause again", v->index, v->run->exit_reason);
		return -EAGAIN;
	}
	errno = e;
	return fail(v, "KVM_RUN to complete the last I/O");
}

static void put16(uint8_t *p, uint16_t x) { memcpy(p, &x, 2); }
static void put32(uint8_t *p, uint32_t x) { memcpy(p, &x, 4); }
static void put64(uint8_t *p, uint64_t x) { memcpy(p, &x, 8); }
static uint16_t get16(const uint8_t *p) { uint16_t x; memcpy(&x, p, 2); return x; }
static uint32_t get32(const uint8_t *p) { uint32_t x; memcpy(&x, p, 4); return x; }
static uint64_t get64(const uint8_t *p) { uint64_t x; memcpy(&x, p, 8); return x; }

static void fpu_to_fxsave(const struct kvm_fpu *f, uint8_t *fx)
{
	put16(fx + X86_FX_FCW, f->fcw);
	put16(fx + X86_FX_FSW, f->fsw);
	fx[X86_FX_FTW] = f->ftwx;
	put16(fx + X86_FX_FOP, f->last_opcode);
	put64(fx + X86_FX_FIP, f->last_ip);
	put64(fx + X86_FX_FDP, f->last_dp);
	put32(fx + X86_FX_MXCSR, f->mxcsr);
	/* KVM_GET_FPU leaves it out; the guest's FPU is the host's. */
	put32(fx + X86_FX_MXCSR_MASK, kvm_host_mxcsr_mask());
	memcpy(fx + X86_FX_ST, f->fpr, sizeof(f->fpr));
	memcpy(fx + X86_FX_XMM, f->xmm, sizeof(f->xmm));
}

static void fxsave_to_fpu(const uint8_t *fx, struct kvm_fpu *f)
{
	memset(f, 0, sizeof(*f));
	f->fcw = get16(fx + X86_FX_FCW);
	f->fsw = get16(fx + X86_FX_FSW);
	f->ftwx = fx[X86_FX_FTW];
	f->last_opcode = get16(fx + X86_FX_FOP);
	f->last_ip = get64(fx + X86_FX_FIP);
	f->last_dp = get64(fx + X86_FX_FDP);
	f->mxcsr = get32(fx + X86_FX_MXCSR);
	memcpy(f->fpr, fx + X86_FX_ST, sizeof(f->fpr));
	memcpy(f->xmm, fx + X86_FX_XMM, sizeof(f->xmm));
}

static int events_from_kvm(const struct backend_vcpu *v, const struct kvm_vcpu_events *k,
			   struct x86_events *e)
{
	/* Ember has no SMM firmware and does not enable triple-fault
	 * reporting: a vCPU in SMM would be state the neutral form lacks. */
	if ((k->flags & KVM_VCPUEVENT_VALID_SMM) &&
	    (k->smi.smm || k->smi.smm_inside_nmi || k->smi.latched_init)) {
		log_err("kvm: vCPU %u: in system management mode, which a snapshot cannot carry",
			v->index);
		return -ENOTSUP;
	}
	*e = (struct x86_events){
		.exception_injected = k->exception.injected,
		.exception_nr = k->exception.nr,
		.exception_has_error = k->exception.has_error_code,
		.exception_pending = k->exception.pending,
		.exception_error = k->exception.error_code,
		.interrupt_injected = k->interrupt.injected,
		.interrupt_nr = k->interrupt.nr,
		.interrupt_soft = k->interrupt.soft,
		.interrupt_shadow = k->interrupt.shadow,
		.nmi_injected = k->nmi.injected,
		.nmi_pending = k->nmi.pending,
		.nmi_masked = k->nmi.masked,
		.smi_pending = (k->flags & KVM_VCPUEVENT_VALID_SMM) ? k->smi.pending : 0,
		.sipi_vector = k->sipi_vector,
	};
	return 0;
}

static void events_to_kvm(const struct x86_events *e, struct kvm_vcpu_events *k)
{
	memset(k, 0, sizeof(*k));
	k->flags = KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR |
		   KVM_VCPUEVENT_VALID_SHADOW;
	/* Without KVM_CAP_EXCEPTION_PAYLOAD (Ember leaves it off) KVM has no
	 * "pending" exception and reports one as injected itself; do the same. */
	k->exception.injected = e->exception_injected | e->exception_pending;
	k->exception.nr = e->exception_nr;
	k->exception.has_error_code = e->exception_has_error;
	k->exception.error_code = e->exception_error;
	k->interrupt.injected = e->interrupt_injected;
	k->interrupt.nr = e->interrupt_nr;
	k->interrupt.soft = e->interrupt_soft;
	k->interrupt.shadow = e->interrupt_shadow;
	k->nmi.injected = e->nmi_injected;
	k->nmi.pending = e->nmi_pending;
	k->nmi.masked = e->nmi_masked;
	k->sipi_vector = e->sipi_vector;
	if (e->smi_pending) {
		k->flags |= KVM_VCPUEVENT_VALID_SMM;
		k->smi.pending = 1;
	}
}

static int save_fpu(struct backend_vcpu *v, struct x86_cpu_state *st)
{
	struct kvm_fpu fpu;
	if (ioctl(v->fd, KVM_GET_FPU, &fpu) < 0)
		return fail(v, "KVM_GET_FPU");
	fpu_to_fxsave(&fpu, st->fxsave);
	if (!has_cap(v, KVM_CAP_XSAVE))
		return 0;
	/* Larger only with a dynamic feature (AMX) the VMM asked for, which
	 * Ember does not; KVM_GET_XSAVE would refuse it. */
	int size = ioctl(v->vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
	if (size > X86_XSAVE_SIZE) {
		log_err("kvm: vCPU %u: XSAVE state of %d bytes, a snapshot holds %d", v->index,
			size, X86_XSAVE_SIZE);
		return -ENOTSUP;
	}
	_Static_assert(sizeof(struct kvm_xsave) == X86_XSAVE_SIZE, "KVM's XSAVE area");
	if (ioctl(v->fd, KVM_GET_XSAVE, (struct kvm_xsave *)st->xsave) < 0)
		return fail(v, "KVM_GET_XSAVE");
	struct kvm_xcrs xcrs;
	if (!has_cap(v, KVM_CAP_XCRS)) {
		log_err("kvm: vCPU %u: KVM_CAP_XSAVE without KVM_CAP_XCRS", v->index);
		return -ENOTSUP;
	}
	if (ioctl(v->fd, KVM_GET_XCRS, &xcrs) < 0)
		return fail(v, "KVM_GET_XCRS");
	for (uint32_t i = 0; i < xcrs.nr_xcrs && i < KVM_MAX_XCRS; i++)
		if (xcrs.xcrs[i].xcr == 0)
			st->xcr0 = xcrs.xcrs[i].value;
	st->flags |= X86_STATE_HAS_XSAVE;
	return 0;
}

static int save_msrs(struct backend_vcpu *v, struct x86_cpu_state *st)
{
	int r = kvm_msr_list_init(v);
	if (r < 0)
		return r;
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e[X86_MAX_MSRS];
	} m = { .h.nmsrs = v->nr_msr_list };
	for (unsigned i = 0; i < v->nr_msr_list; i++)
		m.e[i].index = v->msr_list[i];
	int got = ioctl(v->fd, KVM_GET_MSRS, &m);
	if (got < 0)
		return fail(v, "KVM_GET_MSRS");
	if ((unsigned)got < v->nr_msr_list) {
		log_err("kvm: vCPU %u: KVM_GET_MSRS read %d of %u, stopping at MSR 0x%x", v->index,
			got, v->nr_msr_list, m.e[got].index);
		return -EIO;
	}
	for (unsigned i = 0; i < v->nr_msr_list; i++)
		st->msrs[i] = (struct x86_msr){ .index = m.e[i].index, .value = m.e[i].data };
	st->nr_msrs = v->nr_msr_list;
	return 0;
}

int kvm_vcpu_save(struct backend_vcpu *v, struct x86_cpu_state *st)
{
	memset(st, 0, sizeof(*st));
	int r = finish_pending_exit(v);
	if (r < 0)
		return r;
	st->version = X86_CPU_STATE_VERSION;
	/* MP state first: reading it lets the LAPIC accept pending INIT/SIPI,
	 * which changes what the later reads see. */
	struct kvm_mp_state mp;
	if (ioctl(v->fd, KVM_GET_MP_STATE, &mp) < 0)
		return fail(v, "KVM_GET_MP_STATE");
	if (mp.mp_state > X86_MP_SIPI_RECEIVED) {
		log_err("kvm: vCPU %u: MP state %u, which a snapshot cannot carry", v->index,
			mp.mp_state);
		return -ENOTSUP;
	}
	st->mp_state = mp.mp_state;
	if ((r = kvm_get_regs(v, &st->regs)) < 0 || (r = kvm_get_sregs(v, &st->sregs)) < 0) {
		log_err("kvm: vCPU %u: registers: %s", v->index, strerror(-r));
		return r;
	}
	if ((r = save_fpu(v, st)) < 0)
		return r;
	struct kvm_debugregs dbg;
	if (ioctl(v->fd, KVM_GET_DEBUGREGS, &dbg) < 0)
		return fail(v, "KVM_GET_DEBUGREGS");
	memcpy(st->dr, dbg.db, sizeof(st->dr));
	st->dr6 = dbg.dr6;
	st->dr7 = dbg.dr7;
	_Static_assert(sizeof(struct kvm_lapic_state) == X86_LAPIC_SIZE, "KVM's LAPIC page");
	if (ioctl(v->fd, KVM_GET_LAPIC, (struct kvm_lapic_state *)st->lapic) < 0)
		return fail(v, "KVM_GET_LAPIC");
	st->flags |= X86_STATE_HAS_LAPIC;
	int khz = ioctl(v->fd, KVM_GET_TSC_KHZ, 0);
	if (khz > 0) {
		st->tsc_khz = (uint32_t)khz;
		st->flags |= X86_STATE_HAS_TSC_KHZ;
	} else {
		log_warn("kvm: vCPU %u: TSC rate unknown; a restore cannot check it", v->index);
	}
	if ((r = save_msrs(v, st)) < 0)
		return r;
	/* Events last: the reads above can still move an event between
	 * pending and injected. */
	struct kvm_vcpu_events ev;
	if (ioctl(v->fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
		return fail(v, "KVM_GET_VCPU_EVENTS");
	if ((r = events_from_kvm(v, &ev, &st->events)) < 0)
		return r;
	st->flags |= X86_STATE_HAS_EVENTS;
	return 0;
}

/* Before anything else: KVM computes the TSC offset from the TSC MSR at
 * the vCPU's rate, and a rate the host cannot give refuses the restore
 * before it changed anything. */
static int restore_tsc_rate(struct backend_vcpu *v, const struct x86_cpu_state *st)
{
	if (!(st->flags & X86_STATE_HAS_TSC_KHZ))
		return 0;
	int here = ioctl(v->fd, KVM_GET_TSC_KHZ, 0);
	if (here <= 0) {
		log_err("kvm: vCPU %u: the snapshot's TSC runs at %" PRIu32
			" kHz and this host's rate is unknown", v->index, st->tsc_khz);
		return -ENOTSUP;
	}
	uint64_t diff = here > (int64_t)st->tsc_khz ? (uint64_t)here - st->tsc_khz
						    : st->tsc_khz - (uint64_t)here;
	if (diff * 1000000 <= (uint64_t)st->tsc_khz * TSC_KHZ_TOLERANCE_PPM)
		return 0;
	if (!has_cap(v, KVM_CAP_TSC_CONTROL)) {
		log_err("kvm: vCPU %u: the snapshot's TSC runs at %" PRIu32 " kHz, this host's at "
			"%d kHz, and this KVM cannot scale it (no KVM_CAP_TSC_CONTROL)",
			v->index, st->tsc_khz, here);
		return -ENOTSUP;
	}
	if (ioctl(v->fd, KVM_SET_TSC_KHZ, (unsigned long)st->tsc_khz) < 0) {
		log_err("kvm: vCPU %u: the snapshot's TSC runs at %" PRIu32 " kHz, this host's at "
			"%d kHz, and KVM_SET_TSC_KHZ failed: %s",
			v->index, st->tsc_khz, here, strerror(errno));
		return -ENOTSUP;
	}
	return 0;
}

static int set_msrs(struct backend_vcpu *v, const struct kvm_msr_entry *e, unsigned n)
{
	if (n == 0)
		return 0;
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e[X86_MAX_MSRS];
	} m = { .h.nmsrs = n };
	memcpy(m.e, e, n * sizeof(*e));
	int set = ioctl(v->fd, KVM_SET_MSRS, &m);
	if (set < 0)
		return fail(v, "KVM_SET_MSRS");
	if ((unsigned)set < n) {
		log_err("kvm: vCPU %u: KVM refused MSR 0x%x = 0x%llx from the snapshot", v->index,
			e[set].index, (unsigned long long)e[set].data);
		return -EINVAL;
	}
	return 0;
}

/* After the LAPIC (the TSC deadline only takes in TSC-deadline mode) and
 * in two steps, the deadline after the TSC (settled: clock.c): KVM arms
 * the deadline timer against the TSC as it is when the deadline is
 * written. */
static int restore_msrs(struct backend_vcpu *v, const struct x86_cpu_state *st)
{
	struct kvm_msr_entry e[X86_MAX_MSRS], deadline[1];
	unsigned n = 0, nd = 0;
	uint64_t tsc = 0;
	bool have_tsc = false;
	for (uint32_t i = 0; i < st->nr_msrs; i++) {
		struct kvm_msr_entry k = { .index = st->msrs[i].index, .data = st->msrs[i].value };
		if (k.index == MSR_IA32_TSC) {
			tsc = k.data;
			have_tsc = true;
		}
		if (k.index == MSR_IA32_TSC_DEADLINE && nd == 0)
			deadline[nd++] = k;
		else
			e[n++] = k;
	}
	/* A deadline of 0 may be a timer that fired just before the save,
	 * its interrupt still in KVM's pending count, which KVM_GET_LAPIC
	 * does not carry. Firecracker saw such vCPUs never tick again; arming
	 * it at the saved TSC fires it at once, and a guest that had really
	 * disarmed it sees one early tick, which Linux ignores. KVM ignores
	 * the write outside TSC-deadline mode. */
	if (nd && deadline[0].data == 0 && have_tsc)
		deadline[0].data = tsc;
	int64_t written = kvm_mono_ns();
	int r = set_msrs(v, e, n);
	if (r == 0 && have_tsc)
		r = kvm_tsc_settle(v, tsc, written);
	return r < 0 ? r : set_msrs(v, deadline, nd);
}

static int restore_fpu(struct backend_vcpu *v, const struct x86_cpu_state *st)
{
	if (st->flags & X86_STATE_HAS_XSAVE) {
		if (ioctl(v->fd, KVM_SET_XSAVE, (const struct kvm_xsave *)st->xsave) < 0)
			return fail(v, "KVM_SET_XSAVE");
		struct kvm_xcrs xcrs = { .nr_xcrs = 1, .xcrs[0] = { .xcr = 0, .value = st->xcr0 } };
		if (ioctl(v->fd, KVM_SET_XCRS, &xcrs) < 0)
			return fail(v, "KVM_SET_XCRS");
		return 0;
	}
	struct kvm_fpu fpu;
	fxsave_to_fpu(st->fxsave, &fpu);
	if (ioctl(v->fd, KVM_SET_FPU, &fpu) < 0)
		return fail(v, "KVM_SET_FPU");
	return 0;
}

int kvm_vcpu_restore(struct backend_vcpu *v, const struct x86_cpu_state *st)
{
	int r = kvm_state_check(v->index, st);
	if (r < 0)
		return r;
	if ((st->flags & X86_STATE_HAS_XSAVE) &&
	    (!has_cap(v, KVM_CAP_XSAVE) || !has_cap(v, KVM_CAP_XCRS))) {
		log_err("kvm: vCPU %u: the snapshot holds XSAVE state and this KVM has no "
			"KVM_CAP_XSAVE/KVM_CAP_XCRS", v->index);
		return -ENOTSUP;
	}
	if ((r = restore_tsc_rate(v, st)) < 0)
		return r;
	/* CPUID is set already (vcpu_create). Then as Firecracker: MP state
	 * (it depends on the vCPU being the BSP, set at creation); regs
	 * before events (KVM_SET_REGS drops a pending exception); sregs
	 * before the LAPIC (they carry the APIC base); the LAPIC before the
	 * MSRs (the TSC deadline). */
	struct kvm_mp_state mp = { .mp_state = st->mp_state };
	if (ioctl(v->fd, KVM_SET_MP_STATE, &mp) < 0)
		return fail(v, "KVM_SET_MP_STATE");
	if ((r = kvm_set_regs(v, &st->regs)) < 0 || (r = kvm_set_sregs(v, &st->sregs)) < 0) {
		log_err("kvm: vCPU %u: registers from the snapshot: %s", v->index, strerror(-r));
		return r;
	}
	if ((r = restore_fpu(v, st)) < 0)
		return r;
	struct kvm_debugregs dbg = { .dr6 = st->dr6, .dr7 = st->dr7 };
	memcpy(dbg.db, st->dr, sizeof(dbg.db));
	if (ioctl(v->fd, KVM_SET_DEBUGREGS, &dbg) < 0)
		return fail(v, "KVM_SET_DEBUGREGS");
	if ((st->flags & X86_STATE_HAS_LAPIC) &&
	    ioctl(v->fd, KVM_SET_LAPIC, (const struct kvm_lapic_state *)st->lapic) < 0)
		return fail(v, "KVM_SET_LAPIC");
	if ((r = restore_msrs(v, st)) < 0)
		return r;
	if (st->flags & X86_STATE_HAS_EVENTS) {
		struct kvm_vcpu_events ev;
		events_to_kvm(&st->events, &ev);
		if (ioctl(v->fd, KVM_SET_VCPU_EVENTS, &ev) < 0)
			return fail(v, "KVM_SET_VCPU_EVENTS");
	}
	/* Tells a kvmclock guest it was stopped, so its watchdogs do not take
	 * the gap for a lockup. EINVAL: the guest has no kvmclock. */
	if (has_cap(v, KVM_CAP_KVMCLOCK_CTRL) && ioctl(v->fd, KVM_KVMCLOCK_CTRL, 0) < 0 &&
	    errno != EINVAL)
		log_warn("kvm: vCPU %u: KVM_KVMCLOCK_CTRL: %s", v->index, strerror(errno));
	return 0;
}
