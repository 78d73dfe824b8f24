/* runtime/backend/tcg/: snapshots on the real backend — a guest counting
 * in a register and in memory, with FPU/SSE state and an MSR it wrote,
 * saved and restored into a second VM over a copy of its memory, where
 * it counts on; the checks on what restore is given. The guests are
 * hand-written assembly, assembled once into the bytes below (listings
 * in the comments). */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <x86intrin.h>

#include "runtime/backend/backend.h"
#include "runtime/base/bus.h"
#include "runtime/base/gmem.h"
#include "runtime/backend/x86.h"
#include "runtime/backend/tcg/tcg.h"

#define MEM (4ULL << 20)
#define CODE 0x8000ULL
#define GDT 0x500ULL
#define IDT 0x3000ULL
#define COUNTER 0x6000ULL
#define MSR_KERNEL_GS_BASE 0xc0000102u
#define MSR_TSC 0x10u
#define GUEST_TSC (1ULL << 50)

/* Loaded at 0x8000:
 *   mov $0xc0000102,%ecx; mov $0x12345678,%eax; mov $0x9abcdef0,%edx; wrmsr
 *   fninit; fld1; fldpi
 *   movabs $0x4142434445464748,%rax; movq %rax,%xmm3
 *   movl $0x7f80,0x6100; ldmxcsr 0x6100       (round toward zero)
 * 1: inc %r12; mov %r12,0x6000; paddq %xmm3,%xmm5
 *   rdtsc; shl $32,%rdx; or %rdx,%rax; mov %rax,%r13; jmp 1b */
static const uint8_t counter_guest[] = {
	0xb9, 0x02, 0x01, 0x00, 0xc0, 0xb8, 0x78, 0x56, 0x34, 0x12, 0xba, 0xf0,
	0xde, 0xbc, 0x9a, 0x0f, 0x30, 0xdb, 0xe3, 0xd9, 0xe8, 0xd9, 0xeb, 0x48,
	0xb8, 0x48, 0x47, 0x46, 0x45, 0x44, 0x43, 0x42, 0x41, 0x66, 0x48, 0x0f,
	0x6e, 0xd8, 0xc7, 0x04, 0x25, 0x00, 0x61, 0x00, 0x00, 0x80, 0x7f, 0x00,
	0x00, 0x0f, 0xae, 0x14, 0x25, 0x00, 0x61, 0x00, 0x00, 0x49, 0xff, 0xc4,
	0x4c, 0x89, 0x24, 0x25, 0x00, 0x60, 0x00, 0x00, 0x66, 0x0f, 0xd4, 0xeb,
	0x0f, 0x31, 0x48, 0xc1, 0xe2, 0x20, 0x48, 0x09, 0xd0, 0x49, 0x89, 0xc5,
	0xeb, 0xe3,
};
#define COUNTER_LOOP (CODE + 0x39)
#define COUNTER_LOOP_END (CODE + 0x56)

struct machine {
	const struct backend_ops *be;
	struct guest_mem mem;
	struct bus mmio, pio;
	struct backend_vm *vm;
	struct backend_vcpu *vcpu;
};

static void long_mode(struct x86_sregs *s)
{
	struct x86_segment code = { .limit = 0xffffffff, .selector = 8, .type = 0xb, .present = 1,
				    .s = 1, .l = 1, .g = 1 };
	struct x86_segment data = { .limit = 0xffffffff, .selector = 0x10, .type = 3, .present = 1,
				    .s = 1, .db = 1, .g = 1 };
	memset(s, 0, sizeof(*s));
	s->cs = code;
	s->ds = s->es = s->fs = s->gs = s->ss = data;
	s->fs.base = 0x1111000;
	s->gs.base = 0x2222000;
	s->tr = (struct x86_segment){ .limit = 0x67, .type = 0xb, .present = 1 };
	s->ldt = (struct x86_segment){ .unusable = 1 };
	s->gdt.base = GDT;
	s->gdt.limit = 23;
	s->idt.base = IDT;
	s->idt.limit = 0xfff;
	s->cr0 = X86_CR0_PE | X86_CR0_PG | X86_CR0_ET | X86_CR0_WP | X86_CR0_NE;
	s->cr3 = 0x10000;
	s->cr4 = X86_CR4_PAE | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT;
	s->efer = X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE | X86_EFER_SCE;
}

/* Identity-mapped 0-4 MiB in 2 MiB pages, accessed and dirty already, so
 * that the page walk writes nothing (the dirty tests count writes). */
static void page_tables(struct guest_mem *m)
{
	uint64_t *pml4 = gm_ptr(m, 0x10000, 4096), *pdpt = gm_ptr(m, 0x11000, 4096);
	uint64_t *pd = gm_ptr(m, 0x12000, 4096), *gdt = gm_ptr(m, GDT, 24);
	pml4[0] = 0x11000 | 0x23;
	pdpt[0] = 0x12000 | 0x23;
	pd[0] = 0xe3;
	pd[1] = 0x200000 | 0xe3;
	gdt[1] = 0x00af9b000000ffffULL;
	gdt[2] = 0x00cf93000000ffffULL;
}

static void machine_start_clock(struct machine *m, const struct guest_mem *copy_of,
				bool track_dirty, bool clock_realtime)
{
	memset(m, 0, sizeof(*m));
	m->be = &backend_tcg;
	cr_assert_eq(gm_alloc(&m->mem, MEM), 0);
	if (copy_of)
		memcpy(gm_ptr(&m->mem, 0, MEM), gm_ptr(copy_of, 0, MEM), MEM);
	bus_init(&m->mmio, "mmio");
	bus_init(&m->pio, "pio");
	struct backend_vm_opts opts = { .nr_vcpus = 1, .mem = &m->mem, .mmio_bus = &m->mmio, .pio_bus = &m->pio, .track_dirty = track_dirty,
					.clock_realtime = clock_realtime };
	cr_assert_eq(m->be->vm_create(&opts, &m->vm, NULL), 0);
	cr_assert_eq(m->be->map_memory(m->vm, 0, 0, MEM, gm_ptr(&m->mem, 0, MEM)), 0);
	cr_assert_eq(m->be->vcpu_create(m->vm, 0, &m->vcpu, NULL), 0);
}

