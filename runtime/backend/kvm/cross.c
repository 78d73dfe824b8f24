/* A KVM vCPU as the target or source of a cross-backend snapshot: the
 * CPUID it presents, whether it can present a saved one, and fitting a
 * state another backend saved (docs/snapshots.md, "Across backends"). */
#include "runtime/backend/kvm/kvm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "runtime/backend/cpuid_compat.h"
#include "runtime/backend/x86_carry.h"
#include "runtime/base/log.h"

#define TARGET "this host's KVM (kvm)"
#define L1_ECX_TSC_DEADLINE (1u << 24)
#define L1_ECX_HYPERVISOR (1u << 31)

/* The table Ember gave KVM_SET_CPUID2, not KVM_GET_CPUID2's answer:
 * under nested virtualization the level below KVM may answer some leaves
 * itself (this project's test machine does), and KVM_GET_CPUID2 then
 * reports bits no KVM can be asked for; what Ember set is what it can set
 * again, and what a guest sees on any host where KVM answers CPUID. */
int kvm_vcpu_get_cpuid(struct backend_vcpu *v, struct cpuid_entry *e, size_t max)
{
	if (v->n_cpuid > max)
		return -ENOSPC;
	memcpy(e, v->cpuid, v->n_cpuid * sizeof(*e));
	return (int)v->n_cpuid;
}

/* What this KVM can present: its supported table plus the bits Ember's
 * KVM backend adds itself (cpu_template.c's normalization, vm.c), and
 * what this vCPU was created with (a same-backend restore builds the VM
 * with the snapshot's CPU template, which may set bits of its own). */
static struct cpuid_entry *supported(const struct backend_vcpu *v, size_t *n_out)
{
	const struct kvm_cpuid2 *s = v->vm->supported_cpuid;
	struct cpuid_entry *e = calloc(s->nent + 1, sizeof(*e));
	if (!e)
		return NULL;
	bool deadline = ioctl(v->vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0;
	for (uint32_t i = 0; i < s->nent; i++) {
		const struct kvm_cpuid_entry2 *k = &s->entries[i];
		e[i] = (struct cpuid_entry){ k->function, k->index, k->flags, k->eax,
					     k->ebx, k->ecx, k->edx };
		if (k->function == 1)
			e[i].ecx |= L1_ECX_HYPERVISOR | (deadline ? L1_ECX_TSC_DEADLINE : 0);
		uint32_t made[4];
		cpuid_lookup(v->cpuid, v->n_cpuid, k->function, k->index, made);
		e[i].eax |= made[0], e[i].ebx |= made[1], e[i].ecx |= made[2], e[i].edx |= made[3];
	}
	*n_out = s->nent;
	return e;
}

int kvm_vcpu_set_cpuid(struct backend_vcpu *v, const struct cpuid_entry *e, size_t n,
		       const char *from, struct errbuf *err)
{
	size_t n_sup;
	struct cpuid_entry *sup = supported(v, &n_sup);
	if (!sup)
		return err_set(err, -ENOMEM, "out of memory");
	char host_vendor[13];
	cpuid_vendor(sup, n_sup, host_vendor);
	int r = cpuid_vendor_check(e, n, host_vendor, from, TARGET, err);
	if (r == 0)
		r = cpuid_compat_check(e, n, sup, n_sup, from, TARGET, err);
	free(sup);
	if (r < 0)
		return r;
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + (n ? n : 1) * sizeof(c->entries[0]));
	if (!c)
		return err_set(err, -ENOMEM, "out of memory");
	c->nent = (uint32_t)n;
	for (size_t i = 0; i < n; i++)
		c->entries[i] = (struct kvm_cpuid_entry2){ .function = e[i].function,
							   .index = e[i].index,
							   .flags = e[i].flags,
							   .eax = e[i].eax,
							   .ebx = e[i].ebx,
							   .ecx = e[i].ecx,
							   .edx = e[i].edx };
	r = ioctl(v->fd, KVM_SET_CPUID2, c) < 0 ? -errno : 0;
	free(c);
	if (r < 0)
		return err_set(err, r, "KVM_SET_CPUID2 refused the snapshot's CPUID: %s",
			       strerror(-r));
	struct cpuid_entry *copy = malloc((n ? n : 1) * sizeof(*copy));
	if (!copy)
		return err_set(err, -ENOMEM, "out of memory");
	memcpy(copy, e, n * sizeof(*copy));
	free(v->cpuid);
	v->cpuid = copy;
	v->n_cpuid = n;
	/* The MSRs KVM answers depend on the CPUID: list them again. */
	v->msr_list_known = false;
	v->nr_msr_list = 0;
	return 0;
}

static bool models_msr(void *ctx, uint32_t index)
{
	const struct backend_vcpu *v = ctx;
	for (unsigned i = 0; i < v->nr_msr_list; i++)
		if (v->msr_list[i] == index)
			return true;
	return false;
}

int kvm_vcpu_import(struct backend_vcpu *v, struct x86_cpu_state *st, const char *from,
		    struct errbuf *err)
{
	int r = kvm_msr_list_init(v);
	if (r < 0)
		return err_set(err, r, "the MSR list: %s", strerror(-r));
	struct x86_target t = {
		.desc = TARGET,
		.has_xsave = ioctl(v->vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE) > 0,
		.all_events = true,
		.mp_states = (1u << (X86_MP_SIPI_RECEIVED + 1)) - 1,
		.models_msr = models_msr,
		.ctx = v,
	};
	return x86_state_carry(st, from, &t, err);
}
