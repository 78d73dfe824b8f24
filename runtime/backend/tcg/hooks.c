/* The TCG vCPU's unicorn hooks: port I/O, CPUID, SYSCALL, exceptions,
 * and external interrupts at QEMU's own interrupt check (qemu/qemu.h). No
 * per-instruction or per-block hooks: they cost more than the guest's own
 * work. */
#include "runtime/backend/tcg/tcg.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "runtime/base/bus.h"
#include "runtime/base/log.h"
#include "runtime/backend/tcg/cpuid.h"
#include "runtime/backend/tcg/deliver.h"
#include "runtime/backend/x86.h"
#include "runtime/backend/tcg/uc.h"

#define MSR_STAR 0xc0000081u
#define MSR_LSTAR 0xc0000082u
#define MSR_CSTAR 0xc0000083u
#define MSR_FMASK 0xc0000084u
#define SYSCALL_LEN 2 /* 0f 05: unicorn adds it to RIP after our hook */
/* env offset of exception_is_int (next to error_code, QEMU's cpu.h). */
#define TCG_ENV_EXCEPTION_IS_INT (TCG_ENV_ERROR_CODE + 4)

static uint64_t msr(uc_engine *uc, uint32_t index)
{
	uc_x86_msr m = { index, 0 };
	uc_reg_read(uc, UC_X86_REG_MSR, &m);
	return m.value;
}

static void set_exit(struct backend_vcpu *v, enum vcpu_exit_reason why, const char *what)
{
	v->exit_reason = why;
	v->exit_set = true;
	snprintf(v->exit_what, sizeof(v->exit_what), "%s", what);
	uc_emu_stop(v->uc);
}

/* Delivers ev on the CPU state in e (a saved snapshot, or the live state
 * when live) and writes the result back; a fault while delivering a #DF
 * shuts the machine down. */
static bool deliver_on(struct backend_vcpu *v, struct tcg_env *e, bool live, struct tcg_event ev)
{
	struct tcg_cpu cpu;
	tcg_env_to_cpu(e, &cpu);
	cpu.nx = v->q.nx;
	cpu.dirty = v->q.dirty;
	enum tcg_deliver_result r = tcg_deliver(&cpu, v->vm->mem, ev);
	if (r != TCG_DELIVERED) {
		char what[64];
		snprintf(what, sizeof(what), r == TCG_TRIPLE_FAULT ? "triple fault (vector %u)"
				   : "exception %u outside IA-32e mode", ev.vector);
		log_err("tcg: vCPU %u: %s at RIP 0x%" PRIx64, v->index, what, cpu.rip);
		set_exit(v, VCPU_EXIT_SHUTDOWN, what);
		return false;
	}
	tcg_env_from_cpu(e, &cpu);
	if (!live)
		tcg_env_restore(e);
	uc_reg_write(v->uc, UC_X86_REG_RFLAGS, &cpu.rflags);
	v->delivered = true;
	return true;
}

static void deliver(struct backend_vcpu *v, struct tcg_event ev)
{
	tcg_env_save(&v->env);
	deliver_on(v, &v->env, false, ev);
}

/* Every exception but #UD: RIP is on the faulting instruction (after it
 * for traps and INT n), CR2 set for #PF, the error code in QEMU's state. */
static void hook_intr(uc_engine *uc, uint32_t intno, void *opaque)
{
	(void)uc;
	struct backend_vcpu *v = opaque;
	tcg_env_save(&v->env);
	bool soft = tcg_env_u32(&v->env, TCG_ENV_EXCEPTION_IS_INT);
	uint32_t err = tcg_env_u32(&v->env, TCG_ENV_ERROR_CODE);
	if (intno > 255) {
		set_exit(v, VCPU_EXIT_INTERNAL_ERROR, "unicorn reported a bad exception number");
		return;
	}
	struct tcg_event ev = { (uint8_t)intno, soft ? TCG_EV_SOFTINT : TCG_EV_EXCEPTION,
				!soft && tcg_exception_has_error((uint8_t)intno), err };
	deliver(v, ev);
}

/* #UD: unicorn reports it as an invalid instruction and stops the run
 * afterwards; Linux needs it delivered (BUG/WARN use UD2). */
