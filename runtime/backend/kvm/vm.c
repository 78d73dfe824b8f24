/* KVM backend: the VM-wide half (VM fd, memory slots and their dirty log,
 * irqchip, eventfds).
 * See Documentation/virt/kvm/api.rst. */
#include "runtime/backend/kvm/kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "runtime/base/log.h"

/* Three pages just below the BIOS area that VMX needs for real-mode
 * emulation (KVM_SET_TSS_ADDR) and its identity map; kept out of e820 RAM
 * because they sit in the MMIO hole. */
#define KVM_TSS_ADDR 0xfffbd000ULL
#define KVM_IDENTITY_MAP_ADDR 0xfffbc000ULL

int kvm_open_dev(int *kvm_fd)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int version = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION) {
		close(fd);
		return -ENOTSUP;
	}
	*kvm_fd = fd;
	return 0;
}

static int kvm_probe(char *why, size_t why_len)
{
	int fd;
	int r = kvm_open_dev(&fd);
	if (r < 0) {
		snprintf(why, why_len, "/dev/kvm: %s", strerror(-r));
		return r;
	}
	static const int required[] = { KVM_CAP_IRQCHIP, KVM_CAP_PIT2, KVM_CAP_IOEVENTFD,
					KVM_CAP_IRQFD, KVM_CAP_USER_MEMORY,
					KVM_CAP_IMMEDIATE_EXIT, KVM_CAP_EXT_CPUID };
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		if (ioctl(fd, KVM_CHECK_EXTENSION, required[i]) <= 0) {
			snprintf(why, why_len, "KVM lacks capability %d", required[i]);
			close(fd);
			return -ENOTSUP;
		}
	}
	r = kvm_selftest(fd, why, why_len);
	close(fd);
	return r;
}

static int kvm_get_supported_cpuid(struct backend_vm *vm)
{
	for (unsigned n = 128; n <= 4096; n *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
		if (!c)
			return -ENOMEM;
		c->nent = n;
		if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			vm->supported_cpuid = c;
			return 0;
		}
		int e = errno;
		free(c);
		if (e != E2BIG)
			return -e;
	}
	return -E2BIG;
}

static void kvm_vm_destroy(struct backend_vm *vm)
{
	if (!vm)
		return;
	for (unsigned i = 0; i < KVM_MAX_SLOTS; i++)
		free(vm->slots[i].dirty_scratch);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	free(vm->supported_cpuid);
	cpu_template_free(vm->owned);
	free(vm);
}

static int kvm_vm_create(const struct backend_vm_opts *opts, struct backend_vm **out,
			 struct errbuf *err)
{
	struct backend_vm *vm = calloc(1, sizeof(*vm));
	if (!vm)
		return err_set(err, -ENOMEM, "kvm: out of memory");
	vm->vm_fd = -1;
	vm->nr_vcpus = opts->nr_vcpus;
	vm->track_dirty = opts->track_dirty;
	vm->clock_realtime = opts->clock_realtime;
	int r = kvm_open_dev(&vm->kvm_fd);
	if (r < 0) {
		vm->kvm_fd = -1;
		err_set(err, r, "kvm: cannot open /dev/kvm: %s", strerror(-r));
		goto fail;
	}
	int max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (max <= 0)
		max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	if (opts->nr_vcpus == 0 || (max > 0 && opts->nr_vcpus > (unsigned)max)) {
		r = err_set(err, -EINVAL, "vcpu_count %u: this host's KVM allows at most %d",
			    opts->nr_vcpus, max);
		goto fail;
	}
	vm->run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vm->run_size <= 0) {
		r = -errno;
		err_set(err, r, "kvm: KVM_GET_VCPU_MMAP_SIZE: %s", strerror(-r));
		goto fail;
	}
	/* The template's checks need only /dev/kvm: refuse before building. */
	r = kvm_get_supported_cpuid(vm);
	if (r < 0) {
		err_set(err, r, "kvm: KVM_GET_SUPPORTED_CPUID: %s", strerror(-r));
		goto fail;
	}
	r = kvm_template_setup(vm, opts, err);
	if (r < 0) {
		err_wrap(err, r, "kvm");
		goto fail;
	}
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		r = -errno;
		err_set(err, r, "kvm: KVM_CREATE_VM: %s", strerror(-r));
		goto fail;
	}
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_ADDR) < 0 ||
	    ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &(uint64_t){ KVM_IDENTITY_MAP_ADDR }) < 0) {
		r = -errno;
		err_set(err, r, "kvm: TSS/identity map set-up: %s", strerror(-r));
		goto fail;
	}
	/* In-kernel PIC + IOAPIC + LAPICs and PIT: the guest's interrupt and
	 * timer path never leaves the kernel. The speaker port (0x61) is
	 * emulated as a dummy so PIT calibration works. */
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		r = -errno;
		err_set(err, r, "kvm: KVM_CREATE_IRQCHIP: %s", strerror(-r));
		goto fail;
	}
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		r = -errno;
		err_set(err, r, "kvm: KVM_CREATE_PIT2: %s", strerror(-r));
		goto fail;
	}
	kvm_kick_signal_install();
	*out = vm;
	return 0;
