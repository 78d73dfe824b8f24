/* bzImage loader for the 64-bit boot protocol (Linux
 * Documentation/arch/x86/boot.rst, "The Real-Mode Kernel Header" and
 * "64-bit Boot Protocol"): only the protected-mode part is loaded; the
 * real-mode setup code never runs, its header goes into the zero page. */
#include "runtime/boot/bzimage.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "runtime/boot/layout.h"

#define BZ_HDR_OFFSET 0x1f1
#define BZ_MAGIC 0x53726448 /* "HdrS" at 0x202 */
/* xloadflags (and so XLF_KERNEL_64, the only way a kernel advertises the
 * 64-bit entry) exists from protocol 2.12; init_size/pref_address from 2.10. */
#define BZ_MIN_VERSION 0x020c
#define BZ_ENTRY64_OFFSET 0x200 /* "64-bit Boot Protocol": load address + 0x200 */

typedef unsigned long long ull;

static int bz_read_header(int fd, uint64_t file_size, struct loader_kernel *k,
			  struct errbuf *err)
{
	struct setup_header *h = &k->hdr;
	uint64_t avail = file_size - BZ_HDR_OFFSET;
	uint8_t jump_len;
	int ret;

	/* Magic and version are at 0x202/0x206; "jump" at 0x200 holds the
	 * header length: it ends at 0x202 + the byte at 0x201. */
	if (file_size < 0x208)
		return err_set(err, -ENOEXEC, "not a kernel image: %llu bytes, too short for an ELF or bzImage header",
			       (ull)file_size);
	if (avail > sizeof(*h))
		avail = sizeof(*h);
	ret = loader_pread_full(fd, h, avail, BZ_HDR_OFFSET);
	if (ret)
		return err_set(err, ret, "reading bzImage header: %s", strerror(-ret));
	if (h->header != BZ_MAGIC)
		return err_set(err, -ENOEXEC,
			       "not a kernel image: no ELF magic and no bzImage \"HdrS\" at 0x202");
	if (h->version < BZ_MIN_VERSION)
		return err_set(err, -ENOEXEC,
			       "bzImage boot protocol %u.%02u is too old (need %u.%02u for the 64-bit entry)",
			       h->version >> 8, h->version & 0xff, BZ_MIN_VERSION >> 8,
			       BZ_MIN_VERSION & 0xff);
	jump_len = (uint8_t)(h->jump >> 8);
	k->hdr_len = 0x202 + jump_len - BZ_HDR_OFFSET;
	/* Newer kernels may declare a longer header than the fields we know. */
	if (k->hdr_len > sizeof(*h))
		k->hdr_len = sizeof(*h);
	if (k->hdr_len > avail)
		return err_set(err, -ENOEXEC, "truncated bzImage: setup header ends past the file");
	/* Bytes past the declared header are not header: forget them. */
	memset((uint8_t *)h + k->hdr_len, 0, sizeof(*h) - k->hdr_len);
	if (k->hdr_len < offsetof(struct setup_header, handover_offset))
		return err_set(err, -ENOEXEC,
			       "corrupt bzImage: setup header of %zu bytes lacks init_size",
			       k->hdr_len);
	if (!(h->xloadflags & XLF_KERNEL_64))
		return err_set(err, -ENOEXEC,
			       "bzImage is not 64-bit capable (XLF_KERNEL_64 clear in xloadflags)");
	return 0;
}

/* [start, start+len) must be RAM at or above 1 MiB, in one region. */
static int bz_fits(const struct guest_mem *mem, uint64_t start, uint64_t len)
{
	return start >= LAYOUT_HIMEM && gm_ptr(mem, start, len) != NULL;
}

/* boot.rst, init_size: the kernel needs init_size bytes from its runtime
 * start, align_up(load, kernel_alignment) if relocatable, else pref_address. */
