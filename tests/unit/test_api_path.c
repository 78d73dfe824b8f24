/* api/path.c: which raw request paths the API refuses, and the words. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "api/path.h"

static const char *check(const char *raw)
{
	static char why[160];
	why[0] = 0;
	int r = api_path_check(raw, why, sizeof(why));
	cr_assert_eq(r, why[0] ? -EINVAL : 0, "%s: %d with \"%s\"", raw, r, why);
	return why;
}

Test(api_path, printable_paths_and_escapes_pass)
{
	cr_assert_str_empty(check("/"));
	cr_assert_str_empty(check("/drives/rootfs"));
	cr_assert_str_empty(check("/vers%69on"));
	cr_assert_str_empty(check("/a%2Fb%7e"));
	cr_assert_str_empty(check(""));
	/* The query is not the path: libmicrohttpd keeps it apart. */
	cr_assert_str_empty(check("/version?x=%00&y=%zz"));
}

Test(api_path, nul_and_control_bytes_refused)
{
	cr_assert_str_eq(check("/drives/a%00b"), "Invalid path: \"%00\" at offset 9 decodes to a "
						 "NUL byte; a path holds printable ASCII only.");
	cr_assert(strstr(check("/a%0ab"), "\"%0a\" at offset 2 decodes to byte 0x0a"));
	cr_assert(strstr(check("/a%0Db"), "decodes to byte 0x0d"));
	cr_assert(strstr(check("/a%20b"), "decodes to byte 0x20"));
	cr_assert(strstr(check("/a%7F"), "decodes to byte 0x7f"));
	cr_assert(strstr(check("/a%c3%a9"), "decodes to byte 0xc3"));
	cr_assert(strstr(check("/a\x01"), "byte 0x01 at offset 2"));
	cr_assert(strstr(check("/a b"), "byte 0x20 at offset 2"));
	cr_assert(strstr(check("/\xff"), "byte 0xff at offset 1"));
}

Test(api_path, broken_escapes_refused)
{
	const char *bad[] = { "/a%", "/a%4", "/a%zz", "/a%4g", "/%%41" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert(strstr(check(bad[i]), "does not start a %XX escape"), "%s", bad[i]);
	cr_assert(strstr(check("/a%4"), "the '%' at offset 2"));
}
