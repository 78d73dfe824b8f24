/* The replaced QEMU functions; see qemu.h. */
#include "runtime/backend/tcg/qemu/qemu.h"

#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/base/log.h"
#include "runtime/backend/tcg/env.h"
#include "runtime/backend/tcg/mmu.h"

/* QEMU 5 internals exported by libunicorn.so 2.0.x (x86_64 target). */
void tlb_set_page_with_attrs_x86_64(void *cs, uint64_t vaddr, uint64_t paddr, uint32_t attrs,
				    int prot, int mmu_idx, uint64_t size);
void raise_exception_err_ra_x86_64(void *env, int exception, int error_code, uintptr_t retaddr)
	__attribute__((noreturn));
bool x86_cpu_tlb_fill_x86_64(void *cs, uint64_t addr, int size, int access, int mmu_idx,
			     bool probe, uintptr_t retaddr);
bool x86_cpu_exec_interrupt_x86_64(void *cs, int interrupt_request);
void cpu_reset_interrupt(void *cs, int mask);
void tlb_set_dirty_x86_64(void *cs, uint64_t vaddr);
void tlb_reset_dirty_x86_64(void *cs, uintptr_t host_start, uintptr_t length);
void *qemu_map_ram_ptr_x86_64(void *uc, void *ram_block, uint64_t ram_addr);
void tlb_protect_code_x86_64(void *uc, uint64_t ram_addr);
void tlb_unprotect_code_x86_64(void *uc, uint64_t ram_addr);
int cpu_breakpoint_insert_x86_64(void *cpu, uint64_t pc, int flags, void **breakpoint);
int cpu_watchpoint_insert_x86_64(void *cpu, uint64_t addr, uint64_t len, int flags,
				 void **watchpoint);
void tb_invalidate_phys_range_x86_64(void *uc, uint64_t start, uint64_t end);
uint64_t qemu_ram_addr_from_host_x86_64(void *uc, void *host);
void tlb_flush_x86_64(void *cs);
void cpu_exit(void *cs);
void check_exit_request_x86_64(void *tcg_ctx);
void helper_rdmsr_x86_64(void *env);
void helper_wrmsr_x86_64(void *env);
void helper_sysenter_x86_64(void *env, int next_eip_addend);
void helper_sysexit_x86_64(void *env, int dflag);
void helper_syscall_x86_64(void *env, int next_eip_addend);
void tb_flush_x86_64(void *cs);
#define RAM_ADDR_INVALID (~(uint64_t)0)
extern void (*cpu_interrupt_handler)(void *cs, int mask);

/* QEMU's PAGE_* protection bits and x86 MMU indexes (cpu.h). */
#define PAGE_READ 1
#define PAGE_WRITE 2
#define PAGE_EXEC 4
#define MMU_DATA_STORE 1
#define MMU_USER_IDX 1
#define CPU_INTERRUPT_HARD 0x0002
/* Where CPUX86State sits in X86CPU in Debian's 2.0.1 build; confirmed (or
 * searched for) on first use. The search stays inside the object. */
#define ENV_OFF_GUESS 0x8750
#define ENV_OFF_SCAN_END 0x9000
/* The vendor words follow the reset fields (QEMU 5.0: after eleven
 * cpuid_*level* words); the search stays within this much past them. */
#define VENDOR_SCAN_LEN 256

/* The helpers we pass calls on to, in libunicorn (RTLD_NEXT: the
 * definition after ours). Looked up on first use from whichever thread
 * gets there (the vCPU's, or the VMM's through unicorn's register API),
 * hence the atomics; tcg_qemu_interposed checks they all resolve. */
#define NR_PASSED 5
static const char *const passed_names[NR_PASSED] = {
	"helper_rdmsr_x86_64", "helper_wrmsr_x86_64", "helper_sysenter_x86_64",
	"helper_sysexit_x86_64", "helper_syscall_x86_64",
};
static void *passed[NR_PASSED];

static void *library_helper(const char *name)
{
	unsigned i = 0;
	while (i < NR_PASSED - 1 && strcmp(passed_names[i], name) != 0)
		i++;
	void *f = __atomic_load_n(&passed[i], __ATOMIC_ACQUIRE);
	if (!f) {
		f = dlsym(RTLD_NEXT, passed_names[i]);
		__atomic_store_n(&passed[i], f, __ATOMIC_RELEASE);
	}
	return f;
}

/* The vCPU running on this thread: fills happen only inside uc_emu_start. */
static __thread struct tcg_qemu_ctx *qemu_current;

