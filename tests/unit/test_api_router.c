/* Unit tests for api/router.c: every endpoint with good and bad bodies,
 * wrong methods, unknown paths, ids, sizes. No sockets, no VM. */
#include <criterion/criterion.h>
#include <string.h>

#include "api/router.h"

static struct api_route R;

static int route(const char *method, const char *path, const char *body)
{
	return api_route(method, path, body, body ? strlen(body) : 0, &R);
}

/* The request must become an action of this kind, counted on ep. */
static void expect_ok(const char *method, const char *path, const char *body,
		      enum vmm_action_kind kind, enum api_endpoint ep)
{
	int rc = route(method, path, body);
	cr_assert_eq(rc, 0, "%s %s %s: refused: %s", method, path, body ? body : "", R.fault);
	cr_assert_eq(R.status, 0);
	cr_assert_eq(R.action.kind, kind, "%s %s: kind %d, want %d", method, path,
		     R.action.kind, kind);
	cr_assert_eq(R.ep, ep, "%s %s: endpoint %d, want %d", method, path, R.ep, ep);
}

/* The request must be refused with 400 and a message containing frag. */
static void expect_err(const char *method, const char *path, const char *body, const char *frag,
		       enum api_endpoint ep)
{
	int rc = route(method, path, body);
	cr_assert_eq(rc, -1, "%s %s %s: accepted", method, path, body ? body : "");
	cr_assert_eq(R.status, 400);
	cr_assert(strstr(R.fault, frag), "%s %s: fault \"%s\" lacks \"%s\"", method, path,
		  R.fault, frag);
	cr_assert_eq(R.ep, ep, "%s %s: endpoint %d, want %d", method, path, R.ep, ep);
}

static void done(void)
{
	vmm_action_free(&R.action);
	memset(&R, 0, sizeof(R));
}

TestSuite(api_router, .fini = done);

/* ---- GET ---- */

Test(api_router, gets)
{
	expect_ok("GET", "/", NULL, VMM_GET_INSTANCE_INFO, API_EP_GET_INSTANCE_INFO);
	expect_ok("GET", "", NULL, VMM_GET_INSTANCE_INFO, API_EP_GET_INSTANCE_INFO);
	expect_ok("GET", "/version", NULL, VMM_GET_VERSION, API_EP_GET_VERSION);
	expect_ok("GET", "/machine-config", NULL, VMM_GET_MACHINE_CONFIG,
		  API_EP_GET_MACHINE_CONFIG);
	expect_ok("GET", "/machine-config/", NULL, VMM_GET_MACHINE_CONFIG,
		  API_EP_GET_MACHINE_CONFIG);
	expect_ok("GET", "/vm/config", NULL, VMM_GET_VM_CONFIG, API_EP_GET_VM_CONFIG);
}

Test(api_router, get_with_body_refused)
{
	expect_err("GET", "/machine-config", "{}", "GET request cannot have a body",
		   API_EP_GET_MACHINE_CONFIG);
}

Test(api_router, get_unknown_paths)
{
	expect_err("GET", "/boot-source", NULL, "Invalid request method and/or path", API_EP_NONE);
	expect_err("GET", "/vm", NULL, "GET /vm", API_EP_NONE);
	expect_err("GET", "/vm/config/x", NULL, "Invalid request", API_EP_NONE);
	expect_err("GET", "/nope", NULL, "GET /nope", API_EP_NONE);
	expect_err("GET", "/a/b/c/d/e/f", NULL, "Invalid request", API_EP_NONE);
	expect_err("GET", "/machine-config//", NULL, "Invalid request", API_EP_NONE);
}

Test(api_router, wrong_methods)
{
	expect_err("POST", "/actions", "{\"action_type\":\"InstanceStart\"}",
		   "Invalid request method and/or path: POST /actions.", API_EP_NONE);
	expect_err("DELETE", "/drives/rootfs", NULL, "DELETE", API_EP_NONE);
	expect_err("PATCH", "/actions", "{\"action_type\":\"InstanceStart\"}", "PATCH /actions",
		   API_EP_NONE);
	expect_err("PUT", "/vm", "{\"state\":\"Paused\"}", "PUT /vm", API_EP_NONE);
	expect_err("PATCH", "/boot-source", "{}", "PATCH /boot-source", API_EP_NONE);
	expect_err("PUT", "/version", "{}", "PUT /version", API_EP_NONE);
	expect_err("PUT", "/vm/config", "{}", "PUT /vm/config", API_EP_NONE);
	expect_err("get", "/", NULL, "get /", API_EP_NONE);
}

