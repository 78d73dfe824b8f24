/* The guest's time on a KVM restore: the vCPUs' TSCs (state.c writes the
 * saved values) and the KVM clock (platform.c hands over the saved one).
 *
 * A host-side write of the TSC MSR within a second of what KVM expects
 * (the previous write's value plus the time since) is taken as an attempt
 * to synchronize the vCPUs and keeps the offset KVM had (arch/x86/kvm/
 * x86.c, kvm_synchronize_tsc). A fresh vCPU's TSC can stand within a
 * second of the saved value, and the saved TSC is then silently lost:
 * kvm_tsc_settle reads it back and corrects it through the vCPU's
 * KVM_VCPU_TSC_OFFSET (Documentation/virt/kvm/devices/vcpu.rst), which
 * sets the offset as given.
 *
 * By default the guest's kvmclock goes on from the saved value, as if no
 * time had passed while it was stopped (Firecracker's default). With
 * clock_realtime, KVM_CLOCK_REALTIME makes KVM add the host wall time
 * elapsed since the save (api.rst, KVM_SET_CLOCK; Linux 5.16 or later),
 * and each TSC moves on as far through its offset: a guest keeping time
 * with the TSC (Linux prefers it to kvmclock where the TSC is invariant)
 * would otherwise see no time pass, and one reading both would see them
 * disagree. */
#include "runtime/backend/kvm/kvm.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "runtime/base/log.h"

#define MSR_IA32_TSC 0x10
#define MSR_IA32_TSC_DEADLINE 0x6e0
/* Beyond the time measured around a TSC write and its read-back: what
 * the clocks' rates and a read's own length may add. */
#define TSC_SLACK_NS 100000

int64_t kvm_mono_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static bool has_tsc_offset(const struct backend_vcpu *v)
{
	struct kvm_device_attr a = { .group = KVM_VCPU_TSC_CTRL, .attr = KVM_VCPU_TSC_OFFSET };
	return ioctl(v->fd, KVM_HAS_DEVICE_ATTR, &a) == 0;
}

static int vcpu_fail(const struct backend_vcpu *v, const char *what)
{
	int r = -errno;
	log_err("kvm: vCPU %u: %s: %s", v->index, what, strerror(errno));
	return r;
}

static int get_msr(const struct backend_vcpu *v, uint32_t index, uint64_t *val)
{
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e;
	} m = { .h.nmsrs = 1, .e.index = index };
	if (ioctl(v->fd, KVM_GET_MSRS, &m) != 1)
		return vcpu_fail(v, index == MSR_IA32_TSC ? "KVM_GET_MSRS (TSC)"
							  : "KVM_GET_MSRS (TSC deadline)");
	*val = m.e.data;
	return 0;
}

/* Adds delta to the vCPU's TSC, modulo 2^64 as the counter wraps. */
static int offset_add(const struct backend_vcpu *v, uint64_t delta)
{
	uint64_t offset;
	struct kvm_device_attr a = { .group = KVM_VCPU_TSC_CTRL, .attr = KVM_VCPU_TSC_OFFSET,
				     .addr = (uint64_t)(uintptr_t)&offset };
	if (ioctl(v->fd, KVM_GET_DEVICE_ATTR, &a) < 0)
		return vcpu_fail(v, "KVM_GET_DEVICE_ATTR (TSC offset)");
	offset += delta;
	if (ioctl(v->fd, KVM_SET_DEVICE_ATTR, &a) < 0)
		return vcpu_fail(v, "KVM_SET_DEVICE_ATTR (TSC offset)");
	return 0;
}

static uint64_t ns_to_cycles(int64_t ns, int khz)
{
	return ns <= 0 ? 0 : (uint64_t)((unsigned __int128)ns * (unsigned)khz / 1000000);
}

/* The vCPU's TSC, how far it is from the value it should have (tsc at
 * at_ns, running since), and with the reads bracketed by the clock,
 * whether that is within TSC_SLACK_NS. */
static int tsc_off(const struct backend_vcpu *v, uint64_t tsc, int64_t at_ns, int khz,
		   int64_t *off, bool *close)
{
	uint64_t now = 0;
	int64_t t0 = kvm_mono_ns();
	int r = get_msr(v, MSR_IA32_TSC, &now);
	int64_t t1 = kvm_mono_ns();
	if (r < 0)
		return r;
	uint64_t lo = tsc + ns_to_cycles(t0 - at_ns, khz), hi = tsc + ns_to_cycles(t1 - at_ns, khz);
	uint64_t slack = ns_to_cycles(TSC_SLACK_NS, khz);
	*off = (int64_t)(now - (lo + (hi - lo) / 2));
	*close = now - (lo - slack) <= (hi - lo) + 2 * slack;
	return 0;
}

