/* libFuzzer target: the snapshot state file reader. Each input is parsed
 * twice: as it is, and with its header's body_len and its checksum made
 * consistent, so mutations reach the section checks behind the CRC. A
 * file the reader accepts must decode safely section by section, be found
 * by name, and be written back byte for byte by the writer (the format
 * has one encoding per content). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "snapshots/crc64.h"
#include "snapshots/format.h"
#include "snapshots/le.h"

/* Walks the payload with reads of sizes the payload itself picks, as a
 * decoder driven by hostile counts would. */
static void decode(const struct snap_section *sec)
{
	struct snap_cursor c;
	snap_cursor_init(&c, sec->data, sec->len);
	uint8_t op, buf[32];
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;
	while (snap_get_u8(&c, &op) == 0) {
		int r;
		switch (op % 5) {
		case 0: r = snap_get_u16(&c, &u16); break;
		case 1: r = snap_get_u32(&c, &u32); break;
		case 2: r = snap_get_u64(&c, &u64); break;
		case 3: r = snap_get_bytes(&c, buf, op % sizeof(buf)); break;
		default: r = snap_get_u8(&c, &op); break;
		}
		if (c.pos > c.len || (r < 0 && snap_cursor_end(&c) == 0))
			abort();
	}
	if (snap_cursor_left(&c) != 0 || snap_cursor_end(&c) != -EBADMSG)
		abort();
}

static void check(const uint8_t *b, size_t n)
{
	struct snap_file s;
	struct errbuf err = { "" };
	int r = snap_parse(b, n, &s, &err);
	if (r < 0) {
		if ((r != -EBADMSG && r != -ENOMEM) || !err.msg[0])
			abort();
		return;
	}
	struct snap_writer w;
	snap_writer_init(&w);
	for (uint32_t i = 0; i < s.nr_sections; i++) {
		const struct snap_section *sec = snap_section_at(&s, i);
		if (sec->data < b + SNAP_HEADER_LEN || sec->len > (size_t)(b + n - SNAP_TRAILER_LEN - sec->data))
			abort();
		const uint8_t *data;
		size_t len;
		uint16_t version;
		if (snap_section(&s, sec->name, &version, &data, &len) != 0 || data != sec->data ||
		    len != sec->len || version != sec->version)
			abort();
		decode(sec);
		if (snap_put_section(&w, sec->name, sec->version, sec->data, sec->len) != 0)
			abort();
	}
	if (snap_section_at(&s, s.nr_sections))
		abort();
	const uint8_t *img;
	size_t len;
	if (snap_writer_image(&w, &img, &len, &err) != 0 || len != n || memcmp(img, b, n))
		abort();
	snap_writer_free(&w);
	snap_free(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check(data, size);
	if (size < SNAP_HEADER_LEN + SNAP_TRAILER_LEN || size > SNAP_MAX_FILE)
		return 0;
	uint8_t *fixed = malloc(size);
	if (!fixed)
		return 0;
	memcpy(fixed, data, size);
	le64_store(fixed + 24, size - SNAP_HEADER_LEN - SNAP_TRAILER_LEN);
	le64_store(fixed + size - SNAP_TRAILER_LEN, crc64(fixed, size - SNAP_TRAILER_LEN));
	check(fixed, size);
	free(fixed);
	return 0;
}
