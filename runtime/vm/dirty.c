#include "runtime/vm/dirty.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint64_t words_for(uint64_t pages)
{
	return (pages + 63) / 64;
}

int vm_dirty_init(struct vm_dirty *d, const struct guest_mem *mem, bool all)
{
	memset(d, 0, sizeof(*d));
	uint64_t most = 0;
	for (unsigned i = 0; i < mem->nr_regions; i++) {
		d->nr_pages[i] = mem->regions[i].size / VM_PAGE_SIZE;
		uint64_t words = words_for(d->nr_pages[i]);
		d->bits[i] = calloc(words ? words : 1, sizeof(uint64_t));
		if (!d->bits[i]) {
			vm_dirty_free(d);
			return -ENOMEM;
		}
		if (all)
			for (uint64_t p = 0; p < d->nr_pages[i]; p++)
				d->bits[i][p / 64] |= 1ULL << (p % 64);
		if (words > most)
			most = words;
	}
	d->scratch = calloc(most ? most : 1, sizeof(uint64_t));
	if (!d->scratch) {
		vm_dirty_free(d);
		return -ENOMEM;
	}
	d->scratch_words = most;
	d->on = true;
	return 0;
}

void vm_dirty_free(struct vm_dirty *d)
{
	for (unsigned i = 0; i < GM_MAX_REGIONS; i++)
		free((void *)d->bits[i]);
	free(d->scratch);
	memset(d, 0, sizeof(*d));
}

void vm_dirty_mark(struct vm_dirty *d, const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	if (!d->on || len == 0)
		return;
	for (unsigned i = 0; i < mem->nr_regions; i++) {
		const struct gm_region *r = &mem->regions[i];
		if (gpa < r->gpa || gpa - r->gpa >= r->size)
			continue;
		uint64_t off = gpa - r->gpa;
		uint64_t end = len > r->size - off ? r->size : off + len;
		for (uint64_t p = off / VM_PAGE_SIZE; p * VM_PAGE_SIZE < end; p++)
			atomic_fetch_or(&d->bits[i][p / 64], 1ULL << (p % 64));
		return;
	}
}

int vm_dirty_collect(struct vm_dirty *d, const struct backend_ops *be, struct backend_vm *bvm)
{
	if (!d->on)
		return -EINVAL;
	if (!be->dirty_log)
		return -ENOTSUP;
	for (unsigned i = 0; i < GM_MAX_REGIONS && d->bits[i]; i++) {
		uint64_t words = words_for(d->nr_pages[i]);
		memset(d->scratch, 0, words * sizeof(uint64_t));
		int r = be->dirty_log(bvm, i, d->scratch);
		if (r < 0)
			return r;
		for (uint64_t w = 0; w < words; w++)
			if (d->scratch[w])
				atomic_fetch_or(&d->bits[i][w], d->scratch[w]);
	}
	return 0;
}

bool vm_dirty_test(const struct vm_dirty *d, unsigned region, uint64_t page)
{
	if (region >= GM_MAX_REGIONS || !d->bits[region] || page >= d->nr_pages[region])
		return false;
	return (atomic_load(&d->bits[region][page / 64]) >> (page % 64)) & 1;
}

void vm_dirty_clear(struct vm_dirty *d)
{
	for (unsigned i = 0; i < GM_MAX_REGIONS && d->bits[i]; i++)
		for (uint64_t w = 0; w < words_for(d->nr_pages[i]); w++)
			atomic_store(&d->bits[i][w], 0);
}