Test(api_router, hostile_path_is_sanitised)
{
	expect_err("GET", "/a\nb\"c", NULL, "/a?b?c", API_EP_NONE);
	char long_path[600];
	memset(long_path, 'x', sizeof(long_path) - 1);
	long_path[0] = '/';
	long_path[sizeof(long_path) - 1] = 0;
	expect_err("GET", long_path, NULL, "...", API_EP_NONE);
	cr_assert_lt(strlen(R.fault), 200);
	cr_assert_eq(api_route(NULL, NULL, NULL, 0, &R), -1);
}

/* ---- actions ---- */

Test(api_router, actions)
{
	expect_ok("PUT", "/actions", "{\"action_type\":\"InstanceStart\"}", VMM_INSTANCE_START,
		  API_EP_PUT_ACTIONS);
	expect_ok("PUT", "/actions", "{\"action_type\": \"SendCtrlAltDel\"}",
		  VMM_SEND_CTRL_ALT_DEL, API_EP_PUT_ACTIONS);
	expect_ok("PUT", "/actions", " {\"action_type\":\"FlushMetrics\"}\n", VMM_FLUSH_METRICS,
		  API_EP_PUT_ACTIONS);
}

Test(api_router, actions_bad_bodies)
{
	expect_err("PUT", "/actions", NULL, "Empty PUT request", API_EP_PUT_ACTIONS);
	expect_err("PUT", "/actions", "", "Empty PUT request", API_EP_PUT_ACTIONS);
	expect_err("PUT", "/actions", "{", "invalid JSON body at line 1", API_EP_PUT_ACTIONS);
	expect_err("PUT", "/actions", "[]", "must be a JSON object", API_EP_PUT_ACTIONS);
	expect_err("PUT", "/actions", "\"InstanceStart\"", "invalid JSON body",
		   API_EP_PUT_ACTIONS);
	expect_err("PUT", "/actions", "{}", "missing field \"action_type\"", API_EP_PUT_ACTIONS);
	expect_err("PUT", "/actions", "{\"action_type\":\"Reboot\"}",
		   "unknown value \"Reboot\", expected one of \"InstanceStart\"",
		   API_EP_PUT_ACTIONS);
	expect_err("PUT", "/actions", "{\"action_type\":\"instancestart\"}", "unknown value",
		   API_EP_PUT_ACTIONS);
	expect_err("PUT", "/actions", "{\"action_type\":1}", "must be a string",
		   API_EP_PUT_ACTIONS);
	expect_err("PUT", "/actions", "{\"action_type\":\"InstanceStart\",\"payload\":1}",
		   "unknown field \"payload\"", API_EP_PUT_ACTIONS);
	expect_err("PUT", "/actions",
		   "{\"action_type\":\"InstanceStart\",\"action_type\":\"FlushMetrics\"}",
		   "duplicate", API_EP_PUT_ACTIONS);
}

Test(api_router, embedded_nul_refused)
{
	static const char body[] = "{\"action_type\":\"InstanceStart\"}\0junk";
	cr_assert_eq(api_route("PUT", "/actions", body, sizeof(body) - 1, &R), -1);
	cr_assert_eq(R.status, 400);
}

/* ---- PATCH /vm ---- */

Test(api_router, vm_state)
{
	expect_ok("PATCH", "/vm", "{\"state\":\"Paused\"}", VMM_PAUSE, API_EP_PATCH_VM);
	expect_ok("PATCH", "/vm", "{\"state\":\"Resumed\"}", VMM_RESUME, API_EP_PATCH_VM);
	expect_err("PATCH", "/vm", "{\"state\":\"Running\"}", "expected one of \"Paused\"",
		   API_EP_PATCH_VM);
	expect_err("PATCH", "/vm", "{}", "missing field \"state\"", API_EP_PATCH_VM);
	expect_err("PATCH", "/vm", NULL, "Empty PATCH request", API_EP_PATCH_VM);
	expect_err("PATCH", "/vm", "{\"state\":null}", "must be a string", API_EP_PATCH_VM);
}

