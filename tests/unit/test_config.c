/* Unit tests for config/: Firecracker's config-file format, per-section
 * API parsers, collection rules and GET /vm/config output. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"

#define BOOT "\"boot-source\": {\"kernel_image_path\": \"/k\"}"

static int load(const char *json, struct vm_config *cfg, struct errbuf *err)
{
	return config_load_string(json, strlen(json), cfg, err);
}

/* Loading json must fail with code and an error containing frag; the
 * config must be left empty (nothing leaked, nothing half-filled). */
static void expect_err(const char *json, int code, const char *frag)
{
	struct vm_config cfg;
	struct errbuf err = { "" };
	int rc = load(json, &cfg, &err);
	cr_assert_eq(rc, code, "rc=%d (want %d) for %s: %s", rc, code, json, err.msg);
	cr_assert(strstr(err.msg, frag), "error \"%s\" lacks \"%s\"", err.msg, frag);
	cr_assert_null(cfg.boot.kernel_image_path);
	cr_assert_eq(cfg.n_drives, 0);
	cr_assert_null(cfg.drives);
	cr_assert_eq(cfg.n_nets, 0);
	cr_assert_eq(cfg.machine.vcpu_count, 1);
}

static json_t *parse(const char *s)
{
	json_error_t je;
	json_t *j = json_loads(s, 0, &je);
	cr_assert_not_null(j, "test JSON: %s", je.text);
	return j;
}

static const char *full_cfg =
	"{\n"
	" \"boot-source\": {\"kernel_image_path\": \"/vmlinux\", \"initrd_path\": \"/initrd\",\n"
	"                  \"boot_args\": \"console=ttyS0 reboot=k\"},\n"
	" \"machine-config\": {\"vcpu_count\": 4, \"mem_size_mib\": 1024, \"smt\": true,\n"
	"   \"cpu_template\": \"T2S\", \"track_dirty_pages\": true, \"huge_pages\": \"None\",\n"
	"   \"accel\": \"tcg\"},\n"
	" \"drives\": [\n"
	"  {\"drive_id\": \"data\", \"path_on_host\": \"/d.img\", \"is_root_device\": false,\n"
	"   \"is_read_only\": true, \"cache_type\": \"Writeback\", \"io_engine\": \"Async\"},\n"
	"  {\"drive_id\": \"rootfs\", \"path_on_host\": \"/r.ext4\", \"is_root_device\": true,\n"
	"   \"partuuid\": \"0eb7f3c4-01\", \"rate_limiter\": null, \"socket\": null}],\n"
	" \"network-interfaces\": [\n"
	"  {\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", \"guest_mac\": \"06:00:AC:10:00:02\"},\n"
	"  {\"iface_id\": \"eth1\", \"host_dev_name\": \"tap1\", \"mtu\": 9000}],\n"
	" \"vsock\": {\"vsock_id\": \"v\", \"guest_cid\": 3, \"uds_path\": \"/v.sock\"},\n"
	" \"entropy\": {},\n"
	" \"logger\": {\"log_path\": \"/log\", \"level\": \"debug\", \"show_level\": true,\n"
	"   \"show_log_origin\": false, \"module\": \"virtio\"},\n"
	" \"metrics\": {\"metrics_path\": \"/metrics\", \"emit_id\": true,\n"
	"   \"properties\": {\"team\": \"ember\"}},\n"
	" \"balloon\": null, \"mmds-config\": null, \"cpu-config\": null\n"
	"}\n";

Test(config, every_field_parsed)
{
	struct vm_config c;
	struct errbuf err = { "" };
	cr_assert_eq(load(full_cfg, &c, &err), 0, "%s", err.msg);

	cr_assert_str_eq(c.boot.kernel_image_path, "/vmlinux");
	cr_assert_str_eq(c.boot.initrd_path, "/initrd");
	cr_assert_str_eq(c.boot.boot_args, "console=ttyS0 reboot=k");

	cr_assert_eq(c.machine.vcpu_count, 4);
	cr_assert_eq(c.machine.mem_size_mib, 1024);
	cr_assert(c.machine.smt);
	cr_assert_eq(c.machine.cpu_template, CONFIG_CPU_TEMPLATE_T2S);
	cr_assert(c.machine.track_dirty_pages);
	cr_assert_eq(c.machine.huge_pages, CONFIG_HUGE_PAGES_NONE);
	cr_assert_eq(c.machine.accel, CONFIG_ACCEL_TCG);

	/* The root drive moves first, the others keep their order. */
	cr_assert_eq(c.n_drives, 2);
	cr_assert_str_eq(c.drives[0].drive_id, "rootfs");
	cr_assert_str_eq(c.drives[0].path_on_host, "/r.ext4");
	cr_assert(c.drives[0].is_root_device);
	cr_assert_not(c.drives[0].is_read_only);
	cr_assert_str_eq(c.drives[0].partuuid, "0eb7f3c4-01");
	cr_assert_eq(c.drives[0].cache_type, CONFIG_CACHE_UNSAFE);
	cr_assert_eq(c.drives[0].io_engine, CONFIG_IO_SYNC);
	cr_assert_str_eq(c.drives[1].drive_id, "data");
	cr_assert_not(c.drives[1].is_root_device);
	cr_assert(c.drives[1].is_read_only);
	cr_assert_null(c.drives[1].partuuid);
	cr_assert_eq(c.drives[1].cache_type, CONFIG_CACHE_WRITEBACK);
	cr_assert_eq(c.drives[1].io_engine, CONFIG_IO_ASYNC);

	cr_assert_eq(c.n_nets, 2);
	cr_assert_str_eq(c.nets[0].iface_id, "eth0");
	cr_assert_str_eq(c.nets[0].host_dev_name, "tap0");
	cr_assert(c.nets[0].has_guest_mac);
	const uint8_t mac[6] = { 0x06, 0x00, 0xac, 0x10, 0x00, 0x02 };
	cr_assert_arr_eq(c.nets[0].guest_mac, mac, 6);
	cr_assert_not(c.nets[1].has_guest_mac);

	cr_assert(c.vsock.present);
	cr_assert_str_eq(c.vsock.vsock_id, "v");
	cr_assert_eq(c.vsock.guest_cid, 3);
	cr_assert_str_eq(c.vsock.uds_path, "/v.sock");
	cr_assert(c.entropy.present);

	cr_assert(c.logger.present);
	cr_assert_str_eq(c.logger.log_path, "/log");
	cr_assert(c.logger.has_level);
	cr_assert_eq(c.logger.level, LOG_DEBUG);
	cr_assert(c.logger.has_show_level && c.logger.show_level);
	cr_assert(c.logger.has_show_log_origin && !c.logger.show_log_origin);
	cr_assert_str_eq(c.logger.module, "virtio");
	cr_assert(c.metrics.present);
	cr_assert_str_eq(c.metrics.metrics_path, "/metrics");

	config_free(&c);
	cr_assert_null(c.drives);
	cr_assert_eq(c.n_drives, 0);
	cr_assert_null(c.boot.kernel_image_path);
}

