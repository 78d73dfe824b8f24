/* Typed field access for the config parsers; see config_json.h. */
#include "config/config_json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *config_echo(const char *s, size_t len, char out[CONFIG_ECHO_MAX])
{
	size_t i = 0;
	for (; i < len && i < CONFIG_ECHO_MAX - 1 && s[i]; i++)
		out[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	out[i] = 0;
	return out;
}

const char *config_json_type(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "object";
	case JSON_ARRAY: return "array";
	case JSON_STRING: return "string";
	case JSON_INTEGER: return "integer";
	case JSON_REAL: return "real";
	case JSON_TRUE:
	case JSON_FALSE: return "boolean";
	case JSON_NULL: return "null";
	}
	return "unknown";
}

int config_expect_object(const json_t *v, struct errbuf *err)
{
	if (!json_is_object(v))
		return err_set(err, -EINVAL, "must be an object (got %s)", config_json_type(v));
	return 0;
}

int config_check_fields(json_t *obj, const char *const *allowed, struct errbuf *err)
{
	const char *key;
	json_t *val;

	json_object_foreach(obj, key, val) {
		const char *const *a = allowed;
		while (*a && strcmp(*a, key) != 0)
			a++;
		char e[CONFIG_ECHO_MAX];
		if (!*a)
			return err_set(err, -EINVAL, "unknown field \"%s\"",
				       config_echo(key, SIZE_MAX, e));
	}
	return 0;
}

/* Common prologue: 0 if absent-or-null (error if required), 1 with *v set. */
static int field(json_t *obj, const char *key, bool required, const char *type, json_t **v,
		 struct errbuf *err)
{
	*v = json_object_get(obj, key);
	if (*v && !json_is_null(*v))
		return 1;
	if (!required)
		return 0;
	if (*v)
		return err_set(err, -EINVAL, "field \"%s\" must be %s (got null)", key, type);
	return err_set(err, -EINVAL, "missing field \"%s\"", key);
}

int config_get_str(json_t *obj, const char *key, bool required, char **out,
		   struct errbuf *err)
{
	json_t *v;
	int rc = field(obj, key, required, "a string", &v, err);
	if (rc <= 0)
		return rc;
	if (!json_is_string(v))
		return err_set(err, -EINVAL, "field \"%s\" must be a string (got %s)", key,
			       config_json_type(v));
	/* jansson refuses \u0000 by default, so the C string is the whole value. */
	char *s = strdup(json_string_value(v));
	if (!s)
		return err_set(err, -ENOMEM, "field \"%s\": out of memory", key);
	free(*out);
	*out = s;
	return 1;
}

int config_get_path(json_t *obj, const char *key, bool required, char **out,
		    struct errbuf *err)
{
	json_t *v = json_object_get(obj, key);
	if (json_is_string(v) && json_string_length(v) == 0)
		return err_set(err, -EINVAL, "field \"%s\" must not be empty", key);
	return config_get_str(obj, key, required, out, err);
}

int config_get_bool(json_t *obj, const char *key, bool required, bool *out,
		    struct errbuf *err)
{
	json_t *v;
	int rc = field(obj, key, required, "a boolean", &v, err);
	if (rc <= 0)
		return rc;
	if (!json_is_boolean(v))
		return err_set(err, -EINVAL, "field \"%s\" must be a boolean (got %s)", key,
			       config_json_type(v));
	*out = json_is_true(v);
	return 1;
}

int config_get_u64(json_t *obj, const char *key, bool required, uint64_t min, uint64_t max,
		   uint64_t *out, struct errbuf *err)
{
	json_t *v;
	int rc = field(obj, key, required, "an integer", &v, err);
	if (rc <= 0)
		return rc;
	if (!json_is_integer(v))
		return err_set(err, -EINVAL, "field \"%s\" must be an integer (got %s)", key,
			       config_json_type(v));
	json_int_t i = json_integer_value(v);
	if (i < 0 || (uint64_t)i < min || (uint64_t)i > max)
		return err_set(err, -EINVAL, "field \"%s\" must be in %llu..%llu (got %lld)", key,
			       (unsigned long long)min, (unsigned long long)max, (long long)i);
	*out = (uint64_t)i;
	return 1;
}

int config_get_enum(json_t *obj, const char *key, const char *const *names, unsigned n,
		    unsigned *out, struct errbuf *err)
{
	char *s = NULL;
	int rc = config_get_str(obj, key, false, &s, err);
	if (rc <= 0)
		return rc;
	for (unsigned i = 0; i < n; i++) {
		if (strcmp(s, names[i]) == 0) {
			free(s);
			*out = i;
			return 1;
		}
	}
	/* List the accepted values: the user should not need the docs. */
	char list[256] = "";
	size_t len = 0;
	for (unsigned i = 0; i < n && len < sizeof(list); i++) {
		int w = snprintf(list + len, sizeof(list) - len, "%s\"%s\"", i ? ", " : "",
				 names[i]);
		if (w < 0)
			break;
		len += (size_t)w;
	}
	char e[CONFIG_ECHO_MAX];
	rc = err_set(err, -EINVAL, "field \"%s\" must be one of %s (got \"%s\")", key, list,
		     config_echo(s, SIZE_MAX, e));
	free(s);
	return rc;
}

int config_reject(json_t *obj, const char *key, struct errbuf *err)
{
	json_t *v = json_object_get(obj, key);
	if (v && !json_is_null(v))
		return err_set(err, -ENOTSUP, "field \"%s\": not supported yet", key);
	return 0;
}
