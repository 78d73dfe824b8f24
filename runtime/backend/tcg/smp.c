/* Several vCPUs on the software CPU (see tcg.h, docs/architecture.md). */
#include "runtime/backend/tcg/tcg.h"

#include <string.h>
#include <stdio.h>
#include <time.h>

#include "runtime/backend/x86.h"
#include "runtime/backend/tcg/uc.h"

#define HLT_OPCODE 0xf4

/* Several vCPUs run round-robin on vCPU 0's thread, as QEMU's
 * single-threaded TCG runs its CPUs: unicorn 2.0 has no MTTCG, its
 * `lock`-prefixed instructions are not atomic across host threads, and
 * one thread makes every guest instruction sequentially consistent. Each
 * vCPU has its own engine over the same guest RAM. A vCPU runs until its
 * slice (TCG_SLICE_NS) is over, it halts, it sends an IPI, or vCPU 0 is
 * kicked. Stores into pages another engine translated code from are
 * recorded by the TLB fill (qemu.h, peers) and that engine drops the
 * code before it runs again; each slice starts with an empty TLB so that
 * every page's first store is seen. The other vCPUs' threads wait in
 * park() for their kick, which is how pause and the end reach them; an
 * exit of any vCPU (shutdown, internal error) is returned on vCPU 0's
 * thread, naming the vCPU it is about (vcpu_exit.other). Lock rules: vm->lock guards running, the wait states and the
 * APICs; the engines are touched by vCPU 0's thread only, and by the VMM
 * thread while every vCPU is paused (registers, snapshots). */
int tcg_smp_park(struct backend_vcpu *v, struct vcpu_exit *exit)
{
	struct backend_vm *vm = v->vm;
	pthread_mutex_lock(&vm->lock);
	while (!atomic_load(&v->kick))
		pthread_cond_wait(&vm->park, &vm->lock);
	atomic_store(&v->kick, false);
	pthread_mutex_unlock(&vm->lock);
	memset(exit, 0, sizeof(*exit));
	exit->reason = VCPU_EXIT_KICKED;
	return 0;
}

/* INIT and startup IPIs the APICs took (lock held, vCPU 0's thread):
 * marks in *sipi the APs to start at (*vec)[i] once the lock is dropped
 * (setting registers takes it). */
static void start_aps_locked(struct backend_vm *vm, bool sipi[TCG_MAX_VCPUS],
			     uint8_t vec[TCG_MAX_VCPUS])
{
	for (unsigned i = 1; i < vm->nr_vcpus; i++) {
		struct tcg_lapic *l = &vm->lapic[i];
		struct backend_vcpu *v = vm->vcpus[i];
		if (l->init_pending) {
			l->init_pending = false;
			l->wait_sipi = true;
			l->sipi_vector = -1;
			v->halted = false;
		}
		if (l->wait_sipi && l->sipi_vector >= 0) {
			vec[i] = (uint8_t)l->sipi_vector;
			sipi[i] = true;
			l->wait_sipi = false;
			l->sipi_vector = -1;
			v->halted = false;
			v->exit_set = false;
		}
	}
	vm->lapic[0].init_pending = false; /* the BSP ignores INIT */
}

/* Whether v can run now (lock held). */
static bool runnable_locked(struct backend_vcpu *v)
{
	struct backend_vm *vm = v->vm;
	if (vm->lapic[v->index].wait_sipi)
		return false;
	if (!v->halted || tcg_nmi_pending_locked(vm, v->index))
		return true;
	bool if_set = tcg_reg(v->uc, UC_X86_REG_RFLAGS) & X86_RFLAGS_IF;
	return if_set && tcg_intr_output_locked(vm, v->index);
}

/* The exit is v's, returned on vCPU 0's thread: the VM layer reports it
 * as v's (backend.h). */
static void exit_of(const struct backend_vcpu *v, struct vcpu_exit *exit)
{
	exit->other = v->index != 0;
	exit->vcpu = v->index;
}

