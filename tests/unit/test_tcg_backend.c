/* runtime/backend/tcg/: a tiny long-mode guest on the real backend —
 * port I/O both ways, a #PF through its IDT returning with IRETQ, timer
 * interrupts from the PIT through the PIC (taken in a chained polling
 * loop), then HLT with interrupts off, ended by a kick from another
 * thread; then a device overwriting code the guest already ran. The
 * guests are hand-written assembly, assembled once into the bytes below
 * (listings in the comments). */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "runtime/backend/backend.h"
#include "runtime/base/bus.h"
#include "runtime/base/gmem.h"
#include "runtime/backend/x86.h"

#define MEM (4ULL << 20)
#define CODE 0x8000ULL
#define IDT 0x3000ULL
#define GDT 0x500ULL
#define DATA 0x6000ULL

/* Loaded at 0x8000:
 *   mov $0x11,%al; out %al,$0x99; in $0x98,%al; mov %al,0x6000
 *   mov 0x400000,%rbx                  (#PF: the handler skips it)
 *   program the PIC (bases 0x20/0x28, IRQ 0 open) and PIT ch0 mode 2, 1193
 *   sti; 1: cmpl $3,0x6010; jb 1b; cli
 *   out 0x6008 (#PF count) to 0x9a, 0x6010 (ticks) to 0x9c; 2: hlt; jmp 2b
 * 0x8100 #PF handler: CR2 -> 0x6018, error code -> 0x6020, count, skip 8
 * 0x8180 timer handler: count in 0x6010, EOI, iretq */
static const uint8_t guest[] = {
	0xb0, 0x11, 0xe6, 0x99, 0xe4, 0x98, 0x88, 0x04, 0x25, 0x00, 0x60, 0x00,
	0x00, 0x48, 0x8b, 0x1c, 0x25, 0x00, 0x00, 0x40, 0x00, 0xb0, 0x11, 0xe6,
	0x20, 0xe6, 0xa0, 0xb0, 0x20, 0xe6, 0x21, 0xb0, 0x28, 0xe6, 0xa1, 0xb0,
	0x04, 0xe6, 0x21, 0xb0, 0x02, 0xe6, 0xa1, 0xb0, 0x01, 0xe6, 0x21, 0xe6,
	0xa1, 0xb0, 0xfe, 0xe6, 0x21, 0xb0, 0xff, 0xe6, 0xa1, 0xb0, 0x34, 0xe6,
	0x43, 0xb0, 0xa9, 0xe6, 0x40, 0xb0, 0x04, 0xe6, 0x40, 0xfb, 0x83, 0x3c,
	0x25, 0x10, 0x60, 0x00, 0x00, 0x03, 0x72, 0xf6, 0xfa, 0x8b, 0x04, 0x25,
	0x08, 0x60, 0x00, 0x00, 0xe7, 0x9a, 0x8b, 0x04, 0x25, 0x10, 0x60, 0x00,
	0x00, 0xe7, 0x9c, 0xf4, 0xeb, 0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x50, 0x0f, 0x20, 0xd0, 0x48, 0x89, 0x04, 0x25,
	0x18, 0x60, 0x00, 0x00, 0x48, 0x8b, 0x44, 0x24, 0x08, 0x48, 0x89, 0x04,
	0x25, 0x20, 0x60, 0x00, 0x00, 0xff, 0x04, 0x25, 0x08, 0x60, 0x00, 0x00,
	0x58, 0x48, 0x83, 0xc4, 0x08, 0x48, 0x83, 0x04, 0x24, 0x08, 0x48, 0xcf,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x50, 0xff, 0x04, 0x25, 0x10, 0x60, 0x00, 0x00, 0xb0, 0x20, 0xe6, 0x20,
	0x58, 0x48, 0xcf,
};

struct ports {
	struct backend_vcpu *vcpu;
	uint32_t wrote99, pf, ticks;
	atomic_bool done;
};

static void port_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	(void)opaque;
	memset(data, 0, len);
	if (off == 0) /* port 0x98 */
		*(uint8_t *)data = 0x5a;
}

static void port_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct ports *p = opaque;
	uint32_t v = 0;
	memcpy(&v, data, len < 4 ? len : 4);
	if (off == 1)
		p->wrote99 = v;
	else if (off == 2)
		p->pf = v;
	else if (off == 4) {
		p->ticks = v;
		atomic_store(&p->done, true);
	}
}

