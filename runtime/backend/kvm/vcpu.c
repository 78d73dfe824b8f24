/* KVM backend: the per-vCPU half (CPUID, MSRs, LAPIC, run, kick, state). */
#include "runtime/backend/kvm/kvm.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "runtime/backend/kvm/cpu_template.h"
#include "runtime/base/log.h"

/* MSR numbers: Intel SDM vol. 4, table 2-2. */
#define MSR_IA32_SYSENTER_CS 0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_SYSCALL_MASK 0xc0000084
#define MSR_KERNEL_GS_BASE 0xc0000102
#define MSR_IA32_TSC 0x10
#define MSR_IA32_MISC_ENABLE 0x1a0
#define MSR_MTRR_DEF_TYPE 0x2ff
#define MISC_ENABLE_FAST_STRING 1ULL
#define MTRR_ENABLE (1ULL << 11)
#define MTRR_TYPE_WRBACK 6ULL

/* LAPIC register offsets and LVT delivery modes (SDM vol. 3A, 10.5.1). */
#define APIC_LVT0 0x350
#define APIC_LVT1 0x360
#define APIC_MODE_NMI 0x4
#define APIC_MODE_EXTINT 0x7

static void kick_handler(int sig)
{
	(void)sig;
}

void kvm_kick_signal_install(void)
{
	struct sigaction sa = { .sa_handler = kick_handler };
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: the point is that KVM_RUN returns -EINTR. */
	sigaction(KVM_KICK_SIGNAL, &sa, NULL);
}

#define KVM_CPUID_1_ECX_TSC_DEADLINE (1u << 24)

static int set_cpuid(struct backend_vcpu *v, struct errbuf *err)
{
	const struct kvm_cpuid2 *sup = v->vm->supported_cpuid;
	size_t n = sup->nent;
	struct cpuid_entry *e = calloc(n, sizeof(*e));
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
	int r = err_set(err, -ENOMEM, "kvm: vCPU %u: CPUID: out of memory", v->index);
	if (!e || !c)
		goto out;
	for (size_t i = 0; i < n; i++)
		e[i] = (struct cpuid_entry){ sup->entries[i].function, sup->entries[i].index,
					     sup->entries[i].flags, sup->entries[i].eax,
					     sup->entries[i].ebx, sup->entries[i].ecx,
					     sup->entries[i].edx };
	/* KVM emulates the TSC-deadline timer when it says so, but leaves the
	 * CPUID bit to the VMM (older kernels leave it out of
	 * KVM_GET_SUPPORTED_CPUID); a template may still clear it. */
	if (ioctl(v->vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0)
		for (size_t i = 0; i < n; i++)
			if (e[i].function == 1)
				e[i].ecx |= KVM_CPUID_1_ECX_TSC_DEADLINE;
	r = kvm_cpuid_shape(v->vm->tmpl, e, n, v->index, v->vm->nr_vcpus, err);
	if (r < 0) {
		err_wrap(err, r, "kvm: vCPU %u", v->index);
		goto out;
	}
	c->nent = (uint32_t)n;
	for (size_t i = 0; i < n; i++) {
		c->entries[i] = sup->entries[i];
		c->entries[i].flags = e[i].flags;
		c->entries[i].eax = e[i].eax;
		c->entries[i].ebx = e[i].ebx;
		c->entries[i].ecx = e[i].ecx;
		c->entries[i].edx = e[i].edx;
	}
	r = ioctl(v->fd, KVM_SET_CPUID2, c) < 0 ? -errno : 0;
	if (r < 0) {
		err_set(err, r, "kvm: vCPU %u: KVM_SET_CPUID2: %s", v->index, strerror(-r));
	} else {
		free(v->cpuid);
		v->cpuid = e;
		v->n_cpuid = n;
		e = NULL;
	}
out:
	free(e);
	free(c);
	return r;
}

/* The MSR values Linux expects from firmware at entry. */
static int set_boot_msrs(struct backend_vcpu *v, struct errbuf *err)
{
	static const struct { uint32_t index; uint64_t data; } boot_msrs[] = {
		{ MSR_IA32_SYSENTER_CS, 0 }, { MSR_IA32_SYSENTER_ESP, 0 },
		{ MSR_IA32_SYSENTER_EIP, 0 }, { MSR_STAR, 0 }, { MSR_CSTAR, 0 },
		{ MSR_KERNEL_GS_BASE, 0 }, { MSR_SYSCALL_MASK, 0 }, { MSR_LSTAR, 0 },
		{ MSR_IA32_TSC, 0 }, { MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING },
		{ MSR_MTRR_DEF_TYPE, MTRR_ENABLE | MTRR_TYPE_WRBACK },
	};
	size_t n = sizeof(boot_msrs) / sizeof(boot_msrs[0]);
	struct kvm_msrs *m = calloc(1, sizeof(*m) + n * sizeof(m->entries[0]));
	if (!m)
		return err_set(err, -ENOMEM, "kvm: vCPU %u: MSRs: out of memory", v->index);
	m->nmsrs = (uint32_t)n;
	for (size_t i = 0; i < n; i++) {
		m->entries[i].index = boot_msrs[i].index;
		m->entries[i].data = boot_msrs[i].data;
	}
	int set = ioctl(v->fd, KVM_SET_MSRS, m);
	int r = set < 0 ? -errno : -EIO;
	free(m);
	if (set != (int)n)
		return err_set(err, r, "kvm: vCPU %u: KVM_SET_MSRS set %d of %zu boot MSRs%s%s",
			       v->index, set, n, set < 0 ? ": " : "", set < 0 ? strerror(-r) : "");
	return 0;
}

/* LINT0 as ExtINT (the PIC's output) and LINT1 as NMI, as the MP spec's
 * virtual-wire mode and the local-interrupt entries of our MP table say. */
static int set_lapic_lint(struct backend_vcpu *v)
{
	struct kvm_lapic_state lapic;
	if (ioctl(v->fd, KVM_GET_LAPIC, &lapic) < 0)
		return -errno;
	uint32_t lvt0, lvt1;
	memcpy(&lvt0, &lapic.regs[APIC_LVT0], 4);
	memcpy(&lvt1, &lapic.regs[APIC_LVT1], 4);
	lvt0 = (lvt0 & ~0x700u) | (APIC_MODE_EXTINT << 8);
	lvt1 = (lvt1 & ~0x700u) | (APIC_MODE_NMI << 8);
	memcpy(&lapic.regs[APIC_LVT0], &lvt0, 4);
	memcpy(&lapic.regs[APIC_LVT1], &lvt1, 4);
	if (ioctl(v->fd, KVM_SET_LAPIC, &lapic) < 0)
		return -errno;
	return 0;
}

static int set_fpu(struct backend_vcpu *v)
{
	struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };
	return ioctl(v->fd, KVM_SET_FPU, &fpu) < 0 ? -errno : 0;
}