static bool hook_invalid(uc_engine *uc, void *opaque)
{
	(void)uc;
	struct backend_vcpu *v = opaque;
	deliver(v, (struct tcg_event){ TCG_UD, TCG_EV_EXCEPTION, false, 0 });
	return true;
}

static uint32_t hook_in(uc_engine *uc, uint32_t port, int size, void *opaque)
{
	(void)uc;
	struct backend_vcpu *v = opaque;
	uint32_t val = 0;
	if (!tcg_platform_in(v->vm, (uint16_t)port, &val)) {
		tcg_guest_leave(v);
		bus_read(v->vm->pio_bus, (uint16_t)port, &val, (uint32_t)size);
		tcg_guest_enter(v);
	}
	return val;
}

static void hook_out(uc_engine *uc, uint32_t port, int size, uint32_t value, void *opaque)
{
	(void)uc;
	struct backend_vcpu *v = opaque;
	if (!tcg_platform_out(v->vm, (uint16_t)port, value)) {
		tcg_guest_leave(v);
		bus_write(v->vm->pio_bus, (uint16_t)port, &value, (uint32_t)size);
		tcg_guest_enter(v);
	}
}

static int hook_cpuid(uc_engine *uc, void *opaque)
{
	struct backend_vcpu *v = opaque;
	struct tcg_cpuid_regs r;
	uint32_t leaf = (uint32_t)tcg_reg(uc, UC_X86_REG_RAX);
	uint32_t subleaf = (uint32_t)tcg_reg(uc, UC_X86_REG_RCX);
	tcg_vcpu_cpuid(v->vm, v->index, leaf, subleaf, &r);
	uint64_t a = r.eax, b = r.ebx, c = r.ecx, d = r.edx;
	uc_reg_write(uc, UC_X86_REG_RAX, &a);
	uc_reg_write(uc, UC_X86_REG_RBX, &b);
	uc_reg_write(uc, UC_X86_REG_RCX, &c);
	uc_reg_write(uc, UC_X86_REG_RDX, &d);
	return 1; /* skip unicorn's own CPUID */
}

/* Unicorn's SYSCALL runs the hooks instead of the instruction. */
static void hook_syscall(uc_engine *uc, void *opaque)
{
	struct backend_vcpu *v = opaque;
	struct tcg_cpu cpu;
	uint64_t rcx, r11;
	uint64_t star = msr(uc, MSR_STAR), lstar = msr(uc, MSR_LSTAR);
	uint64_t cstar = msr(uc, MSR_CSTAR), fmask = msr(uc, MSR_FMASK);

	tcg_env_save(&v->env);
	tcg_env_to_cpu(&v->env, &cpu);
	if (!tcg_syscall(&cpu, star, lstar, cstar, fmask, cpu.rip + SYSCALL_LEN, &rcx, &r11)) {
		set_exit(v, VCPU_EXIT_INTERNAL_ERROR, "SYSCALL outside IA-32e mode");
		return;
	}
	/* SYSRET checks EFER.SCE, which TCG dropped from the guest's WRMSR. */
	cpu.efer |= X86_EFER_SCE | (v->q.nx ? X86_EFER_NXE : 0);
	cpu.rip -= SYSCALL_LEN;
	tcg_env_set_u64(&v->env, TCG_ENV_REGS + 1 * 8, rcx);
	tcg_env_set_u64(&v->env, TCG_ENV_REGS + 11 * 8, r11);
	tcg_env_from_cpu(&v->env, &cpu);
	tcg_env_restore(&v->env);
	uc_reg_write(uc, UC_X86_REG_RFLAGS, &cpu.rflags);
}

int tcg_hooks_install(struct backend_vcpu *v)
{
	uc_hook h;
	uc_engine *uc = v->uc;
	if (uc_hook_add(uc, &h, UC_HOOK_INTR, hook_intr, v, 1, 0) ||
	    uc_hook_add(uc, &h, UC_HOOK_INSN_INVALID, hook_invalid, v, 1, 0) ||
	    uc_hook_add(uc, &h, UC_HOOK_INSN, hook_in, v, 1, 0, UC_X86_INS_IN) ||
	    uc_hook_add(uc, &h, UC_HOOK_INSN, hook_out, v, 1, 0, UC_X86_INS_OUT) ||
	    uc_hook_add(uc, &h, UC_HOOK_INSN, hook_cpuid, v, 1, 0, UC_X86_INS_CPUID) ||
	    uc_hook_add(uc, &h, UC_HOOK_INSN, hook_syscall, v, 1, 0, UC_X86_INS_SYSCALL))
		return -ENOTSUP;
	return 0;
}

