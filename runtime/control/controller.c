/* The VMM thread's controller: applies vmm_actions to the pre-boot
 * configuration and the running VM. Which action is allowed in which state
 * follows Firecracker's PrebootApiController / RuntimeApiController
 * (vmm/src/rpc_interface.rs). */
#include "runtime/control/controller.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "runtime/backend/accel.h"
#include "runtime/base/log.h"
#include "runtime/vm/host_check.h"
#include "runtime/vm/virtio.h"

/* Firecracker's wording (VmmActionError::OperationNotSupported{Pre,Post}Boot). */
#define MSG_POST_BOOT "The requested operation is not supported after starting the microVM."
#define MSG_PRE_BOOT "The requested operation is not supported before starting the microVM."

static void controller_on_wake(void *opaque, uint32_t events)
{
	(void)events;
	struct controller *c = opaque;
	uint64_t v;
	ssize_t n = read(c->wake_efd, &v, sizeof(v));
	(void)n;
}

int controller_init(struct controller *c, const struct controller_opts *opts)
{
	memset(c, 0, sizeof(*c));
	c->opts = *opts;
	config_init(&c->cfg);
	atomic_init(&c->exit_request, -1);
	atomic_init(&c->vm_live, false);
	c->serial_fd = -1;
	c->show_level = opts->show_level;
	c->show_log_origin = opts->show_log_origin;
	struct errbuf err;
	int r = mmds_init(&c->mmds, opts->mmds_size_limit ? opts->mmds_size_limit : MMDS_DEFAULT_LIMIT,
			  opts->id, &err);
	if (r < 0) {
		log_err("%s", err.msg);
		return r;
	}
	r = controller_metrics_init(c);
	if (r < 0) {
		mmds_destroy(&c->mmds);
		return r;
	}
	c->wake_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->wake_efd < 0) {
		r = -errno;
		controller_metrics_destroy(c);
		mmds_destroy(&c->mmds);
		return r;
	}
	r = evloop_add(opts->loop, c->wake_efd, EPOLLIN, controller_on_wake, c);
	if (r < 0) {
		close(c->wake_efd);
		controller_metrics_destroy(c);
		mmds_destroy(&c->mmds);
		return r;
	}
	return 0;
}

void controller_request_exit(struct controller *c, int code)
{
	int expected = -1;
	atomic_compare_exchange_strong(&c->exit_request, &expected, code);
	if (atomic_load(&c->vm_live))
		vm_request_exit(&c->vm, code);
	uint64_t one = 1;
	ssize_t w = write(c->wake_efd, &one, sizeof(one));
	(void)w;
}

bool controller_done(struct controller *c)
{
	if (atomic_load(&c->vm_live))
		return vm_stopping(&c->vm);
	return atomic_load(&c->exit_request) >= 0;
}

int controller_finish(struct controller *c)
{
	if (c->finished)
		return c->exit_code;
	int code = atomic_load(&c->exit_request);
	if (atomic_load(&c->vm_live))
		code = vm_stop(&c->vm);
	/* The last metrics line still sees the devices. */
	controller_flush_metrics(c);
	if (atomic_load(&c->vm_live)) {
		atomic_store(&c->vm_live, false);
		vm_destroy(&c->vm);
		c->state = CONTROLLER_NOT_STARTED;
	}
	c->finished = true;
	c->exit_code = code < 0 ? 0 : code;
	return c->exit_code;
}

void controller_destroy(struct controller *c)
{
	controller_finish(c);
	controller_metrics_destroy(c);
	evloop_del(c->opts.loop, c->wake_efd);
	close(c->wake_efd);
	c->wake_efd = -1;
	/* The logger may still hold one of our module strings. */
	log_set_module(NULL);
	for (unsigned i = 0; i < c->nr_modules; i++)
		free(c->modules[i]);
	c->nr_modules = 0;
	config_free(&c->cfg);
	mmds_destroy(&c->mmds);
	if (c->serial_fd >= 0)
		close(c->serial_fd);
	c->serial_fd = -1;
}