void tcg_qemu_set_current(struct tcg_qemu_ctx *ctx)
{
	qemu_current = ctx;
}

struct tcg_qemu_ctx *tcg_qemu_current(void)
{
	return qemu_current;
}

bool tcg_qemu_interposed(void)
{
	static const char *const names[] = {
		"x86_cpu_tlb_fill_x86_64", "x86_cpu_exec_interrupt_x86_64",
		"tlb_protect_code_x86_64", "tlb_unprotect_code_x86_64", "check_exit_request_x86_64",
		"helper_rdmsr_x86_64", "helper_wrmsr_x86_64", "helper_sysenter_x86_64",
		"helper_sysexit_x86_64", "helper_syscall_x86_64",
	};
	void *const ours[] = {
		(void *)x86_cpu_tlb_fill_x86_64, (void *)x86_cpu_exec_interrupt_x86_64,
		(void *)tlb_protect_code_x86_64, (void *)tlb_unprotect_code_x86_64,
		(void *)check_exit_request_x86_64, (void *)helper_rdmsr_x86_64,
		(void *)helper_wrmsr_x86_64, (void *)helper_sysenter_x86_64,
		(void *)helper_sysexit_x86_64, (void *)helper_syscall_x86_64,
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (dlsym(RTLD_DEFAULT, names[i]) != ours[i])
			return false;
	/* And the library's own, which ours pass calls on to. */
	for (size_t i = 0; i < NR_PASSED; i++)
		if (!library_helper(passed_names[i]))
			return false;
	return true;
}

void tcg_qemu_request(void *cs)
{
	/* The request bit, then QEMU's exit flag (cpu_exit): every block
	 * tests the flag on entry, chained or not, and leaves before its
	 * first instruction if it is set, so the vCPU reaches QEMU's loop
	 * within one block and no chain has to be broken. Safe only because
	 * check_exit_request_x86_64 below generates nothing: blocks leave at
	 * their start, never in the middle (where QEMU would restart the
	 * block and repeat its stores). */
	cpu_interrupt_handler(cs, CPU_INTERRUPT_HARD);
	cpu_exit(cs);
}

/* Unicorn 2.0 adds an exit-flag test after every guest store (and after
 * UC_HOOK_CODE callbacks, which we do not install) that leaves the block
 * there; cpu_tb_exec then sets RIP back to the block's start, and the
 * stores already made, MMIO writes included, run again. For the vCPU we
 * run, translate no such test: the test at every block's start (QEMU's
 * gen_tb_start) stays, and that is where a request is seen. Other
 * engines (none but ours run on a vCPU thread) keep unicorn's code. */
void check_exit_request_x86_64(void *tcg_ctx)
{
	if (qemu_current)
		return;
	static void (*orig)(void *);
	if (!orig)
		*(void **)&orig = dlsym(RTLD_NEXT, "check_exit_request_x86_64");
	orig(tcg_ctx);
}

void tcg_qemu_clear_request(void *cs)
{
	cpu_reset_interrupt(cs, CPU_INTERRUPT_HARD);
}

int tcg_qemu_init_pages(struct tcg_qemu_ctx *t)
{
	t->nr_pages = (gm_end(t->mem) + 4095) / 4096;
	t->code_pages = calloc((t->nr_pages + 7) / 8, 1);
	return t->code_pages ? 0 : -ENOMEM;
}

static bool page_marked(const struct tcg_qemu_ctx *t, uint64_t pg)
{
	return (__atomic_load_n(&t->code_pages[pg / 8], __ATOMIC_RELAXED) >> (pg % 8)) & 1;
}

static bool is_code_page(const struct tcg_qemu_ctx *t, uint64_t gpa)
{
	uint64_t pg = gpa >> 12;
	return pg >= t->nr_pages || page_marked(t, pg);
}

bool tcg_qemu_has_code(const struct tcg_qemu_ctx *t, uint64_t gpa, uint64_t len)
{
	if (!t->code_pages || !len)
		return false;
	uint64_t first = gpa >> 12, last = (gpa + len - 1) >> 12;
	if (gpa + len - 1 < gpa)
		last = UINT64_MAX >> 12;
	for (uint64_t pg = first; pg <= last && pg < t->nr_pages; pg++)
		if (page_marked(t, pg))
			return true;
	return false;
}

/* Bytes [off, off + len) of page pg; QEMU drops the blocks that overlap. */
static void invalidate_page(struct tcg_qemu_ctx *t, uint64_t pg, uint64_t off, uint64_t len)
{
	void *host = gm_ptr(t->mem, pg << 12, 4096);
	if (!host)
		return;
	uint64_t ram = qemu_ram_addr_from_host_x86_64(t->uc, host);
	if (ram != RAM_ADDR_INVALID)
		tb_invalidate_phys_range_x86_64(t->uc, ram + off, ram + off + len);
}

void tcg_qemu_invalidate(struct tcg_qemu_ctx *t, uint64_t gpa, uint64_t len)
{
	if (!t->code_pages || !len)
		return;
	uint64_t first = gpa >> 12, last = (gpa + len - 1) >> 12;
	if (gpa + len - 1 < gpa)
		last = UINT64_MAX >> 12;
	for (uint64_t pg = first; pg <= last && pg < t->nr_pages; pg++) {
		if (!page_marked(t, pg))
			continue;
		uint64_t off = pg == first ? gpa & 4095 : 0;
		uint64_t end = pg == last ? ((gpa + len - 1) & 4095) + 1 : 4096;
		invalidate_page(t, pg, off, end - off);
	}
}

void tcg_qemu_invalidate_all(struct tcg_qemu_ctx *t)
{
	for (uint64_t pg = 0; t->code_pages && pg < t->nr_pages; pg++)
		if (page_marked(t, pg))
			invalidate_page(t, pg, 0, 4096);
}

void tcg_qemu_tlb_flush(struct tcg_qemu_ctx *t)
{
	/* Without cs nothing was ever filled: the TLB is empty. */
	if (t->cs)
		tlb_flush_x86_64(t->cs);
}

/* QEMU's ram_addr -> guest physical page, through the host address. */
static bool ram_to_gpa(const struct tcg_qemu_ctx *t, uint64_t ram_addr, uint8_t **host,
		       uint64_t *gpa)
{
	uint8_t *h = qemu_map_ram_ptr_x86_64(t->uc, NULL, ram_addr & ~0xfffULL);
	for (unsigned i = 0; h && i < t->mem->nr_regions; i++) {
		const struct gm_region *r = &t->mem->regions[i];
		if (h >= r->host && h < r->host + r->size) {
			*host = h;
			*gpa = r->gpa + (uint64_t)(h - r->host);
			return true;
		}
	}
	return false;
}

static void mark_code(uint64_t ram_addr, bool code)
{
	struct tcg_qemu_ctx *t = qemu_current;
	uint8_t *host;
	uint64_t gpa;
	if (!t || !t->code_pages || !ram_to_gpa(t, ram_addr, &host, &gpa) || gpa >> 12 >= t->nr_pages)
		return;
	uint64_t pg = gpa >> 12;
	if (code) {
		__atomic_fetch_or(&t->code_pages[pg / 8], (uint8_t)(1u << (pg % 8)), __ATOMIC_SEQ_CST);
		/* Stores to this page must look for code again. */
		if (t->cs)
			tlb_reset_dirty_x86_64(t->cs, (uintptr_t)host, 4096);
	} else {
		__atomic_fetch_and(&t->code_pages[pg / 8], (uint8_t)~(1u << (pg % 8)), __ATOMIC_SEQ_CST);
	}
}

/* A page got its first translated block. */
void tlb_protect_code_x86_64(void *uc, uint64_t ram_addr)
{
	(void)uc;
	mark_code(ram_addr, true);
}

/* A page lost its last translated block. */
void tlb_unprotect_code_x86_64(void *uc, uint64_t ram_addr)
{
	(void)uc;
	mark_code(ram_addr, false);
}

bool x86_cpu_exec_interrupt_x86_64(void *cs, int interrupt_request)
{
	struct tcg_qemu_ctx *t = qemu_current;
	if (!t || !t->irq_hook || t->cs != cs || t->env_off < 0) {
		static bool (*orig)(void *, int);
		if (!orig)
			*(void **)&orig = dlsym(RTLD_NEXT, "x86_cpu_exec_interrupt_x86_64");
		return orig(cs, interrupt_request);
	}
	return t->irq_hook(t, (uint8_t *)cs + t->env_off);
}

static bool env_matches(const struct tcg_qemu_ctx *t, const uint8_t *env)
{
	uint64_t v[4];
	memcpy(&v[0], env + TCG_ENV_CR, 8);
	memcpy(&v[1], env + TCG_ENV_CR + 24, 8);
	memcpy(&v[2], env + TCG_ENV_CR + 32, 8);
	memcpy(&v[3], env + TCG_ENV_EFER, 8);
	return v[0] == t->cr[0] && v[1] == t->cr[3] && v[2] == t->cr[4] && v[3] == t->efer;
}

/* QEMU's cpuid_vendor1..3: CPUID.0's EBX, EDX, ECX. */
static const uint32_t vendor_amd[3] = { 0x68747541, 0x69746e65, 0x444d4163 };
static const uint32_t vendor_intel[3] = { 0x756e6547, 0x49656e69, 0x6c65746e };

static bool vendor_at(const uint8_t *p, const uint32_t *words)
{
	return memcmp(p, words, 12) == 0;
}

/* Writes the vendor words for ctx->intel; finds them first (the only
 * place past the reset fields holding either vendor). Returns whether the
 * words changed. */
static bool apply_vendor(struct tcg_qemu_ctx *t, uint8_t *env)
{
	if (t->vendor_off < 0) {
		long found = -1;
		for (long off = TCG_ENV_END; off + 12 <= TCG_ENV_END + VENDOR_SCAN_LEN; off += 4) {
			if (!vendor_at(env + off, vendor_amd) && !vendor_at(env + off, vendor_intel))
				continue;
			if (found >= 0) {
				log_err("tcg: QEMU's CPU vendor words found twice; SYSENTER keeps "
					"AMD's semantics");
				return false;
			}
			found = off;
		}
		if (found < 0) {
			log_err("tcg: QEMU's CPU vendor words not found; SYSENTER keeps AMD's "
				"semantics");
			return false;
		}
		t->vendor_off = found;
		log_debug("tcg: QEMU's CPU vendor at CPUX86State + 0x%lx", found);
	}
	const uint32_t *want = t->intel ? vendor_intel : vendor_amd;
	if (vendor_at(env + t->vendor_off, want))
		return false;
	memcpy(env + t->vendor_off, want, 12);
	return true;
}

void tcg_qemu_set_intel(struct tcg_qemu_ctx *t, bool intel)
{
	t->intel = intel;
	/* Blocks translated under the other vendor decided SYSENTER by it:
	 * the vendor is not part of a block's lookup key. */
	if (t->cs && t->env_off >= 0 && apply_vendor(t, (uint8_t *)t->cs + t->env_off))
		tb_flush_x86_64(t->cs);
}

static uint8_t *find_env(struct tcg_qemu_ctx *t, void *cs)
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
	t->cs = cs;
	/* Before the first block is translated: the translator reads them. */
	apply_vendor(t, base + t->env_off);
	if (t->on_cs)
		t->on_cs(t);
	return base + t->env_off;
}