/* ---- boot-source ---- */

Test(api_router, boot_source)
{
	expect_ok("PUT", "/boot-source",
		  "{\"kernel_image_path\":\"/k\",\"initrd_path\":\"/i\",\"boot_args\":\"a=b\"}",
		  VMM_PUT_BOOT_SOURCE, API_EP_PUT_BOOT_SOURCE);
	cr_assert_str_eq(R.action.u.boot.kernel_image_path, "/k");
	cr_assert_str_eq(R.action.u.boot.initrd_path, "/i");
	cr_assert_str_eq(R.action.u.boot.boot_args, "a=b");
}

Test(api_router, boot_source_bad)
{
	expect_err("PUT", "/boot-source", "{}", "boot-source: ", API_EP_PUT_BOOT_SOURCE);
	expect_err("PUT", "/boot-source", "{}", "kernel_image_path", API_EP_PUT_BOOT_SOURCE);
	expect_err("PUT", "/boot-source", "{\"kernel_image_path\":3}", "kernel_image_path",
		   API_EP_PUT_BOOT_SOURCE);
	expect_err("PUT", "/boot-source", "{\"kernel_image_path\":\"/k\",\"kernel\":\"/k\"}",
		   "\"kernel\"", API_EP_PUT_BOOT_SOURCE);
	expect_err("PUT", "/boot-source", "{\"kernel_image_path\":\"\"}", "kernel_image_path",
		   API_EP_PUT_BOOT_SOURCE);
}

/* ---- machine-config ---- */

Test(api_router, machine_config)
{
	expect_ok("PUT", "/machine-config", "{\"vcpu_count\":2,\"mem_size_mib\":256}",
		  VMM_PUT_MACHINE_CONFIG, API_EP_PUT_MACHINE_CONFIG);
	cr_assert(json_is_object(R.action.u.json));
	done();
	expect_ok("PATCH", "/machine-config", "{\"mem_size_mib\":512}", VMM_PATCH_MACHINE_CONFIG,
		  API_EP_PATCH_MACHINE_CONFIG);
	done();
	expect_ok("PUT", "/machine-config",
		  "{\"vcpu_count\":1,\"mem_size_mib\":64,\"accel\":\"kvm\",\"smt\":false,"
		  "\"cpu_template\":\"T2\",\"track_dirty_pages\":true,\"huge_pages\":\"None\"}",
		  VMM_PUT_MACHINE_CONFIG, API_EP_PUT_MACHINE_CONFIG);
}

Test(api_router, machine_config_bad)
{
	expect_err("PUT", "/machine-config", "{\"vcpu_count\":2}", "mem_size_mib",
		   API_EP_PUT_MACHINE_CONFIG);
	expect_err("PUT", "/machine-config", "{\"vcpu_count\":33,\"mem_size_mib\":64}",
		   "vcpu_count", API_EP_PUT_MACHINE_CONFIG);
	expect_err("PUT", "/machine-config", "{\"vcpu_count\":0,\"mem_size_mib\":64}",
		   "vcpu_count", API_EP_PUT_MACHINE_CONFIG);
	expect_err("PUT", "/machine-config", "{\"vcpu_count\":\"2\",\"mem_size_mib\":64}",
		   "vcpu_count", API_EP_PUT_MACHINE_CONFIG);
	expect_err("PUT", "/machine-config", "{\"vcpu_count\":2.0,\"mem_size_mib\":64}",
		   "vcpu_count", API_EP_PUT_MACHINE_CONFIG);
	expect_err("PUT", "/machine-config", "{\"vcpus\":2,\"mem_size_mib\":64}", "\"vcpus\"",
		   API_EP_PUT_MACHINE_CONFIG);
	expect_err("PUT", "/machine-config",
		   "{\"vcpu_count\":1,\"mem_size_mib\":64,\"accel\":\"xen\"}", "accel",
		   API_EP_PUT_MACHINE_CONFIG);
	expect_err("PUT", "/machine-config",
		   "{\"vcpu_count\":3,\"mem_size_mib\":64,\"smt\":true}", "smt",
		   API_EP_PUT_MACHINE_CONFIG);
	expect_err("PATCH", "/machine-config", "{}", "empty update",
		   API_EP_PATCH_MACHINE_CONFIG);
	expect_err("PATCH", "/machine-config", "{\"mem_size_mib\":-1}", "mem_size_mib",
		   API_EP_PATCH_MACHINE_CONFIG);
	expect_err("PUT", "/machine-config", NULL, "Empty PUT", API_EP_PUT_MACHINE_CONFIG);
}

