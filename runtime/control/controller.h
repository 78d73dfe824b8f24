/* The VMM thread's side of the control API: the actions an API request (or
 * the config file) turns into, and the controller that applies them to the
 * pre-boot configuration and, after InstanceStart, to the running VM.
 *
 * Firecracker's split (vmm/src/rpc_interface.rs): the API thread parses and
 * validates a request into a vmm_action; only the VMM thread runs
 * controller_handle(), so the vm_config and the struct vm need no locks.
 * The controller never blocks on the API: it answers each action at once. */
#ifndef EMBER_CONTROLLER_H
#define EMBER_CONTROLLER_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "config/config.h"
#include "runtime/base/err.h"
#include "runtime/base/evloop.h"
#include "runtime/base/log.h"
#include "runtime/vm/vm.h"

enum vmm_action_kind {
	VMM_GET_INSTANCE_INFO,
	VMM_GET_VERSION,
	VMM_GET_MACHINE_CONFIG,
	VMM_GET_VM_CONFIG,
	VMM_PUT_BOOT_SOURCE,
	VMM_PUT_MACHINE_CONFIG,   /* u.json: validated body, applied to the current config */
	VMM_PATCH_MACHINE_CONFIG, /* u.json */
	VMM_PUT_DRIVE,
	VMM_PATCH_DRIVE, /* u.patch */
	VMM_PUT_NET,
	VMM_PATCH_NET, /* u.patch */
	VMM_PUT_VSOCK,
	VMM_PUT_ENTROPY,
	VMM_PUT_LOGGER,
	VMM_PUT_METRICS,
	VMM_INSTANCE_START,
	VMM_SEND_CTRL_ALT_DEL,
	VMM_FLUSH_METRICS,
	VMM_PAUSE,
	VMM_RESUME,
	VMM_ACTION_COUNT
};

/* One request for the VMM thread. It owns what its union member holds;
 * vmm_action_free releases it. */
struct vmm_action {
	enum vmm_action_kind kind;
	union {
		struct config_boot boot;
		struct config_drive drive;
		struct config_net net;
		struct config_vsock vsock;
		struct config_entropy entropy;
		struct config_logger logger;
		struct config_metrics metrics;
		json_t *json; /* a body whose meaning depends on the current state */
		struct {
			char *id;   /* from the URL */
			json_t *json;
		} patch;
	} u;
};

void vmm_action_free(struct vmm_action *a);
/* "PUT /boot-source" style name, for logs and metrics. */
const char *vmm_action_name(enum vmm_action_kind k);

/* The answer: an HTTP status and, for 200, a JSON body; for a failure
 * body holds {"fault_message": ...}. body is malloc'ed (NULL for 204). */
struct vmm_reply {
	int status;
	char *body;
};

void vmm_reply_free(struct vmm_reply *r);
/* Fills r with status and {"fault_message": msg}. */
void vmm_reply_fault(struct vmm_reply *r, int status, const char *msg);
/* Fills r with 200 and the serialised j (stolen); 500-free: ENOMEM is a 400. */
void vmm_reply_json(struct vmm_reply *r, json_t *j);

/* Counters the API thread keeps (atomics: it runs on its own thread) and
 * the metrics line reports, per endpoint as Firecracker's metrics do. */
enum api_endpoint {
	API_EP_NONE = -1, /* unknown path or method: counted only in totals */
	API_EP_GET_INSTANCE_INFO,
	API_EP_GET_VERSION,
	API_EP_GET_MACHINE_CONFIG,
	API_EP_GET_VM_CONFIG,
	API_EP_PUT_ACTIONS,
	API_EP_PUT_BOOT_SOURCE,
	API_EP_PUT_DRIVE,
	API_EP_PUT_LOGGER,
	API_EP_PUT_MACHINE_CONFIG,
	API_EP_PUT_METRICS,
	API_EP_PUT_NETWORK,
	API_EP_PUT_VSOCK,
	API_EP_PUT_ENTROPY,
	API_EP_PATCH_DRIVE,
	API_EP_PATCH_NETWORK,
	API_EP_PATCH_MACHINE_CONFIG,
	API_EP_PATCH_VM,
	API_EP_UNSUPPORTED, /* snapshot, balloon, mmds ...: known, not built */
	API_EP_COUNT
};

struct api_counters {
	atomic_uint_fast64_t count[API_EP_COUNT];
	atomic_uint_fast64_t fails[API_EP_COUNT];
	atomic_uint_fast64_t requests;        /* every request answered */
	atomic_uint_fast64_t failures;        /* every 4xx answered */
	atomic_uint_fast64_t bad_path;        /* unknown path or method */
	atomic_uint_fast64_t too_large;       /* body over the cap */
	atomic_uint_fast64_t connections;     /* accepted */
	atomic_uint_fast64_t rejected_conns;  /* over the connection limit */
};

void api_counters_add(struct api_counters *c, enum api_endpoint ep, int status);

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

/* Internal to the controller (runtime/control/metrics.c). */
int controller_metrics_init(struct controller *c);
void controller_metrics_destroy(struct controller *c);
bool controller_metrics_enabled(struct controller *c);

#endif
