/* --accel: the backends built in, in the order auto prefers them. */
#include "runtime/backend/accel.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "runtime/base/log.h"
#include "runtime/base/seccomp.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

struct accel_backend {
	enum config_accel accel;
	const char *label;          /* in messages */
	const struct backend_ops *ops;
	/* KVM's own errors say what is wrong when the VM is built; a TCG whose
	 * unicorn we cannot drive would fail obscurely in the guest, so its
	 * self-test runs first even when asked for by name. */
	bool probe_when_asked;
};

/* Preference order for auto; the last one is the fallback. */
static const struct accel_backend accel_backends[] = {
	{ CONFIG_ACCEL_KVM, "KVM", &backend_kvm, false },
	{ CONFIG_ACCEL_TCG, "TCG", &backend_tcg, true },
};

const char *accel_built_in(void)
{
	static char names[64];
	size_t len = 0;

	for (size_t i = 0; i < ARRAY_LEN(accel_backends); i++) {
		int n = snprintf(names + len, sizeof(names) - len, "%s%s", i ? " " : "",
				 accel_backends[i].ops->name);
		if (n < 0 || (size_t)n >= sizeof(names) - len)
			break;
		len += (size_t)n;
	}
	return names;
}

static const struct backend_ops *accel_take(const struct accel_backend *b, struct errbuf *err)
{
	char why[256] = "";

	if (b->probe_when_asked && b->ops->probe(why, sizeof(why)) < 0) {
		err_set(err, -ENOTSUP, "%s backend unavailable: %s", b->label, why);
		return NULL;
	}
	return b->ops;
}

/* Each but the last must pass its self-test; the last is taken as if
 * asked for by name, so its error is the one the user sees. */
static const struct backend_ops *accel_auto(struct errbuf *err)
{
	size_t last = ARRAY_LEN(accel_backends) - 1;

	for (size_t i = 0; i < last; i++) {
		const struct accel_backend *b = &accel_backends[i];
		char why[256] = "";
		if (b->ops->probe(why, sizeof(why)) == 0) {
			log_info("accel auto: %s passed its self-test", b->label);
			return b->ops;
		}
		log_warn("accel auto: %s not usable (%s); falling back to %s", b->label, why,
			 accel_backends[i + 1].label);
	}
	return accel_take(&accel_backends[last], err);
}

const struct backend_ops *accel_select(enum config_accel accel, struct errbuf *err)
{
	for (size_t i = 0; i < ARRAY_LEN(accel_backends); i++)
		if (accel_backends[i].accel == accel)
			return accel_take(&accel_backends[i], err);
	return accel_auto(err);
}

const struct backend_ops *accel_by_name(const char *name, struct errbuf *err)
{
	for (size_t i = 0; i < ARRAY_LEN(accel_backends); i++)
		if (strcmp(accel_backends[i].ops->name, name) == 0)
			return accel_take(&accel_backends[i], err);
	err_set(err, -ENOTSUP, "no backend \"%s\" in this ember (it has: %s)", name,
		accel_built_in());
	return NULL;
}

/* The probe runs under the VMM filter: the VMM thread runs it too when no
 * warm-up did (--config-file), and the API may already be serving. */
static void *warm_main(void *arg)
{
	const struct backend_ops *ops = arg;
	pthread_setname_np(pthread_self(), "ember-warmup");
	seccomp_enter(THREAD_VMM);
	ops->warm_up();
	return NULL;
}

void accel_warm_up(struct accel_warm *w)
{
	/* Process-control signals belong to the VMM thread. */
	sigset_t ctl, old;
	sigfillset(&ctl);
	pthread_sigmask(SIG_BLOCK, &ctl, &old);
	w->n = 0;
	for (size_t i = 0; i < ARRAY_LEN(accel_backends) && w->n < ACCEL_MAX_WARM; i++) {
		const struct backend_ops *ops = accel_backends[i].ops;
		/* Without a thread it just happens later, when first needed. */
		if (ops->warm_up && pthread_create(&w->threads[w->n], NULL, warm_main, (void *)ops) == 0)
			w->n++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void accel_warm_up_join(struct accel_warm *w)
{
	for (unsigned i = 0; i < w->n; i++)
		pthread_join(w->threads[i], NULL);
	w->n = 0;
}
