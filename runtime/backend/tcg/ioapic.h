/* An I/O APIC (Intel 82093AA data sheet, order no. 290566; version 0x11
 * as KVM's, no EOI register): 24 pins, the redirection table, edge and
 * level triggering with remote IRR, re-delivery on EOI. Pure state; the
 * backend (apic.c) locks around it and routes its messages to the local
 * APICs. Pin n is GSI n (the MP table and the MADT map ISA IRQ n to pin n).
 * The lines' polarity is taken as what devices drive (as KVM does): the
 * backend's lines are always active high. */
#ifndef EMBER_TCG_IOAPIC_H
#define EMBER_TCG_IOAPIC_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime/backend/tcg/lapic.h"

#define TCG_IOAPIC_BASE 0xfec00000ULL
#define TCG_IOAPIC_SIZE 0x1000
#define TCG_IOAPIC_PINS 24

#define TCG_IOAPIC_MASKED (1ULL << 16)
#define TCG_IOAPIC_LEVEL (1ULL << 15)
#define TCG_IOAPIC_REMOTE_IRR (1ULL << 14)

/* Where the I/O APIC sends an interrupt message. */
typedef void tcg_ioapic_send_fn(void *ctx, const struct tcg_apic_msg *msg);

struct tcg_ioapic {
	uint32_t id;       /* bits 27:24 of register 0 */
	uint32_t ioregsel;
	uint64_t redir[TCG_IOAPIC_PINS];
	uint32_t level;    /* the lines as driven */
	uint32_t irr;      /* requests not yet sent */
	tcg_ioapic_send_fn *send;
	void *send_ctx;
};

/* Power-on: every pin masked, edge, vector 0. */
void tcg_ioapic_init(struct tcg_ioapic *io, unsigned id, tcg_ioapic_send_fn *send, void *ctx);
void tcg_ioapic_set_irq(struct tcg_ioapic *io, unsigned pin, bool level);
/* MMIO at offset off: IOREGSEL at 0x00, IOWIN at 0x10, 32-bit. */
uint32_t tcg_ioapic_read(struct tcg_ioapic *io, uint32_t off);
void tcg_ioapic_write(struct tcg_ioapic *io, uint32_t off, uint32_t val);
/* A local APIC's EOI of a level-triggered vector (the EOI broadcast). */
void tcg_ioapic_eoi(struct tcg_ioapic *io, uint8_t vector);

/* Snapshots: u32 id, u32 IOREGSEL, u32 line levels, u32 pending requests,
 * 24 x u64 redirection entries, little-endian. */
#define TCG_IOAPIC_STATE_SIZE (16 + 8 * TCG_IOAPIC_PINS)
void tcg_ioapic_save(const struct tcg_ioapic *io, uint8_t out[TCG_IOAPIC_STATE_SIZE]);
/* 0, or -EINVAL with io untouched. */
int tcg_ioapic_load(struct tcg_ioapic *io, const uint8_t in[TCG_IOAPIC_STATE_SIZE]);

#endif
