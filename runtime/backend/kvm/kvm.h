/* Private to the KVM backend (runtime/backend/kvm/). */
#ifndef EMBER_BACKEND_KVM_H
#define EMBER_BACKEND_KVM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "runtime/backend/backend.h"
#include "runtime/backend/cpu_template.h"

/* Memory slots the backend knows, indexed by slot number: Ember maps one
 * per guest RAM region (runtime/base/gmem.h), so a few suffice. */
#define KVM_MAX_SLOTS 8

struct kvm_slot {
	uint64_t size; /* 0: not mapped */
	/* KVM_GET_DIRTY_LOG overwrites what it is given, so it writes here
	 * and dirty_log ORs this into the caller's bitmap (track_dirty only). */
	uint64_t *dirty_scratch;
};

struct backend_vm {
	int kvm_fd;
	int vm_fd;
	unsigned nr_vcpus;
	/* The VM's CPU template (NULL: none): a static one, or `owned`, the
	 * VM's copy of a custom one. */
	const struct cpu_template *tmpl;
	struct cpu_template *owned;
	struct kvm_cpuid2 *supported_cpuid;
	int run_size;
	bool track_dirty;
	bool clock_realtime; /* backend_vm_opts.clock_realtime */
	struct kvm_slot slots[KVM_MAX_SLOTS];
	/* Every vCPU created, for what the VM-wide restore does to each
	 * (clock.c); VMM thread only, as vcpu_create and vcpu_destroy. */
	struct backend_vcpu *vcpus;
};

struct backend_vcpu {
	struct backend_vm *vm;
	struct backend_vcpu *next; /* in vm->vcpus */
	unsigned index;
	int fd;
	struct kvm_run *run;
	/* The thread inside vcpu_run, for vcpu_kick's signal. */
	pthread_t thread;
	atomic_bool thread_known;
	/* The last exit was port I/O or MMIO that KVM completes only on the
	 * next KVM_RUN (the instruction is not retired yet). Written by the
	 * vCPU thread, read by vcpu_save while it is parked behind the run
	 * gate, whose mutex orders the two. */
	bool completion_pending;
	/* vcpu_save's completing KVM_RUN stopped at a further exit (an MMIO
	 * access KVM splits in parts): the next vcpu_run hands it out
	 * without entering. */
	bool exit_waiting;
	/* The CPUID table given to KVM_SET_CPUID2 (what a snapshot carries:
	 * cross.c). */
	struct cpuid_entry *cpuid;
	size_t n_cpuid;
	/* The MSRs vcpu_save reads, found on its first call (msrs.c). */
	uint32_t msr_list[X86_MAX_MSRS];
	unsigned nr_msr_list;
	bool msr_list_known;
	/* The TSC the vCPU was last given (tsc_base at CLOCK_MONOTONIC
	 * tsc_base_ns, running since), for clock_realtime (clock.c). */
	uint64_t tsc_base;
	int64_t tsc_base_ns;
	bool tsc_base_known;
};

/* The signal vcpu_kick sends: it only makes KVM_RUN return -EINTR. */
#define KVM_KICK_SIGNAL (SIGRTMIN + 0)

int kvm_open_dev(int *kvm_fd);
/* Runs the tiny self-test guest: 0 if this KVM can run a Linux guest. */
int kvm_selftest(int kvm_fd, char *why, size_t why_len);
void kvm_kick_signal_install(void);

/* template.c: chooses the VM's CPU template and checks it against this
 * host (vendor, capabilities, CPUID leaves, MSRs); called by vm_create. */
int kvm_template_setup(struct backend_vm *vm, const struct backend_vm_opts *opts,
		       struct errbuf *err);
/* msrs.c: whether KVM_GET_MSR_INDEX_LIST names index. */
int kvm_msr_listed(int kvm_fd, uint32_t index);
/* template.c: the template's MSR modifiers on a new vCPU (its CPUID set). */
int kvm_template_set_msrs(struct backend_vcpu *v, struct errbuf *err);

/* vcpu.c */
int kvm_vcpu_create(struct backend_vm *vm, unsigned index, struct backend_vcpu **out,
		    struct errbuf *err);
