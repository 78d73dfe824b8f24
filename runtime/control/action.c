/* The API/VMM contract's few functions: freeing an action, naming it, and
 * building replies. Both threads call these, so nothing here touches the
 * controller or the VM. */
#include "runtime/control/action.h"

#include <stdlib.h>

static const char *const action_names[VMM_ACTION_COUNT] = {
	[VMM_GET_INSTANCE_INFO] = "GET /",
	[VMM_GET_VERSION] = "GET /version",
	[VMM_GET_MACHINE_CONFIG] = "GET /machine-config",
	[VMM_GET_VM_CONFIG] = "GET /vm/config",
	[VMM_PUT_BOOT_SOURCE] = "PUT /boot-source",
	[VMM_PUT_MACHINE_CONFIG] = "PUT /machine-config",
	[VMM_PATCH_MACHINE_CONFIG] = "PATCH /machine-config",
	[VMM_PUT_DRIVE] = "PUT /drives",
	[VMM_PATCH_DRIVE] = "PATCH /drives",
	[VMM_PUT_NET] = "PUT /network-interfaces",
	[VMM_PATCH_NET] = "PATCH /network-interfaces",
	[VMM_PUT_VSOCK] = "PUT /vsock",
	[VMM_PUT_ENTROPY] = "PUT /entropy",
	[VMM_PUT_LOGGER] = "PUT /logger",
	[VMM_PUT_METRICS] = "PUT /metrics",
	[VMM_PUT_SERIAL] = "PUT /serial",
	[VMM_INSTANCE_START] = "InstanceStart",
	[VMM_SEND_CTRL_ALT_DEL] = "SendCtrlAltDel",
	[VMM_FLUSH_METRICS] = "FlushMetrics",
	[VMM_PAUSE] = "PATCH /vm Paused",
	[VMM_RESUME] = "PATCH /vm Resumed",
	[VMM_SNAPSHOT_CREATE] = "PUT /snapshot/create",
	[VMM_SNAPSHOT_LOAD] = "PUT /snapshot/load",
	[VMM_GET_MMDS] = "GET /mmds",
	[VMM_PUT_MMDS] = "PUT /mmds",
	[VMM_PATCH_MMDS] = "PATCH /mmds",
	[VMM_PUT_MMDS_CONFIG] = "PUT /mmds/config",
	[VMM_PUT_CPU_CONFIG] = "PUT /cpu-config",
};

const char *vmm_action_name(enum vmm_action_kind k)
{
	return (unsigned)k < VMM_ACTION_COUNT ? action_names[k] : "?";
}

void vmm_action_free(struct vmm_action *a)
{
	switch (a->kind) {
	case VMM_PUT_BOOT_SOURCE:
		config_boot_free(&a->u.boot);
		break;
	case VMM_PUT_DRIVE:
		config_drive_free(&a->u.drive);
		break;
	case VMM_PUT_NET:
		config_net_free(&a->u.net);
		break;
	case VMM_PUT_VSOCK:
		config_vsock_free(&a->u.vsock);
		break;
	case VMM_PUT_LOGGER:
		config_logger_free(&a->u.logger);
		break;
	case VMM_PUT_METRICS:
		config_metrics_free(&a->u.metrics);
		break;
	case VMM_PUT_SERIAL:
		config_serial_free(&a->u.serial);
		break;
	case VMM_SNAPSHOT_CREATE:
		config_snapshot_create_free(&a->u.snap_create);
		break;
	case VMM_SNAPSHOT_LOAD:
		config_snapshot_load_free(&a->u.snap_load);
		break;
	case VMM_PUT_MMDS_CONFIG:
		config_mmds_free(&a->u.mmds);
		break;
	case VMM_PUT_CPU_CONFIG:
		cpu_template_free(a->u.cpu_config);
		a->u.cpu_config = NULL;
		break;
	case VMM_PUT_MACHINE_CONFIG:
	case VMM_PATCH_MACHINE_CONFIG:
	case VMM_PUT_MMDS:
	case VMM_PATCH_MMDS:
		json_decref(a->u.json);
		a->u.json = NULL;
		break;
	case VMM_PATCH_DRIVE:
	case VMM_PATCH_NET:
		free(a->u.patch.id);
		json_decref(a->u.patch.json);
		a->u.patch.id = NULL;
		a->u.patch.json = NULL;
		break;
	default:
		break;
	}
}

void vmm_reply_free(struct vmm_reply *r)
{
	free(r->body);
	r->body = NULL;
}

void vmm_reply_fault(struct vmm_reply *r, int status, const char *msg)
{
	r->status = status;
	json_t *j = json_pack("{s:s}", "fault_message", msg);
	r->body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
}

void vmm_reply_json(struct vmm_reply *r, json_t *j)
{
	r->body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!r->body)
		vmm_reply_fault(r, 400, "out of memory building the reply");
	else
		r->status = 200;
}

void api_counters_add(struct api_counters *c, enum api_endpoint ep, int status)
{
	atomic_fetch_add(&c->requests, 1);
	if (status >= 400)
		atomic_fetch_add(&c->failures, 1);
	if (ep < 0 || ep >= API_EP_COUNT)
		return;
	atomic_fetch_add(&c->count[ep], 1);
	if (status >= 400)
		atomic_fetch_add(&c->fails[ep], 1);
}