static void machine_start(struct machine *m, const struct guest_mem *copy_of, bool track_dirty)
{
	machine_start_clock(m, copy_of, track_dirty, false);
}

static void machine_boot(struct machine *m, uint64_t rip)
{
	struct x86_sregs s;
	long_mode(&s);
	cr_assert_eq(m->be->set_sregs(m->vcpu, &s), 0);
	struct x86_regs r = { .rip = rip, .rsp = 0x7ff0, .rflags = X86_RFLAGS_FIXED };
	cr_assert_eq(m->be->set_regs(m->vcpu, &r), 0);
}

static void machine_stop(struct machine *m)
{
	m->be->vcpu_destroy(m->vcpu);
	m->be->vm_destroy(m->vm);
	bus_destroy(&m->pio);
	bus_destroy(&m->mmio);
	gm_free(&m->mem);
}

struct kick_after {
	const struct backend_ops *be;
	struct backend_vcpu *vcpu;
	long ms;
};

static void *kicker(void *arg)
{
	struct kick_after *k = arg;
	struct timespec t = { k->ms / 1000, (k->ms % 1000) * 1000000L };
	nanosleep(&t, NULL);
	k->be->vcpu_kick(k->vcpu);
	return NULL;
}

/* Runs the guest for about ms milliseconds, then stops it as a pause does. */
static void run_for(struct machine *m, long ms)
{
	struct kick_after k = { m->be, m->vcpu, ms };
	struct vcpu_exit exit;
	pthread_t th;
	pthread_create(&th, NULL, kicker, &k);
	cr_assert_eq(m->be->vcpu_run(m->vcpu, &exit), 0);
	pthread_join(th, NULL);
	cr_assert_eq(exit.reason, VCPU_EXIT_KICKED, "reason %d %s", exit.reason, exit.error.what);
}

/* Runs in slices until the guest's R12 reaches at least min: a loaded
 * host may not schedule the vCPU within one slice. */
static uint64_t run_until_r12(struct machine *m, uint64_t min)
{
	struct x86_regs r;
	for (int i = 0; i < 200; i++) {
		run_for(m, 20);
		cr_assert_eq(m->be->get_regs(m->vcpu, &r), 0);
		if (r.r12 >= min)
			return r.r12;
	}
	cr_assert_fail("the guest did not count to %lu", (unsigned long)min);
	return 0;
}

static const struct x86_msr *find_msr(const struct x86_cpu_state *st, uint32_t index)
{
	for (uint32_t i = 0; i < st->nr_msrs; i++)
		if (st->msrs[i].index == index)
			return &st->msrs[i];
	return NULL;
}

static uint64_t counter_in_memory(struct machine *m)
{
	uint64_t v;
	memcpy(&v, gm_ptr(&m->mem, COUNTER, 8), 8);
	return v;
}

