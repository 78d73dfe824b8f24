/* ACPI fixed hardware for a platform without APICs (the software CPU):
 * the PM1a event block (PM1_STS, PM1_EN: 2 bytes each) and the PM1a
 * control block (PM1_CNT), ACPI 6.3 section 4.8.3. A hardware-reduced
 * FADT would make Linux drop the 8259 that such a platform depends on, so
 * its FADT points here instead (runtime/boot/acpi/acpi.h).
 *
 * Nothing raises an event: PM1_STS reads 0, PM1_EN keeps what the guest
 * writes, PM1_CNT reads SCI_EN (the platform is always in ACPI mode, as
 * the FADT has no SMI command port); sleep requests are ignored, since the
 * DSDT offers no sleep state.
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
#define ACPI_PM1_SCI_EN 0x0001

#define ACPI_PM_STATE_VERSION 1
struct acpi_pm_state {
	uint32_t version;
	uint16_t pm1_en;
	uint16_t pad;
};

struct acpi_pm;

int acpi_pm_create(struct acpi_pm **out);
/* Claims [evt, evt + 4) and [cnt, cnt + 2) on the port bus. */
int acpi_pm_register(struct acpi_pm *pm, struct bus *pio, uint16_t evt, uint16_t cnt);
void acpi_pm_destroy(struct acpi_pm *pm);

extern const struct bus_ops acpi_pm_evt_ops, acpi_pm_cnt_ops;
extern const struct device_ops acpi_pm_device_ops;

#endif
