/* Unit tests for runtime/control/controller.c: the VMM-thread side of the API,
 * before boot (no VM is built here: that is the integration tests' job),
 * the state rules, logger and metrics. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
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
	static const char *const files[] = { "log", "metrics", "fifo", "m", "k", "k2", "i",
					     "a", "b", "c", "d", "ro", "serial" };
	char path[128];
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, files[i]);
		unlink(path);
	}
	cr_assert_eq(rmdir(tmpdir), 0, "%s left behind files", tmpdir);
}

TestSuite(api_controller, .init = setup, .fini = teardown);

/* tmpdir/name, created empty if missing: a file the PUTs' checks accept. */
static const char *tmp_file(const char *name)
{
	static char paths[8][128];
	static unsigned next;
	char *p = paths[next++ % 8];
	snprintf(p, sizeof(paths[0]), "%s/%s", tmpdir, name);
	FILE *f = fopen(p, "a");
	cr_assert_not_null(f, "%s", p);
	fclose(f);
	return p;
}

/* A body built with printf. */
static const char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static const char *fmt(const char *f, ...)
{
	static char bufs[4][1024];
	static unsigned next;
	char *b = bufs[next++ % 4];
	va_list ap;
	va_start(ap, f);
	vsnprintf(b, sizeof(bufs[0]), f, ap);
	va_end(ap);
	return b;
}

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

/* A 200 whose body lacks frag (an unset section is left out). */
static void expect_no(const char *method, const char *path, const char *frag)
{
	const char *got;
	int s = call(method, path, NULL, &got);
	cr_assert_eq(s, 200, "%s %s: %d %s", method, path, s, got);
	cr_assert_null(strstr(got, frag), "%s %s: \"%s\" has \"%s\"", method, path, got, frag);
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
	const char *k = tmp_file("k");
	expect("PUT", "/boot-source", fmt("{\"kernel_image_path\":\"%s\",\"boot_args\":\"x\"}", k),
	       204, NULL);
	expect("GET", "/vm/config", NULL, 200,
	       fmt("\"boot-source\":{\"kernel_image_path\":\"%s\",\"boot_args\":\"x\"}", k));
	/* A second PUT replaces the first entirely. */
	expect("PUT", "/boot-source", fmt("{\"kernel_image_path\":\"%s\"}", tmp_file("k2")), 204,
	       NULL);
	const char *got;
	cr_assert_eq(call("GET", "/vm/config", NULL, &got), 200);
	cr_assert_null(strstr(got, "boot_args"), "%s", got);
	/* A file that cannot be read is refused at the PUT, naming it and
	 * why; the previous value stays. */
	expect("PUT", "/boot-source", "{\"kernel_image_path\":\"/nonexistent/k\"}", 400,
	       "boot-source: kernel_image_path /nonexistent/k: cannot open it for reading: No such "
	       "file or directory");
	expect("PUT", "/boot-source", fmt("{\"kernel_image_path\":\"%s\"}", tmpdir), 400,
	       "not a regular file");
	expect("PUT", "/boot-source",
	       fmt("{\"kernel_image_path\":\"%s\",\"initrd_path\":\"/nonexistent/i\"}", k), 400,
	       "initrd_path /nonexistent/i: cannot open it for reading");
	cr_assert_str_eq(ctl.cfg.boot.kernel_image_path, fmt("%s/k2", tmpdir));
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
#define drive "{\"drive_id\":\"%s\",\"path_on_host\":\"%s\",\"is_root_device\":%s,\"is_read_only\":%s}"
	expect("PUT", "/drives/rootfs", fmt(drive, "rootfs", tmp_file("a"), "true", "false"), 204,
	       NULL);
	expect("PUT", "/drives/data", fmt(drive, "data", tmp_file("b"), "false", "true"), 204, NULL);
	/* PUT of an existing id replaces it. */
	const char *c = tmp_file("c");
	expect("PUT", "/drives/rootfs", fmt(drive, "rootfs", c, "true", "false"), 204, NULL);
	expect("PUT", "/drives/second", fmt(drive, "second", tmp_file("d"), "true", "false"), 400,
	       "root drive already exists");
	expect("GET", "/vm/config", NULL, 200, fmt("\"path_on_host\":\"%s\"", c));
	cr_assert_eq(ctl.cfg.n_drives, 2);
	cr_assert_str_eq(ctl.cfg.drives[0].drive_id, "rootfs");
	/* The backing file is opened as is_read_only asks, at the PUT; a
	 * refused PUT leaves the drive as it was. */
	expect("PUT", "/drives/rootfs", fmt(drive, "rootfs", "/nonexistent/a", "true", "true"), 400,
	       "drive \\\"rootfs\\\": path_on_host /nonexistent/a: cannot open it for reading "
	       "(is_read_only true): No such file or directory");
	expect("PUT", "/drives/rootfs", fmt(drive, "rootfs", tmpdir, "true", "true"), 400,
	       "not a regular file or block device");
	cr_assert_str_eq(ctl.cfg.drives[0].path_on_host, c);
#undef drive
}

