/* The array sections: "drives" and "network-interfaces", their PUT/PATCH
 * bodies and the collection rules (unique ids, one root drive kept first,
 * unique MACs and tap names). Follows Firecracker's vmm_config/drive.rs and
 * net.rs. */
#include "config/config.h"
#include "config/config_json.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const char *const cache_type_names[] = { "Unsafe", "Writeback" };
static const char *const io_engine_names[] = { "Sync", "Async" };

const char *config_cache_type_name(enum config_cache_type c)
{
	return (unsigned)c < ARRAY_LEN(cache_type_names) ? cache_type_names[c] : "?";
}

const char *config_io_engine_name(enum config_io_engine e)
{
	return (unsigned)e < ARRAY_LEN(io_engine_names) ? io_engine_names[e] : "?";
}

bool config_id_valid(const char *id)
{
	size_t n = strlen(id);
	if (n < 1 || n > CONFIG_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)id[i]) && id[i] != '_')
			return false;
	return true;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int config_mac_parse(const char *s, uint8_t mac[6])
{
	uint8_t m[6];
	if (strlen(s) != 17)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		const char *p = s + 3 * i;
		int hi = hexval(p[0]), lo = hexval(p[1]);
		if (hi < 0 || lo < 0 || (i < 5 && p[2] != ':'))
			return -EINVAL;
		m[i] = (uint8_t)(hi << 4 | lo);
	}
	/* Bit 0 of the first octet is the I/G (group) bit (IEEE 802-2014
	 * 8.2.2): such an address, or all zeros, cannot name one NIC. */
	if ((m[0] & 1) || !(m[0] | m[1] | m[2] | m[3] | m[4] | m[5]))
		return -EINVAL;
	memcpy(mac, m, sizeof(m));
	return 0;
}

int config_get_id(json_t *obj, const char *key, char **out, struct errbuf *err)
{
	char e[CONFIG_ECHO_MAX];
	int rc = config_get_str(obj, key, true, out, err);
	if (rc < 0)
		return rc;
	if (!config_id_valid(*out))
		return err_set(err, -EINVAL,
			       "field \"%s\" must be 1..%d characters of [A-Za-z0-9_] (got \"%s\")",
			       key, CONFIG_ID_MAX, config_echo(*out, SIZE_MAX, e));
	return 0;
}

/* ---- drives ---- */

void config_drive_free(struct config_drive *d)
{
	free(d->drive_id);
	free(d->path_on_host);
	free(d->partuuid);
	memset(d, 0, sizeof(*d));
}

/* Firecracker pastes partuuid into the kernel command line as
 * "root=PARTUUID=<x>", so refuse anything that could add a parameter. The
 * kernel's syntax is a UUID or SSSSSSSS-PP, optionally "/PARTNROFF=N"
 * (init/do_mounts.c). */
static bool partuuid_valid(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("-/=", s[i]))
			return false;
	return true;
}

