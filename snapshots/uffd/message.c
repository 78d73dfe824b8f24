/* The handshake message, validated before anything is served: a wrong
 * region would have the handler copy the wrong file bytes into a guest, or
 * read past the end of its mapping. */
#include "snapshots/uffd/handler.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define ECHO_MAX 48

static const char *const fields[] = { "base_host_virt_addr", "size", "offset", "page_size" };
#define NR_FIELDS (sizeof(fields) / sizeof(fields[0]))
/* Firecracker sends it too: deprecated, in bytes despite its name. */
#define FC_PAGE_SIZE_KIB "page_size_kib"

/* Quotes input back (jansson's error text does too) on one line: printable
 * ASCII only, cut short. */
static const char *echo(const char *s, char out[ECHO_MAX])
{
	size_t i = 0;
	for (; s[i] && i < ECHO_MAX - 4; i++)
		out[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	if (s[i]) {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	out[i] = 0;
	return out;
}

static int get_u64(json_t *obj, const char *key, unsigned i, uint64_t *out, struct errbuf *err)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		return err_set(err, -EBADMSG, "region %u: missing field \"%s\"", i, key);
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return err_set(err, -EBADMSG, "region %u: field \"%s\" must be a non-negative integer",
			       i, key);
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

static int check_keys(json_t *obj, unsigned i, struct errbuf *err)
{
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v) {
		bool known = strcmp(key, FC_PAGE_SIZE_KIB) == 0;
		for (size_t f = 0; !known && f < NR_FIELDS; f++)
			known = strcmp(key, fields[f]) == 0;
		char e[ECHO_MAX];
		if (!known)
			return err_set(err, -EBADMSG, "region %u: unknown field \"%s\"", i,
				       echo(key, e));
	}
	return 0;
}

static int check_page(uint64_t v, const char *what, unsigned i, struct errbuf *err)
{
	if (v % UFFD_PAGE)
		return err_set(err, -EBADMSG, "region %u: %s %#" PRIx64 " is not a multiple of %d", i,
			       what, v, UFFD_PAGE);
	return 0;
}

static int parse_region(json_t *obj, unsigned i, uint64_t file_size, struct uffd_region *r,
			struct errbuf *err)
{
	if (!json_is_object(obj))
		return err_set(err, -EBADMSG, "region %u: not an object", i);
	uint64_t v[NR_FIELDS], kib;
	int rc = check_keys(obj, i, err);
	for (size_t f = 0; rc == 0 && f < NR_FIELDS; f++)
		rc = get_u64(obj, fields[f], i, &v[f], err);
	if (rc < 0)
		return rc;
	uint64_t base = v[0], size = v[1], offset = v[2], page = v[3];
	if (page != UFFD_PAGE)
		return err_set(err, -EBADMSG, "region %u: page_size %" PRIu64 ": only %d is served",
			       i, page, UFFD_PAGE);
	if (json_object_get(obj, FC_PAGE_SIZE_KIB) &&
	    (get_u64(obj, FC_PAGE_SIZE_KIB, i, &kib, err) < 0 || kib != page))
		return err_set(err, -EBADMSG, "region %u: " FC_PAGE_SIZE_KIB " differs from page_size",
			       i);
	if (size == 0)
		return err_set(err, -EBADMSG, "region %u: size 0", i);
	if ((rc = check_page(size, "size", i, err)) < 0 ||
	    (rc = check_page(offset, "offset", i, err)) < 0 ||
	    (rc = check_page(base, "base_host_virt_addr", i, err)) < 0)
		return rc;
	if (base > UINT64_MAX - size)
		return err_set(err, -EBADMSG, "region %u: base_host_virt_addr + size overflows", i);
	if (offset > file_size || size > file_size - offset)
		return err_set(err, -EBADMSG,
			       "region %u: offset %" PRIu64 " + size %" PRIu64
			       " is past the end of the memory file (%" PRIu64 " bytes)",
			       i, offset, size, file_size);
	*r = (struct uffd_region){ .base = base, .size = size, .offset = offset };
	return 0;
}

/* A fault address must name one region, or the handler would not know
 * which file bytes it stands for. */
static int check_overlaps(const struct uffd_layout *l, struct errbuf *err)
{
	for (unsigned a = 0; a < l->n; a++)
		for (unsigned b = a + 1; b < l->n; b++)
			if (l->r[a].base < l->r[b].base + l->r[b].size &&
			    l->r[b].base < l->r[a].base + l->r[a].size)
				return err_set(err, -EBADMSG, "regions %u and %u overlap", a, b);
	return 0;
}

int uffd_parse_message(const char *buf, size_t len, uint64_t file_size,
		       struct uffd_layout *out, struct errbuf *err)
{
	if (len == 0)
		return err_set(err, -EBADMSG, "empty message");
	if (len > UFFD_MSG_MAX)
		return err_set(err, -EBADMSG, "message longer than %d bytes", UFFD_MSG_MAX);
	json_error_t je;
	json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	char e[ECHO_MAX];
	if (!j)
		return err_set(err, -EBADMSG, "not JSON: %s (line %d, column %d)", echo(je.text, e),
			       je.line, je.column);
	struct uffd_layout l = { .n = 0 };
	size_t n = json_array_size(j);
	int rc = 0;
	if (!json_is_array(j))
		rc = err_set(err, -EBADMSG, "not a JSON array of regions");
	else if (n == 0 || n > UFFD_MAX_REGIONS)
		rc = err_set(err, -EBADMSG, "%zu regions; 1 to %d are served", n, UFFD_MAX_REGIONS);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = parse_region(json_array_get(j, i), (unsigned)i, file_size, &l.r[i], err);
	l.n = (unsigned)n;
	json_decref(j);
	if (rc == 0)
		rc = check_overlaps(&l, err);
	if (rc == 0)
		*out = l;
	return rc;
}

void uffd_layout_free(struct uffd_layout *l)
{
	for (unsigned i = 0; i < l->n; i++) {
		free(l->r[i].removed);
		l->r[i].removed = NULL;
	}
}
