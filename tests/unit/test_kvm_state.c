/* runtime/backend/kvm/ snapshot ops on this host's KVM: a long-mode guest
 * counts in a register and in memory and writes each count to a port; its
 * vCPU and platform state move to a second VM, which goes on counting from
 * the same point. Then clock_realtime, what a restore refuses, the TSC
 * rate, the platform blob's checks at every length, and the dirty log. Tests skip (saying
 * why) where /dev/kvm cannot be opened. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "runtime/backend/backend.h"
#include "runtime/backend/kvm/kvm.h"
#include "runtime/backend/x86.h"
#include "runtime/base/gmem.h"

#define MEM (2ULL << 20)
#define GDT 0x500ULL
#define CODE 0x8000ULL
#define COUNTER 0x6000ULL
#define PORT 0xe0
#define MSR_IA32_TSC 0x10
#define MSR_KERNEL_GS_BASE 0xc0000102
#define APIC_TPR 0x80
#define PLATFORM_SIZE 384

/* Loaded at 0x8000 (64-bit):
 *   PIT channel 2: mode 3, count 0x1234 (0xb6 -> 0x43; 0x34, 0x12 -> 0x42)
 *   PIC master IMR = 0xfa (-> 0x21)
 *   wrmsr KERNEL_GS_BASE = 0x7fff12345678; mov $5 -> %cr8
 * 0x802a: 1: inc %rbx; mov %rbx,0x6000; mov %ebx,%eax; out %eax,$0xe0
 * 0x8039:    jmp 1b */
static const uint8_t guest[] = {
	0xb0, 0xb6, 0xe6, 0x43, 0xb0, 0x34, 0xe6, 0x42, 0xb0, 0x12, 0xe6, 0x42,
	0xb0, 0xfa, 0xe6, 0x21, 0xb9, 0x02, 0x01, 0x00, 0xc0, 0xb8, 0x78, 0x56,
	0x34, 0x12, 0xba, 0xff, 0x7f, 0x00, 0x00, 0x0f, 0x30, 0xb8, 0x05, 0x00,
	0x00, 0x00, 0x44, 0x0f, 0x22, 0xc0, 0x48, 0xff, 0xc3, 0x48, 0x89, 0x1c,
	0x25, 0x00, 0x60, 0x00, 0x00, 0x89, 0xd8, 0xe7, 0xe0, 0xeb, 0xef,
};
#define AFTER_OUT (CODE + 0x39)

static const struct backend_ops *be = &backend_kvm;

struct vm {
	struct guest_mem mem;
	struct backend_vm *bvm;
	struct backend_vcpu *vcpu;
};

static void vm_up_clock(struct vm *v, bool track_dirty, bool clock_realtime)
{
	memset(v, 0, sizeof(*v));
	cr_assert_eq(gm_alloc(&v->mem, MEM), 0);
	struct backend_vm_opts opts = { .nr_vcpus = 1, .mem = &v->mem,
					.track_dirty = track_dirty,
					.clock_realtime = clock_realtime };
	int r = be->vm_create(&opts, &v->bvm, NULL);
	if (r < 0) {
		gm_free(&v->mem);
		cr_skip_test("no usable KVM here (vm_create: %s)", strerror(-r));
	}
	cr_assert_eq(be->map_memory(v->bvm, 0, 0, MEM, gm_ptr(&v->mem, 0, MEM)), 0);
	cr_assert_eq(be->vcpu_create(v->bvm, 0, &v->vcpu, NULL), 0);
}

static void vm_up(struct vm *v, bool track_dirty)
{
	vm_up_clock(v, track_dirty, false);
}

static void vm_down(struct vm *v)
{
	be->vcpu_destroy(v->vcpu);
	be->vm_destroy(v->bvm);
	gm_free(&v->mem);
}

/* Identity-mapped long mode at CODE, the counter in %rbx at 0. */
static void load_guest(struct vm *v)
{
	memcpy(gm_ptr(&v->mem, CODE, sizeof(guest)), guest, sizeof(guest));
	uint64_t *pml4 = gm_ptr(&v->mem, 0x10000, 4096), *pdpt = gm_ptr(&v->mem, 0x11000, 4096);
	uint64_t *pd = gm_ptr(&v->mem, 0x12000, 4096), *gdt = gm_ptr(&v->mem, GDT, 24);
	pml4[0] = 0x11000 | 3;
	pdpt[0] = 0x12000 | 3;
	pd[0] = 0x83;
	gdt[1] = 0x00af9b000000ffffULL;
	gdt[2] = 0x00cf93000000ffffULL;

	struct x86_sregs s;
	cr_assert_eq(be->get_sregs(v->vcpu, &s), 0);
	struct x86_segment code = { .limit = 0xffffffff, .selector = 8, .type = 0xb, .present = 1,
				    .s = 1, .l = 1, .g = 1 };
	struct x86_segment data = { .limit = 0xffffffff, .selector = 0x10, .type = 3, .present = 1,
				    .s = 1, .db = 1, .g = 1 };
	s.cs = code;
	s.ds = s.es = s.fs = s.gs = s.ss = data;
	s.tr = (struct x86_segment){ .limit = 0x67, .type = 0xb, .present = 1 };
	s.ldt = (struct x86_segment){ .unusable = 1 };
	s.gdt = (struct x86_dtable){ GDT, 23 };
	s.idt = (struct x86_dtable){ 0, 0 };
	s.cr0 = X86_CR0_PE | X86_CR0_PG | X86_CR0_ET | X86_CR0_NE | X86_CR0_WP;
	s.cr3 = 0x10000;
	s.cr4 = X86_CR4_PAE | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT;
	s.efer = X86_EFER_LME | X86_EFER_LMA | X86_EFER_SCE;
	cr_assert_eq(be->set_sregs(v->vcpu, &s), 0);
	struct x86_regs r = { .rip = CODE, .rsp = 0x7000, .rflags = X86_RFLAGS_FIXED };
	cr_assert_eq(be->set_regs(v->vcpu, &r), 0);
}

