/* virtio/blk.c against a temporary file: read, write, flush, get-id,
 * discard, write-zeroes, read-only drives, and malformed requests. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "tests/unit/test_virtio_util.h"
#include "virtio/blk.h"

#define FILE_SIZE (1024 * 1024)

static char path[64];
static struct tbed bed;
static struct virtio_dev *dev;

static void make_file(void)
{
	strcpy(path, "/tmp/ember-vblk-XXXXXX");
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	uint8_t *buf = malloc(FILE_SIZE);
	for (size_t i = 0; i < FILE_SIZE; i++)
		buf[i] = (uint8_t)(i * 7 + i / 512);
	cr_assert_eq(write(fd, buf, FILE_SIZE), FILE_SIZE);
	free(buf);
	close(fd);
}

static void open_drive(bool ro, enum config_cache_type cache)
{
	struct config_drive d = {
		.drive_id = "test", .path_on_host = path, .is_read_only = ro, .cache_type = cache,
	};
	struct errbuf err;
	cr_assert_eq(vblk_create(&d, &dev, &err), 0, "%s", err.msg);
	cr_assert_eq(tbed_init(&bed, dev, 64, 0) & 0x4f, 0x0f);
}

static void setup(void)
{
	make_file();
	open_drive(false, CONFIG_CACHE_WRITEBACK);
}

static void teardown(void)
{
	tbed_fini(&bed);
	unlink(path);
}

TestSuite(vblk, .init = setup, .fini = teardown);

struct seg {
	uint64_t gpa;
	uint32_t len;
	bool write;
};

/* Posts a chain made of segs and runs the device; returns the used length
 * (or -1 if nothing was used). */
static int run_chain(const struct seg *s, unsigned n)
{
	struct tq *q = &bed.g.q[0];
	for (unsigned i = 0; i < n; i++)
		tq_desc(q, (uint16_t)i, s[i].gpa, s[i].len,
			(uint16_t)((s[i].write ? VRING_DESC_F_WRITE : 0) |
				   (i + 1 < n ? VRING_DESC_F_NEXT : 0)),
			(uint16_t)(i + 1));
	tq_post(q, 0);
	tbed_kick(&bed, 0);
	uint32_t id, len;
	if (!tq_used(q, &id, &len))
		return -1;
	cr_expect_eq(id, 0);
	return (int)len;
}

static uint64_t hdr(uint32_t type, uint64_t sector)
{
	struct virtio_blk_outhdr h = { .type = type, .sector = sector };
	uint64_t g = tguest_alloc(&bed.g, sizeof(h));
	memcpy(tguest_ptr(&bed.g, g, sizeof(h)), &h, sizeof(h));
	return g;
}

/* header | data (readable or writable) | status */
static uint8_t simple(uint32_t type, uint64_t sector, uint64_t data, uint32_t len, bool wr,
		      int *used)
{
	uint64_t st = tguest_alloc(&bed.g, 1);
	*(uint8_t *)tguest_ptr(&bed.g, st, 1) = 0xee;
	struct seg s[3] = { { hdr(type, sector), 16, false }, { data, len, wr }, { st, 1, true } };
	int u = len ? run_chain(s, 3) : run_chain((struct seg[]){ s[0], s[2] }, 2);
	if (used)
		*used = u;
	return *(uint8_t *)tguest_ptr(&bed.g, st, 1);
}

