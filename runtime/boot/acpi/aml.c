/* AML encoding, byte for byte as ACPI 6.3 chapter 20 gives the grammar;
 * resource descriptors as its section 6.4. */
#include "runtime/boot/acpi/aml.h"

#include <errno.h>
#include <string.h>

#define AML_ZERO_OP 0x00
#define AML_ONE_OP 0x01
#define AML_NAME_OP 0x08
#define AML_BYTE_PREFIX 0x0a
#define AML_WORD_PREFIX 0x0b
#define AML_DWORD_PREFIX 0x0c
#define AML_STRING_PREFIX 0x0d
#define AML_QWORD_PREFIX 0x0e
#define AML_SCOPE_OP 0x10
#define AML_BUFFER_OP 0x11
#define AML_PACKAGE_OP 0x12
#define AML_METHOD_OP 0x14
#define AML_DUAL_NAME_PREFIX 0x2e
#define AML_MULTI_NAME_PREFIX 0x2f
#define AML_EXT_OP_PREFIX 0x5b
#define AML_DEVICE_OP 0x82 /* after AML_EXT_OP_PREFIX */
#define AML_ROOT_CHAR 0x5c
#define AML_RETURN_OP 0xa4
#define AML_ONES_OP 0xff
#define AML_MAX_SEGS 255 /* MultiNamePath's SegCount is a byte */

/* Resource descriptor tags (6.4.2 small, 6.4.3 large). */
#define RES_IRQ_NOFLAGS 0x22   /* small item 0x4, length 2 */
#define RES_IO 0x47            /* small item 0x8, length 7 */
#define RES_END_TAG 0x79       /* small item 0xF, length 1 */
#define RES_MEM32_FIXED 0x86
#define RES_EXT_IRQ 0x89

static void aml_fail(struct aml *a, int err)
{
	if (!a->err)
		a->err = err;
}

void aml_init(struct aml *a, uint8_t *buf, size_t cap)
{
	memset(a, 0, sizeof(*a));
	a->buf = buf;
	a->cap = cap;
}

long aml_finish(const struct aml *a)
{
	if (a->err)
		return a->err;
	if (a->depth)
		return -EINVAL;
	return (long)a->len;
}

void aml_bytes(struct aml *a, const void *p, size_t n)
{
	if (a->err)
		return;
	if (n > a->cap - a->len) {
		aml_fail(a, -ENOSPC);
		return;
	}
	memcpy(a->buf + a->len, p, n);
	a->len += n;
}

static void aml_byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

/* Inserts n bytes at pos, moving what follows. */
static void aml_insert(struct aml *a, size_t pos, const uint8_t *p, size_t n)
{
	if (a->err)
		return;
	if (pos > a->len || n > a->cap - a->len) {
		aml_fail(a, -ENOSPC);
		return;
	}
	memmove(a->buf + pos + n, a->buf + pos, a->len - pos);
	memcpy(a->buf + pos, p, n);
	a->len += n;
}

