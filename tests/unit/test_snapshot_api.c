/* PUT /snapshot/create and PUT /snapshot/load through the router, against
 * Firecracker's swagger (SnapshotCreateParams, SnapshotLoadParams,
 * MemoryBackend, NetworkOverride, VsockOverride): every field accepted with
 * good values and landing in the action, every bad one refused with 400
 * and a fault_message naming it, counted on the endpoint either way. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "api/router.h"

static struct api_route R;

static void done(void)
{
	vmm_action_free(&R.action);
	memset(&R, 0, sizeof(R));
}

TestSuite(snapshot_api, .fini = done);

static const struct config_snapshot_create *create_ok(const char *body)
{
	done();
	int rc = api_route("PUT", "/snapshot/create", body, strlen(body), &R);
	cr_assert_eq(rc, 0, "refused %s: %s", body, R.fault);
	cr_assert_eq(R.status, 0);
	cr_assert_eq(R.action.kind, VMM_SNAPSHOT_CREATE);
	cr_assert_eq(R.ep, API_EP_PUT_SNAPSHOT_CREATE);
	return &R.action.u.snap_create;
}

static const struct config_snapshot_load *load_ok(const char *body)
{
	done();
	int rc = api_route("PUT", "/snapshot/load", body, strlen(body), &R);
	cr_assert_eq(rc, 0, "refused %s: %s", body, R.fault);
	cr_assert_eq(R.status, 0);
	cr_assert_eq(R.action.kind, VMM_SNAPSHOT_LOAD);
	cr_assert_eq(R.ep, API_EP_PUT_SNAPSHOT_LOAD);
	return &R.action.u.snap_load;
}

/* Refused with 400, the fault naming frag, counted on ep, nothing left in
 * the action. */
static void refused(const char *path, const char *body, const char *frag, enum api_endpoint ep)
{
	done();
	int rc = api_route("PUT", path, body, body ? strlen(body) : 0, &R);
	cr_assert_eq(rc, -1, "%s accepted %s", path, body ? body : "(none)");
	cr_assert_eq(R.status, 400);
	cr_assert(strstr(R.fault, frag), "%s %s: fault \"%s\" lacks \"%s\"", path,
		  body ? body : "(none)", R.fault, frag);
	cr_assert_null(strchr(R.fault, '\n'));
	cr_assert_eq(R.ep, ep, "%s: endpoint %d, want %d", path, R.ep, ep);
	static const struct vmm_action zero;
	cr_assert(memcmp(&R.action, &zero, sizeof(zero)) == 0, "action left filled");
}

static void create_refused(const char *body, const char *frag)
{
	refused("/snapshot/create", body, frag, API_EP_PUT_SNAPSHOT_CREATE);
	cr_assert(strncmp(R.fault, "snapshot/create: ", 17) == 0 || !body || !*body ||
			  strstr(R.fault, "JSON"),
		  "fault \"%s\" does not say which request", R.fault);
}

static void load_refused(const char *body, const char *frag)
{
	refused("/snapshot/load", body, frag, API_EP_PUT_SNAPSHOT_LOAD);
	cr_assert(strncmp(R.fault, "snapshot/load: ", 15) == 0 || !body || !*body ||
			  strstr(R.fault, "JSON"),
		  "fault \"%s\" does not say which request", R.fault);
}

/* ---- PUT /snapshot/create ---- */

Test(snapshot_api, create_every_field)
{
	const struct config_snapshot_create *c = create_ok(
		"{\"snapshot_type\":\"Full\",\"snapshot_path\":\"/s/vm.state\","
		"\"mem_file_path\":\"/s/vm.mem\"}");
	cr_assert_eq(c->type, CONFIG_SNAPSHOT_FULL);
	cr_assert_str_eq(c->snapshot_path, "/s/vm.state");
	cr_assert_str_eq(c->mem_file_path, "/s/vm.mem");
	c = create_ok("{\"snapshot_type\":\"Diff\",\"snapshot_path\":\"d.state\","
		      "\"mem_file_path\":\"d.mem\"}");
	cr_assert_eq(c->type, CONFIG_SNAPSHOT_DIFF);
	cr_assert_str_eq(c->snapshot_path, "d.state");
	cr_assert_str_eq(c->mem_file_path, "d.mem");
}