void kvm_vcpu_destroy(struct backend_vcpu *v)
{
	if (!v)
		return;
	for (struct backend_vcpu **p = &v->vm->vcpus; *p; p = &(*p)->next)
		if (*p == v) {
			*p = v->next;
			break;
		}
	if (v->run)
		munmap(v->run, (size_t)v->vm->run_size);
	if (v->fd >= 0)
		close(v->fd);
	free(v->cpuid);
	free(v);
}

int kvm_vcpu_create(struct backend_vm *vm, unsigned index, struct backend_vcpu **out,
		    struct errbuf *err)
{
	struct backend_vcpu *v = calloc(1, sizeof(*v));
	if (!v)
		return err_set(err, -ENOMEM, "kvm: vCPU %u: out of memory", index);
	v->vm = vm;
	v->index = index;
	v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)index);
	int r;
	if (v->fd < 0) {
		r = -errno;
		err_set(err, r, "kvm: KVM_CREATE_VCPU %u: %s", index, strerror(-r));
		goto fail;
	}
	v->run = mmap(NULL, (size_t)vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		r = -errno;
		err_set(err, r, "kvm: vCPU %u: mmap kvm_run: %s", index, strerror(-r));
		goto fail;
	}
	if ((r = set_cpuid(v, err)) < 0 || (r = kvm_template_set_msrs(v, err)) < 0 ||
	    (r = set_boot_msrs(v, err)) < 0)
		goto fail;
	if ((r = set_lapic_lint(v)) < 0 || (r = set_fpu(v)) < 0) {
		err_set(err, r, "kvm: vCPU %u: LAPIC/FPU set-up: %s", index, strerror(-r));
		goto fail;
	}
	v->next = vm->vcpus;
	vm->vcpus = v;
	*out = v;
	return 0;
fail:
	kvm_vcpu_destroy(v);
	return r;
}

