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

/* A PUT or PATCH request once its endpoint is known: what a body parser
 * gets. patch tells PUT from PATCH for endpoints that take both. */
struct body_req {
	bool patch;
	const char *id; /* the path's id segment; NULL when the endpoint has none */
	json_t *json;
};

static int route_actions(struct api_route *r, const struct body_req *q)
{
	static const char *const names[] = { "InstanceStart", "SendCtrlAltDel", "FlushMetrics",
					     NULL };
	static const enum vmm_action_kind kinds[] = { VMM_INSTANCE_START, VMM_SEND_CTRL_ALT_DEL,
						      VMM_FLUSH_METRICS };
	unsigned i;
	if (enum_field(r, q->json, "action_type", names, &i) < 0)
		return -1;
	r->action.kind = kinds[i];
	return 0;
}

static int route_vm(struct api_route *r, const struct body_req *q)
{
	static const char *const names[] = { "Paused", "Resumed", NULL };
	unsigned i;
	if (enum_field(r, q->json, "state", names, &i) < 0)
		return -1;
	r->action.kind = i == 0 ? VMM_PAUSE : VMM_RESUME;
	return 0;
}

/* The single-object PUT sections are parsed straight into the action. The
 * parsers leave their output untouched on failure, so the action is zeroed
 * again for vmm_action_free. */
static int section_done(struct api_route *r, int rc, const char *name, const struct errbuf *err)
{
	if (rc == 0)
		return 0;
	memset(&r->action, 0, sizeof(r->action));
	return fault(r, "%s: %s", name, err->msg);
}

static int route_boot(struct api_route *r, const struct body_req *q)
{
	struct errbuf err = { "" };
	r->action.kind = VMM_PUT_BOOT_SOURCE;
	return section_done(r, config_parse_boot(q->json, &r->action.u.boot, &err), "boot-source",
			    &err);
}

static int route_vsock(struct api_route *r, const struct body_req *q)
{
	struct errbuf err = { "" };
	r->action.kind = VMM_PUT_VSOCK;
	return section_done(r, config_parse_vsock(q->json, &r->action.u.vsock, &err), "vsock",
			    &err);
}

static int route_entropy(struct api_route *r, const struct body_req *q)
{
	struct errbuf err = { "" };
	r->action.kind = VMM_PUT_ENTROPY;
	return section_done(r, config_parse_entropy(q->json, &r->action.u.entropy, &err),
			    "entropy", &err);
}

static int route_logger(struct api_route *r, const struct body_req *q)
{
	struct errbuf err = { "" };
	r->action.kind = VMM_PUT_LOGGER;
	return section_done(r, config_parse_logger(q->json, &r->action.u.logger, &err), "logger",
			    &err);
}

static int route_metrics(struct api_route *r, const struct body_req *q)
{
	struct errbuf err = { "" };
	r->action.kind = VMM_PUT_METRICS;
	return section_done(r, config_parse_metrics(q->json, &r->action.u.metrics, &err),
			    "metrics", &err);
}

static int route_serial(struct api_route *r, const struct body_req *q)
{
	struct errbuf err = { "" };
	r->action.kind = VMM_PUT_SERIAL;
	return section_done(r, config_parse_serial(q->json, &r->action.u.serial, &err), "serial",
			    &err);
}

static int route_snapshot_create(struct api_route *r, const struct body_req *q)
{
	struct errbuf err = { "" };
	r->action.kind = VMM_SNAPSHOT_CREATE;
	return section_done(r, config_parse_snapshot_create(q->json, &r->action.u.snap_create, &err),
			    "snapshot/create", &err);
}

static int route_snapshot_load(struct api_route *r, const struct body_req *q)
{
	struct errbuf err = { "" };
	r->action.kind = VMM_SNAPSHOT_LOAD;
	return section_done(r, config_parse_snapshot_load(q->json, &r->action.u.snap_load, &err),
			    "snapshot/load", &err);
}

static int route_cpu_config(struct api_route *r, const struct body_req *q)
{
	struct errbuf err = { "" };
	r->action.kind = VMM_PUT_CPU_CONFIG;
	return section_done(r, config_parse_cpu_config(q->json, &r->action.u.cpu_config, &err),
			    "cpu-config", &err);
}