/* Runs to the guest's next write to PORT and returns the value. */
static uint32_t next_count(struct vm *v)
{
	struct vcpu_exit exit;
	for (int i = 0; i < 1000; i++) {
		cr_assert_eq(be->vcpu_run(v->vcpu, &exit), 0);
		if (exit.reason == VCPU_EXIT_KICKED)
			continue;
		cr_assert_eq(exit.reason, VCPU_EXIT_IO, "exit %d: %s", exit.reason, exit.error.what);
		cr_assert(exit.io.port == PORT && exit.io.is_write && exit.io.size == 4,
			  "port 0x%x", exit.io.port);
		uint32_t x;
		memcpy(&x, exit.io.data, 4);
		return x;
	}
	cr_assert_fail("the guest never wrote its count");
	return 0;
}

static const struct x86_msr *find_msr(const struct x86_cpu_state *st, uint32_t index)
{
	for (uint32_t i = 0; i < st->nr_msrs; i++)
		if (st->msrs[i].index == index)
			return &st->msrs[i];
	return NULL;
}

static void assert_seg_eq(const struct x86_segment *a, const struct x86_segment *b,
			  const char *name)
{
	cr_assert(a->base == b->base && a->limit == b->limit && a->selector == b->selector &&
			  a->type == b->type && a->present == b->present && a->dpl == b->dpl &&
			  a->db == b->db && a->s == b->s && a->l == b->l && a->g == b->g &&
			  a->avl == b->avl && a->unusable == b->unusable,
		  "segment %s differs", name);
}

static void assert_sregs_eq(const struct x86_sregs *a, const struct x86_sregs *b)
{
	assert_seg_eq(&a->cs, &b->cs, "cs");
	assert_seg_eq(&a->ds, &b->ds, "ds");
	assert_seg_eq(&a->es, &b->es, "es");
	assert_seg_eq(&a->fs, &b->fs, "fs");
	assert_seg_eq(&a->gs, &b->gs, "gs");
	assert_seg_eq(&a->ss, &b->ss, "ss");
	assert_seg_eq(&a->tr, &b->tr, "tr");
	assert_seg_eq(&a->ldt, &b->ldt, "ldt");
	cr_assert(a->gdt.base == b->gdt.base && a->gdt.limit == b->gdt.limit);
	cr_assert(a->idt.base == b->idt.base && a->idt.limit == b->idt.limit);
	cr_assert_eq(a->cr0, b->cr0);
	cr_assert_eq(a->cr2, b->cr2);
	cr_assert_eq(a->cr3, b->cr3);
	cr_assert_eq(a->cr4, b->cr4);
	cr_assert_eq(a->cr8, b->cr8);
	cr_assert_eq(a->efer, b->efer);
	cr_assert_eq(a->apic_base, b->apic_base);
}

static struct kvm_clock_data clock_of(struct vm *v)
{
	struct kvm_clock_data c = { 0 };
	cr_assert_eq(ioctl(v->bvm->vm_fd, KVM_GET_CLOCK, &c), 0);
	return c;
}

static void assert_irqchips_eq(struct vm *a, struct vm *b)
{
	for (uint32_t id = 0; id < KVM_NR_IRQCHIPS; id++) {
		struct kvm_irqchip ca = { .chip_id = id }, cb = { .chip_id = id };
		cr_assert_eq(ioctl(a->bvm->vm_fd, KVM_GET_IRQCHIP, &ca), 0);
		cr_assert_eq(ioctl(b->bvm->vm_fd, KVM_GET_IRQCHIP, &cb), 0);
		cr_assert_eq(memcmp(&ca, &cb, sizeof(ca)), 0, "irqchip %u differs", id);
	}
	struct kvm_pit_state2 pa, pb;
	cr_assert_eq(ioctl(a->bvm->vm_fd, KVM_GET_PIT2, &pa), 0);
	cr_assert_eq(ioctl(b->bvm->vm_fd, KVM_GET_PIT2, &pb), 0);
	cr_assert_eq(pa.flags, pb.flags);
	for (int i = 0; i < 3; i++) {
		pa.channels[i].count_load_time = pb.channels[i].count_load_time = 0;
		cr_assert_eq(memcmp(&pa.channels[i], &pb.channels[i], sizeof(pa.channels[i])), 0,
			     "PIT channel %d differs", i);
	}
	cr_assert_eq(pa.channels[2].count, 0x1234, "the guest's PIT channel 2 count");
}