Test(snapshot_api, create_type_defaults_to_full)
{
	const struct config_snapshot_create *c =
		create_ok("{\"mem_file_path\":\"/m\",\"snapshot_path\":\"/s\"}");
	cr_assert_eq(c->type, CONFIG_SNAPSHOT_FULL);
	cr_assert_str_eq(c->snapshot_path, "/s");
	cr_assert_str_eq(c->mem_file_path, "/m");
}

Test(snapshot_api, create_refusals)
{
	create_refused("{\"mem_file_path\":\"/m\"}", "missing field \"snapshot_path\"");
	create_refused("{\"snapshot_path\":\"/s\"}", "missing field \"mem_file_path\"");
	create_refused("{\"snapshot_type\":\"Full\"}", "missing field \"snapshot_path\"");
	create_refused("{}", "missing field \"snapshot_path\"");
	create_refused("{\"snapshot_path\":\"\",\"mem_file_path\":\"/m\"}",
		       "field \"snapshot_path\" must not be empty");
	create_refused("{\"snapshot_path\":\"/s\",\"mem_file_path\":\"\"}",
		       "field \"mem_file_path\" must not be empty");
	create_refused("{\"snapshot_type\":\"Incremental\",\"snapshot_path\":\"/s\","
		       "\"mem_file_path\":\"/m\"}",
		       "field \"snapshot_type\" must be one of \"Full\", \"Diff\" (got \"Incremental\")");
	create_refused("{\"snapshot_type\":\"full\",\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\"}",
		       "snapshot_type");
	create_refused("{\"snapshot_type\":1,\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\"}",
		       "field \"snapshot_type\" must be a string (got integer)");
	create_refused("{\"snapshot_path\":7,\"mem_file_path\":\"/m\"}",
		       "field \"snapshot_path\" must be a string (got integer)");
	create_refused("{\"snapshot_path\":\"/s\",\"mem_file_path\":[\"/m\"]}",
		       "field \"mem_file_path\" must be a string (got array)");
	create_refused("{\"snapshot_path\":\"/s\",\"mem_file_path\":null}",
		       "field \"mem_file_path\" must be a string (got null)");
	/* Load's fields and older Firecrackers' "version" are not create's. */
	create_refused("{\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\",\"version\":\"1.0.0\"}",
		       "unknown field \"version\"");
	create_refused("{\"snapshot_path\":\"/s\",\"mem_backend\":{\"backend_type\":\"File\","
		       "\"backend_path\":\"/m\"}}",
		       "unknown field \"mem_backend\"");
	create_refused("{\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\",\"resume_vm\":true}",
		       "unknown field \"resume_vm\"");
}

Test(snapshot_api, create_malformed_bodies)
{
	create_refused(NULL, "Empty PUT request");
	create_refused("", "Empty PUT request");
	create_refused("{\"snapshot_path\":\"/s\",", "invalid JSON body at line 1");
	create_refused("[\"/s\",\"/m\"]", "must be a JSON object");
	create_refused("{\"snapshot_path\":\"/s\",\"snapshot_path\":\"/t\",\"mem_file_path\":\"/m\"}",
		       "duplicate");
	create_refused("{\"snapshot_path\":\"/s\\u0000x\",\"mem_file_path\":\"/m\"}", "invalid JSON");
}

/* ---- PUT /snapshot/load ---- */

Test(snapshot_api, load_file_backend)
{
	const struct config_snapshot_load *l = load_ok(
		"{\"snapshot_path\":\"/s/vm.state\","
		"\"mem_backend\":{\"backend_type\":\"File\",\"backend_path\":\"/s/vm.mem\"}}");
	cr_assert_str_eq(l->snapshot_path, "/s/vm.state");
	cr_assert_eq(l->mem_backend, CONFIG_MEM_FILE);
	cr_assert_str_eq(l->mem_path, "/s/vm.mem");
	/* The defaults. */
	cr_assert_not(l->track_dirty_pages);
	cr_assert_not(l->resume_vm);
	cr_assert_not(l->clock_realtime);
	cr_assert_eq(l->n_net_overrides, 0);
	cr_assert_null(l->vsock_uds_path);
}

Test(snapshot_api, load_uffd_backend)
{
	const struct config_snapshot_load *l = load_ok(
		"{\"snapshot_path\":\"/s\",\"mem_backend\":{\"backend_path\":\"/run/uffd.sock\","
		"\"backend_type\":\"Uffd\"}}");
	cr_assert_eq(l->mem_backend, CONFIG_MEM_UFFD);
	cr_assert_str_eq(l->mem_path, "/run/uffd.sock");
}

