/* A small AML encoder (ACPI 6.3, chapter 20, "ACPI Machine Language
 * Specification") for the DSDT Ember writes: names, integers in their
 * shortest form, strings, buffers, packages, Scope/Device/Method with
 * PkgLength, and resource templates. Pure: it writes into a caller's
 * bounded buffer and never allocates. A write past the end, a bad name or
 * unbalanced nesting marks the encoder failed; aml_finish reports it, so
 * callers check once at the end. */
#ifndef EMBER_BOOT_ACPI_AML_H
#define EMBER_BOOT_ACPI_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AML_MAX_DEPTH 8 /* open Scope/Device/Method/Package/Buffer at once */
/* PkgLength covers at most 2^28 - 1 bytes (four bytes of encoding). */
#define AML_PKGLEN_MAX 0x0fffffffu

struct aml {
	uint8_t *buf;
	size_t cap, len;
	int err; /* 0, or the first error: -ENOSPC, -EINVAL, -E2BIG */
	unsigned depth;
	size_t open[AML_MAX_DEPTH]; /* where each open PkgLength goes */
	bool is_restemplate[AML_MAX_DEPTH];
};

void aml_init(struct aml *a, uint8_t *buf, size_t cap);
/* Bytes written, or the first error (an open construct is -EINVAL). */
long aml_finish(const struct aml *a);

/* Bytes of the PkgLength encoding for a body of body_len bytes (the
 * encoding counts itself): 1..4, or 0 if too long. Writes it to out[4]. */
unsigned aml_pkglen_encode(size_t body_len, uint8_t out[4]);

void aml_bytes(struct aml *a, const void *p, size_t n);
/* NameString: an optional leading '\' then dot-separated segments of 1..4
 * characters (A-Z, 0-9, _; not starting with a digit), each padded with
 * '_'. One segment as NameSeg, two as DualNamePath, more as MultiNamePath. */
void aml_namestring(struct aml *a, const char *name);
/* Integer in its shortest form: ZeroOp, OneOp, OnesOp (all 64 bits set),
 * BytePrefix, WordPrefix, DWordPrefix or QWordPrefix. */
void aml_integer(struct aml *a, uint64_t v);
/* String: printable ASCII (0x01..0x7f), NUL-terminated. */
void aml_string(struct aml *a, const char *s);
/* EISA id "PNP0501" (three capitals, four hex digits) as its DWord. */
void aml_eisaid(struct aml *a, const char *id);
/* True if id has EISA form, false if it must be a string (e.g. LNRO0005). */
bool aml_is_eisaid(const char *id);
/* Name (name, ...): the data object follows (integer, string, buffer...). */
void aml_name(struct aml *a, const char *name);
/* Buffer with these bytes. */
void aml_buffer(struct aml *a, const void *p, size_t n);

/* Open constructs, each closed by aml_end (innermost first). */
void aml_scope(struct aml *a, const char *name);
void aml_device(struct aml *a, const char *name);
/* nargs 0..7; serialized sets the SerializeFlag. */
void aml_method(struct aml *a, const char *name, unsigned nargs, bool serialized);
/* Package of nelems elements (<= 255), written by the caller before aml_end. */
void aml_package(struct aml *a, unsigned nelems);
/* ResourceTemplate(): a Buffer whose bytes are resource descriptors; its
 * aml_end appends the EndTag with the checksum and fixes the BufferSize. */
void aml_restemplate(struct aml *a);
void aml_end(struct aml *a);
/* Return (integer). */
void aml_return_integer(struct aml *a, uint64_t v);

/* Resource descriptors (ACPI 6.3, 6.4), inside aml_restemplate. */
/* IO (Decode16, base, base, align, len): a fixed 16-bit decoded range. */
void aml_res_io(struct aml *a, uint16_t base, uint8_t align, uint8_t len);
/* IRQNoFlags () {irq}: an ISA IRQ (0..15), edge, active high, exclusive. */
void aml_res_irq_noflags(struct aml *a, unsigned irq);
/* Memory32Fixed (ReadWrite, base, len). */
void aml_res_mem32_fixed(struct aml *a, uint32_t base, uint32_t len);
/* Interrupt (ResourceConsumer, Edge|Level, ActiveHigh|ActiveLow, Exclusive) {gsi}. */
void aml_res_interrupt(struct aml *a, uint32_t gsi, bool level, bool active_low);

#endif