Test(tcg_state, counter_goes_on_in_a_second_vm)
{
	static struct x86_cpu_state st, st2, st3;
	struct machine a, b;
	struct x86_regs r;
	struct x86_sregs s;

	machine_start(&a, NULL, false);
	page_tables(&a.mem);
	memcpy(gm_ptr(&a.mem, CODE, sizeof(counter_guest)), counter_guest, sizeof(counter_guest));
	machine_boot(&a, CODE);
	/* A guest TSC far from the host's, so that a restore that lost it
	 * shows. */
	cr_assert_eq(a.be->vcpu_save(a.vcpu, &st), 0);
	struct x86_msr *tsc0 = (struct x86_msr *)find_msr(&st, MSR_TSC);
	cr_assert_not_null(tsc0);
	tsc0->value = GUEST_TSC;
	cr_assert_eq(a.be->vcpu_restore(a.vcpu, &st), 0);
	run_until_r12(&a, 1000);
	cr_assert_eq(a.be->vcpu_save(a.vcpu, &st), 0);
	uint64_t count = st.regs.r12;
	cr_assert(st.regs.rip >= COUNTER_LOOP && st.regs.rip < COUNTER_LOOP_END, "in the loop");
	uint64_t mem_count = counter_in_memory(&a);
	cr_assert(mem_count == count || mem_count == count - 1, "%lu vs %lu", (unsigned long)mem_count,
		  (unsigned long)count);

	/* What the state says. */
	cr_assert_eq(st.version, X86_CPU_STATE_VERSION);
	cr_assert_eq(st.flags & (X86_STATE_HAS_XSAVE | X86_STATE_HAS_LAPIC), X86_STATE_HAS_LAPIC);
	cr_assert_eq(st.lapic[0x30], 0x14, "the APIC's version register");
	cr_assert_eq(st.sregs.apic_base, 0xfee00900, "enabled, BSP");
	cr_assert(st.flags & X86_STATE_HAS_TSC_KHZ);
	cr_assert_gt(st.tsc_khz, 100000);
	cr_assert_eq(st.mp_state, X86_MP_RUNNABLE);
	cr_assert_eq(st.sregs.cs.l, 1);
	cr_assert_eq(st.sregs.fs.base, 0x1111000);
	cr_assert_eq(st.sregs.efer & (X86_EFER_NXE | X86_EFER_SCE | X86_EFER_LMA),
		     X86_EFER_NXE | X86_EFER_SCE | X86_EFER_LMA);
	cr_assert_leq(st.nr_msrs, X86_MAX_MSRS);
	const struct x86_msr *kgs = find_msr(&st, MSR_KERNEL_GS_BASE), *tsc = find_msr(&st, MSR_TSC);
	cr_assert_not_null(kgs);
	cr_assert_eq(kgs->value, 0x9abcdef012345678ULL);
	cr_assert_not_null(tsc);
	cr_assert_gt(tsc->value, GUEST_TSC);
	cr_assert_lt(tsc->value - GUEST_TSC, (uint64_t)st.tsc_khz * 1000 * 5, "5 s at most");
	cr_assert_geq(st.regs.r13, GUEST_TSC, "RDTSC reads the guest's TSC");
	uint16_t fcw, fsw;
	uint32_t mxcsr;
	uint64_t xmm3[2], st0[2] = { 0, 0 };
	memcpy(&fcw, st.fxsave, 2);
	memcpy(&fsw, st.fxsave + 2, 2);
	memcpy(&mxcsr, st.fxsave + 24, 4);
	memcpy(xmm3, st.fxsave + 160 + 3 * 16, 16);
	memcpy(st0, st.fxsave + 32, 10);
	cr_assert_eq(fcw, 0x37f, "FNINIT's control word");
	cr_assert_eq((fsw >> 11) & 7, 6, "two loads: TOP = 6");
	cr_assert_eq(st.fxsave[4], 0xc0, "abridged tag: physical registers 6 and 7 in use");
	cr_assert_eq(st0[0], 0xc90fdaa22168c235ULL, "ST0 = pi, mantissa");
	cr_assert_eq(st0[1] & 0xffff, 0x4000, "ST0 = pi, exponent");
	cr_assert_eq(mxcsr, 0x7f80);
	cr_assert_eq(xmm3[0], 0x4142434445464748ULL);

	uint8_t platform[512];
	int plen = a.be->platform_save(a.vm, platform, sizeof(platform));
	cr_assert_gt(plen, 0);

	/* A second VM over a copy of the memory. */
	machine_start(&b, &a.mem, false);
	cr_assert_eq(b.be->platform_restore(b.vm, platform, (size_t)plen), 0);
	cr_assert_eq(b.be->vcpu_restore(b.vcpu, &st), 0);
	cr_assert_eq(b.be->get_regs(b.vcpu, &r), 0);
	cr_assert_eq(memcmp(&r, &st.regs, sizeof(r)), 0, "registers");
	cr_assert_eq(b.be->get_sregs(b.vcpu, &s), 0);
	cr_assert_eq(memcmp(&s, &st.sregs, sizeof(s)), 0, "special registers");
	cr_assert_eq(b.be->vcpu_save(b.vcpu, &st2), 0);
	const struct x86_msr *tsc2 = find_msr(&st2, MSR_TSC);
	cr_assert_not_null(tsc2);
	uint64_t tsc_gap = tsc2->value - tsc->value;
	cr_assert_lt(tsc_gap, (uint64_t)st.tsc_khz * 1000, "the guest's TSC goes on: %lu",
		     (unsigned long)tsc_gap);
	((struct x86_msr *)tsc2)->value = tsc->value;
	cr_assert_eq(memcmp(&st, &st2, sizeof(st)), 0, "the same state, but for the time passed");

	uint64_t r13_before = st.regs.r13;
	run_until_r12(&b, count + 1000);
	cr_assert_eq(b.be->vcpu_save(b.vcpu, &st3), 0);
	cr_assert_gt(st3.regs.r12, count, "counts on from %lu", (unsigned long)count);
	uint64_t mem_b = counter_in_memory(&b);
	cr_assert(mem_b == st3.regs.r12 || mem_b == st3.regs.r12 - 1);
	cr_assert_geq(st3.regs.r13, r13_before, "RDTSC does not go back");
	cr_assert_lt(st3.regs.r13 - r13_before, (uint64_t)st.tsc_khz * 1000 * 5,
		     "nor jump ahead by the host's uptime");
	cr_assert_eq(find_msr(&st3, MSR_KERNEL_GS_BASE)->value, 0x9abcdef012345678ULL);
	cr_assert_eq(memcmp(st3.fxsave, st.fxsave, 160), 0, "x87 state unchanged by the loop");
	/* XMM5 accumulates XMM3 once per count. */
	uint64_t xmm5[2];
	memcpy(xmm5, st3.fxsave + 160 + 5 * 16, 16);
	cr_assert(xmm5[0] == st3.regs.r12 * 0x4142434445464748ULL ||
		  xmm5[0] == (st3.regs.r12 - 1) * 0x4142434445464748ULL);
	machine_stop(&b);
	machine_stop(&a);
}

/* The same state, but for the guest's TSC, which runs on. */
static void assert_same_but_tsc(const struct x86_cpu_state *x, const struct x86_cpu_state *y)
{
	static struct x86_cpu_state a, b;
	a = *x;
	b = *y;
	struct x86_msr *ta = (struct x86_msr *)find_msr(&a, MSR_TSC);
	struct x86_msr *tb = (struct x86_msr *)find_msr(&b, MSR_TSC);
	cr_assert(ta && tb);
	ta->value = tb->value = 0;
	const uint8_t *pa = (const uint8_t *)&a, *pb = (const uint8_t *)&b;
	size_t off = 0;
	while (off < sizeof(a) && pa[off] == pb[off])
		off++;
	cr_assert_eq(off, sizeof(a), "the vCPU changed at byte %zu of the state (%02x -> %02x)", off,
		     off < sizeof(a) ? pa[off] : 0, off < sizeof(a) ? pb[off] : 0);
}

typedef void (*mutation)(struct x86_cpu_state *st);

static void bad_version(struct x86_cpu_state *st) { st->version = X86_CPU_STATE_VERSION + 1; }
static void unknown_flag(struct x86_cpu_state *st) { st->flags |= 1u << 20; }
static void has_xsave(struct x86_cpu_state *st) { st->flags |= X86_STATE_HAS_XSAVE; }
/* The APIC page without its flag, bytes between its registers, the page
 * moved, a current count above the initial one. */
