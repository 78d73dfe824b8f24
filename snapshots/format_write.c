/* Building a snapshot state file in memory. The atomic save to disk is in
 * format_save.c. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snapshots/crc64.h"
#include "snapshots/format.h"
#include "snapshots/le.h"

/* Records the first error; later ones are consequences of it. */
__attribute__((format(printf, 3, 4)))
static int fail(struct snap_writer *w, int code, const char *fmt, ...)
{
	if (w->error)
		return w->error;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->err.msg, sizeof(w->err.msg), fmt, ap);
	va_end(ap);
	w->error = code;
	return code;
}

void snap_writer_init(struct snap_writer *w)
{
	memset(w, 0, sizeof(*w));
}

void snap_writer_free(struct snap_writer *w)
{
	free(w->buf);
	free(w->sections);
	memset(w, 0, sizeof(*w));
}

/* Makes room for n more bytes plus the trailer, within SNAP_MAX_FILE. */
static int reserve(struct snap_writer *w, size_t n)
{
	if (w->error)
		return w->error;
	size_t used = w->len ? w->len : SNAP_HEADER_LEN;
	if (n > SNAP_MAX_FILE - SNAP_TRAILER_LEN - used)
		return fail(w, -EFBIG, "snapshot state would exceed the %u MiB file cap",
			    SNAP_MAX_FILE >> 20);
	size_t need = used + n + SNAP_TRAILER_LEN;
	if (need > w->cap) {
		size_t cap = w->cap ? w->cap : 4096;
		while (cap < need)
			cap *= 2;
		if (cap > SNAP_MAX_FILE)
			cap = SNAP_MAX_FILE;
		uint8_t *b = realloc(w->buf, cap);
		if (!b)
			return fail(w, -ENOMEM, "out of memory for %zu bytes of snapshot state", cap);
		w->buf = b;
		w->cap = cap;
	}
	w->len = used;
	return 0;
}

static int name_check(struct snap_writer *w, const char *name, size_t *len)
{
	size_t n = strnlen(name, SNAP_NAME_MAX + 1);
	if (n == 0 || n > SNAP_NAME_MAX)
		return fail(w, -EINVAL, "section name of %zu%s bytes, want 1..%u", n,
			    n > SNAP_NAME_MAX ? "+" : "", SNAP_NAME_MAX);
	for (size_t i = 0; i < n; i++)
		if (name[i] < 0x20 || name[i] > 0x7e)
			return fail(w, -EINVAL, "section name has byte 0x%02x at %zu: want printable ASCII",
				    (unsigned char)name[i], i);
	*len = n;
	return 0;
}

static bool name_used(const struct snap_writer *w, const char *name, size_t len)
{
	for (uint32_t i = 0; i < w->nr_sections; i++) {
		const uint8_t *h = w->buf + w->sections[i];
		if (le16_load(h) == len && !memcmp(h + SNAP_SECTION_HEADER_LEN, name, len))
			return true;
	}
	return false;
}

/* The open section's name, for messages (the file holds it without a NUL). */
static void open_name(const struct snap_writer *w, char out[SNAP_NAME_MAX + 1])
{
	uint16_t n = le16_load(w->buf + w->open);
	memcpy(out, w->buf + w->open + SNAP_SECTION_HEADER_LEN, n);
	out[n] = 0;
}

int snap_begin_section(struct snap_writer *w, const char *name, uint16_t version)
{
	if (w->error)
		return w->error;
	if (w->open) {
		char cur[SNAP_NAME_MAX + 1];
		open_name(w, cur);
		return fail(w, -EINVAL, "section \"%s\" begun while \"%s\" is open", name, cur);
	}
	size_t nlen = 0;
	int r = name_check(w, name, &nlen);
	if (r < 0)
		return r;
	if (w->nr_sections >= SNAP_MAX_SECTIONS)
		return fail(w, -E2BIG, "section \"%s\": more than %u sections", name, SNAP_MAX_SECTIONS);
	if (name_used(w, name, nlen))
		return fail(w, -EEXIST, "section \"%s\" written twice", name);
	if (w->nr_sections == w->sections_cap) {
		uint32_t cap = w->sections_cap ? w->sections_cap * 2 : 16;
		uint32_t *s = realloc(w->sections, cap * sizeof(*s));
		if (!s)
			return fail(w, -ENOMEM, "out of memory for the section list");
		w->sections = s;
		w->sections_cap = cap;
	}
	r = reserve(w, SNAP_SECTION_HEADER_LEN + nlen);
	if (r < 0)
		return r;
	uint8_t *h = w->buf + w->len;
	le16_store(h, (uint16_t)nlen);
	le16_store(h + 2, version);
	le32_store(h + 4, 0);
	memcpy(h + SNAP_SECTION_HEADER_LEN, name, nlen);
	w->open = w->len;
	w->sections[w->nr_sections++] = (uint32_t)w->len;
	w->len += SNAP_SECTION_HEADER_LEN + nlen;
	return 0;
}

