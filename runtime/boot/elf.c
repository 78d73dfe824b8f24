/* ELF64 vmlinux loader. Segments go to their physical addresses (p_paddr),
 * as a vmlinux is linked to run there; every header field is checked
 * against the file size and guest RAM before anything is copied. A Xen
 * PHYS32_ENTRY note marks a kernel that supports the PVH boot ABI
 * (xen/include/public/elfnote.h; Linux arch/x86/platform/pvh/head.S). */
#include "runtime/boot/elf.h"

#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/boot/layout.h"

/* A vmlinux has about five program headers; the bound keeps a hostile
 * header from making us read megabytes of them. */
#define ELF_MAX_PHNUM 128
/* Linux's notes are a few hundred bytes; larger PT_NOTEs are not scanned. */
#define ELF_MAX_NOTE_BYTES (1u << 20)
#define XEN_ELFNOTE_PHYS32_ENTRY 18

typedef unsigned long long ull;

static int elf_check_ehdr(const Elf64_Ehdr *eh, uint64_t file_size, struct errbuf *err)
{
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0)
		return err_set(err, -ENOEXEC, "bad ELF magic");
	if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh->e_machine != EM_X86_64)
		return err_set(err, -ENOEXEC,
			       "not an x86-64 kernel (ELF class %u, data %u, machine %u)",
			       eh->e_ident[EI_CLASS], eh->e_ident[EI_DATA], eh->e_machine);
	if (eh->e_type != ET_EXEC)
		return err_set(err, -ENOEXEC,
			       "not an x86-64 kernel: ELF type %u, expected ET_EXEC (%u)",
			       eh->e_type, ET_EXEC);
	if (eh->e_phentsize != sizeof(Elf64_Phdr))
		return err_set(err, -ENOEXEC, "corrupt ELF: program header size %u, expected %zu",
			       eh->e_phentsize, sizeof(Elf64_Phdr));
	if (eh->e_phnum == 0 || eh->e_phnum > ELF_MAX_PHNUM)
		return err_set(err, -ENOEXEC, "corrupt ELF: %u program headers (1..%u allowed)",
			       eh->e_phnum, ELF_MAX_PHNUM);
	uint64_t bytes = (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr);
	if (eh->e_phoff > file_size || bytes > file_size - eh->e_phoff)
		return err_set(err, -ENOEXEC,
			       "truncated ELF: program headers at 0x%llx (+%llu bytes) past end of file (%llu bytes)",
			       (ull)eh->e_phoff, (ull)bytes, (ull)file_size);
	return 0;
}

static int elf_check_load(const struct guest_mem *mem, const Elf64_Phdr *ph, unsigned i,
			  uint64_t file_size, struct errbuf *err)
{
	uint64_t end;

	if (ph->p_filesz > ph->p_memsz)
		return err_set(err, -ENOEXEC,
			       "corrupt ELF: segment %u file size 0x%llx > memory size 0x%llx", i,
			       (ull)ph->p_filesz, (ull)ph->p_memsz);
	if (__builtin_add_overflow(ph->p_offset, ph->p_filesz, &end))
		return err_set(err, -ENOEXEC,
			       "corrupt ELF: segment %u offset 0x%llx + size 0x%llx overflows", i,
			       (ull)ph->p_offset, (ull)ph->p_filesz);
	if (end > file_size)
		return err_set(err, -ENOEXEC,
			       "truncated ELF: segment %u [0x%llx, 0x%llx) past end of file (%llu bytes)",
			       i, (ull)ph->p_offset, (ull)end, (ull)file_size);
	if (__builtin_add_overflow(ph->p_paddr, ph->p_memsz, &end))
		return err_set(err, -ENOEXEC,
			       "corrupt ELF: segment %u address 0x%llx + size 0x%llx overflows", i,
			       (ull)ph->p_paddr, (ull)ph->p_memsz);
	/* Below 1 MiB live the zero page, page tables, command line and MP
	 * table (runtime/boot/layout.h); a kernel there would be overwritten. */
	if (ph->p_paddr < LAYOUT_HIMEM)
		return err_set(err, -ENOEXEC,
			       "segment %u at 0x%llx overlaps the boot area below 0x%llx", i,
			       (ull)ph->p_paddr, (ull)LAYOUT_HIMEM);
	if (!gm_ptr(mem, ph->p_paddr, ph->p_memsz))
		return err_set(err, -ERANGE,
			       "segment %u [0x%llx, 0x%llx) is outside guest RAM (%llu MiB, low RAM ends at 0x%llx)",
			       i, (ull)ph->p_paddr, (ull)end, (ull)(mem->total >> 20),
			       (ull)loader_low_end(mem));
	return 0;
}

