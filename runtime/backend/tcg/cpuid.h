/* The CPU the TCG backend presents (CPUID, Intel SDM Vol. 2A "CPUID";
 * AMD APM Vol. 3 appendix E). Modelled on QEMU's default "qemu64" (an
 * AuthenticAMD family 6 model 6 part, which Linux boots on under TCG),
 * trimmed to what unicorn 2.0's TCG really executes:
 *  - a local APIC with x2APIC mode and the TSC-deadline timer (the
 *    backend's lapic.c); no XSAVE/AVX, no POPCNT/MOVBE (TCG raises #UD for
 *    them: they are absent from unicorn's feature words), no SMAP/SMEP,
 *    no FSGSBASE, no PCID, no MTRR/MCE (TCG's MSRs report none);
 *  - NX and SYSCALL offered: TCG masks them out of EFER, the backend puts
 *    them back (see env.h); SEP (SYSENTER/SYSEXIT) offered, with the
 *    semantics of the vendor the VM's table names (fastcall.c);
 *  - the hypervisor bit, and leaf 0x40000000 "EmberEmber\0\0" — not KVM's
 *    signature, so Linux does not look for kvmclock;
 *  - an invariant TSC: RDTSC reads the host TSC;
 *  - the vCPUs as cores of one package, no SMT (tcg_cpuid_topology):
 *    Linux then calibrates one CPU's delay loop and gives it to its
 *    siblings (calibrate_delay_is_known), which needs the invariant TSC
 *    too. */
#ifndef EMBER_TCG_CPUID_H
#define EMBER_TCG_CPUID_H

#include <stdbool.h>
#include <stdint.h>

struct tcg_cpuid_regs {
	uint32_t eax, ebx, ecx, edx;
};

#define TCG_CPUID_SIGNATURE "EmberEmber\0\0"

/* CPUID.1:EDX/ECX and 80000001h:EDX bits the policy and backend test. */
#define TCG_CPUID_1_EDX_APIC (1u << 9)
#define TCG_CPUID_1_EDX_SEP (1u << 11)
#define TCG_CPUID_1_ECX_HYPERVISOR (1u << 31)
#define TCG_CPUID_1_ECX_X2APIC (1u << 21)
#define TCG_CPUID_1_ECX_XSAVE (1u << 26)
#define TCG_CPUID_1_ECX_TSC_DEADLINE (1u << 24)
#define TCG_CPUID_1_EDX_HTT (1u << 28)
#define TCG_CPUID_EXT_ECX_CMP_LEGACY (1u << 1)
#define TCG_CPUID_EXT_EDX_NX (1u << 20)
#define TCG_CPUID_EXT_EDX_SYSCALL (1u << 11)
#define TCG_CPUID_EXT_EDX_LM (1u << 29)

/* Fills out for leaf/subleaf; leaves past the maxima read as zeros, as
 * on AMD parts. */
void tcg_cpuid(uint32_t leaf, uint32_t subleaf, struct tcg_cpuid_regs *out);
/* Shapes r (leaf/subleaf as the table answers it) for vCPU index of
 * nr_vcpus, one package of nr_vcpus cores: leaf 1 (initial APIC id,
 * logical count, HTT), 0xb (x2APIC topology, the whole leaf), 80000001h
 * (CmpLegacy) and 80000008h (NC, ApicIdCoreIdSize). Other leaves pass. */
void tcg_cpuid_topology(uint32_t leaf, uint32_t subleaf, unsigned index, unsigned nr_vcpus,
			struct tcg_cpuid_regs *r);
/* Whether the policy offers NX (the page walk then honours XD bits). */
bool tcg_cpuid_has_nx(void);

#endif