/* The older spellings: mem_file_path (a File backend), enable_diff_snapshots. */
Test(snapshot_api, load_deprecated_fields)
{
	const struct config_snapshot_load *l =
		load_ok("{\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\"}");
	cr_assert_eq(l->mem_backend, CONFIG_MEM_FILE);
	cr_assert_str_eq(l->mem_path, "/m");
	cr_assert_not(l->track_dirty_pages);
	l = load_ok("{\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\",\"enable_diff_snapshots\":true}");
	cr_assert(l->track_dirty_pages);
	l = load_ok("{\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\",\"enable_diff_snapshots\":false,"
		    "\"track_dirty_pages\":true}");
	cr_assert(l->track_dirty_pages, "either one turns tracking on, as in Firecracker");
	l = load_ok("{\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\",\"enable_diff_snapshots\":false,"
		    "\"track_dirty_pages\":false}");
	cr_assert_not(l->track_dirty_pages);
	/* null is "not given" for Firecracker's Option fields. */
	l = load_ok("{\"snapshot_path\":\"/s\",\"mem_file_path\":null,"
		    "\"mem_backend\":{\"backend_type\":\"Uffd\",\"backend_path\":\"/u\"}}");
	cr_assert_eq(l->mem_backend, CONFIG_MEM_UFFD);
	l = load_ok("{\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\",\"mem_backend\":null,"
		    "\"vsock_override\":null}");
	cr_assert_eq(l->mem_backend, CONFIG_MEM_FILE);
	cr_assert_null(l->vsock_uds_path);
}

Test(snapshot_api, load_flags)
{
	const struct config_snapshot_load *l = load_ok(
		"{\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\",\"track_dirty_pages\":true,"
		"\"resume_vm\":true,\"clock_realtime\":true}");
	cr_assert(l->track_dirty_pages);
	cr_assert(l->resume_vm);
	cr_assert(l->clock_realtime);
	l = load_ok("{\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\",\"track_dirty_pages\":false,"
		    "\"resume_vm\":false,\"clock_realtime\":false}");
	cr_assert_not(l->track_dirty_pages);
	cr_assert_not(l->resume_vm);
	cr_assert_not(l->clock_realtime);
}

Test(snapshot_api, load_overrides)
{
	const struct config_snapshot_load *l = load_ok(
		"{\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\",\"network_overrides\":["
		"{\"iface_id\":\"eth0\",\"host_dev_name\":\"vmtap7\"},"
		"{\"iface_id\":\"net_1\",\"host_dev_name\":\"tap123456789012\"}],"
		"\"vsock_override\":{\"uds_path\":\"/run/clone3/v.sock\"}}");
	cr_assert_eq(l->n_net_overrides, 2);
	cr_assert_str_eq(l->net_overrides[0].iface_id, "eth0");
	cr_assert_str_eq(l->net_overrides[0].host_dev_name, "vmtap7");
	cr_assert_str_eq(l->net_overrides[1].iface_id, "net_1");
	cr_assert_str_eq(l->net_overrides[1].host_dev_name, "tap123456789012");
	cr_assert_str_eq(config_net_override(l, "eth0"), "vmtap7");
	cr_assert_str_eq(config_net_override(l, "net_1"), "tap123456789012");
	cr_assert_null(config_net_override(l, "eth2"));
	cr_assert_str_eq(l->vsock_uds_path, "/run/clone3/v.sock");
	l = load_ok("{\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\",\"network_overrides\":[]}");
	cr_assert_eq(l->n_net_overrides, 0);
	cr_assert_null(config_net_override(l, "eth0"));
}

Test(snapshot_api, load_as_many_overrides_as_allowed)
{
	static char body[CONFIG_MAX_NET_OVERRIDES * 64 + 128];
	int n = snprintf(body, sizeof(body),
			 "{\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\",\"network_overrides\":[");
	for (int i = 0; i < CONFIG_MAX_NET_OVERRIDES; i++)
		n += snprintf(body + n, sizeof(body) - n,
			      "%s{\"iface_id\":\"eth%d\",\"host_dev_name\":\"tap%d\"}", i ? "," : "",
			      i, i);
	snprintf(body + n, sizeof(body) - n, "]}");
	const struct config_snapshot_load *l = load_ok(body);
	cr_assert_eq(l->n_net_overrides, CONFIG_MAX_NET_OVERRIDES);
	cr_assert_str_eq(config_net_override(l, "eth63"), "tap63");
}

/* "Snapshot" (the default) and "None" both mean what Ember's snapshots
 * have: no huge pages. */