/* Scans one PT_NOTE segment for Xen's PHYS32_ENTRY. Returns 1 and sets
 * *entry when found, 0 when not, or a negative errno for a malformed note. */
static int elf_find_pvh(int fd, const Elf64_Phdr *ph, uint64_t *entry, struct errbuf *err)
{
	uint64_t size = ph->p_filesz, off = 0;
	int found = 0, ret;

	if (size == 0 || size > ELF_MAX_NOTE_BYTES)
		return 0;
	uint8_t *buf = malloc(size);
	if (!buf)
		return err_set(err, -ENOMEM, "out of memory for ELF notes");
	ret = loader_pread_full(fd, buf, size, ph->p_offset);
	if (ret) {
		err_set(err, ret, "reading ELF notes: %s", strerror(-ret));
		goto out;
	}
	/* Each note: 12-byte header, name and descriptor each padded to 4
	 * bytes (ELF gABI, "Note Section"). Every step advances >= 12 bytes,
	 * so the loop is bounded by the segment size. */
	while (size - off >= sizeof(Elf64_Nhdr)) {
		Elf64_Nhdr nh;
		memcpy(&nh, buf + off, sizeof(nh));
		off += sizeof(nh);
		uint64_t name_len = ((uint64_t)nh.n_namesz + 3) & ~3ULL;
		uint64_t desc_len = ((uint64_t)nh.n_descsz + 3) & ~3ULL;
		if (name_len > size - off || nh.n_descsz > size - off - name_len) {
			ret = err_set(err, -ENOEXEC, "corrupt ELF: note at 0x%llx runs past its segment",
				      (ull)(ph->p_offset + off - sizeof(nh)));
			goto out;
		}
		const uint8_t *name = buf + off, *desc = buf + off + name_len;
		if (nh.n_type == XEN_ELFNOTE_PHYS32_ENTRY && nh.n_namesz == 4 &&
		    memcmp(name, "Xen", 4) == 0) {
			/* Linux emits the address with _ASM_PTR (8 bytes) in
			 * older trees and .long in newer ones. */
			uint32_t v32;
			if (nh.n_descsz == 4) {
				memcpy(&v32, desc, 4);
				*entry = v32;
			} else if (nh.n_descsz == 8) {
				memcpy(entry, desc, 8);
			} else {
				ret = err_set(err, -ENOEXEC, "corrupt ELF: PVH entry note of %u bytes",
					      nh.n_descsz);
				goto out;
			}
			found = 1;
			break;
		}
		off += name_len;
		off += desc_len < size - off ? desc_len : size - off;
	}
	ret = found;
out:
	free(buf);
	return ret;
}

/* vmlinux's e_entry is already physical (ENTRY(phys_startup_64) in
 * arch/x86/kernel/vmlinux.lds.S); a virtual entry is translated through
 * the segment holding it. */
static bool elf_in_segment(const Elf64_Phdr *phs, unsigned n, uint64_t paddr)
{
	for (unsigned i = 0; i < n; i++)
		if (phs[i].p_type == PT_LOAD && paddr >= phs[i].p_paddr &&
		    paddr - phs[i].p_paddr < phs[i].p_memsz)
			return true;
	return false;
}

static int elf_entry(const Elf64_Phdr *phs, unsigned n, uint64_t e_entry, uint64_t *out)
{
	if (elf_in_segment(phs, n, e_entry)) {
		*out = e_entry;
		return 0;
	}
	for (unsigned i = 0; i < n; i++)
		if (phs[i].p_type == PT_LOAD && e_entry >= phs[i].p_vaddr &&
		    e_entry - phs[i].p_vaddr < phs[i].p_memsz) {
			*out = phs[i].p_paddr + (e_entry - phs[i].p_vaddr);
			return 0;
		}
	return -ENOEXEC;
}

