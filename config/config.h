/* Ember's VM configuration: Firecracker's JSON config-file format parsed into
 * plain structs. The per-section parsers are what the REST API calls for its
 * PUT/PATCH bodies, so a config file and an API request get the same checks
 * and the same error text.
 *
 * Parsers check syntax and ranges only; they never touch the filesystem or
 * the network (the runtime opens files and taps when it builds devices).
 * All functions return 0 or a negative errno and explain failures in err:
 *   -EINVAL   bad JSON, bad type, bad value, missing/unknown field
 *   -ENOTSUP  a Firecracker feature Ember does not implement yet
 *   -EEXIST   a duplicate id (or a second root drive)
 *   -ENOMEM, -ENOENT, -EISDIR, -EFBIG ...  from loading a file
 * Section parsers produce messages without the section name (e.g.
 * `unknown field "vcpus"`); config_load_* prefix it ("machine-config: ...")
 * and the API may prefix what it likes. */
#ifndef EMBER_CONFIG_H
#define EMBER_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/cpu_config.h"
#include "config/snapshot.h"
#include "runtime/base/err.h"
#include "runtime/base/log.h"

/* Firecracker's limits and defaults (vmm_config/machine_config.rs). */
#define CONFIG_MAX_VCPUS 32
#define CONFIG_DEFAULT_VCPUS 1
#define CONFIG_DEFAULT_MEM_MIB 128
/* Not a Firecracker limit: a sanity cap so a typo cannot ask for exabytes. */
#define CONFIG_MAX_MEM_MIB (1024ULL * 1024) /* 1 TiB */
/* Firecracker's resource ids: [A-Za-z0-9_], 1..64 chars (api_server parsed_request). */
#define CONFIG_ID_MAX 64
/* Firecracker's range for a network interface's "mtu" (virtio-net). */
#define CONFIG_MTU_MIN 68
#define CONFIG_MTU_MAX 65535
/* A Linux interface name is at most IFNAMSIZ (16) bytes with the NUL. */
#define CONFIG_IFNAME_MAX 15
/* Anti-abuse caps; the runtime's real limit is the number of free IRQs. */
#define CONFIG_MAX_DRIVES 64
#define CONFIG_MAX_NETS 64
/* The config file is read whole; anything this large is not a VM config. */
#define CONFIG_FILE_MAX (1024 * 1024)
/* Reserved vsock CIDs: 0 (hypervisor), 1 (loopback), 2 (host) and
 * 0xffffffff (VMADDR_CID_ANY); see virtio spec 1.2 section 5.10.4. */
#define CONFIG_VSOCK_CID_MIN 3U
#define CONFIG_VSOCK_CID_MAX 0xfffffffeU
/* Ember extension "max_connections": an anti-typo bound only; the device
 * also keeps it under its share of the fd limit (virtio/vsock.h). */
#define CONFIG_VSOCK_MAX_CONNS 1048576U

enum config_cpu_template {
	CONFIG_CPU_TEMPLATE_NONE,
	CONFIG_CPU_TEMPLATE_T2,
	CONFIG_CPU_TEMPLATE_T2S,
	CONFIG_CPU_TEMPLATE_C3,
	CONFIG_CPU_TEMPLATE_T2CL,
	CONFIG_CPU_TEMPLATE_T2A,
	/* Not a machine-config name: the template is vm_config.cpu_config
	 * (PUT /cpu-config). As in Firecracker there is one template slot: a
	 * cpu-config replaces the static template, a machine-config naming
	 * cpu_template (None too) replaces the custom one. */
	CONFIG_CPU_TEMPLATE_CUSTOM,
};

enum config_huge_pages {
	CONFIG_HUGE_PAGES_NONE,
	CONFIG_HUGE_PAGES_2M,
};