/* A TAP opens at the PUT (TUNSETIFF): a name nobody uses is created for
 * the check and goes with the fd, as the device itself would make it. */
Test(api_controller, nets_open_their_tap)
{
	/* A network namespace of this test's process: the host's stays untouched. */
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0 || unshare(CLONE_NEWNET) < 0)
		cr_skip_test("needs /dev/net/tun and a network namespace of its own");
	close(fd);
	expect("PUT", "/network-interfaces/eth0",
	       "{\"iface_id\":\"eth0\",\"host_dev_name\":\"emberut0\",\"mtu\":1400}", 204, NULL);
	expect("GET", "/vm/config", NULL, 200, "\"host_dev_name\":\"emberut0\",\"mtu\":1400");
	expect("PUT", "/network-interfaces/eth1",
	       "{\"iface_id\":\"eth1\",\"host_dev_name\":\"emberut0\"}", 400, "already used");
	expect("PUT", "/network-interfaces/eth1",
	       "{\"iface_id\":\"eth1\",\"host_dev_name\":\"emberut1\",\"mtu\":67}", 400,
	       "field \\\"mtu\\\" must be in 68..65535 (got 67)");
	cr_assert_eq(ctl.cfg.n_nets, 1);
	/* A name the kernel refuses fails at TUNSETIFF, at the PUT. */
	expect("PUT", "/network-interfaces/eth0",
	       "{\"iface_id\":\"eth0\",\"host_dev_name\":\"lo\"}", 400,
	       "network interface \\\"eth0\\\": host_dev_name: tap lo: TUNSETIFF: ");
	cr_assert_str_eq(ctl.cfg.nets[0].host_dev_name, "emberut0");
}

Test(api_controller, serial_out_path_opens_at_the_put)
{
	expect("PUT", "/serial", "{\"serial_out_path\":\"/nonexistent/s\"}", 400,
	       "serial: serial_out_path /nonexistent/s: No such file or directory");
	cr_assert_eq(ctl.serial_fd, -1);
	expect("PUT", "/serial", fmt("{\"serial_out_path\":\"%s/serial\"}", tmpdir), 204, NULL);
	cr_assert_geq(ctl.serial_fd, 0);
	cr_assert_eq(access(fmt("%s/serial", tmpdir), F_OK), 0);
	/* Replaced: the old fd goes; without a path the console is stdout. */
	expect("PUT", "/serial", "{}", 204, NULL);
	cr_assert_eq(ctl.serial_fd, -1);
	expect("PUT", "/serial", "{\"rate_limiter\":{\"size\":1,\"refill_time\":1}}", 400,
	       "rate_limiter");
	expect("PUT", "/serial", "{\"serial_out\":\"x\"}", 400, "unknown field");
}

