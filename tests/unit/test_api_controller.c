/* Unit tests for runtime/control/controller.c: the VMM-thread side of the API,
 * before boot (no VM is built here: that is the integration tests' job),
 * the state rules, logger and metrics. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/router.h"
#include "runtime/control/controller.h"

static struct evloop loop;
static struct controller ctl;
static struct api_counters counters;
static char tmpdir[64];

static void setup(void)
{
	cr_assert_eq(evloop_init(&loop), 0);
	struct controller_opts o = {
		.loop = &loop,
		.id = "test-vm",
		.vmm_version = "9.9.9",
		.console_in = -1,
		.console_out = -1,
		.api = &counters,
	};
	memset(&counters, 0, sizeof(counters));
	cr_assert_eq(controller_init(&ctl, &o), 0);
	strcpy(tmpdir, "/tmp/ember-ctl.XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
}

static void teardown(void)
{
	controller_destroy(&ctl);
	evloop_destroy(&loop);
	static const char *const files[] = { "log", "metrics", "fifo", "m" };
	char path[128];
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, files[i]);
		unlink(path);
	}
	cr_assert_eq(rmdir(tmpdir), 0, "%s left behind files", tmpdir);
}

TestSuite(api_controller, .init = setup, .fini = teardown);

/* Routes and runs one request; returns the status, the body in *body
 * (static, overwritten by the next call). */
static int call(const char *method, const char *path, const char *body, const char **out)
{
	static char last[8192];
	struct api_route r;
	struct vmm_reply rep = { 0 };
	if (api_route(method, path, body, body ? strlen(body) : 0, &r) < 0) {
		vmm_reply_fault(&rep, r.status, r.fault);
	} else {
		controller_handle(&ctl, &r.action, &rep);
	}
	snprintf(last, sizeof(last), "%s", rep.body ? rep.body : "");
	vmm_reply_free(&rep);
	if (out)
		*out = last;
	return rep.status;
}

static void expect(const char *method, const char *path, const char *body, int status,
		   const char *frag)
{
	const char *got;
	int s = call(method, path, body, &got);
	cr_assert_eq(s, status, "%s %s: %d %s (want %d)", method, path, s, got, status);
	if (frag)
		cr_assert(strstr(got, frag), "%s %s: \"%s\" lacks \"%s\"", method, path, got, frag);
}

Test(api_controller, instance_info_and_version)
{
	expect("GET", "/", NULL, 200,
	       "{\"id\":\"test-vm\",\"state\":\"Not started\",\"vmm_version\":\"9.9.9\","
	       "\"app_name\":\"Ember\"}");
	expect("GET", "/version", NULL, 200, "{\"firecracker_version\":\"9.9.9\"}");
}

Test(api_controller, boot_source_shows_in_vm_config)
{
	expect("PUT", "/boot-source", "{\"kernel_image_path\":\"/k\",\"boot_args\":\"x\"}", 204,
	       NULL);
	expect("GET", "/vm/config", NULL, 200,
	       "\"boot-source\":{\"kernel_image_path\":\"/k\",\"initrd_path\":null,"
	       "\"boot_args\":\"x\"}");
	/* A second PUT replaces the first entirely. */
	expect("PUT", "/boot-source", "{\"kernel_image_path\":\"/k2\"}", 204, NULL);
	expect("GET", "/vm/config", NULL, 200, "\"boot_args\":null");
}

Test(api_controller, machine_config_put_patch)
{
	expect("GET", "/machine-config", NULL, 200, "\"vcpu_count\":1,\"mem_size_mib\":128");
	expect("PUT", "/machine-config",
	       "{\"vcpu_count\":2,\"mem_size_mib\":256,\"cpu_template\":\"T2\"}", 204, NULL);
	expect("PATCH", "/machine-config", "{\"mem_size_mib\":512}", 204, NULL);
	expect("GET", "/machine-config", NULL, 200, "\"vcpu_count\":2,\"mem_size_mib\":512");
	/* PUT keeps an omitted cpu_template, as Firecracker. */
	expect("PUT", "/machine-config", "{\"vcpu_count\":4,\"mem_size_mib\":64}", 204, NULL);
	expect("GET", "/machine-config", NULL, 200, "\"cpu_template\":\"T2\"");
	/* A PATCH valid alone but not with the current value fails whole. */
	expect("PATCH", "/machine-config", "{\"vcpu_count\":3}", 204, NULL);
	expect("PATCH", "/machine-config", "{\"smt\":true}", 400, "machine-config: ");
	expect("GET", "/machine-config", NULL, 200, "\"vcpu_count\":3,\"mem_size_mib\":64,\"smt\":false");
}

