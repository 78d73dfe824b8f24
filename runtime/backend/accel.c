#include "runtime/backend/accel.h"

#include <errno.h>
#include <stddef.h>

#include "runtime/base/log.h"

/* The software-CPU backend, once built in, is listed here. */
extern const struct backend_ops backend_tcg; static const struct backend_ops *const tcg_backend = &backend_tcg;

const char *accel_built_in(void)
{
	return tcg_backend ? "kvm tcg" : "kvm";
}

static const struct backend_ops *accel_tcg(struct errbuf *err, const char *why)
{
	if (!tcg_backend) {
		err_set(err, -ENOTSUP, "%s%sthe TCG backend is not built into this ember yet",
			why ? why : "", why ? "; " : "");
		return NULL;
	}
	char tcg_why[256] = "";
	if (tcg_backend->probe(tcg_why, sizeof(tcg_why)) < 0) {
		err_set(err, -ENOTSUP, "TCG backend unavailable: %s", tcg_why);
		return NULL;
	}
	return tcg_backend;
}

const struct backend_ops *accel_select(enum config_accel accel, struct errbuf *err)
{
	switch (accel) {
	case CONFIG_ACCEL_KVM:
		return &backend_kvm;
	case CONFIG_ACCEL_TCG:
		return accel_tcg(err, NULL);
	case CONFIG_ACCEL_AUTO:
	default: {
		char why[256] = "";
		if (backend_kvm.probe(why, sizeof(why)) == 0) {
			log_info("accel auto: KVM passed its self-test");
			return &backend_kvm;
		}
		log_warn("accel auto: KVM not usable (%s); falling back to TCG", why);
		return accel_tcg(err, "KVM not usable");
	}
	}
}