static void file_read(uint64_t off, void *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	cr_assert_eq(pread(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

static uint8_t pattern(size_t i)
{
	return (uint8_t)(i * 7 + i / 512);
}

Test(vblk, config_and_features)
{
	uint64_t cap;
	virtio_mmio_read(bed.t, 0x100, &cap, 8);
	cr_expect_eq(cap, FILE_SIZE / 512);
	uint32_t seg_max;
	virtio_mmio_read(bed.t, 0x100 + 12, &seg_max, 4);
	cr_expect_eq(seg_max, 254);
	cr_expect(dev->features & VIRTIO_BIT(VIRTIO_BLK_F_FLUSH));
	cr_expect_not(dev->features & VIRTIO_BIT(VIRTIO_BLK_F_RO));
	cr_expect(dev->features & VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES));
}

Test(vblk, read_into_split_buffers)
{
	uint64_t a = tguest_alloc(&bed.g, 700), b = tguest_alloc(&bed.g, 324);
	uint64_t st = tguest_alloc(&bed.g, 1);
	struct seg s[4] = { { hdr(VIRTIO_BLK_T_IN, 2), 16, false },
			    { a, 700, true }, { b, 324, true }, { st, 1, true } };
	cr_expect_eq(run_chain(s, 4), 1025);
	cr_expect_eq(*(uint8_t *)tguest_ptr(&bed.g, st, 1), VIRTIO_BLK_S_OK);
	uint8_t *pa = tguest_ptr(&bed.g, a, 700), *pb = tguest_ptr(&bed.g, b, 324);
	for (size_t i = 0; i < 700; i++)
		cr_assert_eq(pa[i], pattern(1024 + i));
	for (size_t i = 0; i < 324; i++)
		cr_assert_eq(pb[i], pattern(1024 + 700 + i));
	cr_expect(bed.irq.level);
	cr_expect_eq(vblk_stats(dev)->reads, 1);
	cr_expect_eq(vblk_stats(dev)->read_bytes, 1024);
}

Test(vblk, status_inside_data_descriptor_and_split_header)
{
	/* header in two pieces; data and status share one buffer. */
	uint64_t h = hdr(VIRTIO_BLK_T_IN, 1), buf = tguest_alloc(&bed.g, 513);
	struct seg s[3] = { { h, 8, false }, { h + 8, 8, false }, { buf, 513, true } };
	cr_expect_eq(run_chain(s, 3), 513);
	uint8_t *p = tguest_ptr(&bed.g, buf, 513);
	cr_expect_eq(p[0], pattern(512));
	cr_expect_eq(p[511], pattern(1023));
	cr_expect_eq(p[512], VIRTIO_BLK_S_OK);
}

Test(vblk, write_lands_in_file)
{
	uint64_t d = tguest_alloc(&bed.g, 1024);
	memset(tguest_ptr(&bed.g, d, 1024), 0xab, 1024);
	int used;
	cr_expect_eq(simple(VIRTIO_BLK_T_OUT, 5, d, 1024, false, &used), VIRTIO_BLK_S_OK);
	cr_expect_eq(used, 1);
	uint8_t back[1026];
	file_read(5 * 512 - 1, back, sizeof(back));
	cr_expect_eq(back[0], pattern(5 * 512 - 1));
	for (int i = 1; i <= 1024; i++)
		cr_assert_eq(back[i], 0xab);
	cr_expect_eq(back[1025], pattern(7 * 512));
	cr_expect_eq(vblk_stats(dev)->write_bytes, 1024);
}

Test(vblk, out_of_range_is_ioerr)
{
	uint64_t d = tguest_alloc(&bed.g, 1024);
	cr_expect_eq(simple(VIRTIO_BLK_T_IN, FILE_SIZE / 512 - 1, d, 1024, true, NULL),
		     VIRTIO_BLK_S_IOERR);
	cr_expect_eq(simple(VIRTIO_BLK_T_OUT, FILE_SIZE / 512, d, 512, false, NULL),
		     VIRTIO_BLK_S_IOERR);
	cr_expect_eq(simple(VIRTIO_BLK_T_IN, UINT64_MAX, d, 512, true, NULL), VIRTIO_BLK_S_IOERR);
	cr_expect_eq(simple(VIRTIO_BLK_T_OUT, UINT64_MAX / 512 + 1, d, 512, false, NULL),
		     VIRTIO_BLK_S_IOERR);
	struct stat st;
	cr_assert_eq(stat(path, &st), 0);
	cr_expect_eq(st.st_size, FILE_SIZE);
	cr_expect_eq(vblk_stats(dev)->io_errors, 4);
}

Test(vblk, unaligned_length_is_ioerr)
{
	uint64_t d = tguest_alloc(&bed.g, 1000);
	cr_expect_eq(simple(VIRTIO_BLK_T_IN, 0, d, 1000, true, NULL), VIRTIO_BLK_S_IOERR);
}

Test(vblk, read_into_readable_buffer_is_ioerr)
{
	uint64_t d = tguest_alloc(&bed.g, 512);
	memset(tguest_ptr(&bed.g, d, 512), 0x5a, 512);
	cr_expect_eq(simple(VIRTIO_BLK_T_IN, 0, d, 512, false, NULL), VIRTIO_BLK_S_IOERR);
	cr_expect_eq(*(uint8_t *)tguest_ptr(&bed.g, d, 1), 0x5a);
}

Test(vblk, write_from_writable_buffer_is_ioerr)
{
	uint64_t d = tguest_alloc(&bed.g, 512);
	cr_expect_eq(simple(VIRTIO_BLK_T_OUT, 0, d, 512, true, NULL), VIRTIO_BLK_S_IOERR);
	uint8_t back;
	file_read(0, &back, 1);
	cr_expect_eq(back, pattern(0));
}

Test(vblk, flush)
{
	cr_expect_eq(simple(VIRTIO_BLK_T_FLUSH, 0, 0, 0, false, NULL), VIRTIO_BLK_S_OK);
	cr_expect_eq(vblk_stats(dev)->flushes, 1);
}

Test(vblk, get_id)
{
	uint64_t d = tguest_alloc(&bed.g, VIRTIO_BLK_ID_BYTES);
	int used;
	cr_expect_eq(simple(VIRTIO_BLK_T_GET_ID, 0, d, VIRTIO_BLK_ID_BYTES, true, &used),
		     VIRTIO_BLK_S_OK);
	cr_expect_eq(used, VIRTIO_BLK_ID_BYTES + 1);
	struct stat st;
	cr_assert_eq(stat(path, &st), 0);
	char want[64], got[VIRTIO_BLK_ID_BYTES + 1] = "";
	snprintf(want, sizeof(want), "%llu%llu%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_rdev, (unsigned long long)st.st_ino);
	memcpy(got, tguest_ptr(&bed.g, d, VIRTIO_BLK_ID_BYTES), VIRTIO_BLK_ID_BYTES);
	cr_expect_eq(strncmp(got, want, VIRTIO_BLK_ID_BYTES), 0, "%s vs %s", got, want);
}

static uint64_t dz_seg(uint64_t sector, uint32_t n, uint32_t flags)
{
	struct virtio_blk_discard_write_zeroes s = { .sector = sector, .num_sectors = n,
						      .flags = flags };
	uint64_t g = tguest_alloc(&bed.g, sizeof(s));
	memcpy(tguest_ptr(&bed.g, g, sizeof(s)), &s, sizeof(s));
	return g;
}

static void expect_zeros(uint64_t off, size_t len)
{
	uint8_t *buf = malloc(len);
	file_read(off, buf, len);
	for (size_t i = 0; i < len; i++)
		cr_assert_eq(buf[i], 0, "byte %zu", i);
	free(buf);
}

Test(vblk, write_zeroes)
{
	uint64_t s = dz_seg(8, 16, 0);
	cr_expect_eq(simple(VIRTIO_BLK_T_WRITE_ZEROES, 0, s, 16, false, NULL), VIRTIO_BLK_S_OK);
	expect_zeros(8 * 512, 16 * 512);
	uint8_t after;
	file_read(24 * 512, &after, 1);
	cr_expect_eq(after, pattern(24 * 512));
	s = dz_seg(40, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	cr_expect_eq(simple(VIRTIO_BLK_T_WRITE_ZEROES, 0, s, 16, false, NULL), VIRTIO_BLK_S_OK);
	expect_zeros(40 * 512, 8 * 512);
}

Test(vblk, discard_where_supported)
{
	uint64_t s = dz_seg(16, 16, 0);
	uint8_t st = simple(VIRTIO_BLK_T_DISCARD, 0, s, 16, false, NULL);
	if (!(dev->features & VIRTIO_BIT(VIRTIO_BLK_F_DISCARD))) {
		cr_expect_eq(st, VIRTIO_BLK_S_UNSUPP);
		return;
	}
	cr_expect_eq(st, VIRTIO_BLK_S_OK);
	expect_zeros(16 * 512, 16 * 512);
	struct stat sb;
	cr_assert_eq(stat(path, &sb), 0);
	cr_expect_eq(sb.st_size, FILE_SIZE);
	/* 5.2.6.2: discard with the unmap flag is unsupported. */
	s = dz_seg(16, 16, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	cr_expect_eq(simple(VIRTIO_BLK_T_DISCARD, 0, s, 16, false, NULL), VIRTIO_BLK_S_UNSUPP);
}

Test(vblk, discard_write_zeroes_bad_segments)
{
	uint64_t s = dz_seg(FILE_SIZE / 512 - 1, 2, 0);
	cr_expect_eq(simple(VIRTIO_BLK_T_WRITE_ZEROES, 0, s, 16, false, NULL), VIRTIO_BLK_S_IOERR);
	s = dz_seg(0, 1, 0x80);
	cr_expect_eq(simple(VIRTIO_BLK_T_WRITE_ZEROES, 0, s, 16, false, NULL), VIRTIO_BLK_S_UNSUPP);
	s = dz_seg(0, 1, 0);
	cr_expect_eq(simple(VIRTIO_BLK_T_WRITE_ZEROES, 0, s, 12, false, NULL), VIRTIO_BLK_S_IOERR);
	s = dz_seg(UINT64_MAX - 1, 4, 0);
	cr_expect_eq(simple(VIRTIO_BLK_T_WRITE_ZEROES, 0, s, 16, false, NULL), VIRTIO_BLK_S_IOERR);
}

Test(vblk, unknown_type_unsupported)
{
	cr_expect_eq(simple(0x77, 0, 0, 0, false, NULL), VIRTIO_BLK_S_UNSUPP);
	cr_expect_eq(vblk_stats(dev)->unsupported, 1);
}

Test(vblk, no_status_byte_is_dropped)
{
	uint64_t d = tguest_alloc(&bed.g, 512);
	struct seg s[2] = { { hdr(VIRTIO_BLK_T_IN, 0), 16, false }, { d, 512, false } };
	cr_expect_eq(run_chain(s, 2), 0);
	cr_expect_eq(vblk_stats(dev)->invalid, 1);
	struct seg s2[1] = { { d, 8, false } };
	cr_expect_eq(run_chain(s2, 1), 0);
	cr_expect_eq(vblk_stats(dev)->invalid, 2);
}

Test(vblk, many_requests_in_one_kick)
{
	struct tq *q = &bed.g.q[0];
	for (uint16_t r = 0; r < 8; r++) {
		uint64_t d = tguest_alloc(&bed.g, 512), st = tguest_alloc(&bed.g, 1);
		uint16_t base = (uint16_t)(r * 3);
		tq_desc(q, base, hdr(VIRTIO_BLK_T_IN, r), 16, VRING_DESC_F_NEXT, (uint16_t)(base + 1));
		tq_desc(q, (uint16_t)(base + 1), d, 512, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT,
			(uint16_t)(base + 2));
		tq_desc(q, (uint16_t)(base + 2), st, 1, VRING_DESC_F_WRITE, 0);
		tq_post(q, base);
	}
	tbed_kick(&bed, 0);
	uint32_t id, len;
	for (int r = 0; r < 8; r++) {
		cr_assert(tq_used(q, &id, &len));
		cr_expect_eq(len, 513);
	}
	cr_expect_not(tq_used(q, &id, &len));
	cr_expect_eq(dev->stats.interrupts, 1);
}

Test(vblk, read_only_drive)
{
	tbed_fini(&bed);
	open_drive(true, CONFIG_CACHE_WRITEBACK);
	cr_expect(dev->features & VIRTIO_BIT(VIRTIO_BLK_F_RO));
	cr_expect_not(dev->features & VIRTIO_BIT(VIRTIO_BLK_F_FLUSH));
	cr_expect_not(dev->features & VIRTIO_BIT(VIRTIO_BLK_F_DISCARD));
	cr_expect_not(dev->features & VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES));
	uint64_t d = tguest_alloc(&bed.g, 512);
	memset(tguest_ptr(&bed.g, d, 512), 0x11, 512);
	cr_expect_eq(simple(VIRTIO_BLK_T_OUT, 0, d, 512, false, NULL), VIRTIO_BLK_S_IOERR);
	uint8_t back;
	file_read(0, &back, 1);
	cr_expect_eq(back, pattern(0));
	uint64_t s = dz_seg(0, 8, 0);
	cr_expect_eq(simple(VIRTIO_BLK_T_WRITE_ZEROES, 0, s, 16, false, NULL), VIRTIO_BLK_S_IOERR);
	cr_expect_eq(simple(VIRTIO_BLK_T_DISCARD, 0, s, 16, false, NULL), VIRTIO_BLK_S_IOERR);
	expect_zeros(0, 0);
	file_read(0, &back, 1);
	cr_expect_eq(back, pattern(0));
	/* Reads still work. */
	cr_expect_eq(simple(VIRTIO_BLK_T_IN, 0, d, 512, true, NULL), VIRTIO_BLK_S_OK);
	cr_expect_eq(*(uint8_t *)tguest_ptr(&bed.g, d, 1), pattern(0));
}

Test(vblk, unsafe_cache_does_not_offer_flush_but_acks_it)
{
	tbed_fini(&bed);
	open_drive(false, CONFIG_CACHE_UNSAFE);
	cr_expect_not(dev->features & VIRTIO_BIT(VIRTIO_BLK_F_FLUSH));
	cr_expect_eq(simple(VIRTIO_BLK_T_FLUSH, 0, 0, 0, false, NULL), VIRTIO_BLK_S_OK);
}

Test(vblk, missing_file_refused)
{
	struct config_drive d = { .drive_id = "x", .path_on_host = "/nonexistent/ember-disk" };
	struct virtio_dev *x;
	struct errbuf err;
	cr_expect_lt(vblk_create(&d, &x, &err), 0);
	cr_expect(strstr(err.msg, "/nonexistent/ember-disk"));
}

Test(vblk, update_path_changes_capacity_and_data)
{
	char p2[64];
	strcpy(p2, "/tmp/ember-vblk2-XXXXXX");
	int fd = mkstemp(p2);
	cr_assert_geq(fd, 0);
	uint8_t sector[512];
	memset(sector, 0x77, sizeof(sector));
	for (int i = 0; i < 4096; i++) /* 2 MiB */
		cr_assert_eq(write(fd, sector, sizeof(sector)), 512);
	close(fd);
	uint32_t gen = tmmio_rd(bed.t, 0xfc);
	struct errbuf err;
	cr_assert_eq(vblk_update_path(dev, p2, &err), 0, "%s", err.msg);
	uint64_t cap;
	virtio_mmio_read(bed.t, 0x100, &cap, 8);
	cr_expect_eq(cap, 4096);
	cr_expect_eq(tmmio_rd(bed.t, 0xfc), gen + 1);
	cr_expect(tmmio_rd(bed.t, 0x60) & 2); /* config-change interrupt */
	uint64_t d = tguest_alloc(&bed.g, 512);
	cr_expect_eq(simple(VIRTIO_BLK_T_IN, 3000, d, 512, true, NULL), VIRTIO_BLK_S_OK);
	cr_expect_eq(*(uint8_t *)tguest_ptr(&bed.g, d, 1), 0x77);
	/* A path that does not open leaves the drive as it was. */
	cr_expect_lt(vblk_update_path(dev, "/nonexistent/x", &err), 0);
	cr_expect_eq(simple(VIRTIO_BLK_T_IN, 3000, d, 512, true, NULL), VIRTIO_BLK_S_OK);
	unlink(p2);
}

/* --- snapshot --- */

static uint8_t sblob[1024];
static int sblob_len;

/* A new VMM process: the drive opened again from the configuration, on a
 * transport no driver has touched (the old one is gone). */
static void reopen_drive(bool ro, enum config_cache_type cache)
{
	if (bed.t)
		tbed_drop(&bed);
	struct config_drive d = {
		.drive_id = "test", .path_on_host = path, .is_read_only = ro, .cache_type = cache,
	};
	struct errbuf err;
	cr_assert_eq(vblk_create(&d, &dev, &err), 0, "%s", err.msg);
	tbed_attach(&bed, dev);
}

static void save_and_reopen(void)
{
	sblob_len = tbed_save(&bed, sblob, sizeof(sblob));
	reopen_drive(false, CONFIG_CACHE_WRITEBACK);
}

static int restore_sblob(void)
{
	return virtio_mmio_restore(bed.t, sblob, (size_t)sblob_len);
}

Test(vblk, snapshot_round_trip)
{
	struct tq *q = &bed.g.q[0];
	uint64_t d = tguest_alloc(&bed.g, 512), r = tguest_alloc(&bed.g, 512);
	memset(tguest_ptr(&bed.g, d, 512), 0x5c, 512);
	cr_assert_eq(simple(VIRTIO_BLK_T_OUT, 3, d, 512, false, NULL), VIRTIO_BLK_S_OK);
	cr_assert_eq(simple(VIRTIO_BLK_T_IN, 3, r, 512, true, NULL), VIRTIO_BLK_S_OK);
	/* One more read, notified but not yet seen by the VMM thread. */
	uint64_t r2 = tguest_alloc(&bed.g, 512), st = tguest_alloc(&bed.g, 1);
	tq_desc(q, 10, hdr(VIRTIO_BLK_T_IN, 3), 16, VRING_DESC_F_NEXT, 11);
	tq_desc(q, 11, r2, 512, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 12);
	tq_desc(q, 12, st, 1, VRING_DESC_F_WRITE, 0);
	tq_post(q, 10);
	tmmio_wr(bed.t, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	tmmio_wr(bed.t, VIRTIO_MMIO_INTERRUPT_ACK, 3);
	cr_assert_eq(tq_used_idx(q), 2);
	tq_set_used_event(q, 2); /* EVENT_IDX: the driver saw both */

	save_and_reopen();
	cr_assert_eq(restore_sblob(), 0);
	cr_expect_eq(tq_used_idx(q), 2, "restore itself runs no request");
	thub_pump(&bed.hub);
	uint32_t id, len;
	cr_assert(tq_used(q, &id, &len));
	cr_expect_eq(id, 10);
	cr_expect_eq(len, 513);
	cr_expect_eq(*(uint8_t *)tguest_ptr(&bed.g, st, 1), VIRTIO_BLK_S_OK);
	uint8_t *p = tguest_ptr(&bed.g, r2, 512);
	for (int i = 0; i < 512; i++)
		cr_assert_eq(p[i], 0x5c);
	cr_expect_not(tq_used(q, &id, &len), "completed once");
	cr_expect(bed.irq.level);
	/* And the next request at the next used index. */
	uint64_t w = tguest_alloc(&bed.g, 512);
	memset(tguest_ptr(&bed.g, w, 512), 0x6d, 512);
	cr_expect_eq(simple(VIRTIO_BLK_T_OUT, 9, w, 512, false, NULL), VIRTIO_BLK_S_OK);
	cr_expect_eq(tq_used_idx(q), 4);
	uint8_t back[512];
	file_read(9 * 512, back, sizeof(back));
	cr_expect_eq(back[0], 0x6d);
	cr_expect_eq(back[511], 0x6d);
	uint64_t cap;
	virtio_mmio_read(bed.t, 0x100, &cap, 8);
	cr_expect_eq(cap, FILE_SIZE / 512);
}

Test(vblk, snapshot_needs_the_saved_capacity)
{
	sblob_len = tbed_save(&bed, sblob, sizeof(sblob));
	cr_assert_eq(truncate(path, FILE_SIZE - 512), 0);
	reopen_drive(false, CONFIG_CACHE_WRITEBACK);
	cr_expect_eq(restore_sblob(), -EINVAL);
	cr_expect_eq(tmmio_rd(bed.t, VIRTIO_MMIO_STATUS), 0);
	/* A bigger file is fine; the guest keeps the size it was told. */
	cr_assert_eq(truncate(path, 2 * FILE_SIZE), 0);
	reopen_drive(false, CONFIG_CACHE_WRITEBACK);
	cr_assert_eq(restore_sblob(), 0);
	uint64_t cap;
	virtio_mmio_read(bed.t, 0x100, &cap, 8);
	cr_expect_eq(cap, FILE_SIZE / 512);
	uint64_t d = tguest_alloc(&bed.g, 512);
	cr_expect_eq(simple(VIRTIO_BLK_T_IN, FILE_SIZE / 512, d, 512, true, NULL),
		     VIRTIO_BLK_S_IOERR);
}

Test(vblk, snapshot_blob_checked)
{
	uint64_t d = tguest_alloc(&bed.g, 512);
	cr_assert_eq(simple(VIRTIO_BLK_T_IN, 1, d, 512, true, NULL), VIRTIO_BLK_S_OK);
	save_and_reopen();
	tblob_truncations(&bed, sblob, sblob_len);
	tblob_device_flips_refused(&bed, sblob, sblob_len);
	/* The device's own part, straight: version and configured flags. */
	struct virtio_mmio_state h;
	memcpy(&h, sblob, sizeof(h));
	cr_assert_eq(h.dev_len, sizeof(struct vblk_state));
	struct vblk_state st;
	memcpy(&st, sblob + sizeof(h) + h.config_len, sizeof(st));
	cr_expect_eq(st.version, VBLK_STATE_VERSION);
	cr_expect_eq(st.flags, VBLK_STATE_WRITEBACK);
	cr_expect_eq(st.nsectors, FILE_SIZE / 512);
	struct vblk_state bad = st;
	bad.version = 2;
	cr_expect_eq(dev->ops->restore(dev, &bad, sizeof(bad)), -EINVAL);
	bad = st;
	bad.flags = VBLK_STATE_WRITEBACK | 4;
	cr_expect_eq(dev->ops->restore(dev, &bad, sizeof(bad)), -EINVAL);
	bad = st;
	bad.nsectors = FILE_SIZE / 512 + 1;
	cr_expect_eq(dev->ops->restore(dev, &bad, sizeof(bad)), -EINVAL);
	cr_expect_eq(dev->ops->restore(dev, &st, sizeof(st) + 1), -EINVAL);
	/* A drive configured otherwise is not the one saved. */
	reopen_drive(true, CONFIG_CACHE_WRITEBACK);
	cr_expect_eq(dev->ops->restore(dev, &st, sizeof(st)), -EINVAL);
	cr_expect_eq(restore_sblob(), -EINVAL);
	reopen_drive(false, CONFIG_CACHE_UNSAFE);
	cr_expect_eq(restore_sblob(), -EINVAL);
	reopen_drive(false, CONFIG_CACHE_WRITEBACK);
	cr_expect_eq(restore_sblob(), 0);
}
