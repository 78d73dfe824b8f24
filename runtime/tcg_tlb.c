/* The TLB-fill interposer; see tcg_tlb.h. */
#include "runtime/tcg_tlb.h"

#include <dlfcn.h>
#include <stddef.h>
#include <string.h>

#include "runtime/log.h"
#include "runtime/tcg_env.h"
#include "runtime/tcg_mmu.h"

/* QEMU 5 internals exported by libunicorn.so 2.0.x (x86_64 target). */
void tlb_set_page_with_attrs_x86_64(void *cs, uint64_t vaddr, uint64_t paddr, uint32_t attrs,
				    int prot, int mmu_idx, uint64_t size);
void raise_exception_err_ra_x86_64(void *env, int exception, int error_code, uintptr_t retaddr)
	__attribute__((noreturn));
bool x86_cpu_tlb_fill_x86_64(void *cs, uint64_t addr, int size, int access, int mmu_idx,
			     bool probe, uintptr_t retaddr);

/* QEMU's PAGE_* protection bits and x86 MMU indexes (cpu.h). */
#define PAGE_READ 1
#define PAGE_WRITE 2
#define PAGE_EXEC 4
#define MMU_USER_IDX 1
/* Where CPUX86State sits in X86CPU in Debian's 2.0.1 build; confirmed (or
 * searched for) on first use. The search stays inside the object. */
#define ENV_OFF_GUESS 0x8750
#define ENV_OFF_SCAN_END 0x9000

/* The vCPU running on this thread: fills happen only inside uc_emu_start. */
static __thread struct tcg_tlb_ctx *tlb_current;

void tcg_tlb_set_current(struct tcg_tlb_ctx *ctx)
{
	tlb_current = ctx;
}

bool tcg_tlb_interposed(void)
{
	return dlsym(RTLD_DEFAULT, "x86_cpu_tlb_fill_x86_64") == (void *)x86_cpu_tlb_fill_x86_64;
}

static bool env_matches(const struct tcg_tlb_ctx *t, const uint8_t *env)
{
	uint64_t v[4];
	memcpy(&v[0], env + TCG_ENV_CR, 8);
	memcpy(&v[1], env + TCG_ENV_CR + 24, 8);
	memcpy(&v[2], env + TCG_ENV_CR + 32, 8);
	memcpy(&v[3], env + TCG_ENV_EFER, 8);
	return v[0] == t->cr[0] && v[1] == t->cr[3] && v[2] == t->cr[4] && v[3] == t->efer;
}

static uint8_t *find_env(struct tcg_tlb_ctx *t, void *cs)
{
	uint8_t *base = cs;
	if (t->env_off >= 0)
		return base + t->env_off;
	if (env_matches(t, base + ENV_OFF_GUESS)) {
		t->env_off = ENV_OFF_GUESS;
	} else {
		for (long off = 0; off + TCG_ENV_EFER + 8 <= ENV_OFF_SCAN_END; off += 8) {
			if (env_matches(t, base + off)) {
				t->env_off = off;
				break;
			}
		}
	}
	if (t->env_off < 0)
		return NULL;
	log_debug("tcg: CPUX86State at CPUState + 0x%lx", t->env_off);
	return base + t->env_off;
}

static bool unicorn_fill(void *cs, uint64_t addr, int size, int access, int mmu_idx, bool probe,
			 uintptr_t retaddr)
{
	/* Unicorn's own fill: identity-mapped, right only without paging. */
	static bool (*orig)(void *, uint64_t, int, int, int, bool, uintptr_t);
	if (!orig)
		*(void **)&orig = dlsym(RTLD_NEXT, "x86_cpu_tlb_fill_x86_64");
	return orig(cs, addr, size, access, mmu_idx, probe, retaddr);
}

bool x86_cpu_tlb_fill_x86_64(void *cs, uint64_t addr, int size, int access, int mmu_idx,
			     bool probe, uintptr_t retaddr)
{
	struct tcg_tlb_ctx *t = tlb_current;
	uint8_t *env = t ? find_env(t, cs) : NULL;
	if (!env) {
		if (t)
			log_ratelimited(LOG_ERROR, "tcg: cannot find the CPU state; paging is broken");
		return unicorn_fill(cs, addr, size, access, mmu_idx, probe, retaddr);
	}
	t->fills++;

	struct tcg_paging pg;
	memcpy(&pg.cr0, env + TCG_ENV_CR, 8);
	memcpy(&pg.cr3, env + TCG_ENV_CR + 24, 8);
	memcpy(&pg.cr4, env + TCG_ENV_CR + 32, 8);
	memcpy(&pg.efer, env + TCG_ENV_EFER, 8);
	pg.nx = t->nx;
	bool user = mmu_idx == MMU_USER_IDX;
	struct tcg_walk w;
	uint32_t err = 0;
	int r = tcg_mmu_walk(t->mem, &pg, addr, (enum tcg_access)access, user, true, &w, &err);
	if (r == 0) {
		/* The rights QEMU's handle_mmu_fault grants, so that later
		 * accesses of another kind come back here: no write before the
		 * page is dirty (the first write sets D). */
		int prot = PAGE_READ;
		if (w.all_write || (!user && !(pg.cr0 & (1ULL << 16))))
			prot |= PAGE_WRITE;
		if (!w.no_exec)
			prot |= PAGE_EXEC;
		if (!w.dirty)
			prot &= ~PAGE_WRITE;
		prot |= 1 << access; /* the access just checked is allowed */
		tlb_set_page_with_attrs_x86_64(cs, addr & ~0xfffULL, w.gpa & ~0xfffULL, 0, prot, mmu_idx,
					       w.page_size);
		return true;
	}
	if (probe)
		return false;
	if (r == TCG_WALK_GP)
		raise_exception_err_ra_x86_64(env, 13, 0, retaddr);
	memcpy(env + TCG_ENV_CR + 16, &addr, 8); /* CR2 */
	raise_exception_err_ra_x86_64(env, 14, (int)err, retaddr);
}
