/* The AML encoder, byte for byte against ACPI 6.3 chapter 20 and the
 * resource descriptors of section 6.4. Expected bytes are worked out by
 * hand from the grammar; iasl compiles the same but for two choices it
 * makes: it drops the root prefix of \_SB in a root scope and leaves the
 * End Tag checksum 0 ("treated as valid"), where we compute it. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/boot/acpi/aml.h"

static uint8_t buf[4096];
static struct aml a;

static void setup(void)
{
	memset(buf, 0xaa, sizeof(buf));
	aml_init(&a, buf, sizeof(buf));
}

TestSuite(acpi_aml, .init = setup);

#define EXPECT(...)                                                                  \
	do {                                                                         \
		const uint8_t want_[] = { __VA_ARGS__ };                             \
		long n_ = aml_finish(&a);                                            \
		cr_assert_eq(n_, (long)sizeof(want_), "length %ld, want %zu", n_,    \
			     sizeof(want_));                                         \
		for (size_t i_ = 0; i_ < sizeof(want_); i_++)                        \
			cr_assert_eq(buf[i_], want_[i_], "byte %zu: 0x%02x, want 0x%02x", \
				     i_, buf[i_], want_[i_]);                        \
	} while (0)

Test(acpi_aml, pkglen_boundaries)
{
	uint8_t o[4];
	cr_assert_eq(aml_pkglen_encode(0, o), 1);
	cr_assert_eq(o[0], 0x01);
	cr_assert_eq(aml_pkglen_encode(62, o), 1);
	cr_assert_eq(o[0], 0x3f);
	/* 63 + 2 = 65 = 0x41: lead byte 0x40 | 1, then 0x04. */
	cr_assert_eq(aml_pkglen_encode(63, o), 2);
	cr_assert_eq(o[0], 0x41);
	cr_assert_eq(o[1], 0x04);
	cr_assert_eq(aml_pkglen_encode(0xffd, o), 2); /* 0xfff */
	cr_assert_eq(o[0], 0x4f);
	cr_assert_eq(o[1], 0xff);
	cr_assert_eq(aml_pkglen_encode(0xffe, o), 3); /* 0x1001 */
	cr_assert_eq(o[0], 0x81);
	cr_assert_eq(o[1], 0x00);
	cr_assert_eq(o[2], 0x01);
	cr_assert_eq(aml_pkglen_encode(0xffffc, o), 3); /* 0xfffff */
	cr_assert_eq(o[0], 0x8f);
	cr_assert_eq(o[1], 0xff);
	cr_assert_eq(o[2], 0xff);
	cr_assert_eq(aml_pkglen_encode(0xffffd, o), 4); /* 0x100001 */
	cr_assert_eq(o[0], 0xc1);
	cr_assert_eq(aml_pkglen_encode(0xffffe, o), 4); /* 0x100002 */
	cr_assert_eq(o[0], 0xc2);
	cr_assert_eq(o[1], 0x00);
	cr_assert_eq(o[2], 0x00);
	cr_assert_eq(o[3], 0x01);
	cr_assert_eq(aml_pkglen_encode(0x0ffffffb, o), 4); /* 0x0fffffff */
	cr_assert_eq(o[0], 0xcf);
	cr_assert_eq(o[3], 0xff);
	cr_assert_eq(aml_pkglen_encode(0x0ffffffc, o), 0, "past 2^28 - 1");
}

