/* Static CPU templates and the backend-neutral half of applying one; see
 * cpu_template.h. */
#include "runtime/backend/cpu_template.h"

#include <errno.h>
#include <string.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define LEAF(l, s, f, regs) { (l), (s), (f), ARRAY_LEN(regs), (regs) }

/* The static templates' bits are Firecracker's (cpu_config/x86_64/
 * static_cpu_templates/), so that a guest sees the same CPU under either
 * VMM. Mask: the bits a template decides; value: what it decides. All
 * five present a family 6 Intel-style signature in leaf 1 and hide the
 * same groups of features; they differ in what else they hide. */

/* Leaf 1 for T2, T2S, T2CL, T2A: signature family 6 model 0x3f stepping
 * 2; ECX hides DTES64, MONITOR, DS-CPL, VMX, SMX, EIST, TM2, CNXT-ID,
 * SDBG, xTPR, PDCM, DCA; EDX sets MCE and MTRR and hides PSN, DS, ACPI,
 * SS, TM, IA64, PBE. */
static const struct cpuid_reg_mod t2_leaf1[] = {
	{ CPUID_EAX, 0x0fff3fff, 0x000306f2 },
	{ CPUID_ECX, 0x0004cdfc, 0x00000000 },
	{ CPUID_EDX, 0xe8641080, 0x00001080 },
};
static const struct cpuid_reg_mod t2_leaf7[] = {
	{ CPUID_EBX, 0xffefda14, 0x00000200 },
	{ CPUID_ECX, 0x40415f5e, 0x00000000 },
	{ CPUID_EDX, 0x0000011c, 0x00000000 },
};
/* XSAVE components and XSAVE instructions past the Haswell set. */
static const struct cpuid_reg_mod xsave_leaf_d0[] = { { CPUID_EAX, 0x000002f8, 0x00000000 } };
static const struct cpuid_reg_mod xsave_leaf_d1[] = { { CPUID_EAX, 0x0000000e, 0x00000000 } };
static const struct cpuid_reg_mod t2_ext1[] = {
	{ CPUID_ECX, 0x20000100, 0x00000000 },
	{ CPUID_EDX, 0x04000000, 0x00000000 },
};
static const struct cpuid_reg_mod t2_ext8[] = { { CPUID_EBX, 0x00000200, 0x00000000 } };

static const struct cpuid_leaf_mod t2_cpuid[] = {
	LEAF(0x1, 0, 0, t2_leaf1),
	LEAF(0x7, 0, CPUID_FLAG_SIGNIFICANT_INDEX, t2_leaf7),
	LEAF(0xd, 0, CPUID_FLAG_SIGNIFICANT_INDEX, xsave_leaf_d0),
	LEAF(0xd, 1, CPUID_FLAG_SIGNIFICANT_INDEX, xsave_leaf_d1),
	LEAF(0x80000001, 0, 0, t2_ext1),
	LEAF(0x80000008, 0, 0, t2_ext8),
};

/* T2S: T2's CPUID and IA32_ARCH_CAPABILITIES (0x10a) set whole. */
static const struct msr_mod t2s_msrs[] = {
	{ 0x10a, 0xffffffffffffffffULL, 0x000000000c0a0c4cULL },
};

/* C3: signature family 6 model 0x3e stepping 4. */
static const struct cpuid_reg_mod c3_leaf1[] = {
	{ CPUID_EAX, 0x0fff3fff, 0x000306e4 },
	{ CPUID_ECX, 0x0040dd3c, 0x00000000 },
	{ CPUID_EDX, 0xa8641080, 0x00001080 },
};
static const struct cpuid_reg_mod c3_leaf7[] = {
	{ CPUID_EBX, 0xffafdd3c, 0x00000000 },
	{ CPUID_ECX, 0x4041481e, 0x00000000 },
	{ CPUID_EDX, 0x0000000c, 0x00000000 },
};
static const struct cpuid_reg_mod c3_ext1[] = {
	{ CPUID_ECX, 0x00000120, 0x00000000 },
	{ CPUID_EDX, 0x04000000, 0x00000000 },
};
static const struct cpuid_leaf_mod c3_cpuid[] = {
	LEAF(0x1, 0, 0, c3_leaf1),
	LEAF(0x7, 0, CPUID_FLAG_SIGNIFICANT_INDEX, c3_leaf7),
	LEAF(0xd, 0, CPUID_FLAG_SIGNIFICANT_INDEX, xsave_leaf_d0),
	LEAF(0xd, 1, CPUID_FLAG_SIGNIFICANT_INDEX, xsave_leaf_d1),
	LEAF(0x80000001, 0, 0, c3_ext1),
};

