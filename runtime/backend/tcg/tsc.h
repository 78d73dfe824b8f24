/* The TSC rate a TCG guest sees: unicorn's RDTSC reads the host's TSC, so
 * the guest's TSC runs at the host's rate. Linux cannot calibrate it
 * reliably under emulation (its PIT loops demand < 10x jitter between
 * iterations, arch/x86/kernel/tsc.c pit_calibrate_tsc) and has no HPET or
 * ACPI PM timer to refine against, so it marks the TSC unstable and keeps
 * time with jiffies. Passing "tsc_early_khz=<this>" on the kernel command
 * line (Documentation/admin-guide/kernel-parameters.txt) makes it use the
 * TSC as its clock source. */
#ifndef EMBER_TCG_TSC_H
#define EMBER_TCG_TSC_H

/* Host TSC frequency in kHz, measured against CLOCK_MONOTONIC_RAW over
 * about 2 ms; 0 if the host has no usable TSC. */
unsigned long tcg_tsc_khz(void);

#endif
