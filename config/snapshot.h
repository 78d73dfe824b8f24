/* The bodies of PUT /snapshot/create and PUT /snapshot/load
 * (Firecracker's SnapshotCreateParams and SnapshotLoadParams), also the
 * config file's "snapshot-load" section (an Ember extension: restore at
 * start-up). Same conventions as config/config.h. */
#ifndef EMBER_CONFIG_SNAPSHOT_H
#define EMBER_CONFIG_SNAPSHOT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "runtime/base/err.h"

enum config_snapshot_type {
	CONFIG_SNAPSHOT_FULL, /* all guest memory */
	CONFIG_SNAPSHOT_DIFF, /* pages written since the previous snapshot */
};

struct config_snapshot_create {
	enum config_snapshot_type type;
	char *snapshot_path;
	char *mem_file_path;
};

enum config_mem_backend {
	CONFIG_MEM_FILE, /* the memory file, mapped private */
	CONFIG_MEM_UFFD, /* a page-fault handler process behind a Unix socket */
};

struct config_net_override {
	char *iface_id;
	char *host_dev_name;
};

/* Firecracker's network_overrides are per interface; a cap against abuse. */
#define CONFIG_MAX_NET_OVERRIDES 64

struct config_snapshot_load {
	char *snapshot_path;
	enum config_mem_backend mem_backend;
	char *mem_path; /* mem_backend.backend_path, or the older mem_file_path */
	bool track_dirty_pages; /* or the older enable_diff_snapshots */
	bool resume_vm;
	bool clock_realtime;    /* advance the guest's clocks by the time since the snapshot */
	struct config_net_override *net_overrides;
	size_t n_net_overrides;
	char *vsock_uds_path;   /* vsock_override.uds_path, NULL when absent */
};

int config_parse_snapshot_create(json_t *obj, struct config_snapshot_create *out,
				 struct errbuf *err);
void config_snapshot_create_free(struct config_snapshot_create *c);
int config_parse_snapshot_load(json_t *obj, struct config_snapshot_load *out,
			       struct errbuf *err);
void config_snapshot_load_free(struct config_snapshot_load *l);
/* The interface's override, or NULL. */
const char *config_net_override(const struct config_snapshot_load *l, const char *iface_id);

#endif