/* ---- logger ---- */

/* Applies the fields l names over the current settings; a failure (the
 * log file cannot be opened, too many module changes) changes nothing. */
static int apply_logger(struct controller *c, const struct config_logger *l, const char **module,
			struct errbuf *err)
{
	*module = NULL;
	/* A filter that matches no source would silence every line. */
	if (l->module && !log_module_known(l->module))
		return err_set(err, -EINVAL,
			       "module: \"%s\" is no source folder or file of Ember "
			       "(e.g. \"virtio\", \"runtime/vm\", \"runtime/vm/build.c\")",
			       l->module);
	if (l->module) {
		for (unsigned i = 0; i < c->nr_modules && !*module; i++)
			if (strcmp(c->modules[i], l->module) == 0)
				*module = c->modules[i];
		if (!*module && c->nr_modules == sizeof(c->modules) / sizeof(c->modules[0]))
			return err_set(err, -ENOSPC, "module: changed too many times");
	}
	if (l->log_path) {
		int r = log_set_path(l->log_path);
		if (r < 0)
			return err_set(err, r, "log_path %s: %s", l->log_path, strerror(-r));
	}
	if (l->module && !*module) {
		char *m = strdup(l->module);
		if (!m)
			return err_set(err, -ENOMEM, "out of memory");
		c->modules[c->nr_modules++] = m;
		*module = m;
	}
	if (l->has_level)
		log_set_level(l->level);
	if (l->has_show_level)
		c->show_level = l->show_level;
	if (l->has_show_log_origin)
		c->show_log_origin = l->show_log_origin;
	log_set_options(c->show_level, c->show_log_origin);
	if (*module)
		log_set_module(*module);
	return 0;
}

/* ---- configuration as a whole (--config-file) ---- */

int controller_load_config(struct controller *c, struct vm_config *cfg, struct errbuf *err)
{
	const char *module;
	int r = 0;
	if (cfg->logger.present && (r = apply_logger(c, &cfg->logger, &module, err)) < 0)
		err_wrap(err, r, "logger");
	if (!r && cfg->metrics.present)
		r = controller_set_metrics(c, cfg->metrics.metrics_path, err);
	/* The file's paths and TAPs fail here, one line naming the field,
	 * as their PUTs would. */
	if (!r)
		r = host_check_config(cfg, err);
	config_free(&c->cfg);
	c->cfg = *cfg;
	config_init(cfg);
	c->configured = !c->cfg.snapshot_load;
	controller_mmds_apply(c);
	return r;
}

int controller_start_config(struct controller *c, struct errbuf *err)
{
	struct config_snapshot_load *l = c->cfg.snapshot_load;
	if (!l)
		return controller_start(c, err);
	c->cfg.snapshot_load = NULL;
	int r = controller_snapshot_load(c, l, err);
	config_snapshot_load_free(l);
	free(l);
	return r;
}

/* ---- InstanceStart ---- */

int controller_start(struct controller *c, struct errbuf *err)
{
	if (c->state != CONTROLLER_NOT_STARTED)
		return err_set(err, -EALREADY, MSG_POST_BOOT);
	int r = config_validate(&c->cfg, err);
	if (r < 0)
		return r;
	enum config_accel accel = c->opts.has_accel ? c->opts.accel : c->cfg.machine.accel;
	const struct backend_ops *be = accel_select(accel, err);
	if (!be)
		return err_wrap(err, -ENODEV, "accel %s", config_accel_name(accel));
	struct vm_opts vopts = controller_vm_opts(c);
	r = vm_create(&c->vm, &c->cfg, be, &vopts, err);
	if (r < 0)
		return err_wrap(err, r, "cannot build the VM");
	log_info("VM built on %s: %u vCPU(s), %llu MiB", be->name, c->cfg.machine.vcpu_count,
		 (unsigned long long)c->cfg.machine.mem_size_mib);
	r = controller_go_live(c, err);
	if (r == 0)
		c->state = CONTROLLER_RUNNING;
	return r;
}