static void fill_internal_error(struct backend_vcpu *v, struct vcpu_exit *exit)
{
	const struct kvm_run *run = v->run;
	exit->reason = VCPU_EXIT_INTERNAL_ERROR;
	exit->error.code = run->internal.suberror;
	snprintf(exit->error.what, sizeof(exit->error.what), "KVM internal error, suberror %u%s",
		 run->internal.suberror,
		 run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ? " (emulation failure)" : "");
	/* With KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES, data[0] holds
	 * flags and data[1..] the instruction length and bytes. */
	if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION && run->internal.ndata >= 3 &&
	    (run->emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES)) {
		uint32_t n = run->emulation_failure.insn_size;
		if (n > sizeof(exit->error.insn))
			n = sizeof(exit->error.insn);
		memcpy(exit->error.insn, run->emulation_failure.insn_bytes, n);
		exit->error.nr_insn = n;
	}
}

int kvm_vcpu_run(struct backend_vcpu *v, struct vcpu_exit *exit)
{
	struct kvm_run *run = v->run;
	if (!atomic_load(&v->thread_known)) {
		v->thread = pthread_self();
		atomic_store(&v->thread_known, true);
	}
	memset(exit, 0, sizeof(*exit));
	if (v->exit_waiting) {
		/* vcpu_save's KVM_RUN ended in an exit nobody has served yet. */
		v->exit_waiting = false;
	} else {
		/* Entering completes the previous exit's I/O, even when a kick
		 * makes KVM_RUN return at once. */
		v->completion_pending = false;
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			int e = errno;
			if (e == EINTR || e == EAGAIN) {
				run->immediate_exit = 0;
				exit->reason = VCPU_EXIT_KICKED;
				return 0;
			}
			return -e;
		}
	}
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		exit->reason = VCPU_EXIT_IO;
		exit->io.port = run->io.port;
		exit->io.size = run->io.size;
		exit->io.is_write = run->io.direction == KVM_EXIT_IO_OUT;
		exit->io.count = run->io.count;
		exit->io.data = (uint8_t *)run + run->io.data_offset;
		v->completion_pending = true;
		break;
	case KVM_EXIT_MMIO:
		exit->reason = VCPU_EXIT_MMIO;
		exit->mmio.addr = run->mmio.phys_addr;
		exit->mmio.len = run->mmio.len;
		exit->mmio.is_write = run->mmio.is_write;
		exit->mmio.data = run->mmio.data;
		v->completion_pending = true;
		break;
	case KVM_EXIT_HLT:
		exit->reason = VCPU_EXIT_HLT;
		break;
	case KVM_EXIT_INTR:
		exit->reason = VCPU_EXIT_KICKED;
		break;
	case KVM_EXIT_SHUTDOWN:
		exit->reason = VCPU_EXIT_SHUTDOWN;
		break;
	case KVM_EXIT_SYSTEM_EVENT:
		exit->reason = VCPU_EXIT_RESET;
		exit->error.code = run->system_event.type;
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		fill_internal_error(v, exit);
		break;
	case KVM_EXIT_FAIL_ENTRY:
		exit->reason = VCPU_EXIT_FAIL_ENTRY;
		exit->error.code = run->fail_entry.hardware_entry_failure_reason;
		snprintf(exit->error.what, sizeof(exit->error.what),
			 "VM entry failed, hardware reason 0x%llx",
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		break;
	default:
		exit->reason = VCPU_EXIT_UNKNOWN;
		exit->error.code = run->exit_reason;
		snprintf(exit->error.what, sizeof(exit->error.what), "unhandled KVM exit %u",
			 run->exit_reason);
		break;
	}
	return 0;
}

void kvm_vcpu_kick(struct backend_vcpu *v)
{
	/* immediate_exit covers a kick that lands before KVM_RUN is entered;
	 * the signal covers one that lands inside it. */
	v->run->immediate_exit = 1;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (atomic_load(&v->thread_known))
		pthread_kill(v->thread, KVM_KICK_SIGNAL);
}

int kvm_get_regs(struct backend_vcpu *v, struct x86_regs *r)
{
	struct kvm_regs k;
	if (ioctl(v->fd, KVM_GET_REGS, &k) < 0)
		return -errno;
	*r = (struct x86_regs){ k.rax, k.rbx, k.rcx, k.rdx, k.rsi, k.rdi, k.rsp, k.rbp,
				k.r8,  k.r9,  k.r10, k.r11, k.r12, k.r13, k.r14, k.r15,
				k.rip, k.rflags };
	return 0;
}

