/* The PC platform of a VM (8259 pair, I/O APIC, 8254 with port 0x61, the
 * guest clock) in one form for every backend: what `vm/platform` version 2
 * of a snapshot holds (docs/snapshots.md). Field meanings are KVM's
 * (kvm_pic_state, kvm_ioapic_state, kvm_pit_channel_state in
 * <asm/kvm.h>), so KVM's in-kernel chips map field for field and the
 * software CPU's (runtime/backend/tcg/pic.c, pit.c, ioapic.c) map onto the
 * same meanings; the few things only one backend knows are extra fields
 * with a neutral "unknown" value. Times are durations, never a host's
 * timestamps. */
#ifndef EMBER_BACKEND_X86_PLATFORM_H
#define EMBER_BACKEND_X86_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/base/err.h"

#define X86_IOAPIC_PINS 24
/* kvm_pit_channel_state's read_state/write_state/count_latched values. */
enum { X86_PIT_RW_LSB = 1, X86_PIT_RW_MSB = 2, X86_PIT_RW_WORD0 = 3, X86_PIT_RW_WORD1 = 4 };

struct x86_pic_state {
	uint8_t last_irr; /* the input lines' levels at the last update */
	uint8_t irr, imr, isr;
	uint8_t priority_add; /* 0..7: the line of highest priority */
	uint8_t irq_base;     /* ICW2 & 0xf8 */
	uint8_t read_reg_select; /* 1: port reads ISR, 0: IRR */
	uint8_t poll, special_mask;
	uint8_t init_state; /* 0 ready, 1..3 waiting for ICW2..ICW4 */
	uint8_t auto_eoi, rotate_on_auto_eoi, special_fully_nested_mode;
	uint8_t init4;       /* ICW4 expected */
	uint8_t elcr, elcr_mask;
	uint8_t single_mode; /* ICW1 SNGL; KVM ignores it and saves 0 */
};

struct x86_ioapic_state {
	uint32_t id;       /* 0..15 */
	uint32_t ioregsel; /* 0..0xff */
	uint32_t irr;      /* pins with a request not yet delivered */
	uint32_t level;    /* pins driven high; 0 where unknown (KVM) */
	uint64_t redir[X86_IOAPIC_PINS];
};

struct x86_pit_channel {
	uint32_t count; /* the reload value, 1..65536 */
	uint16_t latched_count;
	uint8_t count_latched; /* 0, or the X86_PIT_RW_* byte to read next */
	uint8_t status_latched, status;
	uint8_t read_state, write_state; /* X86_PIT_RW_* */
	uint8_t write_latch;             /* the LSB of a word being written */
	uint8_t rw_mode;                 /* 1 LSB, 2 MSB, 3 LSB then MSB */
	uint8_t mode;                    /* 0..5 */
	uint8_t bcd, gate;
	uint8_t counting; /* a count was written (KVM: mode 0xff means not) */
	/* Counting progress at the save: ns since the count was loaded with
	 * the gate high, plus ticks counted before the gate went low. */
	uint64_t elapsed_ns;
	uint64_t frozen_ticks;
};

enum {
	X86_PLATFORM_HAS_KVMCLOCK = 1u << 0, /* kvmclock_* valid */
};

struct x86_platform {
	uint32_t flags;
	struct x86_pic_state pic[2]; /* master, slave */
	struct x86_ioapic_state ioapic;
	struct x86_pit_channel pit[3];
	uint8_t speaker_data_on; /* port 0x61 bit 1 */
	uint8_t hpet_legacy;     /* the PIT's interrupt routed away (KVM's flag) */
	/* KVM's clock (kvm_clock_data) where the guest has one. */
	uint64_t kvmclock_ns;
	uint32_t kvmclock_flags; /* KVM_CLOCK_* as KVM reported them */
	uint64_t kvmclock_realtime_ns;
	/* The host's CLOCK_REALTIME at the save (for clock_realtime). */
	uint64_t realtime_ns;
};

#define X86_PLATFORM_VERSION 2 /* of the vm/platform section */

/* The encoded size (fixed). */
size_t x86_platform_size(void);
/* Encodes p into buf (x86_platform_size() bytes, little-endian). */
void x86_platform_encode(const struct x86_platform *p, uint8_t *buf);
/* Decodes and range-checks a file's bytes: -EBADMSG naming the first bad
 * field in err; p is written only on success. */
int x86_platform_decode(const uint8_t *buf, size_t len, struct x86_platform *p,
			struct errbuf *err);

#endif