int loader_elf_load(struct guest_mem *mem, int fd, uint64_t file_size,
		    bool prefer_linux64, struct loader_kernel *k, struct errbuf *err)
{
	Elf64_Ehdr eh;
	Elf64_Phdr phs[ELF_MAX_PHNUM];
	uint64_t lo = UINT64_MAX, hi = 0, pvh_entry = 0;
	unsigned loads = 0;
	int ret, pvh = 0;

	if (file_size < sizeof(eh))
		return err_set(err, -ENOEXEC, "truncated ELF: %llu bytes, header needs %zu",
			       (ull)file_size, sizeof(eh));
	ret = loader_pread_full(fd, &eh, sizeof(eh), 0);
	if (ret)
		return err_set(err, ret, "reading ELF header: %s", strerror(-ret));
	ret = elf_check_ehdr(&eh, file_size, err);
	if (ret)
		return ret;
	ret = loader_pread_full(fd, phs, (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr), eh.e_phoff);
	if (ret)
		return err_set(err, ret, "reading program headers: %s", strerror(-ret));

	/* Validate all segments before touching guest memory. */
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		const Elf64_Phdr *ph = &phs[i];
		if (ph->p_type == PT_NOTE && !pvh) {
			uint64_t end;
			if (__builtin_add_overflow(ph->p_offset, ph->p_filesz, &end) || end > file_size)
				return err_set(err, -ENOEXEC,
					       "truncated ELF: note segment %u past end of file", i);
			pvh = elf_find_pvh(fd, ph, &pvh_entry, err);
			if (pvh < 0)
				return pvh;
		}
		if (ph->p_type != PT_LOAD || (ph->p_memsz == 0 && ph->p_filesz == 0))
			continue;
		ret = elf_check_load(mem, ph, i, file_size, err);
		if (ret)
			return ret;
		loads++;
		lo = ph->p_paddr < lo ? ph->p_paddr : lo;
		hi = ph->p_paddr + ph->p_memsz > hi ? ph->p_paddr + ph->p_memsz : hi;
	}
	if (!loads)
		return err_set(err, -ENOEXEC, "corrupt ELF: no loadable segment");

	memset(k, 0, sizeof(*k));
	if (pvh && !prefer_linux64) {
		/* The PVH entry runs in 32-bit mode, so it must lie below 4 GiB. */
		if (pvh_entry >= GM_MMIO_HOLE_END || !elf_in_segment(phs, eh.e_phnum, pvh_entry))
			return err_set(err, -ENOEXEC,
				       "PVH entry 0x%llx is in no loadable segment below 4 GiB",
				       (ull)pvh_entry);
		k->mode = BOOT_ENTRY_PVH;
		k->entry = pvh_entry;
	} else {
		if (elf_entry(phs, eh.e_phnum, eh.e_entry, &k->entry))
			return err_set(err, -ENOEXEC, "ELF entry 0x%llx is in no loadable segment",
				       (ull)eh.e_entry);
		k->mode = BOOT_ENTRY_LINUX64;
	}

	for (unsigned i = 0; i < eh.e_phnum; i++) {
		const Elf64_Phdr *ph = &phs[i];
		if (ph->p_type != PT_LOAD || ph->p_memsz == 0)
			continue;
		ret = loader_copy_to_guest(mem, fd, ph->p_offset, ph->p_paddr, ph->p_filesz);
		if (ret)
			return err_set(err, ret, "loading segment %u: %s", i, strerror(-ret));
		/* bss: memory the file does not cover must read as zero. */
		if (ph->p_memsz > ph->p_filesz)
			memset(gm_ptr(mem, ph->p_paddr + ph->p_filesz, ph->p_memsz - ph->p_filesz),
			       0, ph->p_memsz - ph->p_filesz);
	}
	k->start = lo;
	k->end = hi;
	k->initrd_limit = loader_low_end(mem);
	k->cmdline_max = LAYOUT_CMDLINE_MAX - 1;
	return 0;
}
