/* The legacy devices of a VM, from one table: the UART on COM1, the
 * i8042, the CMOS RTC, pvpanic and the ACPI power-management registers
 * every VM has, and the boot timer when asked for. A device with an ACPI
 * description gets its DSDT entry when the VM has ACPI tables. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "runtime/boot/layout.h"
#include "runtime/base/log.h"
#include "runtime/devices/acpi_pm.h"
#include "runtime/devices/boot_timer.h"
#include "runtime/devices/i8042.h"
#include "runtime/devices/pvpanic.h"
#include "runtime/devices/rtc.h"
#include "runtime/devices/serial.h"
#include "runtime/vm/build.h"

/* Fixed-port devices claim their own ports; the layout lists them too. */
_Static_assert(LAYOUT_RTC_PORT == RTC_PORT, "the RTC's ports are the layout's");
_Static_assert(LAYOUT_PVPANIC_PORT == PVPANIC_PORT, "pvpanic's port is the layout's");
_Static_assert(ACPI_PM_S5_TYP == ACPI_S5_SLP_TYP, "the registers power off on the DSDT's \\_S5");

struct legacy_kind {
	const char *what;  /* for messages */
	const char *group; /* metrics group and snapshot name */
	const struct device_ops *ops;
	bool (*wanted)(const struct vm *vm); /* NULL: every VM has it */
	int (*create)(struct vm *vm, void **dev);
	int (*attach)(struct vm *vm, void *dev); /* claims its bus range */
	const struct acpi_dev_desc *acpi;        /* its DSDT entry; NULL: none */
};

static int create_serial(struct vm *vm, void **dev)
{
	struct irq_line com1 = { vm_irq_set, vm, LAYOUT_COM1_IRQ };
	int r = serial_create(&vm->serial, &com1, vm->opts.console_out);
	*dev = vm->serial;
	return r;
}

static int attach_serial(struct vm *vm, void *dev)
{
	return serial_register(dev, &vm->pio, LAYOUT_COM1_PORT);
}

static void on_reset(void *opaque)
{
	vm_request_exit(opaque, VM_EXIT_RESET);
}

static int create_i8042(struct vm *vm, void **dev)
{
	struct irq_line kbd = { vm_irq_set, vm, LAYOUT_I8042_IRQ };
	int r = i8042_create(&vm->i8042, &kbd, on_reset, vm);
	*dev = vm->i8042;
	return r;
}

static int attach_i8042(struct vm *vm, void *dev)
{
	return i8042_register(dev, &vm->pio);
}

static int create_rtc(struct vm *vm, void **dev)
{
	(void)vm;
	struct rtc *rtc;
	int r = rtc_create(&rtc, NULL, NULL);
	*dev = rtc;
	return r;
}

static int attach_rtc(struct vm *vm, void *dev)
{
	return rtc_register(dev, &vm->pio);
}

/* The panic wins over the reset a guest with panic=N does next: the
 * first exit code asked for is the VM's. */
static void on_panic(void *opaque)
{
	vm_request_exit(opaque, VM_EXIT_GUEST_PANIC);
}

static int create_pvpanic(struct vm *vm, void **dev)
{
	struct pvpanic *pv;
	int r = pvpanic_create(&pv, on_panic, vm);
	*dev = pv;
	return r;
}

static int attach_pvpanic(struct vm *vm, void *dev)
{
	return pvpanic_register(dev, &vm->pio);
}

static bool want_boot_timer(const struct vm *vm)
{
	return vm->opts.boot_timer;
}

static int create_boot_timer(struct vm *vm, void **dev)
{
	struct boot_timer *bt;
	int r = boot_timer_create(&bt, &vm->opts.start_wall, &vm->opts.start_cpu);
	*dev = bt;
	return r;
}

static int attach_boot_timer(struct vm *vm, void *dev)
{
	return boot_timer_register(dev, &vm->mmio, LAYOUT_BOOT_TIMER);
}

/* The guest powered off (ACPI S5): the VM ends as after a reset. */
static void on_poweroff(void *opaque)
{
	log_info("guest powered off (ACPI S5)");
	vm_request_exit(opaque, VM_EXIT_RESET);
}

/* The FADT points at these (acpi_pm.h); they exist whether or not the
 * guest uses ACPI, so that a snapshot's device list does not depend on
 * the boot arguments. */
static int create_acpi_pm(struct vm *vm, void **dev)
{
	struct acpi_pm *pm;
	int r = acpi_pm_create(&pm, on_poweroff, vm);
	*dev = pm;
	return r;
}

/* Fixed hardware without APICs, the sleep registers of a hardware-reduced
 * FADT with them (runtime/boot/acpi/acpi.h). */
static int attach_acpi_pm(struct vm *vm, void *dev)
{
	if (vm->be->has_apic)
		return acpi_pm_register_sleep(dev, &vm->pio, LAYOUT_ACPI_SLEEP);
	return acpi_pm_register(dev, &vm->pio, LAYOUT_ACPI_PM1_EVT, LAYOUT_ACPI_PM1_CNT);
}

int vm_acpi_add(struct vm *vm, const struct acpi_dev_desc *d, struct errbuf *err)
{
	if (!vm->acpi.on)
		return 0;
	if (vm->acpi.n == ACPI_MAX_DEVS)
		return err_set(err, -ENOSPC, "ACPI: more than %u devices", ACPI_MAX_DEVS);
	vm->acpi.devs[vm->acpi.n++] = *d;
	return 0;
}

/* Firecracker's metrics group names where it has one. */
static const struct legacy_kind kinds[] = {
	{ "serial console", "uart", &serial_device_ops, NULL, create_serial, attach_serial,
	  &acpi_dev_com1 },
	{ "i8042", "ember_i8042", &i8042_device_ops, NULL, create_i8042, attach_i8042,
	  &acpi_dev_i8042 },
	{ "CMOS RTC", "ember_rtc", &rtc_device_ops, NULL, create_rtc, attach_rtc, &acpi_dev_rtc },
	{ "pvpanic", "ember_pvpanic", &pvpanic_device_ops, NULL, create_pvpanic, attach_pvpanic,
	  &acpi_dev_pvpanic },
	{ "boot timer", "boot_timer", &boot_timer_device_ops, want_boot_timer,
	  create_boot_timer, attach_boot_timer, NULL },
	{ "ACPI PM registers", "acpi_pm", &acpi_pm_device_ops, NULL, create_acpi_pm,
	  attach_acpi_pm, NULL },
};

int vm_build_legacy(struct vm *vm, struct errbuf *err)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		const struct legacy_kind *k = &kinds[i];
		if (k->wanted && !k->wanted(vm))
			continue;
		void *dev = NULL;
		int r = k->create(vm, &dev);
		if (r == 0)
			r = vm_devices_add(&vm->devs, k->group, k->ops, dev);
		if (r == 0)
			r = k->attach(vm, dev);
		if (r < 0)
			return err_set(err, r, "%s: %s", k->what, strerror(-r));
		if (k->acpi && (r = vm_acpi_add(vm, k->acpi, err)) < 0)
			return r;
	}
	return 0;
}

void vm_legacy_zero_counters(vm_counter_fn fn, void *ctx)
{
	struct vm_devices none = { 0 };
	struct vm_device list[sizeof(kinds) / sizeof(kinds[0])];
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (kinds[i].wanted)
			continue;
		struct vm_device *d = &list[none.n++];
		snprintf(d->name, sizeof(d->name), "%s", kinds[i].group);
		d->ops = kinds[i].ops;
		d->dev = NULL;
	}
	none.list = list;
	vm_devices_counters(&none, fn, ctx);
}
