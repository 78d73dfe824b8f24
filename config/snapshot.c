#include "config/snapshot.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/config_json.h"

int config_parse_snapshot_create(json_t *obj, struct config_snapshot_create *out,
				 struct errbuf *err)
{
	static const char *const fields[] = { "snapshot_type", "snapshot_path", "mem_file_path",
					      NULL };
	static const char *const types[] = { "Full", "Diff" };
	struct config_snapshot_create c = { .type = CONFIG_SNAPSHOT_FULL };
	unsigned type = 0;
	int rc = config_expect_object(obj, err);
	if (!rc)
		rc = config_check_fields(obj, fields, err);
	if (!rc)
		rc = config_get_enum(obj, "snapshot_type", types, 2, &type, err);
	if (rc >= 0)
		rc = config_get_path(obj, "snapshot_path", true, &c.snapshot_path, err);
	if (rc >= 0)
		rc = config_get_path(obj, "mem_file_path", true, &c.mem_file_path, err);
	if (rc < 0) {
		config_snapshot_create_free(&c);
		return rc;
	}
	c.type = type;
	*out = c;
	return 0;
}

void config_snapshot_create_free(struct config_snapshot_create *c)
{
	free(c->snapshot_path);
	free(c->mem_file_path);
	memset(c, 0, sizeof(*c));
}

static int parse_mem_backend(json_t *obj, struct config_snapshot_load *l, struct errbuf *err)
{
	static const char *const fields[] = { "backend_type", "backend_path", NULL };
	static const char *const types[] = { "File", "Uffd" };
	unsigned type = 0;
	int rc = config_expect_object(obj, err);
	if (!rc)
		rc = config_check_fields(obj, fields, err);
	if (!rc)
		rc = config_get_enum(obj, "backend_type", types, 2, &type, err);
	if (rc == 0)
		rc = err_set(err, -EINVAL, "missing field \"backend_type\"");
	if (rc >= 0)
		rc = config_get_path(obj, "backend_path", true, &l->mem_path, err);
	if (rc < 0)
		return err_wrap(err, rc, "mem_backend");
	l->mem_backend = type;
	return 0;
}

static int parse_net_override(json_t *obj, struct config_net_override *o, struct errbuf *err)
{
	static const char *const fields[] = { "iface_id", "host_dev_name", NULL };
	int rc = config_expect_object(obj, err);
	if (!rc)
		rc = config_check_fields(obj, fields, err);
	if (!rc)
		rc = config_get_id(obj, "iface_id", &o->iface_id, err);
	/* The same TAP names PUT /network-interfaces takes: a name with '/'
	 * or control characters would only fail later, at TUNSETIFF, or be
	 * echoed into logs. */
	if (!rc)
		rc = config_get_ifname(obj, "host_dev_name", &o->host_dev_name, err);
	return rc;
}

static int parse_net_overrides(json_t *arr, struct config_snapshot_load *l, struct errbuf *err)
{
	if (!json_is_array(arr))
		return err_set(err, -EINVAL, "field \"network_overrides\" must be an array (got %s)",
			       config_json_type(arr));
	size_t n = json_array_size(arr);
	if (n > CONFIG_MAX_NET_OVERRIDES)
		return err_set(err, -EINVAL, "network_overrides: more than %d entries",
			       CONFIG_MAX_NET_OVERRIDES);
	l->net_overrides = calloc(n ? n : 1, sizeof(*l->net_overrides));
	if (!l->net_overrides)
		return err_set(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		struct config_net_override *o = &l->net_overrides[i];
		l->n_net_overrides = i + 1; /* freed on failure, filled or not */
		int rc = parse_net_override(json_array_get(arr, i), o, err);
		if (rc == 0 && config_net_override(l, o->iface_id) != o->host_dev_name)
			rc = err_set(err, -EEXIST, "iface_id \"%s\" given twice", o->iface_id);
		if (rc < 0)
			return err_wrap(err, rc, "network_overrides[%zu]", i);
	}
	return 0;
}

static int parse_vsock_override(json_t *obj, struct config_snapshot_load *l, struct errbuf *err)
{
	static const char *const fields[] = { "uds_path", NULL };
	int rc = config_expect_object(obj, err);
	if (!rc)
		rc = config_check_fields(obj, fields, err);
	if (!rc)
		rc = config_get_path(obj, "uds_path", true, &l->vsock_uds_path, err);
	return rc < 0 ? err_wrap(err, rc, "vsock_override") : 0;
}