static size_t payload_start(const struct snap_writer *w)
{
	return w->open + SNAP_SECTION_HEADER_LEN + le16_load(w->buf + w->open);
}

int snap_put_bytes(struct snap_writer *w, const void *data, size_t len)
{
	if (w->error)
		return w->error;
	if (!w->open)
		return fail(w, -EINVAL, "section data written outside a section");
	size_t have = w->len - payload_start(w);
	if (len > SNAP_MAX_PAYLOAD - have) {
		char name[SNAP_NAME_MAX + 1];
		open_name(w, name);
		return fail(w, -EFBIG, "section \"%s\": payload over the %u MiB cap", name,
			    SNAP_MAX_PAYLOAD >> 20);
	}
	int r = reserve(w, len);
	if (r < 0)
		return r;
	if (len)
		memcpy(w->buf + w->len, data, len);
	w->len += len;
	return 0;
}

int snap_put_u8(struct snap_writer *w, uint8_t v)
{
	return snap_put_bytes(w, &v, 1);
}

int snap_put_u16(struct snap_writer *w, uint16_t v)
{
	uint8_t b[2];
	le16_store(b, v);
	return snap_put_bytes(w, b, sizeof(b));
}

int snap_put_u32(struct snap_writer *w, uint32_t v)
{
	uint8_t b[4];
	le32_store(b, v);
	return snap_put_bytes(w, b, sizeof(b));
}

int snap_put_u64(struct snap_writer *w, uint64_t v)
{
	uint8_t b[8];
	le64_store(b, v);
	return snap_put_bytes(w, b, sizeof(b));
}

int snap_end_section(struct snap_writer *w)
{
	if (w->error)
		return w->error;
	if (!w->open)
		return fail(w, -EINVAL, "section ended but none is open");
	size_t payload = w->len - payload_start(w);
	size_t pad = (SNAP_ALIGN - (w->len - w->open) % SNAP_ALIGN) % SNAP_ALIGN;
	int r = reserve(w, pad);
	if (r < 0)
		return r;
	le32_store(w->buf + w->open + 4, (uint32_t)payload);
	memset(w->buf + w->len, 0, pad);
	w->len += pad;
	w->open = 0;
	return 0;
}

int snap_put_section(struct snap_writer *w, const char *name, uint16_t version,
		     const void *data, size_t len)
{
	int r = snap_begin_section(w, name, version);
	if (r == 0)
		r = snap_put_bytes(w, data, len);
	if (r == 0)
		r = snap_end_section(w);
	return r;
}

int snap_writer_image(struct snap_writer *w, const uint8_t **data, size_t *len,
		      struct errbuf *err)
{
	if (w->error)
		return err_set(err, w->error, "%s", w->err.msg);
	if (w->open) {
		char name[SNAP_NAME_MAX + 1];
		open_name(w, name);
		return err_set(err, -EINVAL, "section \"%s\" was not ended", name);
	}
	int r = reserve(w, 0); /* an empty writer has no buffer yet */
	if (r < 0)
		return err_set(err, r, "%s", w->err.msg);
	uint8_t *h = w->buf;
	memcpy(h, SNAP_MAGIC, SNAP_MAGIC_LEN);
	le32_store(h + 8, SNAP_FORMAT_VERSION);
	le32_store(h + 12, SNAP_ARCH_X86_64);
	le32_store(h + 16, w->nr_sections);
	le32_store(h + 20, 0);
	le64_store(h + 24, w->len - SNAP_HEADER_LEN);
	/* reserve() always leaves room for the trailer past len. */
	le64_store(w->buf + w->len, crc64(w->buf, w->len));
	*data = w->buf;
	*len = w->len + SNAP_TRAILER_LEN;
	return 0;
}
