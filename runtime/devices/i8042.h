/* Minimal i8042 keyboard controller: enough for Linux's i8042 and atkbd
 * probes (drivers/input/serio/i8042.c, drivers/input/keyboard/atkbd.c),
 * for `reboot=k` (command 0xFE pulses the CPU reset line) and for sending
 * Ctrl-Alt-Del to the guest. No mouse: run guests with i8042.noaux (as
 * Firecracker does), or the AUX probe waits 250 ms for an IRQ 12 that never
 * comes and then gives up harmlessly.
 *
 * Threading: bus callbacks run on vCPU threads, i8042_send_ctrl_alt_del on
 * the VMM thread; both take the device mutex. IRQ 1 is driven with the
 * mutex held, so irq_line.set must never call back into this device. The
 * reset callback runs without the mutex, possibly several times (Linux
 * retries 0xFE ten times), from a vCPU thread. Save and restore run on the
 * VMM thread with the vCPUs stopped. */
#ifndef EMBER_I8042_H
#define EMBER_I8042_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/base/bus.h"
#include "runtime/base/device.h"
#include "runtime/base/irq.h"

#define I8042_DATA_PORT 0x60
#define I8042_CMD_PORT 0x64 /* 0x61 is the PIT/speaker gate: not ours */
#define I8042_QUEUE 16      /* Linux's i8042_flush() drains at most 16 bytes */

/* Snapshot state: fixed-width fields, no padding, host byte order. The
 * output queue is stored oldest byte first; bytes past `count` and
 * reserved fields are 0. The status register is not stored: it is derived
 * (OBF and AUXDATA from the queue, SYS from the command byte). */
#define I8042_STATE_VERSION 1
struct i8042_state {
	uint32_t version;
	uint8_t ctr;         /* command byte */
	uint8_t status_cmd;  /* 0x08 if the last write went to port 0x64, else 0 */
	uint8_t ctl_pending; /* controller command awaiting its data byte, or 0 */
	uint8_t kbd_pending; /* keyboard command awaiting its parameter, or 0 */
	uint8_t last;        /* what the data port reads when the queue is empty */
	uint8_t irq_level;   /* level last driven on IRQ 1, 0 or 1 */
	uint8_t count;       /* bytes in the output queue, <= I8042_QUEUE */
	uint8_t reserved;
	uint8_t queue[I8042_QUEUE];
	uint16_t queue_aux;  /* bit i: queue[i] came from the AUX port */
	uint16_t reserved2;
};

struct i8042;

/* reset may be NULL. irq is copied. Returns 0 or -ENOMEM. */
int i8042_create(struct i8042 **out, const struct irq_line *irq, void (*reset)(void *ctx),
		 void *ctx);
/* Claims ports 0x60 and 0x64, one byte each. */
int i8042_register(struct i8042 *dev, struct bus *pio);
/* Queues Ctrl+Alt+Del make then break codes and raises IRQ 1: scan code
 * set 2 (0x14, 0x11, 0xE0 0x71, ...), which atkbd expects while the command
 * byte's XLATE bit is clear (our default, as in Firecracker); translated
 * set 1 (0x1D, 0x38, 0xE0 0x53, ...) if the guest has set XLATE.
 * Returns 0, or -ENOSPC if the output queue lacks room for all of it. */
int i8042_send_ctrl_alt_del(struct i8042 *dev);
/* Bytes lost because the guest let the output queue fill up. */
uint64_t i8042_dropped(struct i8042 *dev);
void i8042_save(struct i8042 *dev, struct i8042_state *out);
/* Validates every field first; on -EINVAL the device is unchanged. IRQ 1
 * is not driven: the irqchip's own snapshot carries the line. */
int i8042_restore(struct i8042 *dev, const struct i8042_state *in);
void i8042_destroy(struct i8042 *dev);

/* One op table per port: 0x60 (data) and 0x64 (command/status). */
extern const struct bus_ops i8042_data_ops;
extern const struct bus_ops i8042_cmd_ops;
/* Counters ("dropped_bytes"), snapshot state (struct i8042_state),
 * destroy. */
extern const struct device_ops i8042_device_ops;

#endif