static const struct bus_ops port_ops = { port_read, port_write };

static void set_gate(struct guest_mem *m, unsigned vec, uint64_t target)
{
	uint64_t g[2] = { (target & 0xffff) | 0x08ULL << 16 | 0x8eULL << 40 | ((target >> 16) & 0xffff) << 48,
			  target >> 32 };
	memcpy(gm_ptr(m, IDT + vec * 16, 16), g, 16);
}

static void long_mode(struct x86_sregs *s)
{
	struct x86_segment code = { .limit = 0xffffffff, .selector = 8, .type = 0xb, .present = 1,
				    .s = 1, .l = 1, .g = 1 };
	struct x86_segment data = { .limit = 0xffffffff, .selector = 0x10, .type = 3, .present = 1,
				    .s = 1, .db = 1, .g = 1 };
	memset(s, 0, sizeof(*s));
	s->cs = code;
	s->ds = s->es = s->fs = s->gs = s->ss = data;
	s->tr = (struct x86_segment){ .limit = 0x67, .type = 0xb, .present = 1 };
	s->ldt = (struct x86_segment){ .unusable = 1 };
	s->gdt.base = GDT;
	s->gdt.limit = 23;
	s->idt.base = IDT;
	s->idt.limit = 0xfff;
	s->cr0 = X86_CR0_PE | X86_CR0_PG | X86_CR0_ET | X86_CR0_WP;
	s->cr3 = 0x10000;
	s->cr4 = X86_CR4_PAE | X86_CR4_OSFXSR;
	s->efer = X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE | X86_EFER_SCE;
}

static void *kicker(void *arg)
{
	struct ports *p = arg;
	struct timespec ms = { 0, 1000000 };
	for (int i = 0; i < 20000 && !atomic_load(&p->done); i++)
		nanosleep(&ms, NULL);
	ms.tv_nsec = 20000000; /* let it reach HLT */
	nanosleep(&ms, NULL);
	backend_tcg.vcpu_kick(p->vcpu);
	return NULL;
}

Test(tcg_backend, probe_passes_here)
{
	char why[256] = "";
	cr_assert_eq(backend_tcg.probe(why, sizeof(why)), 0, "%s", why);
}

Test(tcg_backend, at_most_8_vcpus)
{
	struct guest_mem mem;
	struct bus mmio, pio;
	struct backend_vm *vm = NULL;
	cr_assert_eq(gm_alloc(&mem, MEM), 0);
	bus_init(&mmio, "mmio");
	bus_init(&pio, "pio");
	struct backend_vm_opts opts = { .nr_vcpus = 9, .mem = &mem, .mmio_bus = &mmio, .pio_bus = &pio };
	struct errbuf err = { "" };
	cr_assert_eq(backend_tcg.vm_create(&opts, &vm, &err), -EINVAL);
	cr_assert_null(vm);
	/* The reply to InstanceStart carries this text: the setting and why. */
	cr_assert_str_eq(err.msg, "vcpu_count 9: the software CPU (tcg) runs at most 8 vCPUs");
	cr_assert_eq(backend_tcg.add_irqfd(NULL, 5, -1), -EOPNOTSUPP);
	gm_free(&mem);
}

/* Empty only on a host without a usable TSC (then the guest calibrates). */
Test(tcg_backend, kernel_cmdline_gives_the_tsc_rate)
{
	struct guest_mem mem;
	struct bus mmio, pio;
	struct backend_vm *vm = NULL;
	char buf[64], small[8] = "x";
	unsigned long khz = 0;
	int used = 0;
	cr_assert_eq(gm_alloc(&mem, MEM), 0);
	bus_init(&mmio, "mmio");
	bus_init(&pio, "pio");
	struct backend_vm_opts opts = { .nr_vcpus = 1, .mem = &mem, .mmio_bus = &mmio, .pio_bus = &pio };
	cr_assert_eq(backend_tcg.vm_create(&opts, &vm, NULL), 0);
	cr_assert_eq(backend_tcg.kernel_cmdline(vm, buf, sizeof(buf)), 0);
	if (buf[0]) {
		cr_assert_eq(sscanf(buf, "tsc_early_khz=%lu%n", &khz, &used), 1, "%s", buf);
		cr_assert_eq((size_t)used, strlen(buf), "one parameter: %s", buf);
		cr_assert_gt(khz, 0);
		cr_assert_eq(backend_tcg.kernel_cmdline(vm, small, sizeof(small)), -E2BIG);
		cr_assert_str_empty(small);
	}
	cr_assert_eq(backend_tcg.kernel_cmdline(vm, small, 0), -E2BIG);
	backend_tcg.vm_destroy(vm);
	bus_destroy(&pio);
	bus_destroy(&mmio);
	gm_free(&mem);
}

