/* CPU templates: the bitmap syntax and JSON of config/cpu_config.c, the
 * static templates and neutral application of runtime/backend/
 * cpu_template.c, KVM's CPUID shaping (normalization, then the template). */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "config/config.h"
#include "runtime/backend/cpu_template.h"
#include "runtime/backend/kvm/cpu_template.h"

/* An Intel host's leaves as KVM might report them. */
static const struct cpuid_entry sample[] = {
	{ .function = 0, .ebx = 0x756e6547, .edx = 0x49656e69, .ecx = 0x6c65746e, .eax = 0xd },
	{ .function = 1, .index = 0, .eax = 0x000606a6, .ebx = 0x12345678, .ecx = 0x7ffaf3ff,
	  .edx = 0xbfebfbff },
	{ .function = 7, .index = 0, .flags = 1, .ebx = 0xd19f4fbb, .ecx = 0x0040591e,
	  .edx = 0xac000c00 },
	{ .function = 0xa, .index = 0, .eax = 0x07300403, .ebx = 1, .ecx = 2, .edx = 0x603 },
	{ .function = 0xb, .index = 0, .flags = 1, .eax = 1, .ebx = 2, .ecx = 0x100, .edx = 7 },
	{ .function = 0xb, .index = 1, .flags = 1, .eax = 4, .ebx = 8, .ecx = 0x201, .edx = 7 },
	{ .function = 0xd, .index = 0, .flags = 1, .eax = 0x2e7 },
	{ .function = 0xd, .index = 1, .flags = 1, .eax = 0xf },
	{ .function = 0x80000001, .ecx = 0x00000121, .edx = 0x2c100800 },
	{ .function = 0x80000008, .eax = 0x3027, .ebx = 0x00000200 },
};
#define N (sizeof(sample) / sizeof(sample[0]))

static struct cpuid_entry e[N];

static void reset(void)
{
	memcpy(e, sample, sizeof(e));
}

TestSuite(cpu_template, .init = reset);

/* ---- bitmaps ---- */

static void bitmap_ok(const char *s, unsigned bits, uint64_t mask, uint64_t value)
{
	uint64_t m = 7, v = 7;
	struct errbuf err = { "" };
	cr_assert_eq(cpu_bitmap_parse(s, bits, &m, &v, &err), 0, "%s: %s", s, err.msg);
	cr_assert_eq(m, mask, "%s: mask 0x%llx", s, (unsigned long long)m);
	cr_assert_eq(v, value, "%s: value 0x%llx", s, (unsigned long long)v);
}

static void bitmap_bad(const char *s, unsigned bits, const char *frag)
{
	uint64_t m = 7, v = 7;
	struct errbuf err = { "" };
	cr_assert_eq(cpu_bitmap_parse(s, bits, &m, &v, &err), -EINVAL, "%s accepted", s);
	cr_assert(strstr(err.msg, frag), "%s: \"%s\" lacks \"%s\"", s, err.msg, frag);
	cr_assert_eq(m, 7, "untouched on failure");
}

Test(cpu_template, bitmap_syntax)
{
	bitmap_ok("0b0101xxxx", 32, 0xf0, 0x50);
	bitmap_ok("0b0_101_xx_xx", 32, 0xf0, 0x50);
	bitmap_ok("1x0", 32, 0x5, 0x4); /* "0b" is optional, as Firecracker */
	bitmap_ok("0b", 32, 0, 0);
	bitmap_ok("", 32, 0, 0);
	bitmap_ok("0b11111111111111111111111111111111", 32, 0xffffffff, 0xffffffff);
	bitmap_ok("0b1111_1111_1111_1111_1111_1111_1111_1111", 32, 0xffffffff, 0xffffffff);
	bitmap_ok("0b1xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx0", 64,
		  0x8000000000000001ULL, 0x8000000000000000ULL);
	bitmap_bad("0b111111111111111111111111111111111", 32, "more than 32 bits");
	bitmap_bad("0b_11111111111111111111111111111111", 32, "more than 32 bits");
	bitmap_bad("0b1xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx0x", 64,
		   "more than 64 bits");
	bitmap_bad("0b012", 32, "'2' is not a bitmap digit");
	bitmap_bad("0bX1", 32, "'X'");
	/* "0x" is no prefix here: x is a digit like any other. */
	bitmap_ok("0x11", 32, 0xb, 0x3);
}