Test(config, defaults)
{
	struct vm_config c;
	struct errbuf err = { "" };
	cr_assert_eq(load("{" BOOT "}", &c, &err), 0, "%s", err.msg);
	cr_assert_str_eq(c.boot.kernel_image_path, "/k");
	cr_assert_null(c.boot.initrd_path);
	cr_assert_null(c.boot.boot_args);
	cr_assert_eq(c.machine.vcpu_count, 1);
	cr_assert_eq(c.machine.mem_size_mib, 128);
	cr_assert_not(c.machine.smt);
	cr_assert_eq(c.machine.cpu_template, CONFIG_CPU_TEMPLATE_NONE);
	cr_assert_not(c.machine.track_dirty_pages);
	cr_assert_eq(c.machine.huge_pages, CONFIG_HUGE_PAGES_NONE);
	cr_assert_eq(c.machine.accel, CONFIG_ACCEL_AUTO);
	cr_assert_eq(c.n_drives, 0);
	cr_assert_eq(c.n_nets, 0);
	cr_assert_not(c.vsock.present);
	cr_assert_not(c.entropy.present);
	cr_assert_not(c.logger.present);
	cr_assert_not(c.metrics.present);
	config_free(&c);

	/* Present-but-empty logger: present, nothing else set. */
	cr_assert_eq(load("{" BOOT ", \"logger\": {}}", &c, &err), 0, "%s", err.msg);
	cr_assert(c.logger.present);
	cr_assert_not(c.logger.has_level);
	cr_assert_not(c.logger.has_show_level);
	cr_assert_null(c.logger.log_path);
	config_free(&c);
}

Test(config, missing_required)
{
	expect_err("{}", -EINVAL, "missing section \"boot-source\"");
	expect_err("{\"boot-source\": null}", -EINVAL, "missing section \"boot-source\"");
	expect_err("{\"boot-source\": {}}", -EINVAL,
		   "boot-source: missing field \"kernel_image_path\"");
	expect_err("{" BOOT ", \"machine-config\": {\"vcpu_count\": 2}}", -EINVAL,
		   "machine-config: missing field \"mem_size_mib\"");
	expect_err("{" BOOT ", \"machine-config\": {\"mem_size_mib\": 2}}", -EINVAL,
		   "machine-config: missing field \"vcpu_count\"");
	expect_err("{" BOOT ", \"drives\": [{\"path_on_host\": \"/x\", \"is_root_device\": true}]}",
		   -EINVAL, "drives[0]: missing field \"drive_id\"");
	expect_err("{" BOOT ", \"drives\": [{\"drive_id\": \"a\", \"is_root_device\": true}]}",
		   -EINVAL, "drives[0]: missing field \"path_on_host\"");
	expect_err("{" BOOT ", \"drives\": [{\"drive_id\": \"a\", \"path_on_host\": \"/x\"}]}",
		   -EINVAL, "drives[0]: missing field \"is_root_device\"");
	expect_err("{" BOOT ", \"network-interfaces\": [{\"iface_id\": \"a\"}]}", -EINVAL,
		   "network-interfaces[0]: missing field \"host_dev_name\"");
	expect_err("{" BOOT ", \"vsock\": {\"uds_path\": \"/v\"}}", -EINVAL,
		   "vsock: missing field \"guest_cid\"");
	expect_err("{" BOOT ", \"vsock\": {\"guest_cid\": 3}}", -EINVAL,
		   "vsock: missing field \"uds_path\"");
	expect_err("{" BOOT ", \"metrics\": {}}", -EINVAL, "metrics: missing field \"metrics_path\"");
	expect_err("{\"boot-source\": {\"kernel_image_path\": null}}", -EINVAL,
		   "field \"kernel_image_path\" must be a string (got null)");
}

Test(config, bad_types)
{
	expect_err("[]", -EINVAL, "top level must be a JSON object (got array)");
	expect_err("{\"boot-source\": []}", -EINVAL, "boot-source: must be an object (got array)");
	expect_err("{\"boot-source\": {\"kernel_image_path\": 5}}", -EINVAL,
		   "boot-source: field \"kernel_image_path\" must be a string (got integer)");
	expect_err("{" BOOT ", \"machine-config\": {\"vcpu_count\": \"2\", \"mem_size_mib\": 5}}",
		   -EINVAL, "machine-config: field \"vcpu_count\" must be an integer (got string)");
	expect_err("{" BOOT ", \"machine-config\": {\"vcpu_count\": 2.0, \"mem_size_mib\": 5}}",
		   -EINVAL, "field \"vcpu_count\" must be an integer (got real)");
	expect_err("{" BOOT ", \"machine-config\": {\"vcpu_count\": 2, \"mem_size_mib\": 5,"
		   " \"smt\": 1}}",
		   -EINVAL, "machine-config: field \"smt\" must be a boolean (got integer)");
	expect_err("{" BOOT ", \"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 5,"
		   " \"cpu_template\": \"t2\"}}",
		   -EINVAL, "field \"cpu_template\" must be one of \"None\", \"T2\", \"T2S\", "
			    "\"C3\", \"T2CL\", \"T2A\" (got \"t2\")");
	expect_err("{" BOOT ", \"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 5,"
		   " \"accel\": \"hvf\"}}",
		   -EINVAL, "field \"accel\" must be one of \"auto\", \"kvm\", \"tcg\"");
	expect_err("{" BOOT ", \"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 5,"
		   " \"huge_pages\": \"1G\"}}",
		   -EINVAL, "field \"huge_pages\" must be one of \"None\", \"2M\"");
	expect_err("{" BOOT ", \"drives\": {}}", -EINVAL, "drives: must be an array (got object)");
	expect_err("{" BOOT ", \"drives\": [7]}", -EINVAL,
		   "drives[0]: must be an object (got integer)");
	expect_err("{" BOOT ", \"drives\": [{\"drive_id\": \"a\", \"path_on_host\": \"/x\","
		   " \"is_root_device\": \"yes\"}]}",
		   -EINVAL, "drives[0]: field \"is_root_device\" must be a boolean (got string)");
	expect_err("{" BOOT ", \"drives\": [{\"drive_id\": \"a\", \"path_on_host\": \"/x\","
		   " \"is_root_device\": true, \"cache_type\": \"None\"}]}",
		   -EINVAL, "field \"cache_type\" must be one of \"Unsafe\", \"Writeback\"");
	expect_err("{" BOOT ", \"drives\": [{\"drive_id\": \"a\", \"path_on_host\": \"/x\","
		   " \"is_root_device\": true, \"io_engine\": \"io_uring\"}]}",
		   -EINVAL, "field \"io_engine\" must be one of \"Sync\", \"Async\"");
	expect_err("{" BOOT ", \"network-interfaces\": \"tap0\"}", -EINVAL,
		   "network-interfaces: must be an array (got string)");
	expect_err("{" BOOT ", \"vsock\": {\"guest_cid\": \"3\", \"uds_path\": \"/v\"}}", -EINVAL,
		   "vsock: field \"guest_cid\" must be an integer (got string)");
	expect_err("{" BOOT ", \"entropy\": true}", -EINVAL, "entropy: must be an object (got boolean)");
	expect_err("{" BOOT ", \"logger\": {\"show_level\": \"yes\"}}", -EINVAL,
		   "logger: field \"show_level\" must be a boolean (got string)");
	expect_err("{" BOOT ", \"logger\": {\"level\": \"Verbose\"}}", -EINVAL,
		   "logger: field \"level\" must be one of \"Error\"");
	expect_err("{" BOOT ", \"metrics\": {\"metrics_path\": false}}", -EINVAL,
		   "metrics: field \"metrics_path\" must be a string (got boolean)");
}

