/* SYSENTER, SYSEXIT and SYSCALL with the semantics of the vendor the
 * guest is shown (its CPUID.0): the software CPU takes on Intel's when the
 * VM's table says GenuineIntel, AMD's otherwise (qemu/qemu.h says how the
 * instructions reach us; SYSCALL itself is done in hooks.c).
 *
 *   SYSENTER, SYSEXIT: Intel: protected mode, IA-32e mode included
 *     (SDM Vol. 2B, SYSENTER/SYSEXIT). AMD: legacy protected mode only,
 *     #UD in long mode, 64-bit and compatibility alike (APM Vol. 3,
 *     SYSENTER/SYSEXIT). Both: #GP(0) in real mode (QEMU's translator
 *     raises it) or when IA32_SYSENTER_CS[15:2] is 0; SYSEXIT #GP(0)
 *     outside CPL 0, and with REX.W for a non-canonical RCX or RDX.
 *   SYSCALL: Intel: #UD outside 64-bit mode. AMD: legacy and
 *     compatibility mode too (hooks.c; legacy mode is not done there).
 *
 * The segments loaded are flat (base 0, limit 4 GiB, page-granular),
 * whatever the GDT holds, as the instructions define them. */
#include "runtime/backend/tcg/tcg.h"

#include "runtime/backend/x86.h"

#define MSR_SYSENTER_CS 0x174u
#define MSR_SYSENTER_ESP 0x175u
#define MSR_SYSENTER_EIP 0x176u
#define RFLAGS_RF (1ULL << 16)
#define RFLAGS_VM (1ULL << 17)
#define SEG_CODE_RX (0xbu << 8) /* execute/read, accessed */
#define SEG_DATA_RW (0x3u << 8) /* read/write, accessed */
#define SEG_FLAT (TCG_SEG_P | TCG_SEG_S | TCG_SEG_G)
#define SEG_DPL3 (3u << 13)
#define REX_W_DFLAG 2 /* QEMU's dflag MO_64 */

static uint64_t msr(uc_engine *uc, uint32_t index)
{
	uc_x86_msr m = { index, 0 };
	uc_reg_read(uc, UC_X86_REG_MSR, &m);
	return m.value;
}

static bool canonical(uint64_t a)
{
	return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

static void load_flat(struct tcg_env *e, int reg, uint16_t sel, uint32_t flags)
{
	struct tcg_seg s = { .base = 0, .limit = 0xffffffff, .flags = SEG_FLAT | flags, .sel = sel };
	tcg_env_set_seg(e, TCG_ENV_SEGS + (size_t)reg * TCG_SC_SIZE, &s);
}

/* 64-bit code when IA-32e mode is active: L set, D clear. */
static uint32_t code_width(bool long_mode)
{
	return long_mode ? TCG_SEG_L : TCG_SEG_DB;
}

static int sysenter(struct tcg_env *e, uint16_t cs, bool lma, bool nx)
{
	/* TCG drops EFER.SCE and NXE from the guest's WRMSR (env.h); a
	 * kernel returns from SYSENTER with SYSRET (Linux does), which
	 * needs SCE: as for SYSCALL (hooks.c), every IA-32e kernel sets it. */
	if (lma)
		tcg_env_set_u64(e, TCG_ENV_EFER, tcg_env_u64(e, TCG_ENV_EFER) | X86_EFER_SCE |
							  (nx ? X86_EFER_NXE : 0));
	uint64_t esp = msr(e->uc, MSR_SYSENTER_ESP), eip = msr(e->uc, MSR_SYSENTER_EIP);
	uint64_t fl = tcg_env_u64(e, TCG_ENV_EFLAGS);
	tcg_env_set_u64(e, TCG_ENV_EFLAGS, fl & ~(RFLAGS_VM | X86_RFLAGS_IF | RFLAGS_RF));
	load_flat(e, TCG_R_CS, cs & 0xfffc, SEG_CODE_RX | code_width(lma));
	load_flat(e, TCG_R_SS, (uint16_t)(cs + 8) & 0xfffc, SEG_DATA_RW | TCG_SEG_DB);
	tcg_env_set_u64(e, TCG_ENV_REGS + 4 * 8, lma ? esp : (uint32_t)esp);
	tcg_env_set_u64(e, TCG_ENV_EIP, lma ? eip : (uint32_t)eip);
	tcg_env_sync_hflags(e);
	return 0;
}

static int sysexit(struct tcg_env *e, uint16_t cs, int dflag)
{
	if ((tcg_env_u32(e, TCG_ENV_HFLAGS) & TCG_HF_CPL) != 0)
		return -TCG_GP;
	uint64_t rcx = tcg_env_u64(e, TCG_ENV_REGS + 1 * 8), rdx = tcg_env_u64(e, TCG_ENV_REGS + 2 * 8);
	bool to64 = dflag == REX_W_DFLAG;
	if (to64 && (!canonical(rcx) || !canonical(rdx)))
		return -TCG_GP;
	uint16_t code = (uint16_t)(cs + (to64 ? 32 : 16)), stack = (uint16_t)(cs + (to64 ? 40 : 24));
	load_flat(e, TCG_R_CS, (code & 0xfffc) | 3, SEG_CODE_RX | SEG_DPL3 | code_width(to64));
	load_flat(e, TCG_R_SS, (stack & 0xfffc) | 3, SEG_DATA_RW | SEG_DPL3 | TCG_SEG_DB);
	tcg_env_set_u64(e, TCG_ENV_REGS + 4 * 8, to64 ? rcx : (uint32_t)rcx);
	tcg_env_set_u64(e, TCG_ENV_EIP, to64 ? rdx : (uint32_t)rdx);
	tcg_env_sync_hflags(e);
	return 0;
}

int tcg_fast_call_hook(struct tcg_qemu_ctx *q, uint8_t *env, enum tcg_fast_call which, int arg)
{
	struct backend_vcpu *v = (struct backend_vcpu *)q; /* q is the first member */
	struct tcg_env live = { .uc = v->uc, .d = env };
	uint32_t hf = tcg_env_u32(&live, TCG_ENV_HFLAGS);
	if (which == TCG_SYSCALL)
		return q->intel && !(hf & TCG_HF_CS64) ? -TCG_UD : 1;
	/* QEMU's translator sends real mode to #GP before it calls these. */
	if (!q->intel && (hf & TCG_HF_LMA))
		return -TCG_UD;
	uint16_t cs = (uint16_t)msr(v->uc, MSR_SYSENTER_CS);
	if (!(cs & 0xfffc))
		return -TCG_GP;
	if (which == TCG_SYSENTER)
		return sysenter(&live, cs, hf & TCG_HF_LMA, q->nx);
	return sysexit(&live, cs, arg);
}
