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
 * retries 0xFE ten times), from a vCPU thread. */
#ifndef EMBER_I8042_H
#define EMBER_I8042_H

#include <stdint.h>

#include "runtime/base/bus.h"
#include "runtime/base/device.h"
#include "runtime/base/irq.h"

#define I8042_DATA_PORT 0x60
#define I8042_CMD_PORT 0x64 /* 0x61 is the PIT/speaker gate: not ours */

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
void i8042_destroy(struct i8042 *dev);

/* One op table per port: 0x60 (data) and 0x64 (command/status). */
extern const struct bus_ops i8042_data_ops;
extern const struct bus_ops i8042_cmd_ops;
/* Counters ("dropped_bytes") and destroy; no snapshot state yet. */
extern const struct device_ops i8042_device_ops;

#endif
