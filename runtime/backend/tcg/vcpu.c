/* The TCG vCPU: one unicorn engine, its memory map and the run loop. The
 * register accessors are in vcpu_state.c, the hooks in hooks.c. */
#include "runtime/backend/tcg/tcg.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/base/bus.h"
#include "runtime/base/log.h"
#include "runtime/backend/tcg/cpuid.h"
#include "runtime/backend/x86.h"
#include "runtime/backend/tcg/uc.h"

#define MSR_PAT 0x277u
#define PAT_POWER_ON 0x0007040600070406ULL /* SDM Vol. 3A §11.12.4 */
#define HLT_OPCODE 0xf4

/* MMIO regions over every address without RAM. Unicorn 2.0 checks each
 * access's *linear* address against its own region list before the page
 * walk (load_helper/store_helper in its cputlb.c) and stops the guest if
 * none matches, so nothing may be left unmapped; accesses whose physical
 * address lands here go to the MMIO bus, which reads holes as zeros. */
static uint64_t gap_read(uc_engine *uc, uint64_t off, unsigned size, void *opaque)
{
	(void)uc;
	struct tcg_gap *g = opaque;
	uint64_t v = 0;
	if (size <= 8 && !tcg_apic_mmio(g->vcpu, g->base + off, &v, size, false)) {
		tcg_guest_leave(g->vcpu);
		bus_read(g->vm->mmio_bus, g->base + off, &v, size);
		tcg_guest_enter(g->vcpu);
	}
	return v;
}

static void gap_write(uc_engine *uc, uint64_t off, unsigned size, uint64_t val, void *opaque)
{
	(void)uc;
	struct tcg_gap *g = opaque;
	if (size <= 8 && !tcg_apic_mmio(g->vcpu, g->base + off, &val, size, true)) {
		tcg_guest_leave(g->vcpu);
		bus_write(g->vm->mmio_bus, g->base + off, &val, size);
		tcg_guest_enter(g->vcpu);
	}
}

static int cmp_slot(const void *a, const void *b)
{
	const struct tcg_slot *x = a, *y = b;
	return x->gpa < y->gpa ? -1 : x->gpa > y->gpa;
}

static int add_gap(struct backend_vcpu *v, unsigned *n, uint64_t base, uint64_t end)
{
	/* end is inclusive so that the last gap can reach 2^64 - 1. */
	if (base > end)
		return 0;
	if (*n == TCG_MAX_GAPS)
		return -ENOSPC;
	struct tcg_gap *g = &v->gaps[(*n)++];
	*g = (struct tcg_gap){ v->vm, v, base, end - base + 1 };
	if (uc_mmio_map(v->uc, base, g->size, gap_read, g, gap_write, g) != UC_ERR_OK)
		return -ENOMEM;
	/* Instruction fetches check the region's rights too (for the linear
	 * address, see above): allow everything, the page walk decides. */
	if (uc_mem_protect(v->uc, base, g->size, UC_PROT_ALL) != UC_ERR_OK)
		return -ENOMEM;
	return 0;
}

int tcg_vcpu_map(struct backend_vcpu *v)
{
	struct backend_vm *vm = v->vm;
	qsort(vm->slots, vm->nr_slots, sizeof(vm->slots[0]), cmp_slot);
	uint64_t next = 0;
	unsigned n = 0;
	for (unsigned i = 0; i < vm->nr_slots; i++) {
		struct tcg_slot *s = &vm->slots[i];
		if (s->gpa < next)
			return -EINVAL; /* overlapping slots */
		int r = s->gpa ? add_gap(v, &n, next, s->gpa - 1) : 0;
		if (r)
			return r;
		if (uc_mem_map_ptr(v->uc, s->gpa, s->size, UC_PROT_ALL, s->host) != UC_ERR_OK)
			return -ENOMEM;
		next = s->gpa + s->size;
		if (!next)
			return 0; /* RAM up to the top of the address space */
	}
	return add_gap(v, &n, next, UINT64_MAX);
}

