/* The dirty page tracker; see dirty.h. The backend op is dirty_log.c. */
#include "runtime/backend/tcg/dirty.h"

#include <errno.h>
#include <stdlib.h>

int tcg_dirty_init(struct tcg_dirty *d, uint64_t mem_end)
{
	d->nr_pages = (mem_end + 4095) / 4096;
	d->bits = calloc((d->nr_pages + 63) / 64, sizeof(uint64_t));
	return d->bits ? 0 : -ENOMEM;
}

void tcg_dirty_free(struct tcg_dirty *d)
{
	free(d->bits);
	d->bits = NULL;
	d->nr_pages = 0;
}

/* Takes (reads and clears) n <= 64 bits from page first on. */
static uint64_t take(struct tcg_dirty *d, uint64_t first, unsigned n)
{
	uint64_t got = 0;
	for (unsigned done = 0; done < n && first + done < d->nr_pages;) {
		uint64_t pg = first + done;
		unsigned off = pg % 64, k = 64 - off < n - done ? 64 - off : n - done;
		uint64_t mask = (k == 64 ? ~0ULL : ((1ULL << k) - 1)) << off;
		uint64_t old = __atomic_fetch_and(&d->bits[pg / 64], ~mask, __ATOMIC_RELAXED);
		got |= ((old & mask) >> off) << done;
		done += k;
	}
	return got;
}

void tcg_dirty_harvest(struct tcg_dirty *d, uint64_t gpa, uint64_t size, uint64_t *bitmap)
{
	uint64_t first = gpa / 4096, n = size / 4096;
	for (uint64_t i = 0; i < n && first + i < d->nr_pages; i += 64)
		bitmap[i / 64] |= take(d, first + i, n - i < 64 ? (unsigned)(n - i) : 64);
}
