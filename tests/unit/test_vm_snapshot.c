/* runtime/vm/dirty.c, memfile.c and the vm/machine reader of snapshot.c:
 * the VM-level snapshot pieces that need no backend. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/vm/dirty.h"
#include "runtime/vm/memfile.h"
#include "runtime/vm/snapshot.h"

static struct guest_mem mem;
static char path[64];

static void setup(void)
{
	cr_assert_eq(gm_alloc(&mem, 64 * VM_PAGE_SIZE), 0);
	snprintf(path, sizeof(path), "/tmp/ember-memfile-XXXXXX");
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	close(fd);
}

static void teardown(void)
{
	gm_free(&mem);
	unlink(path);
}

TestSuite(vm_snapshot, .init = setup, .fini = teardown);

/* Which pages of the file hold data (not holes). */
static void data_pages(bool out[64])
{
	int fd = open(path, O_RDONLY);
	cr_assert_geq(fd, 0);
	memset(out, 0, 64);
	off_t off = 0;
	for (;;) {
		off_t d = lseek(fd, off, SEEK_DATA);
		if (d < 0)
			break;
		off_t h = lseek(fd, d, SEEK_HOLE);
		for (off_t p = d / 4096; p < h / 4096 && p < 64; p++)
			out[p] = true;
		off = h;
	}
	close(fd);
}

static uint8_t *page(unsigned p)
{
	return mem.regions[0].host + p * VM_PAGE_SIZE;
}

Test(vm_snapshot, full_file_has_every_nonzero_page_and_holes_elsewhere)
{
	page(3)[7] = 0xaa;
	page(40)[4095] = 0x55;
	page(41)[0] = 1;
	page(41)[0] = 0; /* touched, but zero again: a hole is right */
	struct errbuf err;
	uint64_t written;
	cr_assert_eq(vm_memfile_write(&mem, NULL, path, &written, &err), 0, "%s", err.msg);
	cr_expect_eq(written, 2 * VM_PAGE_SIZE);
	struct stat st;
	cr_assert_eq(stat(path, &st), 0);
	cr_expect_eq((uint64_t)st.st_size, mem.total);
	int fd = open(path, O_RDONLY);
	uint8_t buf[4096];
	cr_assert_eq(pread(fd, buf, sizeof(buf), 3 * 4096), 4096);
	cr_expect_eq(buf[7], 0xaa);
	cr_assert_eq(pread(fd, buf, sizeof(buf), 40 * 4096), 4096);
	cr_expect_eq(buf[4095], 0x55);
	close(fd);
	bool data[64];
	data_pages(data);
	for (unsigned p = 0; p < 64; p++)
		cr_expect_eq(data[p], p == 3 || p == 40, "page %u", p);
}

Test(vm_snapshot, diff_file_has_exactly_the_dirty_pages)
{
	struct vm_dirty d;
	cr_assert_eq(vm_dirty_init(&d, &mem, false), 0);
	page(5)[0] = 9;
	vm_dirty_mark(&d, &mem, 5 * VM_PAGE_SIZE, 1);
	/* A zero page that was written still goes in: the base has other data. */
	vm_dirty_mark(&d, &mem, 10 * VM_PAGE_SIZE + 4000, 200); /* pages 10 and 11 */
	vm_dirty_mark(&d, &mem, 1ULL << 40, 4096);              /* outside RAM: ignored */
	cr_expect(vm_dirty_test(&d, 0, 10) && vm_dirty_test(&d, 0, 11));
	cr_expect_not(vm_dirty_test(&d, 0, 12));
	struct errbuf err;
	uint64_t written;
	cr_assert_eq(vm_memfile_write(&mem, &d, path, &written, &err), 0, "%s", err.msg);
	cr_expect_eq(written, 3 * VM_PAGE_SIZE);
	vm_dirty_clear(&d);
	cr_expect_not(vm_dirty_test(&d, 0, 5));
	vm_dirty_free(&d);
}

