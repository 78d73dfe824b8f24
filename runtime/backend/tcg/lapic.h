/* A local APIC (Intel SDM Vol. 3A ch. 10) as pure state with time
 * injected: the xAPIC register page and the x2APIC MSRs over the same
 * registers, interrupt acceptance and priority (IRR, ISR, TMR, TPR, PPR,
 * EOI), the LVT timer (one-shot and periodic on a 1 GHz bus clock, as
 * KVM's, and TSC-deadline against the guest's TSC), LINT0/LINT1, the
 * error LVT and the ICR, whose writes come back to the caller as a
 * message to route. The backend (apic.c) locks around it and routes
 * messages between APICs.
 *
 * Registers live in a 1 KiB page laid out as the hardware's (and KVM's
 * KVM_GET_LAPIC): register at offset o in regs[o >> 4]. In x2APIC mode
 * the ID register holds the 32-bit x2APIC ID unshifted and ICR2 the
 * 32-bit destination, as KVM stores them (its x2APIC page layout), so a
 * saved page means the same on either backend. */
#ifndef EMBER_TCG_LAPIC_H
#define EMBER_TCG_LAPIC_H

#include <stdbool.h>
#include <stdint.h>

#define TCG_LAPIC_BASE 0xfee00000ULL
#define TCG_LAPIC_SIZE 0x1000
#define TCG_LAPIC_VERSION 0x00050014u /* version 0x14, 6 LVT entries */

/* IA32_APIC_BASE (MSR 0x1b). */
#define TCG_APIC_BASE_BSP (1ULL << 8)
#define TCG_APIC_BASE_ENABLE (1ULL << 11)
#define TCG_APIC_BASE_X2APIC (1ULL << 10)
/* The MSRs the APIC owns. */
#define TCG_MSR_APIC_BASE 0x1bu
#define TCG_MSR_TSC_DEADLINE 0x6e0u
#define TCG_MSR_X2APIC_FIRST 0x800u
#define TCG_MSR_X2APIC_LAST 0x8ffu
#define TCG_MSR_X2APIC_SELF_IPI 0x83fu

enum {
	TCG_APIC_ID = 0x20, TCG_APIC_LVR = 0x30, TCG_APIC_TPR = 0x80, TCG_APIC_APR = 0x90,
	TCG_APIC_PPR = 0xa0, TCG_APIC_EOI = 0xb0, TCG_APIC_RRD = 0xc0, TCG_APIC_LDR = 0xd0,
	TCG_APIC_DFR = 0xe0, TCG_APIC_SVR = 0xf0, TCG_APIC_ISR = 0x100, TCG_APIC_TMR = 0x180,
	TCG_APIC_IRR = 0x200, TCG_APIC_ESR = 0x280, TCG_APIC_LVT_CMCI = 0x2f0,
	TCG_APIC_ICR = 0x300, TCG_APIC_ICR2 = 0x310, TCG_APIC_LVTT = 0x320,
	TCG_APIC_LVT_THERMAL = 0x330, TCG_APIC_LVT_PERF = 0x340, TCG_APIC_LVT0 = 0x350,
	TCG_APIC_LVT1 = 0x360, TCG_APIC_LVT_ERR = 0x370, TCG_APIC_TMICT = 0x380,
	TCG_APIC_TMCCT = 0x390, TCG_APIC_TDCR = 0x3e0,
	TCG_APIC_SELF_IPI = 0x3f0, /* x2APIC mode only (MSR 0x83f) */
};

#define TCG_APIC_SVR_ENABLE (1u << 8)
#define TCG_APIC_LVT_MASKED (1u << 16)
#define TCG_APIC_LVT_LEVEL (1u << 15)
#define TCG_APIC_LVTT_MODE(v) (((v) >> 17) & 3) /* 0 one-shot, 1 periodic, 2 TSC deadline */
#define TCG_APIC_DM(v) (((v) >> 8) & 7)