int config_parse_drive(json_t *obj, struct config_drive *out, struct errbuf *err)
{
	static const char *const fields[] = { "drive_id", "path_on_host", "is_root_device",
					      "is_read_only", "partuuid", "cache_type",
					      "io_engine", "rate_limiter", "socket", NULL };
	struct config_drive d = { 0 };
	unsigned e = 0;
	char echo[CONFIG_ECHO_MAX];
	int rc = config_expect_object(obj, err);
	if (!rc)
		rc = config_check_fields(obj, fields, err);
	if (!rc)
		rc = config_reject(obj, "rate_limiter", err);
	if (!rc) /* vhost-user-blk */
		rc = config_reject(obj, "socket", err);
	if (!rc)
		rc = config_get_id(obj, "drive_id", &d.drive_id, err);
	if (!rc)
		rc = config_get_path(obj, "path_on_host", true, &d.path_on_host, err);
	if (rc >= 0)
		rc = config_get_bool(obj, "is_root_device", true, &d.is_root_device, err);
	if (rc >= 0)
		rc = config_get_bool(obj, "is_read_only", false, &d.is_read_only, err);
	if (rc >= 0)
		rc = config_get_str(obj, "partuuid", false, &d.partuuid, err);
	if (rc >= 0 && d.partuuid && !partuuid_valid(d.partuuid))
		rc = err_set(err, -EINVAL,
			     "field \"partuuid\" must be 1..64 characters of [A-Za-z0-9/=-] "
			     "(got \"%s\")",
			     config_echo(d.partuuid, SIZE_MAX, echo));
	if (rc >= 0)
		rc = config_get_enum(obj, "cache_type", cache_type_names,
				     ARRAY_LEN(cache_type_names), &e, err);
	if (rc > 0)
		d.cache_type = (enum config_cache_type)e;
	if (rc >= 0)
		rc = config_get_enum(obj, "io_engine", io_engine_names, ARRAY_LEN(io_engine_names),
				     &e, err);
	if (rc > 0)
		d.io_engine = (enum config_io_engine)e;
	if (rc < 0) {
		config_drive_free(&d);
		return rc;
	}
	*out = d;
	return 0;
}

/* Checks the body's id against the one being patched (the API takes it
 * from the URL; Firecracker insists they agree). */
static int patch_id(json_t *obj, const char *key, const char *want, struct errbuf *err)
{
	char *id = NULL;
	int rc = config_get_id(obj, key, &id, err);
	if (!rc && strcmp(id, want) != 0)
		rc = err_set(err, -EINVAL, "field \"%s\" is \"%s\" but \"%s\" is being updated",
			     key, id, want);
	free(id);
	return rc;
}

int config_parse_drive_patch(json_t *obj, struct config_drive *inout, struct errbuf *err)
{
	static const char *const fields[] = { "drive_id", "path_on_host", "rate_limiter", NULL };
	char *path = NULL;
	int rc = config_expect_object(obj, err);
	if (!rc)
		rc = config_check_fields(obj, fields, err);
	if (!rc)
		rc = config_reject(obj, "rate_limiter", err);
	if (!rc)
		rc = patch_id(obj, "drive_id", inout->drive_id, err);
	if (!rc)
		rc = config_get_path(obj, "path_on_host", false, &path, err);
	if (rc == 0)
		rc = err_set(err, -EINVAL, "empty update: give path_on_host");
	if (rc < 0) {
		free(path);
		return rc;
	}
	free(inout->path_on_host);
	inout->path_on_host = path;
	return 0;
}

struct config_drive *config_find_drive(const struct vm_config *cfg, const char *id)
{
	for (size_t i = 0; i < cfg->n_drives; i++)
		if (strcmp(cfg->drives[i].drive_id, id) == 0)
			return &cfg->drives[i];
	return NULL;
}

int config_drive_insert(struct vm_config *cfg, struct config_drive *d, bool replace,
			struct errbuf *err)
{
	struct config_drive *old = config_find_drive(cfg, d->drive_id);
	size_t idx;

	if (old && !replace)
		return err_set(err, -EEXIST, "drive_id \"%s\" is used twice", d->drive_id);
	if (d->is_root_device && cfg->n_drives && cfg->drives[0].is_root_device &&
	    old != &cfg->drives[0])
		return err_set(err, -EEXIST, "drive \"%s\": a root drive already exists (\"%s\")",
			       d->drive_id, cfg->drives[0].drive_id);
	if (old) {
		idx = (size_t)(old - cfg->drives);
		config_drive_free(old);
	} else {
		if (cfg->n_drives >= CONFIG_MAX_DRIVES)
			return err_set(err, -ENOSPC, "too many drives (at most %d)",
				       CONFIG_MAX_DRIVES);
		struct config_drive *arr =
			realloc(cfg->drives, (cfg->n_drives + 1) * sizeof(*arr));
		if (!arr)
			return err_set(err, -ENOMEM, "out of memory");
		cfg->drives = arr;
		idx = cfg->n_drives++;
	}
	/* The root drive goes first so that it is probed first and becomes
	 * /dev/vda; the others keep their order. */
	if (d->is_root_device && idx) {
		memmove(&cfg->drives[1], &cfg->drives[0], idx * sizeof(*cfg->drives));
		idx = 0;
	}
	cfg->drives[idx] = *d;
	memset(d, 0, sizeof(*d));
	return 0;
}

