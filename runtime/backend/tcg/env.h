/* Unicorn 2.0's CPU state, reached where its API stops.
 *
 * The x86 register API of unicorn 2.0.1 (Debian bookworm's libunicorn2)
 * cannot: load a segment's hidden part or change the CPL (in 64-bit mode
 * writing CS/SS/DS/ES sets only the selector), set EFER.NXE or EFER.SCE
 * (its CPU model's feature words lack NX and SYSCALL, so WRMSR masks them
 * off), read the exception error code, or clear QEMU's "exception in
 * flight" (old_exception, which QEMU's own delivery resets and unicorn's
 * hook path never does, so a second #PF would turn into #DF).
 *
 * uc_context_save/restore copy QEMU's CPUX86State up to its reset fields
 * verbatim, so we patch that copy. The offsets are QEMU 5.0's layout
 * (target/i386/cpu.h), which unicorn 2.0.x carries; tcg_env_calibrate()
 * checks them against the live engine before the backend trusts them and
 * refuses to run otherwise. */
#ifndef EMBER_TCG_ENV_H
#define EMBER_TCG_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <unicorn/unicorn.h>

#include "runtime/backend/tcg/deliver.h"

/* CPUX86State offsets (QEMU 5.0, x86_64 target). */
#define TCG_ENV_REGS 0        /* target_ulong regs[16] */
#define TCG_ENV_EIP 128
#define TCG_ENV_EFLAGS 136    /* IF, IOPL, ... (arithmetic flags live in cc_*) */
#define TCG_ENV_HFLAGS 176
#define TCG_ENV_HFLAGS2 180    /* uint32_t hflags2: HF2_NMI_MASK */
#define TCG_ENV_SEGS 184      /* SegmentCache segs[6], 24 bytes each */
#define TCG_ENV_LDT 328
#define TCG_ENV_TR 352
#define TCG_ENV_GDT 376
#define TCG_ENV_IDT 400
#define TCG_ENV_CR 424        /* target_ulong cr[5] */
#define TCG_ENV_EFER 560
#define TCG_ENV_ERROR_CODE 5352
#define TCG_ENV_DR 5368       /* target_ulong dr[8] */
#define TCG_ENV_OLD_EXCEPTION 5464
/* uint64_t tsc_offset, after u64 vm_vmcb: RDTSC returns the host's TSC
 * plus this (QEMU's helper_rdtsc; unicorn's cpu_get_tsc is the host TSC).
 * Nothing in unicorn's API reaches it and tcg_env_calibrate cannot run
 * code, so selftest.c checks it with a guest RDTSC. */
#define TCG_ENV_TSC_OFFSET 5480
#define TCG_ENV_END 5528      /* end_reset_fields: the saved size */

/* SegmentCache: u32 selector, u64 base, u32 limit, u32 flags. */
#define TCG_SC_SEL 0
#define TCG_SC_BASE 8
#define TCG_SC_LIMIT 16
#define TCG_SC_FLAGS 20
#define TCG_SC_SIZE 24

enum { TCG_R_ES, TCG_R_CS, TCG_R_SS, TCG_R_DS, TCG_R_FS, TCG_R_GS };

/* hflags bits (QEMU's HF_*_SHIFT). */
#define TCG_HF_CPL 3u
#define TCG_HF_INHIBIT_IRQ (1u << 3)
#define TCG_HF_CS32 (1u << 4)
#define TCG_HF_SS32 (1u << 5)
#define TCG_HF_ADDSEG (1u << 6)
#define TCG_HF_PE (1u << 7)
#define TCG_HF_MP (1u << 9)  /* MP, EM, TS: CR0 bits 1-3, shifted by 8 */
#define TCG_HF_EM (1u << 10)
#define TCG_HF_TS (1u << 11)
#define TCG_HF_LMA (1u << 14)
#define TCG_HF_CS64 (1u << 15)
#define TCG_HF_OSFXSR (1u << 22)
/* hflags2: NMIs blocked until the next IRET (QEMU's HF2_NMI_MASK, which
 * its helper_iret clears). */
#define TCG_HF2_NMI_MASK (1u << 2)

struct tcg_env {
	uc_engine *uc;
	uc_context *ctx;
	size_t data_off; /* where CPUX86State starts in the context */
	uint8_t *d;      /* = (uint8_t *)ctx + data_off, valid after save */
};

/* Checks the layout on uc (a fresh UC_MODE_64 engine: it writes
 * registers) and prepares e. Returns 0, or -ENOTSUP with why filled. */
int tcg_env_calibrate(struct tcg_env *e, uc_engine *uc, char *why, size_t why_len);
void tcg_env_free(struct tcg_env *e);
/* Snapshot the CPU into e->d / write e->d back. */
void tcg_env_save(struct tcg_env *e);
void tcg_env_restore(struct tcg_env *e);

uint64_t tcg_env_u64(const struct tcg_env *e, size_t off);
uint32_t tcg_env_u32(const struct tcg_env *e, size_t off);
void tcg_env_set_u64(struct tcg_env *e, size_t off, uint64_t v);
void tcg_env_set_u32(struct tcg_env *e, size_t off, uint32_t v);

void tcg_env_get_seg(const struct tcg_env *e, size_t off, struct tcg_seg *s);
void tcg_env_set_seg(struct tcg_env *e, size_t off, const struct tcg_seg *s);
/* Recomputes the hflags QEMU derives from segments and control registers
 * (cpu_x86_load_seg_cache in QEMU's cpu.h): CPL from SS.DPL, 16/32/64-bit
 * code and stack, ADDSEG; PE, MP, EM, TS from CR0, OSFXSR from CR4 and
 * LMA from EFER (cpu_x86_update_cr0/cr4 and cpu_load_efer, which
 * unicorn 2.0's register writes skip: they store CRs raw). Call after
 * changing CS, SS or a control register. */
void tcg_env_sync_hflags(struct tcg_env *e);

/* The delivery view of a saved snapshot, and back (RFLAGS goes through
 * uc_reg_read/write: the arithmetic flags are kept lazily). */
void tcg_env_to_cpu(const struct tcg_env *e, struct tcg_cpu *cpu);
void tcg_env_from_cpu(struct tcg_env *e, const struct tcg_cpu *cpu);

#endif