/* ---- drives ---- */

#define DRIVE(id) "{\"drive_id\":\"" id "\",\"path_on_host\":\"/d.img\",\"is_root_device\":true,\"is_read_only\":false}"

Test(api_router, drives)
{
	expect_ok("PUT", "/drives/rootfs", DRIVE("rootfs"), VMM_PUT_DRIVE, API_EP_PUT_DRIVE);
	cr_assert_str_eq(R.action.u.drive.drive_id, "rootfs");
	cr_assert_str_eq(R.action.u.drive.path_on_host, "/d.img");
	cr_assert(R.action.u.drive.is_root_device);
	done();
	expect_ok("PATCH", "/drives/rootfs", "{\"drive_id\":\"rootfs\",\"path_on_host\":\"/n\"}",
		  VMM_PATCH_DRIVE, API_EP_PATCH_DRIVE);
	cr_assert_str_eq(R.action.u.patch.id, "rootfs");
}

Test(api_router, drives_bad)
{
	expect_err("PUT", "/drives/other", DRIVE("rootfs"),
		   "The id from the path does not match the id from the body", API_EP_PUT_DRIVE);
	expect_err("PUT", "/drives", DRIVE("rootfs"), "Missing drive id", API_EP_PUT_DRIVE);
	expect_err("PUT", "/drives/", DRIVE("rootfs"), "Missing drive id", API_EP_PUT_DRIVE);
	expect_err("PUT", "/drives/a-b", DRIVE("a-b"), "Invalid drive id \"a-b\"",
		   API_EP_PUT_DRIVE);
	expect_err("PUT", "/drives/rootfs", "{\"drive_id\":\"rootfs\"}", "path_on_host",
		   API_EP_PUT_DRIVE);
	expect_err("PUT", "/drives/rootfs",
		   "{\"drive_id\":\"rootfs\",\"path_on_host\":\"/d\",\"is_root_device\":\"yes\","
		   "\"is_read_only\":false}",
		   "is_root_device", API_EP_PUT_DRIVE);
	expect_err("PATCH", "/drives/rootfs", "{\"drive_id\":\"other\",\"path_on_host\":\"/n\"}",
		   "other", API_EP_PATCH_DRIVE);
	expect_err("PATCH", "/drives/rootfs", "{\"drive_id\":\"rootfs\"}", "empty update",
		   API_EP_PATCH_DRIVE);
	expect_err("PATCH", "/drives/rootfs", NULL, "Empty PATCH", API_EP_PATCH_DRIVE);
	expect_err("PUT", "/drives/a/b", DRIVE("a"), "Invalid request", API_EP_NONE);
}

/* ---- network interfaces ---- */

#define NET(id) "{\"iface_id\":\"" id "\",\"host_dev_name\":\"tap0\",\"guest_mac\":\"06:00:ac:10:00:02\"}"

Test(api_router, nets)
{
	expect_ok("PUT", "/network-interfaces/eth0", NET("eth0"), VMM_PUT_NET, API_EP_PUT_NETWORK);
	cr_assert_str_eq(R.action.u.net.host_dev_name, "tap0");
	cr_assert(R.action.u.net.has_guest_mac);
}

Test(api_router, nets_bad)
{
	expect_err("PUT", "/network-interfaces/eth1", NET("eth0"), "does not match",
		   API_EP_PUT_NETWORK);
	expect_err("PUT", "/network-interfaces", NET("eth0"), "Missing interface id",
		   API_EP_PUT_NETWORK);
	expect_err("PUT", "/network-interfaces/eth0",
		   "{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\",\"guest_mac\":\"zz\"}",
		   "guest_mac", API_EP_PUT_NETWORK);
	/* Only rate limiters can be patched, and Ember has none yet. */
	expect_err("PATCH", "/network-interfaces/eth0", "{\"iface_id\":\"eth0\"}", "rate limiter",
		   API_EP_PATCH_NETWORK);
	expect_err("PATCH", "/network-interfaces/eth0",
		   "{\"iface_id\":\"eth0\",\"rx_rate_limiter\":{}}", "not supported yet",
		   API_EP_PATCH_NETWORK);
}