static void has_lapic(struct x86_cpu_state *st) { st->flags &= ~X86_STATE_HAS_LAPIC; }
static void lapic_moved(struct x86_cpu_state *st) { st->sregs.apic_base = 0xfed00900; }
static void lapic_count(struct x86_cpu_state *st) { st->lapic[0x390] = 1; }
static void xsave_bytes(struct x86_cpu_state *st) { st->xsave[700] = 1; }
static void xcr0_set(struct x86_cpu_state *st) { st->xcr0 = 3; }
static void lapic_bytes(struct x86_cpu_state *st) { st->lapic[0x24] = 1; }
static void reserved(struct x86_cpu_state *st) { st->reserved = 1; }
static void too_many_msrs(struct x86_cpu_state *st) { st->nr_msrs = X86_MAX_MSRS + 1; }
static void unknown_msr(struct x86_cpu_state *st) { st->msrs[3].index = 0xc0000105; }
static void duplicate_msr(struct x86_cpu_state *st) { st->msrs[4].index = st->msrs[3].index; }
static void msr_reserved(struct x86_cpu_state *st) { st->msrs[2].reserved = 1; }
static void msr_past_the_end(struct x86_cpu_state *st) { st->msrs[st->nr_msrs].index = MSR_TSC; }
static void sysenter_cs_wide(struct x86_cpu_state *st)
{
	for (uint32_t i = 0; i < st->nr_msrs; i++)
		if (st->msrs[i].index == 0x174)
			st->msrs[i].value = 0x10000;
}
static void fs_base_disagrees(struct x86_cpu_state *st)
{
	st->msrs[st->nr_msrs++] = (struct x86_msr){ 0xc0000100, 0, st->sregs.fs.base + 4096 };
}
static void mp_state_sipi(struct x86_cpu_state *st) { st->mp_state = X86_MP_SIPI_RECEIVED; }
static void mp_state_wild(struct x86_cpu_state *st) { st->mp_state = 99; }
static void segment_type(struct x86_cpu_state *st) { st->sregs.ds.type = 16; }
static void segment_dpl(struct x86_cpu_state *st) { st->sregs.ss.dpl = 4; }
static void segment_flag(struct x86_cpu_state *st) { st->sregs.es.g = 2; }
static void cs_data(struct x86_cpu_state *st) { st->sregs.cs.type = 3; }
static void cs_absent(struct x86_cpu_state *st) { st->sregs.cs.present = 0; }
static void tr_not_system(struct x86_cpu_state *st) { st->sregs.tr.s = 1; }
static void efer_svme(struct x86_cpu_state *st) { st->sregs.efer |= 1u << 12; }
static void cr8_wide(struct x86_cpu_state *st) { st->sregs.cr8 = 16; }
static void rflags_reserved(struct x86_cpu_state *st) { st->regs.rflags |= 1ULL << 40; }
static void exception_pending(struct x86_cpu_state *st) { st->events.exception_pending = 1; }
static void nmi_masked_wild(struct x86_cpu_state *st) { st->events.nmi_masked = 2; }
static void shadow_wild(struct x86_cpu_state *st) { st->events.interrupt_shadow = 4; }
static void events_without_flag(struct x86_cpu_state *st)
{
	st->flags &= ~X86_STATE_HAS_EVENTS;
	st->events.interrupt_shadow = 1;
}
static void khz_without_flag(struct x86_cpu_state *st) { st->flags &= ~X86_STATE_HAS_TSC_KHZ; }
static void khz_zero(struct x86_cpu_state *st) { st->tsc_khz = 0; }

Test(tcg_state, restore_refuses_what_this_cpu_cannot_hold_and_changes_nothing)
{
	static const mutation bad[] = {
		bad_version, unknown_flag, has_xsave, has_lapic, xsave_bytes, xcr0_set,
		lapic_bytes, lapic_moved, lapic_count, reserved, too_many_msrs, unknown_msr, duplicate_msr, msr_reserved,
		msr_past_the_end, sysenter_cs_wide, fs_base_disagrees, mp_state_sipi,
		mp_state_wild, segment_type, segment_dpl, segment_flag, cs_data, cs_absent,
		tr_not_system, efer_svme, cr8_wide, rflags_reserved, exception_pending,
		nmi_masked_wild, shadow_wild, events_without_flag, khz_without_flag, khz_zero,
	};
	static struct x86_cpu_state base, st, after;
	struct machine m;

	machine_start(&m, NULL, false);
	page_tables(&m.mem);
	machine_boot(&m, CODE);
	cr_assert_eq(m.be->vcpu_save(m.vcpu, &base), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		st = base;
		bad[i](&st);
		cr_assert_eq(m.be->vcpu_restore(m.vcpu, &st), -EINVAL, "mutation %zu accepted", i);
		cr_assert_eq(m.be->vcpu_save(m.vcpu, &after), 0);
		assert_same_but_tsc(&base, &after);
	}

	/* Accepted: FS base given twice, consistently; a shadow; HLT; a
	 * pending NMI with NMIs blocked. */
	st = base;
	st.msrs[st.nr_msrs++] = (struct x86_msr){ 0xc0000100, 0, st.sregs.fs.base };
	st.events.interrupt_shadow = 1;
	st.events.nmi_pending = 1;
	st.events.nmi_masked = 1;
	st.mp_state = X86_MP_HALTED;
	cr_assert_eq(m.be->vcpu_restore(m.vcpu, &st), 0);
	cr_assert_eq(m.be->vcpu_save(m.vcpu, &after), 0);
	cr_assert_eq(after.events.interrupt_shadow, 1);
	cr_assert_eq(after.events.nmi_pending, 1);
	cr_assert_eq(after.events.nmi_masked, 1);
	cr_assert_eq(after.mp_state, X86_MP_HALTED);

	/* A host whose TSC runs at another rate cannot keep the guest's. */
	st = base;
	st.tsc_khz = base.tsc_khz + base.tsc_khz / 10;
	cr_assert_eq(m.be->vcpu_restore(m.vcpu, &st), -ENOTSUP);
	machine_stop(&m);
}

/* cli; hlt; mov $1,%al; out %al,$0x99 (never reached: no interrupt comes) */
static const uint8_t halt_guest[] = { 0xfa, 0xf4, 0xb0, 0x01, 0xe6, 0x99 };

Test(tcg_state, a_halted_vcpu_stays_halted_through_pause_and_restore)
{
	static struct x86_cpu_state st, st2;
	struct machine a, b;

	machine_start(&a, NULL, false);
	page_tables(&a.mem);
	memcpy(gm_ptr(&a.mem, CODE, sizeof(halt_guest)), halt_guest, sizeof(halt_guest));
	machine_boot(&a, CODE);
	for (int i = 0; i < 200; i++) {
		run_for(&a, 10);
		cr_assert_eq(a.be->vcpu_save(a.vcpu, &st), 0);
		if (st.regs.rip != CODE)
			break; /* the vCPU got to run */
	}
	run_for(&a, 20); /* a kick is a pause, not a wake-up */
	cr_assert_eq(a.be->vcpu_save(a.vcpu, &st), 0);
	cr_assert_eq(st.mp_state, X86_MP_HALTED);
	cr_assert_eq(st.regs.rip, CODE + 2, "past the HLT");

	machine_start(&b, &a.mem, false);
	cr_assert_eq(b.be->vcpu_restore(b.vcpu, &st), 0);
	run_for(&b, 20);
	cr_assert_eq(b.be->vcpu_save(b.vcpu, &st2), 0);
	cr_assert_eq(st2.mp_state, X86_MP_HALTED);
	cr_assert_eq(st2.regs.rip, CODE + 2, "still halted");
	machine_stop(&b);
	machine_stop(&a);
}