json_t *config_drive_to_json(const struct config_drive *d)
{
	return json_pack("{s:s, s:s?, s:b, s:s, s:b, s:s, s:n, s:s, s:n}", "drive_id",
			 d->drive_id, "partuuid", d->partuuid, "is_root_device", d->is_root_device,
			 "cache_type", config_cache_type_name(d->cache_type), "is_read_only",
			 d->is_read_only, "path_on_host", d->path_on_host, "rate_limiter",
			 "io_engine", config_io_engine_name(d->io_engine), "socket");
}

/* ---- network interfaces ---- */

void config_net_free(struct config_net *n)
{
	free(n->iface_id);
	free(n->host_dev_name);
	memset(n, 0, sizeof(*n));
}

static int parse_mac(json_t *obj, struct config_net *n, struct errbuf *err)
{
	char *s = NULL, e[CONFIG_ECHO_MAX];
	int rc = config_get_str(obj, "guest_mac", false, &s, err);
	if (rc > 0) {
		if (config_mac_parse(s, n->guest_mac) < 0)
			rc = err_set(err, -EINVAL,
				     "field \"guest_mac\" must be a unicast MAC like "
				     "\"06:00:ac:10:00:02\" (got \"%s\")",
				     config_echo(s, SIZE_MAX, e));
		else
			n->has_guest_mac = true;
	}
	free(s);
	return rc;
}

/* The kernel's dev_valid_name() (net/core/dev.c), length checked apart,
 * plus no control characters: TUNSETIFF would refuse most of these anyway,
 * but later and less clearly. */
