/* The fixed CPUID table of the TCG backend; see cpuid.h for why each
 * feature is in or out. */
#include "runtime/backend/tcg/cpuid.h"

#include <string.h>

#define MAX_BASIC 0x7u
#define MAX_EXT 0x80000008u
#define MAX_HV 0x40000000u

/* Family 6, model 6, stepping 3: QEMU's qemu64. */
#define SIGNATURE_EAX 0x00000663u

/* CPUID.1:EDX: FPU DE PSE TSC MSR PAE CX8 APIC PGE CMOV PAT PSE36 CLFSH
 * MMX FXSR SSE SSE2. */
#define LEAF1_EDX ((1u << 0) | (1u << 2) | (1u << 3) | (1u << 4) | (1u << 5) | (1u << 6) | \
		   (1u << 8) | TCG_CPUID_1_EDX_APIC | (1u << 13) | (1u << 15) | (1u << 16) | (1u << 17) |         \
		   (1u << 19) | (1u << 23) | (1u << 24) | (1u << 25) | (1u << 26))
/* CPUID.1:ECX: SSE3 SSSE3 CX16 SSE4.1 SSE4.2 HYPERVISOR. SSE3 is not in
 * unicorn's feature words, but TCG does not gate its instructions. */
#define LEAF1_ECX ((1u << 0) | (1u << 9) | (1u << 13) | (1u << 19) | (1u << 20) | \
		   TCG_CPUID_1_ECX_HYPERVISOR)
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

	(void)subleaf; /* leaf 7 subleaf 0 is all we have, and it is empty */
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
		break; /* leaf 2..7 and unknown leaves: zeros */
	}
	*out = r;
}

bool tcg_cpuid_has_nx(void)
{
	return EXT1_EDX & TCG_CPUID_EXT_EDX_NX;
}