/* T2CL: T2 but 0x80000001 hides a few more; ARCH_CAPABILITIES bits cleared. */
static const struct cpuid_reg_mod t2cl_ext1[] = {
	{ CPUID_ECX, 0x200001c0, 0x00000000 },
	{ CPUID_EDX, 0x07c00000, 0x00000000 },
};
static const struct cpuid_leaf_mod t2cl_cpuid[] = {
	LEAF(0x1, 0, 0, t2_leaf1),
	LEAF(0x7, 0, CPUID_FLAG_SIGNIFICANT_INDEX, t2_leaf7),
	LEAF(0xd, 0, CPUID_FLAG_SIGNIFICANT_INDEX, xsave_leaf_d0),
	LEAF(0xd, 1, CPUID_FLAG_SIGNIFICANT_INDEX, xsave_leaf_d1),
	LEAF(0x80000001, 0, 0, t2cl_ext1),
	LEAF(0x80000008, 0, 0, t2_ext8),
};
static const struct msr_mod t2cl_msrs[] = {
	{ 0x10a, 0xffffffffe2f51e00ULL, 0 },
};

/* T2A: T2's leaves 1, 7, 0xd on an AMD host; AMD's own extended bits. */
static const struct cpuid_reg_mod t2a_ext1[] = {
	{ CPUID_ECX, 0x200001c4, 0x00000000 },
	{ CPUID_EDX, 0x06400000, 0x00000000 },
};
static const struct cpuid_reg_mod t2a_ext8[] = { { CPUID_EBX, 0x001c0205, 0x001c0004 } };
static const struct cpuid_leaf_mod t2a_cpuid[] = {
	LEAF(0x1, 0, 0, t2_leaf1),
	LEAF(0x7, 0, CPUID_FLAG_SIGNIFICANT_INDEX, t2_leaf7),
	LEAF(0xd, 0, CPUID_FLAG_SIGNIFICANT_INDEX, xsave_leaf_d0),
	LEAF(0xd, 1, CPUID_FLAG_SIGNIFICANT_INDEX, xsave_leaf_d1),
	LEAF(0x80000001, 0, 0, t2a_ext1),
	LEAF(0x80000008, 0, 0, t2a_ext8),
};

static const struct {
	enum config_cpu_template id;
	const char *vendor;
	struct cpu_template t;
} statics[] = {
	{ CONFIG_CPU_TEMPLATE_T2, CPU_VENDOR_INTEL, { 0, ARRAY_LEN(t2_cpuid), 0, NULL, t2_cpuid, NULL } },
	{ CONFIG_CPU_TEMPLATE_T2S, CPU_VENDOR_INTEL,
	  { 0, ARRAY_LEN(t2_cpuid), ARRAY_LEN(t2s_msrs), NULL, t2_cpuid, t2s_msrs } },
	{ CONFIG_CPU_TEMPLATE_C3, CPU_VENDOR_INTEL, { 0, ARRAY_LEN(c3_cpuid), 0, NULL, c3_cpuid, NULL } },
	{ CONFIG_CPU_TEMPLATE_T2CL, CPU_VENDOR_INTEL,
	  { 0, ARRAY_LEN(t2cl_cpuid), ARRAY_LEN(t2cl_msrs), NULL, t2cl_cpuid, t2cl_msrs } },
	{ CONFIG_CPU_TEMPLATE_T2A, CPU_VENDOR_AMD, { 0, ARRAY_LEN(t2a_cpuid), 0, NULL, t2a_cpuid, NULL } },
};