Test(tcg_backend, guest_port_io_page_fault_timer_hlt_and_kick)
{
	const struct backend_ops *be = &backend_tcg;
	struct guest_mem mem;
	struct bus mmio, pio;
	struct backend_vm *vm;
	struct ports p = { 0 };
	struct x86_sregs s, s2;
	struct vcpu_exit exit;
	pthread_t th;

	cr_assert_eq(gm_alloc(&mem, MEM), 0);
	bus_init(&mmio, "mmio");
	bus_init(&pio, "pio");
	cr_assert_eq(bus_add(&pio, 0x98, 8, &port_ops, &p, "test"), 0);
	memcpy(gm_ptr(&mem, CODE, sizeof(guest)), guest, sizeof(guest));
	uint64_t *pml4 = gm_ptr(&mem, 0x10000, 4096), *pdpt = gm_ptr(&mem, 0x11000, 4096);
	uint64_t *pd = gm_ptr(&mem, 0x12000, 4096), *gdt = gm_ptr(&mem, GDT, 24);
	pml4[0] = 0x11000 | 3;
	pdpt[0] = 0x12000 | 3;
	pd[0] = 0x83;
	pd[1] = 0x200000 | 0x83; /* 4 MiB and up unmapped: the #PF */
	gdt[1] = 0x00af9b000000ffffULL;
	gdt[2] = 0x00cf93000000ffffULL;
	set_gate(&mem, 14, 0x8100);
	set_gate(&mem, 0x20, 0x8180);

	struct backend_vm_opts opts = { .nr_vcpus = 1, .mem = &mem, .mmio_bus = &mmio, .pio_bus = &pio };
	cr_assert_eq(be->vm_create(&opts, &vm, NULL), 0);
	cr_assert_eq(be->map_memory(vm, 0, 0, MEM, gm_ptr(&mem, 0, MEM)), 0);
	cr_assert_eq(be->vcpu_create(vm, 0, &p.vcpu, NULL), 0);
	long_mode(&s);
	cr_assert_eq(be->set_sregs(p.vcpu, &s), 0);
	cr_assert_eq(be->get_sregs(p.vcpu, &s2), 0);
	cr_assert_eq(s2.cs.l, 1);
	cr_assert_eq(s2.cs.selector, 8);
	cr_assert_eq(s2.efer & (X86_EFER_LMA | X86_EFER_NXE), X86_EFER_LMA | X86_EFER_NXE);
	cr_assert_eq(s2.idt.base, IDT);
	struct x86_regs r = { .rip = CODE, .rsp = 0x7ff0, .rflags = X86_RFLAGS_FIXED, .r12 = 0xfeed };
	cr_assert_eq(be->set_regs(p.vcpu, &r), 0);
	uint64_t gpa = 0;
	cr_assert_eq(be->translate(p.vcpu, 0x201234, &gpa), 0);
	cr_assert_eq(gpa, 0x201234);
	cr_assert_eq(be->translate(p.vcpu, 0x400000, &gpa), -EFAULT);

	pthread_create(&th, NULL, kicker, &p);
	cr_assert_eq(be->vcpu_run(p.vcpu, &exit), 0);
	pthread_join(th, NULL);
	cr_assert_eq(exit.reason, VCPU_EXIT_KICKED, "reason %d %s", exit.reason, exit.error.what);
	cr_assert_eq(p.wrote99, 0x11);
	cr_assert_eq(*(uint8_t *)gm_ptr(&mem, DATA, 1), 0x5a, "IN result stored");
	cr_assert_eq(p.pf, 1);
	cr_assert_eq(*(uint64_t *)gm_ptr(&mem, DATA + 0x18, 8), 0x400000, "CR2");
	cr_assert_eq(*(uint64_t *)gm_ptr(&mem, DATA + 0x20, 8), 0, "error code: read, not present");
	cr_assert_geq(p.ticks, 3);
	cr_assert_eq(be->get_regs(p.vcpu, &r), 0);
	cr_assert_eq(r.r12, 0xfeed);
	cr_assert_eq(r.rflags & X86_RFLAGS_IF, 0);
	cr_assert(r.rip == 0x8064 || r.rip == 0x8063, "at or past the HLT at 0x8063: %lx", (unsigned long)r.rip);

	be->vcpu_destroy(p.vcpu);
	be->vm_destroy(vm);
	bus_destroy(&pio);
	bus_destroy(&mmio);
	gm_free(&mem);
}

