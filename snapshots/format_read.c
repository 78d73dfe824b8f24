/* Reading a snapshot state file: everything is validated before anything
 * is handed out, and every length is bounded before it is used, because
 * the file may come from anywhere. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "snapshots/crc64.h"
#include "snapshots/format.h"
#include "snapshots/le.h"

/* The smallest section: its header and a one-byte name, padded. */
#define SNAP_MIN_SECTION 16u

static int check_header(const uint8_t *b, size_t len, struct errbuf *err)
{
	if (len < SNAP_MAGIC_LEN || memcmp(b, SNAP_MAGIC, SNAP_MAGIC_LEN))
		return err_set(err, -EBADMSG, "not an Ember snapshot file");
	if (len < SNAP_HEADER_LEN + SNAP_TRAILER_LEN)
		return err_set(err, -EBADMSG, "truncated: %zu bytes, less than a header and trailer (%u)",
			       len, SNAP_HEADER_LEN + SNAP_TRAILER_LEN);
	uint32_t version = le32_load(b + 8), arch = le32_load(b + 12);
	if (version != SNAP_FORMAT_VERSION)
		return err_set(err, -EBADMSG, "snapshot format version %u; this Ember reads %u",
			       version, SNAP_FORMAT_VERSION);
	if (arch != SNAP_ARCH_X86_64)
		return err_set(err, -EBADMSG, "snapshot for architecture %u; this Ember runs x86_64 (%u)",
			       arch, SNAP_ARCH_X86_64);
	if (le32_load(b + 20) != 0)
		return err_set(err, -EBADMSG, "reserved header field is 0x%x, not 0", le32_load(b + 20));
	if (len > SNAP_MAX_FILE)
		return err_set(err, -EBADMSG, "%zu bytes, over the %u MiB cap for a snapshot file",
			       len, SNAP_MAX_FILE >> 20);
	uint64_t body = le64_load(b + 24);
	size_t have = len - SNAP_HEADER_LEN - SNAP_TRAILER_LEN;
	if (body > have)
		return err_set(err, -EBADMSG, "truncated: the header promises %llu bytes of sections, the file holds %zu",
			       (unsigned long long)body, have);
	if (body < have)
		return err_set(err, -EBADMSG, "%zu bytes after the %llu bytes of sections the header promises",
			       have - (size_t)body, (unsigned long long)body);
	uint64_t stored = le64_load(b + len - SNAP_TRAILER_LEN);
	uint64_t computed = crc64(b, len - SNAP_TRAILER_LEN);
	if (stored != computed)
		return err_set(err, -EBADMSG, "checksum mismatch: the file is corrupt (stored %016llx, computed %016llx)",
			       (unsigned long long)stored, (unsigned long long)computed);
	uint32_t nr = le32_load(b + 16);
	if (nr > SNAP_MAX_SECTIONS)
		return err_set(err, -EBADMSG, "%u sections, over the cap of %u", nr, SNAP_MAX_SECTIONS);
	/* Before the index is allocated: a count the body cannot hold is a lie. */
	if ((uint64_t)nr * SNAP_MIN_SECTION > body)
		return err_set(err, -EBADMSG, "%u sections cannot fit in %llu bytes", nr,
			       (unsigned long long)body);
	return 0;
}

static bool name_ok(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] > 0x7e)
			return false;
	return true;
}

/* Decodes the section at b[off..end) into s; returns its padded size. */
static int parse_section(const uint8_t *b, size_t off, size_t end, uint32_t i,
			 struct snap_section *s, size_t *size, struct errbuf *err)
{
	size_t left = end - off;
	if (left < SNAP_SECTION_HEADER_LEN)
		return err_set(err, -EBADMSG, "section %u: its header at offset %zu runs past the end", i, off);
	const uint8_t *h = b + off;
	uint16_t nlen = le16_load(h);
	uint32_t plen = le32_load(h + 4);
	if (nlen == 0 || nlen > SNAP_NAME_MAX)
		return err_set(err, -EBADMSG, "section %u at offset %zu: name length %u, want 1..%u",
			       i, off, nlen, SNAP_NAME_MAX);
	left -= SNAP_SECTION_HEADER_LEN;
	if (nlen > left)
		return err_set(err, -EBADMSG, "section %u at offset %zu: its name runs past the end", i, off);
	const uint8_t *name = h + SNAP_SECTION_HEADER_LEN;
	if (!name_ok(name, nlen))
		return err_set(err, -EBADMSG, "section %u at offset %zu: name is not printable ASCII", i, off);
	memcpy(s->name, name, nlen);
	s->name[nlen] = 0;
	left -= nlen;
	if (plen > SNAP_MAX_PAYLOAD)
		return err_set(err, -EBADMSG, "section \"%s\": payload of %u bytes, over the %u MiB cap",
			       s->name, plen, SNAP_MAX_PAYLOAD >> 20);
	if (plen > left)
		return err_set(err, -EBADMSG, "section \"%s\": payload of %u bytes runs past the end (%zu left)",
			       s->name, plen, left);
	size_t used = SNAP_SECTION_HEADER_LEN + nlen + plen;
	size_t pad = (SNAP_ALIGN - used % SNAP_ALIGN) % SNAP_ALIGN;
	if (pad > left - plen)
		return err_set(err, -EBADMSG, "section \"%s\": its padding runs past the end", s->name);
	for (size_t k = 0; k < pad; k++)
		if (h[used + k])
			return err_set(err, -EBADMSG, "section \"%s\": non-zero padding", s->name);
	s->version = le16_load(h + 2);
	s->len = plen;
	s->data = name + nlen;
	*size = used + pad;
	return 0;
}