static void out(struct machine *m, uint16_t port, uint8_t v)
{
	cr_assert(tcg_platform_out(m->vm, port, v));
}

static uint8_t in(struct machine *m, uint16_t port)
{
	uint32_t v = 0;
	cr_assert(tcg_platform_in(m->vm, port, &v));
	return (uint8_t)v;
}

/* Linux's init_8259A (bases 0x20/0x28), IRQ 0 and the cascade open, IRQ 5
 * level-triggered. */
static void program_pic(struct machine *m)
{
	static const uint8_t seq[][2] = {
		{ 0x20, 0x11 }, { 0x21, 0x20 }, { 0x21, 0x04 }, { 0x21, 0x01 },
		{ 0xa0, 0x11 }, { 0xa1, 0x28 }, { 0xa1, 0x02 }, { 0xa1, 0x01 },
		{ 0x21, 0xfa }, { 0xa1, 0xbf },
	};
	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++)
		out(m, seq[i][0], seq[i][1]);
	cr_assert(tcg_platform_out(m->vm, 0x4d0, 0x20));
}

/* Channel 2 in mode 0 counted for ~2 ms, then its gate went low: frozen,
 * with the speaker on and its status latched. */
static void program_frozen_channel_2(struct machine *m)
{
	out(m, 0x61, 0x03);
	out(m, 0x43, 0xb0);
	out(m, 0x42, 0x34);
	out(m, 0x42, 0x12);
	struct timespec t = { 0, 2000000 };
	nanosleep(&t, NULL);
	out(m, 0x61, 0x02);
	out(m, 0x43, 0xe8); /* read-back: status of channel 2 */
}

#define PLATFORM_SIZE 368
/* Version 1 (before the I/O APIC): the same without its section. */
#define PLATFORM_V1_SIZE 160
#define PIT_AT(ch) (16 + 32 + 32 * (ch))
/* The clock section: the host's CLOCK_REALTIME at each save. */
#define CLOCK_AT 152

static int64_t mono_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static uint64_t le64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

Test(tcg_state, platform_counts_on_in_a_second_vm)
{
	struct machine a, b;
	uint8_t sa[512], sb[512];

	machine_start(&a, NULL, false);
	machine_start(&b, NULL, false);
	cr_assert_eq(a.be->platform_save(a.vm, sa, PLATFORM_SIZE - 1), -ENOSPC);
	program_pic(&a);
	program_frozen_channel_2(&a);
	out(&a, 0x43, 0x34); /* channel 0: mode 2, 65536 (55 ms) */
	out(&a, 0x40, 0x00);
	out(&a, 0x40, 0x00);
	out(&a, 0x43, 0x74); /* channel 1: mode 2, 0xabcd, count latched, LSB read */
	out(&a, 0x41, 0xcd);
	out(&a, 0x41, 0xab);
	out(&a, 0x43, 0x40);
	(void)in(&a, 0x41);

	int64_t t0 = mono_ns();
	cr_assert_eq(a.be->platform_save(a.vm, sa, sizeof(sa)), PLATFORM_SIZE);
	cr_assert_eq(memcmp(sa, "TCGP", 4), 0);
	cr_assert_eq(b.be->platform_restore(b.vm, sa, PLATFORM_SIZE), 0);
	cr_assert_eq(b.be->platform_save(b.vm, sb, sizeof(sb)), PLATFORM_SIZE);
	int64_t elapsed = mono_ns() - t0;

	/* Everything but the running channels' clocks is the same. */
	cr_assert_eq(memcmp(sa, sb, PIT_AT(0) + 24), 0, "header, PIC, channel 0 registers");
	cr_assert_eq(memcmp(sa + PIT_AT(1), sb + PIT_AT(1), 24), 0, "channel 1 registers");
	cr_assert_eq(memcmp(sa + PIT_AT(2), sb + PIT_AT(2), CLOCK_AT - PIT_AT(2)), 0,
		     "frozen channel 2, port 0x61");
	cr_assert_eq(memcmp(sa + CLOCK_AT + 8, sb + CLOCK_AT + 8, PLATFORM_SIZE - CLOCK_AT - 8), 0,
		     "the I/O APIC");
	for (int ch = 0; ch < 2; ch++) {
		uint64_t na = le64(sa + PIT_AT(ch) + 24), nb = le64(sb + PIT_AT(ch) + 24);
		cr_assert(nb >= na && nb - na <= (uint64_t)elapsed, "channel %d's clock goes on", ch);
	}

	/* And reads back the same through the ports. */
	cr_assert_eq(in(&b, 0x41), in(&a, 0x41), "channel 1's latched MSB");
	cr_assert_eq(in(&b, 0x42), in(&a, 0x42), "channel 2's latched status");
	for (int i = 0; i < 2; i++)
		cr_assert_eq(in(&b, 0x42), in(&a, 0x42), "channel 2's frozen count");
	cr_assert_eq(in(&b, 0x61) & 0x23, in(&a, 0x61) & 0x23, "gate, speaker, OUT2");
	cr_assert_eq(in(&b, 0x21), 0xfa);
	cr_assert_eq(in(&b, 0xa1), 0xbf);
	cr_assert_eq(in(&b, 0x4d0), 0x20);

	/* The restored PIT drives IRQ 0 within a period. */
	bool irq0 = false;
	for (int i = 0; i < 200 && !irq0; i++) {
		struct timespec t = { 0, 1000000 };
		nanosleep(&t, NULL);
		pthread_mutex_lock(&b.vm->lock);
		irq0 = b.vm->pic.chip[0].irr & 1;
		pthread_mutex_unlock(&b.vm->lock);
	}
	cr_assert(irq0, "no timer interrupt after restore");
	machine_stop(&b);
	machine_stop(&a);
}

