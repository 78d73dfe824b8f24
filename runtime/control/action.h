/* The contract between the API thread and the VMM thread, Firecracker's
 * rpc_interface in C: what a request becomes (vmm_action), what comes back
 * (vmm_reply), and the per-endpoint counters the API thread keeps for the
 * metrics line.
 *
 * Its own header so that api/ sees only this and config/'s section types,
 * never the controller's VM, backends or buses. */
#ifndef EMBER_CONTROL_ACTION_H
#define EMBER_CONTROL_ACTION_H

#include <jansson.h>
#include <stdatomic.h>

#include "config/config.h"
#include "config/snapshot.h"

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
	VMM_PUT_SERIAL, /* u.serial */
	VMM_INSTANCE_START,
	VMM_SEND_CTRL_ALT_DEL,
	VMM_FLUSH_METRICS,
	VMM_PAUSE,
	VMM_RESUME,
	VMM_SNAPSHOT_CREATE, /* u.snap_create; only while Paused */
	VMM_SNAPSHOT_LOAD,   /* u.snap_load; only on a fresh VMM */
	VMM_GET_MMDS,
	VMM_PUT_MMDS,        /* u.json: the new data (an object) */
	VMM_PATCH_MMDS,      /* u.json: an RFC 7396 merge patch */
	VMM_PUT_MMDS_CONFIG, /* u.mmds; pre-boot only */
	VMM_PUT_CPU_CONFIG,  /* u.cpu_config */
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
		struct config_serial serial;
		struct config_snapshot_create snap_create;
		struct config_snapshot_load snap_load;
		struct config_mmds mmds;
		struct cpu_template *cpu_config;
		json_t *json; /* a body whose meaning depends on the current state */
		struct {
			char *id;   /* from the URL */
			json_t *json;
		} patch;
	} u;
};

void vmm_action_free(struct vmm_action *a);
struct vmm_reply;
/* Whoever answers an action: consumes *a, fills *r. */
typedef void (*vmm_action_handler)(void *ctx, struct vmm_action *a, struct vmm_reply *r);
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
	API_EP_PUT_SNAPSHOT_CREATE,
	API_EP_PUT_SNAPSHOT_LOAD,
	API_EP_GET_MMDS,
	API_EP_PUT_MMDS,
	API_EP_PATCH_MMDS,
	API_EP_PUT_MMDS_CONFIG,
	API_EP_PUT_SERIAL,
	API_EP_PUT_CPU_CONFIG,
	API_EP_UNSUPPORTED, /* balloon, ...: known, not built */
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
	atomic_uint_fast64_t timed_out;       /* closed: no whole request by the deadline */
};

void api_counters_add(struct api_counters *c, enum api_endpoint ep, int status);

#endif
