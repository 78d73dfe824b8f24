/* The ACPI PM1 registers through the port bus, as the guest's ACPICA
 * touches them, and their snapshot state. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "runtime/base/bus.h"
#include "runtime/devices/acpi_pm.h"

#define EVT 0x600
#define CNT 0x604

static struct bus pio;
static struct acpi_pm *pm;

static void setup(void)
{
	bus_init(&pio, "pio");
	cr_assert_eq(acpi_pm_create(&pm), 0);
	cr_assert_eq(acpi_pm_register(pm, &pio, EVT, CNT), 0);
}

static void teardown(void)
{
	acpi_pm_destroy(pm);
	bus_destroy(&pio);
}

TestSuite(acpi_pm, .init = setup, .fini = teardown);

static uint32_t rd(uint16_t port, uint32_t len)
{
	uint32_t v = 0xdeadbeef;
	cr_assert_eq(bus_read(&pio, port, &v, len), 0);
	return len == 4 ? v : v & ((1u << (8 * len)) - 1);
}

static void wr(uint16_t port, uint32_t v, uint32_t len)
{
	cr_assert_eq(bus_write(&pio, port, &v, len), 0);
}

Test(acpi_pm, sci_en_set_status_clear_enable_kept)
{
	cr_assert_eq(rd(CNT, 2), ACPI_PM1_SCI_EN, "in ACPI mode from the start");
	cr_assert_eq(rd(EVT, 2), 0, "no event ever pending");
	cr_assert_eq(rd(EVT + 2, 2), 0);
	wr(EVT + 2, 0x0120, 2); /* PWRBTN_EN | RTC_EN */
	cr_assert_eq(rd(EVT + 2, 2), 0x0120);
	cr_assert_eq(rd(EVT + 3, 1), 0x01);
	wr(EVT, 0xffff, 2); /* write-1-to-clear status: nothing to clear */
	cr_assert_eq(rd(EVT, 2), 0);
	cr_assert_eq(rd(EVT, 4), 0x01200000u, "a dword read covers both");
	wr(EVT, 0x00550000u, 4);
	cr_assert_eq(rd(EVT + 2, 2), 0x0055);
	wr(CNT, 0x3c00 | 0x2000, 2); /* SLP_TYP | SLP_EN: no sleep state offered */
	cr_assert_eq(rd(CNT, 2), ACPI_PM1_SCI_EN);
}

Test(acpi_pm, state_round_trip_and_hostile_state)
{
	wr(EVT + 2, 0x0100, 2);
	uint8_t buf[64];
	int n = acpi_pm_device_ops.save(pm, buf, sizeof(buf));
	cr_assert_eq(n, (int)sizeof(struct acpi_pm_state));
	cr_assert_eq(acpi_pm_device_ops.save(pm, buf, 2), -ENOSPC);
	wr(EVT + 2, 0, 2);
	cr_assert_eq(acpi_pm_device_ops.restore(pm, buf, (size_t)n), 0);
	cr_assert_eq(rd(EVT + 2, 2), 0x0100);
	cr_assert_eq(acpi_pm_device_ops.restore(pm, buf, (size_t)n - 1), -EINVAL);
	struct acpi_pm_state st;
	memcpy(&st, buf, sizeof(st));
	st.version = 2;
	cr_assert_eq(acpi_pm_device_ops.restore(pm, &st, sizeof(st)), -EINVAL);
	memcpy(&st, buf, sizeof(st));
	st.pad = 1;
	cr_assert_eq(acpi_pm_device_ops.restore(pm, &st, sizeof(st)), -EINVAL);
	cr_assert_eq(rd(EVT + 2, 2), 0x0100, "a refused state changes nothing");
}
