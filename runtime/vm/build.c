/* Building a VM from a config: the machine, its devices and vCPUs (steps a
 * snapshot restore shares, runtime/vm/build.h), then the kernel and the
 * boot vCPU's registers. */
#include "runtime/vm/build.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "config/config.h"
#include "runtime/base/log.h"
#include "runtime/boot/cmdline.h"
#include "runtime/boot/cpu.h"
#include "runtime/boot/layout.h"
#include "runtime/boot/loader.h"
#include "runtime/boot/mptable.h"
#include "runtime/vm/virtio.h"

/* Used when boot-source has no boot_args: Firecracker's defaults, with the
 * serial console on (Firecracker turns it off by default). */
#define VM_DEFAULT_CMDLINE \
	"console=ttyS0 reboot=k panic=1 pci=off nomodule i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd"

static void vm_end(void *opaque, int code)
{
	vm_request_exit(opaque, code);
}

static int vm_build_memory(struct vm *vm, const struct vm_machine_spec *spec, struct errbuf *err)
{
	if (spec->mem) {
		vm->mem = *spec->mem;
		memset(spec->mem, 0, sizeof(*spec->mem));
		vm->uffd = spec->uffd;
		vm->uffd_conn = spec->uffd_conn;
	} else {
		int r = gm_alloc(&vm->mem, spec->mem_bytes);
		if (r < 0)
			return err_set(err, r, "guest memory (%" PRIu64 " MiB): %s",
				       spec->mem_bytes >> 20, strerror(-r));
	}
	if (spec->track_dirty) {
		int r = vm_dirty_init(&vm->dirty, &vm->mem, !spec->mem);
		if (r < 0)
			return err_set(err, r, "dirty page tracking: %s", strerror(-r));
	}
	return 0;
}

int vm_build_machine(struct vm *vm, const struct backend_ops *be, const struct vm_opts *opts,
		     const struct vm_machine_spec *spec, struct errbuf *err)
{
	memset(vm, 0, sizeof(*vm));
	vm->be = be;
	vm->opts = *opts;
	vm->loop = opts->loop;
	vm->nr_vcpus = spec->nr_vcpus;
	vm->exit_efd = -1;
	vm->uffd = -1;
	vm->uffd_conn = -1;
	vm->console.retry_fd = -1;
	atomic_init(&vm->exit_code, -1);
	run_gate_init(&vm->gate);
	bus_init(&vm->mmio, "mmio");
	bus_init(&vm->pio, "pio");
	vm->vcpu_host = (struct vcpu_host){
		.be = be, .mmio = &vm->mmio, .pio = &vm->pio, .mem = &vm->mem,
		.gate = &vm->gate, .end = vm_end, .ctx = vm,
	};

	int r = vm_build_memory(vm, spec, err);
	if (r < 0)
		return r;
	vm->exit_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->exit_efd < 0)
		return err_set(err, -errno, "exit eventfd: %s", strerror(errno));
	struct backend_vm_opts bopts = {
		.nr_vcpus = spec->nr_vcpus,
		.cpu_template = spec->cpu_template,
		.cpu_config = spec->cpu_config,
		.mem = &vm->mem,
		.mmio_bus = &vm->mmio,
		.pio_bus = &vm->pio,
		.track_dirty = spec->track_dirty,
		.clock_realtime = spec->clock_realtime,
	};
	r = be->vm_create(&bopts, &vm->bvm, err);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < vm->mem.nr_regions; i++) {
		const struct gm_region *g = &vm->mem.regions[i];
		r = be->map_memory(vm->bvm, i, g->gpa, g->size, g->host);
		if (r < 0)
			return err_set(err, r, "%s: mapping guest memory: %s", be->name,
				       strerror(-r));
	}
	return 0;
}