Test(config, unknown_fields)
{
	expect_err("{" BOOT ", \"machine\": {}}", -EINVAL, "unknown section \"machine\"");
	expect_err("{" BOOT ", \"machine-config\": {\"vcpus\": 2}}", -EINVAL,
		   "machine-config: unknown field \"vcpus\"");
	expect_err("{\"boot-source\": {\"kernel_image_path\": \"/k\", \"cmdline\": \"\"}}", -EINVAL,
		   "boot-source: unknown field \"cmdline\"");
	expect_err("{" BOOT ", \"drives\": [{\"drive_id\": \"a\", \"path_on_host\": \"/x\","
		   " \"is_root_device\": true}, {\"drive_id\": \"b\", \"path\": \"/y\"}]}",
		   -EINVAL, "drives[1]: unknown field \"path\"");
	expect_err("{" BOOT ", \"network-interfaces\": [{\"iface_id\": \"a\", \"host_dev_name\":"
		   " \"t\", \"allow_mmds_requests\": true}]}",
		   -EINVAL, "network-interfaces[0]: unknown field \"allow_mmds_requests\"");
	expect_err("{" BOOT ", \"vsock\": {\"guest_cid\": 3, \"uds_path\": \"/v\", \"cid\": 3}}",
		   -EINVAL, "vsock: unknown field \"cid\"");
	expect_err("{" BOOT ", \"entropy\": {\"rate\": 1}}", -EINVAL, "entropy: unknown field \"rate\"");
	expect_err("{" BOOT ", \"logger\": {\"options\": []}}", -EINVAL,
		   "logger: unknown field \"options\"");
	expect_err("{" BOOT ", \"metrics\": {\"metrics_path\": \"/m\", \"x\": 1}}", -EINVAL,
		   "metrics: unknown field \"x\"");
}

Test(config, out_of_range)
{
#define MC(v, m) "{" BOOT ", \"machine-config\": {\"vcpu_count\": " v ", \"mem_size_mib\": " m "}}"
	expect_err(MC("0", "128"), -EINVAL, "field \"vcpu_count\" must be in 1..32 (got 0)");
	expect_err(MC("33", "128"), -EINVAL, "field \"vcpu_count\" must be in 1..32 (got 33)");
	expect_err(MC("-1", "128"), -EINVAL, "field \"vcpu_count\" must be in 1..32 (got -1)");
	expect_err(MC("1", "0"), -EINVAL, "field \"mem_size_mib\" must be in 1..1048576 (got 0)");
	expect_err(MC("1", "1048577"), -EINVAL, "must be in 1..1048576 (got 1048577)");
	/* Beyond int64: jansson's own error, with a position. */
	expect_err(MC("1", "99999999999999999999"), -EINVAL, "line 1, column");
#undef MC
	struct vm_config c;
	struct errbuf err = { "" };
	cr_assert_eq(load("{" BOOT ", \"machine-config\": {\"vcpu_count\": 32,"
			  " \"mem_size_mib\": 1048576}}",
			  &c, &err),
		     0, "%s", err.msg);
	cr_assert_eq(c.machine.vcpu_count, 32);
	cr_assert_eq(c.machine.mem_size_mib, 1048576);
	config_free(&c);

#define VS(cid) "{" BOOT ", \"vsock\": {\"guest_cid\": " cid ", \"uds_path\": \"/v\"}}"
	expect_err(VS("2"), -EINVAL, "field \"guest_cid\" must be in 3..4294967294 (got 2)");
	expect_err(VS("4294967295"), -EINVAL, "(got 4294967295)");
	expect_err(VS("4294967296"), -EINVAL, "(got 4294967296)");
	cr_assert_eq(load(VS("4294967294"), &c, &err), 0, "%s", err.msg);
	cr_assert_eq(c.vsock.guest_cid, 4294967294u);
	config_free(&c);
#undef VS
}

Test(config, vsock_max_connections)
{
	struct vm_config c;
	struct errbuf err = { "" };
#define VM(n) "{" BOOT ", \"vsock\": {\"guest_cid\": 3, \"uds_path\": \"/v\"" n "}}"
	cr_assert_eq(load(VM(""), &c, &err), 0, "%s", err.msg);
	cr_assert_eq(c.vsock.max_connections, 0);
	json_t *j = config_vsock_to_json(&c.vsock);
	cr_assert_null(json_object_get(j, "max_connections"), "not shown when not set");
	json_decref(j);
	config_free(&c);
	cr_assert_eq(load(VM(", \"max_connections\": 100"), &c, &err), 0, "%s", err.msg);
	cr_assert_eq(c.vsock.max_connections, 100);
	j = config_vsock_to_json(&c.vsock);
	cr_assert_eq(json_integer_value(json_object_get(j, "max_connections")), 100);
	json_decref(j);
	config_free(&c);
	expect_err(VM(", \"max_connections\": 0"), -EINVAL,
		   "field \"max_connections\" must be in 1..1048576 (got 0)");
	expect_err(VM(", \"max_connections\": 1048577"), -EINVAL, "(got 1048577)");
	expect_err(VM(", \"max_connections\": \"9\""), -EINVAL, "must be an integer");
#undef VM
}

Test(config, machine_combinations)
{
	expect_err("{" BOOT ", \"machine-config\": {\"vcpu_count\": 3, \"mem_size_mib\": 128,"
		   " \"smt\": true}}",
		   -EINVAL, "field \"vcpu_count\" must be 1 or even when smt is enabled (got 3)");
	expect_err("{" BOOT ", \"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 127,"
		   " \"huge_pages\": \"2M\"}}",
		   -EINVAL, "field \"mem_size_mib\" must be a multiple of 2 with 2M huge pages");
	expect_err("{\"boot-source\": {\"kernel_image_path\": \"/k\", \"initrd_path\": \"/i\"},"
		   " \"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 128,"
		   " \"huge_pages\": \"2M\"}}",
		   -EINVAL, "huge_pages \"2M\" cannot be used with an initrd");

	struct vm_config c;
	struct errbuf err = { "" };
	cr_assert_eq(load("{" BOOT ", \"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 256,"
			  " \"smt\": true, \"huge_pages\": \"2M\"}}",
			  &c, &err),
		     0, "%s", err.msg);
	cr_assert_eq(c.machine.huge_pages, CONFIG_HUGE_PAGES_2M);
	config_free(&c);
}

