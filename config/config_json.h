/* Internal to config/: typed field access on jansson objects with
 * Firecracker-like error text (field named, expected type or range given).
 * Getters return 1 if the field was present, 0 if absent or null (serde
 * reads null as "absent" for optional fields), or a negative errno. */
#ifndef EMBER_CONFIG_JSON_H
#define EMBER_CONFIG_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/base/err.h"

/* Room for an echoed value: 64 characters and the NUL. */
#define CONFIG_ECHO_MAX 65
/* Copies at most len bytes of s (up to its NUL) into out, cut at 64 and
 * with non-printable bytes as '?', so that input quoted back in an error
 * can neither flood nor forge log lines. Returns out. */
const char *config_echo(const char *s, size_t len, char out[CONFIG_ECHO_MAX]);

/* "an object", "a string", "null", ... for error messages. */
const char *config_json_type(const json_t *v);
/* -EINVAL "must be an object (got array)" unless v is an object. */
int config_expect_object(const json_t *v, struct errbuf *err);
/* -EINVAL `unknown field "x"` for the first key not in allowed (NULL-ended). */
int config_check_fields(json_t *obj, const char *const *allowed, struct errbuf *err);

/* *out gets a malloc'ed copy; left alone when absent. */
int config_get_str(json_t *obj, const char *key, bool required, char **out,
		   struct errbuf *err);
/* As config_get_str, but the empty string is refused too. */
int config_get_path(json_t *obj, const char *key, bool required, char **out,
		    struct errbuf *err);
int config_get_bool(json_t *obj, const char *key, bool required, bool *out,
		    struct errbuf *err);
/* An integer in [min, max]; reals such as 2.0 are refused, as serde does. */
int config_get_u64(json_t *obj, const char *key, bool required, uint64_t min, uint64_t max,
		   uint64_t *out, struct errbuf *err);
/* One of names[0..n) exactly (case-sensitive, as serde enums); *out = index. */
int config_get_enum(json_t *obj, const char *key, const char *const *names, unsigned n,
		    unsigned *out, struct errbuf *err);
/* -ENOTSUP `field "x": not supported yet` if present and not null. */
int config_reject(json_t *obj, const char *key, struct errbuf *err);

#endif
