/* The ACPI PM1 registers and the sleep registers through the port bus,
 * as the guest's ACPICA touches them, and their snapshot state. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "runtime/base/bus.h"
#include "runtime/devices/acpi_pm.h"

#define EVT 0x600
#define CNT 0x604
#define SLEEP 0x606

static struct bus pio;
static struct acpi_pm *pm;
static int poweroffs;

static void on_poweroff(void *ctx)
{
	cr_assert_eq(ctx, &poweroffs);
	poweroffs++;
}

static void setup(void)
{
	bus_init(&pio, "pio");
	poweroffs = 0;
	cr_assert_eq(acpi_pm_create(&pm, on_poweroff, &poweroffs), 0);
	cr_assert_eq(acpi_pm_register(pm, &pio, EVT, CNT), 0);
	cr_assert_eq(acpi_pm_register_sleep(pm, &pio, SLEEP), 0);
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
	wr(CNT, 0x1c00 | 0x2000, 2); /* SLP_TYP 7 | SLP_EN: no such state offered */
	cr_assert_eq(rd(CNT, 2), ACPI_PM1_SCI_EN);
	cr_assert_eq(poweroffs, 0);
}

/* ACPICA's legacy sleep: SLP_TYP written first, then again with SLP_EN. */
Test(acpi_pm, pm1_cnt_s5_with_slp_en_powers_off)
{
	uint16_t typ = ACPI_PM_S5_TYP << ACPI_PM1_SLP_TYP_SHIFT;
	wr(CNT, ACPI_PM1_SCI_EN | typ, 2);
	cr_assert_eq(poweroffs, 0, "the type alone does not sleep");
	wr(CNT + 1, (typ | ACPI_PM1_SLP_EN) >> 8, 1);
	cr_assert_eq(poweroffs, 1, "a byte write of the high half counts");
	wr(CNT, ACPI_PM1_SCI_EN | typ | ACPI_PM1_SLP_EN, 2);
	cr_assert_eq(poweroffs, 1, "reported once, however often the guest writes it");
}

Test(acpi_pm, pm1_cnt_s3_is_not_offered)
{
	wr(CNT, ACPI_PM1_SCI_EN | (3 << ACPI_PM1_SLP_TYP_SHIFT) | ACPI_PM1_SLP_EN, 2);
	cr_assert_eq(poweroffs, 0);
}

/* ACPICA's hardware-reduced sleep: status cleared, then SLP_TYP | SLP_EN. */
Test(acpi_pm, sleep_control_s5_powers_off)
{
	cr_assert_eq(rd(SLEEP, 1), 0);
	cr_assert_eq(rd(SLEEP + 1, 1), 0, "no wake status");
	wr(SLEEP + 1, 0x80, 1);
	wr(SLEEP, ACPI_PM_S5_TYP << ACPI_SLEEP_TYP_SHIFT, 1);
	cr_assert_eq(poweroffs, 0, "the type alone does not sleep");
	wr(SLEEP, 1 << ACPI_SLEEP_TYP_SHIFT | ACPI_SLEEP_EN, 1);
	cr_assert_eq(poweroffs, 0, "S1's type is not offered");
	wr(SLEEP + 1, ACPI_PM_S5_TYP << ACPI_SLEEP_TYP_SHIFT | ACPI_SLEEP_EN, 1);
	cr_assert_eq(poweroffs, 0, "the status register does not sleep");
	wr(SLEEP, ACPI_PM_S5_TYP << ACPI_SLEEP_TYP_SHIFT | ACPI_SLEEP_EN, 1);
	cr_assert_eq(poweroffs, 1);
	wr(SLEEP, ACPI_PM_S5_TYP << ACPI_SLEEP_TYP_SHIFT | ACPI_SLEEP_EN, 1);
	cr_assert_eq(poweroffs, 1, "reported once, however often the guest writes it");
}

Test(acpi_pm, sleep_control_word_access)
{
	wr(SLEEP, ACPI_PM_S5_TYP << ACPI_SLEEP_TYP_SHIFT | ACPI_SLEEP_EN, 2);
	cr_assert_eq(poweroffs, 1, "a word access starting at control");
}

Test(acpi_pm, no_callback_no_poweroff)
{
	struct acpi_pm *quiet;
	struct bus b;
	bus_init(&b, "pio2");
	cr_assert_eq(acpi_pm_create(&quiet, NULL, NULL), 0);
	cr_assert_eq(acpi_pm_register_sleep(quiet, &b, SLEEP), 0);
	uint8_t v = ACPI_PM_S5_TYP << ACPI_SLEEP_TYP_SHIFT | ACPI_SLEEP_EN;
	cr_assert_eq(bus_write(&b, SLEEP, &v, 1), 0);
	acpi_pm_destroy(quiet);
	bus_destroy(&b);
	cr_assert_eq(poweroffs, 0);
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
