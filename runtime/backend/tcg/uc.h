/* unicorn register access as the TCG backend uses it everywhere: one
 * 64-bit value at a time (uc_reg_read/write report errors only for ids
 * the CPU lacks, and every id used here exists on x86-64). */
#ifndef EMBER_BACKEND_TCG_UC_H
#define EMBER_BACKEND_TCG_UC_H

#include <stdint.h>
#include <unicorn/unicorn.h>

#define MSR_EFER 0xc0000080u

static inline uint64_t tcg_reg(uc_engine *uc, int id)
{
	uint64_t v = 0;
	uc_reg_read(uc, id, &v);
	return v;
}

static inline void tcg_set_reg(uc_engine *uc, int id, uint64_t v)
{
	uc_reg_write(uc, id, &v);
}

#endif
