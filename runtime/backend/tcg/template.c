/* CPU templates on the software CPU. Its CPUID is a fixed table
 * (cpuid.c); a template's CPUID modifiers shape a copy of that table once
 * per VM, which the CPUID hook then answers from. The CPU itself does not
 * change: a bit a template sets for an instruction TCG lacks tells the
 * guest a lie it may fault on (#UD), so Ember warns about those. MSR
 * modifiers apply to the MSRs the CPU keeps as written (msrs.c); others
 * are refused. kvm_capabilities mean nothing here and are ignored, with
 * a log line. The static templates are made for Intel or AMD hosts; this
 * CPU says AuthenticAMD, so the Intel ones are refused by the vendor
 * check and T2A by its leaf 0xd, which this CPU does not have. */
#include "runtime/backend/tcg/tcg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/backend/tcg/state.h"
#include "runtime/base/log.h"

#define CPU_NAME "the software CPU"

/* Every leaf the fixed table answers, subleaf 0. */
int tcg_cpuid_table(struct cpuid_entry **out, size_t *n_out)
{
	struct tcg_cpuid_regs r;
	uint32_t ranges[3][2];
	tcg_cpuid(0, 0, &r);
	ranges[0][0] = 0, ranges[0][1] = r.eax;
	tcg_cpuid(0x40000000, 0, &r);
	ranges[1][0] = 0x40000000, ranges[1][1] = r.eax;
	tcg_cpuid(0x80000000, 0, &r);
	ranges[2][0] = 0x80000000, ranges[2][1] = r.eax;
	size_t n = 0;
	for (int k = 0; k < 3; k++)
		if (ranges[k][1] >= ranges[k][0] && ranges[k][1] - ranges[k][0] < 64)
			n += ranges[k][1] - ranges[k][0] + 1;
	struct cpuid_entry *e = calloc(n + 1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	size_t i = 0;
	for (int k = 0; k < 3; k++) {
		if (ranges[k][1] < ranges[k][0] || ranges[k][1] - ranges[k][0] >= 64)
			continue;
		for (uint32_t leaf = ranges[k][0]; leaf <= ranges[k][1]; leaf++, i++) {
			tcg_cpuid(leaf, 0, &r);
			e[i] = (struct cpuid_entry){ leaf, 0,
						     leaf == 7 || leaf == 0xb ? CPUID_FLAG_SIGNIFICANT_INDEX : 0,
						     r.eax, r.ebx, r.ecx, r.edx };
		}
	}
	*out = e;
	*n_out = n;
	return 0;
}

/* Feature bits the template turned on that the CPU lacks. */
static void warn_new_features(const struct cpuid_entry *before, const struct cpuid_entry *after,
			      size_t n)
{
	static const char *const names[] = { "eax", "ebx", "ecx", "edx" };
	for (size_t i = 0; i < n; i++) {
		uint32_t f = before[i].function;
		if (f != 1 && f != 7 && f != 0x80000001)
			continue;
		const uint32_t b[4] = { before[i].eax, before[i].ebx, before[i].ecx, before[i].edx };
		const uint32_t a[4] = { after[i].eax, after[i].ebx, after[i].ecx, after[i].edx };
		for (int r = f == 1 ? 2 : 1; r < 4; r++)
			if (a[r] & ~b[r])
				log_warn("tcg: the CPU template sets CPUID leaf 0x%x %s bits 0x%08x, "
					 "features the software CPU does not have: a guest that "
					 "uses them may fault",
					 f, names[r], a[r] & ~b[r]);
	}
}

int tcg_template_setup(struct backend_vm *vm, const struct backend_vm_opts *opts,
		       struct errbuf *err)
{
	struct tcg_cpuid_regs r0;
	char vendor[13];
	tcg_cpuid(0, 0, &r0);
	cpu_vendor_of(r0.ebx, r0.ecx, r0.edx, vendor);
	const struct cpu_template *t;
	int r = cpu_template_select(opts->cpu_template, opts->cpu_config, vendor, CPU_NAME, &t,
				    err);
	if (r < 0 || !t)
		return r;
	struct cpuid_entry *e, *before;
	size_t n;
	if ((r = tcg_cpuid_table(&e, &n)) < 0)
		return err_set(err, r, "out of memory");
	vm->cpuid = e;
	vm->n_cpuid = n;
	if ((r = cpu_template_check_cpuid(t, e, n, CPU_NAME, err)) < 0)
		return r;
	for (size_t i = 0; i < t->n_msrs; i++)
		if (!tcg_msr_settable(t->msrs[i].addr))
			return err_set(err, -ENOTSUP,
				       "msr_modifiers[%zu]: MSR 0x%x is not one %s keeps as "
				       "written",
				       i, t->msrs[i].addr, CPU_NAME);
	if (t->n_caps)
		log_info("tcg: the CPU template's kvm_capabilities (%zu) do not apply to %s; "
			 "ignored",
			 t->n_caps, CPU_NAME);
	vm->tmpl = cpu_template_dup(t);
	before = malloc((n + 1) * sizeof(*before));
	if (!vm->tmpl || !before) {
		free(before);
		return err_set(err, -ENOMEM, "out of memory");
	}
	memcpy(before, e, n * sizeof(*e));
	cpu_template_apply_cpuid(t, e, n);
	warn_new_features(before, e, n);
	free(before);
	log_info("tcg: CPU template %s: %zu CPUID and %zu MSR modifiers",
		 config_cpu_template_name(opts->cpu_template), t->n_cpuid, t->n_msrs);
	return 0;
}

void tcg_template_free(struct backend_vm *vm)
{
	cpu_template_free(vm->tmpl);
	free(vm->cpuid);
	vm->tmpl = NULL;
	vm->cpuid = NULL;
	vm->n_cpuid = 0;
}

void tcg_template_cpuid(const struct backend_vm *vm, uint32_t leaf, uint32_t subleaf,
			struct tcg_cpuid_regs *out)
{
	/* An entry without a significant index answers every subleaf, as
	 * KVM's do. */
	for (size_t i = 0; i < vm->n_cpuid; i++) {
		const struct cpuid_entry *e = &vm->cpuid[i];
		if (e->function == leaf &&
		    (!(e->flags & CPUID_FLAG_SIGNIFICANT_INDEX) || e->index == subleaf)) {
			*out = (struct tcg_cpuid_regs){ e->eax, e->ebx, e->ecx, e->edx };
			return;
		}
	}
	tcg_cpuid(leaf, subleaf, out);
}

bool tcg_vm_intel(const struct backend_vm *vm)
{
	struct tcg_cpuid_regs r;
	char vendor[13];
	tcg_template_cpuid(vm, 0, 0, &r);
	cpu_vendor_of(r.ebx, r.ecx, r.edx, vendor);
	return strcmp(vendor, CPU_VENDOR_INTEL) == 0;
}

void tcg_vcpu_cpuid(const struct backend_vm *vm, unsigned index, uint32_t leaf, uint32_t subleaf,
		    struct tcg_cpuid_regs *out)
{
	tcg_template_cpuid(vm, leaf, subleaf, out);
	if (!vm->cpuid_foreign) {
		/* CmpLegacy and 0x80000008's core count are AMD's; reserved
		 * (zero) under an Intel vendor, as a KVM on Intel lists them. */
		bool amd_only = leaf == 0x80000001 || leaf == 0x80000008;
		if (!amd_only || !tcg_vm_intel(vm))
			tcg_cpuid_topology(leaf, subleaf, index, vm->nr_lapics, out);
		return;
	}
	if (leaf == 1)
		out->ebx = (out->ebx & 0x00ffffffu) | (index << 24); /* initial APIC id */
	if ((leaf == 0xb || leaf == 0x1f) && out->ebx)
		out->edx = index; /* x2APIC id */
}

void tcg_template_set_msrs(struct backend_vcpu *v)
{
	const struct cpu_template *t = v->vm->tmpl;
	for (size_t i = 0; t && i < t->n_msrs; i++) {
		uc_x86_msr m = { t->msrs[i].addr, 0 };
		uc_reg_read(v->uc, UC_X86_REG_MSR, &m);
		m.value = cpu_bitmap_apply(t->msrs[i].mask, t->msrs[i].value, m.value);
		uc_reg_write(v->uc, UC_X86_REG_MSR, &m);
	}
}