static int by_name_cmp(const void *a, const void *b, void *ctx)
{
	const struct snap_section *s = ctx;
	return strcmp(s[*(const uint32_t *)a].name, s[*(const uint32_t *)b].name);
}

int snap_parse(const void *buf, size_t len, struct snap_file *snap, struct errbuf *err)
{
	memset(snap, 0, sizeof(*snap));
	const uint8_t *b = buf;
	int r = check_header(b, len, err);
	if (r < 0)
		return r;
	uint32_t nr = le32_load(b + 16);
	snap->format_version = le32_load(b + 8);
	snap->arch = le32_load(b + 12);
	if (nr) {
		snap->sections = calloc(nr, sizeof(*snap->sections));
		snap->by_name = calloc(nr, sizeof(*snap->by_name));
		if (!snap->sections || !snap->by_name) {
			snap_free(snap);
			return err_set(err, -ENOMEM, "out of memory for %u sections", nr);
		}
	}
	snap->nr_sections = nr;
	size_t off = SNAP_HEADER_LEN, end = len - SNAP_TRAILER_LEN;
	for (uint32_t i = 0; i < nr; i++) {
		size_t size = 0;
		r = parse_section(b, off, end, i, &snap->sections[i], &size, err);
		if (r < 0)
			goto fail;
		snap->by_name[i] = i;
		off += size;
	}
	if (off != end) {
		r = err_set(err, -EBADMSG, "%zu bytes after the last of %u sections", end - off, nr);
		goto fail;
	}
	if (nr)
		qsort_r(snap->by_name, nr, sizeof(*snap->by_name), by_name_cmp, snap->sections);
	for (uint32_t i = 1; i < nr; i++) {
		const char *name = snap->sections[snap->by_name[i]].name;
		if (!strcmp(snap->sections[snap->by_name[i - 1]].name, name)) {
			r = err_set(err, -EBADMSG, "section \"%s\" appears twice", name);
			goto fail;
		}
	}
	return 0;
fail:
	snap_free(snap);
	return r;
}

static int read_full(int fd, uint8_t *p, size_t len)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = pread(fd, p + done, len - done, (off_t)done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -ENODATA; /* it shrank since fstat */
		done += (size_t)n;
	}
	return 0;
}

int snap_read_file(const char *path, struct snap_file *snap, struct errbuf *err)
{
	memset(snap, 0, sizeof(*snap));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, -errno, "%s: %s", path, strerror(errno));
	struct stat st;
	int r = 0;
	if (fstat(fd, &st) < 0)
		r = err_set(err, -errno, "%s: %s", path, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		r = err_set(err, -EINVAL, "%s: not a regular file", path);
	else if (st.st_size > (off_t)SNAP_MAX_FILE)
		r = err_set(err, -EFBIG, "%s: %lld bytes, over the %u MiB cap for a snapshot file",
			    path, (long long)st.st_size, SNAP_MAX_FILE >> 20);
	if (r < 0) {
		close(fd);
		return r;
	}
	size_t len = (size_t)st.st_size;
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf) {
		close(fd);
		return err_set(err, -ENOMEM, "%s: out of memory for %zu bytes", path, len);
	}
	r = read_full(fd, buf, len);
	close(fd);
	if (r < 0) {
		free(buf);
		return err_set(err, r == -ENODATA ? -EIO : r, "%s: %s", path,
			       r == -ENODATA ? "file shrank while being read" : strerror(-r));
	}
	r = snap_parse(buf, len, snap, err);
	if (r < 0) {
		free(buf);
		return err_wrap(err, r, "%s", path);
	}
	snap->owned = buf;
	return 0;
}

int snap_peek_version(const char *path, uint32_t *version, struct errbuf *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, -errno, "%s: %s", path, strerror(errno));
	uint8_t h[12];
	ssize_t n;
	do
		n = pread(fd, h, sizeof(h), 0);
	while (n < 0 && errno == EINTR);
	int r = n < 0 ? -errno : 0;
	close(fd);
	if (r < 0)
		return err_set(err, r, "%s: %s", path, strerror(-r));
	if ((size_t)n < sizeof(h) || memcmp(h, SNAP_MAGIC, SNAP_MAGIC_LEN))
		return err_set(err, -EBADMSG, "%s: not an Ember snapshot file", path);
	*version = le32_load(h + 8);
	return 0;
}

int snap_section(const struct snap_file *snap, const char *name, uint16_t *version,
		 const uint8_t **data, size_t *len)
{
	uint32_t lo = 0, hi = snap->nr_sections;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct snap_section *s = &snap->sections[snap->by_name[mid]];
		int c = strcmp(name, s->name);
		if (c == 0) {
			if (version)
				*version = s->version;
			if (data)
				*data = s->data;
			if (len)
				*len = s->len;
			return 0;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -ENOENT;
}

const struct snap_section *snap_section_at(const struct snap_file *snap, uint32_t i)
{
	return i < snap->nr_sections ? &snap->sections[i] : NULL;
}

void snap_free(struct snap_file *snap)
{
	free(snap->owned);
	free(snap->sections);
	free(snap->by_name);
	memset(snap, 0, sizeof(*snap));
}
