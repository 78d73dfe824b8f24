/* The guest kernel command line, built from boot_args plus what devices
 * add (virtio_mmio.device=..., root=...). */
#ifndef EMBER_BOOT_CMDLINE_H
#define EMBER_BOOT_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>

#include "runtime/base/err.h"
#include "runtime/boot/layout.h"

/* The kernel's own limit (COMMAND_LINE_SIZE on x86 is 2048 by default, but
 * boot protocol 2.06+ reports cmdline_size; the loader checks that). */
#define CMDLINE_MAX (LAYOUT_CMDLINE_MAX - 1)

struct cmdline {
	char buf[CMDLINE_MAX + 1];
	size_t len;
};

/* Starts from base (NULL = empty). -E2BIG if it does not fit. */
int cmdline_init(struct cmdline *cl, const char *base, struct errbuf *err);
/* Appends one space-separated parameter, printf-style. -E2BIG if the
 * result would not fit; the line is then unchanged. */
int cmdline_append(struct cmdline *cl, struct errbuf *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Appends each space-separated parameter of params (no quoted spaces)
 * whose name, the part before any '=', is not on the line yet: a value
 * the user gave wins, as the kernel would take the last one. -E2BIG if
 * the result would not fit; the line is then unchanged. */
int cmdline_append_missing(struct cmdline *cl, struct errbuf *err, const char *params);
/* True if a parameter named `key` (e.g. "root") is already there. */
int cmdline_has(const struct cmdline *cl, const char *key);
/* The value of the last `key=value` before any "--" (where the kernel's
 * parameters end), its length in *len; NULL if there is none. */
const char *cmdline_last_value(const struct cmdline *cl, const char *key, size_t *len);
/* True if the kernel is told acpi=off (its last acpi= wins): then it reads
 * no ACPI table, and Ember announces devices on the command line instead. */
bool cmdline_acpi_off(const struct cmdline *cl);

#endif
