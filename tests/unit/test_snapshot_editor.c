/* snapshots/editor/: the command line and the memory rebase (the binary
 * itself is driven by tests/integration/t_snapshot_editor.sh). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "snapshots/editor/args.h"
#include "snapshots/editor/rebase.h"

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])))

Test(snapshot_editor, rebase_args_every_spelling)
{
	char *v1[] = { "e", "edit-memory", "rebase", "--memory-path", "B", "--diff-path", "D" };
	char *v2[] = { "e", "edit-memory", "rebase", "--diff-path=D", "--memory-path=B" };
	char *v3[] = { "e", "edit-memory", "rebase", "-m", "B", "-d", "D" };
	char **all[] = { v1, v2, v3 };
	int argc[] = { ARGC(v1), ARGC(v2), ARGC(v3) };
	for (int i = 0; i < 3; i++) {
		struct editor_args a;
		struct errbuf err = { "" };
		cr_assert_eq(editor_parse_args(argc[i], all[i], &a, &err), 0, "%d: %s", i, err.msg);
		cr_assert_eq(a.cmd, EDITOR_REBASE);
		cr_assert_str_eq(a.memory_path, "B");
		cr_assert_str_eq(a.diff_path, "D");
	}
}

Test(snapshot_editor, version_args_and_help)
{
	char *v[] = { "e", "info-vmstate", "version", "--vmstate-path", "F" };
	struct editor_args a;
	cr_assert_eq(editor_parse_args(ARGC(v), v, &a, NULL), 0);
	cr_assert_eq(a.cmd, EDITOR_VMSTATE_VERSION);
	cr_assert_str_eq(a.vmstate_path, "F");
	char *h[] = { "e", "info-vmstate", "bogus", "-h" };
	cr_assert_eq(editor_parse_args(ARGC(h), h, &a, NULL), 0);
	cr_assert_eq(a.cmd, EDITOR_HELP, "--help wins over anything wrong");
}

static void refused(int argc, char **argv, const char *word)
{
	struct editor_args a;
	struct errbuf err = { "" };
	cr_assert_eq(editor_parse_args(argc, argv, &a, &err), -EINVAL, "accepted; want '%s'", word);
	cr_assert(strstr(err.msg, word), "\"%s\" lacks \"%s\"", err.msg, word);
	cr_assert_null(strchr(err.msg, '\n'), "one line");
}

Test(snapshot_editor, bad_args)
{
	char *none[] = { "e" };
	char *cmd[] = { "e", "edit-vmstate" };
	char *sub[] = { "e", "edit-memory", "merge" };
	char *miss[] = { "e", "edit-memory", "rebase", "-m", "B" };
	char *noval[] = { "e", "info-vmstate", "version", "--vmstate-path" };
	char *twice[] = { "e", "info-vmstate", "version", "-v", "a", "-v", "b" };
	char *empty[] = { "e", "info-vmstate", "version", "--vmstate-path=" };
	char *extra[] = { "e", "info-vmstate", "version", "-v", "a", "stray" };
	char *other[] = { "e", "info-vmstate", "version", "--memory-path", "a" };
	refused(ARGC(none), none, "no command");
	refused(ARGC(cmd), cmd, "edit-vmstate");
	refused(ARGC(sub), sub, "merge");
	refused(ARGC(miss), miss, "--diff-path is required");
	refused(ARGC(noval), noval, "needs a value");
	refused(ARGC(twice), twice, "twice");
	refused(ARGC(empty), empty, "empty");
	refused(ARGC(extra), extra, "stray");
	refused(ARGC(other), other, "--memory-path");
}

static char ed_dir[64], ed_base[128], ed_diff[128];

static void ed_setup(void)
{
	strcpy(ed_dir, "/tmp/ember-rebase-XXXXXX");
	cr_assert_not_null(mkdtemp(ed_dir));
	snprintf(ed_base, sizeof(ed_base), "%s/base", ed_dir);
	snprintf(ed_diff, sizeof(ed_diff), "%s/diff", ed_dir);
}

static void ed_teardown(void)
{
	unlink(ed_base);
	unlink(ed_diff);
	rmdir(ed_dir);
}

TestSuite(snapshot_rebase, .init = ed_setup, .fini = ed_teardown);

#define PAGE 4096

static void fill_file(const char *path, size_t size, uint8_t seed)
{
	uint8_t *b = malloc(size);
	for (size_t i = 0; i < size; i++)
		b[i] = (uint8_t)(seed + i * 13);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, b, size), (ssize_t)size);
	close(fd);
	free(b);
}

/* A sparse file of size bytes with the given pages written (value page+1). */
static bool sparse_diff(size_t size, const unsigned *pages, int n)
{
	int fd = open(ed_diff, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, (off_t)size), 0);
	uint8_t page[PAGE];
	for (int i = 0; i < n; i++) {
		memset(page, (int)pages[i] + 1, sizeof(page));
		cr_assert_eq(pwrite(fd, page, PAGE, (off_t)pages[i] * PAGE), PAGE);
	}
	fsync(fd);
	struct stat st;
	fstat(fd, &st);
	close(fd);
	return (size_t)st.st_blocks * 512 < size;
}

Test(snapshot_rebase, dirty_pages_land_and_holes_keep_the_base)
{
	const size_t size = 16 * PAGE;
	fill_file(ed_base, size, 0x40);
	const unsigned pages[] = { 0, 3, 4, 9 };
	if (!sparse_diff(12 * PAGE, pages, 4))
		cr_skip_test("%s keeps no holes", ed_dir);
	struct errbuf err = { "" };
	cr_assert_eq(snap_mem_rebase(ed_base, ed_diff, &err), 0, "%s", err.msg);
	uint8_t *b = malloc(size);
	int fd = open(ed_base, O_RDONLY);
	cr_assert_eq(read(fd, b, size), (ssize_t)size);
	close(fd);
	for (size_t i = 0; i < size; i++) {
		unsigned pg = (unsigned)(i / PAGE);
		bool dirty = pg == 0 || pg == 3 || pg == 4 || pg == 9;
		uint8_t want = dirty ? (uint8_t)(pg + 1) : (uint8_t)(0x40 + i * 13);
		cr_assert_eq(b[i], want, "byte %zu (page %u)", i, pg);
	}
	free(b);
}

Test(snapshot_rebase, longer_diff_refused_and_base_untouched)
{
	fill_file(ed_base, 2 * PAGE, 1);
	const unsigned pages[] = { 0 };
	sparse_diff(3 * PAGE, pages, 1);
	struct errbuf err = { "" };
	cr_assert_eq(snap_mem_rebase(ed_base, ed_diff, &err), -EINVAL);
	cr_assert(strstr(err.msg, "longer than memory file"), "%s", err.msg);
	uint8_t b[1];
	int fd = open(ed_base, O_RDONLY);
	cr_assert_eq(read(fd, b, 1), 1);
	close(fd);
	cr_assert_eq(b[0], 1);
}

Test(snapshot_rebase, missing_files_named)
{
	struct errbuf err = { "" };
	cr_assert_eq(snap_mem_rebase(ed_base, ed_diff, &err), -ENOENT);
	cr_assert(strstr(err.msg, ed_base), "%s", err.msg);
	fill_file(ed_base, PAGE, 0);
	cr_assert_eq(snap_mem_rebase(ed_base, ed_diff, &err), -ENOENT);
	cr_assert(strstr(err.msg, ed_diff), "%s", err.msg);
}