Test(cpu_template, bitmap_prints_as_firecracker)
{
	char s[70];
	cpu_bitmap_format(0xf0, 0x50, 8, s);
	cr_assert_str_eq(s, "0b0101xxxx");
	cpu_bitmap_format(0, 0, 32, s);
	cr_assert_eq(strlen(s), 34);
}

/* ---- JSON ---- */

static struct cpu_template *parse_ok(const char *text)
{
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);
	cr_assert_not_null(j, "test JSON: %s", je.text);
	struct cpu_template *t = NULL;
	struct errbuf err = { "" };
	cr_assert_eq(config_parse_cpu_config(j, &t, &err), 0, "%s: %s", text, err.msg);
	json_decref(j);
	return t;
}

static void parse_bad(const char *text, const char *frag)
{
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);
	cr_assert_not_null(j, "test JSON: %s", je.text);
	struct cpu_template *t = NULL;
	struct errbuf err = { "" };
	cr_assert_lt(config_parse_cpu_config(j, &t, &err), 0, "%s accepted", text);
	cr_assert_null(t);
	cr_assert(strstr(err.msg, frag), "%s: \"%s\" lacks \"%s\"", text, err.msg, frag);
	json_decref(j);
}

#define LEAF1(regs) "{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"subleaf\": \"0x0\", " \
		    "\"flags\": 0, \"modifiers\": [" regs "]}]}"

Test(cpu_template, json_fields_as_firecracker)
{
	struct cpu_template *t = parse_ok(
		"{\"kvm_capabilities\": [\"171\", \"!7\"], \"cpuid_modifiers\": ["
		"{\"leaf\": \"0x80000001\", \"subleaf\": \"0b0\", \"flags\": 1, \"modifiers\": ["
		"{\"register\": \"edx\", \"bitmap\": \"0bxxxx_x0xx\"},"
		"{\"register\": \"eax\", \"bitmap\": \"0b1\"}]}],"
		" \"msr_modifiers\": [{\"addr\": \"0x10A\", \"bitmap\": \"0b1x\"}]}");
	cr_assert_eq(t->n_caps, 2);
	cr_assert_eq(t->caps[0].cap, 171);
	cr_assert(!t->caps[0].remove);
	cr_assert(t->caps[1].remove);
	cr_assert_eq(t->n_cpuid, 1);
	cr_assert_eq(t->cpuid[0].leaf, 0x80000001);
	cr_assert_eq(t->cpuid[0].flags, 1);
	cr_assert_eq(t->cpuid[0].n_regs, 2);
	cr_assert_eq(t->cpuid[0].regs[0].reg, CPUID_EDX);
	cr_assert_eq(t->cpuid[0].regs[0].mask, 0x4);
	cr_assert_eq(t->cpuid[0].regs[1].value, 1);
	cr_assert_eq(t->msrs[0].addr, 0x10a);
	cr_assert_eq(t->msrs[0].mask, 2);
	cr_assert_eq(t->msrs[0].value, 2);

	/* Firecracker's serialization reads back the same. */
	json_t *j = config_cpu_config_to_json(t);
	cr_assert_not_null(j);
	char *s = json_dumps(j, JSON_COMPACT);
	cr_assert(strstr(s, "\"leaf\":\"0x80000001\",\"subleaf\":\"0x0\""), "%s", s);
	struct cpu_template *u = parse_ok(s);
	cr_assert_eq(u->n_cpuid, 1);
	cr_assert_eq(u->cpuid[0].regs[0].mask, 0x4);
	cr_assert_eq(u->msrs[0].value, 2);
	cr_assert(u->caps[1].remove);
	free(s);
	json_decref(j);
	cpu_template_free(u);
	struct cpu_template *d = cpu_template_dup(t);
	cr_assert_eq(d->cpuid[0].regs[1].value, 1);
	cr_assert_neq(d->cpuid[0].regs, t->cpuid[0].regs);
	cpu_template_free(d);
	cpu_template_free(t);
	cpu_template_free(parse_ok("{}"));
}

