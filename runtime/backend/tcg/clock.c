/* The TCG platform's clocks: the monotonic clock the chips (PIT, local
 * APIC timers) count in, and the rate of the guest's TSC. Used by the
 * chips, the vCPUs and snapshots alike; they use nothing else. */
#include "runtime/backend/tcg/tcg.h"

#include <time.h>

#include "runtime/backend/tcg/state.h"
#include "runtime/backend/tcg/tsc.h"

int64_t tcg_now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

unsigned long tcg_guest_tsc_khz(const struct backend_vm *vm)
{
	return vm->tsc_khz ? vm->tsc_khz : tcg_tsc_khz();
}