/* Whether another engine of the VM holds code from page gpa. */
static bool peer_code(const struct tcg_qemu_ctx *t, uint64_t gpa)
{
	if (!t->peers || !t->nr_peers || *t->nr_peers < 2)
		return false;
	for (unsigned i = 0; i < *t->nr_peers; i++) {
		const struct tcg_qemu_ctx *p = t->peers[i];
		if (p && p != t && p->code_pages && tcg_qemu_has_code(p, gpa & ~0xfffULL, 4096))
			return true;
	}
	return false;
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
	struct tcg_qemu_ctx *t = qemu_current;
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
	pg.dirty = t->dirty;
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
		/* Tracking: a clean page read first must come back here on
		 * its first store, to be marked; a dirty one need not. */
		if (t->dirty && access != MMU_DATA_STORE && !tcg_dirty_test(t->dirty, w.gpa))
			prot &= ~PAGE_WRITE;
		/* Another engine's code: its first store is reported. */
		if ((prot & PAGE_WRITE) && access != MMU_DATA_STORE && peer_code(t, w.gpa))
			prot &= ~PAGE_WRITE;
		prot |= 1 << access; /* the access just checked is allowed */
		if (access == MMU_DATA_STORE)
			tcg_dirty_mark(t->dirty, w.gpa);
		if (access == MMU_DATA_STORE && t->peer_written && peer_code(t, w.gpa))
			t->peer_written(t, w.gpa & ~0xfffULL);
		tlb_set_page_with_attrs_x86_64(cs, addr & ~0xfffULL, w.gpa & ~0xfffULL, 0, prot, mmu_idx,
					       w.page_size);
		/* RAM without translated code: stores take the fast path. */
		if ((prot & PAGE_WRITE) && t->code_pages && !is_code_page(t, w.gpa) &&
		    gm_ptr(t->mem, w.gpa & ~0xfffULL, 4096))
			tlb_set_dirty_x86_64(cs, addr & ~0xfffULL);
		return true;
	}
	if (probe)
		return false;
	if (r == TCG_WALK_GP)
		raise_exception_err_ra_x86_64(env, 13, 0, retaddr);
	memcpy(env + TCG_ENV_CR + 16, &addr, 8); /* CR2 */
	raise_exception_err_ra_x86_64(env, 14, (int)err, retaddr);
}