static int route_machine(struct api_route *r, const struct body_req *q)
{
	/* Checked here against the defaults for types, ranges and unknown
	 * fields; the controller applies it to the current value. */
	struct config_machine m;
	struct errbuf err = { "" };
	config_machine_init(&m);
	if (config_parse_machine(q->json, &m, q->patch, &err) < 0)
		return fault(r, "machine-config: %s", err.msg);
	r->action.kind = q->patch ? VMM_PATCH_MACHINE_CONFIG : VMM_PUT_MACHINE_CONFIG;
	r->action.u.json = json_incref(q->json);
	return 0;
}

static int route_drive(struct api_route *r, const struct body_req *q)
{
	struct errbuf err = { "" };
	struct vmm_action *a = &r->action;
	const char *id = q->id;
	if (check_id(r, "drive", id) < 0)
		return -1;
	if (q->patch) {
		/* Validated against a drive of that id; applied by the controller. */
		struct config_drive tmp = { .drive_id = (char *)id };
		if (config_parse_drive_patch(q->json, &tmp, &err) < 0)
			return fault(r, "drive \"%s\": %s", id, err.msg);
		free(tmp.path_on_host);
		a->kind = VMM_PATCH_DRIVE;
		a->u.patch.id = strdup(id);
		a->u.patch.json = json_incref(q->json);
		if (!a->u.patch.id)
			return fault(r, "out of memory");
		return 0;
	}
	struct config_drive d;
	if (config_parse_drive(q->json, &d, &err) < 0)
		return fault(r, "drive \"%s\": %s", id, err.msg);
	if (match_id(r, d.drive_id, id) < 0) {
		config_drive_free(&d);
		return -1;
	}
	a->kind = VMM_PUT_DRIVE;
	a->u.drive = d;
	return 0;
}

static int route_net(struct api_route *r, const struct body_req *q)
{
	struct errbuf err = { "" };
	struct vmm_action *a = &r->action;
	const char *id = q->id;
	if (check_id(r, "network interface", id) < 0)
		return -1;
	if (q->patch) {
		struct config_net tmp = { .iface_id = (char *)id };
		if (config_parse_net_patch(q->json, &tmp, &err) < 0)
			return fault(r, "network interface \"%s\": %s", id, err.msg);
		a->kind = VMM_PATCH_NET;
		a->u.patch.id = strdup(id);
		a->u.patch.json = json_incref(q->json);
		if (!a->u.patch.id)
			return fault(r, "out of memory");
		return 0;
	}
	struct config_net n;
	if (config_parse_net(q->json, &n, &err) < 0)
		return fault(r, "network interface \"%s\": %s", id, err.msg);
	if (match_id(r, n.iface_id, id) < 0) {
		config_net_free(&n);
		return -1;
	}
	a->kind = VMM_PUT_NET;
	a->u.net = n;
	return 0;
}

/* PUT /mmds and PATCH /mmds: any JSON object; the size limit and the
 * merge are the VMM thread's (mmds/store.c). */
static int route_mmds(struct api_route *r, const struct body_req *q)
{
	r->action.kind = q->patch ? VMM_PATCH_MMDS : VMM_PUT_MMDS;
	r->action.u.json = json_incref(q->json);
	return 0;
}

static int route_mmds_config(struct api_route *r, const struct body_req *q)
{
	struct errbuf err = { "" };
	r->action.kind = VMM_PUT_MMDS_CONFIG;
	return section_done(r, config_parse_mmds(q->json, &r->action.u.mmds, &err), "mmds-config",
			    &err);
}

/* Firecracker endpoints Ember does not implement yet: a clear 400, not
 * "invalid path", so that an orchestrator's log says what is missing. */
