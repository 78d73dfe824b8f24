#include "runtime/base/gmem.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

static void gm_layout(struct guest_mem *mem, uint8_t *host, uint64_t size)
{
	uint64_t low = size < GM_MMIO_HOLE_START ? size : GM_MMIO_HOLE_START;

	memset(mem, 0, sizeof(*mem));
	mem->regions[0] = (struct gm_region){ .gpa = 0, .size = low, .host = host };
	mem->nr_regions = 1;
	if (size > low) {
		mem->regions[1] = (struct gm_region){
			.gpa = GM_MMIO_HOLE_END, .size = size - low, .host = host + low
		};
		mem->nr_regions = 2;
	}
	mem->total = size;
}

int gm_adopt(struct guest_mem *mem, uint8_t *host, uint64_t size)
{
	if (!host || size == 0 || size % 4096)
		return -EINVAL;
	gm_layout(mem, host, size);
	return 0;
}

int gm_alloc(struct guest_mem *mem, uint64_t size)
{
	if (size == 0 || size % 4096 || size > (1ULL << 46))
		return -EINVAL;
	/* MAP_NORESERVE: a guest touches only what it uses, and the benchmark
	 * counts resident pages, not reservations. */
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	madvise(p, size, MADV_MERGEABLE);
	gm_layout(mem, p, size);
	mem->untouched_is_zero = true;
	return 0;
}

int gm_map_file(struct guest_mem *mem, int fd, uint64_t size)
{
	if (size == 0 || size % 4096 || size > (1ULL << 46))
		return -EINVAL;
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	gm_layout(mem, p, size);
	return 0;
}

void gm_free(struct guest_mem *mem)
{
	if (mem->nr_regions)
		munmap(mem->regions[0].host, mem->total);
	memset(mem, 0, sizeof(*mem));
}

void *gm_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	if (len == 0)
		return NULL;
	for (unsigned i = 0; i < mem->nr_regions; i++) {
		const struct gm_region *r = &mem->regions[i];
		if (gpa < r->gpa)
			continue;
		uint64_t off = gpa - r->gpa;
		/* off < size first, so size - off cannot underflow. */
		if (off < r->size && len <= r->size - off)
			return r->host + off;
	}
	return NULL;
}

int gm_read(const struct guest_mem *mem, uint64_t gpa, void *dst, uint64_t len)
{
	void *p = gm_ptr(mem, gpa, len);
	if (!p)
		return -EFAULT;
	memcpy(dst, p, len);
	return 0;
}

int gm_write(const struct guest_mem *mem, uint64_t gpa, const void *src, uint64_t len)
{
	void *p = gm_ptr(mem, gpa, len);
	if (!p)
		return -EFAULT;
	memcpy(p, src, len);
	return 0;
}

uint64_t gm_end(const struct guest_mem *mem)
{
	if (!mem->nr_regions)
		return 0;
	const struct gm_region *r = &mem->regions[mem->nr_regions - 1];
	return r->gpa + r->size;
}
