/* Measuring the host TSC; see tsc.h. */
#include "runtime/backend/tcg/tsc.h"

#include <time.h>
#include <x86intrin.h>

static double mono_raw(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC_RAW, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

unsigned long tcg_tsc_khz(void)
{
	/* Bracket each TSC read with clock reads so a preemption between
	 * them shows as a wide bracket. 2 ms apart keeps start-up fast and the
	 * error near 0.01 % (brackets are tens of nanoseconds wide). */
	double t0a = mono_raw();
	unsigned long long c0 = __rdtsc();
	double t0b = mono_raw();
	double t1a, t1b;
	unsigned long long c1;
	do {
		t1a = mono_raw();
		c1 = __rdtsc();
		t1b = mono_raw();
	} while (t1a - t0b < 0.002);
	double dt = ((t1a + t1b) - (t0a + t0b)) / 2;
	if (dt <= 0 || c1 <= c0)
		return 0;
	return (unsigned long)((double)(c1 - c0) / dt / 1000.0 + 0.5);
}