unsigned aml_pkglen_encode(size_t body_len, uint8_t out[4])
{
	/* 20.2.4: one byte holds up to 63 in bits 0-5; else bits 6-7 count
	 * the bytes that follow, bits 0-3 hold the low nibble and each
	 * following byte the next eight bits. The length includes itself. */
	if (body_len + 1 <= 0x3f) {
		out[0] = (uint8_t)(body_len + 1);
		return 1;
	}
	for (unsigned n = 2; n <= 4; n++) {
		size_t total = body_len + n;
		if (total >> (4 + 8 * (n - 1)))
			continue;
		out[0] = (uint8_t)(((n - 1) << 6) | (total & 0x0f));
		for (unsigned i = 1; i < n; i++)
			out[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
		return n;
	}
	return 0;
}

static bool seg_char(char c, bool first)
{
	return (c >= 'A' && c <= 'Z') || c == '_' || (!first && c >= '0' && c <= '9');
}

void aml_namestring(struct aml *a, const char *name)
{
	uint8_t segs[AML_MAX_SEGS][4];
	unsigned nsegs = 0;
	const char *p = name;

	if (!p) {
		aml_fail(a, -EINVAL);
		return;
	}
	bool root = *p == '\\';
	if (root)
		p++;
	for (;;) {
		size_t n = 0;
		if (nsegs == AML_MAX_SEGS) {
			aml_fail(a, -EINVAL);
			return;
		}
		while (p[n] && p[n] != '.')
			n++;
		if (n < 1 || n > 4) {
			aml_fail(a, -EINVAL);
			return;
		}
		for (size_t i = 0; i < 4; i++) {
			char c = i < n ? p[i] : '_';
			if (!seg_char(c, i == 0)) {
				aml_fail(a, -EINVAL);
				return;
			}
			segs[nsegs][i] = (uint8_t)c;
		}
		nsegs++;
		p += n;
		if (!*p)
			break;
		p++; /* the dot */
	}
	if (root)
		aml_byte(a, AML_ROOT_CHAR);
	if (nsegs == 2) {
		aml_byte(a, AML_DUAL_NAME_PREFIX);
	} else if (nsegs > 2) {
		aml_byte(a, AML_MULTI_NAME_PREFIX);
		aml_byte(a, (uint8_t)nsegs);
	}
	aml_bytes(a, segs, 4 * (size_t)nsegs);
}

static void aml_le(struct aml *a, uint64_t v, unsigned n)
{
	uint8_t b[8];
	for (unsigned i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	aml_bytes(a, b, n);
}

void aml_integer(struct aml *a, uint64_t v)
{
	if (v == 0) {
		aml_byte(a, AML_ZERO_OP);
	} else if (v == 1) {
		aml_byte(a, AML_ONE_OP);
	} else if (v == UINT64_MAX) {
		aml_byte(a, AML_ONES_OP);
	} else if (v <= 0xff) {
		aml_byte(a, AML_BYTE_PREFIX);
		aml_le(a, v, 1);
	} else if (v <= 0xffff) {
		aml_byte(a, AML_WORD_PREFIX);
		aml_le(a, v, 2);
	} else if (v <= 0xffffffffu) {
		aml_byte(a, AML_DWORD_PREFIX);
		aml_le(a, v, 4);
	} else {
		aml_byte(a, AML_QWORD_PREFIX);
		aml_le(a, v, 8);
	}
}

void aml_string(struct aml *a, const char *s)
{
	if (!s) {
		aml_fail(a, -EINVAL);
		return;
	}
	size_t n = strnlen(s, a->cap + 1);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] > 0x7f) {
			aml_fail(a, -EINVAL);
			return;
		}
	aml_byte(a, AML_STRING_PREFIX);
	aml_bytes(a, s, n);
	aml_byte(a, 0);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool aml_is_eisaid(const char *id)
{
	if (!id || strnlen(id, 8) != 7)
		return false;
	for (int i = 0; i < 3; i++)
		if (id[i] < 'A' || id[i] > 'Z')
			return false;
	for (int i = 3; i < 7; i++)
		if (hexval(id[i]) < 0)
			return false;
	return true;
}

void aml_eisaid(struct aml *a, const char *id)
{
	if (!aml_is_eisaid(id)) {
		aml_fail(a, -EINVAL);
		return;
	}
	/* Three letters compressed to five bits each ('A' = 1), then the
	 * product number; stored as a big-endian 32-bit value. */
	uint32_t v = (uint32_t)(id[0] - '@') << 26 | (uint32_t)(id[1] - '@') << 21 |
		     (uint32_t)(id[2] - '@') << 16 | (uint32_t)hexval(id[3]) << 12 |
		     (uint32_t)hexval(id[4]) << 8 | (uint32_t)hexval(id[5]) << 4 |
		     (uint32_t)hexval(id[6]);
	uint32_t swapped = (v >> 24) | ((v >> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24);
	aml_integer(a, swapped);
}

void aml_name(struct aml *a, const char *name)
{
	aml_byte(a, AML_NAME_OP);
	aml_namestring(a, name);
}

void aml_buffer(struct aml *a, const void *p, size_t n)
{
	uint8_t pkg[4];
	struct aml size;
	uint8_t sizebuf[9];

	aml_init(&size, sizebuf, sizeof(sizebuf));
	aml_integer(&size, n);
	unsigned k = aml_pkglen_encode(size.len + n, pkg);
	if (!k) {
		aml_fail(a, -E2BIG);
		return;
	}
	aml_byte(a, AML_BUFFER_OP);
	aml_bytes(a, pkg, k);
	aml_bytes(a, sizebuf, size.len);
	aml_bytes(a, p, n);
}

static void aml_open(struct aml *a, bool restemplate)
{
	if (a->err)
		return;
	if (a->depth == AML_MAX_DEPTH) {
		aml_fail(a, -EINVAL);
		return;
	}
	a->is_restemplate[a->depth] = restemplate;
	a->open[a->depth++] = a->len;
}

void aml_scope(struct aml *a, const char *name)
{
	aml_byte(a, AML_SCOPE_OP);
	aml_open(a, false);
	aml_namestring(a, name);
}

void aml_device(struct aml *a, const char *name)
{
	aml_byte(a, AML_EXT_OP_PREFIX);
	aml_byte(a, AML_DEVICE_OP);
	aml_open(a, false);
	aml_namestring(a, name);
}

void aml_method(struct aml *a, const char *name, unsigned nargs, bool serialized)
{
	if (nargs > 7) {
		aml_fail(a, -EINVAL);
		return;
	}
	aml_byte(a, AML_METHOD_OP);
	aml_open(a, false);
	aml_namestring(a, name);
	aml_byte(a, (uint8_t)(nargs | (serialized ? 0x08 : 0)));
}

void aml_package(struct aml *a, unsigned nelems)
{
	if (nelems > 0xff) {
		aml_fail(a, -EINVAL);
		return;
	}
	aml_byte(a, AML_PACKAGE_OP);
	aml_open(a, false);
	aml_byte(a, (uint8_t)nelems);
}

void aml_restemplate(struct aml *a)
{
	aml_byte(a, AML_BUFFER_OP);
	aml_open(a, true);
}

void aml_end(struct aml *a)
{
	uint8_t pkg[4];

	if (a->err)
		return;
	if (!a->depth) {
		aml_fail(a, -EINVAL);
		return;
	}
	size_t pos = a->open[--a->depth];
	if (a->is_restemplate[a->depth]) {
		/* 6.4.2.9: the checksum makes the descriptors and the End
		 * Tag sum to zero. Then the BufferSize goes in front. */
		uint8_t sum = RES_END_TAG;
		for (size_t i = pos; i < a->len; i++)
			sum = (uint8_t)(sum + a->buf[i]);
		uint8_t end[2] = { RES_END_TAG, (uint8_t)-sum };
		aml_bytes(a, end, sizeof(end));
		struct aml size;
		uint8_t sizebuf[9];
		aml_init(&size, sizebuf, sizeof(sizebuf));
		aml_integer(&size, a->len - pos);
		aml_insert(a, pos, sizebuf, size.len);
		if (a->err)
			return;
	}
	unsigned k = aml_pkglen_encode(a->len - pos, pkg);
	if (!k || a->len - pos > AML_PKGLEN_MAX) {
		aml_fail(a, -E2BIG);
		return;
	}
	aml_insert(a, pos, pkg, k);
}

void aml_return_integer(struct aml *a, uint64_t v)
{
	aml_byte(a, AML_RETURN_OP);
	aml_integer(a, v);
}

void aml_res_io(struct aml *a, uint16_t base, uint8_t align, uint8_t len)
{
	uint8_t d[8] = { RES_IO, 0x01 /* 16-bit decode */, (uint8_t)base, (uint8_t)(base >> 8),
			 (uint8_t)base, (uint8_t)(base >> 8), align, len };
	aml_bytes(a, d, sizeof(d));
}

void aml_res_irq_noflags(struct aml *a, unsigned irq)
{
	if (irq > 15) {
		aml_fail(a, -EINVAL);
		return;
	}
	uint16_t mask = (uint16_t)(1u << irq);
	uint8_t d[3] = { RES_IRQ_NOFLAGS, (uint8_t)mask, (uint8_t)(mask >> 8) };
	aml_bytes(a, d, sizeof(d));
}

void aml_res_mem32_fixed(struct aml *a, uint32_t base, uint32_t len)
{
	uint8_t d[12] = { RES_MEM32_FIXED, 9, 0, 0x01 /* read/write */ };
	for (int i = 0; i < 4; i++) {
		d[4 + i] = (uint8_t)(base >> (8 * i));
		d[8 + i] = (uint8_t)(len >> (8 * i));
	}
	aml_bytes(a, d, sizeof(d));
}

void aml_res_interrupt(struct aml *a, uint32_t gsi, bool level, bool active_low)
{
	/* Flags: bit 0 consumer, bit 1 edge, bit 2 active low, bit 3 shared. */
	uint8_t flags = (uint8_t)(0x01 | (level ? 0 : 0x02) | (active_low ? 0x04 : 0));
	uint8_t d[9] = { RES_EXT_IRQ, 6, 0, flags, 1 /* one interrupt */ };
	for (int i = 0; i < 4; i++)
		d[5 + i] = (uint8_t)(gsi >> (8 * i));
	aml_bytes(a, d, sizeof(d));
}