Test(cpu_template, json_errors_name_the_place)
{
	parse_bad("[]", "must be an object");
	parse_bad("{\"cpuid\": []}", "unknown field \"cpuid\"");
	parse_bad("{\"vcpu_features\": []}", "vcpu_features: an aarch64 field");
	parse_bad("{\"kvm_capabilities\": [\"1\", \"!x\"]}", "kvm_capabilities[1]: \"!x\"");
	parse_bad("{\"kvm_capabilities\": [1]}", "kvm_capabilities[0]: must be a string");
	parse_bad("{\"kvm_capabilities\": [\"99999999999\"]}", "kvm_capabilities[0]");
	parse_bad("{\"cpuid_modifiers\": {}}", "cpuid_modifiers: must be an array");
	parse_bad(LEAF1("{\"register\": \"eax\", \"bitmap\": \"0b1\"},"
			"{\"register\": \"eax\", \"bitmap\": \"0b2\"}"),
		  "cpuid_modifiers[0].modifiers[1].bitmap: \"0b2\": '2' is not a bitmap digit");
	parse_bad(LEAF1("{\"register\": \"rax\", \"bitmap\": \"0b1\"}"),
		  "cpuid_modifiers[0].modifiers[0].register: must be one of");
	parse_bad(LEAF1("{\"register\": \"eax\"}"), "cpuid_modifiers[0].modifiers[0].bitmap: missing");
	parse_bad(LEAF1("{\"register\": \"eax\", \"bitmap\": \"0b1\", \"x\": 1}"),
		  "cpuid_modifiers[0].modifiers[0]: unknown field \"x\"");
	parse_bad("{\"cpuid_modifiers\": [{\"leaf\": 1, \"subleaf\": \"0x0\", \"flags\": 0, "
		  "\"modifiers\": []}]}",
		  "cpuid_modifiers[0].leaf: must be a string");
	parse_bad("{\"cpuid_modifiers\": [{\"leaf\": \"7\", \"subleaf\": \"0x0\", \"flags\": 0, "
		  "\"modifiers\": []}]}",
		  "cpuid_modifiers[0].leaf: \"7\" must start with 0x");
	parse_bad("{\"cpuid_modifiers\": [{\"leaf\": \"0x1ffffffff\", \"subleaf\": \"0x0\", "
		  "\"flags\": 0, \"modifiers\": []}]}",
		  "does not fit in 32 bits");
	parse_bad("{\"cpuid_modifiers\": [{\"leaf\": \"0xg\", \"subleaf\": \"0x0\", "
		  "\"flags\": 0, \"modifiers\": []}]}",
		  "is not a base-16 number");
	parse_bad("{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"subleaf\": \"0x\", "
		  "\"flags\": 0, \"modifiers\": []}]}",
		  "subleaf: \"0x\" has no digits");
	parse_bad("{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"subleaf\": \"0x0\", "
		  "\"flags\": 8, \"modifiers\": []}]}",
		  "cpuid_modifiers[0].flags: must be an integer");
	parse_bad("{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"subleaf\": \"0x0\", "
		  "\"modifiers\": []}]}",
		  "cpuid_modifiers[0].flags: missing");
	parse_bad("{\"msr_modifiers\": [{\"addr\": \"0x10a\", \"bitmap\": "
		  "\"0b11111111111111111111111111111111111111111111111111111111111111111\"}]}",
		  "msr_modifiers[0].bitmap: \"0b111111");
	parse_bad("{\"msr_modifiers\": [{\"bitmap\": \"0b1\"}]}", "msr_modifiers[0].addr: missing");
}