Test(config, empty_strings_and_ids)
{
	expect_err("{\"boot-source\": {\"kernel_image_path\": \"\"}}", -EINVAL,
		   "field \"kernel_image_path\" must not be empty");
#define DRV(id) "{" BOOT ", \"drives\": [{\"drive_id\": \"" id "\", \"path_on_host\": \"/x\", " \
		"\"is_root_device\": false}]}"
	expect_err(DRV(""), -EINVAL, "field \"drive_id\" must be 1..64 characters of [A-Za-z0-9_]");
	expect_err(DRV("my-disk"), -EINVAL, "(got \"my-disk\")");
	expect_err(DRV("a/b"), -EINVAL, "(got \"a/b\")");
	expect_err(DRV("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), -EINVAL,
		   "drive_id");
	struct vm_config c;
	struct errbuf err = { "" };
	cr_assert_eq(load(DRV("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa_"), &c,
			  &err),
		     0, "%s", err.msg);
	config_free(&c);
#undef DRV
	/* partuuid is pasted into the kernel command line: no spaces. */
	expect_err("{" BOOT ", \"drives\": [{\"drive_id\": \"r\", \"path_on_host\": \"/x\","
		   " \"is_root_device\": true, \"partuuid\": \"1234 init=/bin/sh\"}]}",
		   -EINVAL, "field \"partuuid\" must be 1..64 characters");
	expect_err("{" BOOT ", \"drives\": [{\"drive_id\": \"r\", \"path_on_host\": \"/x\","
		   " \"is_root_device\": true, \"partuuid\": \"01234567890123456789012345678901"
		   "234567890123456789012345678901234\"}]}",
		   -EINVAL, "field \"partuuid\" must be 1..64 characters");
	expect_err("{" BOOT ", \"network-interfaces\": [{\"iface_id\": \"a\","
		   " \"host_dev_name\": \"0123456789abcdef\"}]}",
		   -EINVAL, "field \"host_dev_name\" must be at most 15 characters (got 16)");
	expect_err("{" BOOT ", \"network-interfaces\": [{\"iface_id\": \"a-b\","
		   " \"host_dev_name\": \"t\"}]}",
		   -EINVAL, "field \"iface_id\" must be 1..64 characters");
	expect_err("{" BOOT ", \"network-interfaces\": [{\"iface_id\": \"a\","
		   " \"host_dev_name\": \"tap 0\"}]}",
		   -EINVAL, "field \"host_dev_name\" is not a valid interface name (got \"tap 0\")");
	expect_err("{" BOOT ", \"network-interfaces\": [{\"iface_id\": \"a\","
		   " \"host_dev_name\": \"..\"}]}",
		   -EINVAL, "not a valid interface name");
	expect_err("{" BOOT ", \"network-interfaces\": [{\"iface_id\": \"a\","
		   " \"host_dev_name\": \"\"}]}",
		   -EINVAL, "field \"host_dev_name\" must not be empty");
}

/* Input quoted back in errors is cut short and stripped of control
 * characters, so it cannot forge extra log lines. */
Test(config, echoed_input_is_sanitized)
{
	expect_err("{" BOOT ", \"machine-config\": {\"x\\nERROR fake\": 1}}", -EINVAL,
		   "unknown field \"x?ERROR fake\"");
	struct vm_config c;
	struct errbuf err = { "" };
	char json[512];
	snprintf(json, sizeof(json), "{\"%0200d\": 1}", 7);
	cr_assert_eq(load(json, &c, &err), -EINVAL);
	cr_assert_lt(strlen(err.msg), 100, "%s", err.msg);
	cr_assert(strstr(err.msg, "unknown section \"0000"), "%s", err.msg);
}

Test(config, duplicate_ids)
{
	expect_err("{" BOOT ", \"drives\": [{\"drive_id\": \"a\", \"path_on_host\": \"/x\","
		   " \"is_root_device\": false}, {\"drive_id\": \"a\", \"path_on_host\": \"/y\","
		   " \"is_root_device\": false}]}",
		   -EEXIST, "drives[1]: drive_id \"a\" is used twice");
	expect_err("{" BOOT ", \"network-interfaces\": [{\"iface_id\": \"n\", \"host_dev_name\":"
		   " \"t0\"}, {\"iface_id\": \"n\", \"host_dev_name\": \"t1\"}]}",
		   -EEXIST, "network-interfaces[1]: iface_id \"n\" is used twice");
	expect_err("{" BOOT ", \"network-interfaces\": [{\"iface_id\": \"a\", \"host_dev_name\":"
		   " \"t0\"}, {\"iface_id\": \"b\", \"host_dev_name\": \"t0\"}]}",
		   -EEXIST, "host_dev_name \"t0\" is already used by \"a\"");
	expect_err("{" BOOT ", \"network-interfaces\": [{\"iface_id\": \"a\", \"host_dev_name\":"
		   " \"t0\", \"guest_mac\": \"02:00:00:00:00:01\"}, {\"iface_id\": \"b\","
		   " \"host_dev_name\": \"t1\", \"guest_mac\": \"02:00:00:00:00:01\"}]}",
		   -EEXIST, "guest_mac 02:00:00:00:00:01 is already used by \"a\"");
	/* Duplicate keys inside one object are refused by the JSON reader. */
	expect_err("{" BOOT ", " BOOT "}", -EINVAL, "duplicate object key");
}

Test(config, two_root_drives)
{
	expect_err("{" BOOT ", \"drives\": [{\"drive_id\": \"a\", \"path_on_host\": \"/x\","
		   " \"is_root_device\": true}, {\"drive_id\": \"b\", \"path_on_host\": \"/y\","
		   " \"is_root_device\": true}]}",
		   -EEXIST, "drives[1]: drive \"b\": a root drive already exists (\"a\")");
}

Test(config, bad_mac)
{
	static const char *const bad[] = {
		"06:00:00:00:00",    "06:00:00:00:00:0",   "06:00:00:00:00:001", "06-00-00-00-00-01",
		"06:00:00:00:00:0g", "0x:00:00:00:00:01",  "",                   "06:00:00:00:00:01 ",
		"01:00:5e:00:00:01", "00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff",
	};
	uint8_t mac[6];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(config_mac_parse(bad[i], mac), -EINVAL, "accepted \"%s\"", bad[i]);
	cr_assert_eq(config_mac_parse("aA:bB:0c:dd:ee:ff", mac), 0);
	const uint8_t want[6] = { 0xaa, 0xbb, 0x0c, 0xdd, 0xee, 0xff };
	cr_assert_arr_eq(mac, want, 6);

	expect_err("{" BOOT ", \"network-interfaces\": [{\"iface_id\": \"a\", \"host_dev_name\":"
		   " \"t0\", \"guest_mac\": \"06:00:00:00:00\"}]}",
		   -EINVAL, "network-interfaces[0]: field \"guest_mac\" must be a unicast MAC");
	expect_err("{" BOOT ", \"network-interfaces\": [{\"iface_id\": \"a\", \"host_dev_name\":"
		   " \"t0\", \"guest_mac\": 6}]}",
		   -EINVAL, "field \"guest_mac\" must be a string (got integer)");
}

Test(config, not_supported)
{
	expect_err("{" BOOT ", \"balloon\": {\"amount_mib\": 1}}", -ENOTSUP,
		   "balloon: not supported yet");
	expect_err("{" BOOT ", \"cpu-config\": \"/nonexistent/t.json\"}", -ENOENT,
		   "cpu-config: /nonexistent/t.json: No such file");
	expect_err("{" BOOT ", \"pmem\": []}", -ENOTSUP, "pmem: not supported yet");
	expect_err("{" BOOT ", \"drives\": [{\"drive_id\": \"a\", \"path_on_host\": \"/x\","
		   " \"is_root_device\": true, \"rate_limiter\": {}}]}",
		   -ENOTSUP, "drives[0]: field \"rate_limiter\": not supported yet");
	expect_err("{" BOOT ", \"drives\": [{\"drive_id\": \"a\", \"is_root_device\": true,"
		   " \"socket\": \"/vhost.sock\"}]}",
		   -ENOTSUP, "drives[0]: field \"socket\": not supported yet");
	expect_err("{" BOOT ", \"network-interfaces\": [{\"iface_id\": \"a\", \"host_dev_name\":"
		   " \"t\", \"tx_rate_limiter\": {\"ops\": null}}]}",
		   -ENOTSUP, "field \"tx_rate_limiter\": not supported yet");
	expect_err("{" BOOT ", \"network-interfaces\": [{\"iface_id\": \"a\", \"host_dev_name\":"
		   " \"t\", \"rx_rate_limiter\": {}}]}",
		   -ENOTSUP, "field \"rx_rate_limiter\": not supported yet");
	expect_err("{" BOOT ", \"entropy\": {\"rate_limiter\": {}}}", -ENOTSUP,
		   "entropy: field \"rate_limiter\": not supported yet");
}

Test(config, malformed_json)
{
	expect_err("{\n  \"boot-source\": {\n    \"kernel_image_path\": \"/k\",\n  }\n}", -EINVAL,
		   "invalid JSON at line 4, column");
	expect_err("{" BOOT "} trailing", -EINVAL, "invalid JSON at line 1");
	expect_err("{\"boot-source\": {\"kernel_image_path\": \"/k\\u0000x\"}}", -EINVAL,
		   "invalid JSON");
	expect_err("", -EINVAL, "empty configuration");
	expect_err(" \n\t ", -EINVAL, "empty configuration");
}

/* ---- files ---- */

static char *tmp_file(const char *content, size_t len)
{
	char *path = strdup("/tmp/ember-test-config-XXXXXX");
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, content, len), (ssize_t)len);
	close(fd);
	return path;
}

