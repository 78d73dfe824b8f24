/* Can this KVM run a Linux guest? Nested or emulating KVMs exist that open
 * fine and run simple code but fail on instructions every kernel uses
 * (int3 through the IDT, xsave). A 32-bit guest of a few dozen bytes tries
 * exactly those, so `--accel auto` can fall back to TCG with a reason. */
#include "runtime/backend/kvm/kvm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define ST_MEM_SIZE 0x10000
#define ST_GDT 0x1000
#define ST_IDT 0x2000
#define ST_CODE 0x3000
#define ST_HANDLER_OFF 0x4b
#define ST_FLAG 0x5000
#define ST_PORT 0xe0

/* Assembled from (32-bit, at ST_CODE):
 *   mov $0x8000,%esp; int3; cmpl $1,0x5000; jne fail
 *   mov $1,%eax; cpuid; bt $26,%ecx; jnc done        # XSAVE in CPUID?
 *   mov %cr4,%eax; or $0x40000,%eax; mov %eax,%cr4   # CR4.OSXSAVE
 *   xor %ecx,%ecx; xor %edx,%edx; mov $3,%eax; xsetbv
 *   mov $3,%eax; xor %edx,%edx; xsave 0x4000
 * done: mov $'O',%al; out %al,$0xe0; hlt
 * fail: mov $'F',%al; out %al,$0xe0; hlt
 * handler (vector 3): movl $1,0x5000; iret */
static const uint8_t st_code[] = {
	0xbc, 0x00, 0x80, 0x00, 0x00, 0xcc, 0x83, 0x3d, 0x00, 0x50, 0x00, 0x00, 0x01, 0x75, 0x37,
	0xb8, 0x01, 0x00, 0x00, 0x00, 0x0f, 0xa2, 0x0f, 0xba, 0xe1, 0x1a, 0x73, 0x25, 0x0f, 0x20,
	0xe0, 0x0d, 0x00, 0x00, 0x04, 0x00, 0x0f, 0x22, 0xe0, 0x31, 0xc9, 0x31, 0xd2, 0xb8, 0x03,
	0x00, 0x00, 0x00, 0x0f, 0x01, 0xd1, 0xb8, 0x03, 0x00, 0x00, 0x00, 0x31, 0xd2, 0x0f, 0xae,
	0x25, 0x00, 0x40, 0x00, 0x00, 0xb0, 0x4f, 0xe6, 0xe0, 0xf4, 0xb0, 0x46, 0xe6, 0xe0, 0xf4,
	0xc7, 0x05, 0x00, 0x50, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0xcf,
};

static void st_layout(uint8_t *mem)
{
	/* GDT: null, flat 32-bit code (0x08), flat data (0x10). */
	static const uint64_t gdt[] = { 0, 0x00cf9b000000ffffULL, 0x00cf93000000ffffULL };
	memcpy(mem + ST_GDT, gdt, sizeof(gdt));
	/* IDT entry 3: 32-bit interrupt gate to the handler, selector 0x08. */
	uint32_t h = ST_CODE + ST_HANDLER_OFF;
	uint64_t gate = (h & 0xffffULL) | (0x08ULL << 16) | (0x8eULL << 40) |
			((uint64_t)(h >> 16) << 48);
	memcpy(mem + ST_IDT + 3 * 8, &gate, sizeof(gate));
	memcpy(mem + ST_CODE, st_code, sizeof(st_code));
}

