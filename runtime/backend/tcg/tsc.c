/* Measuring the host TSC; see tsc.h. */
#include "runtime/backend/tcg/tsc.h"

#include <pthread.h>
#include <time.h>
#include <x86intrin.h>

/* A TSC read bracketed by clock reads wider than this was preempted or
 * interrupted: its time is unknown to more than the measurement's error. */
#define BRACKET_MAX_NS 200
#define BRACKET_TRIES 16

static int64_t mono_raw_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC_RAW, &t);
	return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* One TSC value and the time it was read (twice the midpoint of the
 * bracket, to stay in integers), from the narrowest of a few tries. */
static void sample(unsigned long long *tsc, int64_t *twice_ns)
{
	int64_t best = -1;
	for (int i = 0; i < BRACKET_TRIES; i++) {
		int64_t a = mono_raw_ns();
		unsigned long long c = __rdtsc();
		int64_t b = mono_raw_ns();
		if (best < 0 || b - a < best) {
			best = b - a;
			*tsc = c;
			*twice_ns = a + b;
		}
		if (best <= BRACKET_MAX_NS)
			break;
	}
}

static unsigned long measure(int64_t window_ns)
{
	unsigned long long c0, c1;
	int64_t t0, t1;
	sample(&c0, &t0);
	do {
		sample(&c1, &t1);
	} while (t1 - t0 < 2 * window_ns);
	double dt = (double)(t1 - t0) / 2e9;
	if (dt <= 0 || c1 <= c0)
		return 0;
	return (unsigned long)((double)(c1 - c0) / dt / 1000.0 + 0.5);
}

static unsigned long host_khz; /* atomic: read without the once */

static void measure_once(void)
{
	/* 2 ms keeps start-up fast with an error near 0.01 %. */
	__atomic_store_n(&host_khz, measure(2000000), __ATOMIC_RELEASE);
}

unsigned long tcg_tsc_khz(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, measure_once);
	return __atomic_load_n(&host_khz, __ATOMIC_ACQUIRE);
}

static bool close_to(unsigned long measured, unsigned long khz)
{
	double d = (double)measured - (double)khz;
	return measured && d * d * 1e12 <= (double)TCG_TSC_TOLERANCE_PPM * TCG_TSC_TOLERANCE_PPM *
						     (double)khz * (double)khz;
}

bool tcg_tsc_rate_matches(unsigned long khz)
{
	if (!khz)
		return false;
	/* A snapshot restored in the process that measured already. */
	if (close_to(__atomic_load_n(&host_khz, __ATOMIC_ACQUIRE), khz))
		return true;
	if (close_to(measure(500000), khz))
		return true;
	return close_to(tcg_tsc_khz(), khz);
}