static bool ifname_valid(const char *s)
{
	if (!strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (; *s; s++)
		if (*s == '/' || *s == ':' || isspace((unsigned char)*s) || *s == 0x7f ||
		    (unsigned char)*s < 0x20)
			return false;
	return true;
}

int config_get_ifname(json_t *obj, const char *key, char **out, struct errbuf *err)
{
	char e[CONFIG_ECHO_MAX];
	int rc = config_get_path(obj, key, true, out, err);
	if (rc < 0)
		return rc;
	if (strlen(*out) > CONFIG_IFNAME_MAX)
		return err_set(err, -EINVAL, "field \"%s\" must be at most %d characters (got %zu)",
			       key, CONFIG_IFNAME_MAX, strlen(*out));
	if (!ifname_valid(*out))
		return err_set(err, -EINVAL,
			       "field \"%s\" is not a valid interface name (got \"%s\")", key,
			       config_echo(*out, SIZE_MAX, e));
	return 0;
}

int config_parse_net(json_t *obj, struct config_net *out, struct errbuf *err)
{
	static const char *const fields[] = { "iface_id", "host_dev_name", "guest_mac", "mtu",
					      "rx_rate_limiter", "tx_rate_limiter", NULL };
	struct config_net n = { 0 };
	uint64_t mtu = 0;
	int rc = config_expect_object(obj, err);
	if (!rc)
		rc = config_check_fields(obj, fields, err);
	if (!rc)
		rc = config_reject(obj, "rx_rate_limiter", err);
	if (!rc)
		rc = config_reject(obj, "tx_rate_limiter", err);
	if (!rc)
		rc = config_get_id(obj, "iface_id", &n.iface_id, err);
	if (!rc)
		rc = config_get_ifname(obj, "host_dev_name", &n.host_dev_name, err);
	if (rc >= 0)
		rc = parse_mac(obj, &n, err);
	if (rc >= 0)
		rc = config_get_u64(obj, "mtu", false, CONFIG_MTU_MIN, CONFIG_MTU_MAX, &mtu, err);
	if (rc < 0) {
		config_net_free(&n);
		return rc;
	}
	n.mtu = (uint16_t)mtu;
	*out = n;
	return 0;
}

int config_parse_net_patch(json_t *obj, struct config_net *inout, struct errbuf *err)
{
	static const char *const fields[] = { "iface_id", "rx_rate_limiter", "tx_rate_limiter",
					      NULL };
	int rc = config_expect_object(obj, err);
	if (!rc)
		rc = config_check_fields(obj, fields, err);
	if (!rc)
		rc = config_reject(obj, "rx_rate_limiter", err);
	if (!rc)
		rc = config_reject(obj, "tx_rate_limiter", err);
	if (!rc)
		rc = patch_id(obj, "iface_id", inout->iface_id, err);
	if (!rc)
		rc = err_set(err, -EINVAL, "empty update: give a rate limiter");
	return rc;
}

struct config_net *config_find_net(const struct vm_config *cfg, const char *id)
{
	for (size_t i = 0; i < cfg->n_nets; i++)
		if (strcmp(cfg->nets[i].iface_id, id) == 0)
			return &cfg->nets[i];
	return NULL;
}

static void mac_format(const uint8_t m[6], char buf[18])
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

int config_net_insert(struct vm_config *cfg, struct config_net *n, bool replace,
		      struct errbuf *err)
{
	struct config_net *old = config_find_net(cfg, n->iface_id);
	if (old && !replace)
		return err_set(err, -EEXIST, "iface_id \"%s\" is used twice", n->iface_id);
	/* Two interfaces on one tap would steal each other's frames, and two
	 * with one MAC confuse every switch: Firecracker refuses both. */
	for (size_t i = 0; i < cfg->n_nets; i++) {
		const struct config_net *o = &cfg->nets[i];
		if (o == old)
			continue;
		if (strcmp(o->host_dev_name, n->host_dev_name) == 0)
			return err_set(err, -EEXIST,
				       "interface \"%s\": host_dev_name \"%s\" is already used by "
				       "\"%s\"",
				       n->iface_id, n->host_dev_name, o->iface_id);
		if (n->has_guest_mac && o->has_guest_mac &&
		    memcmp(o->guest_mac, n->guest_mac, 6) == 0) {
			char mac[18];
			mac_format(n->guest_mac, mac);
			return err_set(err, -EEXIST,
				       "interface \"%s\": guest_mac %s is already used by \"%s\"",
				       n->iface_id, mac, o->iface_id);
		}
	}
	if (old) {
		config_net_free(old);
	} else {
		if (cfg->n_nets >= CONFIG_MAX_NETS)
			return err_set(err, -ENOSPC, "too many network interfaces (at most %d)",
				       CONFIG_MAX_NETS);
		struct config_net *arr = realloc(cfg->nets, (cfg->n_nets + 1) * sizeof(*arr));
		if (!arr)
			return err_set(err, -ENOMEM, "out of memory");
		cfg->nets = arr;
		old = &cfg->nets[cfg->n_nets++];
	}
	*old = *n;
	memset(n, 0, sizeof(*n));
	return 0;
}

json_t *config_net_to_json(const struct config_net *n)
{
	char mac[18];
	if (n->has_guest_mac)
		mac_format(n->guest_mac, mac);
	/* mtu is left out when not given: the schema's type is integer. */
	return json_pack("{s:s, s:s, s:s?, s:o*, s:n, s:n}", "iface_id", n->iface_id,
			 "host_dev_name", n->host_dev_name, "guest_mac",
			 n->has_guest_mac ? mac : NULL, "mtu", n->mtu ? json_integer(n->mtu) : NULL,
			 "rx_rate_limiter", "tx_rate_limiter");
}
