/* runtime/backend/tcg/cpuid.c: the CPU the TCG backend claims to be. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/backend/tcg/cpuid.h"
#include "runtime/backend/tcg/tcg.h"
#include "runtime/backend/tcg/tsc.h"

Test(tcg_cpuid, vendor_signature_and_features)
{
	struct tcg_cpuid_regs r;
	char v[13] = { 0 };
	tcg_cpuid(0, 0, &r);
	memcpy(v, &r.ebx, 4);
	memcpy(v + 4, &r.edx, 4);
	memcpy(v + 8, &r.ecx, 4);
	cr_assert_str_eq(v, "AuthenticAMD");
	tcg_cpuid(1, 0, &r);
	cr_assert(r.edx & TCG_CPUID_1_EDX_APIC, "a local APIC");
	cr_assert_eq(r.ebx >> 24, 0, "APIC id 0 (the hook puts in the vCPU's)");
	cr_assert(r.ecx & TCG_CPUID_1_ECX_HYPERVISOR);
	cr_assert_eq(r.ecx & (TCG_CPUID_1_ECX_XSAVE | (1u << 23) /* POPCNT */), 0);
	cr_assert(r.ecx & TCG_CPUID_1_ECX_X2APIC, "x2APIC (lapic.c)");
	cr_assert(r.ecx & TCG_CPUID_1_ECX_TSC_DEADLINE, "TSC-deadline timer (lapic.c)");
	cr_assert(r.edx & (1u << 25) && r.edx & (1u << 26), "SSE, SSE2 (x86-64 baseline)");
	tcg_cpuid(0x80000001, 0, &r);
	cr_assert_eq(r.edx & (TCG_CPUID_EXT_EDX_NX | TCG_CPUID_EXT_EDX_SYSCALL | TCG_CPUID_EXT_EDX_LM),
		     TCG_CPUID_EXT_EDX_NX | TCG_CPUID_EXT_EDX_SYSCALL | TCG_CPUID_EXT_EDX_LM);
	cr_assert(tcg_cpuid_has_nx());
	tcg_cpuid(0x40000000, 0, &r);
	char sig[13] = { 0 };
	memcpy(sig, &r.ebx, 4);
	memcpy(sig + 4, &r.ecx, 4);
	memcpy(sig + 8, &r.edx, 4);
	cr_assert_str_eq(sig, "EmberEmber", "not KVM's: no kvmclock");
	tcg_cpuid(7, 0, &r);
	cr_assert_eq(r.ebx, 0, "no FSGSBASE, SMEP, SMAP, AVX2...");
	tcg_cpuid(0x12345678, 0, &r);
	cr_assert_eq(r.eax | r.ebx | r.ecx | r.edx, 0);
}

Test(tcg_cpuid, host_tsc_rate_is_measurable)
{
	unsigned long a = tcg_tsc_khz();
	cr_assert_gt(a, 100000, "a TSC slower than 100 MHz: %lu kHz", a);
	cr_assert_eq(tcg_tsc_khz(), a, "measured once per process");
}

/* What a restore checks: the rate a snapshot's guest was told. */
Test(tcg_cpuid, tsc_rate_match_within_tolerance)
{
	unsigned long a = tcg_tsc_khz();
	cr_assert(tcg_tsc_rate_matches(a));
	cr_assert(tcg_tsc_rate_matches(a + a / 2000), "0.05 %% off: the same host");
	cr_assert_not(tcg_tsc_rate_matches(a + a / 50), "2 %% off: another host");
	cr_assert_not(tcg_tsc_rate_matches(a - a / 50));
	cr_assert_not(tcg_tsc_rate_matches(0));
}

/* Four vCPUs as four cores of one package: what Linux needs to share one
 * delay-loop calibration between them. */