/* ---- actions ---- */

static bool pre_boot_only(enum vmm_action_kind k)
{
	switch (k) {
	case VMM_PUT_BOOT_SOURCE:
	case VMM_PUT_MACHINE_CONFIG:
	case VMM_PATCH_MACHINE_CONFIG:
	case VMM_PUT_DRIVE:
	case VMM_PUT_NET:
	case VMM_PUT_VSOCK:
	case VMM_PUT_ENTROPY:
	case VMM_PUT_LOGGER:
	case VMM_PUT_METRICS:
	case VMM_PUT_SERIAL:
	case VMM_INSTANCE_START:
	case VMM_SNAPSHOT_LOAD:
	case VMM_PUT_MMDS_CONFIG:
	case VMM_PUT_CPU_CONFIG:
		return true;
	default:
		return false;
	}
}

/* What a loaded snapshot would replace: Firecracker refuses a load after
 * any of these. */
static bool boot_resource(enum vmm_action_kind k)
{
	switch (k) {
	case VMM_PUT_BOOT_SOURCE:
	case VMM_PUT_MACHINE_CONFIG:
	case VMM_PATCH_MACHINE_CONFIG:
	case VMM_PUT_DRIVE:
	case VMM_PUT_NET:
	case VMM_PUT_VSOCK:
	case VMM_PUT_ENTROPY:
	case VMM_PUT_CPU_CONFIG:
		return true;
	default:
		return false;
	}
}

static bool post_boot_only(enum vmm_action_kind k)
{
	switch (k) {
	case VMM_SEND_CTRL_ALT_DEL:
	case VMM_PAUSE:
	case VMM_RESUME:
	case VMM_PATCH_DRIVE:
	case VMM_PATCH_NET:
	case VMM_SNAPSHOT_CREATE:
		return true;
	default:
		return false;
	}
}

static int do_get(struct controller *c, struct vmm_action *a, struct vmm_reply *r)
{
	json_t *j = NULL;
	switch (a->kind) {
	case VMM_GET_INSTANCE_INFO:
		j = json_pack("{s:s, s:s, s:s, s:s}", "id", c->opts.id, "state",
			      controller_state_name(c->state), "vmm_version", c->opts.vmm_version,
			      "app_name", "Ember");
		break;
	case VMM_GET_VERSION:
		/* Swagger's FirecrackerVersion: orchestrators read this key. */
		j = json_pack("{s:s}", "firecracker_version", c->opts.vmm_version);
		break;
	case VMM_GET_MACHINE_CONFIG:
		j = config_machine_to_json(&c->cfg.machine);
		break;
	case VMM_GET_VM_CONFIG:
		j = config_to_json(&c->cfg);
		break;
	case VMM_GET_MMDS:
		j = mmds_get_all(&c->mmds);
		break;
	default:
		return -EINVAL;
	}
	vmm_reply_json(r, j);
	return 0;
}

static int do_patch_device(struct controller *c, struct vmm_action *a, struct errbuf *err)
{
	const char *id = a->u.patch.id;
	if (a->kind == VMM_PATCH_DRIVE) {
		struct config_drive *d = config_find_drive(&c->cfg, id);
		if (!d)
			return err_set(err, -ENOENT, "drive \"%s\" does not exist", id);
		/* Parsed onto a copy: the config changes only once the device did. */
		struct config_drive tmp = { .drive_id = d->drive_id };
		int rc = config_parse_drive_patch(a->u.patch.json, &tmp, err);
		if (rc == 0)
			rc = vm_virtio_update_drive(&c->vm, id, tmp.path_on_host, err);
		if (rc < 0) {
			free(tmp.path_on_host);
			return err_wrap(err, rc, "drive \"%s\"", id);
		}
		free(d->path_on_host);
		d->path_on_host = tmp.path_on_host;
		return 0;
	}
	struct config_net *n = config_find_net(&c->cfg, id);
	if (!n)
		return err_set(err, -ENOENT, "network interface \"%s\" does not exist", id);
	int rc = config_parse_net_patch(a->u.patch.json, n, err);
	return rc < 0 ? err_wrap(err, rc, "network interface \"%s\"", id) : 0;
}

