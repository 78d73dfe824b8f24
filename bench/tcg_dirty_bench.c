/* What TCG dirty tracking (backend_vm_opts.track_dirty) costs the guest:
 * a bare-metal long-mode loop over PAGES pages from 4 MiB, reading each
 * page and then writing BYTES of it in 8-byte stores, reloading CR3 every
 * pass when FLUSH is 1 (a full TLB flush, as a context switch without
 * PCID does: each page then takes a fresh TLB fill). The same guest runs
 * RUNS times for a second without and with tracking, alternately; with
 * LOGS > 0 the tracked run is paused LOGS times a second for dirty_log
 * (each pause starts a new interval: every page is clean again).
 *
 *   make tcg-dirty-bench [DIRTY_BENCH="PAGES BYTES FLUSH RUNS LOGS"]
 *
 * Loaded at 0x8000 (r8 = BYTES, r9 = PAGES, rbx = FLUSH):
 *   1: test %rbx,%rbx; jz 2f; mov %cr3,%rax; mov %rax,%cr3
 *   2: mov $0x400000,%rdi; mov %r9,%rcx
 *   3: mov (%rdi),%rax; xor %rsi,%rsi
 *   4: add $1,%rax; mov %rax,(%rdi,%rsi); add $8,%rsi; cmp %r8,%rsi; jb 4b
 *      add $4096,%rdi; dec %rcx; jnz 3b; inc %r12; jmp 1b */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/backend/backend.h"
#include "runtime/base/bus.h"
#include "runtime/base/gmem.h"
#include "runtime/backend/x86.h"

#define MEM (64ULL << 20)
#define FIRST_PAGE (4ULL << 20)
#define MAX_PAGES ((MEM - FIRST_PAGE) / 4096)
#define RUN_MS 1000

static const uint8_t guest[] = {
	0x48, 0x85, 0xdb, 0x74, 0x06, 0x0f, 0x20, 0xd8, 0x0f, 0x22, 0xd8, 0x48,
	0xc7, 0xc7, 0x00, 0x00, 0x40, 0x00, 0x4c, 0x89, 0xc9, 0x48, 0x8b, 0x07,
	0x48, 0x31, 0xf6, 0x48, 0x83, 0xc0, 0x01, 0x48, 0x89, 0x04, 0x37, 0x48,
	0x83, 0xc6, 0x08, 0x4c, 0x39, 0xc6, 0x72, 0xef, 0x48, 0x81, 0xc7, 0x00,
	0x10, 0x00, 0x00, 0x48, 0xff, 0xc9, 0x75, 0xdd, 0x49, 0xff, 0xc4, 0xeb,
	0xc3,
};

struct params {
	uint64_t pages, bytes;
	int flush, runs, logs;
};

struct kick_after {
	struct backend_vcpu *vcpu;
	long ms;
};

static void *kicker(void *arg)
{
	struct kick_after *k = arg;
	struct timespec t = { k->ms / 1000, (k->ms % 1000) * 1000000L };
	nanosleep(&t, NULL);
	backend_tcg.vcpu_kick(k->vcpu);
	return NULL;
}

static void guest_setup(struct guest_mem *mem, struct x86_sregs *s)
{
	uint64_t *pml4 = gm_ptr(mem, 0x10000, 4096), *pdpt = gm_ptr(mem, 0x11000, 4096);
	uint64_t *pd = gm_ptr(mem, 0x12000, 4096), *gdt = gm_ptr(mem, 0x500, 24);
	pml4[0] = 0x11000 | 3;
	pdpt[0] = 0x12000 | 3;
	for (uint64_t i = 0; i < MEM >> 21; i++)
		pd[i] = i << 21 | 0x83;
	gdt[1] = 0x00af9b000000ffffULL;
	gdt[2] = 0x00cf93000000ffffULL;
	memcpy(gm_ptr(mem, 0x8000, sizeof(guest)), guest, sizeof(guest));
	struct x86_segment cs = { .limit = 0xffffffff, .selector = 8, .type = 0xb, .present = 1,
				  .s = 1, .l = 1, .g = 1 };
	struct x86_segment ds = { .limit = 0xffffffff, .selector = 0x10, .type = 3, .present = 1,
				  .s = 1, .db = 1, .g = 1 };
	*s = (struct x86_sregs){ .cs = cs, .ds = ds, .es = ds, .fs = ds, .gs = ds, .ss = ds };
	s->tr = (struct x86_segment){ .limit = 0x67, .type = 0xb, .present = 1 };
	s->ldt.unusable = 1;
	s->gdt.base = 0x500;
	s->gdt.limit = 23;
	s->cr0 = X86_CR0_PE | X86_CR0_PG | X86_CR0_ET | X86_CR0_WP;
	s->cr3 = 0x10000;
	s->cr4 = X86_CR4_PAE | X86_CR4_OSFXSR;
	s->efer = X86_EFER_LME | X86_EFER_LMA;
}

