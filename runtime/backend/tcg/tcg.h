/* Private to the TCG backend (runtime/backend/tcg/): a software vCPU on
 * unicorn 2.0 (QEMU's TCG), with the platform pieces KVM keeps in the
 * kernel — an 8259A pair, an 8254, a local APIC per vCPU and an I/O APIC
 * — in our own code.
 *
 * Threads: the vCPU thread runs uc_emu_start and every hook (port I/O,
 * MMIO, CPUID, SYSCALL, exceptions, interrupt acknowledge); with several
 * vCPUs, vCPU 0's thread runs every engine in turn (smp.c); a timer thread
 * raises IRQ 0 from the PIT; any thread may call set_irq_line or
 * vcpu_kick, which reach a running vCPU through QEMU's interrupt request
 * (qemu/qemu.h). The PIC, PIT, the APICs and the vCPU's wait state are
 * guarded by vm->lock. Port and MMIO accesses reach the buses synchronously on the
 * vCPU thread inside vcpu_run (no VCPU_EXIT_IO / VCPU_EXIT_MMIO), so a
 * device that needs the run loop to act must also kick the vCPU. */
#ifndef EMBER_BACKEND_TCG_TCG_H
#define EMBER_BACKEND_TCG_TCG_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <unicorn/unicorn.h>

#include "runtime/backend/backend.h"
#include "runtime/backend/cpu_template.h"
#include "runtime/backend/tcg/cpuid.h"
#include "runtime/backend/tcg/dirty.h"
#include "runtime/backend/tcg/env.h"
#include "runtime/backend/tcg/ioapic.h"
#include "runtime/backend/tcg/lapic.h"
#include "runtime/backend/tcg/pic.h"
#include "runtime/backend/tcg/pit.h"
#include "runtime/backend/tcg/qemu/qemu.h"

#define TCG_MAX_SLOTS 8
/* vCPUs a VM may have (local APICs). */
#define TCG_MAX_VCPUS 8
/* With several vCPUs, how long one runs before the next gets the host
 * thread (round-robin, see vcpu.c). */
#define TCG_SLICE_NS 2000000LL
#define TCG_MAX_GAPS 8
/* Device writes queued for the vCPU to invalidate; more: all code pages. */
#define TCG_MAX_INVAL 64

struct tcg_slot {
	uint64_t gpa, size;
	void *host;
	unsigned id; /* the VMM's slot number (map_memory, dirty_log) */
};

/* One unicorn MMIO region covering addresses without RAM. */
struct tcg_gap {
	struct backend_vm *vm;
	struct backend_vcpu *vcpu; /* whose engine it is mapped into */
	uint64_t base, size;
};

struct backend_vm {
	struct guest_mem *mem;
	const struct bus *mmio_bus, *pio_bus;
	struct tcg_slot slots[TCG_MAX_SLOTS];
	unsigned nr_slots;
	/* The vCPUs by index (lock to change; fixed once the VM runs). With
	 * more than one they run round-robin on vCPU 0's thread (vcpu.c):
	 * `running` is the one inside uc_emu_start (lock), the others' threads
	 * wait on `park` for their kick. */
	struct backend_vcpu *vcpus[TCG_MAX_VCPUS];
	unsigned nr_vcpus;
	struct backend_vcpu *running;
	pthread_cond_t park;
	/* Their QEMU contexts, the peers each engine's stores are checked
	 * against (qemu.h). */
	struct tcg_qemu_ctx *qctx[TCG_MAX_VCPUS];

	pthread_mutex_t lock;
	pthread_cond_t wake;       /* the vCPU sleeping in HLT */
	pthread_cond_t timer_wake; /* the timer thread (CLOCK_MONOTONIC) */
	struct tcg_pic pic;
	struct tcg_pit pit;
	/* A local APIC per vCPU and the I/O APIC (apic.c). */
	struct tcg_lapic lapic[TCG_MAX_VCPUS];
	unsigned nr_lapics;
	struct tcg_ioapic ioapic;
	int64_t pit_next;          /* next IRQ 0 edge, -1 none */
	bool pit_clamp_logged;     /* the period clamp said once per VM (lock) */
	pthread_cond_t inval_cv;   /* a vCPU drained its invalidations */
	pthread_t timer;
	bool timer_started, quit;
	/* Pages the vCPU wrote (track_dirty; else no bits): dirty.h. */
	struct tcg_dirty dirty;
	/* The guest's TSC rate: what kernel_cmdline told it, or what a
	 * restored snapshot says (VMM thread); 0: the host's, unrecorded. */
	unsigned long tsc_khz;
	bool clock_realtime; /* backend_vm_opts.clock_realtime */
	/* The CPU template (template.c): the VM's copy (NULL: none), and the
	 * CPUID table it shaped, read by the vCPU's CPUID hook. Both fixed
	 * once vm_create returns. */
	struct cpu_template *tmpl;
	struct cpuid_entry *cpuid;
	size_t n_cpuid;
	/* cpuid is a table another backend presented (a snapshot restored
	 * across backends): its topology is the guest's, only the per-vCPU
	 * IDs are put in. */
	bool cpuid_foreign;
};