void cpu_vendor_of(uint32_t ebx, uint32_t ecx, uint32_t edx, char *out)
{
	memcpy(out, &ebx, 4);
	memcpy(out + 4, &edx, 4);
	memcpy(out + 8, &ecx, 4);
	out[12] = 0;
}

const struct cpu_template *cpu_template_static(enum config_cpu_template t)
{
	for (size_t i = 0; i < ARRAY_LEN(statics); i++)
		if (statics[i].id == t)
			return &statics[i].t;
	return NULL;
}

int cpu_template_select(enum config_cpu_template t, const struct cpu_template *custom,
			const char *vendor, const char *what_cpu,
			const struct cpu_template **out, struct errbuf *err)
{
	*out = NULL;
	if (t == CONFIG_CPU_TEMPLATE_NONE)
		return 0;
	if (t == CONFIG_CPU_TEMPLATE_CUSTOM) {
		if (!custom)
			return err_set(err, -EINVAL, "cpu-config: the custom template is missing");
		*out = custom;
		return 0;
	}
	for (size_t i = 0; i < ARRAY_LEN(statics); i++) {
		if (statics[i].id != t)
			continue;
		if (strcmp(vendor, statics[i].vendor) != 0)
			return err_set(err, -ENOTSUP,
				       "cpu_template %s is made for %s CPUs; %s is %s "
				       "(Firecracker refuses this too)",
				       config_cpu_template_name(t), statics[i].vendor, what_cpu,
				       vendor);
		*out = &statics[i].t;
		return 0;
	}
	return err_set(err, -EINVAL, "cpu_template %d is unknown", (int)t);
}

struct cpuid_entry *cpuid_entry_find(struct cpuid_entry *e, size_t n, uint32_t leaf,
				     uint32_t subleaf)
{
	for (size_t i = 0; i < n; i++)
		if (e[i].function == leaf && e[i].index == subleaf)
			return &e[i];
	return NULL;
}

int cpu_template_check_cpuid(const struct cpu_template *t, struct cpuid_entry *e, size_t n,
			     const char *what_cpu, struct errbuf *err)
{
	for (size_t i = 0; t && i < t->n_cpuid; i++) {
		const struct cpuid_leaf_mod *m = &t->cpuid[i];
		if (!cpuid_entry_find(e, n, m->leaf, m->subleaf))
			return err_set(err, -ENOENT,
				       "cpuid_modifiers[%zu]: leaf 0x%x subleaf 0x%x is not a "
				       "CPUID leaf %s has",
				       i, m->leaf, m->subleaf, what_cpu);
	}
	return 0;
}

void cpu_template_apply_cpuid(const struct cpu_template *t, struct cpuid_entry *e, size_t n)
{
	for (size_t i = 0; t && i < t->n_cpuid; i++) {
		const struct cpuid_leaf_mod *m = &t->cpuid[i];
		struct cpuid_entry *x = cpuid_entry_find(e, n, m->leaf, m->subleaf);
		if (!x)
			continue;
		x->flags = m->flags;
		for (size_t r = 0; r < m->n_regs; r++) {
			const struct cpuid_reg_mod *g = &m->regs[r];
			uint32_t *reg = g->reg == CPUID_EAX   ? &x->eax
					: g->reg == CPUID_EBX ? &x->ebx
					: g->reg == CPUID_ECX ? &x->ecx
							      : &x->edx;
			*reg = (uint32_t)cpu_bitmap_apply(g->mask, g->value, *reg);
		}
	}
}

size_t cpu_template_caps(const struct cpu_template *t, const uint32_t *base, size_t n_base,
			 uint32_t *out, size_t max)
{
	/* Worst case every base entry plus every addition: callers size out
	 * for that, so nothing is cut. */
	size_t n = 0;
	for (size_t i = 0; i < n_base && n < max; i++)
		out[n++] = base[i];
	for (size_t i = 0; t && i < t->n_caps; i++) {
		const struct kvm_cap_mod *c = &t->caps[i];
		size_t at = 0;
		while (at < n && out[at] != c->cap)
			at++;
		if (c->remove && at < n)
			out[at] = out[--n];
		else if (!c->remove && at == n && n < max)
			out[n++] = c->cap;
	}
	return n;
}