/* Ember extension: which backend runs the guest. */
enum config_accel {
	CONFIG_ACCEL_AUTO, /* KVM if it probes fine, else TCG */
	CONFIG_ACCEL_KVM,
	CONFIG_ACCEL_TCG,
};

enum config_cache_type {
	CONFIG_CACHE_UNSAFE,    /* flush requests are acknowledged, not performed */
	CONFIG_CACHE_WRITEBACK, /* VIRTIO_BLK_F_FLUSH offered and honoured */
};

enum config_io_engine {
	CONFIG_IO_SYNC,
	CONFIG_IO_ASYNC,
};

/* "boot-source". kernel_image_path is NULL until set (API) and required
 * by config_validate. Strings are heap-allocated, NULL when absent. */
struct config_boot {
	char *kernel_image_path;
	char *initrd_path;
	/* acpi=off here also switches Ember from ACPI tables to announcing
	 * virtio devices on the command line (docs/platform.md). */
	char *boot_args;
};

/* "machine-config" (plus Ember's "accel"). No heap pointers: copy freely. */
struct config_machine {
	unsigned vcpu_count;   /* 1..32; 1 or even when smt */
	uint64_t mem_size_mib; /* 1..CONFIG_MAX_MEM_MIB; even with 2M huge pages */
	bool smt;
	enum config_cpu_template cpu_template;
	bool track_dirty_pages;
	enum config_huge_pages huge_pages;
	enum config_accel accel;
};

/* One entry of "drives". */
struct config_drive {
	char *drive_id;
	char *path_on_host;
	bool is_root_device;
	bool is_read_only;
	char *partuuid; /* NULL when absent; only used for the root device */
	enum config_cache_type cache_type;
	enum config_io_engine io_engine;
};

/* One entry of "network-interfaces". */
struct config_net {
	char *iface_id;
	char *host_dev_name;
	bool has_guest_mac;
	uint8_t guest_mac[6];
	uint16_t mtu; /* CONFIG_MTU_MIN..CONFIG_MTU_MAX; 0: not given, none offered */
};

/* "vsock"; present says whether the section was given. */
struct config_vsock {
	bool present;
	char *vsock_id; /* deprecated by Firecracker; kept only to echo it back */
	uint32_t guest_cid;
	char *uds_path;
	/* Ember extension: cap on open connections; 0 = the device's default
	 * (virtio/vsock.h), and then not shown in GET /vm/config. */
	uint32_t max_connections;
};

/* "entropy": the section's presence enables virtio-rng. */
struct config_entropy {
	bool present;
};

/* "logger": every field optional; has_* says which were given, so that
 * main can layer the file's settings over the command line's as Firecracker. */
struct config_logger {
	bool present;
	char *log_path;
	bool has_level;
	enum log_level level;
	bool has_show_level;
	bool show_level;
	bool has_show_log_origin;
	bool show_log_origin;
	char *module;
};

/* "metrics". */
struct config_metrics {
	bool present;
	char *metrics_path;
	bool emit_id;       /* each line carries the instance id as "id" */
	json_t *properties; /* NULL, or an object of strings, copied into each line */
};

/* PUT /serial (API only: Firecracker's config file has no such section).
 * serial_out_path NULL: the console stays on stdout. */
struct config_serial {
	bool present;
	char *serial_out_path;
};

/* "mmds-config" (Firecracker's MmdsConfig); present says whether it was
 * given. The interfaces must be configured ones (config_mmds_check). */
#define CONFIG_MMDS_DEFAULT_IPV4 0xa9fea9feu /* 169.254.169.254, host order */
#define CONFIG_MMDS_MAX_IFACES 16
struct config_mmds {
	bool present;
	unsigned version; /* 0: V1, 1: V2 */
	char **ifaces;
	size_t n_ifaces;
	uint32_t ipv4; /* host order */
	bool imds_compat;
};