Test(config, load_file)
{
	char *path = tmp_file(full_cfg, strlen(full_cfg));
	struct vm_config c;
	struct errbuf err = { "" };
	cr_assert_eq(config_load_file(path, &c, &err), 0, "%s", err.msg);
	cr_assert_eq(c.machine.vcpu_count, 4);
	cr_assert_eq(c.n_drives, 2);
	config_free(&c);
	unlink(path);
	free(path);
}

Test(config, file_errors)
{
	struct vm_config c;
	struct errbuf err = { "" };

	cr_assert_eq(config_load_file("/nonexistent/ember.json", &c, &err), -ENOENT);
	cr_assert(strstr(err.msg, "/nonexistent/ember.json: No such file"), "%s", err.msg);

	cr_assert_eq(config_load_file("/tmp", &c, &err), -EISDIR);
	cr_assert(strstr(err.msg, "/tmp: Is a directory"), "%s", err.msg);

	/* Opens fine, then read() fails (EIO at unmapped address 0). */
	cr_assert_eq(config_load_file("/proc/self/mem", &c, &err), -EIO, "%s", err.msg);
	cr_assert(strstr(err.msg, "/proc/self/mem: Input/output error"), "%s", err.msg);

	char *path = tmp_file("", 0);
	cr_assert_eq(config_load_file(path, &c, &err), -EINVAL);
	cr_assert(strstr(err.msg, ": empty configuration"), "%s", err.msg);
	cr_assert(strstr(err.msg, path), "%s", err.msg);
	unlink(path);
	free(path);

	const char *bad = "{\n\"boot-source\": {\"kernel_image_path\": \"/k\"},\n\"drives\": [,]\n}";
	path = tmp_file(bad, strlen(bad));
	cr_assert_eq(config_load_file(path, &c, &err), -EINVAL);
	cr_assert(strstr(err.msg, "invalid JSON at line 3, column 12"), "%s", err.msg);
	cr_assert(strstr(err.msg, path), "%s", err.msg);
	unlink(path);
	free(path);

	/* Semantic errors keep the path in front too. */
	const char *unk = "{" BOOT ", \"machine-config\": {\"vcpus\": 2}}";
	path = tmp_file(unk, strlen(unk));
	cr_assert_eq(config_load_file(path, &c, &err), -EINVAL);
	char want[600];
	snprintf(want, sizeof(want), "%s: machine-config: unknown field \"vcpus\"", path);
	cr_assert_str_eq(err.msg, want);
	unlink(path);
	free(path);

	size_t big = CONFIG_FILE_MAX + 1;
	char *blob = malloc(big);
	memset(blob, ' ', big);
	path = tmp_file(blob, big);
	cr_assert_eq(config_load_file(path, &c, &err), -EFBIG);
	cr_assert(strstr(err.msg, "larger than 1048576 bytes"), "%s", err.msg);
	unlink(path);
	free(path);
	free(blob);
}

/* ---- GET /vm/config ---- */