fail:
	kvm_vm_destroy(vm);
	return r;
}

#define PAGE_SIZE 4096ULL

/* One bit per page, in 64-bit words, as KVM_GET_DIRTY_LOG writes it. */
static size_t dirty_words(uint64_t size)
{
	return (size_t)((size / PAGE_SIZE + 63) / 64);
}

static int kvm_map_memory(struct backend_vm *vm, unsigned slot, uint64_t gpa, uint64_t size,
			  void *host)
{
	if (slot >= KVM_MAX_SLOTS || size % PAGE_SIZE)
		return -EINVAL;
	struct kvm_slot *s = &vm->slots[slot];
	uint64_t *scratch = NULL;
	if (vm->track_dirty && size) {
		scratch = calloc(dirty_words(size), sizeof(*scratch));
		if (!scratch)
			return -ENOMEM;
	}
	struct kvm_userspace_memory_region region = {
		.slot = slot,
		.flags = vm->track_dirty ? KVM_MEM_LOG_DIRTY_PAGES : 0,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)host,
	};
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
		int r = -errno;
		free(scratch);
		return r;
	}
	free(s->dirty_scratch);
	s->dirty_scratch = scratch;
	s->size = size;
	return 0;
}

static int kvm_dirty_log(struct backend_vm *vm, unsigned slot, uint64_t *bitmap)
{
	if (!vm->track_dirty || slot >= KVM_MAX_SLOTS || !vm->slots[slot].size || !bitmap)
		return -EINVAL;
	struct kvm_slot *s = &vm->slots[slot];
	struct kvm_dirty_log log = { .slot = slot, .dirty_bitmap = s->dirty_scratch };
	if (ioctl(vm->vm_fd, KVM_GET_DIRTY_LOG, &log) < 0) {
		int r = -errno;
		log_err("kvm: KVM_GET_DIRTY_LOG slot %u: %s", slot, strerror(-r));
		return r;
	}
	size_t n = dirty_words(s->size);
	for (size_t i = 0; i < n; i++)
		bitmap[i] |= s->dirty_scratch[i];
	return 0;
}

static int kvm_set_irq_line(struct backend_vm *vm, unsigned gsi, bool level)
{
	struct kvm_irq_level irq = { .irq = gsi, .level = level ? 1 : 0 };
	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		return -errno;
	return 0;
}

static int kvm_add_ioeventfd(struct backend_vm *vm, uint64_t addr, uint32_t len,
			     uint64_t datamatch, int fd)
{
	struct kvm_ioeventfd io = {
		.datamatch = datamatch,
		.addr = addr,
		.len = len,
		.fd = fd,
		.flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
	};
	if (ioctl(vm->vm_fd, KVM_IOEVENTFD, &io) < 0)
		return -errno;
	return 0;
}

static int kvm_add_irqfd(struct backend_vm *vm, unsigned gsi, int fd)
{
	struct kvm_irqfd irqfd = { .fd = (uint32_t)fd, .gsi = gsi };
	if (ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0)
		return -errno;
	return 0;
}

const struct backend_ops backend_kvm = {
	.name = "kvm",
	.vcpu_thread = THREAD_VCPU_KVM,
	.has_apic = true,
	.probe = kvm_probe,
	.vm_create = kvm_vm_create,
	.vm_destroy = kvm_vm_destroy,
	.map_memory = kvm_map_memory,
	.vcpu_create = kvm_vcpu_create,
	.vcpu_destroy = kvm_vcpu_destroy,
	.vcpu_run = kvm_vcpu_run,
	.vcpu_kick = kvm_vcpu_kick,
	.get_regs = kvm_get_regs,
	.set_regs = kvm_set_regs,
	.get_sregs = kvm_get_sregs,
	.set_sregs = kvm_set_sregs,
	.translate = kvm_translate,
	.set_irq_line = kvm_set_irq_line,
	.add_ioeventfd = kvm_add_ioeventfd,
	.add_irqfd = kvm_add_irqfd,
	.vcpu_save = kvm_vcpu_save,
	.vcpu_restore = kvm_vcpu_restore,
	.platform_save = kvm_platform_save,
	.vcpu_get_cpuid = kvm_vcpu_get_cpuid,
	.vcpu_set_cpuid = kvm_vcpu_set_cpuid,
	.vcpu_import = kvm_vcpu_import,
	.platform_get = kvm_platform_get,
	.platform_set = kvm_platform_set,
	.platform_restore = kvm_platform_restore,
	.dirty_log = kvm_dirty_log,
};
