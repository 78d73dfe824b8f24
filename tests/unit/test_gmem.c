/* Guest-memory bounds: every way a guest address range can miss RAM. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "runtime/base/gmem.h"

#define MIB (1ULL << 20)

static uint8_t lo_buf[2 * 4096], hi_buf[4096];

/* Two small regions, one below the hole and one at 4 GiB, over static
 * buffers: exercises gm_ptr's arithmetic without big mappings. */
static struct guest_mem gmem_two(void)
{
	struct guest_mem m = { .nr_regions = 2, .total = sizeof(lo_buf) + sizeof(hi_buf) };
	m.regions[0] = (struct gm_region){ .gpa = 0, .size = sizeof(lo_buf), .host = lo_buf };
	m.regions[1] = (struct gm_region){ .gpa = GM_MMIO_HOLE_END, .size = sizeof(hi_buf),
					   .host = hi_buf };
	return m;
}

Test(gmem, first_and_last_byte)
{
	struct guest_mem m = gmem_two();
	cr_assert_eq(gm_ptr(&m, 0, 1), lo_buf);
	cr_assert_eq(gm_ptr(&m, sizeof(lo_buf) - 1, 1), lo_buf + sizeof(lo_buf) - 1);
	cr_assert_eq(gm_ptr(&m, 0, sizeof(lo_buf)), lo_buf);
	cr_assert_null(gm_ptr(&m, sizeof(lo_buf), 1), "one past the end");
	cr_assert_null(gm_ptr(&m, sizeof(lo_buf) - 1, 2), "last byte plus one");
	cr_assert_null(gm_ptr(&m, 0, sizeof(lo_buf) + 1));
	cr_assert_eq(gm_ptr(&m, GM_MMIO_HOLE_END + sizeof(hi_buf) - 1, 1),
		     hi_buf + sizeof(hi_buf) - 1);
	cr_assert_eq(gm_end(&m), GM_MMIO_HOLE_END + sizeof(hi_buf));
}

Test(gmem, zero_length_refused)
{
	struct guest_mem m = gmem_two();
	uint8_t b = 0;
	cr_assert_null(gm_ptr(&m, 0, 0));
	cr_assert_eq(gm_read(&m, 0, &b, 0), -EFAULT);
	cr_assert_eq(gm_write(&m, 0, &b, 0), -EFAULT);
}

Test(gmem, wrapping_ranges)
{
	struct guest_mem m = gmem_two();
	cr_assert_null(gm_ptr(&m, UINT64_MAX, 1));
	cr_assert_null(gm_ptr(&m, UINT64_MAX, 2), "gpa + len wraps to 0");
	cr_assert_null(gm_ptr(&m, 16, UINT64_MAX), "len wraps past gpa 0");
	cr_assert_null(gm_ptr(&m, GM_MMIO_HOLE_END + 16, UINT64_MAX - 15));
	cr_assert_null(gm_ptr(&m, 1, UINT64_MAX));
}

Test(gmem, hole_and_across_regions)
{
	struct guest_mem m = gmem_two();
	cr_assert_null(gm_ptr(&m, sizeof(lo_buf), 1), "gap after low RAM");
	cr_assert_null(gm_ptr(&m, GM_MMIO_HOLE_START, 1));
	cr_assert_null(gm_ptr(&m, GM_MMIO_HOLE_END - 1, 2), "straddles the hole end");
	cr_assert_null(gm_ptr(&m, sizeof(lo_buf) - 4, GM_MMIO_HOLE_END),
		       "spans both regions");
	cr_assert_eq(gm_ptr(&m, GM_MMIO_HOLE_END, 1), hi_buf);
}

Test(gmem, read_write_all_or_nothing)
{
	struct guest_mem m = gmem_two();
	uint8_t src[16], dst[16];

	memset(lo_buf, 0x11, sizeof(lo_buf));
	memset(src, 0xee, sizeof(src));
	cr_assert_eq(gm_write(&m, sizeof(lo_buf) - 8, src, sizeof(src)), -EFAULT);
	for (size_t i = 0; i < sizeof(lo_buf); i++)
		cr_assert_eq(lo_buf[i], 0x11, "partial write at %zu", i);
	cr_assert_eq(gm_write(&m, sizeof(lo_buf) - 16, src, sizeof(src)), 0);
	cr_assert_eq(gm_read(&m, sizeof(lo_buf) - 16, dst, sizeof(dst)), 0);
	cr_assert_arr_eq(dst, src, sizeof(dst));
	memset(dst, 0x55, sizeof(dst));
	cr_assert_eq(gm_read(&m, sizeof(lo_buf) - 8, dst, sizeof(dst)), -EFAULT);
	for (size_t i = 0; i < sizeof(dst); i++)
		cr_assert_eq(dst[i], 0x55, "failed read touched dst[%zu]", i);
}

Test(gmem, alloc_layout_around_hole)
{
	struct guest_mem m;
	/* MAP_NORESERVE: 3 GiB + 8 MiB of address space, nothing touched. */
	cr_assert_eq(gm_alloc(&m, GM_MMIO_HOLE_START + 8 * MIB), 0);
	cr_assert_eq(m.nr_regions, 2);
	cr_assert_eq(m.regions[0].size, GM_MMIO_HOLE_START);
	cr_assert_eq(m.regions[1].gpa, GM_MMIO_HOLE_END);
	cr_assert_eq(m.regions[1].size, 8 * MIB);
	cr_assert_eq(gm_end(&m), GM_MMIO_HOLE_END + 8 * MIB);
	cr_assert_null(gm_ptr(&m, GM_MMIO_HOLE_START - 4, 8));
	cr_assert_not_null(gm_ptr(&m, GM_MMIO_HOLE_START - 4, 4));
	cr_assert_not_null(gm_ptr(&m, GM_MMIO_HOLE_END + 8 * MIB - 1, 1));
	cr_assert_null(gm_ptr(&m, GM_MMIO_HOLE_END + 8 * MIB, 1));
	gm_free(&m);

	cr_assert_eq(gm_alloc(&m, GM_MMIO_HOLE_START), 0, "exactly 3 GiB");
	cr_assert_eq(m.nr_regions, 1);
	cr_assert_eq(gm_end(&m), GM_MMIO_HOLE_START);
	gm_free(&m);
	cr_assert_eq(gm_alloc(&m, 0), -EINVAL);
	cr_assert_eq(gm_alloc(&m, 4097), -EINVAL);
}