int tcg_vcpu_create(struct backend_vm *vm, unsigned index, struct backend_vcpu **out,
		    struct errbuf *err)
{
	char why[256];
	if (index >= vm->nr_lapics || index != vm->nr_vcpus)
		return err_set(err, -EINVAL, "tcg: vCPU %u: the VM has %u, %u made", index,
			       vm->nr_lapics, vm->nr_vcpus);
	struct backend_vcpu *v = calloc(1, sizeof(*v));
	if (!v)
		return err_set(err, -ENOMEM, "tcg: vCPU: out of memory");
	v->vm = vm;
	v->index = index;
	v->q.mem = vm->mem;
	v->q.nx = tcg_cpuid_has_nx();
	v->q.dirty = vm->dirty.bits ? &vm->dirty : NULL;
	v->q.env_off = -1;
	v->q.irq_hook = tcg_irq_hook;
	v->q.on_cs = tcg_on_cs;
	v->q.msr_hook = tcg_msr_hook;
	v->q.fast_call_hook = tcg_fast_call_hook;
	v->q.vendor_off = -1;
	v->q.intel = tcg_vm_intel(vm);
	v->q.peers = vm->qctx;
	v->q.nr_peers = &vm->nr_vcpus;
	v->q.peer_written = tcg_peer_written;
	int r = err_set(err, -ENOMEM, "tcg: unicorn: cannot open an x86-64 engine");
	if (uc_open(UC_ARCH_X86, UC_MODE_64, &v->uc) != UC_ERR_OK)
		goto fail;
	v->q.uc = v->uc;
	r = tcg_qemu_init_pages(&v->q);
	if (r) {
		err_set(err, r, "tcg: unicorn's code pages: %s", strerror(-r));
		goto fail;
	}
	r = tcg_env_calibrate(&v->env, v->uc, why, sizeof(why));
	if (r) {
		err_set(err, r, "tcg: %s", why);
		goto fail;
	}
	r = tcg_vcpu_map(v);
	if (r) {
		err_set(err, r, "tcg: cannot build the memory map: %s", strerror(-r));
		goto fail;
	}
	/* uc_emu_start's "until" address would stop the guest if reached:
	 * use the exits list instead, and leave it empty. */
	if (uc_ctl_exits_enable(v->uc) != UC_ERR_OK || uc_ctl_set_exits(v->uc, NULL, 0) != UC_ERR_OK) {
		r = err_set(err, -ENOTSUP, "tcg: unicorn refuses an empty exits list");
		goto fail;
	}
	uc_x86_msr pat = { MSR_PAT, PAT_POWER_ON };
	uc_reg_write(v->uc, UC_X86_REG_MSR, &pat);
	tcg_template_set_msrs(v);
	r = tcg_hooks_install(v);
	if (r) {
		err_set(err, r, "tcg: unicorn hooks: %s", strerror(-r));
		goto fail;
	}
	pthread_mutex_lock(&vm->lock);
	vm->vcpus[index] = v;
	vm->qctx[index] = &v->q;
	vm->nr_vcpus = index + 1;
	/* An AP waits for INIT-SIPI (the BSP runs from the boot registers). */
	vm->lapic[index].wait_sipi = index > 0;
	pthread_mutex_unlock(&vm->lock);
	*out = v;
	return 0;
fail:
	free(v->q.code_pages);
	tcg_env_free(&v->env);
	if (v->uc)
		uc_close(v->uc);
	free(v);
	return r;
}

void tcg_vcpu_destroy(struct backend_vcpu *v)
{
	if (!v)
		return;
	/* This thread may run another VM's engines later (the unit tests
	 * do): the replaced functions must not find this context. */
	if (tcg_qemu_current() == &v->q)
		tcg_qemu_set_current(NULL);
	/* The VM's vCPUs go all together: from the first one destroyed on,
	 * the VM knows none (its timer and devices must not reach a freed one). */
	pthread_mutex_lock(&v->vm->lock);
	v->vm->nr_vcpus = 0;
	v->vm->vcpus[v->index] = NULL;
	v->vm->qctx[v->index] = NULL;
	pthread_mutex_unlock(&v->vm->lock);
	tcg_env_free(&v->env);
	uc_close(v->uc);
	free(v->q.code_pages);
	free(v);
}

