/* QEMU's ISA pvpanic device: one byte at port 0x505. A read returns the
 * events the device supports (PANICKED, CRASH_LOADED); the guest kernel
 * writes PANICKED from its panic notifier (Linux's pvpanic driver, bound
 * through ACPI "QEMU0001"), or CRASH_LOADED instead when a crash kernel
 * is loaded and about to take over.
 *
 * The first PANICKED write is logged ("guest kernel panicked") and calls
 * the panicked callback, which ends the VM with its own exit code before
 * the guest can go on to reboot (panic=N, reboot=k): the notifier runs
 * before panic's reboot. CRASH_LOADED is logged and counted only: the
 * crash kernel runs next, and its own end decides the VM's.
 *
 * Threading: the write runs on a vCPU thread, and so does the callback,
 * possibly on two vCPUs at once; counters on the VMM thread (atomics). */
#ifndef EMBER_PVPANIC_H
#define EMBER_PVPANIC_H

#include <stdint.h>

#include "runtime/base/bus.h"
#include "runtime/base/device.h"

#define PVPANIC_PORT 0x505
#define PVPANIC_PANICKED 0x01     /* the guest kernel panicked */
#define PVPANIC_CRASH_LOADED 0x02 /* it panicked with a crash kernel loaded */
#define PVPANIC_EVENTS (PVPANIC_PANICKED | PVPANIC_CRASH_LOADED)

/* Snapshot state: a version only. What was announced belongs to the
 * process that saw it (a VM that panicked has ended), and the guest's
 * driver reads the supported events again when it probes. */
#define PVPANIC_STATE_VERSION 1
struct pvpanic_state {
	uint32_t version;
};

struct pvpanic;

/* panicked may be NULL; it is called once, at the first PANICKED write.
 * Returns 0 or -ENOMEM. */
int pvpanic_create(struct pvpanic **out, void (*panicked)(void *ctx), void *ctx);
/* Claims port 0x505, one byte. */
int pvpanic_register(struct pvpanic *pv, struct bus *pio);
void pvpanic_destroy(struct pvpanic *pv);

extern const struct bus_ops pvpanic_bus_ops;
/* Counters ("panic_count": PANICKED writes, "crash_loaded_count":
 * CRASH_LOADED writes), snapshot state (struct pvpanic_state), destroy. */
extern const struct device_ops pvpanic_device_ops;

#endif
