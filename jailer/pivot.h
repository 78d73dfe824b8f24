/* Into the jail: a new mount namespace whose mounts are all private (none
 * of what follows reaches the host), the jail root bind-mounted on itself,
 * the VMM's shared libraries bound read-only (nosuid, nodev) on their
 * places in it, then pivot_root into it and the old root detached: from
 * here on "/" is the jail root and the host's tree is gone. */
#ifndef EMBER_JAILER_PIVOT_H
#define EMBER_JAILER_PIVOT_H

#include "jailer/libs.h"
#include "runtime/base/err.h"

int jail_enter(const char *root, const struct jail_libs *libs, struct errbuf *err);

#endif