void tcg_vcpu_kick(struct backend_vcpu *v)
{
	struct backend_vm *vm = v->vm;
	pthread_mutex_lock(&vm->lock);
	if (vm->nr_lapics > 1) {
		/* Round-robin: vCPU 0's thread runs them all, so kicking it
		 * stops whichever runs; the others' threads only wait. */
		atomic_store(&v->kick, true);
		struct backend_vcpu *r = vm->running;
		if (v->index == 0 && r) {
			atomic_store(&r->yield, true);
			tcg_vcpu_signal_locked(r);
		}
		pthread_cond_broadcast(&vm->wake);
		pthread_cond_broadcast(&vm->park);
		pthread_mutex_unlock(&vm->lock);
		return;
	}
	atomic_store(&v->kick, true);
	pthread_cond_broadcast(&vm->wake);
	tcg_vcpu_signal_locked(v);
	pthread_mutex_unlock(&vm->lock);
}

/* HLT: sleep until an interrupt can be taken, an NMI or a kick. With IF
 * clear only an NMI or a kick ends it. A kick ends the wait but not
 * the halt: the vCPU goes back to sleep on its next run, as a real CPU
 * paused in HLT would, and a snapshot taken meanwhile says HALTED. */
static void wait_halted(struct backend_vcpu *v)
{
	struct backend_vm *vm = v->vm;
	bool if_set = tcg_reg(v->uc, UC_X86_REG_RFLAGS) & X86_RFLAGS_IF;
	pthread_mutex_lock(&vm->lock);
	while (v->halted && !atomic_load(&v->kick) && !tcg_nmi_pending_locked(vm, v->index) &&
	       !(if_set && tcg_intr_output_locked(vm, v->index)))
		pthread_cond_wait(&vm->wake, &vm->lock);
	pthread_mutex_unlock(&vm->lock);
}

int tcg_vcpu_run(struct backend_vcpu *v, struct vcpu_exit *exit)
{
	struct backend_vm *vm = v->vm;
	if (vm->nr_lapics > 1)
		return v->index ? tcg_smp_park(v, exit) : tcg_smp_run(v, exit);
	tcg_qemu_set_current(&v->q);
	for (;;) {
		if (atomic_exchange(&v->kick, false)) {
			memset(exit, 0, sizeof(*exit));
			exit->reason = VCPU_EXIT_KICKED;
			return 0;
		}
		if (v->exit_set) {
			v->exit_set = false;
			tcg_fill_error(exit, v->exit_reason, 0, v->exit_what);
			return 0;
		}
		if (v->halted) {
			wait_halted(v);
			pthread_mutex_lock(&vm->lock);
			if (!atomic_load(&v->kick))
				v->halted = false;
			pthread_mutex_unlock(&vm->lock);
			continue; /* the interrupt is taken by tcg_irq_hook */
		}

		/* The control registers as they are now: the TLB filler uses
		 * them to find QEMU's CPU state on its first call. */
		if (v->q.env_off < 0) {
			uc_x86_msr efer = { MSR_EFER, 0 };
			uc_reg_read(v->uc, UC_X86_REG_MSR, &efer);
			for (int i = 0; i < 5; i++)
				v->q.cr[i] = i == 1 ? 0 : tcg_reg(v->uc, UC_X86_REG_CR0 + i);
			v->q.efer = efer.value;
		}
		v->delivered = false;
		v->stopped = false;
		atomic_store(&v->running, true);
		/* A kick that came before running was set found nothing to stop. */
		if (atomic_load(&v->kick)) {
			atomic_store(&v->running, false);
			continue;
		}
		tcg_guest_enter(v); /* drains device writes first */
		uc_err err = uc_emu_start(v->uc, tcg_reg(v->uc, UC_X86_REG_RIP), 0, 0, 0);
		tcg_guest_leave(v);
		atomic_store(&v->running, false);
		if (err != UC_ERR_OK) {
			char what[64];
			snprintf(what, sizeof(what), "unicorn: %s", uc_strerror(err));
			tcg_fill_error(exit, VCPU_EXIT_INTERNAL_ERROR, err, what);
			return 0;
		}
		if (v->exit_set || v->delivered || v->stopped)
			continue;
		/* Nobody stopped the engine: the guest executed HLT (unicorn
		 * ends the run after it, RIP past the instruction). */
		uint64_t rip = tcg_reg(v->uc, UC_X86_REG_RIP);
		if (tcg_fetch_byte(v, rip - 1) == HLT_OPCODE) {
			pthread_mutex_lock(&vm->lock);
			v->halted = true;
			pthread_mutex_unlock(&vm->lock);
		}
	}
}
