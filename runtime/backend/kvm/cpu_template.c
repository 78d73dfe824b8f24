#include "runtime/backend/kvm/cpu_template.h"

#include <errno.h>
#include <string.h>

enum reg { EAX, EBX, ECX, EDX };

/* A bit mask cleared from one register of one leaf (subleaf ~0 = all). */
struct cpuid_mask {
	uint32_t function, index;
	enum reg reg;
	uint32_t clear;
};

/* Bits as named in the Intel SDM vol. 2A, CPUID tables 3-10 and 3-8. */
#define L1_ECX_DTES64 (1u << 2)
#define L1_ECX_MONITOR (1u << 3)
#define L1_ECX_DSCPL (1u << 4)
#define L1_ECX_VMX (1u << 5)
#define L1_ECX_SMX (1u << 6)
#define L1_ECX_EIST (1u << 7)
#define L1_ECX_TM2 (1u << 8)
#define L1_ECX_XTPR (1u << 14)
#define L1_ECX_PDCM (1u << 15)
#define L1_ECX_DCA (1u << 18)
#define L1_ECX_HYPERVISOR (1u << 31)
#define L1_EDX_HTT (1u << 28)
#define L7_EBX_AVX512_ALL 0xd0230000u /* F, DQ, IFMA, PF, ER, CD, BW, VL */
#define L7_EBX_SGX (1u << 2)
#define L7_EBX_HLE (1u << 4)
#define L7_EBX_RTM (1u << 11)
#define L7_EBX_MPX (1u << 14)
#define L7_EBX_PQM (1u << 12)
#define L7_EBX_PQE (1u << 15)
#define L7_ECX_AVX512_MORE 0x00005842u /* VBMI, VBMI2, VNNI, BITALG, VPOPCNTDQ */
#define L7_ECX_PKU_OSPKE 0x00000018u
#define L7_EDX_AVX512_4 0x0000000cu

/* Features a host may have that neither template offers: monitoring,
 * virtualization extensions, debug stores, transactional memory. */
#define COMMON_MASKS                                                                \
	{ 1, ~0u, ECX,                                                              \
	  L1_ECX_DTES64 | L1_ECX_MONITOR | L1_ECX_DSCPL | L1_ECX_VMX | L1_ECX_SMX | \
		  L1_ECX_EIST | L1_ECX_TM2 | L1_ECX_XTPR | L1_ECX_PDCM | L1_ECX_DCA }, \
	{ 7, 0, EBX, L7_EBX_SGX | L7_EBX_HLE | L7_EBX_RTM | L7_EBX_MPX | L7_EBX_PQM | L7_EBX_PQE }, \
	{ 7, 0, ECX, L7_ECX_PKU_OSPKE }

/* T2: the feature set of a Haswell-class host, no AVX-512. */
static const struct cpuid_mask t2_masks[] = {
	COMMON_MASKS,
	{ 7, 0, EBX, L7_EBX_AVX512_ALL },
	{ 7, 0, ECX, L7_ECX_AVX512_MORE },
	{ 7, 0, EDX, L7_EDX_AVX512_4 },
};

/* C3: Cascade Lake-class, AVX-512 foundation kept, newer extensions off. */
static const struct cpuid_mask c3_masks[] = {
	COMMON_MASKS,
	{ 7, 0, ECX, L7_ECX_AVX512_MORE },
	{ 7, 0, EDX, L7_EDX_AVX512_4 },
};

struct cpu_template {
	const char *name;
	const struct cpuid_mask *masks;
	size_t nr;
};

static const struct cpu_template templates[] = {
	{ "None", NULL, 0 },
	{ "T2", t2_masks, sizeof(t2_masks) / sizeof(t2_masks[0]) },
	{ "C3", c3_masks, sizeof(c3_masks) / sizeof(c3_masks[0]) },
};

static uint32_t *reg_of(struct cpuid_entry *e, enum reg r)
{
	switch (r) {
	case EAX: return &e->eax;
	case EBX: return &e->ebx;
	case ECX: return &e->ecx;
	default: return &e->edx;
	}
}

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

int cpu_template_apply(const char *name, struct cpuid_entry *e, size_t n, unsigned index,
		       unsigned nr_vcpus, struct errbuf *err)
{
	const struct cpu_template *t = NULL;
	if (!name)
		name = "None";
	for (size_t i = 0; i < sizeof(templates) / sizeof(templates[0]); i++)
		if (strcmp(templates[i].name, name) == 0)
			t = &templates[i];
	if (!t)
		return err_set(err, -EINVAL, "cpu_template \"%s\" is not supported (None, T2, C3)", name);
	if (nr_vcpus == 0 || index >= nr_vcpus)
		return err_set(err, -EINVAL, "vCPU index %u of %u", index, nr_vcpus);

	for (size_t i = 0; i < n; i++) {
		normalize(&e[i], index, nr_vcpus);
		for (size_t m = 0; m < t->nr; m++) {
			const struct cpuid_mask *k = &t->masks[m];
			if (k->function == e[i].function && (k->index == ~0u || k->index == e[i].index))
				*reg_of(&e[i], k->reg) &= ~k->clear;
		}
	}
	return 0;
}
