/* The VMM thread's side of the control API: the controller that applies
 * vmm_actions (runtime/control/action.h: what an API request or the config
 * file turns into) to the pre-boot configuration and, after InstanceStart,
 * to the running VM.
 *
 * Firecracker's split (vmm/src/rpc_interface.rs): the API thread parses and
 * validates a request into a vmm_action; only the VMM thread runs
 * controller_handle(), so the vm_config and the struct vm need no locks.
 * The controller never blocks on the API: it answers each action at once. */
#ifndef EMBER_CONTROL_CONTROLLER_H
#define EMBER_CONTROL_CONTROLLER_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "config/config.h"
#include "mmds/mmds.h"
#include "runtime/base/err.h"
#include "runtime/base/evloop.h"
#include "runtime/base/log.h"
#include "runtime/control/action.h"
#include "runtime/vm/vm.h"

enum controller_state {
	CONTROLLER_NOT_STARTED,
	CONTROLLER_RUNNING,
	CONTROLLER_PAUSED,
};

struct controller_opts {
	struct evloop *loop;
	const char *id;           /* instance id (GET /) */
	const char *vmm_version;  /* GET / and GET /version */
	bool has_accel;           /* --accel given: overrides machine-config */
	enum config_accel accel;
	bool boot_timer;
	int console_in, console_out;
	struct timespec start_wall, start_cpu;
	/* The logger as the command line set it, for PUT /logger to change
	 * only what its body names. */
	bool show_level, show_log_origin;
	struct api_counters *api; /* NULL without an API server */
	size_t mmds_size_limit;   /* --mmds-size-limit; 0: MMDS_DEFAULT_LIMIT */
};

struct controller_metrics;

struct controller {
	struct controller_opts opts;
	struct vm_config cfg;
	struct vm vm;
	atomic_bool vm_live; /* vm is built (read by signal handlers) */
	enum controller_state state;
	int wake_efd;            /* signals and other threads wake the loop */
	atomic_int exit_request; /* -1, or the exit code asked before boot */
	bool show_level, show_log_origin;
	/* log.c keeps the module string by pointer and reads it unlocked, so
	 * every module string ever set stays alive until controller_destroy. */
	char *modules[16];
	unsigned nr_modules;
	struct controller_metrics *metrics;
	/* PUT /serial's serial_out_path, open from the PUT on (so a bad path
	 * fails there) until replaced or the controller goes; -1: stdout. */
	int serial_fd;
	/* A boot resource (anything but the logger and metrics) was set: a
	 * snapshot can no longer be loaded (Firecracker's rule). */
	bool configured;
	struct mmds mmds; /* the metadata store: VMM thread only (mmds/mmds.h) */
	bool finished; /* controller_finish ran: exit_code is final */
	int exit_code;
};

/* Registers the wake eventfd on opts->loop. Returns 0 or -errno. */
int controller_init(struct controller *c, const struct controller_opts *opts);
/* Stops and frees the VM if any, writes the last metrics line. */
void controller_destroy(struct controller *c);
/* Runs one action on the VMM thread; *a is consumed (freed). */
void controller_handle(struct controller *c, struct vmm_action *a, struct vmm_reply *r);
/* Takes a whole configuration (--config-file): moves *cfg in (cfg is left
 * as after config_init), applies its logger and metrics sections. */
int controller_load_config(struct controller *c, struct vm_config *cfg, struct errbuf *err);
/* A config file's start: its "snapshot-load" section restores, otherwise
 * InstanceStart. */
int controller_start_config(struct controller *c, struct errbuf *err);
/* InstanceStart: builds and starts the VM. On failure nothing is left
 * built and the state stays "Not started". */
int controller_start(struct controller *c, struct errbuf *err);
/* Opens the metrics sink (--metrics-path, PUT /metrics). */
int controller_set_metrics(struct controller *c, const char *path, struct errbuf *err);
/* Writes one metrics line now (FlushMetrics; the 60 s timer). */
int controller_flush_metrics(struct controller *c);
/* From any thread or a signal handler: end the process with this code
 * (the VM, when running, gets vm_request_exit). */
void controller_request_exit(struct controller *c, int code);
/* True when the loop should end: exit asked for, or the guest ended. */
bool controller_done(struct controller *c);
/* Stops the VM (if any) and returns the process exit code. */
int controller_finish(struct controller *c);
const char *controller_state_name(enum controller_state s);

/* PUT /snapshot/create (Paused only) and /snapshot/load (fresh VMM only);
 * runtime/control/snapshot.c. */
int controller_snapshot_create(struct controller *c, const struct config_snapshot_create *req,
			       struct errbuf *err);
int controller_snapshot_load(struct controller *c, const struct config_snapshot_load *req,
			     struct errbuf *err);
/* The VM just built (from a config or a snapshot) goes live: a signal that
 * came before it existed still ends it; its vCPU threads start. On failure
 * the VM is gone again. */
int controller_go_live(struct controller *c, struct errbuf *err);
/* The options every VM of this process is built with. */
struct vm_opts controller_vm_opts(const struct controller *c);

/* MMDS (runtime/control/mmds.c): PUT/PATCH /mmds and PUT /mmds/config;
 * apply cfg.mmds to the store's service; --metadata's file. */
int controller_mmds_action(struct controller *c, struct vmm_action *a, struct errbuf *err);
void controller_mmds_apply(struct controller *c);
int controller_mmds_load_file(struct controller *c, const char *path, struct errbuf *err);

/* Internal to the controller (runtime/control/metrics.c). */
int controller_metrics_init(struct controller *c);
void controller_metrics_destroy(struct controller *c);
bool controller_metrics_enabled(struct controller *c);

#endif