int kvm_set_regs(struct backend_vcpu *v, const struct x86_regs *r)
{
	struct kvm_regs k = { r->rax, r->rbx, r->rcx, r->rdx, r->rsi, r->rdi, r->rsp, r->rbp,
			      r->r8,  r->r9,  r->r10, r->r11, r->r12, r->r13, r->r14, r->r15,
			      r->rip, r->rflags };
	return ioctl(v->fd, KVM_SET_REGS, &k) < 0 ? -errno : 0;
}

/* Field by field over zeroes: a struct literal leaves the padding byte
 * undefined, and this state is written to snapshot files as is. */
static void seg_from_kvm(struct x86_segment *s, const struct kvm_segment *k)
{
	memset(s, 0, sizeof(*s));
	s->base = k->base;
	s->limit = k->limit;
	s->selector = k->selector;
	s->type = k->type;
	s->present = k->present;
	s->dpl = k->dpl;
	s->db = k->db;
	s->s = k->s;
	s->l = k->l;
	s->g = k->g;
	s->avl = k->avl;
	s->unusable = k->unusable;
}

static void dtable_from_kvm(struct x86_dtable *d, const struct kvm_dtable *k)
{
	memset(d, 0, sizeof(*d));
	d->base = k->base;
	d->limit = k->limit;
}

static void seg_to_kvm(struct kvm_segment *k, const struct x86_segment *s)
{
	*k = (struct kvm_segment){ .base = s->base, .limit = s->limit, .selector = s->selector,
				   .type = s->type, .present = s->present, .dpl = s->dpl,
				   .db = s->db, .s = s->s, .l = s->l, .g = s->g, .avl = s->avl,
				   .unusable = s->unusable };
}

int kvm_get_sregs(struct backend_vcpu *v, struct x86_sregs *s)
{
	struct kvm_sregs k;
	if (ioctl(v->fd, KVM_GET_SREGS, &k) < 0)
		return -errno;
	seg_from_kvm(&s->cs, &k.cs);
	seg_from_kvm(&s->ds, &k.ds);
	seg_from_kvm(&s->es, &k.es);
	seg_from_kvm(&s->fs, &k.fs);
	seg_from_kvm(&s->gs, &k.gs);
	seg_from_kvm(&s->ss, &k.ss);
	seg_from_kvm(&s->tr, &k.tr);
	seg_from_kvm(&s->ldt, &k.ldt);
	dtable_from_kvm(&s->gdt, &k.gdt);
	dtable_from_kvm(&s->idt, &k.idt);
	s->cr0 = k.cr0;
	s->cr2 = k.cr2;
	s->cr3 = k.cr3;
	s->cr4 = k.cr4;
	s->cr8 = k.cr8;
	s->efer = k.efer;
	s->apic_base = k.apic_base;
	return 0;
}

int kvm_set_sregs(struct backend_vcpu *v, const struct x86_sregs *s)
{
	/* Start from the current state so the interrupt bitmap and APIC base
	 * the kernel set up survive. */
	struct kvm_sregs k;
	if (ioctl(v->fd, KVM_GET_SREGS, &k) < 0)
		return -errno;
	seg_to_kvm(&k.cs, &s->cs);
	seg_to_kvm(&k.ds, &s->ds);
	seg_to_kvm(&k.es, &s->es);
	seg_to_kvm(&k.fs, &s->fs);
	seg_to_kvm(&k.gs, &s->gs);
	seg_to_kvm(&k.ss, &s->ss);
	seg_to_kvm(&k.tr, &s->tr);
	seg_to_kvm(&k.ldt, &s->ldt);
	k.gdt.base = s->gdt.base;
	k.gdt.limit = s->gdt.limit;
	k.idt.base = s->idt.base;
	k.idt.limit = s->idt.limit;
	k.cr0 = s->cr0;
	k.cr2 = s->cr2;
	k.cr3 = s->cr3;
	k.cr4 = s->cr4;
	k.cr8 = s->cr8;
	k.efer = s->efer;
	if (s->apic_base)
		k.apic_base = s->apic_base;
	return ioctl(v->fd, KVM_SET_SREGS, &k) < 0 ? -errno : 0;
}

int kvm_translate(struct backend_vcpu *v, uint64_t gva, uint64_t *gpa)
{
	struct kvm_translation t = { .linear_address = gva };
	if (ioctl(v->fd, KVM_TRANSLATE, &t) < 0)
		return -errno;
	if (!t.valid)
		return -EFAULT;
	*gpa = t.physical_address;
	return 0;
}
