/* runtime/backend/tcg/dirty.c: the page bitmap, harvested per memory slot. */
#include <criterion/criterion.h>
#include <string.h>

#include "runtime/backend/tcg/dirty.h"

static bool is_marked(const struct tcg_dirty *d, uint64_t pg)
{
	return d->bits[pg / 64] & (1ULL << (pg % 64));
}

Test(tcg_dirty, harvest_a_slot_that_does_not_start_on_a_word)
{
	struct tcg_dirty d;
	uint64_t bitmap[16];
	static const uint64_t pages[] = { 99, 100, 163, 164, 500, 1099, 1100, 4999 };
	cr_assert_eq(tcg_dirty_init(&d, 5000 * 4096ULL - 100), 0, "a partial last page counts");
	cr_assert_eq(d.nr_pages, 5000);
	for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++)
		tcg_dirty_mark(&d, pages[i] * 4096 + 12);
	tcg_dirty_mark(&d, 5000 * 4096ULL); /* past the end: ignored */
	tcg_dirty_mark(NULL, 0);             /* not tracking */

	memset(bitmap, 0, sizeof(bitmap));
	bitmap[15] = 1ULL << 63; /* ORed into, not overwritten */
	tcg_dirty_harvest(&d, 100 * 4096, 1000 * 4096, bitmap);
	cr_assert_eq(bitmap[0], 1ULL | 1ULL << 63);
	cr_assert_eq(bitmap[1], 1ULL);
	cr_assert_eq(bitmap[400 / 64], 1ULL << (400 % 64));
	cr_assert_eq(bitmap[999 / 64], 1ULL << (999 % 64) | (999 / 64 == 15 ? 1ULL << 63 : 0));
	unsigned n = 0;
	for (int i = 0; i < 16; i++)
		n += (unsigned)__builtin_popcountll(bitmap[i]);
	cr_assert_eq(n, 6, "five pages in the slot and the bit that was there");
	cr_assert(is_marked(&d, 99) && is_marked(&d, 1100) && is_marked(&d, 4999), "outside kept");
	for (uint64_t pg = 100; pg < 1100; pg++)
		cr_assert_not(is_marked(&d, pg), "page %lu cleared", (unsigned long)pg);

	memset(bitmap, 0, sizeof(bitmap));
	tcg_dirty_harvest(&d, 100 * 4096, 1000 * 4096, bitmap);
	for (int i = 0; i < 16; i++)
		cr_assert_eq(bitmap[i], 0, "a second harvest is empty");
	/* A slot running past the tracked memory. */
	uint64_t tail[2] = { 0, 0 };
	tcg_dirty_harvest(&d, 4990 * 4096ULL, 100 * 4096, tail);
	cr_assert_eq(tail[0], 1ULL << 9);
	tcg_dirty_free(&d);
}