Test(tcg_cpuid, topology_one_package)
{
	struct tcg_cpuid_regs r;
	tcg_cpuid(0, 0, &r);
	cr_assert_geq(r.eax, 0xb, "leaf 0xb reachable");
	tcg_cpuid(1, 0, &r);
	tcg_cpuid_topology(1, 0, 3, 4, &r);
	cr_assert_eq(r.ebx >> 24, 3, "initial APIC id");
	cr_assert_eq((r.ebx >> 16) & 0xff, 4, "logical processors per package");
	cr_assert(r.edx & TCG_CPUID_1_EDX_HTT);
	tcg_cpuid(0x80000001, 0, &r);
	tcg_cpuid_topology(0x80000001, 0, 3, 4, &r);
	cr_assert(r.ecx & TCG_CPUID_EXT_ECX_CMP_LEGACY, "the count is of cores");
	tcg_cpuid(0x80000008, 0, &r);
	tcg_cpuid_topology(0x80000008, 0, 3, 4, &r);
	cr_assert_eq(r.ecx & 0xff, 3, "NC: cores - 1");
	cr_assert_eq((r.ecx >> 12) & 0xf, 2, "two APIC id bits for the core");
	cr_assert_eq(r.eax, 0x3028, "address sizes untouched");
	tcg_cpuid(0xb, 0, &r);
	tcg_cpuid_topology(0xb, 0, 3, 4, &r);
	cr_assert(r.eax == 0 && r.ebx == 1 && r.ecx == 0x100 && r.edx == 3, "SMT level");
	tcg_cpuid_topology(0xb, 1, 3, 4, &r);
	cr_assert(r.eax == 2 && r.ebx == 4 && r.ecx == 0x201 && r.edx == 3, "core level");
	tcg_cpuid_topology(0xb, 2, 3, 4, &r);
	cr_assert(r.eax == 0 && r.ebx == 0 && r.ecx == 2, "no more levels");
	/* One vCPU: no HTT, no CmpLegacy. */
	tcg_cpuid(1, 0, &r);
	tcg_cpuid_topology(1, 0, 0, 1, &r);
	cr_assert_not(r.edx & TCG_CPUID_1_EDX_HTT);
	cr_assert_eq((r.ebx >> 16) & 0xff, 1);
	tcg_cpuid(0x80000001, 0, &r);
	tcg_cpuid_topology(0x80000001, 0, 0, 1, &r);
	cr_assert_not(r.ecx & TCG_CPUID_EXT_ECX_CMP_LEGACY);
}

/* The VM's table decides the vendor (runtime/backend/tcg/fastcall.c,
 * template.c): under GenuineIntel the AMD topology bits stay out. */
static void show_vendor(struct backend_vm *vm, const char *v)
{
	for (size_t i = 0; i < vm->n_cpuid; i++) {
		if (vm->cpuid[i].function != 0)
			continue;
		memcpy(&vm->cpuid[i].ebx, v, 4);
		memcpy(&vm->cpuid[i].edx, v + 4, 4);
		memcpy(&vm->cpuid[i].ecx, v + 8, 4);
	}
}

Test(tcg_cpuid, vendor_shown_decides_semantics_and_topology)
{
	struct backend_vm vm;
	memset(&vm, 0, sizeof(vm));
	vm.nr_lapics = 4;
	cr_assert_not(tcg_vm_intel(&vm), "the fixed table says AuthenticAMD");
	cr_assert_eq(tcg_cpuid_table(&vm.cpuid, &vm.n_cpuid), 0);
	struct tcg_cpuid_regs r;
	tcg_vcpu_cpuid(&vm, 3, 0x80000001, 0, &r);
	cr_assert(r.ecx & TCG_CPUID_EXT_ECX_CMP_LEGACY);
	tcg_vcpu_cpuid(&vm, 3, 0x80000008, 0, &r);
	cr_assert_eq(r.ecx & 0xff, 3);
	tcg_vcpu_cpuid(&vm, 3, 1, 0, &r);
	cr_assert(r.edx & TCG_CPUID_1_EDX_SEP, "SYSENTER offered");

	show_vendor(&vm, "GenuineIntel");
	cr_assert(tcg_vm_intel(&vm));
	tcg_vcpu_cpuid(&vm, 3, 0x80000001, 0, &r);
	cr_assert_not(r.ecx & TCG_CPUID_EXT_ECX_CMP_LEGACY, "reserved on Intel");
	tcg_vcpu_cpuid(&vm, 3, 0x80000008, 0, &r);
	cr_assert_eq(r.ecx, 0, "reserved on Intel");
	tcg_vcpu_cpuid(&vm, 3, 1, 0, &r);
	cr_assert_eq(r.ebx >> 24, 3, "the leaves both vendors share keep the topology");
	cr_assert(r.edx & TCG_CPUID_1_EDX_HTT);

	show_vendor(&vm, "GenuineIntex");
	cr_assert_not(tcg_vm_intel(&vm), "only GenuineIntel is Intel");
	free(vm.cpuid);
}