Test(api_controller, vsock_and_entropy)
{
	expect("PUT", "/vsock", "{\"guest_cid\":7,\"uds_path\":\"/v\"}", 204, NULL);
	expect("PUT", "/entropy", "{}", 204, NULL);
	expect("GET", "/vm/config", NULL, 200, "\"vsock\":{\"guest_cid\":7,\"uds_path\":\"/v\"}");
	/* The socket's directory must be there at the PUT. */
	expect("PUT", "/vsock", "{\"guest_cid\":7,\"uds_path\":\"/nonexistent/v\"}", 400,
	       "vsock: uds_path /nonexistent/v: directory /nonexistent: No such file or directory");
	expect("PUT", "/vsock", "{\"guest_cid\":7,\"uds_path\":\"/dev/null/v\"}", 400,
	       "vsock: uds_path /dev/null/v: /dev/null is not a directory");
	cr_assert_str_eq(ctl.cfg.vsock.uds_path, "/v");
	/* No null in an answer: the swagger has none; absent means unset. */
	expect("GET", "/vm/config", NULL, 200, "\"entropy\":{}");
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
	expect("PUT", "/boot-source",
	       fmt("{\"kernel_image_path\":\"%s\",\"initrd_path\":\"%s\"}", tmp_file("k"),
		   tmp_file("i")),
	       204, NULL);
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
	expect_no("GET", "/vm/config", "\"logger\"");
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
	expect_no("GET", "/vm/config", "\"logger\"");
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
	expect_no("GET", "/vm/config", "\"metrics\"");
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
		 "{\"boot-source\":{\"kernel_image_path\":\"%s\"},\"metrics\":{\"metrics_path\":"
		 "\"%s\"},\"logger\":{\"level\":\"Error\"}}",
		 tmp_file("k"), mpath);
	cr_assert_eq(config_load_string(text, strlen(text), &cfg, &err), 0, "%s", err.msg);
	cr_assert_eq(controller_load_config(&ctl, &cfg, &err), 0, "%s", err.msg);
	cr_assert_null(cfg.boot.kernel_image_path);
	cr_assert_str_eq(ctl.cfg.boot.kernel_image_path, fmt("%s/k", tmpdir));
	cr_assert_eq(log_get_level(), LOG_ERROR);
	cr_assert_eq(access(mpath, F_OK), 0);
	/* The process's last metrics line is written by controller_finish. */
	cr_assert_eq(controller_finish(&ctl), 0);
	json_t *j = read_metrics_line(mpath, 0);
	json_decref(j);
}

Test(api_controller, config_file_checked_like_the_puts)
{
	/* A config file's host paths fail its load, naming the entry and field. */
	struct vm_config cfg;
	struct errbuf err = { "" };
	const char *text = fmt("{\"boot-source\":{\"kernel_image_path\":\"%s\"},\"drives\":[{\"drive_id\":"
			       "\"root\",\"path_on_host\":\"/nonexistent/r\",\"is_root_device\":true,"
			       "\"is_read_only\":true}]}",
			       tmp_file("k"));
	cr_assert_eq(config_load_string(text, strlen(text), &cfg, &err), 0, "%s", err.msg);
	cr_assert_eq(controller_load_config(&ctl, &cfg, &err), -ENOENT, "%s", err.msg);
	cr_assert_str_eq(err.msg, "drives[0] (root): path_on_host /nonexistent/r: cannot open it for "
				  "reading (is_read_only true): No such file or directory");
	text = fmt("{\"boot-source\":{\"kernel_image_path\":\"%s\"},\"vsock\":{\"guest_cid\":3,"
		   "\"uds_path\":\"/nonexistent/v\"}}",
		   tmp_file("k"));
	cr_assert_eq(config_load_string(text, strlen(text), &cfg, &err), 0, "%s", err.msg);
	cr_assert_eq(controller_load_config(&ctl, &cfg, &err), -ENOENT, "%s", err.msg);
	cr_assert_str_eq(err.msg, "vsock: uds_path /nonexistent/v: directory /nonexistent: No such "
				  "file or directory");
	/* A snapshot-load file names no device of its own: nothing to check. */
	text = "{\"snapshot-load\":{\"snapshot_path\":\"/nonexistent/s\",\"mem_file_path\":\"/m\"}}";
	cr_assert_eq(config_load_string(text, strlen(text), &cfg, &err), 0, "%s", err.msg);
	cr_assert_eq(controller_load_config(&ctl, &cfg, &err), 0, "%s", err.msg);
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
	cr_assert_eq(call("GET", "/vm/config", NULL, &body), 200);
	cr_assert_null(strstr(body, "cpu-config"), "None: no custom template shown: %s", body);
	expect("PUT", "/cpu-config", "{\"vcpu_features\": []}", 400,
	       "cpu-config: vcpu_features: an aarch64 field");
}