/* Debug-register breakpoints: unicorn
 * 2.0.1 crashes in generated code once the guest reaches an instruction
 * breakpoint it armed through DR7 (its debug-exception path is
 * incomplete), so a guest could kill its VMM with two MOVs. QEMU's
 * hw_breakpoint_insert is the only caller of these two; refusing makes it
 * record the breakpoint as not armed. The guest's DR0-DR7 keep the values
 * it writes (they read back and are saved in snapshots); no #DB is raised
 * for them. Data breakpoints never fired on unicorn 2.0.1 anyway. */
int cpu_breakpoint_insert_x86_64(void *cpu, uint64_t pc, int flags, void **breakpoint)
{
	(void)cpu;
	(void)pc;
	(void)flags;
	if (breakpoint)
		*breakpoint = NULL;
	return -ENOSYS;
}

int cpu_watchpoint_insert_x86_64(void *cpu, uint64_t addr, uint64_t len, int flags,
				 void **watchpoint)
{
	(void)cpu;
	(void)addr;
	(void)len;
	(void)flags;
	if (watchpoint)
		*watchpoint = NULL;
	return -ENOSYS;
}

/* RDMSR and WRMSR (see qemu.h). Called from generated code: the return
 * address is where QEMU finds the instruction again for the #GP. */