Test(snapshot_api, load_huge_pages)
{
	load_ok("{\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\",\"huge_pages\":\"Snapshot\"}");
	load_ok("{\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\",\"huge_pages\":\"None\"}");
	load_refused("{\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\",\"huge_pages\":\"2M\"}",
		     "field \"huge_pages\": \"2M\": not supported yet");
	load_refused("{\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\",\"huge_pages\":\"Transparent\"}",
		     "field \"huge_pages\": \"Transparent\": not supported yet");
	load_refused("{\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\",\"huge_pages\":\"1G\"}",
		     "field \"huge_pages\" must be one of \"Snapshot\", \"None\", \"Transparent\", \"2M\"");
	load_refused("{\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\",\"huge_pages\":\"none\"}",
		     "huge_pages");
	load_refused("{\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\",\"huge_pages\":2}",
		     "field \"huge_pages\" must be a string (got integer)");
}

/* Every field Firecracker's swagger has, at once. */
Test(snapshot_api, load_everything)
{
	const struct config_snapshot_load *l = load_ok(
		"{\"snapshot_path\":\"./snap\",\"mem_backend\":{\"backend_type\":\"Uffd\","
		"\"backend_path\":\"./uffd.sock\"},\"enable_diff_snapshots\":false,"
		"\"track_dirty_pages\":true,\"resume_vm\":true,\"network_overrides\":"
		"[{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap9\"}],\"vsock_override\":"
		"{\"uds_path\":\"./v.sock\"},\"clock_realtime\":true,\"huge_pages\":\"None\"}");
	cr_assert_str_eq(l->snapshot_path, "./snap");
	cr_assert_eq(l->mem_backend, CONFIG_MEM_UFFD);
	cr_assert_str_eq(l->mem_path, "./uffd.sock");
	cr_assert(l->track_dirty_pages && l->resume_vm && l->clock_realtime);
	cr_assert_eq(l->n_net_overrides, 1);
	cr_assert_str_eq(config_net_override(l, "eth0"), "tap9");
	cr_assert_str_eq(l->vsock_uds_path, "./v.sock");
}

#define LOAD_MEM "\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\""

Test(snapshot_api, load_memory_refusals)
{
	load_refused("{\"mem_file_path\":\"/m\"}", "missing field \"snapshot_path\"");
	load_refused("{\"snapshot_path\":\"\",\"mem_file_path\":\"/m\"}",
		     "field \"snapshot_path\" must not be empty");
	load_refused("{\"snapshot_path\":[],\"mem_file_path\":\"/m\"}",
		     "field \"snapshot_path\" must be a string (got array)");
	load_refused("{\"snapshot_path\":\"/s\"}", "missing field \"mem_backend\" (or \"mem_file_path\")");
	load_refused("{\"snapshot_path\":\"/s\",\"mem_backend\":null,\"mem_file_path\":null}",
		     "missing field \"mem_backend\"");
	load_refused("{\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\",\"mem_backend\":"
		     "{\"backend_type\":\"File\",\"backend_path\":\"/m\"}}",
		     "\"mem_backend\" and the older \"mem_file_path\" are exclusive");
	load_refused("{\"snapshot_path\":\"/s\",\"mem_file_path\":\"\"}",
		     "field \"mem_file_path\" must not be empty");
	load_refused("{\"snapshot_path\":\"/s\",\"mem_file_path\":5}",
		     "field \"mem_file_path\" must be a string (got integer)");
	load_refused("{\"snapshot_path\":\"/s\",\"mem_backend\":{\"backend_type\":\"Http\","
		     "\"backend_path\":\"/m\"}}",
		     "mem_backend: field \"backend_type\" must be one of \"File\", \"Uffd\" (got \"Http\")");
	load_refused("{\"snapshot_path\":\"/s\",\"mem_backend\":{\"backend_type\":\"uffd\","
		     "\"backend_path\":\"/m\"}}",
		     "backend_type");
	load_refused("{\"snapshot_path\":\"/s\",\"mem_backend\":{\"backend_type\":1,"
		     "\"backend_path\":\"/m\"}}",
		     "mem_backend: field \"backend_type\" must be a string (got integer)");
	load_refused("{\"snapshot_path\":\"/s\",\"mem_backend\":{\"backend_path\":\"/m\"}}",
		     "mem_backend: missing field \"backend_type\"");
	load_refused("{\"snapshot_path\":\"/s\",\"mem_backend\":{\"backend_type\":\"File\"}}",
		     "mem_backend: missing field \"backend_path\"");
	load_refused("{\"snapshot_path\":\"/s\",\"mem_backend\":{\"backend_type\":\"Uffd\","
		     "\"backend_path\":\"\"}}",
		     "mem_backend: field \"backend_path\" must not be empty");
	load_refused("{\"snapshot_path\":\"/s\",\"mem_backend\":{\"backend_type\":\"File\","
		     "\"backend_path\":false}}",
		     "mem_backend: field \"backend_path\" must be a string (got boolean)");
	load_refused("{\"snapshot_path\":\"/s\",\"mem_backend\":\"/m\"}",
		     "mem_backend: must be an object (got string)");
	load_refused("{\"snapshot_path\":\"/s\",\"mem_backend\":{\"backend_type\":\"File\","
		     "\"backend_path\":\"/m\",\"read_only\":true}}",
		     "mem_backend: unknown field \"read_only\"");
}