static const char *unsupported(const char *first)
{
	static const struct {
		const char *seg, *what;
	} list[] = {
		{ "balloon", "the balloon device" },
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
		{ "mmds", NULL, API_EP_GET_MMDS, VMM_GET_MMDS },
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

#define M_PUT 1u
#define M_PATCH 2u

/* The endpoints that take a body. An endpoint with an id (noun, key) takes
 * /seg/{key} and answers /seg alone with "Missing <noun> id"; one with a
 * sub takes /seg/sub only; any other takes /seg only. One endpoint per
 * method: the metrics count PUT and PATCH apart. */
static const struct body_route {
	unsigned methods;
	const char *seg;
	const char *sub;
	struct {
		const char *noun, *key;
	} id;
	enum api_endpoint ep;
	int (*parse)(struct api_route *r, const struct body_req *q);
} body_routes[] = {
	{ M_PUT, "actions", NULL, { NULL, NULL }, API_EP_PUT_ACTIONS, route_actions },
	{ M_PUT, "boot-source", NULL, { NULL, NULL }, API_EP_PUT_BOOT_SOURCE, route_boot },
	{ M_PUT, "vsock", NULL, { NULL, NULL }, API_EP_PUT_VSOCK, route_vsock },
	{ M_PUT, "entropy", NULL, { NULL, NULL }, API_EP_PUT_ENTROPY, route_entropy },
	{ M_PUT, "logger", NULL, { NULL, NULL }, API_EP_PUT_LOGGER, route_logger },
	{ M_PUT, "metrics", NULL, { NULL, NULL }, API_EP_PUT_METRICS, route_metrics },
	{ M_PUT, "serial", NULL, { NULL, NULL }, API_EP_PUT_SERIAL, route_serial },
	{ M_PUT, "machine-config", NULL, { NULL, NULL }, API_EP_PUT_MACHINE_CONFIG, route_machine },
	{ M_PATCH, "machine-config", NULL, { NULL, NULL }, API_EP_PATCH_MACHINE_CONFIG,
	  route_machine },
	{ M_PATCH, "vm", NULL, { NULL, NULL }, API_EP_PATCH_VM, route_vm },
	{ M_PUT, "drives", NULL, { "drive", "drive_id" }, API_EP_PUT_DRIVE, route_drive },
	{ M_PATCH, "drives", NULL, { "drive", "drive_id" }, API_EP_PATCH_DRIVE, route_drive },
	{ M_PUT, "network-interfaces", NULL, { "interface", "iface_id" }, API_EP_PUT_NETWORK,
	  route_net },
	{ M_PATCH, "network-interfaces", NULL, { "interface", "iface_id" }, API_EP_PATCH_NETWORK,
	  route_net },
	{ M_PUT, "snapshot", "create", { NULL, NULL }, API_EP_PUT_SNAPSHOT_CREATE,
	  route_snapshot_create },
	{ M_PUT, "snapshot", "load", { NULL, NULL }, API_EP_PUT_SNAPSHOT_LOAD, route_snapshot_load },
	{ M_PUT, "mmds", "config", { NULL, NULL }, API_EP_PUT_MMDS_CONFIG, route_mmds_config },
	{ M_PUT, "mmds", NULL, { NULL, NULL }, API_EP_PUT_MMDS, route_mmds },
	{ M_PATCH, "mmds", NULL, { NULL, NULL }, API_EP_PATCH_MMDS, route_mmds },
	{ M_PUT, "cpu-config", NULL, { NULL, NULL }, API_EP_PUT_CPU_CONFIG, route_cpu_config },
};

static const struct body_route *find_body_route(unsigned method,
						char seg[MAX_SEGMENTS][SEGMENT_MAX], int n)
{
	for (size_t i = 0; i < sizeof(body_routes) / sizeof(body_routes[0]); i++) {
		const struct body_route *e = &body_routes[i];
		int min = e->sub ? 2 : 1, max = e->id.key || e->sub ? 2 : 1;
		if ((e->methods & method) && n >= min && n <= max && strcmp(seg[0], e->seg) == 0 &&
		    (!e->sub || strcmp(seg[1], e->sub) == 0))
			return e;
	}
	return NULL;
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
	const struct body_route *e = find_body_route(put ? M_PUT : M_PATCH, seg, n);
	if (!e)
		return bad_path(out, method, path);
	out->ep = e->ep;
	if (e->id.key && n == 1)
		return fault(out, "Missing %s id in the path: %s /%s/{%s}.", e->id.noun, method,
			     e->seg, e->id.key);

	struct body_req q = { .patch = patch, .id = e->id.key ? seg[1] : NULL };
	if (load_body(out, method, body, body_len, &q.json) < 0)
		return -1;
	int rc = e->parse(out, &q);
	json_decref(q.json);
	if (rc < 0) {
		vmm_action_free(&out->action);
		memset(&out->action, 0, sizeof(out->action));
	}
	return rc < 0 ? -1 : 0;
}
