/* ACPI PM1 event and control registers, sleep control and status (see
 * acpi_pm.h). */
#include "runtime/devices/acpi_pm.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define PM1_EN_OFFSET 2 /* in the event block, after PM1_STS */

struct acpi_pm {
	_Atomic uint16_t pm1_en;
	void (*poweroff)(void *ctx);
	void *ctx;
	/* S5 reported already: a guest that keeps writing it before its
	 * vCPUs stop (several vCPUs, or a loop) is reported once. */
	atomic_bool off;
};

static void pm_sleep(struct acpi_pm *pm, unsigned typ)
{
	if (typ == ACPI_PM_S5_TYP && pm->poweroff && !atomic_exchange(&pm->off, true))
		pm->poweroff(pm->ctx);
}

/* Copies the bytes [offset, offset + len) of a register image, zeros
 * past it (a wide access at the block's end). */
static void pm_read_bytes(const uint8_t *img, size_t img_len, uint64_t offset, void *data,
			  uint32_t len)
{
	uint8_t *out = data;
	for (uint32_t i = 0; i < len; i++)
		out[i] = offset + i < img_len ? img[offset + i] : 0;
}

static void pm_evt_read(void *opaque, uint64_t offset, void *data, uint32_t len)
{
	struct acpi_pm *pm = opaque;
	uint16_t en = atomic_load(&pm->pm1_en);
	uint8_t img[ACPI_PM_EVT_LEN] = { 0, 0, (uint8_t)en, (uint8_t)(en >> 8) };
	pm_read_bytes(img, sizeof(img), offset, data, len);
}

static void pm_evt_write(void *opaque, uint64_t offset, const void *data, uint32_t len)
{
	struct acpi_pm *pm = opaque;
	const uint8_t *in = data;
	/* PM1_STS is write-1-to-clear and never set: writes to it do nothing.
	 * PM1_EN takes each byte the access covers. */
	for (uint32_t i = 0; i < len; i++) {
		uint64_t at = offset + i;
		if (at < PM1_EN_OFFSET || at >= ACPI_PM_EVT_LEN)
			continue;
		unsigned shift = 8 * (unsigned)(at - PM1_EN_OFFSET);
		uint16_t old = atomic_load(&pm->pm1_en);
		uint16_t v = (uint16_t)((old & ~(0xffu << shift)) | ((unsigned)in[i] << shift));
		atomic_store(&pm->pm1_en, v);
	}
}

static void pm_cnt_read(void *opaque, uint64_t offset, void *data, uint32_t len)
{
	(void)opaque;
	uint8_t img[ACPI_PM_CNT_LEN] = { ACPI_PM1_SCI_EN, 0 };
	pm_read_bytes(img, sizeof(img), offset, data, len);
}

/* Only a write that covers the high byte can set SLP_EN; the bits the
 * access does not cover read as PM1_CNT's image (SCI_EN, no sleep type). */
static void pm_cnt_write(void *opaque, uint64_t offset, const void *data, uint32_t len)
{
	uint8_t img[ACPI_PM_CNT_LEN] = { ACPI_PM1_SCI_EN, 0 };
	const uint8_t *in = data;
	for (uint32_t i = 0; i < len; i++)
		if (offset + i < ACPI_PM_CNT_LEN)
			img[offset + i] = in[i];
	uint16_t v = (uint16_t)(img[0] | img[1] << 8);
	if (v & ACPI_PM1_SLP_EN)
		pm_sleep(opaque, (v >> ACPI_PM1_SLP_TYP_SHIFT) & 7);
}

static void pm_sleep_read(void *opaque, uint64_t offset, void *data, uint32_t len)
{
	(void)opaque;
	uint8_t img[ACPI_PM_SLEEP_LEN] = { 0, 0 };
	pm_read_bytes(img, sizeof(img), offset, data, len);
}

/* Byte 0, the sleep control register; byte 1, the status register
 * (write-1-to-clear, never set). */
static void pm_sleep_write(void *opaque, uint64_t offset, const void *data, uint32_t len)
{
	const uint8_t *in = data;
	if (offset == 0 && len >= 1 && (in[0] & ACPI_SLEEP_EN))
		pm_sleep(opaque, (in[0] >> ACPI_SLEEP_TYP_SHIFT) & 7);
}

const struct bus_ops acpi_pm_evt_ops = { .read = pm_evt_read, .write = pm_evt_write };
const struct bus_ops acpi_pm_cnt_ops = { .read = pm_cnt_read, .write = pm_cnt_write };
const struct bus_ops acpi_pm_sleep_ops = { .read = pm_sleep_read, .write = pm_sleep_write };

int acpi_pm_create(struct acpi_pm **out, void (*poweroff)(void *ctx), void *ctx)
{
	struct acpi_pm *pm = calloc(1, sizeof(*pm));
	if (!pm)
		return -ENOMEM;
	atomic_init(&pm->pm1_en, 0);
	pm->poweroff = poweroff;
	pm->ctx = ctx;
	*out = pm;
	return 0;
}

int acpi_pm_register(struct acpi_pm *pm, struct bus *pio, uint16_t evt, uint16_t cnt)
{
	int r = bus_add(pio, evt, ACPI_PM_EVT_LEN, &acpi_pm_evt_ops, pm, "acpi-pm1-evt");
	if (r == 0)
		r = bus_add(pio, cnt, ACPI_PM_CNT_LEN, &acpi_pm_cnt_ops, pm, "acpi-pm1-cnt");
	return r;
}

int acpi_pm_register_sleep(struct acpi_pm *pm, struct bus *pio, uint16_t port)
{
	return bus_add(pio, port, ACPI_PM_SLEEP_LEN, &acpi_pm_sleep_ops, pm, "acpi-sleep");
}

void acpi_pm_destroy(struct acpi_pm *pm)
{
	free(pm);
}

static int acpi_pm_save(void *dev, void *buf, size_t len)
{
	struct acpi_pm *pm = dev;
	struct acpi_pm_state st = { .version = ACPI_PM_STATE_VERSION,
				    .pm1_en = atomic_load(&pm->pm1_en) };
	if (len < sizeof(st))
		return -ENOSPC;
	memcpy(buf, &st, sizeof(st));
	return (int)sizeof(st);
}

static int acpi_pm_restore(void *dev, const void *buf, size_t len)
{
	struct acpi_pm *pm = dev;
	struct acpi_pm_state st;
	if (len != sizeof(st))
		return -EINVAL;
	memcpy(&st, buf, sizeof(st));
	if (st.version != ACPI_PM_STATE_VERSION || st.pad)
		return -EINVAL;
	atomic_store(&pm->pm1_en, st.pm1_en);
	return 0;
}

static void acpi_pm_dev_destroy(void *dev)
{
	acpi_pm_destroy(dev);
}

const struct device_ops acpi_pm_device_ops = {
	.save = acpi_pm_save,
	/* Added after snapshots were: older ones lack its section. */
	.absent_is_power_on = true,
	.restore = acpi_pm_restore,
	.destroy = acpi_pm_dev_destroy,
};