/* A blob whose every register is still (nothing counting but the frozen
 * channel 2), so that a save after a refused restore must be identical
 * but for the time of the save. */
Test(tcg_state, platform_restore_refuses_bad_blobs_and_changes_nothing)
{
	struct machine m;
	uint8_t good[PLATFORM_SIZE + 1], st[PLATFORM_SIZE + 1], after[PLATFORM_SIZE];

	machine_start(&m, NULL, false);
	program_pic(&m);
	program_frozen_channel_2(&m);
	cr_assert_eq(m.be->platform_save(m.vm, good, PLATFORM_SIZE), PLATFORM_SIZE);
	good[PLATFORM_SIZE] = 0;

	/* Every truncation, and one byte too many. */
	for (size_t len = 0; len <= PLATFORM_SIZE + 1; len++) {
		if (len == PLATFORM_SIZE)
			continue;
		cr_assert_eq(m.be->platform_restore(m.vm, good, len), -EINVAL, "length %zu", len);
		cr_assert_eq(m.be->platform_save(m.vm, after, sizeof(after)), PLATFORM_SIZE);
		cr_assert_eq(memcmp(after, good, CLOCK_AT), 0, "changed by length %zu", len);
	}
	cr_assert_eq(m.be->platform_restore(m.vm, NULL, PLATFORM_SIZE), -EINVAL);

	/* Header fields, and registers out of range in each section. */
	static const struct {
		int at;
		uint8_t val;
	} bad[] = {
		{ 0, 'X' }, { 4, 3 }, { 5, 1 }, { 6, 17 }, { 8, 33 }, { 10, 105 }, { 12, 1 },
		{ 15, 1 }, { 16 + 7, 1 }, { 16 + 5, 0x21 }, { 16 + 16 + 4, 0x01 },
		{ PIT_AT(0) + 4, 6 }, { PIT_AT(1) + 5, 0 }, { PIT_AT(2) + 3, 1 },
		{ PIT_AT(2) + 12, 1 }, { CLOCK_AT - 8, 2 }, { CLOCK_AT - 1, 1 }, { 12, 9 }, { 14, 1 },
		{ CLOCK_AT + 7, 0x80 }, { CLOCK_AT + 8 + 3, 0x10 } /* I/O APIC id */,
		{ CLOCK_AT + 8 + 11, 0x01 } /* its line levels, past pin 23 */,
		{ PLATFORM_SIZE - 5, 0x01 } /* pin 23's reserved bits */,
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(st, good, PLATFORM_SIZE);
		st[bad[i].at] = bad[i].val;
		cr_assert_eq(m.be->platform_restore(m.vm, st, PLATFORM_SIZE), -EINVAL, "case %zu", i);
		cr_assert_eq(m.be->platform_save(m.vm, after, sizeof(after)), PLATFORM_SIZE);
		cr_assert_eq(memcmp(after, good, CLOCK_AT), 0, "changed by case %zu", i);
	}
	/* Noise of the right length. */
	srand(9);
	for (int i = 0; i < 200; i++) {
		for (size_t k = 0; k < PLATFORM_SIZE; k++)
			st[k] = (uint8_t)rand();
		if (i & 1)
			memcpy(st, good, 16); /* past the header */
		cr_assert_eq(m.be->platform_restore(m.vm, st, PLATFORM_SIZE), -EINVAL);
	}
	cr_assert_eq(m.be->platform_save(m.vm, after, sizeof(after)), PLATFORM_SIZE);
	cr_assert_eq(memcmp(after, good, CLOCK_AT), 0);
	cr_assert_eq(m.be->platform_restore(m.vm, good, PLATFORM_SIZE), 0, "the good one still loads");
	/* Version 1: no I/O APIC section. */
	memcpy(st, good, PLATFORM_V1_SIZE);
	st[4] = 1;
	st[14] = st[15] = 0;
	cr_assert_eq(m.be->platform_restore(m.vm, st, PLATFORM_V1_SIZE), 0, "version 1");
	cr_assert_eq(m.be->platform_restore(m.vm, st, PLATFORM_SIZE), -EINVAL, "version 1, too long");
	machine_stop(&m);
}

static int64_t real_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

#define MS 1000000LL

struct gaps {
	int64_t tsc_ns, guest_tsc_ns, pit_ns; /* past the saved values */
};

/* B from A's memory, state and platform blob, told to advance the
 * guest's clocks or not; the guest then counts on for a while. How far
 * B's TSC (the state's, right after the restore, and the guest's last
 * RDTSC after running) and PIT channel 0 are past the saved values. */
static struct gaps restore_and_run(const struct machine *a, const struct x86_cpu_state *st,
				   const uint8_t *blob, bool clock_realtime)
{
	static struct x86_cpu_state back;
	struct machine b;
	uint8_t pb[PLATFORM_SIZE];
	machine_start_clock(&b, &a->mem, false, clock_realtime);
	cr_assert_eq(b.be->vcpu_restore(b.vcpu, st), 0);
	cr_assert_eq(b.be->platform_restore(b.vm, blob, PLATFORM_SIZE), 0);
	cr_assert_eq(b.be->vcpu_save(b.vcpu, &back), 0);
	cr_assert_eq(b.be->platform_save(b.vm, pb, sizeof(pb)), PLATFORM_SIZE);
	uint64_t khz = st->tsc_khz, saved = find_msr(st, MSR_TSC)->value;
	struct gaps g = {
		.tsc_ns = (int64_t)(find_msr(&back, MSR_TSC)->value - saved) * 1000000 / (int64_t)khz,
		.pit_ns = (int64_t)(le64(pb + PIT_AT(0) + 24) - le64(blob + PIT_AT(0) + 24)),
	};
	run_until_r12(&b, st->regs.r12 + 1000);
	cr_assert_eq(b.be->vcpu_save(b.vcpu, &back), 0);
	g.guest_tsc_ns = (int64_t)(back.regs.r13 - saved) * 1000000 / (int64_t)khz;
	machine_stop(&b);
	return g;
}

/* Saved, 200 ms of waiting, restored twice: without clock_realtime the
 * TSC and the PIT go on from the saved values (only the restore's own
 * time on them), with it both are past them by the wait. Each bound is
 * the wall time measured around the steps, with 2 ms for the reads. */