/* One run of v's engine; true with *exit filled if the caller must return. */
static bool run_once(struct backend_vcpu *v, struct vcpu_exit *exit)
{
	struct backend_vm *vm = v->vm;
	if (v->exit_set) {
		v->exit_set = false;
		tcg_fill_error(exit, v->exit_reason, 0, v->exit_what);
		exit_of(v, exit);
		return true;
	}
	/* TCG drops EFER.SCE from the guest's WRMSR and SYSRET raises #UD
	 * without it; the SYSCALL hook puts it back, but a task that made its
	 * system call on one vCPU may return with SYSRET on another: every
	 * vCPU in IA-32e mode gets it (and NXE) before it runs. */
	uc_x86_msr cur = { MSR_EFER, 0 };
	uc_reg_read(v->uc, UC_X86_REG_MSR, &cur);
	if ((cur.value & X86_EFER_LMA) && !(cur.value & X86_EFER_SCE)) {
		tcg_env_save(&v->env);
		uint64_t e = tcg_env_u64(&v->env, TCG_ENV_EFER);
		tcg_env_set_u64(&v->env, TCG_ENV_EFER,
				e | X86_EFER_SCE | (v->q.nx ? X86_EFER_NXE : 0));
		tcg_env_restore(&v->env);
	}
	if (v->q.env_off < 0) {
		uc_x86_msr efer = { MSR_EFER, 0 };
		uc_reg_read(v->uc, UC_X86_REG_MSR, &efer);
		for (int i = 0; i < 5; i++)
			v->q.cr[i] = i == 1 ? 0 : tcg_reg(v->uc, UC_X86_REG_CR0 + i);
		v->q.efer = efer.value;
	}
	tcg_qemu_set_current(&v->q);
	/* A fresh TLB: the first store to each page comes to the fill, which
	 * tells the other engines about their code (see above). */
	tcg_qemu_tlb_flush(&v->q);
	v->delivered = false;
	v->stopped = false;
	pthread_mutex_lock(&vm->lock);
	v->halted = false;
	atomic_store(&v->yield, false);
	v->slice_end = tcg_now_ns() + TCG_SLICE_NS;
	vm->running = v;
	atomic_store(&v->running, true);
	pthread_cond_signal(&vm->timer_wake);
	bool stop = atomic_load(&vm->vcpus[0]->kick);
	pthread_mutex_unlock(&vm->lock);
	uc_err err = UC_ERR_OK;
	if (!stop) {
		tcg_guest_enter(v);
		err = uc_emu_start(v->uc, tcg_reg(v->uc, UC_X86_REG_RIP), 0, 0, 0);
		tcg_guest_leave(v);
	}
	pthread_mutex_lock(&vm->lock);
	atomic_store(&v->running, false);
	vm->running = NULL;
	atomic_store(&v->yield, false);
	pthread_mutex_unlock(&vm->lock);
	if (err != UC_ERR_OK) {
		char what[64];
		snprintf(what, sizeof(what), "unicorn: %s", uc_strerror(err));
		tcg_fill_error(exit, VCPU_EXIT_INTERNAL_ERROR, err, what);
		exit_of(v, exit);
		return true;
	}
	if (stop || v->exit_set || v->delivered || v->stopped)
		return false;
	uint64_t rip = tcg_reg(v->uc, UC_X86_REG_RIP);
	if (tcg_fetch_byte(v, rip - 1) == HLT_OPCODE) {
		pthread_mutex_lock(&vm->lock);
		v->halted = true;
		pthread_mutex_unlock(&vm->lock);
	}
	return false;
}

int tcg_smp_run(struct backend_vcpu *v0, struct vcpu_exit *exit)
{
	struct backend_vm *vm = v0->vm;
	unsigned next = 0;
	for (;;) {
		pthread_mutex_lock(&vm->lock);
		if (atomic_exchange(&v0->kick, false)) {
			pthread_mutex_unlock(&vm->lock);
			memset(exit, 0, sizeof(*exit));
			exit->reason = VCPU_EXIT_KICKED;
			return 0;
		}
		bool sipi[TCG_MAX_VCPUS] = { false };
		uint8_t vec[TCG_MAX_VCPUS];
		start_aps_locked(vm, sipi, vec);
		bool started = false;
		for (unsigned i = 1; i < vm->nr_vcpus; i++)
			started |= sipi[i];
		if (started) {
			pthread_mutex_unlock(&vm->lock);
			for (unsigned i = 1; i < vm->nr_vcpus; i++)
				if (sipi[i])
					tcg_vcpu_startup(vm->vcpus[i], vec[i]);
			continue;
		}
		struct backend_vcpu *pick = NULL;
		for (unsigned k = 0; k < vm->nr_vcpus && !pick; k++) {
			struct backend_vcpu *c = vm->vcpus[(next + k) % vm->nr_vcpus];
			if (c->exit_set || runnable_locked(c))
				pick = c;
		}
		if (!pick) {
			/* Every vCPU halted or waiting for SIPI: until an interrupt,
			 * a kick or a timer (bounded, as the conditions span vCPUs). */
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 10000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&vm->wake, &vm->lock, &ts);
			pthread_mutex_unlock(&vm->lock);
			continue;
		}
		pthread_mutex_unlock(&vm->lock);
		next = (pick->index + 1) % vm->nr_vcpus;
		if (run_once(pick, exit))
			return 0;
	}
}