/* PUT /serial: the output file opens now, as Firecracker opens it at
 * start (created if missing, read-write so a FIFO needs no reader yet,
 * never blocking); a PUT without serial_out_path goes back to stdout. */
static int set_serial(struct controller *c, const struct config_serial *s, struct errbuf *err)
{
	int fd = -1;
	if (s->serial_out_path) {
		fd = open(s->serial_out_path, O_RDWR | O_CREAT | O_NONBLOCK | O_CLOEXEC | O_NOCTTY,
			  0600);
		if (fd < 0)
			return err_set(err, -errno, "serial: serial_out_path %s: %s",
				       s->serial_out_path, strerror(errno));
	}
	if (c->serial_fd >= 0)
		close(c->serial_fd);
	c->serial_fd = fd;
	return 0;
}

static int do_action(struct controller *c, struct vmm_action *a, struct errbuf *err)
{
	struct vm_config *cfg = &c->cfg;
	const char *module;
	int rc;
	/* The host's side first: a refused PUT leaves the old value. */
	switch (a->kind) {
	case VMM_PUT_BOOT_SOURCE:
		rc = host_check_boot(&a->u.boot, err);
		if (rc < 0)
			return err_wrap(err, rc, "boot-source");
		break;
	case VMM_PUT_DRIVE:
		rc = host_check_drive(&a->u.drive, err);
		if (rc < 0)
			return err_wrap(err, rc, "drive \"%s\"", a->u.drive.drive_id);
		break;
	case VMM_PUT_NET:
		rc = host_check_net(&a->u.net, err);
		if (rc < 0)
			return err_wrap(err, rc, "network interface \"%s\"", a->u.net.iface_id);
		break;
	case VMM_PUT_VSOCK:
		rc = host_check_vsock(&a->u.vsock, err);
		if (rc < 0)
			return err_wrap(err, rc, "vsock");
		break;
	default:
		break;
	}
	switch (a->kind) {
	case VMM_PUT_SERIAL:
		return set_serial(c, &a->u.serial, err);
	case VMM_PUT_BOOT_SOURCE:
		config_boot_free(&cfg->boot);
		cfg->boot = a->u.boot;
		memset(&a->u.boot, 0, sizeof(a->u.boot));
		return 0;
	case VMM_PUT_MACHINE_CONFIG:
	case VMM_PATCH_MACHINE_CONFIG:
		rc = config_parse_machine(a->u.json, &cfg->machine,
					  a->kind == VMM_PATCH_MACHINE_CONFIG, err);
		if (rc < 0)
			return err_wrap(err, rc, "machine-config");
		/* One template slot, as Firecracker: a cpu_template given
		 * (None too) replaces a custom template. */
		if (cfg->machine.cpu_template != CONFIG_CPU_TEMPLATE_CUSTOM) {
			cpu_template_free(cfg->cpu_config);
			cfg->cpu_config = NULL;
		}
		return 0;
	case VMM_PUT_CPU_CONFIG:
		cpu_template_free(cfg->cpu_config);
		cfg->cpu_config = a->u.cpu_config;
		a->u.cpu_config = NULL;
		cfg->machine.cpu_template = CONFIG_CPU_TEMPLATE_CUSTOM;
		return 0;
	case VMM_PUT_DRIVE:
		return config_drive_insert(cfg, &a->u.drive, true, err);
	case VMM_PUT_NET:
		return config_net_insert(cfg, &a->u.net, true, err);
	case VMM_PUT_VSOCK:
		config_vsock_free(&cfg->vsock);
		cfg->vsock = a->u.vsock;
		memset(&a->u.vsock, 0, sizeof(a->u.vsock));
		return 0;
	case VMM_PUT_ENTROPY:
		cfg->entropy = a->u.entropy;
		return 0;
	case VMM_PUT_LOGGER:
		rc = apply_logger(c, &a->u.logger, &module, err);
		if (rc < 0)
			return err_wrap(err, rc, "logger");
		config_logger_free(&cfg->logger);
		cfg->logger = a->u.logger;
		memset(&a->u.logger, 0, sizeof(a->u.logger));
		return 0;
	case VMM_PUT_METRICS:
		rc = controller_set_metrics(c, a->u.metrics.metrics_path, err);
		if (rc < 0)
			return rc;
		config_metrics_free(&cfg->metrics);
		cfg->metrics = a->u.metrics;
		memset(&a->u.metrics, 0, sizeof(a->u.metrics));
		return 0;
	case VMM_INSTANCE_START:
		return controller_start(c, err);
	case VMM_SEND_CTRL_ALT_DEL:
		rc = vm_send_ctrl_alt_del(&c->vm);
		return rc < 0 ? err_set(err, rc, "i8042: the keyboard queue is full (%s)",
					strerror(-rc))
			      : 0;
	case VMM_FLUSH_METRICS:
		if (!controller_metrics_enabled(c))
			return err_set(err, -ENOENT, "metrics are not configured: PUT /metrics first");
		rc = controller_flush_metrics(c);
		return rc < 0 ? err_set(err, rc, "metrics: %s", strerror(-rc)) : 0;
	case VMM_PAUSE:
		rc = vm_pause(&c->vm);
		if (rc == -ETIMEDOUT)
			return err_set(err, rc, "a vCPU did not stop in time; the microVM keeps running");
		if (rc < 0)
			return err_set(err, rc, "the microVM is stopping");
		c->state = CONTROLLER_PAUSED;
		return 0;
	case VMM_RESUME:
		vm_resume(&c->vm);
		c->state = CONTROLLER_RUNNING;
		return 0;
	case VMM_PATCH_DRIVE:
	case VMM_PATCH_NET:
		return do_patch_device(c, a, err);
	case VMM_SNAPSHOT_CREATE:
		return controller_snapshot_create(c, &a->u.snap_create, err);
	case VMM_SNAPSHOT_LOAD:
		return controller_snapshot_load(c, &a->u.snap_load, err);
	case VMM_PUT_MMDS:
	case VMM_PATCH_MMDS:
	case VMM_PUT_MMDS_CONFIG:
		return controller_mmds_action(c, a, err);
	default:
		return err_set(err, -EINVAL, "unknown action %d", (int)a->kind);
	}
}

void controller_handle(struct controller *c, struct vmm_action *a, struct vmm_reply *r)
{
	struct errbuf err = { "" };
	memset(r, 0, sizeof(*r));
	r->status = 204;
	bool booted = c->state != CONTROLLER_NOT_STARTED;
	if (booted && pre_boot_only(a->kind)) {
		vmm_reply_fault(r, 400, MSG_POST_BOOT);
	} else if (!booted && post_boot_only(a->kind)) {
		vmm_reply_fault(r, 400, MSG_PRE_BOOT);
	} else if (do_get(c, a, r) == 0) {
		/* answered */
	} else if (do_action(c, a, &err) < 0) {
		vmm_reply_fault(r, 400, err.msg);
	} else if (boot_resource(a->kind)) {
		c->configured = true;
	}
	if (r->status >= 400)
		log_info("%s: %d %s", vmm_action_name(a->kind), r->status,
			 r->body ? r->body : "");
	else
		log_debug("%s: %d", vmm_action_name(a->kind), r->status);
	vmm_action_free(a);
}