Test(snapshot_api, load_field_refusals)
{
	load_refused("{" LOAD_MEM ",\"resume\":true}", "unknown field \"resume\"");
	load_refused("{" LOAD_MEM ",\"snapshot_type\":\"Full\"}", "unknown field \"snapshot_type\"");
	load_refused("{" LOAD_MEM ",\"track_dirty_pages\":\"yes\"}",
		     "field \"track_dirty_pages\" must be a boolean (got string)");
	load_refused("{" LOAD_MEM ",\"enable_diff_snapshots\":1}",
		     "field \"enable_diff_snapshots\" must be a boolean (got integer)");
	load_refused("{" LOAD_MEM ",\"resume_vm\":\"true\"}",
		     "field \"resume_vm\" must be a boolean (got string)");
	load_refused("{" LOAD_MEM ",\"clock_realtime\":0}",
		     "field \"clock_realtime\" must be a boolean (got integer)");
	load_refused("{" LOAD_MEM ",\"vsock_override\":[]}",
		     "vsock_override: must be an object (got array)");
	load_refused("{" LOAD_MEM ",\"vsock_override\":{}}", "vsock_override: missing field \"uds_path\"");
	load_refused("{" LOAD_MEM ",\"vsock_override\":{\"uds_path\":\"\"}}",
		     "vsock_override: field \"uds_path\" must not be empty");
	load_refused("{" LOAD_MEM ",\"vsock_override\":{\"uds_path\":3}}",
		     "vsock_override: field \"uds_path\" must be a string (got integer)");
	load_refused("{" LOAD_MEM ",\"vsock_override\":{\"uds_path\":\"/v\",\"guest_cid\":3}}",
		     "vsock_override: unknown field \"guest_cid\"");
}