static struct backend_vcpu *vcpu_of(struct tcg_qemu_ctx *q)
{
	return (struct backend_vcpu *)q; /* q is the first member */
}

void tcg_on_cs(struct tcg_qemu_ctx *q)
{
	struct backend_vcpu *v = vcpu_of(q);
	/* Requests made before QEMU's CPU was known went nowhere. */
	pthread_mutex_lock(&v->vm->lock);
	if (tcg_vcpu_must_stop(v) || tcg_intr_output_locked(v->vm, v->index) ||
	    tcg_nmi_pending_locked(v->vm, v->index) || v->inval_done != v->inval_seq)
		tcg_qemu_request(q->cs);
	pthread_mutex_unlock(&v->vm->lock);
}

/* At an instruction boundary with QEMU's CPU state exact: drop code that
 * devices overwrote, end the run for
 * a kick, or take an external interrupt if RFLAGS.IF allows and no STI /
 * MOV SS shadow is in force (SDM Vol. 3A §6.8.1, §6.8.3). While it
 * cannot be taken the request stays raised: QEMU asks again after every
 * instruction that can set IF (STI, POPF, IRET end their blocks). */
bool tcg_irq_hook(struct tcg_qemu_ctx *q, uint8_t *env)
{
	struct backend_vcpu *v = vcpu_of(q);
	struct backend_vm *vm = v->vm;
	struct tcg_env live = { .uc = v->uc, .d = env };

	pthread_mutex_lock(&vm->lock);
	/* Device writes first, in the same hold as clearing the request
	 * below, so that a later one raises it again. */
	tcg_inval_drain_locked(v);
	if (tcg_vcpu_must_stop(v)) {
		pthread_mutex_unlock(&vm->lock);
		v->stopped = true;
		uc_emu_stop(v->uc);
		return false;
	}
	bool shadow = tcg_env_u32(&live, TCG_ENV_HFLAGS) & TCG_HF_INHIBIT_IRQ;
	/* An NMI first (SDM 6.9): not held back by IF, blocked from its
	 * delivery until the next IRET (QEMU's HF2_NMI_MASK, cleared by its
	 * helper_iret), and here, conservatively, by the STI / MOV SS shadow. */
	uint32_t hf2 = tcg_env_u32(&live, TCG_ENV_HFLAGS2);
	if (tcg_nmi_pending_locked(vm, v->index) && !(hf2 & TCG_HF2_NMI_MASK) && !shadow) {
		vm->lapic[v->index].nmi_pending = false;
		bool more = tcg_intr_output_locked(vm, v->index);
		atomic_store(&v->irq_pending, more);
		if (!more)
			tcg_qemu_clear_request(q->cs);
		pthread_mutex_unlock(&vm->lock);
		tcg_env_set_u32(&live, TCG_ENV_HFLAGS2, hf2 | TCG_HF2_NMI_MASK);
		return deliver_on(v, &live, true, (struct tcg_event){ TCG_NMI, TCG_EV_EXTINT, false, 0 });
	}
	if (!tcg_intr_output_locked(vm, v->index)) {
		/* A blocked NMI keeps the request: QEMU asks again after the
		 * IRET, which ends its block. */
		if (!tcg_nmi_pending_locked(vm, v->index))
			tcg_qemu_clear_request(q->cs);
		pthread_mutex_unlock(&vm->lock);
		return false;
	}
	bool if_set = tcg_env_u64(&live, TCG_ENV_EFLAGS) & X86_RFLAGS_IF;
	if (!if_set || shadow) {
		pthread_mutex_unlock(&vm->lock);
		return false;
	}
	int vec = tcg_intr_ack_locked(vm, v->index);
	bool more = tcg_intr_output_locked(vm, v->index) || tcg_nmi_pending_locked(vm, v->index);
	atomic_store(&v->irq_pending, more);
	if (!more)
		tcg_qemu_clear_request(q->cs);
	pthread_mutex_unlock(&vm->lock);
	if (vec < 0)
		return false;
	return deliver_on(v, &live, true, (struct tcg_event){ (uint8_t)vec, TCG_EV_EXTINT, false, 0 });
}