/* Passes per second, or a negative number if the VM could not be built. */
static double run(const struct params *p, bool track)
{
	const struct backend_ops *be = &backend_tcg;
	static uint64_t bitmap[MEM / 4096 / 64];
	struct guest_mem mem;
	struct bus mmio, pio;
	struct backend_vm *vm = NULL;
	struct backend_vcpu *vcpu = NULL;
	struct x86_sregs s;
	double rate = -1;

	if (gm_alloc(&mem, MEM))
		return -1;
	bus_init(&mmio, "mmio");
	bus_init(&pio, "pio");
	guest_setup(&mem, &s);
	struct backend_vm_opts opts = { .nr_vcpus = 1, .mem = &mem, .mmio_bus = &mmio, .pio_bus = &pio, .track_dirty = track };
	if (be->vm_create(&opts, &vm, NULL) || be->map_memory(vm, 0, 0, MEM, gm_ptr(&mem, 0, MEM)) ||
	    be->vcpu_create(vm, 0, &vcpu, NULL))
		goto out;
	struct x86_regs r = { .rip = 0x8000, .rsp = 0x7ff0, .rflags = X86_RFLAGS_FIXED,
			      .r8 = p->bytes, .r9 = p->pages, .rbx = (uint64_t)p->flush };
	be->set_sregs(vcpu, &s);
	be->set_regs(vcpu, &r);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i <= p->logs; i++) {
		struct kick_after k = { vcpu, RUN_MS / (p->logs + 1) };
		struct vcpu_exit exit;
		pthread_t th;
		pthread_create(&th, NULL, kicker, &k);
		int err = be->vcpu_run(vcpu, &exit);
		pthread_join(th, NULL);
		if (err || exit.reason != VCPU_EXIT_KICKED) {
			fprintf(stderr, "the guest stopped: %s\n", err ? "run failed" : exit.error.what);
			goto out;
		}
		if (track && i < p->logs)
			be->dirty_log(vm, 0, bitmap);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	be->get_regs(vcpu, &r);
	rate = (double)r.r12 / ((double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
out:
	if (vcpu)
		be->vcpu_destroy(vcpu);
	be->vm_destroy(vm);
	bus_destroy(&pio);
	bus_destroy(&mmio);
	gm_free(&mem);
	return rate;
}

int main(int argc, char **argv)
{
	struct params p = { 4096, 8, 1, 5, 0 };
	if (argc > 1)
		p.pages = strtoull(argv[1], NULL, 0);
	if (argc > 2)
		p.bytes = strtoull(argv[2], NULL, 0);
	if (argc > 3)
		p.flush = atoi(argv[3]);
	if (argc > 4)
		p.runs = atoi(argv[4]);
	if (argc > 5)
		p.logs = atoi(argv[5]);
	if (!p.pages || p.pages > MAX_PAGES || p.bytes < 8 || p.bytes > 4096 || p.bytes % 8 ||
	    p.runs < 1 || p.logs < 0 || p.logs > 999) {
		fprintf(stderr, "usage: %s [PAGES (1-%llu) [BYTES (8-4096, multiple of 8) [FLUSH (0/1) "
			"[RUNS [LOGS per second]]]]]\n", argv[0], (unsigned long long)MAX_PAGES);
		return 2;
	}
	double off = 0, on = 0;
	for (int i = 0; i < p.runs; i++) {
		double a = run(&p, false), b = run(&p, true);
		if (a <= 0 || b <= 0)
			return 1;
		printf("run %d: untracked %.1f passes/s, tracked %.1f passes/s, ratio %.3f\n", i + 1,
		       a, b, b / a);
		off += a;
		on += b;
	}
	printf("%lu pages, %lu bytes written per page, TLB flush %s, %d dirty_log/s: "
	       "tracked/untracked %.3f (cost %.1f%%)\n", (unsigned long)p.pages,
	       (unsigned long)p.bytes, p.flush ? "every pass" : "never", p.logs, on / off,
	       (1 - on / off) * 100);
	return 0;
}