Test(api_controller, drives_and_nets_are_stored)
{
	expect("PUT", "/drives/rootfs",
	       "{\"drive_id\":\"rootfs\",\"path_on_host\":\"/a\",\"is_root_device\":true,"
	       "\"is_read_only\":false}",
	       204, NULL);
	expect("PUT", "/drives/data",
	       "{\"drive_id\":\"data\",\"path_on_host\":\"/b\",\"is_root_device\":false,"
	       "\"is_read_only\":true}",
	       204, NULL);
	/* PUT of an existing id replaces it. */
	expect("PUT", "/drives/rootfs",
	       "{\"drive_id\":\"rootfs\",\"path_on_host\":\"/c\",\"is_root_device\":true,"
	       "\"is_read_only\":false}",
	       204, NULL);
	expect("PUT", "/drives/second",
	       "{\"drive_id\":\"second\",\"path_on_host\":\"/d\",\"is_root_device\":true,"
	       "\"is_read_only\":false}",
	       400, "root drive already exists");
	expect("GET", "/vm/config", NULL, 200, "\"path_on_host\":\"/c\"");
	cr_assert_eq(ctl.cfg.n_drives, 2);
	cr_assert_str_eq(ctl.cfg.drives[0].drive_id, "rootfs");

	expect("PUT", "/network-interfaces/eth0",
	       "{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\"}", 204, NULL);
	expect("PUT", "/network-interfaces/eth1",
	       "{\"iface_id\":\"eth1\",\"host_dev_name\":\"tap0\"}", 400, "already used");
	cr_assert_eq(ctl.cfg.n_nets, 1);
}

Test(api_controller, vsock_and_entropy)
{
	expect("PUT", "/vsock", "{\"guest_cid\":7,\"uds_path\":\"/v\"}", 204, NULL);
	expect("PUT", "/entropy", "{}", 204, NULL);
	expect("GET", "/vm/config", NULL, 200, "\"vsock\":{\"guest_cid\":7,\"uds_path\":\"/v\"}");
	expect("GET", "/vm/config", NULL, 200, "\"entropy\":{\"rate_limiter\":null}");
}

Test(api_controller, runtime_actions_refused_before_boot)
{
	const char *msg = "not supported before starting the microVM";
	expect("PATCH", "/vm", "{\"state\":\"Paused\"}", 400, msg);
	expect("PATCH", "/vm", "{\"state\":\"Resumed\"}", 400, msg);
	expect("PUT", "/actions", "{\"action_type\":\"SendCtrlAltDel\"}", 400, msg);
	expect("PATCH", "/drives/rootfs", "{\"drive_id\":\"rootfs\",\"path_on_host\":\"/x\"}", 400,
	       msg);
	expect("GET", "/", NULL, 200, "Not started");
}

Test(api_controller, instance_start_checks_config)
{
	expect("PUT", "/actions", "{\"action_type\":\"InstanceStart\"}", 400,
	       "kernel_image_path is not set");
	expect("GET", "/", NULL, 200, "Not started");
	/* Firecracker's rule: no initrd with huge pages. */
	expect("PUT", "/boot-source", "{\"kernel_image_path\":\"/k\",\"initrd_path\":\"/i\"}", 204,
	       NULL);
	expect("PATCH", "/machine-config", "{\"huge_pages\":\"2M\"}", 204, NULL);
	expect("PUT", "/actions", "{\"action_type\":\"InstanceStart\"}", 400, "huge_pages");
}