struct vm_config {
	struct config_boot boot;
	struct config_machine machine;
	/* The root drive, if any, is always drives[0], as in Firecracker, so
	 * that it becomes /dev/vda when partuuid is not used. */
	struct config_drive *drives;
	size_t n_drives;
	struct config_net *nets;
	size_t n_nets;
	struct config_vsock vsock;
	struct config_entropy entropy;
	struct config_logger logger;
	struct config_metrics metrics;
	struct config_mmds mmds;
	/* "cpu-config": the custom template, set exactly when
	 * machine.cpu_template is CONFIG_CPU_TEMPLATE_CUSTOM. */
	struct cpu_template *cpu_config;
	/* Ember's "snapshot-load" section: restore at start-up instead of a
	 * boot; only "logger" and "metrics" may come with it. NULL if absent. */
	struct config_snapshot_load *snapshot_load;
};

/* --- whole configuration (config.c) --- */

/* Sets Firecracker's defaults; allocates nothing. */
void config_init(struct vm_config *cfg);
/* Releases everything and leaves cfg as after config_init. */
void config_free(struct vm_config *cfg);
/* Parses a config file / a JSON text / a parsed document into cfg, which is
 * overwritten (not freed first). On failure cfg is left as after config_init.
 * JSON syntax errors name line and column; duplicate keys are errors. */
int config_load_file(const char *path, struct vm_config *cfg, struct errbuf *err);
int config_load_string(const char *text, size_t len, struct vm_config *cfg, struct errbuf *err);
int config_load_json(json_t *root, struct vm_config *cfg, struct errbuf *err);
/* Checks that cfg can boot: kernel set, no initrd with huge pages (as
 * Firecracker). config_load_* call it; the API calls it on InstanceStart. */
int config_validate(const struct vm_config *cfg, struct errbuf *err);
/* Firecracker's GET /vm/config shape (unsupported sections as null). Ember
 * adds "logger"/"metrics" when set (Firecracker always reports null) and
 * machine-config "accel" when not "auto". Feeding the result back to
 * config_load_json gives the same configuration. NULL only on ENOMEM. */
json_t *config_to_json(const struct vm_config *cfg);

/* --- sections (config_sections.c) --- */

/* PUT /boot-source. On success *out is overwritten (free the old value
 * first); on failure it is untouched. The same holds for every
 * config_parse_* that fills a fresh struct. */
int config_parse_boot(json_t *obj, struct config_boot *out, struct errbuf *err);
/* Firecracker's defaults: 1 vCPU, 128 MiB, no SMT/template/tracking/huge
 * pages; accel "auto". */
void config_machine_init(struct config_machine *m);
/* PUT (partial=false) or PATCH (partial=true) /machine-config onto *inout.
 * PUT needs vcpu_count and mem_size_mib and resets omitted fields to their
 * defaults, except cpu_template which, as in Firecracker, is kept unless
 * given. PATCH needs at least one field. *inout is unchanged on failure. */
int config_parse_machine(json_t *obj, struct config_machine *inout, bool partial,
			 struct errbuf *err);
/* PUT /vsock, PUT /entropy, PUT /logger, PUT /metrics: *out is marked
 * present; free with the matching *_free. */
int config_parse_vsock(json_t *obj, struct config_vsock *out, struct errbuf *err);
int config_parse_entropy(json_t *obj, struct config_entropy *out, struct errbuf *err);
int config_parse_logger(json_t *obj, struct config_logger *out, struct errbuf *err);
int config_parse_metrics(json_t *obj, struct config_metrics *out, struct errbuf *err);
int config_parse_serial(json_t *obj, struct config_serial *out, struct errbuf *err);

void config_boot_free(struct config_boot *b);
void config_vsock_free(struct config_vsock *v);
void config_logger_free(struct config_logger *l);
void config_metrics_free(struct config_metrics *m);
void config_serial_free(struct config_serial *s);

