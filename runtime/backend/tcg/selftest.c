/* The probe guest; see selftest.h. */
#include "runtime/backend/tcg/selftest.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "runtime/backend/tcg/tcg.h"
#include "runtime/base/bus.h"
#include "runtime/base/gmem.h"
#include "runtime/backend/x86.h"

#define ST_MEM 0x10000ULL
#define ST_CODE 0x8000ULL
#define ST_DATA 0x5000ULL  /* physical page behind linear 0x400000 */
#define ST_PORT 0x99
#define ST_MARK 0x5a

struct st_dev {
	struct backend_vcpu *vcpu;
	uint32_t got;
	int writes;
};

static void st_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	(void)opaque, (void)off;
	memset(data, 0, len);
}

static void st_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	(void)off;
	struct st_dev *d = opaque;
	d->got = 0;
	memcpy(&d->got, data, len < 4 ? len : 4);
	d->writes++;
	backend_tcg.vcpu_kick(d->vcpu);
}

static const struct bus_ops st_ops = { st_read, st_write };

/* rdtsc; mov 0x400000,%rax; out %al,$0x99; hlt */
static const uint8_t st_code[] = { 0x0f, 0x31, 0x48, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x40, 0x00,
				   0xe6, ST_PORT, 0xf4 };
/* A TSC offset the host's own TSC cannot explain: RDTSC's EDX then lies
 * in [2^30, 2^31) (the host's would need some 40 years of uptime). */
#define ST_TSC_OFFSET (1ULL << 62)

static void st_tables(struct guest_mem *mem)
{
	uint64_t *pml4 = gm_ptr(mem, 0x1000, 4096), *pdpt = gm_ptr(mem, 0x2000, 4096);
	uint64_t *pd = gm_ptr(mem, 0x3000, 4096), *pt = gm_ptr(mem, 0x4000, 4096);
	pml4[0] = 0x2000 | 3;
	pdpt[0] = 0x3000 | 3;
	pd[0] = 0x83;            /* 0-2 MiB identity, 2 MiB page */
	pd[2] = 0x4000 | 3;      /* 4 MiB: a 4 KiB page table */
	pt[0] = ST_DATA | 3;
	*(uint8_t *)gm_ptr(mem, ST_DATA, 1) = ST_MARK;
	memcpy(gm_ptr(mem, ST_CODE, sizeof(st_code)), st_code, sizeof(st_code));
}

static void st_sregs(struct x86_sregs *s)
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
	s->cr0 = X86_CR0_PE | X86_CR0_PG | X86_CR0_ET;
	s->cr3 = 0x1000;
	s->cr4 = X86_CR4_PAE;
	s->efer = X86_EFER_LME | X86_EFER_LMA;
}

int tcg_selftest(char *why, size_t why_len)
{
	const struct backend_ops *be = &backend_tcg;
	struct guest_mem mem;
	struct bus mmio, pio;
	struct backend_vm *vm = NULL;
	struct st_dev dev = { 0 };
	struct x86_sregs sregs;
	struct x86_regs regs = { .rip = ST_CODE, .rsp = ST_MEM, .rflags = X86_RFLAGS_FIXED };
	struct vcpu_exit exit;
	unsigned major, minor;
	int r;

	uc_version(&major, &minor);
	if (major != 2 || minor != 0) {
		snprintf(why, why_len, "unicorn %u.%u found; the TCG backend is built for 2.0.x",
			 major, minor);
		return -ENOTSUP;
	}
	if (!tcg_qemu_interposed()) {
		snprintf(why, why_len, "unicorn does not call our page walk (symbol interposition failed)");
		return -ENOTSUP;
	}
	r = gm_alloc(&mem, ST_MEM);
	if (r) {
		snprintf(why, why_len, "guest memory: %s", strerror(-r));
		return r;
	}
	bus_init(&mmio, "mmio");
	bus_init(&pio, "pio");
	bus_add(&pio, ST_PORT, 1, &st_ops, &dev, "selftest");
	st_tables(&mem);
	struct backend_vm_opts opts = { .nr_vcpus = 1, .mem = &mem, .mmio_bus = &mmio, .pio_bus = &pio };
	struct errbuf err = { "" };
	r = be->vm_create(&opts, &vm, &err);
	if (r) {
		snprintf(why, why_len, "cannot set up a unicorn VM: %s", err.msg);
		goto out;
	}
	r = be->map_memory(vm, 0, 0, ST_MEM, gm_ptr(&mem, 0, ST_MEM));
	if (r)
		err_set(&err, r, "guest memory: %s", strerror(-r));
	else
		r = be->vcpu_create(vm, 0, &dev.vcpu, &err);
	if (r) {
		snprintf(why, why_len, "cannot set up a unicorn vCPU: %s", err.msg);
		goto out;
	}
	st_sregs(&sregs);
	be->set_sregs(dev.vcpu, &sregs);
	be->set_regs(dev.vcpu, &regs);
	/* Snapshots keep the guest's TSC through this field (env.h). */
	tcg_env_save(&dev.vcpu->env);
	tcg_env_set_u64(&dev.vcpu->env, TCG_ENV_TSC_OFFSET, ST_TSC_OFFSET);
	tcg_env_restore(&dev.vcpu->env);
	r = be->vcpu_run(dev.vcpu, &exit);
	if (r || exit.reason != VCPU_EXIT_KICKED || dev.writes != 1 || dev.got != ST_MARK) {
		snprintf(why, why_len, "self-test guest failed (exit %d, %d writes, value 0x%x%s%s)",
			 r ? -1 : (int)exit.reason, dev.writes, dev.got,
			 exit.reason == VCPU_EXIT_INTERNAL_ERROR ? ": " : "",
			 exit.reason == VCPU_EXIT_INTERNAL_ERROR ? exit.error.what : "");
		r = -ENOTSUP;
		goto out;
	}
	be->get_regs(dev.vcpu, &regs);
	/* The vendor words QEMU's translator reads (qemu/qemu.h), found on
	 * the first fill: without them SYSENTER cannot follow Intel's rules. */
	if (dev.vcpu->q.vendor_off < 0) {
		snprintf(why, why_len, "unicorn's CPU vendor words were not found; unicorn 2.0.x "
			 "is required");
		r = -ENOTSUP;
	} else if ((regs.rdx >> 30) != 1) {
		snprintf(why, why_len, "unicorn's CPU state layout is not the QEMU 5 one this backend "
			 "knows (TSC offset); unicorn 2.0.x is required");
		r = -ENOTSUP;
	}
out:
	if (dev.vcpu)
		be->vcpu_destroy(dev.vcpu);
	be->vm_destroy(vm);
	bus_destroy(&pio);
	bus_destroy(&mmio);
	gm_free(&mem);
	return r;
}
