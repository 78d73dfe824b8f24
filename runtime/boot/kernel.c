/* Bounded file I/O into guest memory for the format loaders: every size
 * comes from an untrusted image, so reads are exact and chunked. */
#include "runtime/boot/kernel.h"

#include <errno.h>
#include <unistd.h>

/* One pread moves at most this much, so a size never overflows ssize_t. */
#define LOADER_IO_CHUNK (1ULL << 30)

int loader_pread_full(int fd, void *buf, uint64_t len, uint64_t off)
{
	uint8_t *p = buf;

	while (len) {
		size_t n = len < LOADER_IO_CHUNK ? (size_t)len : (size_t)LOADER_IO_CHUNK;
		ssize_t r = pread(fd, p, n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO; /* the file shrank after we sized it */
		p += r;
		off += (uint64_t)r;
		len -= (uint64_t)r;
	}
	return 0;
}

int loader_copy_to_guest(struct guest_mem *mem, int fd, uint64_t off, uint64_t gpa, uint64_t len)
{
	if (len == 0)
		return 0;
	void *dst = gm_ptr(mem, gpa, len);
	if (!dst)
		return -EFAULT;
	return loader_pread_full(fd, dst, len, off);
}

uint64_t loader_low_end(const struct guest_mem *mem)
{
	if (!mem->nr_regions || mem->regions[0].gpa != 0)
		return 0;
	return mem->regions[0].size;
}