static int st_vcpu_state(int vcpu_fd, int kvm_fd)
{
	struct kvm_sregs s;
	if (ioctl(vcpu_fd, KVM_GET_SREGS, &s) < 0)
		return -errno;
	struct kvm_segment code = { .base = 0, .limit = 0xffffffff, .selector = 0x08, .type = 0xb,
				    .present = 1, .db = 1, .s = 1, .g = 1 };
	struct kvm_segment data = code;
	data.selector = 0x10;
	data.type = 0x3;
	s.cs = code;
	s.ds = s.es = s.fs = s.gs = s.ss = data;
	s.gdt.base = ST_GDT;
	s.gdt.limit = 3 * 8 - 1;
	s.idt.base = ST_IDT;
	s.idt.limit = 4 * 8 - 1;
	s.cr0 = 0x11; /* PE | ET */
	s.cr4 = 0;
	s.efer = 0;
	if (ioctl(vcpu_fd, KVM_SET_SREGS, &s) < 0)
		return -errno;
	struct kvm_regs r = { .rip = ST_CODE, .rflags = 2 };
	if (ioctl(vcpu_fd, KVM_SET_REGS, &r) < 0)
		return -errno;

	/* The host's supported CPUID, so the guest sees XSAVE where KVM has it. */
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + 256 * sizeof(c->entries[0]));
	if (!c)
		return -ENOMEM;
	c->nent = 256;
	int r2 = 0;
	if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) < 0 || ioctl(vcpu_fd, KVM_SET_CPUID2, c) < 0)
		r2 = -errno;
	free(c);
	return r2;
}

static int st_run(int vm_fd, int vcpu_fd, struct kvm_run *run, char *why, size_t why_len)
{
	for (int exits = 0; exits < 16; exits++) {
		if (ioctl(vcpu_fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR)
				continue;
			snprintf(why, why_len, "KVM_RUN: %s", strerror(errno));
			return -errno;
		}
		struct kvm_regs r;
		ioctl(vcpu_fd, KVM_GET_REGS, &r);
		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			if (run->io.port != ST_PORT || run->io.direction != KVM_EXIT_IO_OUT)
				break;
			if (*((uint8_t *)run + run->io.data_offset) == 'O')
				return 0;
			snprintf(why, why_len, "self-test guest's int3 handler did not run");
			return -ENOTSUP;
		case KVM_EXIT_INTERNAL_ERROR:
			snprintf(why, why_len,
				 "self-test guest failed at %s (offset 0x%llx): KVM internal error %u; "
				 "this KVM cannot run a Linux guest (nested emulation?)",
				 r.rip == ST_CODE + 5 ? "int3" : "xsave",
				 (unsigned long long)(r.rip - ST_CODE), run->internal.suberror);
			return -ENOTSUP;
		default:
			snprintf(why, why_len, "self-test guest ended with KVM exit %u at offset 0x%llx",
				 run->exit_reason, (unsigned long long)(r.rip - ST_CODE));
			return -ENOTSUP;
		}
	}
	(void)vm_fd;
	snprintf(why, why_len, "self-test guest did not finish");
	return -ENOTSUP;
}

int kvm_selftest(int kvm_fd, char *why, size_t why_len)
{
	int r, vm_fd = -1, vcpu_fd = -1;
	struct kvm_run *run = MAP_FAILED;
	long run_size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	uint8_t *mem = mmap(NULL, ST_MEM_SIZE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED || run_size <= 0) {
		r = -errno;
		snprintf(why, why_len, "self-test set-up: %s", strerror(errno));
		goto out;
	}
	st_layout(mem);
	vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	struct kvm_userspace_memory_region region = {
		.slot = 0, .guest_phys_addr = 0, .memory_size = ST_MEM_SIZE,
		.userspace_addr = (uint64_t)(uintptr_t)mem,
	};
	if (vm_fd < 0 || ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0 ||
	    ioctl(vm_fd, KVM_SET_TSS_ADDR, 0xfffbd000UL) < 0 ||
	    (vcpu_fd = ioctl(vm_fd, KVM_CREATE_VCPU, 0)) < 0) {
		r = -errno;
		snprintf(why, why_len, "self-test VM set-up: %s", strerror(errno));
		goto out;
	}
	run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_fd, 0);
	if (run == MAP_FAILED || (r = st_vcpu_state(vcpu_fd, kvm_fd)) < 0) {
		r = -errno;
		snprintf(why, why_len, "self-test vCPU set-up: %s", strerror(errno));
		goto out;
	}
	r = st_run(vm_fd, vcpu_fd, run, why, why_len);
out:
	if (run != MAP_FAILED)
		munmap(run, (size_t)run_size);
	if (vcpu_fd >= 0)
		close(vcpu_fd);
	if (vm_fd >= 0)
		close(vm_fd);
	if (mem != MAP_FAILED)
		munmap(mem, ST_MEM_SIZE);
	return r;
}