/* Puts state the guest does not make itself into the vCPU through
 * vcpu_restore: XMM0 and two debug address registers. */
static void seed_fpu_and_debug(struct vm *v, struct x86_cpu_state *st)
{
	cr_assert_eq(be->vcpu_save(v->vcpu, st), 0);
	for (int i = 0; i < 16; i++)
		st->fxsave[160 + i] = (uint8_t)(0xa0 + i);
	if (st->flags & X86_STATE_HAS_XSAVE) {
		memcpy(st->xsave + 160, st->fxsave + 160, 16);
		uint64_t bv;
		memcpy(&bv, st->xsave + 512, 8);
		bv |= 2; /* XSTATE_BV: the SSE part is not in its initial state */
		memcpy(st->xsave + 512, &bv, 8);
	}
	st->dr[0] = 0x1000;
	st->dr[1] = 0x2000;
	cr_assert_eq(be->vcpu_restore(v->vcpu, st), 0);
}

Test(kvm_state, a_running_guest_goes_on_counting_in_a_second_vm)
{
	static struct x86_cpu_state seed, sa, sb;
	static uint8_t blob[1024];
	struct vm a, b;
	vm_up(&a, false);
	load_guest(&a);
	seed_fpu_and_debug(&a, &seed);
	for (uint32_t want = 1; want <= 3; want++)
		cr_assert_eq(next_count(&a), want);
	cr_assert_eq(be->set_irq_line(a.bvm, 5, true), 0);
	usleep(200 * 1000); /* A's clock well ahead of a fresh VM's */

	/* Stopped at the third OUT, which KVM completes only on entry:
	 * vcpu_save must retire it, or B would write 3 again. */
	cr_assert_eq(be->vcpu_save(a.vcpu, &sa), 0);
	cr_assert_eq(sa.regs.rip, AFTER_OUT, "rip 0x%llx", (unsigned long long)sa.regs.rip);
	cr_assert_eq(sa.regs.rbx, 3);
	struct kvm_clock_data before = clock_of(&a);
	int n = be->platform_save(a.bvm, blob, sizeof(blob));
	cr_assert_eq(n, PLATFORM_SIZE);

	cr_assert_eq(sa.version, X86_CPU_STATE_VERSION);
	cr_assert(sa.flags & X86_STATE_HAS_LAPIC);
	cr_assert(sa.flags & X86_STATE_HAS_EVENTS);
	cr_assert(sa.nr_msrs > 0 && sa.nr_msrs <= X86_MAX_MSRS);
	cr_assert_not_null(find_msr(&sa, MSR_IA32_TSC), "the TSC is saved");
	const struct x86_msr *gs = find_msr(&sa, MSR_KERNEL_GS_BASE);
	cr_assert_not_null(gs);
	cr_assert_eq(gs->value, 0x7fff12345678ULL, "the guest's WRMSR");
	cr_assert_eq(sa.sregs.cr8, 5);
	cr_assert_eq(sa.lapic[APIC_TPR], 0x50, "CR8 is the LAPIC's TPR");
	cr_assert_eq(sa.fxsave[160], 0xa0);
	cr_assert_eq(sa.dr[1], 0x2000);

	vm_up(&b, false);
	memcpy(gm_ptr(&b.mem, 0, MEM), gm_ptr(&a.mem, 0, MEM), MEM);
	struct kvm_clock_data fresh = clock_of(&b);
	cr_assert_lt(fresh.clock, before.clock, "B starts behind A");
	cr_assert_eq(be->vcpu_restore(b.vcpu, &sa), 0);
	cr_assert_eq(be->platform_restore(b.bvm, blob, (size_t)n), 0);
	cr_assert_eq(be->vcpu_save(b.vcpu, &sb), 0);

	cr_assert_eq(memcmp(&sa.regs, &sb.regs, sizeof(sa.regs)), 0, "general registers");
	assert_sregs_eq(&sa.sregs, &sb.sregs);
	cr_assert_eq(sa.flags, sb.flags);
	cr_assert_eq(sa.mp_state, sb.mp_state);
	cr_assert_eq(memcmp(sa.fxsave, sb.fxsave, sizeof(sa.fxsave)), 0, "FPU/SSE");
	cr_assert_eq(memcmp(sa.xsave, sb.xsave, sizeof(sa.xsave)), 0, "XSAVE area");
	cr_assert_eq(sa.xcr0, sb.xcr0);
	cr_assert_eq(memcmp(sa.dr, sb.dr, sizeof(sa.dr)), 0);
	cr_assert_eq(sa.dr7, sb.dr7);
	cr_assert_eq(memcmp(sa.lapic, sb.lapic, sizeof(sa.lapic)), 0, "LAPIC page");
	cr_assert_eq(memcmp(&sa.events, &sb.events, sizeof(sa.events)), 0, "events");
	cr_assert_eq(sa.tsc_khz, sb.tsc_khz);
	cr_assert_eq(sa.nr_msrs, sb.nr_msrs);
	for (uint32_t i = 0; i < sa.nr_msrs; i++) {
		cr_assert_eq(sa.msrs[i].index, sb.msrs[i].index);
		if (sa.msrs[i].index == MSR_IA32_TSC) {
			/* Goes on from the saved count: at most the few ms this took. */
			uint64_t ahead = sb.msrs[i].value - sa.msrs[i].value;
			cr_assert_lt(ahead, (uint64_t)sa.tsc_khz * 1000, "TSC %llu ahead",
				     (unsigned long long)ahead);
			continue;
		}
		cr_assert_eq(sa.msrs[i].value, sb.msrs[i].value, "MSR 0x%x: 0x%llx vs 0x%llx",
			     sa.msrs[i].index, (unsigned long long)sa.msrs[i].value,
			     (unsigned long long)sb.msrs[i].value);
	}

	assert_irqchips_eq(&a, &b);
	struct kvm_clock_data after = clock_of(&b);
	cr_assert_geq(after.clock, before.clock, "B's clock goes on from A's");
	cr_assert_lt(after.clock - before.clock, 1000000000ULL, "and does not jump");

	cr_assert_eq(next_count(&b), 4, "B goes on from A's count");
	cr_assert_eq(*(uint64_t *)gm_ptr(&b.mem, COUNTER, 8), 4);
	cr_assert_eq(next_count(&b), 5);
	cr_assert_eq(next_count(&a), 4, "A is unchanged by the save");
	vm_down(&b);
	vm_down(&a);
}