/* "Snapshot" (the default) and "None" keep the snapshot's setting, which
 * Ember's snapshots always have as none; huge pages are not built yet. */
static int parse_huge_pages(json_t *obj, struct errbuf *err)
{
	static const char *const names[] = { "Snapshot", "None", "Transparent", "2M" };
	unsigned v = 0;
	int rc = config_get_enum(obj, "huge_pages", names, 4, &v, err);
	if (rc > 0 && v >= 2)
		return err_set(err, -ENOTSUP, "field \"huge_pages\": \"%s\": not supported yet",
			       names[v]);
	return rc < 0 ? rc : 0;
}

static int parse_load_fields(json_t *obj, struct config_snapshot_load *l, struct errbuf *err)
{
	bool diff = false;
	json_t *backend = json_object_get(obj, "mem_backend");
	int rc = config_get_path(obj, "snapshot_path", true, &l->snapshot_path, err);
	if (rc >= 0)
		rc = config_get_path(obj, "mem_file_path", false, &l->mem_path, err);
	if (rc >= 0 && backend && !json_is_null(backend)) {
		if (l->mem_path)
			return err_set(err, -EINVAL,
				       "\"mem_backend\" and the older \"mem_file_path\" are exclusive");
		rc = parse_mem_backend(backend, l, err);
	} else if (rc >= 0 && !l->mem_path) {
		return err_set(err, -EINVAL, "missing field \"mem_backend\" (or \"mem_file_path\")");
	}
	if (rc >= 0)
		rc = config_get_bool(obj, "track_dirty_pages", false, &l->track_dirty_pages, err);
	if (rc >= 0)
		rc = config_get_bool(obj, "enable_diff_snapshots", false, &diff, err);
	if (rc >= 0)
		rc = config_get_bool(obj, "resume_vm", false, &l->resume_vm, err);
	if (rc >= 0)
		rc = config_get_bool(obj, "clock_realtime", false, &l->clock_realtime, err);
	json_t *nets = json_object_get(obj, "network_overrides");
	if (rc >= 0 && nets && !json_is_null(nets))
		rc = parse_net_overrides(nets, l, err);
	json_t *vsock = json_object_get(obj, "vsock_override");
	if (rc >= 0 && vsock && !json_is_null(vsock))
		rc = parse_vsock_override(vsock, l, err);
	if (rc >= 0)
		rc = parse_huge_pages(obj, err);
	l->track_dirty_pages |= diff;
	return rc < 0 ? rc : 0;
}

int config_parse_snapshot_load(json_t *obj, struct config_snapshot_load *out,
			       struct errbuf *err)
{
	static const char *const fields[] = {
		"snapshot_path",     "mem_backend",   "mem_file_path", "track_dirty_pages",
		"enable_diff_snapshots", "resume_vm", "network_overrides", "vsock_override",
		"clock_realtime",    "huge_pages",    NULL,
	};
	struct config_snapshot_load l = { .mem_backend = CONFIG_MEM_FILE };
	int rc = config_expect_object(obj, err);
	if (!rc)
		rc = config_check_fields(obj, fields, err);
	if (!rc)
		rc = parse_load_fields(obj, &l, err);
	if (rc < 0) {
		config_snapshot_load_free(&l);
		return rc;
	}
	*out = l;
	return 0;
}

void config_snapshot_load_free(struct config_snapshot_load *l)
{
	free(l->snapshot_path);
	free(l->mem_path);
	for (size_t i = 0; i < l->n_net_overrides; i++) {
		free(l->net_overrides[i].iface_id);
		free(l->net_overrides[i].host_dev_name);
	}
	free(l->net_overrides);
	free(l->vsock_uds_path);
	memset(l, 0, sizeof(*l));
}

const char *config_net_override(const struct config_snapshot_load *l, const char *iface_id)
{
	for (size_t i = 0; i < l->n_net_overrides; i++)
		if (l->net_overrides[i].iface_id && !strcmp(l->net_overrides[i].iface_id, iface_id))
			return l->net_overrides[i].host_dev_name;
	return NULL;
}
