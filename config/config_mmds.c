/* "mmds-config" (PUT /mmds/config and the config file's section):
 * Firecracker's MmdsConfig, checked as Firecracker does. */
#include "config/config.h"
#include "config/config_json.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

void config_mmds_free(struct config_mmds *m)
{
	for (size_t i = 0; i < m->n_ifaces; i++)
		free(m->ifaces[i]);
	free(m->ifaces);
	memset(m, 0, sizeof(*m));
}

/* Firecracker's is_link_local_valid: 169.254.0.0/16 without its first and
 * last /24. */
static bool link_local_ok(uint32_t ip)
{
	return (ip >> 16) == 0xa9fe && ((ip >> 8) & 0xff) != 0 && ((ip >> 8) & 0xff) != 0xff;
}

static int parse_ifaces(json_t *obj, struct config_mmds *out, struct errbuf *err)
{
	json_t *v = json_object_get(obj, "network_interfaces");
	if (!v || json_is_null(v))
		return err_set(err, -EINVAL, "missing field \"network_interfaces\"");
	if (!json_is_array(v))
		return err_set(err, -EINVAL, "field \"network_interfaces\" must be an array (got %s)",
			       config_json_type(v));
	size_t n = json_array_size(v);
	if (n == 0)
		return err_set(err, -EINVAL,
			       "field \"network_interfaces\": the list of interfaces that reach "
			       "MMDS is empty");
	if (n > CONFIG_MMDS_MAX_IFACES)
		return err_set(err, -EINVAL, "field \"network_interfaces\": at most %d interfaces",
			       CONFIG_MMDS_MAX_IFACES);
	out->ifaces = calloc(n, sizeof(*out->ifaces));
	if (!out->ifaces)
		return err_set(err, -ENOMEM, "out of memory");
	char e[CONFIG_ECHO_MAX];
	for (size_t i = 0; i < n; i++) {
		json_t *s = json_array_get(v, i);
		if (!json_is_string(s) || !config_id_valid(json_string_value(s)))
			return err_set(err, -EINVAL,
				       "field \"network_interfaces\"[%zu] must be an interface id, "
				       "1..%d characters of [A-Za-z0-9_] (got %s)",
				       i, CONFIG_ID_MAX,
				       json_is_string(s) ? config_echo(json_string_value(s), SIZE_MAX, e)
							 : config_json_type(s));
		for (size_t j = 0; j < out->n_ifaces; j++)
			if (strcmp(out->ifaces[j], json_string_value(s)) == 0)
				return err_set(err, -EINVAL,
					       "field \"network_interfaces\": \"%s\" is listed twice",
					       out->ifaces[j]);
		out->ifaces[out->n_ifaces] = strdup(json_string_value(s));
		if (!out->ifaces[out->n_ifaces])
			return err_set(err, -ENOMEM, "out of memory");
		out->n_ifaces++;
	}
	return 0;
}

int config_parse_mmds(json_t *obj, struct config_mmds *out, struct errbuf *err)
{
	static const char *const fields[] = { "version", "network_interfaces", "ipv4_address",
					      "imds_compat", NULL };
	static const char *const versions[] = { "V1", "V2" };
	struct config_mmds m = { .present = true, .ipv4 = CONFIG_MMDS_DEFAULT_IPV4 };
	char *ip = NULL;
	char e[CONFIG_ECHO_MAX];
	int rc = config_expect_object(obj, err);
	if (!rc)
		rc = config_check_fields(obj, fields, err);
	if (!rc && (rc = config_get_enum(obj, "version", versions, 2, &m.version, err)) > 0)
		rc = 0;
	if (!rc)
		rc = parse_ifaces(obj, &m, err);
	if (!rc && (rc = config_get_str(obj, "ipv4_address", false, &ip, err)) > 0) {
		struct in_addr a;
		rc = 0;
		if (inet_pton(AF_INET, ip, &a) != 1)
			rc = err_set(err, -EINVAL,
				     "field \"ipv4_address\": \"%s\" is not an IPv4 address",
				     config_echo(ip, SIZE_MAX, e));
		else if (!link_local_ok(ntohl(a.s_addr)))
			rc = err_set(err, -EINVAL,
				     "field \"ipv4_address\": %s is not a usable link-local address "
				     "(169.254.1.0 to 169.254.254.255)",
				     ip);
		else
			m.ipv4 = ntohl(a.s_addr);
		free(ip);
	}
	if (!rc && (rc = config_get_bool(obj, "imds_compat", false, &m.imds_compat, err)) > 0)
		rc = 0;
	if (rc < 0) {
		config_mmds_free(&m);
		return rc;
	}
	config_mmds_free(out);
	*out = m;
	return 0;
}

int config_mmds_check(const struct vm_config *cfg, struct errbuf *err)
{
	for (size_t i = 0; cfg->mmds.present && i < cfg->mmds.n_ifaces; i++)
		if (!config_find_net(cfg, cfg->mmds.ifaces[i]))
			return err_set(err, -ENOENT,
				       "mmds-config: field \"network_interfaces\": \"%s\" is no "
				       "configured network interface",
				       cfg->mmds.ifaces[i]);
	return 0;
}

json_t *config_mmds_to_json(const struct config_mmds *m)
{
	if (!m->present)
		return json_null();
	json_t *ifs = json_array();
	for (size_t i = 0; ifs && i < m->n_ifaces; i++)
		if (json_array_append_new(ifs, json_string(m->ifaces[i])) < 0) {
			json_decref(ifs);
			return NULL;
		}
	struct in_addr a = { htonl(m->ipv4) };
	char ip[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &a, ip, sizeof(ip));
	return json_pack("{s:s, s:o, s:s, s:b}", "version", m->version ? "V2" : "V1",
			 "network_interfaces", ifs, "ipv4_address", ip, "imds_compat",
			 m->imds_compat);
}