struct backend_vcpu {
	struct tcg_qemu_ctx q; /* first: the hooks get back to us from it */
	struct backend_vm *vm;
	unsigned index;            /* its local APIC: vm->lapic[index] */
	uc_engine *uc;
	struct tcg_env env;
	struct tcg_gap gaps[TCG_MAX_GAPS];
	uint64_t cr8;

	atomic_bool kick;
	/* Several vCPUs: end this run, the next vCPU's turn (its slice is
	 * over, it sent an IPI, or vCPU 0 was kicked). */
	atomic_bool yield;
	int64_t slice_end;         /* (lock) */
	atomic_bool irq_pending;   /* an interrupt for it (tcg_intr_output_locked) */
	/* Writes over its translated code, by devices or by other vCPUs
	 * (lock): it drops the translations (tcg_inval_drain_locked) before
	 * it runs guest code again, then publishes inval_done = inval_seq on
	 * vm->inval_cv. */
	struct { uint64_t gpa, len; } inval[TCG_MAX_INVAL];
	unsigned nr_inval;
	bool inval_all;
	uint64_t inval_seq, inval_done;
	atomic_bool running;       /* inside uc_emu_start */
	bool stopped;              /* our hook ended this run (vCPU thread) */
	bool halted;               /* in HLT (lock) */
	/* May run guest code without draining the invalidations first (lock):
	 * set from just before uc_emu_start to just after it, except while a
	 * hook is in a bus callback. */
	bool in_guest;

	/* Set by hooks, consumed by vcpu_run. */
	bool delivered;            /* a hook moved RIP: not a HLT */
	enum vcpu_exit_reason exit_reason;
	bool exit_set;
	char exit_what[64];
};

/* vm.c: the platform (PIC, PIT, timer thread). */
int64_t tcg_now_ns(void);
/* Port I/O for ports the platform owns; false if the port is not ours. */
bool tcg_platform_in(struct backend_vm *vm, uint16_t port, uint32_t *val);
bool tcg_platform_out(struct backend_vm *vm, uint16_t port, uint32_t val);
/* After the PIC changed (lock held): publish INTR and wake or stop the vCPU. */
void tcg_platform_notify_locked(struct backend_vm *vm);
/* Makes the vCPU look at interrupts and kicks at its next instruction
 * boundary (lock held). */
void tcg_vcpu_signal_locked(struct backend_vcpu *v);
/* Whether the run loop must stop this vCPU's engine now (lock held). */
bool tcg_vcpu_must_stop(const struct backend_vcpu *v);
/* Queues [gpa, gpa + len) for v to drop before it runs again (lock held). */
void tcg_inval_queue_locked(struct backend_vcpu *v, uint64_t gpa, uint64_t len);
/* vCPU thread, lock held: drops translations of the queued device writes. */
void tcg_inval_drain_locked(struct backend_vcpu *v);
/* vCPU thread, around anything that may block on device code (bus
 * callbacks) and around uc_emu_start: leave stops guest_written from
 * waiting for us; enter drains, then lets it wait again. */
void tcg_guest_leave(struct backend_vcpu *v);
void tcg_guest_enter(struct backend_vcpu *v);

/* apic.c: the local APICs and the I/O APIC, wired in. The _locked
 * functions run under vm->lock; the others take it. */
void tcg_apic_init(struct backend_vm *vm, unsigned nr_vcpus);
/* A device's line: the 8259 (GSI 0-15) and the I/O APIC's pin gsi. */
void tcg_apic_set_irq_locked(struct backend_vm *vm, unsigned gsi, bool level);
/* Whether vCPU index has an external interrupt to take (the 8259 through
 * LINT0, or its local APIC), and its acknowledge: the vector or -1. */
