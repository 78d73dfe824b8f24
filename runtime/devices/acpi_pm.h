/* ACPI fixed hardware: the guest's way to power off (S5), on both
 * platforms.
 *
 * Without APICs (the software CPU) the FADT describes fixed hardware, as a
 * hardware-reduced FADT would make Linux drop the 8259 that platform
 * depends on: the PM1a event block (PM1_STS, PM1_EN: 2 bytes each) and the
 * PM1a control block (PM1_CNT), ACPI 6.3 section 4.8.3. With APICs (KVM)
 * the FADT is hardware-reduced and points at the sleep control and status
 * registers instead (section 4.8.3.7), one byte each.
 *
 * Nothing raises an event: PM1_STS and the sleep status read 0, PM1_EN
 * keeps what the guest writes, PM1_CNT reads SCI_EN (the platform is
 * always in ACPI mode, as the FADT has no SMI command port). A sleep
 * request for ACPI_PM_S5_TYP (the DSDT's \_S5) with its enable bit set
 * powers off: the callback given at creation runs, on the vCPU thread;
 * other sleep types are ignored, since the DSDT offers no other state.
 *
 * Threading: accesses come from the vCPU thread; save/restore from the
 * VMM thread while the vCPUs are paused. */
#ifndef EMBER_DEVICES_ACPI_PM_H
#define EMBER_DEVICES_ACPI_PM_H

#include <stdint.h>

#include "runtime/base/bus.h"
#include "runtime/base/device.h"

#define ACPI_PM_EVT_LEN 4
#define ACPI_PM_CNT_LEN 2
#define ACPI_PM_SLEEP_LEN 2 /* control, then status */
#define ACPI_PM1_SCI_EN 0x0001
/* PM1_CNT: SLP_TYP in bits 10-12, SLP_EN bit 13. */
#define ACPI_PM1_SLP_TYP_SHIFT 10
#define ACPI_PM1_SLP_EN 0x2000
/* Sleep control register: SLP_TYPx in bits 2-4, SLP_EN bit 5. */
#define ACPI_SLEEP_TYP_SHIFT 2
#define ACPI_SLEEP_EN 0x20
/* The SLP_TYP value of the DSDT's \_S5 (runtime/boot/acpi/dsdt.c). */
#define ACPI_PM_S5_TYP 5

#define ACPI_PM_STATE_VERSION 1
struct acpi_pm_state {
	uint32_t version;
	uint16_t pm1_en;
	uint16_t pad;
};

struct acpi_pm;

/* poweroff(ctx) runs when the guest enters S5; NULL: nothing happens. */
int acpi_pm_create(struct acpi_pm **out, void (*poweroff)(void *ctx), void *ctx);
/* Fixed hardware: claims [evt, evt + 4) and [cnt, cnt + 2) on the port bus. */
int acpi_pm_register(struct acpi_pm *pm, struct bus *pio, uint16_t evt, uint16_t cnt);
/* Hardware-reduced: claims [port, port + 2), sleep control then status. */
int acpi_pm_register_sleep(struct acpi_pm *pm, struct bus *pio, uint16_t port);
void acpi_pm_destroy(struct acpi_pm *pm);

extern const struct bus_ops acpi_pm_evt_ops, acpi_pm_cnt_ops, acpi_pm_sleep_ops;
extern const struct device_ops acpi_pm_device_ops;

#endif