Test(vm_snapshot, fresh_tracker_can_start_all_dirty)
{
	struct vm_dirty d;
	cr_assert_eq(vm_dirty_init(&d, &mem, true), 0);
	for (unsigned p = 0; p < 64; p++)
		cr_expect(vm_dirty_test(&d, 0, p));
	cr_expect_not(vm_dirty_test(&d, 0, 64), "past the end");
	cr_expect_not(vm_dirty_test(&d, 1, 0), "no second region");
	vm_dirty_free(&d);
}

Test(vm_snapshot, memfile_in_a_missing_directory_is_refused)
{
	struct errbuf err;
	uint64_t written;
	cr_expect_eq(vm_memfile_write(&mem, NULL, "/nonexistent/dir/mem", &written, &err), -ENOENT);
	cr_expect(strstr(err.msg, "/nonexistent/dir/mem"), "%s", err.msg);
}

/* A state file with one vm/machine section built by hand. */
static int machine_info(const char *backend, uint32_t vcpus, uint64_t total, uint32_t nregions,
			uint64_t size0, uint32_t pagesz, struct vm_snapshot_info *info,
			struct errbuf *err)
{
	struct snap_writer w;
	snap_writer_init(&w);
	snap_begin_section(&w, "vm/machine", 1);
	snap_put_u8(&w, (uint8_t)strlen(backend));
	snap_put_bytes(&w, backend, strlen(backend));
	snap_put_u32(&w, vcpus);
	snap_put_u64(&w, total);
	snap_put_u32(&w, nregions);
	for (uint32_t i = 0; i < nregions; i++) {
		snap_put_u64(&w, i ? GM_MMIO_HOLE_END : 0);
		snap_put_u64(&w, i ? total - size0 : size0);
	}
	snap_put_u32(&w, pagesz);
	snap_end_section(&w);
	const uint8_t *img;
	size_t len;
	cr_assert_eq(snap_writer_image(&w, &img, &len, err), 0);
	struct snap_file f;
	cr_assert_eq(snap_parse(img, len, &f, err), 0);
	int r = vm_snapshot_info(&f, info, err);
	snap_free(&f);
	snap_writer_free(&w);
	return r;
}

Test(vm_snapshot, machine_section_is_checked)
{
	struct vm_snapshot_info info;
	struct errbuf err;
	cr_assert_eq(machine_info("kvm", 2, 64 << 20, 1, 64 << 20, 4096, &info, &err), 0, "%s",
		     err.msg);
	cr_expect_str_eq(info.backend, "kvm");
	cr_expect_eq(info.nr_vcpus, 2);
	cr_expect_eq(info.mem_total, 64 << 20);
	uint64_t big = 5ULL << 30; /* split around the MMIO hole */
	cr_expect_eq(machine_info("tcg", 1, big, 2, GM_MMIO_HOLE_START, 4096, &info, &err), 0, "%s",
		     err.msg);
	cr_expect_eq(machine_info("kvm", 0, 64 << 20, 1, 64 << 20, 4096, &info, &err), -EBADMSG);
	cr_expect_eq(machine_info("kvm", 33, 64 << 20, 1, 64 << 20, 4096, &info, &err), -EBADMSG);
	cr_expect_eq(machine_info("kvm", 1, 64 << 20, 1, 32 << 20, 4096, &info, &err), -EBADMSG,
		     "a region that does not match the size");
	cr_expect_eq(machine_info("kvm", 1, big, 1, big, 4096, &info, &err), -EBADMSG,
		     "RAM across the MMIO hole");
	cr_expect_eq(machine_info("kvm", 1, 64 << 20, 1, 64 << 20, 2 << 20, &info, &err), -EBADMSG);
	cr_expect_eq(machine_info("kvm", 1, 4095, 1, 4095, 4096, &info, &err), -EBADMSG);
	cr_expect_eq(machine_info("a-much-too-long-backend", 1, 64 << 20, 1, 64 << 20, 4096, &info,
				  &err),
		     -EBADMSG);
}
