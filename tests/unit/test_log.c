/* runtime/base/log.c: module filtering by folder or file, and the origin. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/base/log.h"

static char path[64];

static void setup(void)
{
	snprintf(path, sizeof(path), "/tmp/ember-log-XXXXXX");
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(log_set_path(path), 0);
	log_set_level(LOG_INFO);
	log_set_options(false, true);
}

static void teardown(void)
{
	log_set_module(NULL);
	log_set_options(false, false);
	log_set_level(LOG_WARN);
	log_close();
	unlink(path);
}

TestSuite(log, .init = setup, .fini = teardown);

/* Logs one line from each file and returns which got through, in order. */
static void which_pass(const char *module, char *out, size_t len)
{
	static const char *const files[] = {
		"runtime/vm/build.c", "runtime/backend/tcg/hooks.c", "runtime/backend/kvm/vm.c",
		"runtime/vmx.c", "virtio/blk.c",
	};
	log_set_module(module);
	cr_assert_eq(truncate(path, 0), 0);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		log_msg(LOG_INFO, files[i], 1, "from %zu", i);
	log_set_module(NULL);
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f);
	char line[256];
	out[0] = 0;
	while (fgets(line, sizeof(line), f)) {
		const char *p = strstr(line, "from ");
		cr_assert_not_null(p);
		strncat(out, p + 5, 1);
		cr_assert_lt(strlen(out), len);
	}
	fclose(f);
}

Test(log, module_is_a_folder_at_any_depth_or_a_file)
{
	char got[16];
	which_pass("runtime", got, sizeof(got));
	cr_expect_str_eq(got, "0123");
	which_pass("runtime/backend", got, sizeof(got));
	cr_expect_str_eq(got, "12");
	which_pass("runtime/backend/tcg/", got, sizeof(got));
	cr_expect_str_eq(got, "1");
	which_pass("runtime/vm", got, sizeof(got)); /* not runtime/vmx.c */
	cr_expect_str_eq(got, "0");
	which_pass("runtime/vm/build.c", got, sizeof(got));
	cr_expect_str_eq(got, "0");
	which_pass("virtio/blk", got, sizeof(got));
	cr_expect_str_eq(got, "", "a part of a file name is no module");
	which_pass(NULL, got, sizeof(got));
	cr_expect_str_eq(got, "01234");
}

Test(log, origin_is_the_whole_path)
{
	log_msg(LOG_INFO, "runtime/backend/kvm/vm.c", 42, "hello");
	FILE *f = fopen(path, "r");
	char line[256] = "";
	cr_assert_not_null(fgets(line, sizeof(line), f));
	fclose(f);
	cr_expect(strstr(line, ":runtime/backend/kvm/vm.c:42] hello"), "%s", line);
}