bool tcg_intr_output_locked(const struct backend_vm *vm, unsigned index);
int tcg_intr_ack_locked(struct backend_vm *vm, unsigned index);
/* Whether vCPU index has an NMI to take (an NMI IPI or I/O APIC message):
 * taken by tcg_irq_hook unless NMIs are blocked (until IRET), whatever
 * RFLAGS.IF says; it also ends HLT, even while blocked (the guest halts
 * again: HLT sits in a loop). */
bool tcg_nmi_pending_locked(const struct backend_vm *vm, unsigned index);
/* The local APIC timers: the next expiry (-1 none), and the expiries. */
int64_t tcg_apic_next_locked(const struct backend_vm *vm);
void tcg_apic_tick_locked(struct backend_vm *vm, int64_t now);
/* An MMIO access that the APICs own: handled (true), or the bus's. */
bool tcg_apic_mmio(struct backend_vcpu *v, uint64_t addr, uint64_t *val, unsigned size,
		   bool write);
/* RDMSR/WRMSR of IA32_APIC_BASE, IA32_TSC_DEADLINE and the x2APIC MSRs
 * (qemu.h msr_hook): 0 handled, 1 not the APIC's, -1 #GP. */
int tcg_msr_hook(struct tcg_qemu_ctx *q, uint8_t *env, bool write);
/* SYSENTER, SYSEXIT, SYSCALL by the vendor the guest is shown (qemu.h
 * fast_call_hook; fastcall.c). */
int tcg_fast_call_hook(struct tcg_qemu_ctx *q, uint8_t *env, enum tcg_fast_call which, int arg);
/* Whether the VM's CPUID table (or the fixed one) says GenuineIntel. */
bool tcg_vm_intel(const struct backend_vm *vm);
/* The TSC deadline for snapshots, and its re-arming against the guest's
 * TSC as it is now (tsc) after a restore or a TSC move. */
uint64_t tcg_apic_deadline(struct backend_vcpu *v);
void tcg_apic_rearm_deadline(struct backend_vcpu *v, uint64_t deadline, uint64_t tsc);
/* A vCPU's store into a page another vCPU holds code from (qemu.h). */
void tcg_peer_written(struct tcg_qemu_ctx *q, uint64_t gpa);
/* IA32_APIC_BASE; set: false for a value that raises #GP. */
uint64_t tcg_apic_get_base(struct backend_vcpu *v);
bool tcg_apic_set_base(struct backend_vcpu *v, uint64_t val);
/* The VMM's set_sregs and restores: any value the APIC can hold, no
 * reset; others leave it as it is. */
void tcg_apic_load_base(struct backend_vcpu *v, uint64_t val);

/* vcpu.c: the engine, its memory map and the run loop. */
int tcg_vcpu_create(struct backend_vm *vm, unsigned index, struct backend_vcpu **out,
		    struct errbuf *err);
void tcg_vcpu_destroy(struct backend_vcpu *v);
int tcg_vcpu_run(struct backend_vcpu *v, struct vcpu_exit *exit);
void tcg_vcpu_kick(struct backend_vcpu *v);
/* Maps RAM and the MMIO catch-all regions into a new engine. */
int tcg_vcpu_map(struct backend_vcpu *v);
/* An exit for the caller of vcpu_run (the one vCPU's loop and the SMP
 * scheduler both end runs with it). */
static inline void tcg_fill_error(struct vcpu_exit *exit, enum vcpu_exit_reason why,
				  uint64_t code, const char *what)
{
	memset(exit, 0, sizeof(*exit));
	exit->reason = why;
	exit->error.code = code;
	snprintf(exit->error.what, sizeof(exit->error.what), "%s", what);
}
/* smp.c: several vCPUs, round-robin on vCPU 0's thread (tcg_smp_run);
 * the other vCPUs' threads wait for their kick (tcg_smp_park). */
int tcg_smp_run(struct backend_vcpu *v0, struct vcpu_exit *exit);
int tcg_smp_park(struct backend_vcpu *v, struct vcpu_exit *exit);
/* An AP's startup IPI: real mode at vector << 12 (vcpu_state.c). */
void tcg_vcpu_startup(struct backend_vcpu *v, uint8_t vector);
/* The registers INIT leaves (the vCPU's APIC base kept): what an AP
 * waiting for SIPI holds architecturally, whatever its engine has. */