/* ---- vsock, entropy, logger, metrics ---- */

Test(api_router, vsock)
{
	expect_ok("PUT", "/vsock", "{\"guest_cid\":3,\"uds_path\":\"/v.sock\"}", VMM_PUT_VSOCK,
		  API_EP_PUT_VSOCK);
	cr_assert_eq(R.action.u.vsock.guest_cid, 3);
	done();
	expect_err("PUT", "/vsock", "{\"guest_cid\":2,\"uds_path\":\"/v.sock\"}", "guest_cid",
		   API_EP_PUT_VSOCK);
	expect_err("PUT", "/vsock", "{\"guest_cid\":3}", "uds_path", API_EP_PUT_VSOCK);
}

Test(api_router, entropy)
{
	expect_ok("PUT", "/entropy", "{}", VMM_PUT_ENTROPY, API_EP_PUT_ENTROPY);
	cr_assert(R.action.u.entropy.present);
	done();
	expect_err("PUT", "/entropy", "{\"rate_limiter\":{\"bandwidth\":{}}}", "not supported yet",
		   API_EP_PUT_ENTROPY);
	expect_err("PUT", "/entropy", "{\"x\":1}", "\"x\"", API_EP_PUT_ENTROPY);
}

Test(api_router, logger)
{
	expect_ok("PUT", "/logger",
		  "{\"log_path\":\"/tmp/l\",\"level\":\"debug\",\"show_level\":true,"
		  "\"show_log_origin\":false,\"module\":\"api\"}",
		  VMM_PUT_LOGGER, API_EP_PUT_LOGGER);
	cr_assert(R.action.u.logger.has_level);
	cr_assert_eq(R.action.u.logger.level, LOG_DEBUG);
	cr_assert_str_eq(R.action.u.logger.module, "api");
	done();
	expect_err("PUT", "/logger", "{\"level\":\"Loud\"}", "level", API_EP_PUT_LOGGER);
	expect_err("PUT", "/logger", "{\"show_level\":1}", "show_level", API_EP_PUT_LOGGER);
}

Test(api_router, metrics)
{
	expect_ok("PUT", "/metrics", "{\"metrics_path\":\"/tmp/m\"}", VMM_PUT_METRICS,
		  API_EP_PUT_METRICS);
	cr_assert_str_eq(R.action.u.metrics.metrics_path, "/tmp/m");
	done();
	expect_err("PUT", "/metrics", "{}", "metrics_path", API_EP_PUT_METRICS);
	expect_err("PUT", "/metrics", "{\"metrics_path\":\"\"}", "metrics_path",
		   API_EP_PUT_METRICS);
}

/* ---- not implemented yet, size ---- */

Test(api_router, unsupported_endpoints_say_so)
{
	expect_err("PUT", "/balloon", "{\"amount_mib\":1,\"deflate_on_oom\":true}",
		   "balloon device: not supported yet", API_EP_UNSUPPORTED);
	expect_err("GET", "/balloon/statistics", NULL, "balloon", API_EP_UNSUPPORTED);
	expect_err("PATCH", "/balloon", "{}", "balloon", API_EP_UNSUPPORTED);
	expect_err("GET", "/serial", NULL, "Invalid request", API_EP_NONE);
	expect_err("DELETE", "/balloon", NULL, "Invalid request", API_EP_NONE);
}

Test(api_router, serial)
{
	expect_ok("PUT", "/serial", "{\"serial_out_path\":\"/s\"}", VMM_PUT_SERIAL, API_EP_PUT_SERIAL);
	cr_assert_str_eq(R.action.u.serial.serial_out_path, "/s");
	vmm_action_free(&R.action);
	expect_ok("PUT", "/serial", "{}", VMM_PUT_SERIAL, API_EP_PUT_SERIAL);
	cr_assert_null(R.action.u.serial.serial_out_path);
	expect_err("PUT", "/serial", "{\"serial_out_path\":1}", "serial: field \"serial_out_path\"",
		   API_EP_PUT_SERIAL);
	expect_err("PUT", "/serial", "{\"serial_out_path\":\"\"}", "serial_out_path", API_EP_PUT_SERIAL);
	expect_err("PUT", "/serial", "{\"x\":1}", "unknown field \"x\"", API_EP_PUT_SERIAL);
	expect_err("PUT", "/serial", "{\"rate_limiter\":{}}", "rate_limiter", API_EP_PUT_SERIAL);
	expect_err("PUT", "/serial", "{\"serial_out_path\":", "invalid JSON", API_EP_PUT_SERIAL);
	expect_err("PUT", "/serial", "[]", "JSON object", API_EP_PUT_SERIAL);
	expect_err("PATCH", "/serial", "{}", "Invalid request", API_EP_NONE);
}