/* movdqu %xmm0,0x300000 (outside RAM: MMIO, which KVM splits into two
 * 8-byte exits); mov $0x77,%eax; out %eax,$0xe0 */
static const uint8_t split_mmio[] = { 0xf3, 0x0f, 0x7f, 0x04, 0x25, 0x00, 0x00, 0x30,
				      0x00, 0xb8, 0x77, 0x00, 0x00, 0x00, 0xe7, 0xe0 };

static struct vcpu_exit run_to_mmio(struct vm *v)
{
	struct vcpu_exit exit;
	do
		cr_assert_eq(be->vcpu_run(v->vcpu, &exit), 0);
	while (exit.reason == VCPU_EXIT_KICKED);
	cr_assert_eq(exit.reason, VCPU_EXIT_MMIO, "exit %d: %s", exit.reason, exit.error.what);
	return exit;
}

/* Paused between the two halves: the save cannot finish the instruction
 * without serving the second half, so it refuses, and the second half
 * still reaches the VMM when the vCPU runs again. */
Test(kvm_state, save_inside_a_split_mmio_access_refuses_and_loses_nothing)
{
	static struct x86_cpu_state st;
	struct vm v;
	vm_up(&v, false);
	load_guest(&v);
	memcpy(gm_ptr(&v.mem, CODE, sizeof(split_mmio)), split_mmio, sizeof(split_mmio));
	((uint64_t *)gm_ptr(&v.mem, 0x12000, 4096))[1] = 0x200000 | 0x83;
	cr_assert_eq(be->vcpu_save(v.vcpu, &st), 0);
	for (int i = 0; i < 16; i++)
		st.fxsave[160 + i] = st.xsave[160 + i] = (uint8_t)(0x10 + i);
	if (st.flags & X86_STATE_HAS_XSAVE)
		st.xsave[512] |= 2;
	else
		memset(st.xsave, 0, sizeof(st.xsave));
	cr_assert_eq(be->vcpu_restore(v.vcpu, &st), 0);

	struct vcpu_exit e = run_to_mmio(&v);
	cr_assert(e.mmio.is_write && e.mmio.addr == 0x300000, "0x%llx",
		  (unsigned long long)e.mmio.addr);
	if (e.mmio.len == 16)
		cr_skip_test("this KVM wrote the 16 bytes in one exit: nothing to split");
	cr_assert_eq(e.mmio.len, 8);
	cr_assert_eq(e.mmio.data[0], 0x10);
	cr_assert_eq(be->vcpu_save(v.vcpu, &st), -EAGAIN);
	e = run_to_mmio(&v);
	cr_assert(e.mmio.is_write && e.mmio.addr == 0x300008 && e.mmio.len == 8,
		  "the second half, not lost: 0x%llx", (unsigned long long)e.mmio.addr);
	cr_assert_eq(e.mmio.data[0], 0x18);
	cr_assert_eq(be->vcpu_save(v.vcpu, &st), 0);
	cr_assert_eq(st.regs.rip, CODE + 9, "the store retired");
	cr_assert_eq(next_count(&v), 0x77);
	vm_down(&v);
}

static void assert_refused(struct vm *v, const struct x86_cpu_state *good,
			   void (*spoil)(struct x86_cpu_state *), const char *what)
{
	static struct x86_cpu_state st;
	struct x86_regs before, after;
	st = *good;
	spoil(&st);
	cr_assert_eq(be->get_regs(v->vcpu, &before), 0);
	cr_assert_eq(be->vcpu_restore(v->vcpu, &st), -EINVAL, "%s", what);
	cr_assert_eq(be->get_regs(v->vcpu, &after), 0);
	cr_assert_eq(memcmp(&before, &after, sizeof(before)), 0, "%s: nothing applied", what);
}

