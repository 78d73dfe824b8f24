/* Firecracker's boot-time pseudo-device: the guest writes the byte 123 at
 * offset 0 of an MMIO page (LAYOUT_BOOT_TIMER) when it reaches userspace,
 * and the VMM logs how long the boot took, in wall-clock and VMM CPU time,
 * since the process started. Firecracker's guest init does this write via
 * /dev/mem; ours does the same.
 *
 * Threading: the write runs on a vCPU thread; boot_timer_last_us() may be
 * called from any thread. The callback runs on the vCPU thread. */
#ifndef EMBER_BOOT_TIMER_H
#define EMBER_BOOT_TIMER_H

#include <stdint.h>
#include <time.h>

#include "runtime/base/bus.h"
#include "runtime/base/device.h"

#define BOOT_TIMER_SIZE 0x1000ULL
#define BOOT_TIMER_MAGIC 123 /* MAGIC_VALUE_SIGNAL_GUEST_BOOT_COMPLETE */

#define BOOT_TIMER_STATE_VERSION 1
struct boot_timer_state {
	uint32_t version;
};

struct boot_timer;

/* start_wall: CLOCK_MONOTONIC and start_cpu: CLOCK_PROCESS_CPUTIME_ID,
 * both taken at process start; NULL means "now". Returns 0 or -ENOMEM. */
int boot_timer_create(struct boot_timer **out, const struct timespec *start_wall,
		      const struct timespec *start_cpu);
/* Claims [base, base + BOOT_TIMER_SIZE) on the MMIO bus. */
int boot_timer_register(struct boot_timer *bt, struct bus *mmio, uint64_t base);
/* Called with both durations at every signal (for metrics and tests).
 * Set before vCPUs start. */
void boot_timer_set_callback(struct boot_timer *bt,
			     void (*cb)(void *ctx, uint64_t wall_us, uint64_t cpu_us), void *ctx);
/* Wall-clock boot time of the last signal, in microseconds; 0 until then. */
uint64_t boot_timer_last_us(struct boot_timer *bt);
void boot_timer_destroy(struct boot_timer *bt);

extern const struct bus_ops boot_timer_bus_ops;
/* Snapshot state: only a version. The device logs its one measurement and
 * keeps nothing worth carrying (a restored guest has booted already, and
 * the measurement belongs to the process that saw the boot); it still has
 * save/restore, since NULL would mean "cannot be snapshotted". And destroy. */
extern const struct device_ops boot_timer_device_ops;

#endif