/* A device overwriting code the guest already ran (backend_ops.guest_written):
 * the guest calls a routine at 0x9000 that writes 1 to port 0x9a, then
 * polls a flag at 0x6000 in a chained loop (never reaching QEMU's loop by
 * itself), as a driver polls used->idx. Another thread, acting as the
 * device, rewrites the routine to write 2 through the host pointer, calls
 * guest_written, then sets the flag; the guest calls the routine again and
 * must run the new code. Without the guest_written call it runs the stale
 * translation and writes 1 again.
 *   0x8000: mov $0x9000,%ebx; call *%rbx; 1: cmpl $0,0x6000; je 1b
 *           call *%rbx; mov $1,%al; out %al,$0x9c; 2: hlt; jmp 2b
 *   0x9000: mov $1,%al; out %al,$0x9a; ret   (then $2) */
static const uint8_t smc_main[] = {
	0xbb, 0x00, 0x90, 0x00, 0x00, 0xff, 0xd3, 0x83, 0x3c, 0x25, 0x00, 0x60, 0x00,
	0x00, 0x00, 0x74, 0xf6, 0xff, 0xd3, 0xb0, 0x01, 0xe6, 0x9c, 0xf4, 0xeb, 0xfd,
};
static const uint8_t smc_old[] = { 0xb0, 0x01, 0xe6, 0x9a, 0xc3 };
static const uint8_t smc_new[] = { 0xb0, 0x02, 0xe6, 0x9a, 0xc3 };
#define SMC_ROUTINE 0x9000ULL
#define SMC_FLAG 0x6000ULL

struct smc {
	const struct backend_ops *be;
	struct backend_vm *vm;
	struct backend_vcpu *vcpu;
	struct guest_mem *mem;
	uint32_t seen[4];
	atomic_uint nr_seen;
	atomic_bool done;
};

static void smc_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	(void)opaque, (void)off;
	memset(data, 0, len);
}

static void smc_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct smc *t = opaque;
	uint8_t v = 0;
	memcpy(&v, data, len ? 1 : 0);
	if (off == 2) { /* port 0x9a */
		unsigned n = atomic_load(&t->nr_seen);
		if (n < 4)
			t->seen[n] = v;
		atomic_store(&t->nr_seen, n + 1);
	} else if (off == 4) { /* port 0x9c */
		atomic_store(&t->done, true);
	}
}

static const struct bus_ops smc_ops = { smc_read, smc_write };

static void *smc_device(void *arg)
{
	struct smc *t = arg;
	struct timespec ms = { 0, 1000000 };
	for (int i = 0; i < 20000 && atomic_load(&t->nr_seen) < 1; i++)
		nanosleep(&ms, NULL);
	ms.tv_nsec = 10000000; /* let it settle in its polling loop */
	nanosleep(&ms, NULL);
	memcpy(gm_ptr(t->mem, SMC_ROUTINE, sizeof(smc_new)), smc_new, sizeof(smc_new));
	t->be->guest_written(t->vm, SMC_ROUTINE, sizeof(smc_new));
	__atomic_store_n((uint32_t *)gm_ptr(t->mem, SMC_FLAG, 4), 1, __ATOMIC_RELEASE);
	ms.tv_nsec = 1000000;
	for (int i = 0; i < 20000 && !atomic_load(&t->done); i++)
		nanosleep(&ms, NULL);
	ms.tv_nsec = 20000000; /* let it reach HLT */
	nanosleep(&ms, NULL);
	t->be->vcpu_kick(t->vcpu);
	return NULL;
}