int vm_build_vcpus(struct vm *vm, struct errbuf *err)
{
	vm->vcpus = calloc(vm->nr_vcpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return err_set(err, -ENOMEM, "vCPUs: out of memory");
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		v->host = &vm->vcpu_host;
		v->index = i;
		vm->vcpu_host.vcpus = vm->vcpus;
		vm->vcpu_host.nr_vcpus = i + 1;
		int r = vm->be->vcpu_create(vm->bvm, i, &v->bv, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Sections whose devices are not built yet are refused, never ignored. */
static int vm_check_supported(const struct vm_config *cfg, struct errbuf *err)
{
	if (cfg->machine.huge_pages != CONFIG_HUGE_PAGES_NONE)
		return err_set(err, -ENOTSUP, "machine-config: huge_pages: not supported yet");
	if (cfg->machine.smt)
		return err_set(err, -ENOTSUP, "machine-config: smt: not supported yet");
	return 0;
}

/* What the backend's CPU needs on the command line (TCG: the TSC rate). */
static int vm_backend_cmdline(struct vm *vm, struct cmdline *cl, struct errbuf *err)
{
	if (!vm->be->kernel_cmdline)
		return 0;
	char extra[256];
	int r = vm->be->kernel_cmdline(vm->bvm, extra, sizeof(extra));
	if (r < 0)
		return err_set(err, r, "%s: kernel parameters: %s", vm->be->name, strerror(-r));
	/* The user's own value of a parameter wins (Linux takes the last one). */
	return cmdline_append_missing(cl, err, extra);
}

static int vm_load(struct vm *vm, const struct vm_config *cfg, const struct cmdline *cl,
		   struct errbuf *err)
{
	/* What the backend's platform really has (runtime/boot/acpi/acpi.h). */
	struct acpi_platform acpi = {
		.nr_cpus = vm->nr_vcpus,
		.apic = vm->be->has_apic,
		.lapic_addr = (uint32_t)LAYOUT_LAPIC,
		.ioapic_addr = (uint32_t)LAYOUT_IOAPIC,
		.ioapic_pins = MPTABLE_IRQS,
		.pm1_evt_port = LAYOUT_ACPI_PM1_EVT,
		.pm1_cnt_port = LAYOUT_ACPI_PM1_CNT,
		.sci_irq = LAYOUT_ACPI_SCI_IRQ,
		.sleep_port = LAYOUT_ACPI_SLEEP,
		.reset_port = LAYOUT_I8042_PORT + 4, /* the i8042's pulse of the reset line */
		.reset_value = 0xfe,
		.devs = vm->acpi.devs,
		.nr_devs = vm->acpi.n,
	};
	struct boot_spec spec = {
		.kernel_path = cfg->boot.kernel_image_path,
		.initrd_path = cfg->boot.initrd_path,
		.cmdline = cl->buf,
		.nr_vcpus = vm->nr_vcpus,
		.no_mptable = !vm->be->has_apic,
		.acpi = vm->acpi.on ? &acpi : NULL,
	};
	struct boot_setup setup;
	struct x86_regs regs;
	struct x86_sregs sregs;
	int r = boot_load(&vm->mem, &spec, &setup, err);
	if (r < 0)
		return r;
	r = boot_cpu_state(&vm->mem, &setup, &regs, &sregs, err);
	if (r < 0)
		return r;
	log_info("kernel %s: entry 0x%" PRIx64 " (%s), cmdline \"%s\"", spec.kernel_path,
		 setup.entry, setup.mode == BOOT_ENTRY_PVH ? "PVH" : "64-bit boot protocol",
		 spec.cmdline);
	if (setup.rsdp_gpa)
		log_info("ACPI: RSDP at 0x%" PRIx64 ", %u devices in the DSDT, %s", setup.rsdp_gpa,
			 acpi.nr_devs, acpi.apic ? "MADT, hardware-reduced" : "no MADT (8259 PIC)");
	else
		log_info("ACPI: off (acpi=off), devices on the command line");
	/* Only the BSP gets a boot state; APs wait for INIT/SIPI from it. */
	struct backend_vcpu *bsp = vm->vcpus[0].bv;
	if ((r = vm->be->set_sregs(bsp, &sregs)) < 0 || (r = vm->be->set_regs(bsp, &regs)) < 0)
		return err_set(err, r, "boot vCPU state: %s", strerror(-r));
	return 0;
}

int vm_create(struct vm *vm, const struct vm_config *cfg, const struct backend_ops *be,
	      const struct vm_opts *opts, struct errbuf *err)
{
	int r = vm_check_supported(cfg, err);
	if (r < 0)
		return r;
	struct vm_machine_spec spec = {
		.nr_vcpus = cfg->machine.vcpu_count,
		.mem_bytes = cfg->machine.mem_size_mib << 20,
		.cpu_template = cfg->machine.cpu_template,
		.cpu_config = cfg->cpu_config,
		.track_dirty = cfg->machine.track_dirty_pages,
		.uffd = -1,
		.uffd_conn = -1,
	};
	r = vm_build_machine(vm, be, opts, &spec, err);
	/* The command line outlives vm_create only inside guest memory. */
	struct cmdline *cl = r == 0 ? malloc(sizeof(*cl)) : NULL;
	if (r == 0 && !cl)
		r = err_set(err, -ENOMEM, "command line: out of memory");
	if (r == 0)
		r = cmdline_init(cl, cfg->boot.boot_args ? cfg->boot.boot_args : VM_DEFAULT_CMDLINE,
				 err);
	if (r == 0)
		vm->acpi.on = !cmdline_acpi_off(cl);
	if (r == 0)
		r = vm_build_legacy(vm, err);
	if (r == 0)
		r = vm_virtio_create(vm, cfg, cl, err);
	if (r == 0)
		r = vm_backend_cmdline(vm, cl, err);
	if (r == 0)
		r = vm_build_vcpus(vm, err);
	if (r == 0)
		r = vm_load(vm, cfg, cl, err);
	free(cl);
	if (r < 0)
		vm_destroy(vm);
	return r;
}
