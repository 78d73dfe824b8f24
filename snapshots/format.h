/* The snapshot state ("vmstate") file: a header, named and versioned
 * sections, a CRC-64 trailer. Layout and rules in docs/snapshots.md.
 *
 * Writing: components append sections to an in-memory snap_writer, which
 * snap_writer_save() puts on disk atomically. Reading: snap_read_file()
 * (or snap_parse() on a buffer) validates the whole file before anyone
 * looks at it; components then decode their payload with a snap_cursor,
 * which never reads past the end of a section however hostile the file. */
#ifndef EMBER_SNAP_FORMAT_H
#define EMBER_SNAP_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/base/err.h"

#define SNAP_MAGIC "EMBERSNP" /* 8 bytes, no NUL in the file */
#define SNAP_MAGIC_LEN 8
#define SNAP_FORMAT_VERSION 1u
#define SNAP_ARCH_X86_64 1u

#define SNAP_HEADER_LEN 32u         /* magic, 4 x u32, u64 body_len */
#define SNAP_SECTION_HEADER_LEN 8u  /* u16 name_len, u16 version, u32 payload_len */
#define SNAP_TRAILER_LEN 8u         /* u64 CRC-64 of everything before it */
#define SNAP_ALIGN 8u               /* sections start on 8-byte boundaries */

#define SNAP_MAX_FILE (64u << 20)
#define SNAP_MAX_PAYLOAD (16u << 20)
#define SNAP_MAX_SECTIONS 4096u
#define SNAP_NAME_MAX 63u

/* ---- Writing ---- */

/* The file is built in memory (it is bounded by SNAP_MAX_FILE). The first
 * error is sticky: every later call returns it and the save fails with its
 * message, so a component may make many put calls and check once. */
struct snap_writer {
	uint8_t *buf;         /* header room, then the body */
	size_t len, cap;      /* bytes used / allocated in buf */
	uint32_t *sections;   /* offset in buf of each section's header */
	uint32_t nr_sections, sections_cap;
	size_t open;          /* offset of the open section, 0 if none */
	int error;            /* first error (negative errno), 0 if none */
	struct errbuf err;    /* its message */
};

void snap_writer_init(struct snap_writer *w);
void snap_writer_free(struct snap_writer *w);

/* A whole section in one call. name: 1..SNAP_NAME_MAX printable ASCII,
 * unique in the file (-EINVAL, -EEXIST); len <= SNAP_MAX_PAYLOAD (-EFBIG). */
int snap_put_section(struct snap_writer *w, const char *name, uint16_t version,
		     const void *data, size_t len);

/* A section built from pieces: begin, any number of puts (little-endian),
 * end. Only one section is open at a time (-EINVAL otherwise). */
int snap_begin_section(struct snap_writer *w, const char *name, uint16_t version);
int snap_put_u8(struct snap_writer *w, uint8_t v);
int snap_put_u16(struct snap_writer *w, uint16_t v);
int snap_put_u32(struct snap_writer *w, uint32_t v);
int snap_put_u64(struct snap_writer *w, uint64_t v);
int snap_put_bytes(struct snap_writer *w, const void *data, size_t len);
int snap_end_section(struct snap_writer *w);

/* The finished file's bytes (header, sections, trailer), owned by the
 * writer and valid until its next change. Fails on a sticky error or an
 * open section, with the message in err. */
int snap_writer_image(struct snap_writer *w, const uint8_t **data, size_t *len,
		      struct errbuf *err);

/* Writes the image to "path.tmp" (mode 0600), fsyncs it, renames it over
 * path and fsyncs the directory: path holds either its old content or the
 * whole new file, never a part. Messages name the path. */
int snap_writer_save(struct snap_writer *w, const char *path, struct errbuf *err);

/* ---- Reading ---- */

struct snap_section {
	char name[SNAP_NAME_MAX + 1]; /* NUL-terminated copy */
	uint16_t version;
	uint32_t len;
	const uint8_t *data;          /* points into the file's bytes */
};

struct snap_file {
	uint8_t *owned;                 /* the buffer snap_read_file() read, or NULL */
	uint32_t format_version, arch;
	uint32_t nr_sections;
	struct snap_section *sections;  /* file order */
	uint32_t *by_name;              /* indexes into sections, sorted by name */
};

/* Validates the whole of buf (header, checksum, every section) and indexes
 * it. snap borrows buf: keep it alive and unchanged until snap_free().
 * -EBADMSG (or -ENOMEM) with a message that does not name any file. */
int snap_parse(const void *buf, size_t len, struct snap_file *snap, struct errbuf *err);

/* Reads path (at most SNAP_MAX_FILE bytes, checked before allocating) and
 * parses it. Messages name the path. */
int snap_read_file(const char *path, struct snap_file *snap, struct errbuf *err);

/* Reads only the header's format version (any version, so a tool can say
 * which one a file has). -EBADMSG if it is not an Ember snapshot file. */
int snap_peek_version(const char *path, uint32_t *version, struct errbuf *err);

/* Finds a section by name: 0, or -ENOENT. Out-pointers may be NULL. */
int snap_section(const struct snap_file *snap, const char *name, uint16_t *version,
		 const uint8_t **data, size_t *len);

/* The i-th section in file order, NULL past the end. */
const struct snap_section *snap_section_at(const struct snap_file *snap, uint32_t i);

void snap_free(struct snap_file *snap);

/* ---- Decoding a payload ---- */

/* Reads stop at the end: an overrun returns -EBADMSG, stores zero in the
 * output, and makes every later read fail too, so a decoder may check
 * once, at snap_cursor_end(). */
struct snap_cursor {
	const uint8_t *data;
	size_t len, pos;
	int error;
};

void snap_cursor_init(struct snap_cursor *c, const void *data, size_t len);
int snap_get_u8(struct snap_cursor *c, uint8_t *v);
int snap_get_u16(struct snap_cursor *c, uint16_t *v);
int snap_get_u32(struct snap_cursor *c, uint32_t *v);
int snap_get_u64(struct snap_cursor *c, uint64_t *v);
/* out must hold len bytes; they are zeroed if the payload has fewer. */
int snap_get_bytes(struct snap_cursor *c, void *out, size_t len);
/* Bytes not read yet (0 after an overrun): bound a count read from the
 * payload with it before allocating for it. */
size_t snap_cursor_left(const struct snap_cursor *c);
/* 0 if every byte was read and no read failed, else -EBADMSG: a payload
 * longer than its decoder expects is as wrong as a short one. */
int snap_cursor_end(const struct snap_cursor *c);

#endif
