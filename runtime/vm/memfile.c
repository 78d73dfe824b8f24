#include "runtime/vm/memfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One pwrite covers at most this much of a run of pages to write. */
#define MEMFILE_RUN_MAX (1ULL << 20)

/* Which pages the host has never backed: /proc/self/pagemap's present (63)
 * and swapped (62) bits. Only asked where such a page reads as zeros
 * (guest_mem.untouched_is_zero): in a restored VM it holds the memory
 * file's data. Skipping them spares reading, and faulting in, every page
 * of a large guest that used little of its memory. */
struct pagemap {
	int fd;
};

static bool page_untouched(struct pagemap *pm, const uint8_t *host)
{
	if (pm->fd < 0)
		return false;
	uint64_t entry;
	off_t off = (off_t)((uintptr_t)host / VM_PAGE_SIZE * sizeof(entry));
	if (pread(pm->fd, &entry, sizeof(entry), off) != (ssize_t)sizeof(entry))
		return false;
	return !(entry >> 62);
}

static bool page_is_zero(const uint8_t *p)
{
	static const uint8_t zero[VM_PAGE_SIZE];
	return memcmp(p, zero, VM_PAGE_SIZE) == 0;
}

static int write_all(int fd, const uint8_t *buf, uint64_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, buf, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		buf += n;
		len -= (uint64_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* Whether page p of region i goes into the file. */
static bool page_wanted(const struct gm_region *g, unsigned i, uint64_t p,
			const struct vm_dirty *dirty, struct pagemap *pm)
{
	const uint8_t *host = g->host + p * VM_PAGE_SIZE;
	if (dirty)
		return vm_dirty_test(dirty, i, p);
	return !page_untouched(pm, host) && !page_is_zero(host);
}

static int write_region(int fd, const struct gm_region *g, unsigned i, uint64_t file_off,
			const struct vm_dirty *dirty, struct pagemap *pm, uint64_t *written)
{
	uint64_t pages = g->size / VM_PAGE_SIZE;
	for (uint64_t p = 0; p < pages;) {
		if (!page_wanted(g, i, p, dirty, pm)) {
			p++;
			continue;
		}
		uint64_t start = p++;
		while (p < pages && (p - start) * VM_PAGE_SIZE < MEMFILE_RUN_MAX &&
		       page_wanted(g, i, p, dirty, pm))
			p++;
		uint64_t len = (p - start) * VM_PAGE_SIZE;
		int r = write_all(fd, g->host + start * VM_PAGE_SIZE, len,
				  file_off + start * VM_PAGE_SIZE);
		if (r < 0)
			return r;
		*written += len;
	}
	return 0;
}

static int write_file(int fd, const struct guest_mem *mem, const struct vm_dirty *dirty,
		      uint64_t *written)
{
	struct pagemap pm = { -1 };
	if (mem->untouched_is_zero)
		pm.fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	int r = ftruncate(fd, (off_t)mem->total) < 0 ? -errno : 0;
	uint64_t file_off = 0;
	for (unsigned i = 0; r == 0 && i < mem->nr_regions; i++) {
		r = write_region(fd, &mem->regions[i], i, file_off, dirty, &pm, written);
		file_off += mem->regions[i].size;
	}
	if (r == 0 && fdatasync(fd) < 0)
		r = -errno;
	if (pm.fd >= 0)
		close(pm.fd);
	return r;
}

/* Written beside path, then renamed over it: path never holds half a
 * file, and a memory file this VM was restored from (mapped private: its
 * untouched pages are still the file's) is replaced, not truncated under
 * the mapping, which would make reading those pages fault. */
int vm_memfile_write(const struct guest_mem *mem, const struct vm_dirty *dirty,
		     const char *path, uint64_t *written, struct errbuf *err)
{
	char tmp[4096];
	*written = 0;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return err_set(err, -ENAMETOOLONG, "memory file %s: name too long", path);
	unlink(tmp);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_set(err, -errno, "memory file %s: %s", path, strerror(errno));
	int r = write_file(fd, mem, dirty, written);
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return err_set(err, r, "memory file %s: %s", path, strerror(-r));
	}
	return 0;
}
