/* The vCPU backend interface: how the VMM runs guest code without knowing
 * whether KVM or a software CPU does it. Devices and the run loop see only
 * this table; each backend lives in its own folder (runtime/backend/kvm/,
 * runtime/backend/tcg/). */
#ifndef EMBER_BACKEND_H
#define EMBER_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/base/err.h"
#include "runtime/base/seccomp.h"
#include "runtime/backend/cpu_template.h"
#include "runtime/backend/x86.h"
#include "runtime/backend/x86_platform.h"
#include "config/config.h"

struct bus;
struct guest_mem;
struct backend_vm;
struct backend_vcpu;

enum vcpu_exit_reason {
	VCPU_EXIT_IO,             /* port I/O: dispatch to the pio bus */
	VCPU_EXIT_MMIO,           /* dispatch to the mmio bus */
	VCPU_EXIT_HLT,            /* halted with nothing pending (backends without in-kernel APIC) */
	VCPU_EXIT_KICKED,         /* vcpu_kick() interrupted the run */
	VCPU_EXIT_SHUTDOWN,       /* triple fault */
	VCPU_EXIT_RESET,          /* the platform asked for a reset */
	VCPU_EXIT_INTERNAL_ERROR, /* the backend could not go on (e.g. emulation failure) */
	VCPU_EXIT_FAIL_ENTRY,     /* invalid guest state on entry */
	VCPU_EXIT_UNKNOWN,        /* anything else: fatal */
};

struct vcpu_exit {
	enum vcpu_exit_reason reason;
	/* A backend that runs several vCPUs on one thread (TCG) returns their
	 * exits from vCPU 0's vcpu_run: then `other` is set and `vcpu` is the
	 * index of the vCPU the exit is about. The caller zeroes both. */
	bool other;
	unsigned vcpu;
	union {
		struct {
			uint16_t port;
			uint8_t size;     /* 1, 2 or 4 */
			bool is_write;
			uint32_t count;   /* string I/O repeats */
			uint8_t *data;    /* count * size bytes, owned by the backend */
		} io;
		struct {
			uint64_t addr;
			uint32_t len;     /* 1..8 */
			bool is_write;
			uint8_t *data;    /* owned by the backend */
		} mmio;
		struct {
			uint64_t code;    /* backend's raw exit / suberror code */
			uint32_t nr_insn; /* valid bytes in insn, if the backend had them */
			uint8_t insn[16];
			char what[64];    /* short human description */
		} error;
	};
};

struct backend_vm_opts {
	unsigned nr_vcpus;
	/* machine-config's cpu_template; with CONFIG_CPU_TEMPLATE_CUSTOM,
	 * cpu_config is the template (copied by vm_create). See
	 * runtime/backend/cpu_template.h. */
	enum config_cpu_template cpu_template;
	const struct cpu_template *cpu_config;
	struct guest_mem *mem;
	/* Buses for backends that dispatch accesses synchronously (TCG). */
	const struct bus *mmio_bus;
	const struct bus *pio_bus;
	/* Keep a log of the pages guest CPUs write (Diff snapshots). */
	bool track_dirty;
	/* A VM being restored whose guest clocks must advance by the wall
	 * time elapsed since the snapshot was taken (the host's
	 * CLOCK_REALTIME then and now); else they go on from the saved
	 * values, as if no time had passed. Read by platform_restore. */
	bool clock_realtime;
};

