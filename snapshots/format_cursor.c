/* Decoding a section payload without ever reading past its end. */
#include <errno.h>
#include <string.h>

#include "snapshots/format.h"
#include "snapshots/le.h"

void snap_cursor_init(struct snap_cursor *c, const void *data, size_t len)
{
	c->data = data;
	c->len = data ? len : 0;
	c->pos = 0;
	c->error = 0;
}

/* The one place that checks bounds; every getter goes through it. */
static const uint8_t *take(struct snap_cursor *c, size_t n)
{
	if (c->error || n > c->len - c->pos) {
		c->error = -EBADMSG;
		return NULL;
	}
	const uint8_t *p = c->data + c->pos;
	c->pos += n;
	return p;
}

int snap_get_u8(struct snap_cursor *c, uint8_t *v)
{
	const uint8_t *p = take(c, 1);
	*v = p ? p[0] : 0;
	return p ? 0 : -EBADMSG;
}

int snap_get_u16(struct snap_cursor *c, uint16_t *v)
{
	const uint8_t *p = take(c, 2);
	*v = p ? le16_load(p) : 0;
	return p ? 0 : -EBADMSG;
}

int snap_get_u32(struct snap_cursor *c, uint32_t *v)
{
	const uint8_t *p = take(c, 4);
	*v = p ? le32_load(p) : 0;
	return p ? 0 : -EBADMSG;
}

int snap_get_u64(struct snap_cursor *c, uint64_t *v)
{
	const uint8_t *p = take(c, 8);
	*v = p ? le64_load(p) : 0;
	return p ? 0 : -EBADMSG;
}

int snap_get_bytes(struct snap_cursor *c, void *out, size_t len)
{
	const uint8_t *p = take(c, len);
	if (!p) {
		if (len)
			memset(out, 0, len);
		return -EBADMSG;
	}
	if (len)
		memcpy(out, p, len);
	return 0;
}

size_t snap_cursor_left(const struct snap_cursor *c)
{
	return c->error ? 0 : c->len - c->pos;
}

int snap_cursor_end(const struct snap_cursor *c)
{
	return c->error || c->pos != c->len ? -EBADMSG : 0;
}