/* Delivery modes (ICR, LVT, I/O APIC redirection entries). */
enum { TCG_DM_FIXED = 0, TCG_DM_LOWEST = 1, TCG_DM_SMI = 2, TCG_DM_NMI = 4, TCG_DM_INIT = 5,
       TCG_DM_STARTUP = 6, TCG_DM_EXTINT = 7 };

/* ESR bits. */
#define TCG_APIC_ESR_SEND_ILLEGAL (1u << 5)
#define TCG_APIC_ESR_RECV_ILLEGAL (1u << 6)
#define TCG_APIC_ESR_ILLEGAL_REG (1u << 7)

/* A periodic timer fires at most every 200 us, as KVM's
 * (min_timer_period_us): a guest cannot keep the timer thread busy. */
#define TCG_LAPIC_MIN_PERIOD_NS 200000LL

/* An interrupt message on the APIC bus: from an ICR write, or from the
 * I/O APIC. Shorthand: 0 none (use dest), 1 self, 2 all, 3 all but self. */
struct tcg_apic_msg {
	uint8_t vector, mode, shorthand;
	bool logical, level_trig, assert;
	bool x2apic;  /* from an x2APIC's ICR: dest is 32 bits */
	uint32_t dest;
	unsigned src; /* the sending APIC's index (for the shorthands) */
};

struct tcg_lapic {
	uint32_t regs[64];
	uint64_t apic_base;
	unsigned index;      /* vCPU index */
	/* Timer: counting since timer_start at divide timer_div; the next
	 * expiry (-1: none). Periodic: every timer_period ns. */
	int64_t timer_start, timer_next, timer_period;
	uint32_t timer_div;
	/* TSC-deadline mode: the guest TSC to fire at (0: disarmed); the
	 * expiry it gave in timer_next. */
	uint64_t tsc_deadline;
	uint32_t esr_pending; /* errors since the last ESR write */
	bool nmi_pending;
	/* INIT received: waiting for a SIPI (the AP's wait-for-SIPI state). */
	bool wait_sipi;
	int sipi_vector;     /* a startup vector to act on, -1 none */
	bool init_pending;   /* an INIT to act on (the CPU's reset) */
};

/* Power-on state for vCPU index (APIC id = index; the BSP, index 0, gets
 * LINT0 as ExtINT and LINT1 as NMI, the virtual-wire setup firmware
 * leaves, as Ember's KVM backend sets too). */
void tcg_lapic_init(struct tcg_lapic *l, unsigned index);
bool tcg_lapic_hw_enabled(const struct tcg_lapic *l);
bool tcg_lapic_sw_enabled(const struct tcg_lapic *l);
/* MMIO at offset off in the 4 KiB page (32-bit accesses on 16-byte
 * boundaries; others read 0 and are dropped). A write may produce a message
 * to route (returns true and fills *msg) and, for an EOI of a
 * level-triggered vector, sets *eoi_vector (else -1). */
uint32_t tcg_lapic_read(struct tcg_lapic *l, uint32_t off, int64_t now);
bool tcg_lapic_write(struct tcg_lapic *l, uint32_t off, uint32_t val, int64_t now,
		     struct tcg_apic_msg *msg, int *eoi_vector);
/* WRMSR IA32_APIC_BASE: false for a value the guest may not write (#GP):
 * reserved bits, another page (the APIC does not move), a changed BSP
 * flag, x2APIC without enable, or the transitions SDM 10.12.5 forbids
 * (disabled to x2APIC, x2APIC to xAPIC). Entering x2APIC mode makes the
 * ID the x2APIC ID and the LDR the cluster form derived from it; a
 * disable resets the APIC. */
bool tcg_lapic_set_base(struct tcg_lapic *l, uint64_t val);
bool tcg_lapic_x2apic(const struct tcg_lapic *l);

