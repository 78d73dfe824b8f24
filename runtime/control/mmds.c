/* The controller's MMDS actions: the data store (any time, as Firecracker)
 * and the configuration (pre-boot). The store lives in struct controller,
 * on the VMM thread, which is also where the net devices read it. */
#include "runtime/control/controller.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/base/log.h"

void controller_mmds_apply(struct controller *c)
{
	const struct config_mmds *m = &c->cfg.mmds;
	if (m->present)
		mmds_configure(&c->mmds, m->version ? MMDS_V2 : MMDS_V1, m->ipv4, m->imds_compat);
}

int controller_mmds_action(struct controller *c, struct vmm_action *a, struct errbuf *err)
{
	int r;
	switch (a->kind) {
	case VMM_PUT_MMDS:
		r = mmds_put(&c->mmds, a->u.json, err);
		break;
	case VMM_PATCH_MMDS:
		r = mmds_patch(&c->mmds, a->u.json, err);
		break;
	case VMM_PUT_MMDS_CONFIG: {
		struct config_mmds old = c->cfg.mmds;
		c->cfg.mmds = a->u.mmds;
		r = config_mmds_check(&c->cfg, err);
		if (r < 0) {
			c->cfg.mmds = old;
			return r;
		}
		config_mmds_free(&old);
		memset(&a->u.mmds, 0, sizeof(a->u.mmds));
		controller_mmds_apply(c);
		return 0;
	}
	default:
		return err_set(err, -EINVAL, "not an MMDS action");
	}
	return r < 0 ? err_wrap(err, r, "mmds") : 0;
}

/* --metadata: Firecracker's start-up data, as a PUT /mmds would give it. */
int controller_mmds_load_file(struct controller *c, const char *path, struct errbuf *err)
{
	json_error_t je;
	json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!j)
		return err_set(err, -EINVAL, "--metadata %s: line %d, column %d: %s", path, je.line,
			       je.column, je.text);
	int r = 0;
	if (!json_is_object(j))
		r = err_set(err, -EINVAL, "--metadata %s: must hold a JSON object", path);
	else if ((r = mmds_put(&c->mmds, j, err)) < 0)
		err_wrap(err, r, "--metadata %s", path);
	json_decref(j);
	return r;
}
