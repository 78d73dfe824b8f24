/* The software CPU as the target or source of a cross-backend snapshot:
 * the CPUID it presents, whether it can present a saved one, and fitting a
 * state KVM saved (docs/snapshots.md, "Across backends").
 *
 * Vendor: this CPU presents the vendor the guest saw and takes on its
 * semantics where the vendors differ (SYSENTER, SYSEXIT, SYSCALL:
 * fastcall.c); docs/snapshots.md, "Across backends". */
#include "runtime/backend/tcg/tcg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/backend/cpuid_compat.h"
#include "runtime/backend/tcg/state.h"
#include "runtime/backend/x86_carry.h"
#include "runtime/base/log.h"

#define TARGET "the software CPU (tcg)"

int tcg_vcpu_get_cpuid(struct backend_vcpu *v, struct cpuid_entry *e, size_t max)
{
	struct backend_vm *vm = v->vm;
	struct cpuid_entry *fixed = NULL;
	const struct cpuid_entry *src = vm->cpuid;
	size_t n = vm->n_cpuid;
	if (!src) {
		int r = tcg_cpuid_table(&fixed, &n);
		if (r < 0)
			return r;
		src = fixed;
	}
	int r = n > max ? -ENOSPC : (int)n;
	if (r > 0) {
		/* What this vCPU's CPUID instruction answers (the hook's view). */
		memcpy(e, src, n * sizeof(*e));
		for (size_t i = 0; i < n; i++) {
			struct tcg_cpuid_regs q;
			tcg_vcpu_cpuid(vm, v->index, e[i].function, e[i].index, &q);
			e[i].eax = q.eax;
			e[i].ebx = q.ebx;
			e[i].ecx = q.ecx;
			e[i].edx = q.edx;
		}
	}
	free(fixed);
	return r;
}

int tcg_vcpu_set_cpuid(struct backend_vcpu *v, const struct cpuid_entry *e, size_t n,
		       const char *from, struct errbuf *err)
{
	struct cpuid_entry *can;
	size_t n_can;
	int r = tcg_cpuid_table(&can, &n_can);
	if (r < 0)
		return err_set(err, r, "out of memory");
	/* With this VM's topology (HTT, CmpLegacy), which a saved table of
	 * the software CPU's own carries. */
	for (size_t i = 0; i < n_can; i++) {
		struct tcg_cpuid_regs q = { can[i].eax, can[i].ebx, can[i].ecx, can[i].edx };
		tcg_cpuid_topology(can[i].function, can[i].index, v->index, v->vm->nr_lapics, &q);
		can[i].eax = q.eax;
		can[i].ebx = q.ebx;
		can[i].ecx = q.ecx;
		can[i].edx = q.edx;
	}
	r = cpuid_compat_check(e, n, can, n_can, from, TARGET, err);
	char mine[13], saved[13];
	cpuid_vendor(can, n_can, mine);
	cpuid_vendor(e, n, saved);
	free(can);
	if (r < 0)
		return r;
	/* The semantics follow the vendor shown (fastcall.c). */
	tcg_qemu_set_intel(&v->q, strcmp(saved, CPU_VENDOR_INTEL) == 0);
	/* One table for the VM (the hook adds per-vCPU ids): vCPU 0's. */
	if (v->index != 0)
		return 0;
	struct cpuid_entry *copy = malloc((n ? n : 1) * sizeof(*copy));
	if (!copy)
		return err_set(err, -ENOMEM, "out of memory");
	memcpy(copy, e, n * sizeof(*copy));
	free(v->vm->cpuid);
	v->vm->cpuid = copy;
	v->vm->n_cpuid = n;
	v->vm->cpuid_foreign = strcmp(from, backend_tcg.name) != 0;
	if (strcmp(mine, saved) != 0)
		log_info("tcg: presenting the CPU vendor \"%s\" the guest saw on %s, with %s's "
			 "SYSENTER/SYSEXIT/SYSCALL (this CPU's own: %s; docs/snapshots.md)",
			 saved, from, strcmp(saved, CPU_VENDOR_INTEL) == 0 ? "Intel" : "AMD", mine);
	return 0;
}

static bool models_msr(void *ctx, uint32_t index)
{
	(void)ctx;
	return tcg_msr_known(index);
}

int tcg_vcpu_import(struct backend_vcpu *v, struct x86_cpu_state *st, const char *from,
		    struct errbuf *err)
{
	(void)v;
	struct x86_target t = {
		.desc = TARGET,
		.has_xsave = false,
		.all_events = false,
		.mp_states = 1u << X86_MP_RUNNABLE | 1u << X86_MP_HALTED |
			     1u << X86_MP_INIT_RECEIVED,
		.models_msr = models_msr,
	};
	return x86_state_carry(st, from, &t, err);
}
