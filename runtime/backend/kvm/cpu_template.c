#include "runtime/backend/kvm/cpu_template.h"

#include <errno.h>

/* Bits as named in the Intel SDM vol. 2A, CPUID table 3-10. */
#define L1_ECX_HYPERVISOR (1u << 31)
#define L1_EDX_HTT (1u << 28)

static unsigned bits_for(unsigned count)
{
	unsigned b = 0;
	while ((1u << b) < count)
		b++;
	return b;
}

/* Topology: one socket, nr_vcpus cores, no SMT siblings. */
static void normalize(struct cpuid_entry *e, unsigned index, unsigned nr_vcpus)
{
	switch (e->function) {
	case 1:
		e->ebx = (e->ebx & 0x0000ffffu) | (index << 24) | ((nr_vcpus & 0xff) << 16);
		e->ebx = (e->ebx & ~0xff00u) | (8u << 8); /* CLFLUSH line: 8 * 8 bytes */
		e->ecx |= L1_ECX_HYPERVISOR;
		if (nr_vcpus > 1)
			e->edx |= L1_EDX_HTT;
		else
			e->edx &= ~L1_EDX_HTT;
		break;
	case 4:
		/* EAX[31:26]: cores per package - 1. */
		e->eax = (e->eax & 0x03ffffffu) | (((nr_vcpus - 1) & 0x3f) << 26);
		break;
	case 0xa:
		/* No virtual PMU: counters would leak host activity. */
		e->eax = e->ebx = e->ecx = e->edx = 0;
		break;
	case 0xb:
		e->edx = index;
		if (e->index == 0) {
			e->eax = 0; /* no SMT bits in the x2APIC id */
			e->ebx = 1;
			e->ecx = (1u << 8) | 0;
		} else if (e->index == 1) {
			e->eax = bits_for(nr_vcpus);
			e->ebx = nr_vcpus;
			e->ecx = (2u << 8) | 1;
		} else {
			e->eax = e->ebx = 0;
			e->ecx = e->index;
		}
		break;
	default:
		break;
	}
}

int kvm_cpuid_shape(const struct cpu_template *t, struct cpuid_entry *e, size_t n,
		    unsigned index, unsigned nr_vcpus, struct errbuf *err)
{
	if (nr_vcpus == 0 || index >= nr_vcpus)
		return err_set(err, -EINVAL, "vCPU index %u of %u", index, nr_vcpus);
	for (size_t i = 0; i < n; i++)
		normalize(&e[i], index, nr_vcpus);
	cpu_template_apply_cpuid(t, e, n);
	return 0;
}