/* ---- static templates, vendors ---- */

Test(cpu_template, static_templates_need_their_vendor)
{
	const struct cpu_template *t;
	struct errbuf err = { "" };
	static const enum config_cpu_template intel[] = { CONFIG_CPU_TEMPLATE_T2,
		CONFIG_CPU_TEMPLATE_T2S, CONFIG_CPU_TEMPLATE_C3, CONFIG_CPU_TEMPLATE_T2CL };
	for (size_t i = 0; i < 4; i++) {
		cr_assert_eq(cpu_template_select(intel[i], NULL, CPU_VENDOR_INTEL, "h", &t, &err), 0);
		cr_assert_eq(t, cpu_template_static(intel[i]));
		cr_assert_eq(cpu_template_select(intel[i], NULL, CPU_VENDOR_AMD, "this host", &t,
						 &err),
			     -ENOTSUP);
		cr_assert_null(t);
		cr_assert(strstr(err.msg, "is made for GenuineIntel CPUs; this host is AuthenticAMD"),
			  "%s", err.msg);
		cr_assert(strstr(err.msg, config_cpu_template_name(intel[i])));
	}
	cr_assert_eq(cpu_template_select(CONFIG_CPU_TEMPLATE_T2A, NULL, CPU_VENDOR_INTEL, "h", &t,
					 &err),
		     -ENOTSUP);
	cr_assert(strstr(err.msg, "T2A is made for AuthenticAMD"), "%s", err.msg);
	cr_assert_eq(cpu_template_select(CONFIG_CPU_TEMPLATE_T2A, NULL, CPU_VENDOR_AMD, "h", &t,
					 &err),
		     0);
	cr_assert_not_null(t);
	cr_assert_eq(cpu_template_select(CONFIG_CPU_TEMPLATE_NONE, NULL, "x", "h", &t, &err), 0);
	cr_assert_null(t);
	/* A custom template is not checked against a vendor. */
	struct cpu_template custom = { 0 };
	cr_assert_eq(cpu_template_select(CONFIG_CPU_TEMPLATE_CUSTOM, &custom, "x", "h", &t, &err), 0);
	cr_assert_eq(t, &custom);
}

Test(cpu_template, t2_on_an_intel_table)
{
	const struct cpu_template *t = cpu_template_static(CONFIG_CPU_TEMPLATE_T2);
	cr_assert_eq(cpu_template_check_cpuid(t, e, N, "h", NULL), 0);
	cr_assert_eq(kvm_cpuid_shape(t, e, N, 0, 1, NULL), 0);
	cr_assert_eq(e[1].eax & 0x0fff3fff, 0x000306f2, "Firecracker's T2 signature");
	cr_assert_eq(e[1].ecx & (1u << 5), 0, "VMX hidden");
	cr_assert_neq(e[1].ecx & (1u << 31), 0, "hypervisor bit kept");
	cr_assert_eq(e[2].ebx & (1u << 16), 0, "AVX512F hidden");
	cr_assert_neq(e[2].ebx & (1u << 5), 0, "AVX2 kept");
	cr_assert_neq(e[2].ebx & (1u << 9), 0, "ERMS set");
	cr_assert_eq(e[6].eax, 0x2e7 & ~0x2f8u, "XSAVE components past AVX hidden");
	cr_assert_eq(e[7].eax, 0x1, "XSAVEC, XGETBV1, XSAVES hidden");
	cr_assert_eq(e[8].edx & (1u << 26), 0, "1 GiB pages hidden");
	cr_assert_eq(e[9].ebx, 0, "WBNOINVD hidden");
	cr_assert_eq(e[9].eax, 0x3027, "x bits kept");
}

