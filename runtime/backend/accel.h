/* Which backend runs the guest: --accel kvm|tcg|auto. */
#ifndef EMBER_ACCEL_H
#define EMBER_ACCEL_H

#include <pthread.h>

#include "config/config.h"
#include "runtime/backend/backend.h"
#include "runtime/base/err.h"

/* kvm is taken as asked (no probe: the user knows the host); tcg must
 * pass its self-test first; auto probes KVM with its self-test guest and
 * falls back to TCG, logging why. Returns NULL with err set when nothing
 * can run. */
const struct backend_ops *accel_select(enum config_accel accel, struct errbuf *err);
/* A restore runs on the backend its snapshot was taken on: the backend
 * named name ("kvm", "tcg"), taken as if asked for by name. NULL with err
 * set if there is none or it cannot run here. */
const struct backend_ops *accel_by_name(const char *name, struct errbuf *err);
#define ACCEL_MAX_WARM 4

struct accel_warm {
	pthread_t threads[ACCEL_MAX_WARM];
	unsigned n;
};

/* Starts each backend's warm_up on a thread of its own (a VMM serving the
 * API waits for requests meanwhile); accel_warm_up_join waits for them,
 * before the process ends. */
void accel_warm_up(struct accel_warm *w);
void accel_warm_up_join(struct accel_warm *w);
/* Space-separated names of the backends built in, e.g. "kvm tcg". */
const char *accel_built_in(void);

#endif
