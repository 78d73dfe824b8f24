/* The fixed CPUID table of the TCG backend; see cpuid.h for why each
 * feature is in or out. */
#include "runtime/backend/tcg/cpuid.h"

#include <string.h>

#define MAX_BASIC 0xbu
#define MAX_EXT 0x80000008u
#define MAX_HV 0x40000000u

/* Family 6, model 6, stepping 3: QEMU's qemu64. */
#define SIGNATURE_EAX 0x00000663u

/* CPUID.1:EDX: FPU DE PSE TSC MSR PAE CX8 APIC SEP PGE CMOV PAT PSE36
 * CLFSH MMX FXSR SSE SSE2. SEP: SYSENTER/SYSEXIT, with the semantics of
 * the vendor shown (fastcall.c). */
#define LEAF1_EDX ((1u << 0) | (1u << 2) | (1u << 3) | (1u << 4) | (1u << 5) | (1u << 6) | \
		   (1u << 8) | TCG_CPUID_1_EDX_APIC | TCG_CPUID_1_EDX_SEP | (1u << 13) | (1u << 15) | (1u << 16) | (1u << 17) |         \
		   (1u << 19) | (1u << 23) | (1u << 24) | (1u << 25) | (1u << 26))
/* CPUID.1:ECX: SSE3 SSSE3 CX16 SSE4.1 SSE4.2 x2APIC TSC-deadline
 * HYPERVISOR. SSE3 is not in unicorn's feature words, but TCG does not
 * gate its instructions; x2APIC and the TSC-deadline timer are the
 * backend's (lapic.c, through the RDMSR/WRMSR helpers, qemu/qemu.h). */
#define LEAF1_ECX ((1u << 0) | (1u << 9) | (1u << 13) | (1u << 19) | (1u << 20) | \
		   TCG_CPUID_1_ECX_X2APIC | TCG_CPUID_1_ECX_TSC_DEADLINE | TCG_CPUID_1_ECX_HYPERVISOR)
/* CPUID.80000001h: EDX SYSCALL NX LM; ECX LAHF/SAHF in 64-bit mode. */
#define EXT1_EDX (TCG_CPUID_EXT_EDX_SYSCALL | TCG_CPUID_EXT_EDX_NX | TCG_CPUID_EXT_EDX_LM)
#define EXT1_ECX (1u << 0)
/* CPUID.80000007h:EDX bit 8: invariant TSC. */
#define EXT7_EDX (1u << 8)

static uint32_t str4(const char *s)
{
	uint32_t v;
	memcpy(&v, s, 4);
	return v;
}

void tcg_cpuid(uint32_t leaf, uint32_t subleaf, struct tcg_cpuid_regs *out)
{
	static const char brand[48] = "Ember TCG vCPU";
	const char *vendor = "AuthenticAMD";
	struct tcg_cpuid_regs r = { 0 };

	switch (leaf) {
	case 0:
		/* EBX, EDX, ECX spell the vendor. */
		r = (struct tcg_cpuid_regs){ MAX_BASIC, str4(vendor), str4(vendor + 8), str4(vendor + 4) };
		break;
	case 1:
		/* EBX: CLFLUSH line 8 x 8 bytes, one logical CPU, APIC ID 0
		 * (the vCPU's own is put in by the CPUID hook). */
		r = (struct tcg_cpuid_regs){ SIGNATURE_EAX, 8u << 8, LEAF1_ECX, LEAF1_EDX };
		break;
	case 0xb:
		/* One vCPU's view; tcg_cpuid_topology puts in the VM's. */
		tcg_cpuid_topology(leaf, subleaf, 0, 1, &r);
		break;
	case MAX_HV: {
		const char *sig = TCG_CPUID_SIGNATURE;
		r = (struct tcg_cpuid_regs){ MAX_HV, str4(sig), str4(sig + 4), str4(sig + 8) };
		break;
	}
	case 0x80000000:
		r = (struct tcg_cpuid_regs){ MAX_EXT, str4(vendor), str4(vendor + 8), str4(vendor + 4) };
		break;
	case 0x80000001:
		r = (struct tcg_cpuid_regs){ SIGNATURE_EAX, 0, EXT1_ECX, EXT1_EDX };
		break;
	case 0x80000002:
	case 0x80000003:
	case 0x80000004: {
		const char *b = brand + (leaf - 0x80000002) * 16;
		r = (struct tcg_cpuid_regs){ str4(b), str4(b + 4), str4(b + 8), str4(b + 12) };
		break;
	}
	case 0x80000005:
		/* L1 data and instruction caches: 64 KiB, 2-way, 64-byte lines
		 * (QEMU's legacy AMD values). */
		r = (struct tcg_cpuid_regs){ 0x01ff01ff, 0x01ff01ff, 0x40020140, 0x40020140 };
		break;
	case 0x80000006:
		/* L2: 512 KiB, 16-way, 64-byte lines. */
		r = (struct tcg_cpuid_regs){ 0, 0x42004200, 0x02008140, 0 };
		break;
	case 0x80000007:
		r.edx = EXT7_EDX;
		break;
	case 0x80000008:
		r.eax = 0x3028; /* 40 physical, 48 linear address bits */
		break;
	default:
		break; /* leaf 2..0xa and unknown leaves: zeros (leaf 7 subleaf 0 too) */
	}
	*out = r;
}

static unsigned bits_for(unsigned count)
{
	unsigned b = 0;
	while ((1u << b) < count)
		b++;
	return b;
}

void tcg_cpuid_topology(uint32_t leaf, uint32_t subleaf, unsigned index, unsigned nr_vcpus,
			struct tcg_cpuid_regs *r)
{
	bool multi = nr_vcpus > 1;
	switch (leaf) {
	case 1:
		r->ebx = (r->ebx & 0xffffu) | (index << 24) | ((nr_vcpus & 0xff) << 16);
		r->edx = multi ? r->edx | TCG_CPUID_1_EDX_HTT : r->edx & ~TCG_CPUID_1_EDX_HTT;
		break;
	case 0xb:
		/* Level 0 SMT (no siblings: shift 0), level 1 core (the
		 * package's cores), then the invalid level; EDX the x2APIC ID. */
		r->edx = index;
		if (subleaf == 0) {
			r->eax = 0;
			r->ebx = 1;
			r->ecx = 1u << 8;
		} else if (subleaf == 1) {
			r->eax = bits_for(nr_vcpus);
			r->ebx = nr_vcpus;
			r->ecx = 2u << 8 | 1;
		} else {
			r->eax = r->ebx = 0;
			r->ecx = subleaf & 0xff;
		}
		break;
	case 0x80000001:
		/* CmpLegacy: the HTT count is of cores (AMD APM 3, E.4.2). */
		r->ecx = multi ? r->ecx | TCG_CPUID_EXT_ECX_CMP_LEGACY
			       : r->ecx & ~TCG_CPUID_EXT_ECX_CMP_LEGACY;
		break;
	case 0x80000008:
		/* NC (cores - 1) and ApicIdCoreIdSize (APIC id bits for them). */
		r->ecx = (r->ecx & ~0xf0ffu) | ((nr_vcpus - 1) & 0xff) | bits_for(nr_vcpus) << 12;
		break;
	default:
		break;
	}
}

bool tcg_cpuid_has_nx(void)
{
	return EXT1_EDX & TCG_CPUID_EXT_EDX_NX;
}
