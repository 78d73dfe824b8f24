#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "runtime/backend/kvm/cpu_template.h"

static struct cpuid_entry sample[] = {
	{ .function = 1, .index = 0, .ebx = 0x12345678, .ecx = 0x7ffaf3ff, .edx = 0xbfebfbff },
	{ .function = 7, .index = 0, .ebx = 0xd19f4fbb, .ecx = 0x0040591e, .edx = 0xac000c00 },
	{ .function = 0xa, .index = 0, .eax = 0x07300403, .ebx = 1, .ecx = 2, .edx = 0x603 },
	{ .function = 0xb, .index = 0, .eax = 1, .ebx = 2, .ecx = 0x100, .edx = 7 },
	{ .function = 0xb, .index = 1, .eax = 4, .ebx = 8, .ecx = 0x201, .edx = 7 },
};

static struct cpuid_entry e[5];

static void reset(void)
{
	memcpy(e, sample, sizeof(e));
}

TestSuite(cpu_template, .init = reset);

Test(cpu_template, none_normalizes_topology_and_hypervisor_bit)
{
	struct errbuf err;
	cr_assert_eq(cpu_template_apply("None", e, 5, 3, 4, &err), 0);
	cr_assert_eq(e[0].ebx >> 24, 3, "APIC id of vCPU 3");
	cr_assert_eq((e[0].ebx >> 16) & 0xff, 4, "logical processors");
	cr_assert(e[0].ecx & (1u << 31), "hypervisor bit");
	cr_assert(e[0].edx & (1u << 28), "HTT with 4 vCPUs");
	cr_assert_eq(e[2].eax | e[2].ebx | e[2].ecx | e[2].edx, 0, "PMU hidden");
	cr_assert_eq(e[3].edx, 3, "x2APIC id");
	cr_assert_eq(e[4].ebx, 4);
	cr_assert_eq(e[4].eax, 2, "2 bits of core id for 4 vCPUs");
	cr_assert_eq(e[1].ebx, sample[1].ebx, "None masks nothing");
}

Test(cpu_template, single_vcpu_has_no_htt)
{
	cr_assert_eq(cpu_template_apply(NULL, e, 5, 0, 1, NULL), 0);
	cr_assert_eq(e[0].edx & (1u << 28), 0);
}

Test(cpu_template, t2_hides_avx512_and_vmx)
{
	cr_assert_eq(cpu_template_apply("T2", e, 5, 0, 1, NULL), 0);
	cr_assert_eq(e[1].ebx & (1u << 16), 0, "AVX512F");
	cr_assert_eq(e[0].ecx & (1u << 5), 0, "VMX");
	cr_assert_neq(e[1].ebx & (1u << 5), 0, "AVX2 kept");
}

Test(cpu_template, c3_keeps_avx512f)
{
	cr_assert_eq(cpu_template_apply("C3", e, 5, 0, 1, NULL), 0);
	cr_assert_neq(e[1].ebx & (1u << 16), 0, "AVX512F kept");
	cr_assert_eq(e[1].ebx & (1u << 11), 0, "RTM hidden");
}

Test(cpu_template, unknown_template_and_bad_index_refused)
{
	struct errbuf err;
	cr_assert_eq(cpu_template_apply("Z9", e, 5, 0, 1, &err), -EINVAL);
	cr_assert(strstr(err.msg, "Z9"));
	cr_assert_eq(cpu_template_apply("None", e, 5, 2, 2, &err), -EINVAL);
}
