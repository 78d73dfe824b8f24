#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "runtime/boot/cmdline.h"

static struct cmdline cl;

Test(cmdline, init_and_append_space_separated)
{
	cr_assert_eq(cmdline_init(&cl, "console=ttyS0", NULL), 0);
	cr_assert_eq(cmdline_append(&cl, NULL, "virtio_mmio.device=4K@0x%x:%u", 0xd0000000u, 5), 0);
	cr_assert_str_eq(cl.buf, "console=ttyS0 virtio_mmio.device=4K@0xd0000000:5");
	cr_assert_eq(cl.len, strlen(cl.buf));
}

Test(cmdline, empty_base_has_no_leading_space)
{
	cr_assert_eq(cmdline_init(&cl, NULL, NULL), 0);
	cr_assert_eq(cmdline_append(&cl, NULL, "root=/dev/vda"), 0);
	cr_assert_str_eq(cl.buf, "root=/dev/vda");
}

Test(cmdline, too_long_base_refused)
{
	static char big[CMDLINE_MAX + 2];
	memset(big, 'a', CMDLINE_MAX + 1);
	struct errbuf err;
	cr_assert_eq(cmdline_init(&cl, big, &err), -E2BIG);
	cr_assert(strstr(err.msg, "at most"));
	big[CMDLINE_MAX] = '\0';
	cr_assert_eq(cmdline_init(&cl, big, &err), 0, "exactly the maximum fits");
}

Test(cmdline, append_past_limit_leaves_line_unchanged)
{
	static char big[CMDLINE_MAX + 1];
	memset(big, 'a', CMDLINE_MAX - 3);
	cr_assert_eq(cmdline_init(&cl, big, NULL), 0);
	cr_assert_eq(cmdline_append(&cl, NULL, "abcd"), -E2BIG);
	cr_assert_eq(cl.len, CMDLINE_MAX - 3);
	cr_assert_eq(cmdline_append(&cl, NULL, "ab"), 0, "space + 2 bytes fit exactly");
	cr_assert_eq(cl.len, CMDLINE_MAX);
}

Test(cmdline, has_matches_whole_keys_only)
{
	cr_assert_eq(cmdline_init(&cl, "console=ttyS0 noroot=1 quiet", NULL), 0);
	cr_assert(!cmdline_has(&cl, "root"));
	cr_assert(cmdline_has(&cl, "quiet"));
	cr_assert(cmdline_has(&cl, "console"));
	cr_assert_eq(cmdline_append(&cl, NULL, "root=/dev/vda"), 0);
	cr_assert(cmdline_has(&cl, "root"));
}

Test(cmdline, append_missing_keeps_what_is_there)
{
	cr_assert_eq(cmdline_init(&cl, "console=ttyS0 tsc_early_khz=1000 quiet", NULL), 0);
	cr_assert_eq(cmdline_append_missing(&cl, NULL, "tsc_early_khz=2000 quiet  noapic lpj=5"), 0);
	cr_assert_str_eq(cl.buf, "console=ttyS0 tsc_early_khz=1000 quiet noapic lpj=5");
	cr_assert_eq(cl.len, strlen(cl.buf));
	cr_assert_eq(cmdline_append_missing(&cl, NULL, ""), 0);
	cr_assert_eq(cmdline_append_missing(&cl, NULL, " "), 0);
	cr_assert_str_eq(cl.buf, "console=ttyS0 tsc_early_khz=1000 quiet noapic lpj=5");
}

Test(cmdline, append_missing_onto_empty_line)
{
	cr_assert_eq(cmdline_init(&cl, NULL, NULL), 0);
	cr_assert_eq(cmdline_append_missing(&cl, NULL, "tsc_early_khz=2000"), 0);
	cr_assert_str_eq(cl.buf, "tsc_early_khz=2000");
}

Test(cmdline, append_missing_past_limit_leaves_line_unchanged)
{
	static char big[CMDLINE_MAX + 1];
	memset(big, 'a', CMDLINE_MAX - 6);
	cr_assert_eq(cmdline_init(&cl, big, NULL), 0);
	cr_assert_eq(cmdline_append_missing(&cl, NULL, "b=1 c=22"), -E2BIG, "b=1 fits, c=22 not");
	cr_assert_eq(cl.len, CMDLINE_MAX - 6);
	cr_assert_eq(strlen(cl.buf), CMDLINE_MAX - 6);
}

Test(cmdline, last_value_and_acpi_off)
{
	size_t n = 0;
	cr_assert_eq(cmdline_init(&cl, "console=ttyS0 acpi=off", NULL), 0);
	cr_assert(cmdline_acpi_off(&cl));
	const char *v = cmdline_last_value(&cl, "console", &n);
	cr_assert_not_null(v);
	cr_assert_eq(n, 5);
	cr_assert_eq(strncmp(v, "ttyS0", n), 0);
	/* The kernel takes the last acpi=. */
	cr_assert_eq(cmdline_init(&cl, "acpi=off acpi=force", NULL), 0);
	cr_assert_not(cmdline_acpi_off(&cl));
	cr_assert_eq(cmdline_init(&cl, "acpi=force acpi=off", NULL), 0);
	cr_assert(cmdline_acpi_off(&cl));
	/* Whole keys and values only; nothing after "--" (init's). */
	const char *on[] = { "", "acpi", "acpi=offx", "xacpi=off", "noacpi=off", "acpi=of",
			     "quiet -- acpi=off", "acpi=" };
	for (size_t i = 0; i < sizeof(on) / sizeof(on[0]); i++) {
		cr_assert_eq(cmdline_init(&cl, on[i], NULL), 0);
		cr_assert_not(cmdline_acpi_off(&cl), "\"%s\"", on[i]);
	}
	cr_assert_eq(cmdline_init(&cl, "  acpi=off  --x", NULL), 0);
	cr_assert(cmdline_acpi_off(&cl));
}
