/* Guest physical memory. Nothing else turns a guest address into a host
 * pointer: every access is checked against the regions, overflow included. */
#ifndef EMBER_GMEM_H
#define EMBER_GMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* x86 layout: RAM from 0 up to the 32-bit MMIO hole, the rest above 4 GiB. */
#define GM_MMIO_HOLE_START 0xC0000000ULL
#define GM_MMIO_HOLE_END 0x100000000ULL
#define GM_MAX_REGIONS 2

struct gm_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *host;
};

struct guest_mem {
	struct gm_region regions[GM_MAX_REGIONS];
	unsigned nr_regions;
	uint64_t total; /* bytes of RAM, all regions */
	/* A page the host never backed reads as zeros (fresh anonymous
	 * memory), rather than as a file's or a page-fault handler's data. */
	bool untouched_is_zero;
};

/* Allocates `size` bytes of anonymous, private memory split around the
 * MMIO hole. size must be a non-zero multiple of 4 KiB. Returns 0 or -errno. */
int gm_alloc(struct guest_mem *mem, uint64_t size);
/* Adopts an existing mapping as the whole guest memory (snapshot restore
 * maps the memory file itself); the layout is the same as gm_alloc's. */
int gm_adopt(struct guest_mem *mem, uint8_t *host, uint64_t size);
/* Maps `size` bytes of fd from offset 0 as the whole guest memory, private
 * (copy on write): pages come in from the file on first touch, and guests
 * restored from one file share its page cache. The fd may be closed after. */
int gm_map_file(struct guest_mem *mem, int fd, uint64_t size);
void gm_free(struct guest_mem *mem);

/* Host pointer for [gpa, gpa+len) if it lies entirely inside one region,
 * else NULL. len 0 is refused. */
void *gm_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len);
/* All-or-nothing copies. Return 0 or -EFAULT. */
int gm_read(const struct guest_mem *mem, uint64_t gpa, void *dst, uint64_t len);
int gm_write(const struct guest_mem *mem, uint64_t gpa, const void *src, uint64_t len);
/* Highest guest physical address + 1 that holds RAM. */
uint64_t gm_end(const struct guest_mem *mem);

#endif
