/* The TCG backend's probe: a tiny long-mode guest run through the real
 * backend, which reads through a page whose linear and physical
 * addresses differ. It fails if unicorn is missing, is not the 2.0.x whose
 * CPU state we patch (env.h), or our TLB fill is not the one unicorn
 * calls (qemu/qemu.h) — in which case Linux could not run. */
#ifndef EMBER_TCG_SELFTEST_H
#define EMBER_TCG_SELFTEST_H

#include <stddef.h>

/* 0, or -errno with a reason in why. */
int tcg_selftest(char *why, size_t why_len);

#endif