Test(tcg_state, clock_realtime_moves_the_tsc_and_the_pit_on_by_the_gap)
{
	static struct x86_cpu_state st;
	struct machine a;
	uint8_t blob[PLATFORM_SIZE];
	machine_start(&a, NULL, false);
	page_tables(&a.mem);
	memcpy(gm_ptr(&a.mem, CODE, sizeof(counter_guest)), counter_guest, sizeof(counter_guest));
	machine_boot(&a, CODE);
	out(&a, 0x43, 0x34); /* channel 0: mode 2, 65536 (55 ms) */
	out(&a, 0x40, 0x00);
	out(&a, 0x40, 0x00);
	run_until_r12(&a, 1000);
	cr_assert_eq(a.be->vcpu_save(a.vcpu, &st), 0);
	int64_t save0 = real_ns();
	cr_assert_eq(a.be->platform_save(a.vm, blob, sizeof(blob)), PLATFORM_SIZE);
	int64_t save1 = real_ns();
	uint64_t at = le64(blob + CLOCK_AT);
	cr_assert(at >= (uint64_t)save0 && at <= (uint64_t)save1, "the save's wall-clock time");
	cr_assert_not_null(find_msr(&st, MSR_TSC));
	cr_assert_gt(st.tsc_khz, 0);
	struct timespec wait = { 0, 200 * MS };
	nanosleep(&wait, NULL);

	int64_t t0 = real_ns();
	struct gaps g = restore_and_run(&a, &st, blob, false);
	int64_t took = real_ns() - t0;
	cr_assert(g.tsc_ns >= 0 && g.tsc_ns <= took + 2 * MS, "TSC %lld ns on, in %lld",
		  (long long)g.tsc_ns, (long long)took);
	cr_assert(g.guest_tsc_ns >= 0 && g.guest_tsc_ns <= took + 2 * MS,
		  "the guest's RDTSC %lld ns on, in %lld", (long long)g.guest_tsc_ns,
		  (long long)took);
	cr_assert(g.pit_ns >= 0 && g.pit_ns <= took + 2 * MS, "PIT %lld ns on, in %lld",
		  (long long)g.pit_ns, (long long)took);

	t0 = real_ns();
	g = restore_and_run(&a, &st, blob, true);
	int64_t t1 = real_ns();
	int64_t lo = t0 - save1 - 2 * MS, hi = t1 - save0 + 2 * MS;
	cr_assert_geq(t0 - save1, 200 * MS);
	cr_assert(g.tsc_ns >= lo && g.tsc_ns <= hi, "TSC %lld ns on, the wall %lld..%lld",
		  (long long)g.tsc_ns, (long long)lo, (long long)hi);
	cr_assert(g.guest_tsc_ns >= lo && g.guest_tsc_ns <= hi,
		  "the guest's RDTSC %lld ns on, the wall %lld..%lld", (long long)g.guest_tsc_ns,
		  (long long)lo, (long long)hi);
	cr_assert(g.pit_ns >= lo && g.pit_ns <= hi, "PIT %lld ns on, the wall %lld..%lld",
		  (long long)g.pit_ns, (long long)lo, (long long)hi);
	machine_stop(&a);
}

/* Loaded at 0x8000 (no stack, no page-table writes: the tables come with
 * A and D set), each `out` ends a step (PAUSE returns to QEMU's loop,
 * where the device's kick is seen):
 *   movl $1,0x20000; movl $2,0x31000; mov 0x40000,%eax; out %al,$0x99; pause
 *   movl $3,0x20000; mov 0x50000,%eax; movl $4,0x50000; out %al,$0x99; pause
 *   mov 0x20000,%eax; int3; out %al,$0x99; pause; 1: hlt; jmp 1b
 * 0x8100 (#BP handler): iretq */
static const uint8_t dirty_guest[] = {
	0xc7, 0x04, 0x25, 0x00, 0x00, 0x02, 0x00, 0x01, 0x00, 0x00, 0x00, 0xc7,
	0x04, 0x25, 0x00, 0x10, 0x03, 0x00, 0x02, 0x00, 0x00, 0x00, 0x8b, 0x04,
	0x25, 0x00, 0x00, 0x04, 0x00, 0xe6, 0x99, 0xf3, 0x90, 0xc7, 0x04, 0x25,
	0x00, 0x00, 0x02, 0x00, 0x03, 0x00, 0x00, 0x00, 0x8b, 0x04, 0x25, 0x00,
	0x00, 0x05, 0x00, 0xc7, 0x04, 0x25, 0x00, 0x00, 0x05, 0x00, 0x04, 0x00,
	0x00, 0x00, 0xe6, 0x99, 0xf3, 0x90, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x02,
	0x00, 0xcc, 0xe6, 0x99, 0xf3, 0x90, 0xf4, 0xeb, 0xfd,
};
static const uint8_t iretq[] = { 0x48, 0xcf };
#define NR_WORDS (MEM / 4096 / 64)

struct stepper {
	const struct backend_ops *be;
	struct backend_vcpu *vcpu;
	int steps;
};

static void step_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	(void)opaque, (void)off;
	memset(data, 0, len);
}

static void step_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	(void)off, (void)data, (void)len;
	struct stepper *s = opaque;
	s->steps++;
	s->be->vcpu_kick(s->vcpu);
}

static const struct bus_ops step_ops = { step_read, step_write };

static void step(struct machine *m)
{
	struct vcpu_exit exit;
	cr_assert_eq(m->be->vcpu_run(m->vcpu, &exit), 0);
	cr_assert_eq(exit.reason, VCPU_EXIT_KICKED, "reason %d %s", exit.reason, exit.error.what);
}

/* The pages set in the log, as page numbers, and how many. */
static unsigned logged(struct machine *m, unsigned *pages, unsigned max)
{
	uint64_t bitmap[NR_WORDS] = { 0 };
	unsigned n = 0;
	cr_assert_eq(m->be->dirty_log(m->vm, 0, bitmap), 0);
	for (unsigned pg = 0; pg < MEM / 4096; pg++)
		if (bitmap[pg / 64] & (1ULL << (pg % 64))) {
			if (n < max)
				pages[n] = pg;
			n++;
		}
	return n;
}