Test(acpi_aml, integers_take_the_shortest_form)
{
	aml_integer(&a, 0);
	aml_integer(&a, 1);
	aml_integer(&a, 2);
	aml_integer(&a, 0xff);
	aml_integer(&a, 0x100);
	aml_integer(&a, 0xffff);
	aml_integer(&a, 0x10000);
	aml_integer(&a, 0xffffffff);
	aml_integer(&a, 0x100000000ULL);
	aml_integer(&a, UINT64_MAX);
	aml_integer(&a, UINT64_MAX - 1);
	EXPECT(0x00, 0x01, 0x0a, 0x02, 0x0a, 0xff, 0x0b, 0x00, 0x01, 0x0b, 0xff, 0xff,
	       0x0c, 0x00, 0x00, 0x01, 0x00, 0x0c, 0xff, 0xff, 0xff, 0xff,
	       0x0e, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0xff,
	       0x0e, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
}

Test(acpi_aml, strings_and_eisaid)
{
	aml_string(&a, "LNRO0005");
	aml_string(&a, "");
	aml_eisaid(&a, "PNP0501"); /* iasl: EisaId ("PNP0501") = 0x0105D041 */
	aml_eisaid(&a, "PNP0B00");
	EXPECT(0x0d, 'L', 'N', 'R', 'O', '0', '0', '0', '5', 0x00, 0x0d, 0x00,
	       0x0c, 0x41, 0xd0, 0x05, 0x01, 0x0c, 0x41, 0xd0, 0x0b, 0x00);
	cr_assert(aml_is_eisaid("PNP0303"));
	cr_assert_not(aml_is_eisaid("LNRO0005"));
	cr_assert_not(aml_is_eisaid("QEMU0001"));
	cr_assert_not(aml_is_eisaid("pnp0501"));
	cr_assert_not(aml_is_eisaid("PNP050G"));
	cr_assert_not(aml_is_eisaid(NULL));
}

Test(acpi_aml, bad_string_and_eisaid_fail)
{
	aml_string(&a, "caf\xc3\xa9");
	cr_assert_eq(aml_finish(&a), -EINVAL);
	aml_init(&a, buf, sizeof(buf));
	aml_eisaid(&a, "LNRO0005");
	cr_assert_eq(aml_finish(&a), -EINVAL);
}

Test(acpi_aml, namestrings)
{
	aml_namestring(&a, "_SB");
	aml_namestring(&a, "\\_SB");
	aml_namestring(&a, "\\_SB.COM1");
	aml_namestring(&a, "A.B.C");
	EXPECT('_', 'S', 'B', '_', 0x5c, '_', 'S', 'B', '_', 0x5c, 0x2e, '_', 'S', 'B', '_', 'C',
	       'O', 'M', '1', 0x2f, 0x03, 'A', '_', '_', '_', 'B', '_', '_', '_', 'C', '_', '_',
	       '_');
}

Test(acpi_aml, bad_names_fail)
{
	const char *bad[] = { "", "1ABC", "ABCDE", "com1", "A..B", "A.", "\\", ".A", "A-B" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		aml_init(&a, buf, sizeof(buf));
		aml_namestring(&a, bad[i]);
		cr_assert_eq(aml_finish(&a), -EINVAL, "name \"%s\"", bad[i]);
	}
	aml_init(&a, buf, sizeof(buf));
	aml_namestring(&a, NULL);
	cr_assert_eq(aml_finish(&a), -EINVAL);
}

Test(acpi_aml, name_device_method_package_buffer)
{
	aml_device(&a, "COM1");
	aml_name(&a, "_UID");
	aml_integer(&a, 1);
	aml_end(&a);
	aml_method(&a, "_STA", 0, false);
	aml_return_integer(&a, 0x0f);
	aml_end(&a);
	aml_package(&a, 2);
	aml_integer(&a, 1);
	aml_integer(&a, 2);
	aml_end(&a);
	const uint8_t three[] = { 1, 2, 3 };
	aml_buffer(&a, three, 3);
	aml_method(&a, "M", 7, true);
	aml_end(&a);
	EXPECT(0x5b, 0x82, 0x0b, 'C', 'O', 'M', '1', 0x08, '_', 'U', 'I', 'D', 0x01,
	       0x14, 0x09, '_', 'S', 'T', 'A', 0x00, 0xa4, 0x0a, 0x0f,
	       0x12, 0x05, 0x02, 0x01, 0x0a, 0x02,
	       0x11, 0x06, 0x0a, 0x03, 0x01, 0x02, 0x03,
	       0x14, 0x06, 'M', '_', '_', '_', 0x0f);
}

Test(acpi_aml, resource_template_has_end_tag_and_checksum)
{
	aml_restemplate(&a);
	aml_res_io(&a, 0x3f8, 1, 8);
	aml_res_irq_noflags(&a, 4);
	aml_end(&a);
	/* 13 bytes of descriptors and End Tag; the checksum makes them sum to 0. */
	EXPECT(0x11, 0x10, 0x0a, 0x0d, 0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08, 0x22,
	       0x10, 0x00, 0x79, 0x0e);
	uint8_t sum = 0;
	for (int i = 4; i < 17; i++)
		sum = (uint8_t)(sum + buf[i]);
	cr_assert_eq(sum, 0);
}

Test(acpi_aml, memory32fixed_and_interrupt)
{
	aml_restemplate(&a);
	aml_res_mem32_fixed(&a, 0xd0000000, 0x1000);
	aml_res_interrupt(&a, 5, false, false);
	aml_end(&a);
	aml_restemplate(&a);
	aml_res_interrupt(&a, 0x17, true, true);
	aml_end(&a);
	EXPECT(0x11, 0x1a, 0x0a, 0x17, 0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0xd0, 0x00, 0x10,
	       0x00, 0x00, 0x89, 0x06, 0x00, 0x03, 0x01, 0x05, 0x00, 0x00, 0x00, 0x79, 0x7f,
	       /* Level, ActiveLow: flags 0x05 */
	       0x11, 0x0e, 0x0a, 0x0b, 0x89, 0x06, 0x00, 0x05, 0x01, 0x17, 0x00, 0x00, 0x00, 0x79,
	       (uint8_t)-(0x89 + 0x06 + 0x05 + 0x01 + 0x17 + 0x79));
}

Test(acpi_aml, empty_resource_template)
{
	aml_restemplate(&a);
	aml_end(&a);
	EXPECT(0x11, 0x05, 0x0a, 0x02, 0x79, 0x87);
}

Test(acpi_aml, irq_noflags_is_isa_only)
{
	aml_res_irq_noflags(&a, 16);
	cr_assert_eq(aml_finish(&a), -EINVAL);
}

/* A body past 62 bytes needs a 2-byte PkgLength: the encoder moves it. */
Test(acpi_aml, long_body_moves_for_a_wider_pkglen)
{
	uint8_t body[100];
	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = (uint8_t)i;
	aml_scope(&a, "\\_SB");
	aml_bytes(&a, body, sizeof(body));
	aml_end(&a);
	cr_assert_eq(aml_finish(&a), 1 + 2 + 5 + 100);
	/* 2 + 5 + 100 = 107 = 0x6b: 0x40 | 0xb, 0x06. */
	cr_assert_eq(buf[0], 0x10);
	cr_assert_eq(buf[1], 0x4b);
	cr_assert_eq(buf[2], 0x06);
	cr_assert_eq(buf[3], 0x5c);
	cr_assert_arr_eq(buf + 8, body, sizeof(body));
}

Test(acpi_aml, nesting_errors)
{
	aml_end(&a);
	cr_assert_eq(aml_finish(&a), -EINVAL, "end without open");
	aml_init(&a, buf, sizeof(buf));
	aml_scope(&a, "\\_SB");
	cr_assert_eq(aml_finish(&a), -EINVAL, "open at finish");
	aml_init(&a, buf, sizeof(buf));
	for (int i = 0; i <= AML_MAX_DEPTH; i++)
		aml_scope(&a, "S");
	cr_assert_eq(aml_finish(&a), -EINVAL, "too deep");
	aml_init(&a, buf, sizeof(buf));
	aml_method(&a, "M", 8, false);
	cr_assert_eq(aml_finish(&a), -EINVAL, "8 arguments");
	aml_init(&a, buf, sizeof(buf));
	aml_package(&a, 256);
	cr_assert_eq(aml_finish(&a), -EINVAL, "256 elements");
}

/* Every capacity short of what a device needs fails with -ENOSPC and
 * writes nothing past it (the buffer is exactly cap bytes on the heap,
 * so ASan catches an overrun). */
Test(acpi_aml, every_short_capacity_fails_cleanly)
{
	long need = -1;
	for (size_t cap = 0;; cap++) {
		uint8_t *b = malloc(cap ? cap : 1);
		cr_assert_not_null(b);
		aml_init(&a, b, cap);
		aml_device(&a, "V000");
		aml_name(&a, "_HID");
		aml_string(&a, "LNRO0005");
		aml_name(&a, "_CRS");
		aml_restemplate(&a);
		aml_res_mem32_fixed(&a, 0xd0000000, 0x1000);
		aml_res_interrupt(&a, 5, false, false);
		aml_end(&a);
		aml_end(&a);
		long n = aml_finish(&a);
		free(b);
		if (n >= 0) {
			need = n;
			cr_assert_eq((size_t)n, cap, "fits only at its own size");
			break;
		}
		cr_assert_eq(n, -ENOSPC, "cap %zu", cap);
		cr_assert_lt(cap, 1000);
	}
	cr_assert_gt(need, 0);
}