Test(cpu_template, c3_on_an_intel_table)
{
	const struct cpu_template *t = cpu_template_static(CONFIG_CPU_TEMPLATE_C3);
	cr_assert_eq(kvm_cpuid_shape(t, e, N, 0, 1, NULL), 0);
	cr_assert_eq(e[1].eax & 0x0fff3fff, 0x000306e4);
	cr_assert_eq(e[2].ebx & 0xffafdd3c, 0);
	cr_assert_eq(e[9].ebx, 0x200, "C3 leaves 0x80000008 alone");
}

Test(cpu_template, t2s_and_t2cl_set_arch_capabilities)
{
	const struct cpu_template *s = cpu_template_static(CONFIG_CPU_TEMPLATE_T2S);
	const struct cpu_template *c = cpu_template_static(CONFIG_CPU_TEMPLATE_T2CL);
	cr_assert_eq(s->n_msrs, 1);
	cr_assert_eq(s->msrs[0].addr, 0x10a);
	cr_assert_eq(cpu_bitmap_apply(s->msrs[0].mask, s->msrs[0].value, ~0ULL), 0xc0a0c4c);
	cr_assert_eq(cpu_bitmap_apply(c->msrs[0].mask, c->msrs[0].value, ~0ULL), 0x1d0ae1ff);
	cr_assert_null(cpu_template_static(CONFIG_CPU_TEMPLATE_NONE));
}

Test(cpu_template, t2a_on_an_amd_table)
{
	const struct cpu_template *t = cpu_template_static(CONFIG_CPU_TEMPLATE_T2A);
	e[9].ebx = 0xffffffff;
	cpu_template_apply_cpuid(t, e, N);
	cr_assert_eq(e[9].ebx, (0xffffffff & ~0x001c0205u) | 0x001c0004u);
}

/* ---- custom modifiers on a table ---- */

Test(cpu_template, custom_modifiers_apply_in_order_and_set_flags)
{
	static const struct cpuid_reg_mod regs[] = {
		{ CPUID_ECX, 0x00000020, 0x00000000 }, /* VMX off */
		{ CPUID_ECX, 0x00000003, 0x00000002 }, /* later modifier wins where both say */
		{ CPUID_EAX, 0xffffffff, 0x12345678 },
	};
	static const struct cpuid_leaf_mod leaves[] = { { 1, 0, 0, 3, regs } };
	struct cpu_template t = { .n_cpuid = 1, .cpuid = leaves };
	cpu_template_apply_cpuid(&t, e, N);
	cr_assert_eq(e[1].ecx, (0x7ffaf3ffu & ~0x23u) | 0x2u);
	cr_assert_eq(e[1].eax, 0x12345678);
	cr_assert_eq(e[1].edx, sample[1].edx, "untouched register");
	static const struct cpuid_leaf_mod b1[] = { { 0xb, 1, 0, 0, NULL } };
	t.cpuid = b1;
	cpu_template_apply_cpuid(&t, e, N);
	cr_assert_eq(e[5].flags, 0, "flags are the modifier's");
	cr_assert_eq(e[4].flags, 1, "other subleaf untouched");
}

Test(cpu_template, a_leaf_the_cpu_lacks_is_refused)
{
	static const struct cpuid_leaf_mod leaves[] = { { 1, 0, 0, 0, NULL }, { 0xb, 2, 1, 0, NULL } };
	struct cpu_template t = { .n_cpuid = 2, .cpuid = leaves };
	struct errbuf err = { "" };
	cr_assert_eq(cpu_template_check_cpuid(&t, e, N, "this host's KVM", &err), -ENOENT);
	cr_assert_str_eq(err.msg, "cpuid_modifiers[1]: leaf 0xb subleaf 0x2 is not a CPUID leaf "
				  "this host's KVM has");
}