static void msr_helper(void *env, bool write, uintptr_t retaddr)
{
	struct tcg_qemu_ctx *t = qemu_current;
	/* Our vCPU's RDMSR/WRMSR only: unicorn's register API calls these
	 * helpers too (UC_X86_REG_MSR), for any engine, from any thread. */
	bool ours = t && t->msr_hook && t->cs && t->env_off >= 0 &&
		    (uint8_t *)t->cs + t->env_off == (uint8_t *)env;
	int r = ours ? t->msr_hook(t, env, write) : 1;
	if (r < 0)
		raise_exception_err_ra_x86_64(env, 13, 0, retaddr);
	if (r == 0)
		return;
	void (*orig)(void *);
	*(void **)&orig = library_helper(write ? "helper_wrmsr_x86_64" : "helper_rdmsr_x86_64");
	orig(env);
}

__attribute__((noinline)) void helper_rdmsr_x86_64(void *env)
{
	msr_helper(env, false, (uintptr_t)__builtin_return_address(0));
}

__attribute__((noinline)) void helper_wrmsr_x86_64(void *env)
{
	msr_helper(env, true, (uintptr_t)__builtin_return_address(0));
}

/* SYSENTER, SYSEXIT, SYSCALL (see qemu.h). */
static bool fast_call(void *env, enum tcg_fast_call which, int arg, uintptr_t retaddr)
{
	struct tcg_qemu_ctx *t = qemu_current;
	bool ours = t && t->fast_call_hook && t->cs && t->env_off >= 0 &&
		    (uint8_t *)t->cs + t->env_off == (uint8_t *)env;
	int r = ours ? t->fast_call_hook(t, env, which, arg) : 1;
	if (r < 0)
		raise_exception_err_ra_x86_64(env, -r, 0, retaddr);
	return r == 0;
}

/* The library's own helper (SYSCALL's runs the hooks, hooks.c). */
#define LIBRARY_HELPER(name, env, arg)                                              \
	do {                                                                        \
		void (*orig)(void *, int);                                          \
		*(void **)&orig = library_helper(name);                             \
		orig(env, arg);                                                     \
	} while (0)

__attribute__((noinline)) void helper_sysenter_x86_64(void *env, int next_eip_addend)
{
	if (!fast_call(env, TCG_SYSENTER, 0, (uintptr_t)__builtin_return_address(0)))
		LIBRARY_HELPER("helper_sysenter_x86_64", env, next_eip_addend);
}

__attribute__((noinline)) void helper_sysexit_x86_64(void *env, int dflag)
{
	if (!fast_call(env, TCG_SYSEXIT, dflag, (uintptr_t)__builtin_return_address(0)))
		LIBRARY_HELPER("helper_sysexit_x86_64", env, dflag);
}

__attribute__((noinline)) void helper_syscall_x86_64(void *env, int next_eip_addend)
{
	if (!fast_call(env, TCG_SYSCALL, 0, (uintptr_t)__builtin_return_address(0)))
		LIBRARY_HELPER("helper_syscall_x86_64", env, next_eip_addend);
}