Test(config, to_json_shape)
{
	struct vm_config c;
	struct errbuf err = { "" };
	cr_assert_eq(load(full_cfg, &c, &err), 0, "%s", err.msg);
	json_t *j = config_to_json(&c);
	cr_assert_not_null(j);

	/* Firecracker's keys, in its order; sections Ember lacks are left
	 * out, as every null is (the swagger has no null). */
	static const char *const keys[] = { "drives", "boot-source", "logger", "machine-config",
					    "metrics", "network-interfaces", "vsock", "entropy" };
	const char *key;
	json_t *v;
	size_t i = 0;
	json_object_foreach(j, key, v) {
		cr_assert_lt(i, 8);
		cr_assert_str_eq(key, keys[i]);
		i++;
	}
	cr_assert_eq(i, 8);
	cr_assert_null(json_object_get(j, "balloon"));

	json_t *want = parse(
		"{\"drive_id\": \"rootfs\", \"partuuid\": \"0eb7f3c4-01\", \"is_root_device\": true,"
		" \"cache_type\": \"Unsafe\", \"is_read_only\": false, \"path_on_host\": \"/r.ext4\","
		" \"io_engine\": \"Sync\"}");
	cr_assert(json_equal(json_array_get(json_object_get(j, "drives"), 0), want));
	json_decref(want);

	want = parse("{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\","
		     " \"guest_mac\": \"06:00:ac:10:00:02\"}");
	cr_assert(json_equal(json_array_get(json_object_get(j, "network-interfaces"), 0), want));
	json_decref(want);
	want = parse("{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap1\", \"mtu\": 9000}");
	cr_assert(json_equal(json_array_get(json_object_get(j, "network-interfaces"), 1), want));
	json_decref(want);
	want = parse("{\"metrics_path\": \"/metrics\", \"emit_id\": true,"
		     " \"properties\": {\"team\": \"ember\"}}");
	cr_assert(json_equal(json_object_get(j, "metrics"), want));
	json_decref(want);

	want = parse("{\"vcpu_count\": 4, \"mem_size_mib\": 1024, \"smt\": true,"
		     " \"cpu_template\": \"T2S\", \"track_dirty_pages\": true,"
		     " \"huge_pages\": \"None\", \"accel\": \"tcg\"}");
	cr_assert(json_equal(json_object_get(j, "machine-config"), want));
	json_decref(want);

	want = parse("{\"log_path\": \"/log\", \"level\": \"Debug\", \"show_level\": true,"
		     " \"show_log_origin\": false, \"module\": \"virtio\"}");
	cr_assert(json_equal(json_object_get(j, "logger"), want));
	json_decref(want);
	json_decref(j);
	config_free(&c);

	/* Defaults: Firecracker's exact shape, no Ember extras. */
	cr_assert_eq(load("{" BOOT "}", &c, &err), 0, "%s", err.msg);
	j = config_to_json(&c);
	want = parse("{\"drives\": [], \"boot-source\": {\"kernel_image_path\": \"/k\"},"
		     " \"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\":"
		     " 128, \"smt\": false, \"track_dirty_pages\": false, \"huge_pages\": \"None\"},"
		     " \"network-interfaces\": []}");
	char *got = json_dumps(j, JSON_COMPACT);
	cr_assert(json_equal(j, want), "got %s", got);
	free(got);
	json_decref(want);
	json_decref(j);
	config_free(&c);
}

Test(config, round_trip)
{
	struct vm_config a, b;
	struct errbuf err = { "" };
	cr_assert_eq(load(full_cfg, &a, &err), 0, "%s", err.msg);
	json_t *ja = config_to_json(&a);
	char *text = json_dumps(ja, JSON_INDENT(2));
	cr_assert_eq(load(text, &b, &err), 0, "%s\n%s", err.msg, text);
	json_t *jb = config_to_json(&b);
	cr_assert(json_equal(ja, jb));

	cr_assert_eq(b.machine.accel, CONFIG_ACCEL_TCG);
	cr_assert_eq(b.n_drives, 2);
	cr_assert_str_eq(b.drives[0].drive_id, "rootfs");
	cr_assert_str_eq(b.drives[1].drive_id, "data");
	cr_assert_eq(b.drives[1].cache_type, CONFIG_CACHE_WRITEBACK);
	cr_assert_eq(b.drives[1].io_engine, CONFIG_IO_ASYNC);
	cr_assert_arr_eq(b.nets[0].guest_mac, a.nets[0].guest_mac, 6);
	cr_assert_str_eq(b.vsock.vsock_id, "v");
	cr_assert(b.entropy.present);
	cr_assert_eq(b.logger.level, LOG_DEBUG);
	cr_assert_str_eq(b.metrics.metrics_path, "/metrics");

	free(text);
	json_decref(ja);
	json_decref(jb);
	config_free(&a);
	config_free(&b);
}

/* ---- API-facing pieces ---- */

Test(config, machine_put_and_patch)
{
	struct config_machine m;
	struct errbuf err = { "" };
	config_machine_init(&m);

	json_t *j = parse("{\"vcpu_count\": 2, \"mem_size_mib\": 512, \"cpu_template\": \"C3\","
			  " \"track_dirty_pages\": true}");
	cr_assert_eq(config_parse_machine(j, &m, false, &err), 0, "%s", err.msg);
	json_decref(j);
	cr_assert_eq(m.vcpu_count, 2);
	cr_assert_eq(m.cpu_template, CONFIG_CPU_TEMPLATE_C3);

	/* PATCH changes only what it names. */
	j = parse("{\"mem_size_mib\": 1024}");
	cr_assert_eq(config_parse_machine(j, &m, true, &err), 0, "%s", err.msg);
	json_decref(j);
	cr_assert_eq(m.vcpu_count, 2);
	cr_assert_eq(m.mem_size_mib, 1024);
	cr_assert(m.track_dirty_pages);

	/* PATCH whose result is invalid: error and nothing changed. */
	j = parse("{\"vcpu_count\": 3, \"smt\": true}");
	cr_assert_eq(config_parse_machine(j, &m, true, &err), -EINVAL);
	json_decref(j);
	cr_assert(strstr(err.msg, "1 or even"), "%s", err.msg);
	cr_assert_eq(m.vcpu_count, 2);
	cr_assert_not(m.smt);

	j = parse("{}");
	cr_assert_eq(config_parse_machine(j, &m, true, &err), -EINVAL);
	cr_assert(strstr(err.msg, "empty update"), "%s", err.msg);
	json_decref(j);

	/* PUT resets omitted fields but keeps cpu_template, as Firecracker. */
	j = parse("{\"vcpu_count\": 1, \"mem_size_mib\": 64}");
	cr_assert_eq(config_parse_machine(j, &m, false, &err), 0, "%s", err.msg);
	json_decref(j);
	cr_assert_eq(m.mem_size_mib, 64);
	cr_assert_not(m.track_dirty_pages);
	cr_assert_eq(m.cpu_template, CONFIG_CPU_TEMPLATE_C3);
	j = parse("{\"vcpu_count\": 1, \"mem_size_mib\": 64, \"cpu_template\": \"None\"}");
	cr_assert_eq(config_parse_machine(j, &m, false, &err), 0, "%s", err.msg);
	json_decref(j);
	cr_assert_eq(m.cpu_template, CONFIG_CPU_TEMPLATE_NONE);
}

