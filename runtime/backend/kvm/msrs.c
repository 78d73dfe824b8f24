/* Which MSRs a vCPU snapshot carries. The model is Firecracker's: what KVM
 * lists as state worth saving (KVM_GET_MSR_INDEX_LIST), plus the MTRRs it
 * leaves out although the boot path sets them, less what Ember never
 * offers the guest; and of those only what KVM_GET_MSRS reads on this
 * vCPU, since some depend on its CPUID (the PMU counters Ember hides, VMX
 * capabilities under a template without VMX). */
#include "runtime/backend/kvm/kvm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "runtime/base/log.h"

#define MSR_IA32_TSC 0x10
/* IA32_MTRR_PHYSBASE0/PHYSMASK0 .. PHYSBASE7/PHYSMASK7 (KVM offers 8 pairs). */
#define MSR_MTRR_PHYS_FIRST 0x200
#define MSR_MTRR_PHYS_COUNT 16
#define MSR_MTRR_DEF_TYPE 0x2ff
/* Hyper-V's synthetic MSRs: Ember's CPUID offers no Hyper-V interface, so
 * they hold nothing, and older kernels fail KVM_GET_MSRS on some. */
#define MSR_HYPERV_FIRST 0x40000000u
#define MSR_HYPERV_END 0x40000200u
/* KVM lists a few dozen; a list far longer is not one we understand. */
#define KVM_MSR_LIST_MAX 1024

static const uint32_t mtrr_fixed[] = { 0x250, 0x258, 0x259, 0x268, 0x269, 0x26a,
				       0x26b, 0x26c, 0x26d, 0x26e, 0x26f };

static bool listed(const uint32_t *c, unsigned n, uint32_t index)
{
	for (unsigned i = 0; i < n; i++)
		if (c[i] == index)
			return true;
	return false;
}

static void add(uint32_t *c, unsigned *n, uint32_t index)
{
	if (index >= MSR_HYPERV_FIRST && index < MSR_HYPERV_END)
		return;
	if (!listed(c, *n, index))
		c[(*n)++] = index;
}

/* The candidates in order of importance, so that a cap drops the least:
 * the TSC first (without it the guest's clock jumps), then KVM's list in
 * its own order (architectural state before emulated extras), then the
 * MTRRs. */
static int candidates(const struct backend_vm *vm, uint32_t **out, unsigned *n_out)
{
	int kvm_fd = vm->kvm_fd;
	const struct cpu_template *t = vm->tmpl;
	size_t nt = t ? t->n_msrs : 0;
	struct kvm_msr_list probe = { .nmsrs = 0 };
	unsigned nk = 0;
	if (ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0) {
		if (errno != E2BIG)
			return -errno;
		nk = probe.nmsrs;
	}
	if (nk > KVM_MSR_LIST_MAX) {
		log_err("kvm: KVM_GET_MSR_INDEX_LIST reports %u MSRs, more than %d", nk,
			KVM_MSR_LIST_MAX);
		return -E2BIG;
	}
	struct kvm_msr_list *l = calloc(1, sizeof(*l) + nk * sizeof(l->indices[0]));
	size_t cap = 1 + nt + nk + MSR_MTRR_PHYS_COUNT + 1 + sizeof(mtrr_fixed) / sizeof(mtrr_fixed[0]);
	uint32_t *c = calloc(cap, sizeof(*c));
	if (!l || !c) {
		free(l);
		free(c);
		return -ENOMEM;
	}
	l->nmsrs = nk;
	if (nk && ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, l) < 0) {
		int r = -errno;
		free(l);
		free(c);
		return r;
	}
	unsigned n = 0;
	add(c, &n, MSR_IA32_TSC);
	/* What the CPU template set, as Firecracker saves it too. */
	for (size_t i = 0; i < nt; i++)
		add(c, &n, t->msrs[i].addr);
	for (unsigned i = 0; i < l->nmsrs && i < nk; i++)
		add(c, &n, l->indices[i]);
	add(c, &n, MSR_MTRR_DEF_TYPE);
	for (size_t i = 0; i < sizeof(mtrr_fixed) / sizeof(mtrr_fixed[0]); i++)
		add(c, &n, mtrr_fixed[i]);
	for (uint32_t i = 0; i < MSR_MTRR_PHYS_COUNT; i++)
		add(c, &n, MSR_MTRR_PHYS_FIRST + i);
	free(l);
	*out = c;
	*n_out = n;
	return 0;
}

int kvm_msr_list_init(struct backend_vcpu *v)
{
	if (v->msr_list_known)
		return 0;
	uint32_t *c = NULL;
	unsigned n = 0;
	int r = candidates(v->vm, &c, &n);
	if (r < 0) {
		log_err("kvm: vCPU %u: the MSR list: %s", v->index, strerror(-r));
		return r;
	}
	struct kvm_msrs *m = calloc(1, sizeof(*m) + X86_MAX_MSRS * sizeof(m->entries[0]));
	if (!m) {
		free(c);
		return -ENOMEM;
	}
	/* KVM_GET_MSRS reads in order and stops at the first MSR it cannot
	 * read: keep what it read, skip that one, go on after it. */
	unsigned next = 0, kept = 0, over = 0;
	while (next < n) {
		unsigned want = n - next < X86_MAX_MSRS ? n - next : X86_MAX_MSRS;
		memset(m, 0, sizeof(*m) + want * sizeof(m->entries[0]));
		m->nmsrs = want;
		for (unsigned i = 0; i < want; i++)
			m->entries[i].index = c[next + i];
		int got = ioctl(v->fd, KVM_GET_MSRS, m);
		if (got < 0 || (unsigned)got > want) {
			r = got < 0 ? -errno : -EIO;
			log_err("kvm: vCPU %u: KVM_GET_MSRS: %s", v->index, strerror(-r));
			goto out;
		}
		for (unsigned i = 0; i < (unsigned)got; i++) {
			if (kept < X86_MAX_MSRS)
				v->msr_list[kept++] = c[next + i];
			else
				over++;
		}
		next += (unsigned)got;
		if ((unsigned)got < want) {
			log_debug("kvm: vCPU %u: MSR 0x%x not readable, not saved", v->index, c[next]);
			next++;
		}
	}
	if (over)
		log_warn("kvm: vCPU %u: %u MSRs beyond the %d a snapshot holds are not saved",
			 v->index, over, X86_MAX_MSRS);
	v->nr_msr_list = kept;
	v->msr_list_known = true;
	r = 0;
out:
	free(m);
	free(c);
	return r;
}

int kvm_msr_listed(int kvm_fd, uint32_t index)
{
	struct kvm_msr_list probe = { .nmsrs = 0 };
	if (ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe) == 0)
		return 0; /* KVM lists none */
	if (errno != E2BIG)
		return -errno;
	if (probe.nmsrs > KVM_MSR_LIST_MAX)
		return -E2BIG;
	struct kvm_msr_list *l = calloc(1, sizeof(*l) + probe.nmsrs * sizeof(l->indices[0]));
	if (!l)
		return -ENOMEM;
	l->nmsrs = probe.nmsrs;
	int r = ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, l) < 0 ? -errno : 0;
	for (unsigned i = 0; r == 0 && i < l->nmsrs && i < probe.nmsrs; i++)
		if (l->indices[i] == index)
			r = 1;
	free(l);
	return r;
}