/* The x2APIC MSRs 0x800-0x8ff (SDM 10.12.1.2). 0, or -1 for #GP: not in
 * x2APIC mode, a reserved or write-only register read, a read-only or
 * reserved register written, reserved bits set (EOI and ESR take only 0,
 * SELF_IPI and TPR 8 bits, only the ICR takes 64; its own reserved bits
 * are dropped, as KVM does). A write returns 1 with
 * *msg filled when there is a message to route; *eoi_vector as for
 * tcg_lapic_write. */
int tcg_lapic_rdmsr(struct tcg_lapic *l, uint32_t msr, int64_t now, uint64_t *val);
int tcg_lapic_wrmsr(struct tcg_lapic *l, uint32_t msr, uint64_t val, int64_t now,
		    struct tcg_apic_msg *msg, int *eoi_vector);

/* IA32_TSC_DEADLINE (SDM 10.5.4.1). tsc is the guest's TSC at now, khz
 * its rate. A write outside TSC-deadline mode is ignored and a read there
 * gives 0 (as KVM); 0 disarms; a deadline already passed fires at once.
 * The timer fires at the first now (ns) by which the TSC has reached the
 * deadline, then reads 0. */
void tcg_lapic_set_deadline(struct tcg_lapic *l, uint64_t deadline, int64_t now, uint64_t tsc,
			    unsigned long khz);
uint64_t tcg_lapic_deadline(const struct tcg_lapic *l);

/* Whether this APIC is a destination of msg (shorthands included). */
bool tcg_lapic_match(const struct tcg_lapic *l, const struct tcg_apic_msg *msg);
/* Accepts a fixed interrupt (vector into IRR, TMR per trigger). */
void tcg_lapic_accept(struct tcg_lapic *l, uint8_t vector, bool level_trig);
/* Accepts msg addressed to this APIC (fixed, lowest priority, NMI, INIT,
 * startup; others are dropped). An NMI sets nmi_pending, for the CPU to
 * take (NMIs are not blocked by the APIC's priorities). */
void tcg_lapic_deliver(struct tcg_lapic *l, const struct tcg_apic_msg *msg);

/* Whether the 8259's INTR reaches the CPU through this APIC: LINT0 as
 * ExtINT and unmasked, or the APIC disabled in IA32_APIC_BASE. */
bool tcg_lapic_accepts_pic(const struct tcg_lapic *l);
/* The highest pending vector that PPR lets through, or -1. */
int tcg_lapic_pending(const struct tcg_lapic *l);
/* Interrupt acknowledge: moves it from IRR to ISR; the vector. */
uint8_t tcg_lapic_ack(struct tcg_lapic *l);
uint32_t tcg_lapic_ppr(const struct tcg_lapic *l);

/* The timer: the next expiry (-1: none), and the expiry itself (call
 * when now >= that; raises the LVT timer's vector, re-arms a periodic
 * timer, coalescing missed periods). */
int64_t tcg_lapic_timer_next(const struct tcg_lapic *l);
void tcg_lapic_timer_fire(struct tcg_lapic *l, int64_t now);

/* Snapshots: the register page as KVM_GET_LAPIC has it (TMCCT holding
 * the current count, ESR the errors not yet latched as well); the
 * IA32_APIC_BASE MSR goes with the vCPU's sregs. */
#define TCG_LAPIC_STATE_SIZE 1024
void tcg_lapic_save(const struct tcg_lapic *l, uint8_t out[TCG_LAPIC_STATE_SIZE], int64_t now);
/* 0, or -EINVAL with l untouched. The timer counts on from the saved
 * current count. */
int tcg_lapic_load(struct tcg_lapic *l, const uint8_t in[TCG_LAPIC_STATE_SIZE],
		   uint64_t apic_base, int64_t now);
/* Whether v is an IA32_APIC_BASE this APIC can hold (the page at
 * 0xfee00000; disabled, xAPIC or x2APIC mode). */
bool tcg_lapic_base_ok(uint64_t v);

#endif