void tcg_init_state(struct backend_vcpu *v, struct x86_regs *r, struct x86_sregs *s);

/* vcpu_state.c: registers and address translation, for the backend ops
 * and for the run loop and hooks alike. */
int tcg_get_regs(struct backend_vcpu *v, struct x86_regs *regs);
int tcg_set_regs(struct backend_vcpu *v, const struct x86_regs *regs);
int tcg_get_sregs(struct backend_vcpu *v, struct x86_sregs *sregs);
int tcg_set_sregs(struct backend_vcpu *v, const struct x86_sregs *sregs);
int tcg_translate(struct backend_vcpu *v, uint64_t gva, uint64_t *gpa);
/* The byte at linear address la, or -1 (for the HLT checks). */
int tcg_fetch_byte(struct backend_vcpu *v, uint64_t la);

/* state.c: the whole vCPU for snapshots (backend_ops.vcpu_save/restore),
 * from the VMM thread while the vCPU is paused. */
int tcg_vcpu_save(struct backend_vcpu *v, struct x86_cpu_state *st);
int tcg_vcpu_restore(struct backend_vcpu *v, const struct x86_cpu_state *st);
/* The guest's TSC rate in kHz: the restored or announced one, else the
 * host's; 0 if unknown. */
unsigned long tcg_guest_tsc_khz(const struct backend_vm *vm);
/* Moves the guest's TSC on by ns at that rate (a clock_realtime restore). */
void tcg_vcpu_tsc_advance(struct backend_vcpu *v, uint64_t ns);

/* platform_state.c: the PIC pair, the PIT and port 0x61 for snapshots
 * (backend_ops.platform_save/restore). */
int tcg_platform_save(struct backend_vm *vm, void *buf, size_t len);
int tcg_platform_restore(struct backend_vm *vm, const void *buf, size_t len);
/* The same in the neutral form (x86_platform.h, platform_neutral.c). */
int tcg_platform_get(struct backend_vm *vm, struct x86_platform *p);
int tcg_platform_set(struct backend_vm *vm, const struct x86_platform *p, struct errbuf *err);

/* cross.c: CPUID and state across backends (backend.h). */
int tcg_vcpu_get_cpuid(struct backend_vcpu *v, struct cpuid_entry *e, size_t max);
int tcg_vcpu_set_cpuid(struct backend_vcpu *v, const struct cpuid_entry *e, size_t n,
		       const char *from, struct errbuf *err);
int tcg_vcpu_import(struct backend_vcpu *v, struct x86_cpu_state *st, const char *from,
		    struct errbuf *err);

/* dirty.c: backend_ops.dirty_log. */
int tcg_dirty_log(struct backend_vm *vm, unsigned slot, uint64_t *bitmap);

/* hooks.c */
int tcg_hooks_install(struct backend_vcpu *v);

/* template.c: the VM's CPU template, chosen and checked in vm_create;
 * freed with the VM. */
int tcg_template_setup(struct backend_vm *vm, const struct backend_vm_opts *opts,
		       struct errbuf *err);
void tcg_template_free(struct backend_vm *vm);
/* The fixed table as entries (what this CPU can present), calloc'ed. */
int tcg_cpuid_table(struct cpuid_entry **out, size_t *n_out);
/* CPUID as this VM's guest sees it: the fixed table, shaped. */
/* What vCPU `index` reads for CPUID leaf/subleaf: the VM's table, then
 * its topology (the software CPU's own table: cores of one package) or,
 * for a table another backend presented, its per-vCPU IDs only. */
void tcg_vcpu_cpuid(const struct backend_vm *vm, unsigned index, uint32_t leaf, uint32_t subleaf,
		    struct tcg_cpuid_regs *out);
void tcg_template_cpuid(const struct backend_vm *vm, uint32_t leaf, uint32_t subleaf,
			struct tcg_cpuid_regs *out);
/* The template's MSR modifiers on the new vCPU. */
void tcg_template_set_msrs(struct backend_vcpu *v);
/* QEMU's interrupt check (qemu/qemu.h): kicks and external interrupts. */
bool tcg_irq_hook(struct tcg_qemu_ctx *q, uint8_t *env);
void tcg_on_cs(struct tcg_qemu_ctx *q);

#endif
