/* The TSC rate a TCG guest sees: unicorn's RDTSC reads the host's TSC, so
 * the guest's TSC runs at the host's rate. Linux cannot calibrate it
 * reliably under emulation (its PIT loops demand < 10x jitter between
 * iterations, arch/x86/kernel/tsc.c pit_calibrate_tsc) and has no HPET or
 * ACPI PM timer to refine against, so it marks the TSC unstable and keeps
 * time with jiffies. Passing "tsc_early_khz=<this>" on the kernel command
 * line (Documentation/admin-guide/kernel-parameters.txt) makes it use the
 * TSC as its clock source. A restored guest keeps the rate it was told,
 * and nothing can scale unicorn's RDTSC, so a snapshot restores only
 * where the host's TSC runs at that rate. */
#ifndef EMBER_TCG_TSC_H
#define EMBER_TCG_TSC_H

#include <stdbool.h>

/* Host TSC frequency in kHz, measured against CLOCK_MONOTONIC_RAW over
 * about 2 ms once per process; 0 if the host has no usable TSC. */
unsigned long tcg_tsc_khz(void);
/* Whether the host's TSC runs at khz, within TCG_TSC_TOLERANCE_PPM: a
 * quick 0.5 ms measurement, and the full one before saying no (a
 * preempted measurement must not refuse a restore). */
#define TCG_TSC_TOLERANCE_PPM 2000
bool tcg_tsc_rate_matches(unsigned long khz);

#endif
