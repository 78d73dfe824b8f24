/* The VM's CPU template on KVM: chosen and checked when the VM is created
 * (vendor, capabilities, CPUID leaves, MSRs), then applied to each vCPU:
 * CPUID by kvm_cpuid_shape (cpu_template.c), MSRs here. */
#include "runtime/backend/kvm/kvm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "runtime/base/log.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* The capabilities Firecracker requires of every host on x86_64; a
 * template's kvm_capabilities adds to or takes from this set. Ember's
 * own needs (the probe's list in vm.c) are checked whatever it says. */
static const uint32_t base_caps[] = {
	KVM_CAP_IRQCHIP,   KVM_CAP_IOEVENTFD,    KVM_CAP_IRQFD,      KVM_CAP_USER_MEMORY,
	KVM_CAP_SET_TSS_ADDR, KVM_CAP_PIT2,      KVM_CAP_PIT_STATE2, KVM_CAP_ADJUST_CLOCK,
	KVM_CAP_DEBUGREGS, KVM_CAP_MP_STATE,     KVM_CAP_VCPU_EVENTS, KVM_CAP_XCRS,
	KVM_CAP_XSAVE,     KVM_CAP_EXT_CPUID,
};

static int check_caps(struct backend_vm *vm, struct errbuf *err)
{
	uint32_t caps[ARRAY_LEN(base_caps) + CPU_CONFIG_MAX_CAPS];
	size_t n = cpu_template_caps(vm->tmpl, base_caps, ARRAY_LEN(base_caps), caps,
				     ARRAY_LEN(caps));
	for (size_t i = 0; i < n; i++)
		if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, (unsigned long)caps[i]) <= 0)
			return err_set(err, -ENOTSUP,
				       "kvm_capabilities: KVM capability %u is not offered by "
				       "this host's KVM",
				       caps[i]);
	return 0;
}

static struct cpuid_entry *supported_entries(const struct backend_vm *vm)
{
	const struct kvm_cpuid2 *s = vm->supported_cpuid;
	struct cpuid_entry *e = calloc(s->nent + 1, sizeof(*e));
	for (size_t i = 0; e && i < s->nent; i++)
		e[i] = (struct cpuid_entry){ s->entries[i].function, s->entries[i].index,
					     s->entries[i].flags, s->entries[i].eax,
					     s->entries[i].ebx, s->entries[i].ecx,
					     s->entries[i].edx };
	return e;
}

int kvm_template_setup(struct backend_vm *vm, const struct backend_vm_opts *opts,
		       struct errbuf *err)
{
	struct cpuid_entry *e = supported_entries(vm);
	if (!e)
		return err_set(err, -ENOMEM, "out of memory");
	size_t n = vm->supported_cpuid->nent;
	char vendor[13] = "?";
	struct cpuid_entry *leaf0 = cpuid_entry_find(e, n, 0, 0);
	if (leaf0)
		cpu_vendor_of(leaf0->ebx, leaf0->ecx, leaf0->edx, vendor);
	int r = cpu_template_select(opts->cpu_template, opts->cpu_config, vendor, "this host",
				    &vm->tmpl, err);
	if (r == 0 && vm->tmpl == opts->cpu_config && vm->tmpl) {
		vm->owned = cpu_template_dup(opts->cpu_config);
		vm->tmpl = vm->owned;
		if (!vm->owned)
			r = err_set(err, -ENOMEM, "out of memory");
	}
	if (r == 0)
		r = check_caps(vm, err);
	if (r == 0)
		r = cpu_template_check_cpuid(vm->tmpl, e, n, "this host's KVM", err);
	for (size_t i = 0; r == 0 && vm->tmpl && i < vm->tmpl->n_msrs; i++) {
		uint32_t a = vm->tmpl->msrs[i].addr;
		int listed = kvm_msr_listed(vm->kvm_fd, a);
		if (listed < 0)
			r = err_set(err, listed, "KVM_GET_MSR_INDEX_LIST: %s", strerror(-listed));
		else if (!listed)
			r = err_set(err, -ENOTSUP,
				    "msr_modifiers[%zu]: MSR 0x%x is not one this host's KVM "
				    "lets a VMM set",
				    i, a);
	}
	free(e);
	if (r == 0 && vm->tmpl)
		log_info("kvm: CPU template %s: %zu CPUID and %zu MSR modifiers",
			 config_cpu_template_name(opts->cpu_template), vm->tmpl->n_cpuid,
			 vm->tmpl->n_msrs);
	return r;
}

/* As Firecracker: each MSR the template names is read from the vCPU
 * (after its CPUID is set, on which some depend), changed by its bitmap
 * and written back; the boot MSRs come after and win where both set one. */
int kvm_template_set_msrs(struct backend_vcpu *v, struct errbuf *err)
{
	const struct cpu_template *t = v->vm->tmpl;
	if (!t || !t->n_msrs)
		return 0;
	struct kvm_msrs *m = calloc(1, sizeof(*m) + t->n_msrs * sizeof(m->entries[0]));
	if (!m)
		return err_set(err, -ENOMEM, "kvm: vCPU %u: cpu template: out of memory", v->index);
	m->nmsrs = (uint32_t)t->n_msrs;
	for (size_t i = 0; i < t->n_msrs; i++)
		m->entries[i].index = t->msrs[i].addr;
	int r = 0;
	int got = ioctl(v->fd, KVM_GET_MSRS, m);
	if (got != (int)t->n_msrs) {
		r = got < 0 ? -errno : -ENOTSUP;
		err_set(err, r, "kvm: vCPU %u: cpu template: MSR 0x%x cannot be read (%s)", v->index,
			got >= 0 && got < (int)t->n_msrs ? t->msrs[got].addr : 0, strerror(-r));
		goto out;
	}
	for (size_t i = 0; i < t->n_msrs; i++)
		m->entries[i].data =
			cpu_bitmap_apply(t->msrs[i].mask, t->msrs[i].value, m->entries[i].data);
	int set = ioctl(v->fd, KVM_SET_MSRS, m);
	if (set != (int)t->n_msrs) {
		r = set < 0 ? -errno : -EINVAL;
		err_set(err, r, "kvm: vCPU %u: cpu template: MSR 0x%x refused the value 0x%llx", v->index,
			set >= 0 && set < (int)t->n_msrs ? t->msrs[set].addr : 0,
			set >= 0 && set < (int)t->n_msrs
				? (unsigned long long)m->entries[set].data
				: 0ULL);
	}
out:
	free(m);
	return r;
}
