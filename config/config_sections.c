/* The single-object sections of the config: boot-source, machine-config,
 * vsock, entropy, logger, metrics. Field names, defaults and rules follow
 * Firecracker's src/vmm/src/vmm_config/ (boot_source.rs, machine_config.rs ...). */
#include "config/config.h"
#include "config/config_json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Indexed by the enums in config.h. */
static const char *const cpu_template_names[] = { "None", "T2", "T2S", "C3", "T2CL", "T2A" };
static const char *const huge_pages_names[] = { "None", "2M" };
static const char *const accel_names[] = { "auto", "kvm", "tcg" };

const char *config_cpu_template_name(enum config_cpu_template t)
{
	if (t == CONFIG_CPU_TEMPLATE_CUSTOM)
		return "Custom";
	return (unsigned)t < ARRAY_LEN(cpu_template_names) ? cpu_template_names[t] : "?";
}

const char *config_huge_pages_name(enum config_huge_pages h)
{
	return (unsigned)h < ARRAY_LEN(huge_pages_names) ? huge_pages_names[h] : "?";
}

const char *config_accel_name(enum config_accel a)
{
	return (unsigned)a < ARRAY_LEN(accel_names) ? accel_names[a] : "?";
}

int config_accel_parse(const char *name, enum config_accel *out)
{
	for (unsigned i = 0; i < ARRAY_LEN(accel_names); i++) {
		if (strcmp(name, accel_names[i]) == 0) {
			*out = (enum config_accel)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *config_log_level_name(enum log_level l)
{
	/* The spellings Firecracker prints; log_level_parse reads them back. */
	switch (l) {
	case LOG_OFF: return "Off";
	case LOG_ERROR: return "Error";
	case LOG_WARN: return "Warning";
	case LOG_INFO: return "Info";
	case LOG_DEBUG: return "Debug";
	case LOG_TRACE: return "Trace";
	}
	return "?";
}

/* ---- boot-source ---- */

void config_boot_free(struct config_boot *b)
{
	free(b->kernel_image_path);
	free(b->initrd_path);
	free(b->boot_args);
	memset(b, 0, sizeof(*b));
}

int config_parse_boot(json_t *obj, struct config_boot *out, struct errbuf *err)
{
	static const char *const fields[] = { "kernel_image_path", "initrd_path", "boot_args",
					      NULL };
	struct config_boot b = { 0 };
	int rc = config_expect_object(obj, err);
	if (!rc)
		rc = config_check_fields(obj, fields, err);
	if (!rc)
		rc = config_get_path(obj, "kernel_image_path", true, &b.kernel_image_path, err);
	if (rc >= 0)
		rc = config_get_path(obj, "initrd_path", false, &b.initrd_path, err);
	if (rc >= 0)
		rc = config_get_str(obj, "boot_args", false, &b.boot_args, err);
	if (rc < 0) {
		config_boot_free(&b);
		return rc;
	}
	*out = b;
	return 0;
}

json_t *config_boot_to_json(const struct config_boot *b)
{
	/* Firecracker reports an unset kernel as "" and absent options as null. */
	return json_pack("{s:s, s:s?, s:s?}", "kernel_image_path",
			 b->kernel_image_path ? b->kernel_image_path : "", "initrd_path",
			 b->initrd_path, "boot_args", b->boot_args);
}

/* ---- machine-config ---- */

void config_machine_init(struct config_machine *m)
{
	*m = (struct config_machine){
		.vcpu_count = CONFIG_DEFAULT_VCPUS,
		.mem_size_mib = CONFIG_DEFAULT_MEM_MIB,
		.cpu_template = CONFIG_CPU_TEMPLATE_NONE,
		.huge_pages = CONFIG_HUGE_PAGES_NONE,
		.accel = CONFIG_ACCEL_AUTO,
	};
}

int config_parse_machine(json_t *obj, struct config_machine *inout, bool partial,
			 struct errbuf *err)
{
	static const char *const fields[] = { "vcpu_count", "mem_size_mib", "smt",
					      "cpu_template", "track_dirty_pages", "huge_pages",
					      "accel", NULL };
	int rc = config_expect_object(obj, err);
	if (!rc)
		rc = config_check_fields(obj, fields, err);
	if (rc)
		return rc;

	struct config_machine m = *inout;
	if (!partial) {
		/* Firecracker turns a PUT into an update where every field is set
		 * except an omitted cpu_template, which therefore survives. */
		config_machine_init(&m);
		m.cpu_template = inout->cpu_template;
	}

	unsigned given = 0, e;
	uint64_t u;
	bool b;
#define GOT(expr, assign)                                                                       \
	do {                                                                                    \
		rc = (expr);                                                                    \
		if (rc < 0)                                                                     \
			return rc;                                                              \
		if (rc) {                                                                       \
			assign;                                                                 \
			given++;                                                                \
		}                                                                               \
	} while (0)
	GOT(config_get_u64(obj, "vcpu_count", !partial, 1, CONFIG_MAX_VCPUS, &u, err),
	    m.vcpu_count = (unsigned)u);
	GOT(config_get_u64(obj, "mem_size_mib", !partial, 1, CONFIG_MAX_MEM_MIB, &u, err),
	    m.mem_size_mib = u);
	GOT(config_get_bool(obj, "smt", false, &b, err), m.smt = b);
	GOT(config_get_enum(obj, "cpu_template", cpu_template_names,
			    ARRAY_LEN(cpu_template_names), &e, err),
	    m.cpu_template = (enum config_cpu_template)e);
	GOT(config_get_bool(obj, "track_dirty_pages", false, &b, err), m.track_dirty_pages = b);
	GOT(config_get_enum(obj, "huge_pages", huge_pages_names, ARRAY_LEN(huge_pages_names),
			    &e, err),
	    m.huge_pages = (enum config_huge_pages)e);
	GOT(config_get_enum(obj, "accel", accel_names, ARRAY_LEN(accel_names), &e, err),
	    m.accel = (enum config_accel)e);
#undef GOT

	if (partial && !given)
		return err_set(err, -EINVAL, "empty update: give at least one field");
	/* SMT exposes vCPUs as sibling pairs, so Firecracker wants 1 or even. */
	if (m.smt && m.vcpu_count > 1 && m.vcpu_count % 2)
		return err_set(err, -EINVAL,
			       "field \"vcpu_count\" must be 1 or even when smt is enabled (got %u)",
			       m.vcpu_count);
	if (m.huge_pages == CONFIG_HUGE_PAGES_2M && m.mem_size_mib % 2)
		return err_set(err, -EINVAL,
			       "field \"mem_size_mib\" must be a multiple of 2 with 2M huge pages "
			       "(got %llu)",
			       (unsigned long long)m.mem_size_mib);
	*inout = m;
	return 0;
}

json_t *config_machine_to_json(const struct config_machine *m)
{
	/* Firecracker omits cpu_template when None or custom; "accel" is
	 * ours, shown only when not the default so Firecracker-shaped output
	 * stays so. */
	const char *tmpl = m->cpu_template == CONFIG_CPU_TEMPLATE_NONE ||
					   m->cpu_template == CONFIG_CPU_TEMPLATE_CUSTOM
				   ? NULL
				   : config_cpu_template_name(m->cpu_template);
	const char *accel = m->accel == CONFIG_ACCEL_AUTO ? NULL : config_accel_name(m->accel);
	return json_pack("{s:i, s:I, s:b, s:s*, s:b, s:s, s:s*}", "vcpu_count",
			 (int)m->vcpu_count, "mem_size_mib", (json_int_t)m->mem_size_mib, "smt",
			 m->smt, "cpu_template", tmpl, "track_dirty_pages", m->track_dirty_pages,
			 "huge_pages", config_huge_pages_name(m->huge_pages), "accel", accel);
}

/* ---- vsock ---- */

void config_vsock_free(struct config_vsock *v)
{
	free(v->vsock_id);
	free(v->uds_path);
	memset(v, 0, sizeof(*v));
}

int config_parse_vsock(json_t *obj, struct config_vsock *out, struct errbuf *err)
{
	static const char *const fields[] = { "vsock_id", "guest_cid", "uds_path",
					      "max_connections", NULL };
	struct config_vsock v = { .present = true };
	uint64_t cid = 0, max_conns = 0;
	int rc = config_expect_object(obj, err);
	if (!rc)
		rc = config_check_fields(obj, fields, err);
	if (!rc)
		rc = config_get_str(obj, "vsock_id", false, &v.vsock_id, err);
	if (rc >= 0)
		rc = config_get_u64(obj, "guest_cid", true, CONFIG_VSOCK_CID_MIN,
				    CONFIG_VSOCK_CID_MAX, &cid, err);
	if (rc >= 0)
		rc = config_get_path(obj, "uds_path", true, &v.uds_path, err);
	if (rc >= 0)
		rc = config_get_u64(obj, "max_connections", false, 1, CONFIG_VSOCK_MAX_CONNS,
				    &max_conns, err);
	if (rc < 0) {
		config_vsock_free(&v);
		return rc;
	}
	v.guest_cid = (uint32_t)cid;
	v.max_connections = (uint32_t)max_conns;
	*out = v;
	return 0;
}

json_t *config_vsock_to_json(const struct config_vsock *v)
{
	if (!v->present)
		return json_null();
	/* Firecracker skips vsock_id when it was not given; our extension
	 * shows only when set, so Firecracker-shaped input stays so. */
	json_t *j = json_pack("{s:s*, s:I, s:s}", "vsock_id", v->vsock_id, "guest_cid",
			      (json_int_t)v->guest_cid, "uds_path", v->uds_path);
	if (j && v->max_connections &&
	    json_object_set_new(j, "max_connections", json_integer(v->max_connections)) < 0) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* ---- entropy ---- */

int config_parse_entropy(json_t *obj, struct config_entropy *out, struct errbuf *err)
{
	static const char *const fields[] = { "rate_limiter", NULL };
	int rc = config_expect_object(obj, err);
	if (!rc)
		rc = config_check_fields(obj, fields, err);
	if (!rc)
		rc = config_reject(obj, "rate_limiter", err);
	if (rc)
		return rc;
	out->present = true;
	return 0;
}

json_t *config_entropy_to_json(const struct config_entropy *e)
{
	return e->present ? json_pack("{s:n}", "rate_limiter") : json_null();
}

/* ---- logger ---- */

void config_logger_free(struct config_logger *l)
{
	free(l->log_path);
	free(l->module);
	memset(l, 0, sizeof(*l));
}

static int parse_level(json_t *obj, struct config_logger *l, struct errbuf *err)
{
	char *s = NULL;
	int rc = config_get_str(obj, "level", false, &s, err);
	if (rc <= 0)
		return rc;
	char e[CONFIG_ECHO_MAX];
	/* Firecracker reads level names case-insensitively. */
	if (log_level_parse(s, &l->level) < 0)
		rc = err_set(err, -EINVAL,
			     "field \"level\" must be one of \"Error\", \"Warning\", \"Info\", "
			     "\"Debug\", \"Trace\", \"Off\" (got \"%s\")",
			     config_echo(s, SIZE_MAX, e));
	else
		l->has_level = true;
	free(s);
	return rc;
}

int config_parse_logger(json_t *obj, struct config_logger *out, struct errbuf *err)
{
	static const char *const fields[] = { "log_path", "level", "show_level",
					      "show_log_origin", "module", NULL };
	struct config_logger l = { .present = true };
	int rc = config_expect_object(obj, err);
	if (!rc)
		rc = config_check_fields(obj, fields, err);
	if (!rc)
		rc = config_get_path(obj, "log_path", false, &l.log_path, err);
	if (rc >= 0)
		rc = parse_level(obj, &l, err);
	if (rc >= 0)
		rc = config_get_bool(obj, "show_level", false, &l.show_level, err);
	if (rc >= 0)
		l.has_show_level = rc > 0;
	if (rc >= 0)
		rc = config_get_bool(obj, "show_log_origin", false, &l.show_log_origin, err);
	if (rc >= 0)
		l.has_show_log_origin = rc > 0;
	if (rc >= 0)
		rc = config_get_str(obj, "module", false, &l.module, err);
	if (rc < 0) {
		config_logger_free(&l);
		return rc;
	}
	*out = l;
	return 0;
}

json_t *config_logger_to_json(const struct config_logger *l)
{
	if (!l->present)
		return json_null();
	return json_pack("{s:s*, s:s*, s:o*, s:o*, s:s*}", "log_path", l->log_path, "level",
			 l->has_level ? config_log_level_name(l->level) : NULL, "show_level",
			 l->has_show_level ? json_boolean(l->show_level) : NULL, "show_log_origin",
			 l->has_show_log_origin ? json_boolean(l->show_log_origin) : NULL,
			 "module", l->module);
}

/* ---- metrics ---- */

void config_metrics_free(struct config_metrics *m)
{
	free(m->metrics_path);
	json_decref(m->properties);
	memset(m, 0, sizeof(*m));
}

/* "properties": an object whose values are all strings (swagger's
 * additionalProperties: string); null counts as absent. */
static int parse_properties(json_t *obj, struct config_metrics *m, struct errbuf *err)
{
	json_t *p = json_object_get(obj, "properties");
	if (!p || json_is_null(p))
		return 0;
	if (!json_is_object(p))
		return err_set(err, -EINVAL, "field \"properties\" must be an object (got %s)",
			       config_json_type(p));
	const char *k;
	json_t *v;
	json_object_foreach(p, k, v) {
		char e[CONFIG_ECHO_MAX];
		if (!json_is_string(v))
			return err_set(err, -EINVAL,
				       "field \"properties\": \"%s\" must be a string (got %s)",
				       config_echo(k, SIZE_MAX, e), config_json_type(v));
	}
	m->properties = json_deep_copy(p);
	return m->properties ? 1 : err_set(err, -ENOMEM, "out of memory");
}

int config_parse_metrics(json_t *obj, struct config_metrics *out, struct errbuf *err)
{
	static const char *const fields[] = { "metrics_path", "emit_id", "properties", NULL };
	struct config_metrics m = { .present = true };
	int rc = config_expect_object(obj, err);
	if (!rc)
		rc = config_check_fields(obj, fields, err);
	if (!rc)
		rc = config_get_path(obj, "metrics_path", true, &m.metrics_path, err);
	if (rc >= 0)
		rc = config_get_bool(obj, "emit_id", false, &m.emit_id, err);
	if (rc >= 0)
		rc = parse_properties(obj, &m, err);
	if (rc < 0) {
		config_metrics_free(&m);
		return rc;
	}
	*out = m;
	return 0;
}

json_t *config_metrics_to_json(const struct config_metrics *m)
{
	if (!m->present)
		return json_null();
	/* Firecracker-shaped: the optional fields only when they say something. */
	return json_pack("{s:s, s:o*, s:O*}", "metrics_path", m->metrics_path, "emit_id",
			 m->emit_id ? json_true() : NULL, "properties", m->properties);
}

/* ---- serial ---- */

void config_serial_free(struct config_serial *s)
{
	free(s->serial_out_path);
	memset(s, 0, sizeof(*s));
}

int config_parse_serial(json_t *obj, struct config_serial *out, struct errbuf *err)
{
	static const char *const fields[] = { "serial_out_path", "rate_limiter", NULL };
	struct config_serial s = { .present = true };
	int rc = config_expect_object(obj, err);
	if (!rc)
		rc = config_check_fields(obj, fields, err);
	if (!rc)
		rc = config_reject(obj, "rate_limiter", err);
	if (!rc)
		rc = config_get_path(obj, "serial_out_path", false, &s.serial_out_path, err);
	if (rc < 0) {
		config_serial_free(&s);
		return rc;
	}
	*out = s;
	return 0;
}
