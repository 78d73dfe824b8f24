/* Request routing and validation, Firecracker's ParsedRequest in C. The
 * JSON bodies go through the same config/ section parsers as the config
 * file, so both give the same checks and the same error text. */
#include "api/router.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/base/err.h"

#define MAX_SEGMENTS 4
#define SEGMENT_MAX 128

static int fault(struct api_route *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fault(struct api_route *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->fault, sizeof(r->fault), fmt, ap);
	va_end(ap);
	r->status = 400;
	return -1;
}

/* Quotes untrusted text in a message: at most 64 characters, anything
 * non-printable as '?', so a reply or log line cannot be forged. */
static const char *echo(const char *s, char out[68])
{
	size_t i = 0;
	for (; s[i] && i < 64; i++)
		out[i] = (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"') ? s[i] : '?';
	if (s[i]) {
		out[i++] = '.';
		out[i++] = '.';
		out[i++] = '.';
	}
	out[i] = 0;
	return out;
}

/* "/a/b/" -> {"a", "b"}: leading and trailing slashes are ignored (as
 * Firecracker's split_terminator), empty segments inside are not. */
static int split_path(const char *path, char seg[MAX_SEGMENTS][SEGMENT_MAX], int *n)
{
	*n = 0;
	while (*path == '/')
		path++;
	while (*path) {
		const char *end = strchr(path, '/');
		size_t len = end ? (size_t)(end - path) : strlen(path);
		if (*n == MAX_SEGMENTS || len >= SEGMENT_MAX || len == 0)
			return -1;
		memcpy(seg[*n], path, len);
		seg[*n][len] = 0;
		(*n)++;
		path += len;
		if (*path == '/')
			path++;
	}
	return 0;
}

static int bad_path(struct api_route *r, const char *method, const char *path)
{
	char m[68], p[68];
	r->ep = API_EP_NONE;
	return fault(r, "Invalid request method and/or path: %s %s.", echo(method, m),
		     echo(path, p));
}

/* Parses the body of a PUT or PATCH: required, a JSON object. */
static int load_body(struct api_route *r, const char *method, const char *body, size_t len,
		     json_t **out)
{
	if (len == 0)
		return fault(r, "Empty %s request.", method);
	json_error_t je;
	/* Duplicate keys are refused (serde does) rather than last-wins. */
	json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (!j)
		return fault(r, "invalid JSON body at line %d, column %d: %s", je.line, je.column,
			     je.text);
	if (!json_is_object(j)) {
		json_decref(j);
		return fault(r, "the request body must be a JSON object");
	}
	*out = j;
	return 0;
}

static int check_id(struct api_route *r, const char *what, const char *id)
{
	char e[68];
	if (!config_id_valid(id))
		return fault(r,
			     "Invalid %s id \"%s\": ids are 1 to %d characters of "
			     "[A-Za-z0-9_].",
			     what, echo(id, e), CONFIG_ID_MAX);
	return 0;
}

/* Body's id key against the path's id (Firecracker insists they agree). */
static int match_id(struct api_route *r, const char *got, const char *want)
{
	if (got && strcmp(got, want) != 0)
		return fault(r, "The id from the path does not match the id from the body!");
	return 0;
}

/* One string field that must be one of names (NULL-ended). */
static int enum_field(struct api_route *r, json_t *j, const char *key, const char *const *names,
		      unsigned *out)
{
	char e[68];
	const char *k;
	json_t *v;
	json_object_foreach(j, k, v) {
		if (strcmp(k, key) != 0)
			return fault(r, "unknown field \"%s\", expected \"%s\"", echo(k, e), key);
	}
	v = json_object_get(j, key);
	if (!v)
		return fault(r, "missing field \"%s\"", key);
	if (!json_is_string(v))
		return fault(r, "field \"%s\" must be a string", key);
	for (unsigned i = 0; names[i]; i++) {
		if (strcmp(json_string_value(v), names[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	char list[160] = "";
	for (unsigned i = 0; names[i]; i++) {
		size_t used = strlen(list);
		snprintf(list + used, sizeof(list) - used, "%s\"%s\"", i ? ", " : "", names[i]);
	}
	return fault(r, "field \"%s\": unknown value \"%s\", expected one of %s", key,
		     echo(json_string_value(v), e), list);
}

static int route_actions(struct api_route *r, json_t *j)
{
	static const char *const names[] = { "InstanceStart", "SendCtrlAltDel", "FlushMetrics",
					     NULL };
	static const enum vmm_action_kind kinds[] = { VMM_INSTANCE_START, VMM_SEND_CTRL_ALT_DEL,
						      VMM_FLUSH_METRICS };
	unsigned i;
	if (enum_field(r, j, "action_type", names, &i) < 0)
		return -1;
	r->action.kind = kinds[i];
	return 0;
}

static int route_vm(struct api_route *r, json_t *j)
{
	static const char *const names[] = { "Paused", "Resumed", NULL };
	unsigned i;
	if (enum_field(r, j, "state", names, &i) < 0)
		return -1;
	r->action.kind = i == 0 ? VMM_PAUSE : VMM_RESUME;
	return 0;
}

/* The single-object PUT sections, parsed straight into the action. */
static int route_section(struct api_route *r, const char *name, json_t *j)
{
	struct errbuf err = { "" };
	struct vmm_action *a = &r->action;
	int rc;
	if (strcmp(name, "boot-source") == 0) {
		a->kind = VMM_PUT_BOOT_SOURCE;
		rc = config_parse_boot(j, &a->u.boot, &err);
	} else if (strcmp(name, "vsock") == 0) {
		a->kind = VMM_PUT_VSOCK;
		rc = config_parse_vsock(j, &a->u.vsock, &err);
	} else if (strcmp(name, "entropy") == 0) {
		a->kind = VMM_PUT_ENTROPY;
		rc = config_parse_entropy(j, &a->u.entropy, &err);
	} else if (strcmp(name, "logger") == 0) {
		a->kind = VMM_PUT_LOGGER;
		rc = config_parse_logger(j, &a->u.logger, &err);
	} else {
		a->kind = VMM_PUT_METRICS;
		rc = config_parse_metrics(j, &a->u.metrics, &err);
	}
	if (rc < 0) {
		memset(a, 0, sizeof(*a)); /* the parsers leave *out untouched on failure */
		return fault(r, "%s: %s", name, err.msg);
	}
	return 0;
}

static int route_machine(struct api_route *r, bool patch, json_t *j)
{
	/* Checked here against the defaults for types, ranges and unknown
	 * fields; the controller applies it to the current value. */
	struct config_machine m;
	struct errbuf err = { "" };
	config_machine_init(&m);
	if (config_parse_machine(j, &m, patch, &err) < 0)
		return fault(r, "machine-config: %s", err.msg);
	r->action.kind = patch ? VMM_PATCH_MACHINE_CONFIG : VMM_PUT_MACHINE_CONFIG;
	r->action.u.json = json_incref(j);
	return 0;
}

static int route_drive(struct api_route *r, bool patch, const char *id, json_t *j)
{
	struct errbuf err = { "" };
	struct vmm_action *a = &r->action;
	if (check_id(r, "drive", id) < 0)
		return -1;
	if (patch) {
		/* Validated against a drive of that id; applied by the controller. */
		struct config_drive tmp = { .drive_id = (char *)id };
		if (config_parse_drive_patch(j, &tmp, &err) < 0)
			return fault(r, "drive \"%s\": %s", id, err.msg);
		free(tmp.path_on_host);
		a->kind = VMM_PATCH_DRIVE;
		a->u.patch.id = strdup(id);
		a->u.patch.json = json_incref(j);
		if (!a->u.patch.id)
			return fault(r, "out of memory");
		return 0;
	}
	struct config_drive d;
	if (config_parse_drive(j, &d, &err) < 0)
		return fault(r, "drive \"%s\": %s", id, err.msg);
	if (match_id(r, d.drive_id, id) < 0) {
		config_drive_free(&d);
		return -1;
	}
	a->kind = VMM_PUT_DRIVE;
	a->u.drive = d;
	return 0;
}

static int route_net(struct api_route *r, bool patch, const char *id, json_t *j)
{
	struct errbuf err = { "" };
	struct vmm_action *a = &r->action;
	if (check_id(r, "network interface", id) < 0)
		return -1;
	if (patch) {
		struct config_net tmp = { .iface_id = (char *)id };
		if (config_parse_net_patch(j, &tmp, &err) < 0)
			return fault(r, "network interface \"%s\": %s", id, err.msg);
		a->kind = VMM_PATCH_NET;
		a->u.patch.id = strdup(id);
		a->u.patch.json = json_incref(j);
		if (!a->u.patch.id)
			return fault(r, "out of memory");
		return 0;
	}
	struct config_net n;
	if (config_parse_net(j, &n, &err) < 0)
		return fault(r, "network interface \"%s\": %s", id, err.msg);
	if (match_id(r, n.iface_id, id) < 0) {
		config_net_free(&n);
		return -1;
	}
	a->kind = VMM_PUT_NET;
	a->u.net = n;
	return 0;
}

/* Firecracker endpoints Ember does not implement yet: a clear 400, not
 * "invalid path", so that an orchestrator's log says what is missing. */
static const char *unsupported(const char *first)
{
	static const struct {
		const char *seg, *what;
	} list[] = {
		{ "snapshot", "snapshots" },
		{ "balloon", "the balloon device" },
		{ "mmds", "MMDS (the microVM metadata service)" },
		{ "cpu-config", "custom CPU templates" },
		{ "serial", "serial configuration" },
		{ "pmem", "pmem devices" },
		{ "hotplug", "memory hot-plugging" },
	};
	for (size_t i = 0; i < sizeof(list) / sizeof(list[0]); i++)
		if (strcmp(first, list[i].seg) == 0)
			return list[i].what;
	return NULL;
}

static int route_get(struct api_route *r, char seg[MAX_SEGMENTS][SEGMENT_MAX], int n)
{
	static const struct {
		const char *a, *b;
		enum api_endpoint ep;
		enum vmm_action_kind kind;
	} gets[] = {
		{ NULL, NULL, API_EP_GET_INSTANCE_INFO, VMM_GET_INSTANCE_INFO },
		{ "version", NULL, API_EP_GET_VERSION, VMM_GET_VERSION },
		{ "machine-config", NULL, API_EP_GET_MACHINE_CONFIG, VMM_GET_MACHINE_CONFIG },
		{ "vm", "config", API_EP_GET_VM_CONFIG, VMM_GET_VM_CONFIG },
	};
	for (size_t i = 0; i < sizeof(gets) / sizeof(gets[0]); i++) {
		int want = !gets[i].a ? 0 : !gets[i].b ? 1 : 2;
		if (n != want || (n > 0 && strcmp(seg[0], gets[i].a)) ||
		    (n > 1 && strcmp(seg[1], gets[i].b)))
			continue;
		r->ep = gets[i].ep;
		r->action.kind = gets[i].kind;
		return 0;
	}
	return 1;
}

int api_route(const char *method, const char *path, const char *body, size_t body_len,
	      struct api_route *out)
{
	char seg[MAX_SEGMENTS][SEGMENT_MAX];
	int n;
	memset(out, 0, sizeof(*out));
	out->ep = API_EP_NONE;
	if (!body)
		body_len = 0;
	if (body_len > API_MAX_BODY)
		return fault(out, "Request payload with size %zu is larger than the limit of %d "
				  "allowed by server.",
			     body_len, API_MAX_BODY);
	if (!method || !path || split_path(path, seg, &n) < 0)
		return bad_path(out, method ? method : "?", path ? path : "?");

	bool get = strcmp(method, "GET") == 0, put = strcmp(method, "PUT") == 0,
	     patch = strcmp(method, "PATCH") == 0;
	const char *what = n ? unsupported(seg[0]) : NULL;
	if (what && (get || put || patch)) {
		out->ep = API_EP_UNSUPPORTED;
		return fault(out, "%s: not supported yet by Ember", what);
	}
	if (get) {
		if (route_get(out, seg, n) != 0)
			return bad_path(out, method, path);
		if (body_len)
			return fault(out, "GET request cannot have a body.");
		return 0;
	}
	if (!put && !patch)
		return bad_path(out, method, path);

	/* Which endpoint, before looking at the body, so failures count. */
	const char *s0 = n ? seg[0] : "";
	bool one = n == 1, two = n == 2;
	enum api_endpoint ep = API_EP_NONE;
	if (put && one && strcmp(s0, "actions") == 0)
		ep = API_EP_PUT_ACTIONS;
	else if (put && one && strcmp(s0, "boot-source") == 0)
		ep = API_EP_PUT_BOOT_SOURCE;
	else if (put && one && strcmp(s0, "vsock") == 0)
		ep = API_EP_PUT_VSOCK;
	else if (put && one && strcmp(s0, "entropy") == 0)
		ep = API_EP_PUT_ENTROPY;
	else if (put && one && strcmp(s0, "logger") == 0)
		ep = API_EP_PUT_LOGGER;
	else if (put && one && strcmp(s0, "metrics") == 0)
		ep = API_EP_PUT_METRICS;
	else if (one && strcmp(s0, "machine-config") == 0)
		ep = put ? API_EP_PUT_MACHINE_CONFIG : API_EP_PATCH_MACHINE_CONFIG;
	else if (patch && one && strcmp(s0, "vm") == 0)
		ep = API_EP_PATCH_VM;
	else if ((one || two) && strcmp(s0, "drives") == 0)
		ep = put ? API_EP_PUT_DRIVE : API_EP_PATCH_DRIVE;
	else if ((one || two) && strcmp(s0, "network-interfaces") == 0)
		ep = put ? API_EP_PUT_NETWORK : API_EP_PATCH_NETWORK;
	if (ep == API_EP_NONE)
		return bad_path(out, method, path);
	out->ep = ep;
	if (one && (ep == API_EP_PUT_DRIVE || ep == API_EP_PATCH_DRIVE))
		return fault(out, "Missing drive id in the path: %s /drives/{drive_id}.", method);
	if (one && (ep == API_EP_PUT_NETWORK || ep == API_EP_PATCH_NETWORK))
		return fault(out, "Missing interface id in the path: %s "
				  "/network-interfaces/{iface_id}.",
			     method);

	json_t *j = NULL;
	if (load_body(out, method, body, body_len, &j) < 0)
		return -1;
	int rc;
	switch (ep) {
	case API_EP_PUT_ACTIONS: rc = route_actions(out, j); break;
	case API_EP_PATCH_VM: rc = route_vm(out, j); break;
	case API_EP_PUT_MACHINE_CONFIG:
	case API_EP_PATCH_MACHINE_CONFIG: rc = route_machine(out, patch, j); break;
	case API_EP_PUT_DRIVE:
	case API_EP_PATCH_DRIVE: rc = route_drive(out, patch, seg[1], j); break;
	case API_EP_PUT_NETWORK:
	case API_EP_PATCH_NETWORK: rc = route_net(out, patch, seg[1], j); break;
	default: rc = route_section(out, s0, j); break;
	}
	json_decref(j);
	if (rc < 0) {
		vmm_action_free(&out->action);
		memset(&out->action, 0, sizeof(out->action));
	}
	return rc < 0 ? -1 : 0;
}