Test(api_router, metrics_fields)
{
	expect_ok("PUT", "/metrics",
		  "{\"metrics_path\":\"/m\",\"emit_id\":true,\"properties\":{\"a\":\"b\"}}",
		  VMM_PUT_METRICS, API_EP_PUT_METRICS);
	cr_assert(R.action.u.metrics.emit_id);
	cr_assert_str_eq(json_string_value(json_object_get(R.action.u.metrics.properties, "a")), "b");
	vmm_action_free(&R.action);
	expect_err("PUT", "/metrics", "{\"metrics_path\":\"/m\",\"emit_id\":1}",
		   "field \"emit_id\"", API_EP_PUT_METRICS);
	expect_err("PUT", "/metrics", "{\"metrics_path\":\"/m\",\"properties\":[]}",
		   "field \"properties\" must be an object", API_EP_PUT_METRICS);
	expect_err("PUT", "/metrics", "{\"metrics_path\":\"/m\",\"properties\":{\"k\":2}}",
		   "\"k\" must be a string", API_EP_PUT_METRICS);
	expect_err("PUT", "/metrics", "{\"emit_id\":true}", "metrics_path", API_EP_PUT_METRICS);
	expect_err("PUT", "/metrics", "{\"metrics_path\":\"/m\",\"ids\":true}", "unknown field",
		   API_EP_PUT_METRICS);
}

Test(api_router, net_mtu)
{
	expect_ok("PUT", "/network-interfaces/e",
		  "{\"iface_id\":\"e\",\"host_dev_name\":\"t\",\"mtu\":9000}", VMM_PUT_NET,
		  API_EP_PUT_NETWORK);
	cr_assert_eq(R.action.u.net.mtu, 9000);
	vmm_action_free(&R.action);
	expect_ok("PUT", "/network-interfaces/e",
		  "{\"iface_id\":\"e\",\"host_dev_name\":\"t\",\"mtu\":68}", VMM_PUT_NET,
		  API_EP_PUT_NETWORK);
	vmm_action_free(&R.action);
	expect_ok("PUT", "/network-interfaces/e",
		  "{\"iface_id\":\"e\",\"host_dev_name\":\"t\",\"mtu\":65535}", VMM_PUT_NET,
		  API_EP_PUT_NETWORK);
	vmm_action_free(&R.action);
	expect_err("PUT", "/network-interfaces/e",
		   "{\"iface_id\":\"e\",\"host_dev_name\":\"t\",\"mtu\":67}",
		   "field \"mtu\" must be in 68..65535 (got 67)", API_EP_PUT_NETWORK);
	expect_err("PUT", "/network-interfaces/e",
		   "{\"iface_id\":\"e\",\"host_dev_name\":\"t\",\"mtu\":65536}", "mtu",
		   API_EP_PUT_NETWORK);
	expect_err("PUT", "/network-interfaces/e",
		   "{\"iface_id\":\"e\",\"host_dev_name\":\"t\",\"mtu\":\"1500\"}", "mtu",
		   API_EP_PUT_NETWORK);
	expect_err("PUT", "/network-interfaces/e",
		   "{\"iface_id\":\"e\",\"host_dev_name\":\"t\",\"mtu\":1500.5}", "mtu",
		   API_EP_PUT_NETWORK);
}

Test(api_router, body_size_cap)
{
	size_t n = API_MAX_BODY + 1;
	char *big = malloc(n);
	cr_assert_not_null(big);
	memset(big, ' ', n);
	cr_assert_eq(api_route("PUT", "/actions", big, n, &R), -1);
	cr_assert(strstr(R.fault, "larger than the limit"), "%s", R.fault);
	free(big);
}

