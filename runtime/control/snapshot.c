/* PUT /snapshot/create and PUT /snapshot/load, with Firecracker's rules on
 * when they are allowed. A load that fails leaves the VMM as it was: still
 * serving, nothing built, ready for a good load (Firecracker ends its
 * process instead; see docs/api.md). */
#include <errno.h>
#include <string.h>

#include "runtime/backend/accel.h"
#include "runtime/base/log.h"
#include "runtime/control/controller.h"
#include "runtime/vm/snapshot.h"

int controller_snapshot_create(struct controller *c, const struct config_snapshot_create *req,
			       struct errbuf *err)
{
	if (c->state != CONTROLLER_PAUSED)
		return err_set(err, -EBUSY,
			       "the microVM must be Paused to create a snapshot; it is %s",
			       controller_state_name(c->state));
	int r = vm_snapshot_save(&c->vm, &c->cfg, req, err);
	return r < 0 ? err_wrap(err, r, "cannot create the snapshot") : 0;
}

/* The backend the snapshot was taken on, unless --accel names another:
 * then that one, and the restore carries the state across
 * (docs/snapshots.md, "Across backends"). */
static const struct backend_ops *load_backend(struct controller *c,
					      const struct vm_snapshot_info *info,
					      struct errbuf *err)
{
	if (c->opts.has_accel && c->opts.accel != CONFIG_ACCEL_AUTO &&
	    strcmp(config_accel_name(c->opts.accel), info->backend) != 0) {
		log_info("snapshot taken on %s, restored on %s as --accel asks", info->backend,
			 config_accel_name(c->opts.accel));
		return accel_select(c->opts.accel, err);
	}
	return accel_by_name(info->backend, err);
}

static int load(struct controller *c, const struct config_snapshot_load *req,
		const struct snap_file *snap, struct errbuf *err)
{
	struct vm_snapshot_info info;
	struct vm_config cfg;
	int r = vm_snapshot_info(snap, &info, err);
	if (r < 0)
		return r;
	const struct backend_ops *be = load_backend(c, &info, err);
	if (!be)
		return -ENOTSUP;
	r = vm_snapshot_config(snap, &info, req, &cfg, err);
	if (r < 0)
		return r;
	struct vm_opts vopts = controller_vm_opts(c);
	r = vm_restore(&c->vm, be, &vopts, snap, &cfg, req, err);
	if (r < 0) {
		config_free(&cfg);
		return r;
	}
	/* The restored configuration, under this process's logger and metrics. */
	config_logger_free(&cfg.logger);
	config_metrics_free(&cfg.metrics);
	cfg.logger = c->cfg.logger;
	cfg.metrics = c->cfg.metrics;
	memset(&c->cfg.logger, 0, sizeof(c->cfg.logger));
	memset(&c->cfg.metrics, 0, sizeof(c->cfg.metrics));
	config_free(&c->cfg);
	c->cfg = cfg;
	controller_mmds_apply(c); /* its config came in vm/config; its data did not */
	return 0;
}

int controller_snapshot_load(struct controller *c, const struct config_snapshot_load *req,
			     struct errbuf *err)
{
	if (c->configured)
		return err_set(err, -EINVAL,
			       "Loading a microVM snapshot not allowed after configuring "
			       "boot-specific resources.");
	struct snap_file snap;
	int r = snap_read_file(req->snapshot_path, &snap, err);
	if (r < 0)
		return err_wrap(err, r, "cannot load the snapshot");
	r = load(c, req, &snap, err);
	snap_free(&snap);
	if (r < 0)
		return err_wrap(err, r, "cannot load the snapshot %s", req->snapshot_path);
	log_info("snapshot %s loaded on %s (%s)", req->snapshot_path, c->vm.be->name,
		 req->resume_vm ? "resumed" : "paused");
	c->configured = true;
	r = controller_go_live(c, err);
	if (r < 0)
		return r;
	c->state = CONTROLLER_PAUSED;
	if (req->resume_vm) {
		vm_resume(&c->vm);
		c->state = CONTROLLER_RUNNING;
	}
	return 0;
}