static void add_drive(struct vm_config *cfg, const char *json, bool replace, int want)
{
	struct config_drive d;
	struct errbuf err = { "" };
	json_t *j = parse(json);
	cr_assert_eq(config_parse_drive(j, &d, &err), 0, "%s", err.msg);
	json_decref(j);
	int rc = config_drive_insert(cfg, &d, replace, &err);
	cr_assert_eq(rc, want, "%s", err.msg);
	if (rc)
		config_drive_free(&d);
	else
		cr_assert_null(d.drive_id, "ownership must move");
}

Test(config, drive_insert_and_patch)
{
	struct vm_config cfg;
	struct errbuf err = { "" };
	config_init(&cfg);
	add_drive(&cfg, "{\"drive_id\": \"a\", \"path_on_host\": \"/a\", \"is_root_device\": false}",
		  false, 0);
	add_drive(&cfg, "{\"drive_id\": \"b\", \"path_on_host\": \"/b\", \"is_root_device\": false}",
		  false, 0);
	add_drive(&cfg, "{\"drive_id\": \"c\", \"path_on_host\": \"/c\", \"is_root_device\": true}",
		  false, 0);
	cr_assert_str_eq(cfg.drives[0].drive_id, "c");
	cr_assert_str_eq(cfg.drives[1].drive_id, "a");
	cr_assert_str_eq(cfg.drives[2].drive_id, "b");

	/* PUT semantics: same id replaces; turning "b" into a root fails
	 * while "c" is root; replacing "c" itself is fine. */
	add_drive(&cfg, "{\"drive_id\": \"a\", \"path_on_host\": \"/a2\", \"is_root_device\": false}",
		  false, -EEXIST);
	add_drive(&cfg, "{\"drive_id\": \"a\", \"path_on_host\": \"/a2\", \"is_root_device\": false}",
		  true, 0);
	cr_assert_eq(cfg.n_drives, 3);
	cr_assert_str_eq(config_find_drive(&cfg, "a")->path_on_host, "/a2");
	add_drive(&cfg, "{\"drive_id\": \"b\", \"path_on_host\": \"/b\", \"is_root_device\": true}",
		  true, -EEXIST);
	add_drive(&cfg, "{\"drive_id\": \"c\", \"path_on_host\": \"/c2\", \"is_root_device\": false}",
		  true, 0);
	add_drive(&cfg, "{\"drive_id\": \"b\", \"path_on_host\": \"/b\", \"is_root_device\": true}",
		  true, 0);
	cr_assert_str_eq(cfg.drives[0].drive_id, "b");
	cr_assert_str_eq(cfg.drives[1].drive_id, "c");
	cr_assert_str_eq(cfg.drives[2].drive_id, "a");
	cr_assert_null(config_find_drive(&cfg, "zz"));

	struct config_drive *a = config_find_drive(&cfg, "a");
	json_t *j = parse("{\"drive_id\": \"a\", \"path_on_host\": \"/a3\"}");
	cr_assert_eq(config_parse_drive_patch(j, a, &err), 0, "%s", err.msg);
	json_decref(j);
	cr_assert_str_eq(a->path_on_host, "/a3");
	j = parse("{\"drive_id\": \"b\", \"path_on_host\": \"/zz\"}");
	cr_assert_eq(config_parse_drive_patch(j, a, &err), -EINVAL);
	cr_assert(strstr(err.msg, "field \"drive_id\" is \"b\" but \"a\" is being updated"), "%s",
		  err.msg);
	json_decref(j);
	cr_assert_str_eq(a->path_on_host, "/a3");
	j = parse("{\"drive_id\": \"a\"}");
	cr_assert_eq(config_parse_drive_patch(j, a, &err), -EINVAL);
	cr_assert(strstr(err.msg, "empty update"), "%s", err.msg);
	json_decref(j);
	j = parse("{\"drive_id\": \"a\", \"rate_limiter\": {\"ops\": {}}}");
	cr_assert_eq(config_parse_drive_patch(j, a, &err), -ENOTSUP);
	json_decref(j);
	j = parse("{\"drive_id\": \"a\", \"is_read_only\": true}");
	cr_assert_eq(config_parse_drive_patch(j, a, &err), -EINVAL);
	cr_assert(strstr(err.msg, "unknown field \"is_read_only\""), "%s", err.msg);
	json_decref(j);

	config_free(&cfg);
	cr_assert_eq(cfg.n_drives, 0);
}

Test(config, net_insert_and_patch)
{
	struct vm_config cfg;
	struct errbuf err = { "" };
	struct config_net n;
	config_init(&cfg);

	json_t *j = parse("{\"iface_id\": \"e0\", \"host_dev_name\": \"tap0\","
			  " \"guest_mac\": \"02:00:00:00:00:01\"}");
	cr_assert_eq(config_parse_net(j, &n, &err), 0, "%s", err.msg);
	cr_assert_eq(config_net_insert(&cfg, &n, false, &err), 0, "%s", err.msg);
	/* Replacing e0 with its own MAC and tap is not a conflict. */
	cr_assert_eq(config_parse_net(j, &n, &err), 0, "%s", err.msg);
	cr_assert_eq(config_net_insert(&cfg, &n, false, &err), -EEXIST);
	cr_assert_eq(config_net_insert(&cfg, &n, true, &err), 0, "%s", err.msg);
	json_decref(j);
	cr_assert_eq(cfg.n_nets, 1);

	struct config_net *e0 = config_find_net(&cfg, "e0");
	cr_assert_not_null(e0);
	j = parse("{\"iface_id\": \"e0\"}");
	cr_assert_eq(config_parse_net_patch(j, e0, &err), -EINVAL);
	cr_assert(strstr(err.msg, "empty update"), "%s", err.msg);
	json_decref(j);
	j = parse("{\"iface_id\": \"e0\", \"rx_rate_limiter\": {}}");
	cr_assert_eq(config_parse_net_patch(j, e0, &err), -ENOTSUP);
	json_decref(j);
	j = parse("{\"iface_id\": \"e1\", \"rx_rate_limiter\": null}");
	cr_assert_eq(config_parse_net_patch(j, e0, &err), -EINVAL);
	cr_assert(strstr(err.msg, "\"e1\" but \"e0\""), "%s", err.msg);
	json_decref(j);
	config_free(&cfg);
}