Test(api_router, deep_json_refused)
{
	size_t depth = 5000;
	char *s = malloc(2 * depth + 32);
	cr_assert_not_null(s);
	strcpy(s, "{\"a\":");
	size_t n = strlen(s);
	for (size_t i = 0; i < depth; i++)
		s[n++] = '[';
	for (size_t i = 0; i < depth; i++)
		s[n++] = ']';
	s[n++] = '}';
	s[n] = 0;
	cr_assert_eq(route("PUT", "/boot-source", s), -1);
	cr_assert_eq(R.status, 400);
	free(s);
}

Test(api_router, mmds_endpoints)
{
	expect_ok("GET", "/mmds", NULL, VMM_GET_MMDS, API_EP_GET_MMDS);
	expect_ok("PUT", "/mmds", "{\"a\": {\"b\": 1}}", VMM_PUT_MMDS, API_EP_PUT_MMDS);
	expect_ok("PATCH", "/mmds", "{\"a\": null}", VMM_PATCH_MMDS, API_EP_PATCH_MMDS);
	expect_ok("PUT", "/mmds/config", "{\"network_interfaces\": [\"eth0\"]}", VMM_PUT_MMDS_CONFIG,
		  API_EP_PUT_MMDS_CONFIG);
	expect_err("PUT", "/mmds", "[1]", "must be a JSON object", API_EP_PUT_MMDS);
	expect_err("PUT", "/mmds", "", "Empty PUT request", API_EP_PUT_MMDS);
	expect_err("PUT", "/mmds/config", "{\"network_interfaces\": \"eth0\"}",
		   "mmds-config: field \"network_interfaces\" must be an array", API_EP_PUT_MMDS_CONFIG);
	expect_err("PUT", "/mmds/config", "{\"network_interfaces\": [\"eth0\"], \"ipv4_address\": "
		   "\"1.2.3.4\"}",
		   "ipv4_address", API_EP_PUT_MMDS_CONFIG);
	expect_err("PATCH", "/mmds/config", "{}", "Invalid request", API_EP_NONE);
	expect_err("PUT", "/mmds/other", "{}", "Invalid request", API_EP_NONE);
}

/* ---- cpu-config ---- */

Test(api_router, cpu_config_parsed_into_the_action)
{
	expect_ok("PUT", "/cpu-config",
		  "{\"kvm_capabilities\": [\"171\", \"!172\"], \"cpuid_modifiers\": [{\"leaf\": "
		  "\"0x1\", \"subleaf\": \"0x0\", \"flags\": 0, \"modifiers\": [{\"register\": "
		  "\"ecx\", \"bitmap\": \"0bx0xxxxxx\"}]}], \"msr_modifiers\": [{\"addr\": "
		  "\"0x10a\", \"bitmap\": \"0b1\"}]}",
		  VMM_PUT_CPU_CONFIG, API_EP_PUT_CPU_CONFIG);
	const struct cpu_template *t = R.action.u.cpu_config;
	cr_assert_eq(t->n_caps, 2);
	cr_assert(t->caps[1].remove);
	cr_assert_eq(t->cpuid[0].regs[0].mask, 0x40);
	cr_assert_eq(t->msrs[0].addr, 0x10a);
	cr_assert_eq(t->msrs[0].value, 1);
}

Test(api_router, cpu_config_errors_name_the_place)
{
	expect_err("PUT", "/cpu-config",
		   "{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"subleaf\": \"0x0\", \"flags\": 0,"
		   " \"modifiers\": [{\"register\": \"eax\", \"bitmap\": \"0b12\"}]}]}",
		   "cpu-config: cpuid_modifiers[0].modifiers[0].bitmap: \"0b12\": '2'",
		   API_EP_PUT_CPU_CONFIG);
	expect_err("PUT", "/cpu-config", "{\"reg_modifiers\": []}",
		   "cpu-config: reg_modifiers: an aarch64 field", API_EP_PUT_CPU_CONFIG);
	expect_err("PUT", "/cpu-config", "{\"msr_modifiers\": [{\"addr\": 266, \"bitmap\": \"0b1\"}]}",
		   "cpu-config: msr_modifiers[0].addr: must be a string", API_EP_PUT_CPU_CONFIG);
}
