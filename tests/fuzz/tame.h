/* What the API fuzzers do with actions that open things outside the
 * process: the fuzzed names and paths were parsed by the router already;
 * what the controller opens with them is redirected to something
 * harmless, so the controller's handling of PUT /serial and network
 * interfaces runs too. */
#ifndef EMBER_FUZZ_TAME_H
#define EMBER_FUZZ_TAME_H

#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/control/action.h"

/* The TAP every network-interface PUT names: a real one in a network
 * namespace of our own, else "lo", which TUNSETIFF refuses, so only the
 * refusal path runs. */
static const char *fuzz_tap_name = "lo";

static inline void fuzz_tame_init(void)
{
	if (unshare(CLONE_NEWNET) == 0)
		fuzz_tap_name = "fz0";
}

static inline void fuzz_tame(struct vmm_action *a)
{
	char **field = NULL;
	const char *with = NULL;
	if (a->kind == VMM_PUT_SERIAL && a->u.serial.serial_out_path) {
		field = &a->u.serial.serial_out_path;
		with = "/dev/null";
	} else if (a->kind == VMM_PUT_NET && a->u.net.host_dev_name) {
		field = &a->u.net.host_dev_name;
		with = fuzz_tap_name;
	}
	if (!field)
		return;
	char *dup = strdup(with);
	if (!dup)
		abort();
	free(*field);
	*field = dup;
}

#endif
