/* Block chaining, and breaking it on demand (see qemu.h).
 *
 * QEMU patches a block's direct jump to go straight into the next block
 * (tb_set_jmp_target); a chained loop then never returns to QEMU's main
 * loop, where interrupt requests are noticed. QEMU would break out with
 * cpu_exit, which unicorn 2.0 cannot take safely. So we record every jump
 * QEMU chains, with the address of the jump's exit stub that QEMU passed
 * when it created the block (tb_reset_jump), and when the vCPU must be
 * reached we point the chained jumps back at their stubs — a naturally
 * aligned 4-byte store into the jump, which QEMU itself makes from other
 * threads under MTTCG. QEMU still believes the jumps chained and never
 * re-chains them; they stay slow until their blocks are retranslated,
 * which keeps this rare path simple. */
#include "runtime/backend/tcg/qemu/qemu.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* QEMU 5's TranslationBlock starts with pc, cs_base, flags/cflags,
 * size/icount, then tc.ptr (the block's host code) and tc.size. */
#define TB_PC 0
#define TB_TC_PTR 32
#define TB_TC_SIZE 40

enum { ENT_FREE, ENT_RESET, ENT_CHAINED, ENT_BROKEN };

struct chain_ent {
	void *tb;
	uintptr_t reset;  /* the jump's exit stub */
	uintptr_t code;   /* tc.ptr when recorded, to validate before patching */
	uint64_t pc;
	uint8_t n, state;
};

/* One table per process: tb_set_jmp_target has no context but the block,
 * and the backend runs one vCPU. Guarded by chain_lock. */
static pthread_mutex_t chain_lock = PTHREAD_MUTEX_INITIALIZER;
static struct chain_ent *chain_tab;
static size_t chain_cap, chain_used;
static uintptr_t chain_max_tb;

void tb_set_jmp_target_x86_64(void *tb, int n, uintptr_t addr);

static void orig_set(void *tb, int n, uintptr_t addr)
{
	static void (*orig)(void *, int, uintptr_t);
	if (!orig)
		*(void **)&orig = dlsym(RTLD_NEXT, "tb_set_jmp_target_x86_64");
	orig(tb, n, addr);
}

static size_t slot_of(const void *tb, int n, size_t cap)
{
	uint64_t h = ((uintptr_t)tb >> 4) * 2 + (unsigned)n;
	h *= 0x9e3779b97f4a7c15ULL;
	return (size_t)(h >> 20) & (cap - 1);
}

static struct chain_ent *find(void *tb, int n, bool add)
{
	if (!chain_tab)
		return NULL;
	for (size_t i = slot_of(tb, n, chain_cap);; i = (i + 1) & (chain_cap - 1)) {
		struct chain_ent *e = &chain_tab[i];
		if (e->state == ENT_FREE) {
			if (!add)
				return NULL;
			e->tb = tb;
			e->n = (uint8_t)n;
			chain_used++;
			return e;
		}
		if (e->tb == tb && e->n == n)
			return e;
	}
}

static bool grow(void)
{
	size_t cap = chain_cap ? chain_cap * 2 : 1u << 16;
	struct chain_ent *old = chain_tab, *tab = calloc(cap, sizeof(*tab));
	if (!tab)
		return false;
	size_t old_cap = chain_cap;
	chain_tab = tab;
	chain_cap = cap;
	chain_used = 0;
	for (size_t i = 0; i < old_cap; i++) {
		if (old[i].state == ENT_FREE)
			continue;
		struct chain_ent *e = find(old[i].tb, old[i].n, true);
		*e = old[i];
	}
	free(old);
	return true;
}

static void forget_all(void)
{
	if (chain_tab)
		memset(chain_tab, 0, chain_cap * sizeof(*chain_tab));
	chain_used = 0;
	chain_max_tb = 0;
}

void tb_set_jmp_target_x86_64(void *tb, int n, uintptr_t addr)
{
	if (!tcg_qemu_current()) {
		orig_set(tb, n, addr);
		return;
	}
	pthread_mutex_lock(&chain_lock);
	uintptr_t code, size;
	memcpy(&code, (uint8_t *)tb + TB_TC_PTR, sizeof(code));
	memcpy(&size, (uint8_t *)tb + TB_TC_SIZE, sizeof(size));
	/* An exit stub lies inside the block; a chain to the block itself
	 * targets its first byte. */
	bool reset = addr > code && addr < code + size;
	if (reset && !find(tb, n, false) && (uintptr_t)tb < chain_max_tb)
		forget_all(); /* blocks are allocated upwards: the buffer was flushed */
	if ((chain_used + 1) * 2 > chain_cap && !grow()) {
		pthread_mutex_unlock(&chain_lock);
		orig_set(tb, n, addr);
		return;
	}
	struct chain_ent *e = find(tb, n, reset);
	if (reset) {
		e->reset = addr;
		e->code = code;
		memcpy(&e->pc, (uint8_t *)tb + TB_PC, sizeof(e->pc));
		e->state = ENT_RESET;
		if ((uintptr_t)tb > chain_max_tb)
			chain_max_tb = (uintptr_t)tb;
	} else if (e && e->state != ENT_FREE) {
		e->state = ENT_CHAINED;
	}
	orig_set(tb, n, addr);
	pthread_mutex_unlock(&chain_lock);
}

unsigned tcg_qemu_unchain(void)
{
	unsigned count = 0;
	pthread_mutex_lock(&chain_lock);
	for (size_t i = 0; i < chain_cap; i++) {
		struct chain_ent *e = &chain_tab[i];
		if (e->state != ENT_CHAINED)
			continue;
		uintptr_t code;
		uint64_t pc;
		memcpy(&code, (uint8_t *)e->tb + TB_TC_PTR, sizeof(code));
		memcpy(&pc, (uint8_t *)e->tb + TB_PC, sizeof(pc));
		if (code == e->code && pc == e->pc) {
			orig_set(e->tb, e->n, e->reset);
			count++;
		}
		e->state = ENT_BROKEN;
	}
	pthread_mutex_unlock(&chain_lock);
	return count;
}

void tcg_qemu_chain_reset(void)
{
	pthread_mutex_lock(&chain_lock);
	forget_all();
	pthread_mutex_unlock(&chain_lock);
}