static void bad_version(struct x86_cpu_state *s) { s->version = X86_CPU_STATE_VERSION + 1; }
static void bad_flag(struct x86_cpu_state *s) { s->flags |= 1u << 17; }
static void bad_reserved(struct x86_cpu_state *s) { s->reserved = 1; }
static void too_many_msrs(struct x86_cpu_state *s) { s->nr_msrs = X86_MAX_MSRS + 1; }
static void huge_msr_count(struct x86_cpu_state *s) { s->nr_msrs = 0xffffffffu; }
static void msr_reserved(struct x86_cpu_state *s) { s->msrs[0].reserved = 1; }
static void msr_past_count(struct x86_cpu_state *s) { s->msrs[s->nr_msrs].index = 0x10; }
static void bad_mp_state(struct x86_cpu_state *s) { s->mp_state = X86_MP_SIPI_RECEIVED + 1; }
static void bad_dpl(struct x86_cpu_state *s) { s->sregs.ss.dpl = 4; }
static void bad_seg_type(struct x86_cpu_state *s) { s->sregs.cs.type = 16; }
static void bad_cr8(struct x86_cpu_state *s) { s->sregs.cr8 = 16; }
static void events_reserved(struct x86_cpu_state *s) { s->events.reserved = 1; }
static void bad_shadow(struct x86_cpu_state *s) { s->events.interrupt_shadow = 4; }
static void lapic_no_flag(struct x86_cpu_state *s) { s->flags &= ~(uint32_t)X86_STATE_HAS_LAPIC; }
static void events_no_flag(struct x86_cpu_state *s) { s->flags &= ~(uint32_t)X86_STATE_HAS_EVENTS; s->events.nmi_masked = 1; }
static void xcr0_no_flag(struct x86_cpu_state *s)
{
	s->flags &= ~(uint32_t)X86_STATE_HAS_XSAVE;
	memset(s->xsave, 0, sizeof(s->xsave));
	s->xcr0 = 1;
}
static void xsave_no_flag(struct x86_cpu_state *s)
{
	s->flags &= ~(uint32_t)X86_STATE_HAS_XSAVE;
	s->xcr0 = 0;
	s->xsave[600] = 1;
}
static void bad_mxcsr(struct x86_cpu_state *s)
{
	s->flags &= ~(uint32_t)X86_STATE_HAS_XSAVE;
	s->xcr0 = 0;
	memset(s->xsave, 0, sizeof(s->xsave));
	s->fxsave[27] = 0x80; /* MXCSR bit 31 */
}
static void tsc_flag_no_rate(struct x86_cpu_state *s) { s->flags |= X86_STATE_HAS_TSC_KHZ; s->tsc_khz = 0; }
static void tsc_rate_no_flag(struct x86_cpu_state *s) { s->flags &= ~(uint32_t)X86_STATE_HAS_TSC_KHZ; s->tsc_khz = 1000; }

