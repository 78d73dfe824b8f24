/* A cascaded pair of Intel 8259A programmable interrupt controllers
 * (8259A data sheet, order no. 231468), the ISA interrupt controller of the
 * TCG backend: master on ports 0x20/0x21, slave on 0xA0/0xA1 cascaded on
 * the master's IRQ 2, and the edge/level control registers at 0x4D0/0x4D1
 * (PIIX4 datasheet §3.2.3). Pure state; the backend locks around it. */
#ifndef EMBER_TCG_PIC_H
#define EMBER_TCG_PIC_H

#include <stdbool.h>
#include <stdint.h>

#define TCG_PIC_MASTER 0x20
#define TCG_PIC_SLAVE 0xa0
#define TCG_PIC_ELCR 0x4d0
#define TCG_PIC_CASCADE_IRQ 2

struct tcg_pic_chip {
	uint8_t irr, isr, imr;
	uint8_t last_level;   /* line levels, for edge detection */
	uint8_t elcr;         /* 1 = level-triggered */
	uint8_t elcr_mask;    /* bits the ELCR may set */
	uint8_t vector_base;  /* ICW2 & 0xf8 */
	uint8_t priority_add; /* lowest-priority line + 1 (rotation) */
	uint8_t init_step;    /* 0 = ready, 2..4 = expecting ICW2..ICW4 */
	bool need_icw4, single, auto_eoi, rotate_on_aeoi;
	bool read_isr, poll, special_mask;
};

struct tcg_pic {
	struct tcg_pic_chip chip[2]; /* 0 master, 1 slave */
};

void tcg_pic_init(struct tcg_pic *p);
/* Drives ISA line irq (0..15). */
void tcg_pic_set_irq(struct tcg_pic *p, unsigned irq, bool level);
/* The master's INTR output: an unmasked request outranks what is in service. */
bool tcg_pic_output(const struct tcg_pic *p);
/* The CPU's interrupt acknowledge: returns the vector (IRQ 7/15 spurious
 * vectors when the request went away). */
uint8_t tcg_pic_ack(struct tcg_pic *p);
/* Port access: 0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1. */
uint8_t tcg_pic_read(struct tcg_pic *p, uint16_t port);
void tcg_pic_write(struct tcg_pic *p, uint16_t port, uint8_t val);

/* Snapshots: the pair as 2 x 16 bytes, master first: IRR, ISR, IMR, line
 * levels, ELCR, vector base, rotation, initialisation step, flags (ICW4
 * needed, single, auto-EOI, rotate on auto-EOI, read ISR, poll, special
 * mask: bits 0-6), 7 reserved zero bytes. */
#define TCG_PIC_STATE_SIZE 32
void tcg_pic_save(const struct tcg_pic *p, uint8_t out[TCG_PIC_STATE_SIZE]);
/* 0, or -EINVAL with p untouched if in is not a state the pair can be in. */
int tcg_pic_load(struct tcg_pic *p, const uint8_t in[TCG_PIC_STATE_SIZE]);

#endif