void kvm_vcpu_destroy(struct backend_vcpu *vcpu);
int kvm_vcpu_run(struct backend_vcpu *vcpu, struct vcpu_exit *exit);
void kvm_vcpu_kick(struct backend_vcpu *vcpu);
int kvm_get_regs(struct backend_vcpu *vcpu, struct x86_regs *regs);
int kvm_set_regs(struct backend_vcpu *vcpu, const struct x86_regs *regs);
int kvm_get_sregs(struct backend_vcpu *vcpu, struct x86_sregs *sregs);
int kvm_set_sregs(struct backend_vcpu *vcpu, const struct x86_sregs *sregs);
int kvm_translate(struct backend_vcpu *vcpu, uint64_t gva, uint64_t *gpa);

/* state.c: the vCPU half of a snapshot */
int kvm_vcpu_save(struct backend_vcpu *vcpu, struct x86_cpu_state *st);
int kvm_vcpu_restore(struct backend_vcpu *vcpu, const struct x86_cpu_state *st);
/* state_check.c: 0 if st is fit to restore, else -EINVAL with a log line. */
int kvm_state_check(unsigned index, const struct x86_cpu_state *st);
/* The MXCSR bits this CPU implements (FXSAVE's MXCSR_MASK). */
uint32_t kvm_host_mxcsr_mask(void);
/* msrs.c: fills vcpu->msr_list once (KVM's list, filtered to what this
 * vCPU answers). */
int kvm_msr_list_init(struct backend_vcpu *vcpu);
/* platform.c: the VM-wide half (PIC pair, I/O APIC, PIT, clock) */
int kvm_platform_save(struct backend_vm *vm, void *buf, size_t len);
int kvm_platform_restore(struct backend_vm *vm, const void *buf, size_t len);
/* platform_neutral.c: the same in the neutral form (x86_platform.h). */
int kvm_platform_get(struct backend_vm *vm, struct x86_platform *p);
int kvm_platform_set(struct backend_vm *vm, const struct x86_platform *p, struct errbuf *err);
/* Its pure half, for tests: KVM's structs to the neutral form (now: the
 * host's CLOCK_MONOTONIC, to turn the PIT's load times into elapsed
 * times) and back (-ENOTSUP naming what KVM's chips cannot be in). */
void kvm_platform_to_neutral(const struct kvm_pic_state *master,
			     const struct kvm_pic_state *slave, const struct kvm_ioapic_state *a,
			     const struct kvm_pit_state2 *pit, const struct kvm_clock_data *clock,
			     int64_t now, struct x86_platform *p);
int kvm_platform_from_neutral(const struct x86_platform *p, struct kvm_pic_state *master,
			      struct kvm_pic_state *slave, struct kvm_ioapic_state *a,
			      struct kvm_pit_state2 *pit, struct kvm_clock_data *clock,
			      struct errbuf *err);
/* cross.c: CPUID and state across backends (backend.h). */
int kvm_vcpu_get_cpuid(struct backend_vcpu *v, struct cpuid_entry *e, size_t max);
int kvm_vcpu_set_cpuid(struct backend_vcpu *v, const struct cpuid_entry *e, size_t n,
		       const char *from, struct errbuf *err);
int kvm_vcpu_import(struct backend_vcpu *v, struct x86_cpu_state *st, const char *from,
		    struct errbuf *err);
/* clock.c: the guest's time on restore. */
int64_t kvm_mono_ns(void); /* CLOCK_MONOTONIC */
/* The vCPU's TSC should be tsc at at_ns (kvm_mono_ns) and run since,
 * after a write of the TSC MSR or to move it on: checks, and corrects it
 * where KVM kept its own offset. */
int kvm_tsc_settle(struct backend_vcpu *v, uint64_t tsc, int64_t at_ns);
/* The KVM clock, and with clock_realtime what follows it. check: 0, or
 * -ENOTSUP with a log line when clock_realtime cannot be done here;
 * restore: KVM_SET_CLOCK, then the vCPUs' TSCs. */
int kvm_clock_check(struct backend_vm *vm, const struct kvm_clock_data *saved);
int kvm_clock_restore(struct backend_vm *vm, const struct kvm_clock_data *saved);

#endif