Test(tcg_backend, device_write_over_translated_code_is_seen)
{
	struct guest_mem mem;
	struct bus mmio, pio;
	struct smc t = { .be = &backend_tcg, .mem = &mem };
	struct x86_sregs s;
	struct vcpu_exit exit;
	pthread_t th;

	cr_assert_not_null(backend_tcg.guest_written);
	cr_assert_eq(gm_alloc(&mem, MEM), 0);
	bus_init(&mmio, "mmio");
	bus_init(&pio, "pio");
	cr_assert_eq(bus_add(&pio, 0x98, 8, &smc_ops, &t, "test"), 0);
	memcpy(gm_ptr(&mem, CODE, sizeof(smc_main)), smc_main, sizeof(smc_main));
	memcpy(gm_ptr(&mem, SMC_ROUTINE, sizeof(smc_old)), smc_old, sizeof(smc_old));
	uint64_t *pml4 = gm_ptr(&mem, 0x10000, 4096), *pdpt = gm_ptr(&mem, 0x11000, 4096);
	uint64_t *pd = gm_ptr(&mem, 0x12000, 4096), *gdt = gm_ptr(&mem, GDT, 24);
	pml4[0] = 0x11000 | 3;
	pdpt[0] = 0x12000 | 3;
	pd[0] = 0x83;
	gdt[1] = 0x00af9b000000ffffULL;
	gdt[2] = 0x00cf93000000ffffULL;

	struct backend_vm_opts opts = { .nr_vcpus = 1, .mem = &mem, .mmio_bus = &mmio, .pio_bus = &pio };
	cr_assert_eq(t.be->vm_create(&opts, &t.vm, NULL), 0);
	cr_assert_eq(t.be->map_memory(t.vm, 0, 0, MEM, gm_ptr(&mem, 0, MEM)), 0);
	cr_assert_eq(t.be->vcpu_create(t.vm, 0, &t.vcpu, NULL), 0);
	long_mode(&s);
	cr_assert_eq(t.be->set_sregs(t.vcpu, &s), 0);
	struct x86_regs r = { .rip = CODE, .rsp = 0x7ff0, .rflags = X86_RFLAGS_FIXED };
	cr_assert_eq(t.be->set_regs(t.vcpu, &r), 0);

	pthread_create(&th, NULL, smc_device, &t);
	cr_assert_eq(t.be->vcpu_run(t.vcpu, &exit), 0);
	pthread_join(th, NULL);
	cr_assert_eq(exit.reason, VCPU_EXIT_KICKED, "reason %d %s", exit.reason, exit.error.what);
	cr_assert(atomic_load(&t.done), "the guest saw the flag and finished");
	cr_assert_eq(atomic_load(&t.nr_seen), 2);
	cr_assert_eq(t.seen[0], 1);
	cr_assert_eq(t.seen[1], 2, "the guest ran the stale translation");

	t.be->vcpu_destroy(t.vcpu);
	t.be->vm_destroy(t.vm);
	bus_destroy(&pio);
	bus_destroy(&mmio);
	gm_free(&mem);
}

/* An interrupt request never makes a block run twice: requests end a block
 * only at its start (qemu/qemu.h). The guest increments two counters in
 * one chained block while the PIT ticks every ms (vector 0x20 counts them
 * at 0x6010); after 20 ticks it writes port 0x9c and halts. A block left
 * after its first store and restarted would count the first twice.
 *   0x8000: program the PIC (IRQ 0 at 0x20) and PIT ch0 mode 2, 1193; sti
 *           1: incq 0x6000; incq 0x6008; cmpl $20,0x6010; jb 1b
 *           cli; mov $1,%al; out %al,$0x9c; 2: hlt; jmp 2b
 *   0x8180: push %rax; incl 0x6010; EOI; pop %rax; iretq */
static const uint8_t restart_main[] = {
	0xb0, 0x11, 0xe6, 0x20, 0xe6, 0xa0, 0xb0, 0x20, 0xe6, 0x21, 0xb0, 0x28,
	0xe6, 0xa1, 0xb0, 0x04, 0xe6, 0x21, 0xb0, 0x02, 0xe6, 0xa1, 0xb0, 0x01,
	0xe6, 0x21, 0xe6, 0xa1, 0xb0, 0xfe, 0xe6, 0x21, 0xb0, 0xff, 0xe6, 0xa1,
	0xb0, 0x34, 0xe6, 0x43, 0xb0, 0xa9, 0xe6, 0x40, 0xb0, 0x04, 0xe6, 0x40,
	0xfb, 0x48, 0xff, 0x04, 0x25, 0x00, 0x60, 0x00, 0x00, 0x48, 0xff, 0x04,
	0x25, 0x08, 0x60, 0x00, 0x00, 0x83, 0x3c, 0x25, 0x10, 0x60, 0x00, 0x00,
	0x14, 0x72, 0xe6, 0xfa, 0xb0, 0x01, 0xe6, 0x9c, 0xf4, 0xeb, 0xfd,
};
static const uint8_t restart_tick[] = {
	0x50, 0xff, 0x04, 0x25, 0x10, 0x60, 0x00, 0x00, 0xb0, 0x20, 0xe6, 0x20,
	0x58, 0x48, 0xcf,
};