Test(api_controller, pre_boot_only_refused_after_start)
{
	/* Pretend the VM runs: only the state is checked before the action. */
	ctl.state = CONTROLLER_RUNNING;
	const char *msg = "not supported after starting the microVM";
	expect("PUT", "/boot-source", "{\"kernel_image_path\":\"/k\"}", 400, msg);
	expect("PUT", "/machine-config", "{\"vcpu_count\":1,\"mem_size_mib\":64}", 400, msg);
	expect("PATCH", "/machine-config", "{\"mem_size_mib\":64}", 400, msg);
	expect("PUT", "/drives/d",
	       "{\"drive_id\":\"d\",\"path_on_host\":\"/a\",\"is_root_device\":false,"
	       "\"is_read_only\":false}",
	       400, msg);
	expect("PUT", "/network-interfaces/n", "{\"iface_id\":\"n\",\"host_dev_name\":\"t\"}", 400,
	       msg);
	expect("PUT", "/vsock", "{\"guest_cid\":7,\"uds_path\":\"/v\"}", 400, msg);
	expect("PUT", "/entropy", "{}", 400, msg);
	expect("PUT", "/logger", "{\"level\":\"Info\"}", 400, msg);
	expect("PUT", "/metrics", "{\"metrics_path\":\"/m\"}", 400, msg);
	expect("PUT", "/actions", "{\"action_type\":\"InstanceStart\"}", 400, msg);
	/* Reads still work; a patch of an unknown drive names it. */
	expect("GET", "/machine-config", NULL, 200, "vcpu_count");
	expect("GET", "/", NULL, 200, "\"state\":\"Running\"");
	expect("PATCH", "/drives/nope", "{\"drive_id\":\"nope\",\"path_on_host\":\"/x\"}", 400,
	       "drive \\\"nope\\\" does not exist");
	ctl.state = CONTROLLER_NOT_STARTED;
}

Test(api_controller, logger_applies)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/log", tmpdir);
	char body[256];
	snprintf(body, sizeof(body),
		 "{\"log_path\":\"%s\",\"level\":\"Debug\",\"show_level\":true,"
		 "\"show_log_origin\":true,\"module\":\"runtime/control\"}",
		 path);
	expect("PUT", "/logger", body, 204, NULL);
	cr_assert_eq(log_get_level(), LOG_DEBUG);
	log_msg(LOG_INFO, "runtime/control/controller.c", 7, "marker one");
	log_info("filtered out: not from runtime/control");
	log_set_module(NULL);
	expect("GET", "/vm/config", NULL, 200, "\"level\":\"Debug\"");
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f);
	char line[512] = "";
	/* First the controller's own line for the PUT (Debug, runtime/control). */
	cr_assert_not_null(fgets(line, sizeof(line), f));
	cr_assert(strstr(line, ":Debug:runtime/control/controller.c:"), "%s", line);
	cr_assert_not_null(fgets(line, sizeof(line), f));
	cr_assert(strstr(line, "marker one"), "%s", line);
	cr_assert(strstr(line, ":Info:runtime/control/controller.c:7]"), "%s", line);
	while (fgets(line, sizeof(line), f))
		cr_assert_not(strstr(line, "filtered out"), "%s", line);
	fclose(f);
	log_close();
}

/* A module that matches no source would silence every line. */
Test(api_controller, logger_unknown_module_is_refused)
{
	log_set_level(LOG_WARN);
	expect("PUT", "/logger", "{\"module\":\"runtime/nosuch\",\"level\":\"Debug\"}", 400,
	       "logger: module: \\\"runtime/nosuch\\\" is no source folder or file of Ember");
	cr_assert_eq(log_get_level(), LOG_WARN, "a refused PUT changes nothing");
	expect("GET", "/vm/config", NULL, 200, "\"logger\":null");
	expect("PUT", "/logger", "{\"module\":\"virtio\"}", 204, NULL);
	log_set_module(NULL);
}