Test(config, sections_for_api)
{
	struct errbuf err = { "" };
	struct config_logger l;
	json_t *j = parse("{\"level\": \"WARN\"}");
	cr_assert_eq(config_parse_logger(j, &l, &err), 0, "%s", err.msg);
	json_decref(j);
	cr_assert_eq(l.level, LOG_WARN);
	j = config_logger_to_json(&l);
	json_t *want = parse("{\"level\": \"Warning\"}");
	cr_assert(json_equal(j, want));
	json_decref(j);
	json_decref(want);
	config_logger_free(&l);

	struct config_boot b = { 0 };
	j = parse("{\"kernel_image_path\": \"/k\", \"initrd_path\": 3}");
	cr_assert_eq(config_parse_boot(j, &b, &err), -EINVAL);
	cr_assert_null(b.kernel_image_path, "untouched on failure");
	cr_assert(strstr(err.msg, "field \"initrd_path\" must be a string (got integer)"), "%s",
		  err.msg);
	json_decref(j);

	struct config_entropy e = { false };
	j = parse("{\"rate_limiter\": null}");
	cr_assert_eq(config_parse_entropy(j, &e, &err), 0, "%s", err.msg);
	cr_assert(e.present);
	json_decref(j);

	/* Validation for InstanceStart without boot-source. */
	struct vm_config cfg;
	config_init(&cfg);
	cr_assert_eq(config_validate(&cfg, &err), -EINVAL);
	cr_assert(strstr(err.msg, "kernel_image_path is not set"), "%s", err.msg);
	json_t *vm = config_to_json(&cfg);
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(vm, "boot-source"),
							   "kernel_image_path")),
			 "");
	json_decref(vm);
	config_free(&cfg);

	enum config_accel a;
	cr_assert_eq(config_accel_parse("kvm", &a), 0);
	cr_assert_eq(a, CONFIG_ACCEL_KVM);
	cr_assert_eq(config_accel_parse("KVM", &a), -EINVAL);
	cr_assert_str_eq(config_log_level_name(LOG_TRACE), "Trace");
	cr_assert_str_eq(config_cpu_template_name(CONFIG_CPU_TEMPLATE_T2CL), "T2CL");
	cr_assert(config_id_valid("rootfs_1"));
	cr_assert_not(config_id_valid("root fs"));
}

Test(config, too_many_drives)
{
	/* Builds CONFIG_MAX_DRIVES + 1 drives; the last must be refused. */
	size_t cap = 128 + (CONFIG_MAX_DRIVES + 1) * 96;
	char *s = malloc(cap);
	size_t n = (size_t)snprintf(s, cap, "{" BOOT ", \"drives\": [");
	for (int i = 0; i <= CONFIG_MAX_DRIVES; i++)
		n += (size_t)snprintf(s + n, cap - n,
				      "%s{\"drive_id\": \"d%d\", \"path_on_host\": \"/x\","
				      " \"is_root_device\": false}",
				      i ? "," : "", i);
	snprintf(s + n, cap - n, "]}");
	expect_err(s, -ENOSPC, "drives[64]: too many drives (at most 64)");
	free(s);
}

#define NET0 "\"network-interfaces\": [{\"iface_id\": \"eth0\", \"host_dev_name\": \"t0\"}]"

Test(config, mmds_config)
{
	struct vm_config cfg;
	struct errbuf err = { "" };
	const char *ok = "{" BOOT ", " NET0 ", \"mmds-config\": {\"version\": \"V2\", "
			 "\"network_interfaces\": [\"eth0\"], \"ipv4_address\": \"169.254.170.2\", "
			 "\"imds_compat\": true}}";
	cr_assert_eq(load(ok, &cfg, &err), 0, "%s", err.msg);
	cr_expect(cfg.mmds.present);
	cr_expect_eq(cfg.mmds.version, 1);
	cr_expect_eq(cfg.mmds.ipv4, 0xa9feaa02u);
	cr_expect(cfg.mmds.imds_compat);
	json_t *j = config_mmds_to_json(&cfg.mmds);
	char *s = json_dumps(j, JSON_COMPACT);
	cr_expect_str_eq(s, "{\"version\":\"V2\",\"network_interfaces\":[\"eth0\"],"
			    "\"ipv4_address\":\"169.254.170.2\",\"imds_compat\":true}");
	free(s);
	json_decref(j);
	config_free(&cfg);
	/* Defaults: V1, 169.254.169.254. */
	cr_assert_eq(load("{" BOOT ", " NET0 ", \"mmds-config\": {\"network_interfaces\": [\"eth0\"]}}",
			  &cfg, &err),
		     0, "%s", err.msg);
	cr_expect_eq(cfg.mmds.version, 0);
	cr_expect_eq(cfg.mmds.ipv4, 0xa9fea9feu);
	config_free(&cfg);
	/* GET /vm/config's text loads back the same (snapshots keep it so). */
	cr_assert_eq(load(ok, &cfg, &err), 0, "%s", err.msg);
	j = config_to_json(&cfg);
	struct vm_config back;
	cr_assert_eq(config_load_json(j, &back, &err), 0, "%s", err.msg);
	cr_expect(back.mmds.present && back.mmds.version == 1 && back.mmds.ipv4 == 0xa9feaa02u &&
		  back.mmds.imds_compat && back.mmds.n_ifaces == 1);
	json_decref(j);
	config_free(&back);
	config_free(&cfg);
	expect_err("{" BOOT ", " NET0 ", \"mmds-config\": {\"network_interfaces\": []}}", -EINVAL,
		   "mmds-config: field \"network_interfaces\": the list");
	expect_err("{" BOOT ", " NET0 ", \"mmds-config\": {}}", -EINVAL,
		   "missing field \"network_interfaces\"");
	expect_err("{" BOOT ", \"mmds-config\": {\"network_interfaces\": [\"eth1\"]}}", -EINVAL,
		   "\"eth1\" is no configured network interface");
	expect_err("{" BOOT ", " NET0 ", \"mmds-config\": {\"network_interfaces\": [\"eth0\"], "
		   "\"ipv4_address\": \"169.254.255.1\"}}",
		   -EINVAL, "field \"ipv4_address\": 169.254.255.1 is not a usable link-local");
	expect_err("{" BOOT ", " NET0 ", \"mmds-config\": {\"network_interfaces\": [\"eth0\"], "
		   "\"ipv4_address\": \"10.0.0.1\"}}",
		   -EINVAL, "ipv4_address");
	expect_err("{" BOOT ", " NET0 ", \"mmds-config\": {\"network_interfaces\": [\"eth0\"], "
		   "\"ipv4_address\": \"x\"}}",
		   -EINVAL, "\"x\" is not an IPv4 address");
	expect_err("{" BOOT ", " NET0 ", \"mmds-config\": {\"network_interfaces\": [\"eth0\"], "
		   "\"version\": \"V3\"}}",
		   -EINVAL, "field \"version\"");
	expect_err("{" BOOT ", " NET0 ", \"mmds-config\": {\"network_interfaces\": [\"eth0\", \"eth0\"]}}",
		   -EINVAL, "listed twice");
	expect_err("{" BOOT ", " NET0 ", \"mmds-config\": {\"network_interfaces\": [7]}}", -EINVAL,
		   "network_interfaces\"[0]");
	expect_err("{" BOOT ", " NET0 ", \"mmds-config\": {\"network_interfaces\": [\"eth0\"], "
		   "\"imds_compat\": 1}}",
		   -EINVAL, "imds_compat");
	expect_err("{" BOOT ", " NET0 ", \"mmds-config\": {\"network_interfaces\": [\"eth0\"], "
		   "\"x\": 1}}",
		   -EINVAL, "unknown field \"x\"");
}
