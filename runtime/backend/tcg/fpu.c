/* The FXSAVE image of the TCG vCPU (Intel SDM Vol. 1 §10.5.1, Table 10-2,
 * the 64-bit layout: FIP and FDP as 64-bit offsets, no FCS/FDS, as KVM's
 * XSAVE area has it), built from unicorn's registers and written back
 * through them. QEMU 5's TCG keeps FOP/FIP/FDP only for KVM (cpu.h says
 * "KVM-only so far"): they are carried as they are. */
#include "runtime/backend/tcg/state.h"

#include <string.h>

#include <unicorn/x86.h>

#define FX_SLOT 16
#define FX_ST_BYTES 10
/* The MXCSR bits FXRSTOR accepts, as QEMU's FXSAVE reports them. */
#define MXCSR_MASK 0x0000ffffu
#define TAG_EMPTY 3u

static void put(uint8_t *fx, unsigned off, const void *v, size_t len)
{
	memcpy(fx + off, v, len);
}

static void get(const uint8_t *fx, unsigned off, void *v, size_t len)
{
	memcpy(v, fx + off, len);
}

void tcg_fpu_save(uc_engine *uc, uint8_t fx[X86_FXSAVE_SIZE])
{
	uint16_t fcw = 0, fsw = 0, ftw = 0, fop = 0;
	uint64_t fip = 0, fdp = 0;
	uint32_t mxcsr = 0, mxcsr_mask = MXCSR_MASK;
	uint8_t ftw_abridged = 0;

	memset(fx, 0, X86_FXSAVE_SIZE);
	uc_reg_read(uc, UC_X86_REG_FPCW, &fcw);
	uc_reg_read(uc, UC_X86_REG_FPSW, &fsw); /* with TOP in bits 13:11 */
	uc_reg_read(uc, UC_X86_REG_FPTAG, &ftw); /* two bits per physical register */
	uc_reg_read(uc, UC_X86_REG_FOP, &fop);
	uc_reg_read(uc, UC_X86_REG_FIP, &fip);
	uc_reg_read(uc, UC_X86_REG_FDP, &fdp);
	uc_reg_read(uc, UC_X86_REG_MXCSR, &mxcsr);
	for (unsigned i = 0; i < 8; i++)
		if (((ftw >> (2 * i)) & 3) != TAG_EMPTY)
			ftw_abridged |= (uint8_t)(1u << i);
	put(fx, X86_FX_FCW, &fcw, 2);
	put(fx, X86_FX_FSW, &fsw, 2);
	put(fx, X86_FX_FTW, &ftw_abridged, 1);
	put(fx, X86_FX_FOP, &fop, 2);
	put(fx, X86_FX_FIP, &fip, 8);
	put(fx, X86_FX_FDP, &fdp, 8);
	put(fx, X86_FX_MXCSR, &mxcsr, 4);
	put(fx, X86_FX_MXCSR_MASK, &mxcsr_mask, 4);
	/* ST(i) is relative to TOP, as FXSAVE stores it; unicorn's ST0-7
	 * read QEMU's fpregs[(TOP + i) & 7] in the 80-bit memory format. */
	for (unsigned i = 0; i < 8; i++) {
		uint8_t st[FX_SLOT] = { 0 };
		uc_reg_read(uc, UC_X86_REG_ST0 + (int)i, st);
		put(fx, X86_FX_ST + FX_SLOT * i, st, FX_ST_BYTES);
	}
	for (unsigned i = 0; i < 16; i++) {
		uint8_t x[FX_SLOT] = { 0 };
		uc_reg_read(uc, UC_X86_REG_XMM0 + (int)i, x);
		put(fx, X86_FX_XMM + FX_SLOT * i, x, FX_SLOT);
	}
}

void tcg_fpu_restore(uc_engine *uc, const uint8_t fx[X86_FXSAVE_SIZE])
{
	uint16_t fcw, fsw, fop, ftw = 0;
	uint64_t fip, fdp;
	uint32_t mxcsr;
	uint8_t ftw_abridged;

	get(fx, X86_FX_FCW, &fcw, 2);
	get(fx, X86_FX_FSW, &fsw, 2);
	get(fx, X86_FX_FTW, &ftw_abridged, 1);
	get(fx, X86_FX_FOP, &fop, 2);
	get(fx, X86_FX_FIP, &fip, 8);
	get(fx, X86_FX_FDP, &fdp, 8);
	get(fx, X86_FX_MXCSR, &mxcsr, 4);
	/* QEMU keeps only "empty or not" per register and recomputes the
	 * rest of the full tag word from the contents, as FXRSTOR does. */
	for (unsigned i = 0; i < 8; i++)
		if (!(ftw_abridged & (1u << i)))
			ftw |= (uint16_t)(TAG_EMPTY << (2 * i));
	uc_reg_write(uc, UC_X86_REG_FPCW, &fcw); /* also QEMU's rounding and precision */
	/* FSW first: its TOP decides which physical register ST(i) is. */
	uc_reg_write(uc, UC_X86_REG_FPSW, &fsw);
	uc_reg_write(uc, UC_X86_REG_FPTAG, &ftw);
	for (unsigned i = 0; i < 8; i++) {
		uint8_t st[FX_SLOT] = { 0 };
		get(fx, X86_FX_ST + FX_SLOT * i, st, FX_ST_BYTES);
		uc_reg_write(uc, UC_X86_REG_ST0 + (int)i, st);
	}
	uc_reg_write(uc, UC_X86_REG_FOP, &fop);
	uc_reg_write(uc, UC_X86_REG_FIP, &fip);
	uc_reg_write(uc, UC_X86_REG_FDP, &fdp);
	uc_reg_write(uc, UC_X86_REG_MXCSR, &mxcsr); /* also QEMU's SSE rounding */
	for (unsigned i = 0; i < 16; i++) {
		uint8_t x[FX_SLOT];
		get(fx, X86_FX_XMM + FX_SLOT * i, x, FX_SLOT);
		uc_reg_write(uc, UC_X86_REG_XMM0 + (int)i, x);
	}
}