static void *kick_when_done(void *arg)
{
	struct smc *t = arg;
	struct timespec ms = { 0, 1000000 };
	for (int i = 0; i < 20000 && !atomic_load(&t->done); i++)
		nanosleep(&ms, NULL);
	ms.tv_nsec = 20000000; /* let it reach HLT */
	nanosleep(&ms, NULL);
	t->be->vcpu_kick(t->vcpu);
	return NULL;
}

Test(tcg_backend, interrupts_never_repeat_a_blocks_stores)
{
	struct guest_mem mem;
	struct bus mmio, pio;
	struct smc t = { .be = &backend_tcg, .mem = &mem };
	struct x86_sregs s;
	struct vcpu_exit exit;
	pthread_t th;

	cr_assert_eq(gm_alloc(&mem, MEM), 0);
	bus_init(&mmio, "mmio");
	bus_init(&pio, "pio");
	cr_assert_eq(bus_add(&pio, 0x98, 8, &smc_ops, &t, "test"), 0);
	memcpy(gm_ptr(&mem, CODE, sizeof(restart_main)), restart_main, sizeof(restart_main));
	memcpy(gm_ptr(&mem, CODE + 0x180, sizeof(restart_tick)), restart_tick, sizeof(restart_tick));
	uint64_t *pml4 = gm_ptr(&mem, 0x10000, 4096), *pdpt = gm_ptr(&mem, 0x11000, 4096);
	uint64_t *pd = gm_ptr(&mem, 0x12000, 4096), *gdt = gm_ptr(&mem, GDT, 24);
	pml4[0] = 0x11000 | 3;
	pdpt[0] = 0x12000 | 3;
	pd[0] = 0x83;
	gdt[1] = 0x00af9b000000ffffULL;
	gdt[2] = 0x00cf93000000ffffULL;
	set_gate(&mem, 0x20, CODE + 0x180);

	struct backend_vm_opts opts = { .nr_vcpus = 1, .mem = &mem, .mmio_bus = &mmio, .pio_bus = &pio };
	cr_assert_eq(t.be->vm_create(&opts, &t.vm, NULL), 0);
	cr_assert_eq(t.be->map_memory(t.vm, 0, 0, MEM, gm_ptr(&mem, 0, MEM)), 0);
	cr_assert_eq(t.be->vcpu_create(t.vm, 0, &t.vcpu, NULL), 0);
	long_mode(&s);
	cr_assert_eq(t.be->set_sregs(t.vcpu, &s), 0);
	struct x86_regs r = { .rip = CODE, .rsp = 0x7ff0, .rflags = X86_RFLAGS_FIXED };
	cr_assert_eq(t.be->set_regs(t.vcpu, &r), 0);

	pthread_create(&th, NULL, kick_when_done, &t);
	cr_assert_eq(t.be->vcpu_run(t.vcpu, &exit), 0);
	pthread_join(th, NULL);
	cr_assert_eq(exit.reason, VCPU_EXIT_KICKED, "reason %d %s", exit.reason, exit.error.what);
	cr_assert(atomic_load(&t.done), "the guest took its 20 ticks");
	uint64_t a, b;
	uint32_t ticks;
	memcpy(&a, gm_ptr(&mem, DATA, 8), 8);
	memcpy(&b, gm_ptr(&mem, DATA + 8, 8), 8);
	memcpy(&ticks, gm_ptr(&mem, DATA + 0x10, 4), 4);
	cr_assert_geq(ticks, 20);
	cr_assert_gt(b, 0);
	cr_assert_eq(a, b, "first store repeated: %llu vs %llu", (unsigned long long)a,
		     (unsigned long long)b);

	t.be->vcpu_destroy(t.vcpu);
	t.be->vm_destroy(t.vm);
	bus_destroy(&pio);
	bus_destroy(&mmio);
	gm_free(&mem);
}