static int bz_place(const struct guest_mem *mem, const struct setup_header *h,
		    uint64_t need, uint64_t *load, struct errbuf *err)
{
	uint64_t pref = h->pref_address ? h->pref_address : LAYOUT_HIMEM;
	uint64_t align = h->kernel_alignment;

	if (!h->relocatable_kernel) {
		if (!bz_fits(mem, pref, need))
			return err_set(err, -ERANGE,
				       "non-relocatable bzImage needs [0x%llx, +0x%llx) of RAM; low RAM ends at 0x%llx",
				       (ull)pref, (ull)need, (ull)loader_low_end(mem));
		*load = pref;
		return 0;
	}
	if (align < 4096 || (align & (align - 1)) || align > (1ULL << 30))
		return err_set(err, -ENOEXEC, "corrupt bzImage: kernel_alignment 0x%llx",
			       (ull)align);
	/* Prefer pref_address (the kernel's link address: no relocation
	 * work), else the lowest aligned address above 1 MiB. */
	uint64_t cand[2] = { (pref + align - 1) & ~(align - 1),
			     (LAYOUT_HIMEM + align - 1) & ~(align - 1) };
	for (unsigned i = 0; i < 2; i++)
		if (bz_fits(mem, cand[i], need)) {
			*load = cand[i];
			return 0;
		}
	return err_set(err, -ERANGE,
		       "bzImage needs 0x%llx bytes at 0x%llx (init_size); low RAM ends at 0x%llx",
		       (ull)need, (ull)cand[1], (ull)loader_low_end(mem));
}

int loader_bzimage_load(struct guest_mem *mem, int fd, uint64_t file_size,
			struct loader_kernel *k, struct errbuf *err)
{
	struct setup_header *h = &k->hdr;
	uint64_t load = 0, need, low = loader_low_end(mem);
	int ret;

	memset(k, 0, sizeof(*k));
	ret = bz_read_header(fd, file_size, k, err);
	if (ret)
		return ret;
	/* setup_sects 0 means 4 (boot.rst, setup_sects); +1 for the boot sector. */
	uint64_t code_off = ((uint64_t)(h->setup_sects ? h->setup_sects : 4) + 1) * 512;
	if (code_off >= file_size || file_size - code_off <= BZ_ENTRY64_OFFSET)
		return err_set(err, -ENOEXEC,
			       "truncated bzImage: protected-mode code at 0x%llx, file has %llu bytes",
			       (ull)code_off, (ull)file_size);
	uint64_t code_size = file_size - code_off;
	/* syssize counts 16-byte paragraphs of protected-mode code (2.04+). */
	if ((uint64_t)h->syssize * 16 > code_size)
		return err_set(err, -ENOEXEC,
			       "truncated bzImage: header says %llu bytes of code, file has %llu",
			       (ull)h->syssize * 16, (ull)code_size);
	need = h->init_size > code_size ? h->init_size : code_size;
	ret = bz_place(mem, h, need, &load, err);
	if (ret)
		return ret;
	ret = loader_copy_to_guest(mem, fd, code_off, load, code_size);
	if (ret)
		return err_set(err, ret, "loading bzImage code: %s", strerror(-ret));

	/* code32_start: "the boot loader must set [it] to point to the loaded
	 * code" for a relocatable kernel (boot.rst, relocatable_kernel). */
	h->code32_start = (uint32_t)load;
	k->mode = BOOT_ENTRY_LINUX64;
	k->entry = load + BZ_ENTRY64_OFFSET;
	k->start = load;
	k->end = load + need;
	/* initrd_addr_max is the highest byte the initrd may occupy. */
	k->initrd_limit = (uint64_t)h->initrd_addr_max + 1 < low ? (uint64_t)h->initrd_addr_max + 1 : low;
	k->cmdline_max = h->cmdline_size;
	if (k->cmdline_max > LAYOUT_CMDLINE_MAX - 1)
		k->cmdline_max = LAYOUT_CMDLINE_MAX - 1;
	k->has_setup_header = true;
	return 0;
}