Test(cpu_template, kvm_capabilities_add_and_remove)
{
	static const uint32_t base[] = { 1, 2, 3 };
	static const struct kvm_cap_mod caps[] = { { 9, false }, { 2, true }, { 1, false },
						   { 7, true } };
	struct cpu_template t = { .n_caps = 4, .caps = caps };
	uint32_t out[8];
	size_t n = cpu_template_caps(&t, base, 3, out, 8);
	cr_assert_eq(n, 3);
	cr_assert_eq(out[0], 1);
	cr_assert_eq(out[1], 9, "2 removed, its place taken");
	cr_assert_eq(out[2], 3);
	cr_assert_eq(cpu_template_caps(NULL, base, 3, out, 8), 3);
}

/* ---- normalization (every template, None too) ---- */

Test(cpu_template, none_normalizes_topology_and_hypervisor_bit)
{
	struct errbuf err;
	cr_assert_eq(kvm_cpuid_shape(NULL, e, N, 3, 4, &err), 0);
	cr_assert_eq(e[1].ebx >> 24, 3, "APIC id of vCPU 3");
	cr_assert_eq((e[1].ebx >> 16) & 0xff, 4, "logical processors");
	cr_assert(e[1].ecx & (1u << 31), "hypervisor bit");
	cr_assert(e[1].edx & (1u << 28), "HTT with 4 vCPUs");
	cr_assert_eq(e[3].eax | e[3].ebx | e[3].ecx | e[3].edx, 0, "PMU hidden");
	cr_assert_eq(e[4].edx, 3, "x2APIC id");
	cr_assert_eq(e[5].ebx, 4);
	cr_assert_eq(e[5].eax, 2, "2 bits of core id for 4 vCPUs");
	cr_assert_eq(e[2].ebx, sample[2].ebx, "None masks nothing");
	cr_assert_eq(kvm_cpuid_shape(NULL, e, N, 2, 2, &err), -EINVAL);
}

Test(cpu_template, single_vcpu_has_no_htt)
{
	cr_assert_eq(kvm_cpuid_shape(NULL, e, N, 0, 1, NULL), 0);
	cr_assert_eq(e[1].edx & (1u << 28), 0);
}

/* ---- the config file ---- */

Test(cpu_template, config_file_custom_template_wins)
{
	const char *text = "{\"boot-source\": {\"kernel_image_path\": \"/k\"},"
			   " \"cpu-config\": " LEAF1("{\"register\": \"eax\", \"bitmap\": \"0b1\"}") ","
			   " \"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 64,"
			   " \"cpu_template\": \"T2\"}}";
	struct vm_config cfg;
	struct errbuf err = { "" };
	cr_assert_eq(config_load_string(text, strlen(text), &cfg, &err), 0, "%s", err.msg);
	cr_assert_eq(cfg.machine.cpu_template, CONFIG_CPU_TEMPLATE_CUSTOM);
	cr_assert_not_null(cfg.cpu_config);
	/* GET /vm/config's output loads back into the same. */
	json_t *j = config_to_json(&cfg);
	struct vm_config again;
	cr_assert_eq(config_load_json(j, &again, &err), 0, "%s", err.msg);
	cr_assert_eq(again.machine.cpu_template, CONFIG_CPU_TEMPLATE_CUSTOM);
	cr_assert_eq(again.cpu_config->cpuid[0].regs[0].mask, 1);
	json_decref(j);
	config_free(&again);
	config_free(&cfg);
	cr_assert_null(cfg.cpu_config);

	const char *bad = "{\"boot-source\": {\"kernel_image_path\": \"/k\"},"
			  " \"cpu-config\": " LEAF1("{\"register\": \"eax\", \"bitmap\": 5}") "}";
	cr_assert_eq(config_load_string(bad, strlen(bad), &cfg, &err), -EINVAL);
	cr_assert(strstr(err.msg, "cpu-config: cpuid_modifiers[0].modifiers[0].bitmap: must be "
				  "a string"),
		  "%s", err.msg);
}