/* The VMM thread once hung in open() on a FIFO nobody reads. */
Test(api_controller, logger_fifo_without_reader, .timeout = 5)
{
	char path[128], body[256];
	snprintf(path, sizeof(path), "%s/fifo", tmpdir);
	cr_assert_eq(mkfifo(path, 0600), 0);
	snprintf(body, sizeof(body), "{\"log_path\":\"%s\",\"level\":\"Info\"}", path);
	expect("PUT", "/logger", body, 204, NULL);
	log_info("nobody reads this");
	log_close();
}

Test(api_controller, logger_bad_path_changes_nothing)
{
	log_set_level(LOG_WARN);
	expect("PUT", "/logger", "{\"log_path\":\"/nonexistent/dir/log\",\"level\":\"Trace\"}", 400,
	       "logger: log_path /nonexistent/dir/log");
	cr_assert_eq(log_get_level(), LOG_WARN);
	expect("GET", "/vm/config", NULL, 200, "\"logger\":null");
}

static json_t *read_metrics_line(const char *path, int n)
{
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f);
	static char line[8192];
	for (int i = 0; i <= n; i++)
		cr_assert_not_null(fgets(line, sizeof(line), f), "line %d missing", i);
	fclose(f);
	json_error_t je;
	json_t *j = json_loads(line, 0, &je);
	cr_assert_not_null(j, "metrics line %d: %s: %s", n, je.text, line);
	return j;
}

static long long metric(json_t *j, const char *grp, const char *name)
{
	json_t *v = json_object_get(json_object_get(j, grp), name);
	cr_assert(json_is_integer(v), "no %s.%s", grp, name);
	return json_integer_value(v);
}

Test(api_controller, metrics_lines_are_deltas)
{
	expect("PUT", "/actions", "{\"action_type\":\"FlushMetrics\"}", 400, "PUT /metrics first");
	char path[128], body[256];
	snprintf(path, sizeof(path), "%s/metrics", tmpdir);
	snprintf(body, sizeof(body), "{\"metrics_path\":\"%s\"}", path);
	expect("PUT", "/metrics", body, 204, NULL);
	api_counters_add(&counters, API_EP_PUT_DRIVE, 204);
	api_counters_add(&counters, API_EP_PUT_DRIVE, 400);
	api_counters_add(&counters, API_EP_GET_INSTANCE_INFO, 200);
	expect("PUT", "/actions", "{\"action_type\":\"FlushMetrics\"}", 204, NULL);
	expect("PUT", "/actions", "{\"action_type\":\"FlushMetrics\"}", 204, NULL);
	json_t *a = read_metrics_line(path, 0), *b = read_metrics_line(path, 1);
	cr_assert(json_is_integer(json_object_get(a, "utc_timestamp_ms")));
	cr_assert_eq(metric(a, "put_api_requests", "drive_count"), 2);
	cr_assert_eq(metric(a, "put_api_requests", "drive_fails"), 1);
	cr_assert_eq(metric(a, "get_api_requests", "instance_info_count"), 1);
	cr_assert_eq(metric(a, "ember_api", "requests_count"), 3);
	cr_assert_eq(metric(a, "ember_api", "failures_count"), 1);
	cr_assert_eq(metric(a, "uart", "write_count"), 0);
	cr_assert_eq(metric(a, "logger", "missed_metrics_count"), 0);
	/* The second line counts only what happened since the first. */
	cr_assert_eq(metric(b, "put_api_requests", "drive_count"), 0);
	cr_assert_eq(metric(b, "ember_api", "requests_count"), 0);
	json_decref(a);
	json_decref(b);
	expect("GET", "/vm/config", NULL, 200, "\"metrics\":{\"metrics_path\":");
}

Test(api_controller, metrics_bad_path)
{
	expect("PUT", "/metrics", "{\"metrics_path\":\"/nonexistent/dir/m\"}", 400,
	       "metrics_path /nonexistent/dir/m");
	expect("GET", "/vm/config", NULL, 200, "\"metrics\":null");
}

