/* Backend-neutral x86-64 vCPU state, as the boot code and snapshots see it. */
#ifndef EMBER_BACKEND_X86_H
#define EMBER_BACKEND_X86_H

#include <stdint.h>

struct x86_segment {
	uint64_t base;
	uint32_t limit;
	uint16_t selector;
	uint8_t type, present, dpl, db, s, l, g, avl, unusable;
};

struct x86_dtable {
	uint64_t base;
	uint16_t limit;
};

struct x86_regs {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rip, rflags;
};

struct x86_sregs {
	struct x86_segment cs, ds, es, fs, gs, ss, tr, ldt;
	struct x86_dtable gdt, idt;
	uint64_t cr0, cr2, cr3, cr4, cr8, efer, apic_base;
};

/* A whole vCPU as a snapshot carries it, in one form for every backend, so
 * a later version can restore a KVM snapshot on the software CPU and back.
 * Plain data with fixed-width fields and explicit padding: it is written
 * to and read from the state file as is, and every field is checked on
 * restore (it comes from a file). What a backend does not model it leaves
 * 0 and says so in flags. */
#define X86_CPU_STATE_VERSION 1
#define X86_MAX_MSRS 128
#define X86_FXSAVE_SIZE 512
#define X86_XSAVE_SIZE 4096 /* KVM_GET_XSAVE's area */
#define X86_LAPIC_SIZE 1024 /* the APIC register page, KVM_GET_LAPIC's layout */

enum {
	X86_STATE_HAS_XSAVE = 1u << 0, /* xsave[] and xcr0 valid (else fxsave[] only) */
	X86_STATE_HAS_LAPIC = 1u << 1, /* lapic[] valid */
	X86_STATE_HAS_EVENTS = 1u << 2, /* events valid */
	X86_STATE_HAS_TSC_KHZ = 1u << 3,
};

struct x86_msr {
	uint32_t index;
	uint32_t reserved; /* 0 */
	uint64_t value;
};

/* Pending and injected events (KVM's kvm_vcpu_events, in neutral dress). */
struct x86_events {
	uint8_t exception_injected, exception_nr, exception_has_error, exception_pending;
	uint32_t exception_error;
	uint8_t interrupt_injected, interrupt_nr, interrupt_soft, interrupt_shadow;
	uint8_t nmi_injected, nmi_pending, nmi_masked, smi_pending;
	uint32_t sipi_vector;
	uint32_t reserved; /* 0 */
};

/* Multiprocessing state, numbered as KVM_MP_STATE_*. */
enum x86_mp_state {
	X86_MP_RUNNABLE = 0,
	X86_MP_UNINITIALIZED = 1,
	X86_MP_INIT_RECEIVED = 2,
	X86_MP_HALTED = 3,
	X86_MP_SIPI_RECEIVED = 4,
};

struct x86_cpu_state {
	uint32_t version; /* X86_CPU_STATE_VERSION */
	uint32_t flags;   /* X86_STATE_HAS_* */
	struct x86_regs regs;
	struct x86_sregs sregs;
	uint64_t dr[4], dr6, dr7;
	uint64_t xcr0;
	uint32_t mp_state;   /* enum x86_mp_state */
	uint32_t tsc_khz;    /* the guest's TSC rate; HAS_TSC_KHZ */
	uint32_t nr_msrs;    /* <= X86_MAX_MSRS */
	uint32_t reserved;   /* 0 */
	struct x86_events events;
	/* The FXSAVE image: FPU, MMX and SSE state (also the first 512 bytes
	 * of xsave[] when HAS_XSAVE). */
	uint8_t fxsave[X86_FXSAVE_SIZE];
	uint8_t xsave[X86_XSAVE_SIZE];
	uint8_t lapic[X86_LAPIC_SIZE];
	struct x86_msr msrs[X86_MAX_MSRS];
};

/* The FXSAVE image (fxsave[] above; SDM vol. 1, table 10-2, 64-bit
 * format): byte offsets. FTW is the abridged tag word, one bit per
 * physical register (1 = not empty); ST(i) or MMi sit in 16-byte slots,
 * 10 bytes used; XMM0-15 take 16 bytes each. */
#define X86_FX_FCW 0
#define X86_FX_FSW 2
#define X86_FX_FTW 4
#define X86_FX_FOP 6
#define X86_FX_FIP 8
#define X86_FX_FDP 16
#define X86_FX_MXCSR 24
#define X86_FX_MXCSR_MASK 28
#define X86_FX_ST 32
#define X86_FX_XMM 160
#define X86_FX_XMM_SIZE 256

/* Architectural bits the boot path and the backends share. */
#define X86_CR0_PE (1ULL << 0)
#define X86_CR0_MP (1ULL << 1)
#define X86_CR0_ET (1ULL << 4)
#define X86_CR0_NE (1ULL << 5)
#define X86_CR0_WP (1ULL << 16)
#define X86_CR0_PG (1ULL << 31)
#define X86_CR4_PSE (1ULL << 4)
#define X86_CR4_PAE (1ULL << 5)
#define X86_CR4_OSFXSR (1ULL << 9)
#define X86_CR4_OSXMMEXCPT (1ULL << 10)
#define X86_CR4_OSXSAVE (1ULL << 18)
#define X86_EFER_SCE (1ULL << 0)
#define X86_EFER_LME (1ULL << 8)
#define X86_EFER_LMA (1ULL << 10)
#define X86_EFER_NXE (1ULL << 11)
#define X86_RFLAGS_IF (1ULL << 9)
#define X86_RFLAGS_FIXED (1ULL << 1)

#endif