Test(snapshot_api, load_network_override_refusals)
{
	load_refused("{" LOAD_MEM ",\"network_overrides\":{\"iface_id\":\"eth0\"}}",
		     "field \"network_overrides\" must be an array (got object)");
	load_refused("{" LOAD_MEM ",\"network_overrides\":[\"eth0\"]}",
		     "network_overrides[0]: must be an object (got string)");
	load_refused("{" LOAD_MEM ",\"network_overrides\":[{\"host_dev_name\":\"tap0\"}]}",
		     "network_overrides[0]: missing field \"iface_id\"");
	load_refused("{" LOAD_MEM ",\"network_overrides\":[{\"iface_id\":\"eth0\"}]}",
		     "network_overrides[0]: missing field \"host_dev_name\"");
	load_refused("{" LOAD_MEM ",\"network_overrides\":[{\"iface_id\":\"eth0\","
		     "\"host_dev_name\":\"tap0\",\"guest_mac\":\"06:00:00:00:00:01\"}]}",
		     "network_overrides[0]: unknown field \"guest_mac\"");
	load_refused("{" LOAD_MEM ",\"network_overrides\":["
		     "{\"iface_id\":\"eth0\",\"host_dev_name\":\"a\"},"
		     "{\"iface_id\":\"eth0\",\"host_dev_name\":\"b\"}]}",
		     "network_overrides[1]: iface_id \"eth0\" given twice");
	load_refused("{" LOAD_MEM ",\"network_overrides\":["
		     "{\"iface_id\":\"eth-0\",\"host_dev_name\":\"a\"}]}",
		     "network_overrides[0]: field \"iface_id\" must be 1..64 characters of "
		     "[A-Za-z0-9_] (got \"eth-0\")");
	load_refused("{" LOAD_MEM ",\"network_overrides\":[{\"iface_id\":\"\",\"host_dev_name\":\"a\"}]}",
		     "network_overrides[0]: field \"iface_id\"");
	load_refused("{" LOAD_MEM ",\"network_overrides\":[{\"iface_id\":"
		     "\"a234567890123456789012345678901234567890123456789012345678901234X\","
		     "\"host_dev_name\":\"a\"}]}",
		     "field \"iface_id\"");
	load_refused("{" LOAD_MEM ",\"network_overrides\":[{\"iface_id\":7,\"host_dev_name\":\"a\"}]}",
		     "network_overrides[0]: field \"iface_id\" must be a string (got integer)");
	load_refused("{" LOAD_MEM ",\"network_overrides\":["
		     "{\"iface_id\":\"eth0\",\"host_dev_name\":\"\"}]}",
		     "network_overrides[0]: field \"host_dev_name\" must not be empty");
	load_refused("{" LOAD_MEM ",\"network_overrides\":[{\"iface_id\":\"eth0\","
		     "\"host_dev_name\":\"tap4567890123456\"}]}",
		     "network_overrides[0]: field \"host_dev_name\" must be at most 15 characters (got 16)");
	load_refused("{" LOAD_MEM ",\"network_overrides\":["
		     "{\"iface_id\":\"eth0\",\"host_dev_name\":null}]}",
		     "field \"host_dev_name\" must be a string (got null)");
	load_refused("{" LOAD_MEM ",\"network_overrides\":[{\"iface_id\":\"eth0\","
		     "\"host_dev_name\":\"../tap0\"}]}",
		     "network_overrides[0]: field \"host_dev_name\" is not a valid interface name");
	load_refused("{" LOAD_MEM ",\"network_overrides\":[{\"iface_id\":\"eth0\","
		     "\"host_dev_name\":\"tap\\n0\"}]}",
		     "field \"host_dev_name\" is not a valid interface name (got \"tap?0\")");
}

Test(snapshot_api, load_too_many_network_overrides)
{
	static char body[(CONFIG_MAX_NET_OVERRIDES + 1) * 64 + 128];
	int n = snprintf(body, sizeof(body), "{" LOAD_MEM ",\"network_overrides\":[");
	for (int i = 0; i <= CONFIG_MAX_NET_OVERRIDES; i++)
		n += snprintf(body + n, sizeof(body) - n,
			      "%s{\"iface_id\":\"eth%d\",\"host_dev_name\":\"tap%d\"}", i ? "," : "",
			      i, i);
	snprintf(body + n, sizeof(body) - n, "]}");
	char want[64];
	snprintf(want, sizeof(want), "network_overrides: more than %d entries",
		 CONFIG_MAX_NET_OVERRIDES);
	load_refused(body, want);
}

Test(snapshot_api, load_malformed_bodies)
{
	load_refused(NULL, "Empty PUT request");
	load_refused("", "Empty PUT request");
	load_refused("{" LOAD_MEM, "invalid JSON body at line 1");
	load_refused("{" LOAD_MEM ",}", "invalid JSON body");
	load_refused("\"/s\"", "invalid JSON body");
	load_refused("[{" LOAD_MEM "}]", "must be a JSON object");
	load_refused("{" LOAD_MEM ",\"resume_vm\":true,\"resume_vm\":false}", "duplicate");
}

/* Only PUT, only /snapshot/create and /snapshot/load. */
Test(snapshot_api, other_paths_and_methods)
{
	const char *b = "{" LOAD_MEM "}";
	refused("/snapshot", b, "Invalid request method and/or path: PUT /snapshot", API_EP_NONE);
	refused("/snapshot/restore", b, "Invalid request", API_EP_NONE);
	refused("/snapshot/load/now", b, "Invalid request", API_EP_NONE);
	done();
	cr_assert_eq(api_route("PATCH", "/snapshot/load", b, strlen(b), &R), -1);
	cr_assert_eq(R.ep, API_EP_NONE);
	done();
	cr_assert_eq(api_route("GET", "/snapshot/create", NULL, 0, &R), -1);
	cr_assert_eq(R.ep, API_EP_NONE);
	/* A trailing slash is the same path, as in Firecracker. */
	load_ok("{\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\"}");
	done();
	cr_assert_eq(api_route("PUT", "/snapshot/load/", b, strlen(b), &R), 0, "%s", R.fault);
	cr_assert_eq(R.ep, API_EP_PUT_SNAPSHOT_LOAD);
}
