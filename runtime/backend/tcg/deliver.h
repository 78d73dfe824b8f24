/* Exception and interrupt delivery for the TCG backend. Unicorn hands us
 * every exception the guest raises and has no way to inject an external
 * interrupt, so the IA-32e delivery of Intel SDM Vol. 3A §6.14 (gate
 * lookup, privilege and IST stack switch, the pushed frame, error codes)
 * and the double-fault rules of §6.15 (Table 6-5) live here, as pure
 * functions over a small CPU state and guest memory. */
#ifndef EMBER_TCG_DELIVER_H
#define EMBER_TCG_DELIVER_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime/base/gmem.h"

/* A segment register's hidden part. flags is the descriptor's high dword
 * masked with 0x00f0ff00 (type 11:8, S 12, DPL 14:13, P 15, AVL 20, L 21,
 * D/B 22, G 23): the layout QEMU keeps too. */
struct tcg_seg {
	uint64_t base;
	uint32_t limit;
	uint32_t flags;
	uint16_t sel;
};

#define TCG_SEG_P (1u << 15)
#define TCG_SEG_S (1u << 12)
#define TCG_SEG_L (1u << 21)
#define TCG_SEG_DB (1u << 22)
#define TCG_SEG_G (1u << 23)
#define TCG_SEG_DPL(f) (((f) >> 13) & 3)
#define TCG_SEG_TYPE(f) (((f) >> 8) & 0xf)

struct tcg_dirty;

struct tcg_cpu {
	uint64_t rip, rsp, rflags;
	struct tcg_seg cs, ss;
	unsigned cpl;
	uint64_t cr0, cr2, cr3, cr4, efer;
	uint64_t gdt_base, ldt_base, idt_base, tr_base;
	uint32_t gdt_limit, ldt_limit, idt_limit, tr_limit;
	uint16_t tr_sel;
	bool nx; /* honour XD bits in page walks (see mmu.h) */
	struct tcg_dirty *dirty; /* pages written are marked here (mmu.h) */
};

enum tcg_event_kind {
	TCG_EV_EXCEPTION, /* raised by an instruction (fault or trap) */
	TCG_EV_EXTINT,    /* from the interrupt controller: EXT set in error codes */
	TCG_EV_SOFTINT,   /* INT n, INT3, INTO: gate DPL must allow the CPL */
};

struct tcg_event {
	uint8_t vector;
	uint8_t kind;
	bool has_error;
	uint32_t error;
};

/* Exception vectors (SDM Vol. 3A Table 6-1). */
enum {
	TCG_DE = 0, TCG_DB = 1, TCG_NMI = 2, TCG_BP = 3, TCG_OF = 4, TCG_BR = 5, TCG_UD = 6,
	TCG_NM = 7, TCG_DF = 8, TCG_TS = 10, TCG_NP = 11, TCG_SS = 12, TCG_GP = 13,
	TCG_PF = 14, TCG_MF = 16, TCG_AC = 17, TCG_MC = 18, TCG_XM = 19,
};

enum tcg_deliver_result {
	TCG_DELIVERED = 0,
	TCG_TRIPLE_FAULT,  /* fault while delivering #DF: shutdown (§6.15 interrupt 8) */
	TCG_NOT_LONG_MODE, /* only IA-32e delivery is implemented */
};

/* Whether the exception pushes an error code (Table 6-1). */
bool tcg_exception_has_error(uint8_t vector);

/* Delivers ev: on TCG_DELIVERED cpu holds the handler's state (and cr2
 * for a #PF raised by the delivery itself). On failure cpu is unchanged. */
enum tcg_deliver_result tcg_deliver(struct tcg_cpu *cpu, const struct guest_mem *mem,
				    struct tcg_event ev);

/* SYSCALL in IA-32e mode (SDM Vol. 2B "SYSCALL"): loads CS/SS from STAR,
 * RIP from LSTAR (CSTAR from compatibility mode), masks RFLAGS with
 * FMASK. next_rip is the instruction after SYSCALL; *rcx and *r11 receive
 * the return RIP and RFLAGS. Returns false (#UD) outside IA-32e mode. */
bool tcg_syscall(struct tcg_cpu *cpu, uint64_t star, uint64_t lstar, uint64_t cstar,
		 uint64_t fmask, uint64_t next_rip, uint64_t *rcx, uint64_t *r11);

#endif
