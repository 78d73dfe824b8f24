/* QEMU internals of unicorn 2.0 that the backend replaces or calls.
 *
 * Paging: unicorn 2.0's x86 MMU walks the guest's page tables to raise
 * page faults but then maps every page virtual == physical ("Unicorn:
 * identity map guest virtual address", unicorn issue #1953, fixed in 2.1
 * by UC_TLB_CPU). Linux cannot run that way, so we replace QEMU's TLB-fill
 * hook x86_cpu_tlb_fill_x86_64: ours walks the tables with tcg_mmu_walk
 * and installs the real physical page with tlb_set_page_with_attrs, or
 * raises #PF/#GP with raise_exception_err_ra.
 *
 * Interrupts: unicorn has no way to inject one, and stopping the engine
 * from another thread (uc_emu_stop) leaves RIP stale when translated
 * blocks are chained (its cpu_tb_exec skips synchronize_from_tb when a
 * stop was requested). So we use QEMU's own mechanism: another thread sets
 * CPU_INTERRUPT_HARD with cpu_interrupt_handler and forces a block exit
 * with cpu_exit; QEMU then calls x86_cpu_exec_interrupt_x86_64 at the
 * next block boundary (and again after STI/POPF/IRET, which end their
 * blocks), with RIP exact — and that function is ours too. Every block,
 * chained or not, tests cpu_exit's flag on entry, so a chained loop sees
 * the request within one block and chains stay intact. Unicorn 2.0 also
 * tests the flag after every store and then restarts the block, repeating
 * its stores: check_exit_request_x86_64 is replaced so that those tests
 * are not generated for our vCPU.
 *
 * Stores: unicorn 2.0 stubbed out QEMU's dirty-memory tracking, so every
 * TLB entry for writable RAM is "not dirty" and every guest store takes
 * the slow path that looks for translated code to invalidate (~10x a
 * load). We keep the missing "page holds translated code" bit ourselves:
 * QEMU tells us through tlb_protect_code / tlb_unprotect_code (stubs we
 * replace), we let stores to pages without code take the fast path
 * (tlb_set_dirty) and send the code pages' entries back to the slow one
 * (tlb_reset_dirty), which is exactly QEMU's DIRTY_MEMORY_CODE protocol.
 *
 * Debug registers: reaching an instruction breakpoint armed through DR7
 * crashes unicorn 2.0.1, so cpu_breakpoint_insert and
 * cpu_watchpoint_insert refuse (qemu.c): DR0-DR7 hold what the guest
 * writes, no #DB is raised for them.
 *
 * MSRs: unicorn 2.0.1 refuses RDMSR/WRMSR instruction hooks, and QEMU
 * 5's helper_rdmsr/helper_wrmsr (misc_helper.c) read 0 for and drop the
 * MSRs of the APIC it does not have (IA32_APIC_BASE, TSC_DEADLINE, the
 * x2APIC range), without a #GP. We replace both helpers: msr_hook sees
 * every RDMSR/WRMSR first (ECX in, EDX:EAX in or out, in CPUX86State)
 * and answers the APIC's MSRs or asks for a #GP, raised as QEMU raises
 * its own (raise_exception_err_ra, RIP back on the instruction); every
 * other MSR goes on to the library's own helper (dlsym RTLD_NEXT).
 * QEMU checks CPL 0 before it calls them, and ends the block after a
 * WRMSR, so an interrupt the write makes deliverable is taken at once.
 *
 * Fast system calls: QEMU 5's translator decides SYSENTER and SYSEXIT by
 * its CPU model's vendor words (CPUX86State cpuid_vendor1..3, past the
 * part env.h reaches): #UD in 64-bit mode unless they say Intel. Unicorn
 * 2.0's helper_sysenter runs the instruction hooks instead of SYSENTER
 * (RIP moves past it, nothing else happens); its helper_sysexit is
 * QEMU's own; its helper_syscall runs the hooks (tcg/hooks.c does
 * SYSCALL there). We find the vendor words by value on the first fill
 * (they hold qemu64's AuthenticAMD, or what we wrote), write the
 * vendor whose semantics the vCPU has (ctx->intel), and replace the three
 * helpers: fast_call_hook sees each first and either does the
 * instruction, lets the library's helper run, or asks for #UD or #GP,
 * raised as QEMU raises its own (RIP back on the instruction).
 *
 * libunicorn.so exports all of these and reaches the replaced ones
 * through its GOT or PLT, so the executable's definitions win by ELF
 * symbol interposition; selftest.c checks it took. */
#ifndef EMBER_TCG_QEMU_H
#define EMBER_TCG_QEMU_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime/base/gmem.h"
#include "runtime/backend/tcg/dirty.h"

enum tcg_fast_call { TCG_SYSENTER, TCG_SYSEXIT, TCG_SYSCALL };

