/* The MMDS data store: PUT, PATCH (RFC 7396) within the size limit, and
 * the guest's reads by path in JSON or IMDS text. */
#include "mmds/mmds.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Firecracker measures the compact serialisation; jansson's JSON_COMPACT
 * writes the same text for the same value. */
static size_t mmds_json_size(const json_t *j)
{
	return json_dumpb(j, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
}

int mmds_put(struct mmds *m, json_t *obj, struct errbuf *err)
{
	size_t n = mmds_json_size(obj);
	if (n > m->limit)
		return err_set(err, -EFBIG,
			       "the data store would hold %zu bytes, over its limit of %zu "
			       "(--mmds-size-limit)",
			       n, m->limit);
	json_decref(m->data);
	m->data = json_incref(obj);
	return 0;
}

/* RFC 7396 section 2, onto target (which may be replaced); NULL on ENOMEM.
 * Recursion depth is that of the patch, which jansson parsed with its own
 * nesting limit. */
static json_t *merge_patch(json_t *target, json_t *patch)
{
	if (!json_is_object(patch)) {
		json_decref(target);
		return json_deep_copy(patch);
	}
	if (!json_is_object(target)) {
		json_decref(target);
		target = json_object();
		if (!target)
			return NULL;
	}
	const char *k;
	json_t *v;
	json_object_foreach(patch, k, v) {
		if (json_is_null(v)) {
			json_object_del(target, k);
			continue;
		}
		json_t *cur = json_object_get(target, k);
		json_t *next = merge_patch(json_incref(cur), v);
		if (!next || json_object_set_new(target, k, next) < 0) {
			json_decref(target);
			return NULL;
		}
	}
	return target;
}

int mmds_patch(struct mmds *m, json_t *patch, struct errbuf *err)
{
	if (!m->data)
		return err_set(err, -ENOENT, "the data store is empty: PUT /mmds first");
	json_t *copy = json_deep_copy(m->data);
	json_t *out = copy ? merge_patch(copy, patch) : NULL;
	if (!out)
		return err_set(err, -ENOMEM, "out of memory");
	size_t n = mmds_json_size(out);
	if (n > m->limit) {
		json_decref(out);
		return err_set(err, -EFBIG,
			       "the patched data store would hold %zu bytes, over its limit of "
			       "%zu (--mmds-size-limit)",
			       n, m->limit);
	}
	json_decref(m->data);
	m->data = out;
	return 0;
}

json_t *mmds_get_all(const struct mmds *m)
{
	return m->data ? json_incref(m->data) : json_object();
}

/* One RFC 6901 reference token (~1 is '/', ~0 is '~') into out; false for
 * a bad escape. */
static bool unescape_token(const char *s, size_t n, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '~') {
			out[o++] = s[i];
			continue;
		}
		if (i + 1 == n || (s[i + 1] != '0' && s[i + 1] != '1'))
			return false;
		out[o++] = s[++i] == '0' ? '~' : '/';
	}
	out[o] = 0;
	return true;
}

static json_t *array_item(json_t *a, const char *tok)
{
	/* RFC 6901: decimal, no sign, no leading zero. */
	size_t n = strlen(tok);
	if (n == 0 || n > 9 || (n > 1 && tok[0] == '0'))
		return NULL;
	size_t idx = 0;
	for (size_t i = 0; i < n; i++) {
		if (tok[i] < '0' || tok[i] > '9')
			return NULL;
		idx = idx * 10 + (size_t)(tok[i] - '0');
	}
	return json_array_get(a, idx);
}

/* Walks path: empty segments (from "//" or a trailing "/") are skipped,
 * as Firecracker folds "//" and drops one trailing slash. */
static const json_t *lookup(const json_t *root, const char *path, size_t len)
{
	char tok[256];
	const json_t *cur = root;
	size_t i = 0;
	while (i < len) {
		while (i < len && path[i] == '/')
			i++;
		size_t start = i;
		while (i < len && path[i] != '/')
			i++;
		if (i == start)
			break;
		if (i - start >= sizeof(tok) || !unescape_token(path + start, i - start, tok))
			return NULL;
		if (memchr(path + start, 0, i - start))
			return NULL;
		if (json_is_object(cur))
			cur = json_object_get(cur, tok);
		else if (json_is_array(cur))
			cur = array_item((json_t *)cur, tok);
		else
			return NULL;
		if (!cur)
			return NULL;
	}
	return cur;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* An object's keys, sorted, one a line, "/" after those holding objects. */
static int imds_listing(const json_t *obj, char **out, size_t *out_len)
{
	size_t n = json_object_size(obj), total = 0, i = 0;
	const char **keys = calloc(n ? n : 1, sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)obj, k, v) {
		keys[i++] = k;
		total += strlen(k) + 2;
	}
	qsort(keys, n, sizeof(*keys), cmp_str);
	char *buf = malloc(total + 1), *p = buf;
	if (!buf) {
		free(keys);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		size_t l = strlen(keys[i]);
		if (i)
			*p++ = '\n';
		memcpy(p, keys[i], l);
		p += l;
		if (json_is_object(json_object_get(obj, keys[i])))
			*p++ = '/';
	}
	*p = 0;
	free(keys);
	*out = buf;
	*out_len = (size_t)(p - buf);
	return 0;
}

int mmds_get_path(const struct mmds *m, const char *path, size_t path_len, bool json, char **out,
		  size_t *out_len)
{
	json_t *null = json_null();
	const json_t *v = lookup(m->data ? m->data : null, path, path_len);
	if (!v)
		return -ENOENT;
	if (json) {
		*out = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
		if (!*out)
			return -ENOMEM;
		*out_len = strlen(*out);
		return 0;
	}
	if (json_is_object(v))
		return imds_listing(v, out, out_len);
	if (!json_is_string(v))
		return -ENOTSUP;
	*out_len = json_string_length(v);
	*out = malloc(*out_len + 1);
	if (!*out)
		return -ENOMEM;
	memcpy(*out, json_string_value(v), *out_len + 1);
	return 0;
}