Test(api_controller, metrics_fifo_without_reader_loses_lines)
{
	char path[128], body[256];
	snprintf(path, sizeof(path), "%s/fifo", tmpdir);
	cr_assert_eq(mkfifo(path, 0600), 0);
	snprintf(body, sizeof(body), "{\"metrics_path\":\"%s\"}", path);
	/* Opened although nobody reads; a full pipe never blocks the VMM. */
	expect("PUT", "/metrics", body, 204, NULL);
	int lost = 0;
	for (int i = 0; i < 200 && !lost; i++)
		lost = controller_flush_metrics(&ctl) == -EAGAIN;
	cr_assert(lost, "the pipe never filled");
}

Test(api_controller, exit_request_before_boot)
{
	cr_assert_not(controller_done(&ctl));
	controller_request_exit(&ctl, 143);
	controller_request_exit(&ctl, 1); /* the first code wins */
	cr_assert(controller_done(&ctl));
	cr_assert_eq(evloop_run_once(&loop, 0), 1); /* the wake-up was delivered */
	cr_assert_eq(controller_finish(&ctl), 143);
}

Test(api_controller, whole_config_file)
{
	struct vm_config cfg;
	struct errbuf err = { "" };
	char text[512], mpath[128];
	snprintf(mpath, sizeof(mpath), "%s/m", tmpdir);
	snprintf(text, sizeof(text),
		 "{\"boot-source\":{\"kernel_image_path\":\"/k\"},\"metrics\":{\"metrics_path\":"
		 "\"%s\"},\"logger\":{\"level\":\"Error\"}}",
		 mpath);
	cr_assert_eq(config_load_string(text, strlen(text), &cfg, &err), 0, "%s", err.msg);
	cr_assert_eq(controller_load_config(&ctl, &cfg, &err), 0, "%s", err.msg);
	cr_assert_null(cfg.boot.kernel_image_path);
	cr_assert_str_eq(ctl.cfg.boot.kernel_image_path, "/k");
	cr_assert_eq(log_get_level(), LOG_ERROR);
	cr_assert_eq(access(mpath, F_OK), 0);
	/* The process's last metrics line is written by controller_finish. */
	cr_assert_eq(controller_finish(&ctl), 0);
	json_t *j = read_metrics_line(mpath, 0);
	json_decref(j);
}

/* One template slot, as Firecracker: cpu-config replaces a static
 * template; a machine-config naming cpu_template replaces the custom one;
 * one not naming it keeps it. */
Test(api_controller, cpu_config_and_cpu_template_share_one_slot)
{
	const char *tmpl = "{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"subleaf\": \"0x0\","
			   " \"flags\": 0, \"modifiers\": [{\"register\": \"ecx\","
			   " \"bitmap\": \"0b0_xx\"}]}]}";
	expect("PUT", "/machine-config",
	       "{\"vcpu_count\":1,\"mem_size_mib\":64,\"cpu_template\":\"T2\"}", 204, NULL);
	expect("PUT", "/cpu-config", tmpl, 204, NULL);
	const char *body;
	cr_assert_eq(call("GET", "/machine-config", NULL, &body), 200);
	cr_assert_null(strstr(body, "cpu_template"), "custom: not shown, as Firecracker: %s", body);
	expect("GET", "/vm/config", NULL, 200,
	       "\"cpu-config\":{\"kvm_capabilities\":[],\"cpuid_modifiers\":[{\"leaf\":\"0x1\","
	       "\"subleaf\":\"0x0\",\"flags\":0,\"modifiers\":[{\"register\":\"ecx\","
	       "\"bitmap\":\"0bxxxxxxxxxxxxxxxxxxxxxxxxxxxxx0xx\"}]}],\"msr_modifiers\":[]}");
	expect("PATCH", "/machine-config", "{\"mem_size_mib\":128}", 204, NULL);
	expect("GET", "/vm/config", NULL, 200, "\"cpu-config\":{");
	expect("PATCH", "/machine-config", "{\"cpu_template\":\"None\"}", 204, NULL);
	expect("GET", "/vm/config", NULL, 200, "\"cpu-config\":null");
	expect("PUT", "/cpu-config", "{\"vcpu_features\": []}", 400,
	       "cpu-config: vcpu_features: an aarch64 field");
}
