/* The TCG vCPU: one unicorn engine, its memory map, the run loop and the
 * register accessors. */
#include "runtime/backend/tcg/tcg.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/base/bus.h"
#include "runtime/base/log.h"
#include "runtime/backend/tcg/cpuid.h"
#include "runtime/backend/tcg/mmu.h"
#include "runtime/backend/x86.h"

#define MSR_EFER 0xc0000080u
#define MSR_PAT 0x277u
#define PAT_POWER_ON 0x0007040600070406ULL /* SDM Vol. 3A §11.12.4 */
#define HLT_OPCODE 0xf4

static uint64_t reg(uc_engine *uc, int id)
{
	uint64_t v = 0;
	uc_reg_read(uc, id, &v);
	return v;
}

static void set_reg(uc_engine *uc, int id, uint64_t v)
{
	uc_reg_write(uc, id, &v);
}

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
	if (size <= 8) {
		tcg_guest_leave(g->vm->vcpu);
		bus_read(g->vm->mmio_bus, g->base + off, &v, size);
		tcg_guest_enter(g->vm->vcpu);
	}
	return v;
}

static void gap_write(uc_engine *uc, uint64_t off, unsigned size, uint64_t val, void *opaque)
{
	(void)uc;
	struct tcg_gap *g = opaque;
	if (size <= 8) {
		tcg_guest_leave(g->vm->vcpu);
		bus_write(g->vm->mmio_bus, g->base + off, &val, size);
		tcg_guest_enter(g->vm->vcpu);
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
	*g = (struct tcg_gap){ v->vm, base, end - base + 1 };
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

int tcg_vcpu_create(struct backend_vm *vm, unsigned index, struct backend_vcpu **out)
{
	char why[256];
	if (index != 0 || vm->vcpu)
		return -EINVAL;
	struct backend_vcpu *v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->vm = vm;
	v->q.mem = vm->mem;
	v->q.nx = tcg_cpuid_has_nx();
	v->q.env_off = -1;
	v->q.irq_hook = tcg_irq_hook;
	v->q.on_cs = tcg_on_cs;
	int r = -ENOMEM;
	if (uc_open(UC_ARCH_X86, UC_MODE_64, &v->uc) != UC_ERR_OK)
		goto fail;
	v->q.uc = v->uc;
	r = tcg_qemu_init_pages(&v->q);
	if (r)
		goto fail;
	tcg_qemu_chain_reset();
	r = tcg_env_calibrate(&v->env, v->uc, why, sizeof(why));
	if (r) {
		log_err("tcg: %s", why);
		goto fail;
	}
	r = tcg_vcpu_map(v);
	if (r) {
		log_err("tcg: cannot build the memory map: %s", strerror(-r));
		goto fail;
	}
	/* uc_emu_start's "until" address would stop the guest if reached:
	 * use the exits list instead, and leave it empty. */
	if (uc_ctl_exits_enable(v->uc) != UC_ERR_OK || uc_ctl_set_exits(v->uc, NULL, 0) != UC_ERR_OK) {
		r = -ENOTSUP;
		goto fail;
	}
	uc_x86_msr pat = { MSR_PAT, PAT_POWER_ON };
	uc_reg_write(v->uc, UC_X86_REG_MSR, &pat);
	r = tcg_hooks_install(v);
	if (r)
		goto fail;
	pthread_mutex_lock(&vm->lock);
	vm->vcpu = v;
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
	pthread_mutex_lock(&v->vm->lock);
	v->vm->vcpu = NULL;
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
	if (!atomic_exchange(&v->kick, true)) {
		v->kick_since = tcg_now_ns();
		pthread_cond_signal(&vm->timer_wake);
	}
	pthread_cond_broadcast(&vm->wake);
	tcg_vcpu_signal_locked(v);
	pthread_mutex_unlock(&vm->lock);
}

/* HLT: sleep until an interrupt can be taken or a kick. With IF clear
 * only a kick ends it (there are no NMIs). */
static void wait_halted(struct backend_vcpu *v)
{
	struct backend_vm *vm = v->vm;
	bool if_set = reg(v->uc, UC_X86_REG_RFLAGS) & X86_RFLAGS_IF;
	pthread_mutex_lock(&vm->lock);
	while (v->halted && !atomic_load(&v->kick) && !(if_set && tcg_pic_output(&vm->pic)))
		pthread_cond_wait(&vm->wake, &vm->lock);
	pthread_mutex_unlock(&vm->lock);
}

static void fill_error(struct backend_vcpu *v, struct vcpu_exit *exit, enum vcpu_exit_reason why,
		       uint64_t code, const char *what)
{
	memset(exit, 0, sizeof(*exit));
	exit->reason = why;
	exit->error.code = code;
	snprintf(exit->error.what, sizeof(exit->error.what), "%s", what);
	(void)v;
}

int tcg_vcpu_run(struct backend_vcpu *v, struct vcpu_exit *exit)
{
	struct backend_vm *vm = v->vm;
	tcg_qemu_set_current(&v->q);
	for (;;) {
		if (atomic_exchange(&v->kick, false)) {
			memset(exit, 0, sizeof(*exit));
			exit->reason = VCPU_EXIT_KICKED;
			return 0;
		}
		if (v->exit_set) {
			v->exit_set = false;
			fill_error(v, exit, v->exit_reason, 0, v->exit_what);
			return 0;
		}
		if (v->halted) {
			wait_halted(v);
			pthread_mutex_lock(&vm->lock);
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
				v->q.cr[i] = i == 1 ? 0 : reg(v->uc, UC_X86_REG_CR0 + i);
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
		uc_err err = uc_emu_start(v->uc, reg(v->uc, UC_X86_REG_RIP), 0, 0, 0);
		tcg_guest_leave(v);
		atomic_store(&v->running, false);
		if (err != UC_ERR_OK) {
			char what[64];
			snprintf(what, sizeof(what), "unicorn: %s", uc_strerror(err));
			fill_error(v, exit, VCPU_EXIT_INTERNAL_ERROR, err, what);
			return 0;
		}
		if (v->exit_set || v->delivered || v->stopped)
			continue;
		/* Nobody stopped the engine: the guest executed HLT (unicorn
		 * ends the run after it, RIP past the instruction). */
		uint64_t rip = reg(v->uc, UC_X86_REG_RIP);
		if (tcg_fetch_byte(v, rip - 1) == HLT_OPCODE) {
			pthread_mutex_lock(&vm->lock);
			v->halted = true;
			pthread_mutex_unlock(&vm->lock);
		}
	}
}

static const int gpr_ids[16] = {
	UC_X86_REG_RAX, UC_X86_REG_RBX, UC_X86_REG_RCX, UC_X86_REG_RDX,
	UC_X86_REG_RSI, UC_X86_REG_RDI, UC_X86_REG_RSP, UC_X86_REG_RBP,
	UC_X86_REG_R8,	UC_X86_REG_R9,	UC_X86_REG_R10, UC_X86_REG_R11,
	UC_X86_REG_R12, UC_X86_REG_R13, UC_X86_REG_R14, UC_X86_REG_R15,
};

int tcg_get_regs(struct backend_vcpu *v, struct x86_regs *regs)
{
	uint64_t *r = &regs->rax; /* x86_regs starts with the 16 GPRs in this order */
	for (int i = 0; i < 16; i++)
		r[i] = reg(v->uc, gpr_ids[i]);
	regs->rip = reg(v->uc, UC_X86_REG_RIP);
	regs->rflags = reg(v->uc, UC_X86_REG_RFLAGS);
	return 0;
}

int tcg_set_regs(struct backend_vcpu *v, const struct x86_regs *regs)
{
	const uint64_t *r = &regs->rax;
	for (int i = 0; i < 16; i++)
		set_reg(v->uc, gpr_ids[i], r[i]);
	set_reg(v->uc, UC_X86_REG_RIP, regs->rip);
	set_reg(v->uc, UC_X86_REG_RFLAGS, regs->rflags | X86_RFLAGS_FIXED);
	return 0;
}

static struct tcg_seg seg_in(const struct x86_segment *s)
{
	bool p = s->present && !s->unusable;
	uint32_t f = (uint32_t)(s->type & 0xf) << 8 | (uint32_t)(s->s & 1) << 12 |
		     (uint32_t)(s->dpl & 3) << 13 | (uint32_t)p << 15 | (uint32_t)(s->avl & 1) << 20 |
		     (uint32_t)(s->l & 1) << 21 | (uint32_t)(s->db & 1) << 22 | (uint32_t)(s->g & 1) << 23;
	return (struct tcg_seg){ s->base, s->limit, f, s->selector };
}

static struct x86_segment seg_out(const struct tcg_seg *s)
{
	return (struct x86_segment){
		.base = s->base, .limit = s->limit, .selector = s->sel,
		.type = (s->flags >> 8) & 0xf, .s = (s->flags >> 12) & 1,
		.dpl = (s->flags >> 13) & 3, .present = (s->flags >> 15) & 1,
		.avl = (s->flags >> 20) & 1, .l = (s->flags >> 21) & 1,
		.db = (s->flags >> 22) & 1, .g = (s->flags >> 23) & 1,
		.unusable = !((s->flags >> 15) & 1),
	};
}

static const size_t seg_offs[6] = {
	TCG_ENV_SEGS + TCG_R_CS * TCG_SC_SIZE, TCG_ENV_SEGS + TCG_R_DS * TCG_SC_SIZE,
	TCG_ENV_SEGS + TCG_R_ES * TCG_SC_SIZE, TCG_ENV_SEGS + TCG_R_FS * TCG_SC_SIZE,
	TCG_ENV_SEGS + TCG_R_GS * TCG_SC_SIZE, TCG_ENV_SEGS + TCG_R_SS * TCG_SC_SIZE,
};

int tcg_get_sregs(struct backend_vcpu *v, struct x86_sregs *s)
{
	struct x86_segment *segs[6] = { &s->cs, &s->ds, &s->es, &s->fs, &s->gs, &s->ss };
	struct tcg_seg t;
	memset(s, 0, sizeof(*s));
	tcg_env_save(&v->env);
	for (int i = 0; i < 6; i++) {
		tcg_env_get_seg(&v->env, seg_offs[i], &t);
		*segs[i] = seg_out(&t);
	}
	tcg_env_get_seg(&v->env, TCG_ENV_TR, &t);
	s->tr = seg_out(&t);
	tcg_env_get_seg(&v->env, TCG_ENV_LDT, &t);
	s->ldt = seg_out(&t);
	s->gdt.base = tcg_env_u64(&v->env, TCG_ENV_GDT + TCG_SC_BASE);
	s->gdt.limit = (uint16_t)tcg_env_u32(&v->env, TCG_ENV_GDT + TCG_SC_LIMIT);
	s->idt.base = tcg_env_u64(&v->env, TCG_ENV_IDT + TCG_SC_BASE);
	s->idt.limit = (uint16_t)tcg_env_u32(&v->env, TCG_ENV_IDT + TCG_SC_LIMIT);
	s->cr0 = tcg_env_u64(&v->env, TCG_ENV_CR);
	s->cr2 = tcg_env_u64(&v->env, TCG_ENV_CR + 16);
	s->cr3 = tcg_env_u64(&v->env, TCG_ENV_CR + 24);
	s->cr4 = tcg_env_u64(&v->env, TCG_ENV_CR + 32);
	s->efer = tcg_env_u64(&v->env, TCG_ENV_EFER);
	s->cr8 = v->cr8;
	s->apic_base = v->apic_base;
	return 0;
}

int tcg_set_sregs(struct backend_vcpu *v, const struct x86_sregs *s)
{
	const struct x86_segment *segs[6] = { &s->cs, &s->ds, &s->es, &s->fs, &s->gs, &s->ss };
	uc_engine *uc = v->uc;

	/* Control registers through the API, in an order that keeps QEMU's
	 * long-mode bookkeeping right: paging off, EFER, CR4, CR3, then CR0
	 * (setting PG with EFER.LME and CR4.PAE activates IA-32e mode). */
	set_reg(uc, UC_X86_REG_CR0, (s->cr0 & ~X86_CR0_PG) | X86_CR0_ET);
	uc_x86_msr efer = { MSR_EFER, s->efer & ~X86_EFER_LMA };
	uc_reg_write(uc, UC_X86_REG_MSR, &efer);
	set_reg(uc, UC_X86_REG_CR4, s->cr4);
	set_reg(uc, UC_X86_REG_CR3, s->cr3);
	set_reg(uc, UC_X86_REG_CR0, s->cr0 | X86_CR0_ET);
	v->cr8 = s->cr8; /* no local APIC: the TPR is kept, unused */
	v->apic_base = s->apic_base;

	/* Hidden segment state, descriptor tables and the EFER bits WRMSR
	 * drops, straight into QEMU's state (tcg_env.h). */
	tcg_env_save(&v->env);
	for (int i = 0; i < 6; i++) {
		struct tcg_seg t = seg_in(segs[i]);
		tcg_env_set_seg(&v->env, seg_offs[i], &t);
	}
	struct tcg_seg tr = seg_in(&s->tr), ldt = seg_in(&s->ldt);
	tcg_env_set_seg(&v->env, TCG_ENV_TR, &tr);
	tcg_env_set_seg(&v->env, TCG_ENV_LDT, &ldt);
	tcg_env_set_u64(&v->env, TCG_ENV_GDT + TCG_SC_BASE, s->gdt.base);
	tcg_env_set_u32(&v->env, TCG_ENV_GDT + TCG_SC_LIMIT, s->gdt.limit);
	tcg_env_set_u64(&v->env, TCG_ENV_IDT + TCG_SC_BASE, s->idt.base);
	tcg_env_set_u32(&v->env, TCG_ENV_IDT + TCG_SC_LIMIT, s->idt.limit);
	tcg_env_set_u64(&v->env, TCG_ENV_CR + 16, s->cr2);
	uint64_t lma = tcg_env_u64(&v->env, TCG_ENV_EFER) & X86_EFER_LMA;
	tcg_env_set_u64(&v->env, TCG_ENV_EFER, (s->efer & ~X86_EFER_LMA) | lma);
	tcg_env_sync_hflags(&v->env);
	tcg_env_restore(&v->env);
	return 0;
}

int tcg_translate(struct backend_vcpu *v, uint64_t gva, uint64_t *gpa)
{
	uc_x86_msr efer = { MSR_EFER, 0 };
	uc_reg_read(v->uc, UC_X86_REG_MSR, &efer);
	struct tcg_paging pg = { reg(v->uc, UC_X86_REG_CR0), reg(v->uc, UC_X86_REG_CR3),
				 reg(v->uc, UC_X86_REG_CR4), efer.value, v->q.nx };
	struct tcg_walk w;
	uint32_t err;
	if (tcg_mmu_walk(v->vm->mem, &pg, gva, TCG_ACC_READ, false, false, &w, &err))
		return -EFAULT;
	*gpa = w.gpa;
	return 0;
}