Test(kvm_state, restore_refuses_what_is_not_a_valid_state_and_applies_nothing)
{
	static struct x86_cpu_state good;
	struct vm v;
	vm_up(&v, false);
	load_guest(&v);
	cr_assert_eq(be->vcpu_save(v.vcpu, &good), 0);
	cr_assert_lt(good.nr_msrs, X86_MAX_MSRS, "room for msr_past_count");
	static const struct {
		void (*spoil)(struct x86_cpu_state *);
		const char *what;
	} cases[] = {
		{ bad_version, "version" },	      { bad_flag, "unknown flag" },
		{ bad_reserved, "reserved" },	      { too_many_msrs, "nr_msrs 129" },
		{ huge_msr_count, "nr_msrs ~0" },     { msr_reserved, "MSR reserved" },
		{ msr_past_count, "MSR past nr_msrs" }, { bad_mp_state, "MP state" },
		{ bad_dpl, "DPL 4" },		      { bad_seg_type, "type 16" },
		{ bad_cr8, "CR8 16" },		      { events_reserved, "events reserved" },
		{ bad_shadow, "interrupt shadow" },   { lapic_no_flag, "LAPIC without flag" },
		{ events_no_flag, "events without flag" }, { xcr0_no_flag, "XCR0 without flag" },
		{ xsave_no_flag, "XSAVE without flag" }, { bad_mxcsr, "MXCSR" },
		{ tsc_flag_no_rate, "TSC flag, rate 0" }, { tsc_rate_no_flag, "TSC rate, no flag" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_refused(&v, &good, cases[i].spoil, cases[i].what);
	cr_assert_eq(be->vcpu_restore(v.vcpu, &good), 0, "the good state still restores");
	vm_down(&v);
}

/* What a backend without XSAVE, LAPIC or events would write (a TCG
 * snapshot, later) restores through KVM_SET_FPU and keeps the SSE state. */
Test(kvm_state, restore_without_xsave_lapic_events_uses_the_fxsave_image)
{
	static struct x86_cpu_state st, back;
	struct vm v;
	vm_up(&v, false);
	load_guest(&v);
	cr_assert_eq(be->vcpu_save(v.vcpu, &st), 0);
	st.flags &= ~(uint32_t)(X86_STATE_HAS_XSAVE | X86_STATE_HAS_LAPIC | X86_STATE_HAS_EVENTS);
	memset(st.xsave, 0, sizeof(st.xsave));
	memset(st.lapic, 0, sizeof(st.lapic));
	memset(&st.events, 0, sizeof(st.events));
	st.xcr0 = 0;
	for (int i = 0; i < 16; i++)
		st.fxsave[160 + 16 + i] = (uint8_t)(0x50 + i); /* XMM1 */
	cr_assert_eq(be->vcpu_restore(v.vcpu, &st), 0);
	cr_assert_eq(be->vcpu_save(v.vcpu, &back), 0);
	cr_assert_eq(memcmp(back.fxsave + 160, st.fxsave + 160, 256), 0, "XMM registers");
	cr_assert_eq(memcmp(back.fxsave, st.fxsave, 24), 0, "x87 control and status");
	cr_assert_eq(next_count(&v), 1, "and the guest runs");
	vm_down(&v);
}

Test(kvm_state, tsc_rate_is_kept_or_refused_naming_both_rates)
{
	static struct x86_cpu_state st;
	struct vm v;
	vm_up(&v, false);
	load_guest(&v);
	cr_assert_eq(be->vcpu_save(v.vcpu, &st), 0);
	cr_assert(st.flags & X86_STATE_HAS_TSC_KHZ, "KVM_GET_TSC_KHZ works here");
	uint32_t host = st.tsc_khz;

	st.tsc_khz = host + host / 20000; /* 50 ppm: the same clock */
	cr_assert_eq(be->vcpu_restore(v.vcpu, &st), 0);
	cr_assert_eq(ioctl(v.vcpu->fd, KVM_GET_TSC_KHZ, 0), (int)host, "not scaled");

	st.tsc_khz = host + host / 10;
	int r = be->vcpu_restore(v.vcpu, &st);
	if (ioctl(v.bvm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_CONTROL) > 0) {
		cr_assert_eq(r, 0, "this KVM scales the TSC");
		cr_assert_eq(ioctl(v.vcpu->fd, KVM_GET_TSC_KHZ, 0), (int)st.tsc_khz);
	} else {
		cr_assert_eq(r, -ENOTSUP, "no KVM_CAP_TSC_CONTROL: refused");
		cr_assert_eq(ioctl(v.vcpu->fd, KVM_GET_TSC_KHZ, 0), (int)host, "rate untouched");
	}
	vm_down(&v);
}

/* Offsets in the version-1 layout (runtime/backend/kvm/platform.c). */
enum {
	P_MAGIC = 0, P_VERSION = 4, P_SIZE = 8, P_COUNT = 12,
	P_PIC0_ID = 16, P_PIC0_LEN = 20, P_PIC0_IRQ_BASE = 24 + 5,
	P_IOAPIC_ID = 64, P_IOAPIC_BASE = 72, P_IOAPIC_PAD = 92,
	P_PIT_LEN = 292, P_PIT_FLAGS = 296, P_PIT_PAD = 300,
	P_CLOCK = 360, P_CLOCK_FLAGS = 368, P_CLOCK_PAD = 372, P_CLOCK_REALTIME = 376,
};

Test(kvm_state, platform_blob_is_checked_at_every_length_and_field)
{
	static uint8_t blob[PLATFORM_SIZE + 16], bad[PLATFORM_SIZE + 16];
	struct vm v;
	vm_up(&v, false);
	for (size_t len = 0; len < PLATFORM_SIZE; len++)
		cr_assert_eq(be->platform_save(v.bvm, blob, len), -ENOSPC, "save into %zu", len);
	int n = be->platform_save(v.bvm, blob, sizeof(blob));
	cr_assert_eq(n, PLATFORM_SIZE);
	cr_assert_eq(memcmp(blob, "EKPL", 4), 0, "magic, little-endian");
	cr_assert_eq(blob[P_VERSION], 1);

	for (size_t len = 0; len < PLATFORM_SIZE; len++)
		cr_assert_eq(be->platform_restore(v.bvm, blob, len), -EINVAL, "truncated at %zu", len);
	cr_assert_eq(be->platform_restore(v.bvm, blob, PLATFORM_SIZE + 1), -EINVAL, "trailing");
	cr_assert_eq(be->platform_restore(v.bvm, NULL, PLATFORM_SIZE), -EINVAL);

	static const struct { size_t off; uint8_t x; const char *what; } fields[] = {
		{ P_MAGIC, 1, "magic" },	    { P_VERSION, 3, "version 2" },
		{ P_SIZE, 1, "size" },		    { P_COUNT, 1, "section count" },
		{ P_PIC0_ID, 4, "section id" },	    { P_PIC0_LEN, 1, "section size" },
		{ P_PIC0_IRQ_BASE, 1, "PIC base" }, { P_IOAPIC_ID, 1, "IOAPIC id" },
		{ P_IOAPIC_BASE + 2, 1, "IOAPIC base" }, { P_IOAPIC_PAD, 1, "IOAPIC pad" },
		{ P_PIT_LEN, 1, "PIT size" },	    { P_PIT_FLAGS, 4, "PIT flag" },
		{ P_PIT_PAD, 1, "PIT pad" },	    { P_CLOCK_FLAGS, 1, "clock flag" },
		{ P_CLOCK_PAD, 1, "clock pad" },
	};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		memcpy(bad, blob, PLATFORM_SIZE);
		bad[fields[i].off] ^= fields[i].x;
		cr_assert_eq(be->platform_restore(v.bvm, bad, PLATFORM_SIZE), -EINVAL, "%s",
			     fields[i].what);
	}
	memcpy(bad, blob, PLATFORM_SIZE);
	bad[P_CLOCK_FLAGS] &= (uint8_t)~KVM_CLOCK_REALTIME;
	bad[P_CLOCK_REALTIME] = 1;
	cr_assert_eq(be->platform_restore(v.bvm, bad, PLATFORM_SIZE), -EINVAL, "realtime, no flag");
	/* Garbage of every length, and every single-byte corruption: refused
	 * or taken, never a crash. */
	srand(7);
	for (size_t len = 0; len <= PLATFORM_SIZE + 8; len++) {
		for (size_t i = 0; i < len; i++)
			bad[i] = (uint8_t)rand();
		cr_assert_eq(be->platform_restore(v.bvm, bad, len), -EINVAL, "garbage of %zu", len);
	}
	for (size_t off = 0; off < PLATFORM_SIZE; off++) {
		memcpy(bad, blob, PLATFORM_SIZE);
		bad[off] ^= 0xff;
		int r = be->platform_restore(v.bvm, bad, PLATFORM_SIZE);
		cr_assert(r == 0 || r == -EINVAL, "byte %zu: %d", off, r);
	}
	cr_assert_eq(be->platform_restore(v.bvm, blob, PLATFORM_SIZE), 0, "the good blob");
	vm_down(&v);
}

static int64_t real_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* A VM like A (its memory and vCPU state) with A's platform blob, told to
 * advance the guest's clocks or not: platform_restore's result. */
static int restore_copy(struct vm *b, struct vm *a, const struct x86_cpu_state *st,
			const uint8_t *blob, size_t len, bool clock_realtime)
{
	vm_up_clock(b, false, clock_realtime);
	memcpy(gm_ptr(&b->mem, 0, MEM), gm_ptr(&a->mem, 0, MEM), MEM);
	cr_assert_eq(be->vcpu_restore(b->vcpu, st), 0);
	return be->platform_restore(b->bvm, blob, len);
}

struct clocks {
	uint64_t kvmclock, tsc;
};

static struct clocks clocks_of(struct vm *v)
{
	static struct x86_cpu_state st;
	cr_assert_eq(be->vcpu_save(v->vcpu, &st), 0);
	const struct x86_msr *tsc = find_msr(&st, MSR_IA32_TSC);
	cr_assert_not_null(tsc);
	return (struct clocks){ clock_of(v).clock, tsc->value };
}

/* How far B's clocks are past the saved ones, in ns (the TSC at khz). */
static void gap(struct vm *b, struct clocks saved, uint32_t khz, int64_t *clock_ns,
		int64_t *tsc_ns)
{
	struct clocks now = clocks_of(b);
	*clock_ns = (int64_t)(now.kvmclock - saved.kvmclock);
	*tsc_ns = (int64_t)((__int128)(int64_t)(now.tsc - saved.tsc) * 1000000 / khz);
}

#define MS 1000000LL

/* Whether this KVM lets the VMM move a guest's TSC (KVM_VCPU_TSC_OFFSET):
 * some keep it at the host's whatever they are told. */
static bool tsc_settable(void)
{
	struct vm v;
	vm_up(&v, false);
	uint64_t off = 0;
	struct kvm_device_attr a = { .group = KVM_VCPU_TSC_CTRL, .attr = KVM_VCPU_TSC_OFFSET,
				     .addr = (uint64_t)(uintptr_t)&off };
	struct clocks before = clocks_of(&v);
	bool moved = false;
	if (ioctl(v.vcpu->fd, KVM_GET_DEVICE_ATTR, &a) == 0) {
		off += 1ULL << 40;
		moved = ioctl(v.vcpu->fd, KVM_SET_DEVICE_ATTR, &a) == 0 &&
			clocks_of(&v).tsc - before.tsc >= 1ULL << 39;
	}
	vm_down(&v);
	return moved;
}

/* Saved, 200 ms of waiting, restored twice: without clock_realtime both
 * clocks go on from the saved values (only the restore's own time on
 * them); with it, both are past them by the wait, kvmclock as KVM put it
 * and the TSC with it. Each bound is the wall time measured around the
 * steps, with 2 ms for the clocks' rates and the reads. */
Test(kvm_state, clock_realtime_moves_kvmclock_and_the_tsc_on_by_the_gap)
{
	static struct x86_cpu_state sa;
	static uint8_t blob[1024], bad[1024];
	struct vm a, b;
	vm_up(&a, false);
	load_guest(&a);
	for (uint32_t want = 1; want <= 3; want++)
		cr_assert_eq(next_count(&a), want);
	cr_assert_eq(be->vcpu_save(a.vcpu, &sa), 0);
	int64_t save0 = real_ns();
	int n = be->platform_save(a.bvm, blob, sizeof(blob));
	int64_t save1 = real_ns();
	cr_assert_eq(n, PLATFORM_SIZE);
	const struct x86_msr *tsc = find_msr(&sa, MSR_IA32_TSC);
	cr_assert_not_null(tsc);
	struct clocks saved = { 0, tsc->value };
	memcpy(&saved.kvmclock, blob + P_CLOCK, 8);
	uint32_t khz = sa.tsc_khz;
	cr_assert_gt(khz, 0);

	/* The blob without the wall-clock time is refused for clock_realtime;
	 * a host whose KVM did not report it (its clocksource not the TSC)
	 * writes such blobs, and this test then goes on as one that did. */
	memcpy(bad, blob, (size_t)n);
	bad[P_CLOCK_FLAGS] &= (uint8_t)~KVM_CLOCK_REALTIME;
	memset(bad + P_CLOCK_REALTIME, 0, 8);
	cr_assert_eq(restore_copy(&b, &a, &sa, bad, (size_t)n, true), -ENOTSUP, "no realtime");
	vm_down(&b);
	if (!(blob[P_CLOCK_FLAGS] & KVM_CLOCK_REALTIME)) {
		cr_log_info("this KVM did not report KVM_CLOCK_REALTIME: using the test's own");
		blob[P_CLOCK_FLAGS] |= KVM_CLOCK_REALTIME;
		memcpy(blob + P_CLOCK_REALTIME, &save0, 8);
	}
	usleep(200 * 1000);

	int64_t t0 = real_ns(), clock_ns, tsc_ns;
	cr_assert_eq(restore_copy(&b, &a, &sa, blob, (size_t)n, false), 0);
	gap(&b, saved, khz, &clock_ns, &tsc_ns);
	int64_t took = real_ns() - t0;
	cr_assert(clock_ns >= 0 && clock_ns <= took + 2 * MS, "kvmclock %lld ns on, in %lld",
		  (long long)clock_ns, (long long)took);
	bool settable = tsc_settable();
	if (!settable)
		cr_log_info("this KVM keeps guest TSCs at the host's: TSC not checked (%lld ns on)",
			    (long long)tsc_ns);
	cr_assert(!settable || (tsc_ns >= -2 * MS && tsc_ns <= took + 2 * MS),
		  "TSC %lld ns on, in %lld", (long long)tsc_ns, (long long)took);
	cr_assert_eq(next_count(&b), 4, "the guest goes on");
	vm_down(&b);

	t0 = real_ns();
	int r = restore_copy(&b, &a, &sa, blob, (size_t)n, true);
	if (r == -ENOTSUP)
		cr_skip_test("this KVM cannot take KVM_CLOCK_REALTIME or set TSC offsets");
	cr_assert_eq(r, 0);
	gap(&b, saved, khz, &clock_ns, &tsc_ns);
	int64_t t1 = real_ns();
	cr_assert_geq(t0 - save1, 200 * MS);
	cr_assert(clock_ns >= t0 - save1 - 2 * MS && clock_ns <= t1 - save0 + 2 * MS,
		  "kvmclock %lld ns on, the wall %lld..%lld", (long long)clock_ns,
		  (long long)(t0 - save1), (long long)(t1 - save0));
	/* The TSC also has the time since its vcpu_restore, before the clock's set. */
	cr_assert(!settable ||
			  (tsc_ns >= t0 - save1 - 2 * MS && tsc_ns <= clock_ns + (t1 - t0) + 2 * MS),
		  "TSC %lld ns on, kvmclock %lld, restore %lld", (long long)tsc_ns,
		  (long long)clock_ns, (long long)(t1 - t0));
	cr_assert_eq(next_count(&b), 4, "the guest goes on");
	cr_assert_eq(next_count(&b), 5);
	vm_down(&b);
	vm_down(&a);
}

static bool bit(const uint64_t *bm, uint64_t page)
{
	return bm[page / 64] >> (page % 64) & 1;
}

Test(kvm_state, dirty_log_reports_guest_writes_once)
{
	enum { WORDS = MEM / 4096 / 64 };
	uint64_t bm[WORDS] = { 0 }, again[WORDS] = { 0 };
	struct vm v;
	vm_up(&v, true);
	load_guest(&v);
	cr_assert_eq(next_count(&v), 1);
	cr_assert_eq(be->dirty_log(v.bvm, 0, bm), 0);
	cr_assert(bit(bm, COUNTER / 4096), "the counter's page");
	cr_assert(!bit(bm, CODE / 4096), "code is only read");
	cr_assert_eq(be->dirty_log(v.bvm, 0, again), 0);
	for (int i = 0; i < WORDS; i++)
		cr_assert_eq(again[i], 0, "a second read is clean (word %d)", i);
	cr_assert_eq(next_count(&v), 2);
	cr_assert_eq(be->dirty_log(v.bvm, 0, again), 0);
	cr_assert(bit(again, COUNTER / 4096), "dirty again after the next write");
	bm[WORDS - 1] = 1ULL << 63;
	cr_assert_eq(be->dirty_log(v.bvm, 0, bm), 0);
	cr_assert(bit(bm, MEM / 4096 - 1), "ORed into, not overwritten");
	cr_assert_eq(be->dirty_log(v.bvm, 1, bm), -EINVAL, "no such slot");
	cr_assert_eq(be->dirty_log(v.bvm, KVM_MAX_SLOTS + 100, bm), -EINVAL);
	vm_down(&v);

	vm_up(&v, false);
	cr_assert_eq(be->dirty_log(v.bvm, 0, bm), -EINVAL, "without track_dirty");
	vm_down(&v);
}