json_t *config_boot_to_json(const struct config_boot *b);
json_t *config_machine_to_json(const struct config_machine *m); /* GET /machine-config */
json_t *config_vsock_to_json(const struct config_vsock *v);
json_t *config_entropy_to_json(const struct config_entropy *e);
json_t *config_logger_to_json(const struct config_logger *l);
json_t *config_metrics_to_json(const struct config_metrics *m);

/* Names as they appear in JSON (e.g. "T2S", "2M", "tcg", "Writeback");
 * CONFIG_CPU_TEMPLATE_CUSTOM is "Custom", which no parser accepts. */
const char *config_cpu_template_name(enum config_cpu_template t);
const char *config_huge_pages_name(enum config_huge_pages h);
const char *config_accel_name(enum config_accel a);
const char *config_cache_type_name(enum config_cache_type c);
const char *config_io_engine_name(enum config_io_engine e);
const char *config_log_level_name(enum log_level l);
/* Parses "kvm", "tcg", "auto" (shared with the --accel flag). */
int config_accel_parse(const char *name, enum config_accel *out);

/* --- drives and network interfaces (config_devices.c) --- */

/* PUT /drives/{id}; free with config_drive_free. */
int config_parse_drive(json_t *obj, struct config_drive *out, struct errbuf *err);
/* PATCH /drives/{id}: body drive_id must equal inout->drive_id; updates
 * path_on_host. *inout is unchanged on failure. */
int config_parse_drive_patch(json_t *obj, struct config_drive *inout, struct errbuf *err);
/* Adds *d to cfg (moving its strings; *d is zeroed) keeping the root drive
 * first. An existing id is -EEXIST unless replace (PUT semantics); a second
 * root drive is -EEXIST. On failure *d is untouched and still the caller's. */
int config_drive_insert(struct vm_config *cfg, struct config_drive *d, bool replace,
			struct errbuf *err);
struct config_drive *config_find_drive(const struct vm_config *cfg, const char *id);
void config_drive_free(struct config_drive *d);
json_t *config_drive_to_json(const struct config_drive *d);

/* PUT /network-interfaces/{id}; same ownership rules as drives. Duplicate
 * guest_mac or host_dev_name between interfaces is -EEXIST. */
int config_parse_net(json_t *obj, struct config_net *out, struct errbuf *err);
/* PATCH /network-interfaces/{id}: only rate limiters can change in
 * Firecracker, and Ember has none yet, so this only validates. */
int config_parse_net_patch(json_t *obj, struct config_net *inout, struct errbuf *err);
int config_net_insert(struct vm_config *cfg, struct config_net *n, bool replace,
		      struct errbuf *err);
struct config_net *config_find_net(const struct vm_config *cfg, const char *id);
void config_net_free(struct config_net *n);
json_t *config_net_to_json(const struct config_net *n);

/* --- mmds-config (config_mmds.c) --- */
int config_parse_mmds(json_t *obj, struct config_mmds *out, struct errbuf *err);
/* Every interface mmds-config names exists in cfg; -ENOENT naming it. */
int config_mmds_check(const struct vm_config *cfg, struct errbuf *err);
void config_mmds_free(struct config_mmds *m);
json_t *config_mmds_to_json(const struct config_mmds *m);

/* Firecracker's id rule: 1..64 of [A-Za-z0-9_]. */
bool config_id_valid(const char *id);
/* A required id field under that rule; 0 or -EINVAL naming the field. */
int config_get_id(json_t *obj, const char *key, char **out, struct errbuf *err);
/* A required host interface (TAP) name, as network-interfaces' host_dev_name:
 * 1..15 characters, none of them '/', ':', blanks or controls, not "." or "..".
 * Shared so that snapshot/load's network_overrides check names alike. */
int config_get_ifname(json_t *obj, const char *key, char **out, struct errbuf *err);
/* "aa:bb:cc:dd:ee:ff" (either case) into mac; rejects multicast and zero. */
int config_mac_parse(const char *s, uint8_t mac[6]);

#endif