struct backend_ops {
	const char *name;
	/* The platform has local APICs and an I/O APIC (an MP table describes
	 * them); without, the guest finds an 8259 PIC pair and one CPU. */
	bool has_apic;
	/* The seccomp filter of its vCPU threads (runtime/seccomp/lists.c). */
	enum thread_kind vcpu_thread;
	/* 0 if this backend can really run a guest here; else -errno and why. */
	int (*probe)(char *why, size_t why_len);
	/* Optional: the one-time work of this process (self-test, host
	 * measurements), for a thread of its own at start-up, so that the
	 * first VM (a snapshot load above all) does not wait for it. Later
	 * calls of probe and vm_create use its results. */
	void (*warm_up)(void);
	/* Failures say why in err, naming the setting at fault (vcpu_count). */
	int (*vm_create)(const struct backend_vm_opts *opts, struct backend_vm **out,
			 struct errbuf *err);
	void (*vm_destroy)(struct backend_vm *vm);
	int (*map_memory)(struct backend_vm *vm, unsigned slot, uint64_t gpa, uint64_t size,
			  void *host);
	/* After all memory is mapped. Sets CPUID, MSRs, LAPIC defaults. */
	int (*vcpu_create)(struct backend_vm *vm, unsigned index, struct backend_vcpu **out,
			   struct errbuf *err);
	void (*vcpu_destroy)(struct backend_vcpu *vcpu);
	/* Runs until an exit the VMM must handle. Returns 0 (exit filled) or -errno. */
	int (*vcpu_run)(struct backend_vcpu *vcpu, struct vcpu_exit *exit);
	/* From any thread: make a running or about-to-run vcpu_run return KICKED. */
	void (*vcpu_kick)(struct backend_vcpu *vcpu);
	int (*get_regs)(struct backend_vcpu *vcpu, struct x86_regs *regs);
	int (*set_regs)(struct backend_vcpu *vcpu, const struct x86_regs *regs);
	int (*get_sregs)(struct backend_vcpu *vcpu, struct x86_sregs *sregs);
	int (*set_sregs)(struct backend_vcpu *vcpu, const struct x86_sregs *sregs);
	/* Linear address -> guest physical, with the vCPU's current paging. */
	int (*translate)(struct backend_vcpu *vcpu, uint64_t gva, uint64_t *gpa);
	/* Drives an interrupt line (GSI) of the VM's interrupt controller. */
	int (*set_irq_line)(struct backend_vm *vm, unsigned gsi, bool level);
	/* Optional fast paths; NULL or -EOPNOTSUPP when the backend has none. */
	int (*add_ioeventfd)(struct backend_vm *vm, uint64_t addr, uint32_t len,
			     uint64_t datamatch, int fd);
	int (*add_irqfd)(struct backend_vm *vm, unsigned gsi, int fd);
	/* Optional: writes the space-separated kernel parameters this CPU
	 * needs (e.g. tsc_early_khz= for a software CPU that cannot let the
	 * guest calibrate) into buf, NUL-terminated; empty when none. Returns
	 * 0, or -E2BIG if they do not fit. */
	int (*kernel_cmdline)(struct backend_vm *vm, char *buf, size_t len);
	/* Optional (NULL: the CPU sees memory as it is, as KVM does): a
	 * device (any thread but a vCPU's) wrote guest memory [gpa, gpa + len)
	 * through a host pointer. Rule: call it after the writes and before
	 * publishing anything that tells the guest they happened (the used
	 * entry covering them); on return no guest instruction can run code
	 * translated from the old contents of that range. It may wait for the
	 * vCPU to reach an instruction boundary, so the caller must not hold
	 * anything a vCPU needs to get there; it does not wait while the
	 * vCPU is outside guest code (e.g. in a bus callback). */
	void (*guest_written)(struct backend_vm *vm, uint64_t gpa, uint64_t len);

	/* Snapshots, from the VMM thread while every vCPU is paused outside
	 * guest code (runtime/vm/run_gate.h). The vCPU's whole state in the
	 * neutral form; restore checks what it is given (a file's content)
	 * and fails with -EINVAL naming nothing it half applied: a failed
	 * restore discards the VM. */
	int (*vcpu_save)(struct backend_vcpu *vcpu, struct x86_cpu_state *st);
	int (*vcpu_restore)(struct backend_vcpu *vcpu, const struct x86_cpu_state *st);
	/* The platform's interrupt controllers and timers (KVM: PIC pair,
	 * I/O APIC, PIT, clock; TCG: PIC pair, PIT, port 0x61) in the
	 * backend's own versioned layout, tagged with the backend's name in
	 * the snapshot. save returns the bytes written, or -ENOSPC if len is
	 * too small; restore checks everything first. With
	 * backend_vm_opts.clock_realtime, restore also moves the vCPUs' TSCs
	 * on by the elapsed time, so it comes after vcpu_restore; it fails
	 * with -ENOTSUP (and a log line saying why) where it cannot. */
	int (*platform_save)(struct backend_vm *vm, void *buf, size_t len);
	int (*platform_restore)(struct backend_vm *vm, const void *buf, size_t len);
	/* Snapshots across backends (docs/snapshots.md, "Across backends"),
	 * from the VMM thread as above. The CPUID table this vCPU presents
	 * (what the guest saw): the number of entries, or -ENOSPC beyond max. */
	int (*vcpu_get_cpuid)(struct backend_vcpu *vcpu, struct cpuid_entry *e, size_t max);
	/* Before vcpu_restore: presents e[0..n) (saved on backend `from`) to
	 * the guest after checking this CPU can (vendor, every feature bit:
	 * cpuid_compat.h); -ENOTSUP with err naming what it lacks. */
	int (*vcpu_set_cpuid)(struct backend_vcpu *vcpu, const struct cpuid_entry *e, size_t n,
			      const char *from, struct errbuf *err);
	/* After vcpu_set_cpuid, for a state saved on another backend: makes
	 * st fit this one (x86_carry.h), or -ENOTSUP naming what cannot. */
	int (*vcpu_import)(struct backend_vcpu *vcpu, struct x86_cpu_state *st, const char *from,
			   struct errbuf *err);
	/* The platform in its neutral form (vm/platform version 2); set
	 * checks what the backend cannot hold and fails naming it, and with
	 * clock_realtime moves the clocks on as platform_restore does. */
	int (*platform_get)(struct backend_vm *vm, struct x86_platform *p);
	int (*platform_set)(struct backend_vm *vm, const struct x86_platform *p,
			    struct errbuf *err);
	/* Optional, with backend_vm_opts.track_dirty: ORs into bitmap (one
	 * bit per 4 KiB page of memory slot `slot`, as map_memory got it) the
	 * pages the guest's CPUs wrote since the previous call, and starts a
	 * new interval. NULL when the backend cannot tell (the VM then tracks
	 * writes itself). Device writes are not included. */
	int (*dirty_log)(struct backend_vm *vm, unsigned slot, uint64_t *bitmap);
};

/* The backends built in (runtime/backend/kvm/, runtime/backend/tcg/). */
extern const struct backend_ops backend_kvm, backend_tcg;

#endif