int kvm_tsc_settle(struct backend_vcpu *v, uint64_t tsc, int64_t at_ns)
{
	v->tsc_base = tsc;
	v->tsc_base_ns = at_ns;
	v->tsc_base_known = true;
	int khz = ioctl(v->fd, KVM_GET_TSC_KHZ, 0);
	if (!has_tsc_offset(v) || khz <= 0)
		return 0; /* before Linux 5.16 the write is all there is */
	int64_t off;
	bool close;
	int r = tsc_off(v, tsc, at_ns, khz, &off, &close);
	/* Close: KVM took the value; a vCPU it matched to the others stays
	 * matched (so kvmclock stays stable for the guest). */
	if (r < 0 || close)
		return r;
	if ((r = offset_add(v, (uint64_t)-off)) < 0 ||
	    (r = tsc_off(v, tsc, at_ns, khz, &off, &close)) < 0 || close)
		return r;
	/* Not an error: such a host restored snapshots before, and its TSC
	 * goes on with the host's, which a guest can live with. */
	static atomic_bool said;
	if (!atomic_exchange(&said, true))
		log_warn("kvm: vCPU %u: this KVM does not let the VMM set the guest's TSC "
			 "(%" PRId64 " us off the value it should have; said once)",
			 v->index, off / (khz / 1000 ? khz / 1000 : 1));
	return 0;
}

int kvm_clock_check(struct backend_vm *vm, const struct kvm_clock_data *saved)
{
	if (!vm->clock_realtime)
		return 0;
	if (!(saved->flags & KVM_CLOCK_REALTIME)) {
		log_err("kvm: clock_realtime: the snapshot's clock has no wall-clock time: the "
			"KVM that took it did not report KVM_CLOCK_REALTIME (it does only with "
			"its master clock, over a TSC clocksource)");
		return -ENOTSUP;
	}
	int flags = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_ADJUST_CLOCK);
	if (flags <= 0 || !(flags & KVM_CLOCK_REALTIME)) {
		log_err("kvm: clock_realtime: this KVM does not take KVM_CLOCK_REALTIME in "
			"KVM_SET_CLOCK (host Linux 5.16 or later needed)");
		return -ENOTSUP;
	}
	for (const struct backend_vcpu *v = vm->vcpus; v; v = v->next) {
		if (!has_tsc_offset(v)) {
			log_err("kvm: clock_realtime: vCPU %u has no KVM_VCPU_TSC_OFFSET attribute, "
				"so its TSC cannot follow the clock", v->index);
			return -ENOTSUP;
		}
		if (ioctl(v->fd, KVM_GET_TSC_KHZ, 0) <= 0) {
			log_err("kvm: clock_realtime: vCPU %u: its TSC rate is unknown", v->index);
			return -ENOTSUP;
		}
	}
	return 0;
}

/* Re-writing an armed TSC deadline re-arms KVM's timer against the moved
 * TSC: armed before the move, it would fire only after the time left at
 * the save, however far the guest's TSC is past it now. 0: not armed or
 * not in TSC-deadline mode, nothing to do. */
static int rearm_deadline(const struct backend_vcpu *v)
{
	uint64_t deadline = 0;
	int r = get_msr(v, MSR_IA32_TSC_DEADLINE, &deadline);
	if (r < 0 || deadline == 0)
		return r;
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e;
	} m = { .h.nmsrs = 1, .e = { .index = MSR_IA32_TSC_DEADLINE, .data = deadline } };
	if (ioctl(v->fd, KVM_SET_MSRS, &m) != 1)
		return vcpu_fail(v, "KVM_SET_MSRS (TSC deadline)");
	return 0;
}

int kvm_clock_restore(struct backend_vm *vm, const struct kvm_clock_data *saved)
{
	/* Only the flag we mean: the others KVM_GET_CLOCK reports
	 * (TSC_STABLE, HOST_TSC) do nothing in a set. */
	struct kvm_clock_data c = { .clock = saved->clock };
	if (vm->clock_realtime) {
		c.flags = KVM_CLOCK_REALTIME;
		c.realtime = saved->realtime;
	}
	if (ioctl(vm->vm_fd, KVM_SET_CLOCK, &c) < 0) {
		int r = -errno;
		log_err("kvm: KVM_SET_CLOCK: %s", strerror(errno));
		return r;
	}
	if (!vm->clock_realtime)
		return 0;
	/* What KVM added (it never steps the clock back), read back rather
	 * than computed, so the TSCs follow exactly. The read comes a few
	 * microseconds after the set, which the TSCs then have on top. */
	struct kvm_clock_data now = { 0 };
	if (ioctl(vm->vm_fd, KVM_GET_CLOCK, &now) < 0) {
		int r = -errno;
		log_err("kvm: KVM_GET_CLOCK: %s", strerror(errno));
		return r;
	}
	uint64_t ns = now.clock - saved->clock;
	if ((int64_t)ns < 0)
		ns = 0;
	int r = 0;
	for (struct backend_vcpu *v = vm->vcpus; v && r == 0; v = v->next) {
		int khz = ioctl(v->fd, KVM_GET_TSC_KHZ, 0);
		if (khz <= 0)
			return -ENOTSUP; /* kvm_clock_check said why */
		/* From the value it should have had: restored, or else as it is. */
		if (!v->tsc_base_known) {
			v->tsc_base_ns = kvm_mono_ns();
			if ((r = get_msr(v, MSR_IA32_TSC, &v->tsc_base)) < 0)
				return r;
		}
		r = kvm_tsc_settle(v, v->tsc_base + ns_to_cycles((int64_t)ns, khz), v->tsc_base_ns);
		if (r == 0)
			r = rearm_deadline(v);
	}
	if (r == 0)
		log_info("kvm: clock_realtime: the guest's clocks moved on by %" PRIu64 " ms",
			 ns / 1000000);
	return r;
}