Test(tcg_state, dirty_log_sees_exactly_the_pages_written)
{
	struct machine m;
	struct stepper st = { .be = &backend_tcg };
	unsigned pages[8];

	machine_start(&m, NULL, true);
	st.vcpu = m.vcpu;
	cr_assert_eq(bus_add(&m.pio, 0x99, 1, &step_ops, &st, "step"), 0);
	page_tables(&m.mem);
	memcpy(gm_ptr(&m.mem, CODE, sizeof(dirty_guest)), dirty_guest, sizeof(dirty_guest));
	memcpy(gm_ptr(&m.mem, CODE + 0x100, sizeof(iretq)), iretq, sizeof(iretq));
	uint64_t gate[2] = { 0x8100 | 0x08ULL << 16 | 0xeeULL << 40, 0 };
	memcpy(gm_ptr(&m.mem, IDT + 3 * 16, 16), gate, 16);
	machine_boot(&m, CODE);
	uint64_t bitmap[NR_WORDS];
	cr_assert_eq(m.be->dirty_log(m.vm, 1, bitmap), -EINVAL, "no slot 1");

	step(&m);
	cr_assert_eq(st.steps, 1);
	cr_assert_eq(logged(&m, pages, 8), 2, "two pages written, one read");
	cr_assert_eq(pages[0], 0x20);
	cr_assert_eq(pages[1], 0x31);
	cr_assert_eq(logged(&m, pages, 8), 0, "a new interval starts clean");

	step(&m);
	cr_assert_eq(st.steps, 2);
	cr_assert_eq(logged(&m, pages, 8), 2, "a write after the log, a read then a write");
	cr_assert_eq(pages[0], 0x20);
	cr_assert_eq(pages[1], 0x50);

	step(&m);
	cr_assert_eq(st.steps, 3);
	cr_assert_eq(logged(&m, pages, 8), 1, "only the frame INT3 pushed");
	cr_assert_eq(pages[0], 0x7, "the stack page below 0x7ff0");
	machine_stop(&m);
}

Test(tcg_state, dirty_log_needs_track_dirty)
{
	struct machine m;
	uint64_t bitmap[NR_WORDS];
	machine_start(&m, NULL, false);
	cr_assert_eq(m.be->dirty_log(m.vm, 0, bitmap), -EINVAL);
	machine_stop(&m);
}

/* x2APIC mode and an armed TSC deadline go through save and restore into
 * a second VM as KVM carries them: IA32_APIC_BASE in sregs, the deadline
 * as MSR 0x6e0 in the guest's TSC, the page with the x2APIC ID unshifted
 * in the ID register (KVM's x2APIC layout). The deadline is armed again
 * against the restored TSC. */
Test(tcg_state, x2apic_and_tsc_deadline_survive_a_restore)
{
	static struct x86_cpu_state st, back;
	struct machine a, b;
	struct tcg_apic_msg msg;
	int eoi;

	machine_start(&a, NULL, false);
	page_tables(&a.mem);
	machine_boot(&a, CODE);
	struct tcg_lapic *l = &a.vm->lapic[0];
	cr_assert(tcg_lapic_set_base(l, l->apic_base | TCG_APIC_BASE_X2APIC));
	cr_assert_eq(tcg_lapic_wrmsr(l, 0x80f, 0x1ff, 0, &msg, &eoi), 0);
	cr_assert_eq(tcg_lapic_wrmsr(l, 0x832, (2u << 17) | 0x40, 0, &msg, &eoi), 0);
	cr_assert_eq(a.be->vcpu_save(a.vcpu, &st), 0);
	uint64_t tsc = find_msr(&st, MSR_TSC)->value;
	uint64_t deadline = tsc + (1ULL << 40); /* minutes away */
	tcg_apic_rearm_deadline(a.vcpu, deadline, tsc);
	cr_assert_eq(a.be->vcpu_save(a.vcpu, &st), 0);
	cr_assert_eq(st.sregs.apic_base, 0xfee00d00, "enabled, BSP, x2APIC");
	const struct x86_msr *d = find_msr(&st, 0x6e0);
	cr_assert_not_null(d, "MSR 0x6e0 saved");
	cr_assert_eq(d->value, deadline);
	cr_assert_eq(st.lapic[0x320 + 2], 0x04, "LVT timer in TSC-deadline mode");

	machine_start(&b, &a.mem, false);
	cr_assert_eq(b.be->vcpu_restore(b.vcpu, &st), 0);
	struct tcg_lapic *lb = &b.vm->lapic[0];
	cr_assert(tcg_lapic_x2apic(lb));
	cr_assert_eq(tcg_lapic_deadline(lb), deadline);
	int64_t next = tcg_lapic_timer_next(lb);
	cr_assert(next > tcg_now_ns() + 60LL * 1000000000, "armed, still far away: %ld", (long)next);
	uint64_t v = 0;
	cr_assert_eq(tcg_lapic_rdmsr(lb, 0x802, 0, &v), 0, "the x2APIC MSRs answer");
	cr_assert_eq(v, 0);
	cr_assert_eq(b.be->vcpu_save(b.vcpu, &back), 0);
	cr_assert_eq(back.sregs.apic_base, st.sregs.apic_base);
	cr_assert_eq(find_msr(&back, 0x6e0)->value, deadline);

	/* A deadline the TSC has passed fires as soon as the VM runs. */
	for (uint32_t i = 0; i < st.nr_msrs; i++)
		if (st.msrs[i].index == 0x6e0)
			st.msrs[i].value = tsc / 2;
	int64_t before = tcg_now_ns();
	cr_assert_eq(b.be->vcpu_restore(b.vcpu, &st), 0);
	pthread_mutex_lock(&b.vm->lock);
	next = tcg_lapic_timer_next(lb);
	int fired = tcg_lapic_pending(lb); /* the timer thread may have been first */
	pthread_mutex_unlock(&b.vm->lock);
	cr_assert(fired == 0x40 || (next >= before && next <= tcg_now_ns()), "due now: %ld, %d",
		  (long)next, fired);
	machine_stop(&b);
	machine_stop(&a);
}