struct tcg_qemu_ctx {
	const struct guest_mem *mem;
	void *uc;         /* the engine (QEMU's struct uc_struct) */
	/* Bit per guest-physical page: holds translated code. Set and cleared
	 * on the vCPU thread, read by devices too: atomics. */
	uint8_t *code_pages;
	uint64_t nr_pages;
	bool nx;          /* honour XD bits whatever EFER.NXE says (cpuid.h) */
	/* Dirty tracking (dirty.h), or NULL: only stores and pages marked
	 * already get writable TLB entries, and stores mark their page. */
	struct tcg_dirty *dirty;
	/* Control registers as last set, to find CPUX86State inside QEMU's
	 * CPUState on the first fill. */
	uint64_t cr[5];
	uint64_t efer;
	long env_off;     /* CPUState -> CPUX86State; -1 until found */
	void *cs;         /* QEMU's CPUState, known after the first fill */
	/* At an instruction boundary with an interrupt request pending (vCPU
	 * thread, RIP exact): returns true if it redirected the CPU. */
	bool (*irq_hook)(struct tcg_qemu_ctx *ctx, uint8_t *env);
	/* cs has just become known (vCPU thread). */
	void (*on_cs)(struct tcg_qemu_ctx *ctx);
	/* RDMSR/WRMSR (vCPU thread, env is CPUX86State): 0 handled, 1 not
	 * ours (QEMU's helper runs), -1 raise #GP. */
	int (*msr_hook)(struct tcg_qemu_ctx *ctx, uint8_t *env, bool write);
	/* Intel's semantics (SYSENTER/SYSEXIT in 64-bit mode, SYSCALL only
	 * there) rather than AMD's: tcg_qemu_set_intel. */
	bool intel;
	long vendor_off;  /* CPUX86State -> cpuid_vendor1; -1 until found */
	/* SYSENTER, SYSEXIT (arg: QEMU's dflag, 2 with REX.W) or SYSCALL
	 * (vCPU thread, env is CPUX86State, RIP on the instruction): 0 done
	 * (the hook set RIP), 1 the library's helper runs, or minus the
	 * vector of a fault to raise (#UD, #GP with error code 0). */
	int (*fast_call_hook)(struct tcg_qemu_ctx *ctx, uint8_t *env, enum tcg_fast_call which,
			      int arg);
	/* The VM's engines, this one among them (several vCPUs run one at a
	 * time on one thread): a page another engine holds code from gets no
	 * writable TLB entry here until a store, which peer_written reports
	 * (page-aligned) so that the other engine drops that code before it
	 * runs again. The backend starts each engine's turn with an empty
	 * TLB. NULL or one engine: nothing to do. */
	struct tcg_qemu_ctx *const *peers;
	const unsigned *nr_peers;
	void (*peer_written)(struct tcg_qemu_ctx *ctx, uint64_t gpa);
	uint64_t fills;   /* statistics */
};

/* The context the replaced functions use on this thread (NULL: none; they
 * then fall back to unicorn's own). */
void tcg_qemu_set_current(struct tcg_qemu_ctx *ctx);
struct tcg_qemu_ctx *tcg_qemu_current(void);
/* Whether this process's unicorn calls our replacements. */
bool tcg_qemu_interposed(void);
/* From any thread: make irq_hook run at the next block boundary. */
void tcg_qemu_request(void *cs);
/* Withdraws the request (call where requests are serialised). */
void tcg_qemu_clear_request(void *cs);
/* Sets which vendor's instruction semantics the vCPU has. Before the
 * first run it takes effect with the first translation; later (vCPU
 * thread, outside uc_emu_start) it drops every translated block, which
 * was decided under the other vendor. */
void tcg_qemu_set_intel(struct tcg_qemu_ctx *ctx, bool intel);
/* Allocates ctx->code_pages for mem (-ENOMEM). */
int tcg_qemu_init_pages(struct tcg_qemu_ctx *ctx);
/* From any thread: whether a page of [gpa, gpa + len) holds translated
 * code. */
bool tcg_qemu_has_code(const struct tcg_qemu_ctx *ctx, uint64_t gpa, uint64_t len);
/* vCPU thread, outside translated code or at an instruction boundary:
 * drops every block translated from [gpa, gpa + len) (QEMU's
 * tb_invalidate_phys_range, per page holding code); _all: from any page. */
void tcg_qemu_invalidate(struct tcg_qemu_ctx *ctx, uint64_t gpa, uint64_t len);
void tcg_qemu_invalidate_all(struct tcg_qemu_ctx *ctx);
/* Empties the vCPU's TLB, so that every page's next access comes back to
 * our fill. Any thread, while the vCPU is outside uc_emu_start: unicorn
 * 2.0's tlb_flush works on the caller's thread (QEMU's hand-off to the
 * vCPU's own thread, async_run_on_cpu, is commented out in its cputlb.c)
 * and takes no lock. */
void tcg_qemu_tlb_flush(struct tcg_qemu_ctx *ctx);

#endif
