/* boot_load on crafted kernels: a valid ELF vmlinux (with and without a
 * PVH note) and bzImage, then one corruption at a time. Files live in a
 * temporary directory removed after each test. */
#include <criterion/criterion.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/boot/bootparams.h"
#include "runtime/boot/layout.h"
#include "runtime/boot/loader.h"
#include "runtime/boot/mptable.h"
#include "runtime/boot/pvh.h"

#define MIB (1ULL << 20)
#define TL_MEM (64 * MIB)

static struct guest_mem tl_mem;
static char tl_dir[64];
static char tl_paths[8][128];
static unsigned tl_npaths;

static void tl_setup(void)
{
	cr_assert_eq(gm_alloc(&tl_mem, TL_MEM), 0);
	strcpy(tl_dir, "/tmp/ember-loader-XXXXXX");
	cr_assert_not_null(mkdtemp(tl_dir));
	tl_npaths = 0;
}

static void tl_teardown(void)
{
	for (unsigned i = 0; i < tl_npaths; i++)
		unlink(tl_paths[i]);
	rmdir(tl_dir);
	gm_free(&tl_mem);
}

static const char *tl_file(const char *name, const void *buf, size_t len)
{
	cr_assert_lt(tl_npaths, 8);
	char *p = tl_paths[tl_npaths++];
	snprintf(p, sizeof(tl_paths[0]), "%s/%s", tl_dir, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, buf, len), (ssize_t)len);
	close(fd);
	return p;
}

static const struct acpi_platform *tl_acpi; /* NULL: no ACPI tables */

static int tl_boot(const char *kernel, const char *initrd, const char *cmdline, bool linux64,
		   struct boot_setup *s, struct errbuf *err)
{
	struct boot_spec spec = { .kernel_path = kernel, .initrd_path = initrd,
				  .cmdline = cmdline, .nr_vcpus = 2, .prefer_linux64 = linux64,
				  .acpi = tl_acpi };
	err->msg[0] = 0;
	return boot_load(&tl_mem, &spec, s, err);
}

static void tl_expect_fail(const void *img, size_t len, int code, const char *needle)
{
	struct boot_setup s;
	struct errbuf err;
	const char *k = tl_file("bad", img, len);
	cr_assert_eq(tl_boot(k, NULL, "", false, &s, &err), code, "%s", err.msg);
	cr_assert(strstr(err.msg, needle), "\"%s\" lacks \"%s\"", err.msg, needle);
}

/* ---- Crafted vmlinux: PT_LOAD of 0x1000 file bytes + 0x2000 bss at
 * 1 MiB, linked high like Linux; PT_NOTE with a GNU note, another Xen
 * note and optionally XEN_ELFNOTE_PHYS32_ENTRY. */
#define TE_LOAD_OFF 0x1000
#define TE_NOTE_OFF 0x2000
#define TE_SIZE 0x2100
#define TE_PADDR 0x100000ULL
#define TE_VADDR 0xffffffff81000000ULL
#define TE_PVH_ENTRY (TE_PADDR + 0x40)

static uint8_t te[TE_SIZE] __attribute__((aligned(8)));
#define TE_EH ((Elf64_Ehdr *)te)
#define TE_PH(i) ((Elf64_Phdr *)(te + sizeof(Elf64_Ehdr)) + (i))

static size_t te_note(size_t off, const char *name, uint32_t type, const void *desc, uint32_t dsz)
{
	Elf64_Nhdr nh = { .n_namesz = (uint32_t)strlen(name) + 1, .n_descsz = dsz, .n_type = type };
	memcpy(te + off, &nh, sizeof(nh));
	off += sizeof(nh);
	memcpy(te + off, name, nh.n_namesz);
	off += (nh.n_namesz + 3) & ~3u;
	memcpy(te + off, desc, dsz);
	return off + ((dsz + 3) & ~3u);
}

static void te_init(unsigned pvh_desc_size)
{
	memset(te, 0, sizeof(te));
	memcpy(TE_EH->e_ident, ELFMAG, SELFMAG);
	TE_EH->e_ident[EI_CLASS] = ELFCLASS64;
	TE_EH->e_ident[EI_DATA] = ELFDATA2LSB;
	TE_EH->e_ident[EI_VERSION] = EV_CURRENT;
	TE_EH->e_type = ET_EXEC;
	TE_EH->e_machine = EM_X86_64;
	TE_EH->e_version = EV_CURRENT;
	TE_EH->e_entry = TE_PADDR; /* physical, like ENTRY(phys_startup_64) */
	TE_EH->e_phoff = sizeof(Elf64_Ehdr);
	TE_EH->e_ehsize = sizeof(Elf64_Ehdr);
	TE_EH->e_phentsize = sizeof(Elf64_Phdr);
	TE_EH->e_phnum = 2;
	*TE_PH(0) = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R | PF_X,
				  .p_offset = TE_LOAD_OFF, .p_vaddr = TE_VADDR,
				  .p_paddr = TE_PADDR, .p_filesz = 0x1000, .p_memsz = 0x3000,
				  .p_align = 0x1000 };
	for (unsigned i = 0; i < 0x1000; i++)
		te[TE_LOAD_OFF + i] = (uint8_t)(i * 7 + 3);

	uint8_t id[20] = { 1, 2, 3 };
	uint64_t entry = TE_PVH_ENTRY;
	size_t off = te_note(TE_NOTE_OFF, "GNU", NT_GNU_BUILD_ID, id, sizeof(id));
	off = te_note(off, "Xen", 6 /* XEN_ELFNOTE_LOADER */, "generic", 8);
	if (pvh_desc_size)
		off = te_note(off, "Xen", 18, &entry, pvh_desc_size);
	*TE_PH(1) = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = TE_NOTE_OFF,
				  .p_filesz = off - TE_NOTE_OFF, .p_align = 4 };
}

TestSuite(loader_elf, .init = tl_setup, .fini = tl_teardown);

Test(loader_elf, valid_vmlinux)
{
	struct boot_setup s;
	struct errbuf err;
	uint8_t *ram = tl_mem.regions[0].host;

	te_init(0);
	memset(ram + TE_PADDR, 0xee, 0x4000); /* stale bytes where the bss goes */
	const char *k = tl_file("vmlinux", te, sizeof(te));
	cr_assert_eq(tl_boot(k, NULL, "console=ttyS0", false, &s, &err), 0, "%s", err.msg);
	cr_assert_eq(s.mode, BOOT_ENTRY_LINUX64);
	cr_assert_eq(s.entry, TE_PADDR);
	cr_assert_eq(s.params_gpa, LAYOUT_ZERO_PAGE);
	cr_assert_eq(s.kernel_start, TE_PADDR);
	cr_assert_eq(s.kernel_end, TE_PADDR + 0x3000);
	cr_assert_eq(memcmp(ram + TE_PADDR, te + TE_LOAD_OFF, 0x1000), 0, "segment copied");
	for (unsigned i = 0x1000; i < 0x3000; i++)
		cr_assert_eq(ram[TE_PADDR + i], 0, "bss byte 0x%x not zeroed", i);
	cr_assert_eq(ram[TE_PADDR + 0x3000], 0xee, "nothing past memsz");

	struct boot_params *bp = (struct boot_params *)(ram + LAYOUT_ZERO_PAGE);
	cr_assert_eq(bp->hdr.boot_flag, 0xAA55);
	cr_assert_eq(bp->hdr.cmd_line_ptr, LAYOUT_CMDLINE);
	cr_assert_str_eq((char *)ram + LAYOUT_CMDLINE, "console=ttyS0");
	cr_assert_eq(bp->e820_entries, 3);
	cr_assert_eq(bp->hdr.ramdisk_image, 0);
	cr_assert_eq(memcmp(ram + LAYOUT_EBDA, "_MP_", 4), 0, "MP table written");
}

Test(loader_elf, virtual_entry_translated)
{
	struct boot_setup s;
	struct errbuf err;
	te_init(0);
	TE_EH->e_entry = TE_VADDR + 0x10;
	cr_assert_eq(tl_boot(tl_file("v", te, sizeof(te)), NULL, NULL, false, &s, &err), 0, "%s",
		     err.msg);
	cr_assert_eq(s.entry, TE_PADDR + 0x10);
	TE_EH->e_entry = TE_VADDR + 0x5000;
	tl_expect_fail(te, sizeof(te), -ENOEXEC, "entry");
}

Test(loader_elf, corrupt_headers)
{
	te_init(0);
	te[1] = 'X';
	tl_expect_fail(te, sizeof(te), -ENOEXEC, "not a kernel image");
	te_init(0);
	TE_EH->e_ident[EI_CLASS] = ELFCLASS32;
	tl_expect_fail(te, sizeof(te), -ENOEXEC, "not an x86-64 kernel");
	te_init(0);
	TE_EH->e_machine = EM_386;
	tl_expect_fail(te, sizeof(te), -ENOEXEC, "not an x86-64 kernel");
	te_init(0);
	TE_EH->e_type = ET_DYN;
	tl_expect_fail(te, sizeof(te), -ENOEXEC, "ET_EXEC");
	te_init(0);
	tl_expect_fail(te, 40, -ENOEXEC, "truncated ELF");
	te_init(0);
	TE_EH->e_phentsize = 32;
	tl_expect_fail(te, sizeof(te), -ENOEXEC, "program header size");
}

Test(loader_elf, program_headers_out_of_file)
{
	te_init(0);
	TE_EH->e_phoff = TE_SIZE - 8;
	tl_expect_fail(te, sizeof(te), -ENOEXEC, "past end of file");
	te_init(0);
	TE_EH->e_phoff = UINT64_MAX - 8;
	tl_expect_fail(te, sizeof(te), -ENOEXEC, "program headers");
	te_init(0);
	TE_EH->e_phnum = 0xffff;
	tl_expect_fail(te, sizeof(te), -ENOEXEC, "65535 program headers");
	te_init(0);
	TE_EH->e_phnum = 0;
	tl_expect_fail(te, sizeof(te), -ENOEXEC, "0 program headers");
	te_init(0);
	TE_PH(0)->p_type = PT_NULL;
	tl_expect_fail(te, sizeof(te), -ENOEXEC, "no loadable segment");
}

Test(loader_elf, segments_out_of_file)
{
	te_init(0);
	TE_PH(0)->p_filesz = TE_PH(0)->p_memsz = UINT64_MAX - 0x800;
	tl_expect_fail(te, sizeof(te), -ENOEXEC, "overflows");
	te_init(0);
	TE_PH(0)->p_filesz = 0x1200; /* ends at 0x2200, the file at 0x2100 */
	TE_PH(0)->p_memsz = 0x2000;
	tl_expect_fail(te, sizeof(te), -ENOEXEC, "segment 0 [0x1000, 0x2200) past end of file");
	te_init(0);
	tl_expect_fail(te, TE_LOAD_OFF + 0x800, -ENOEXEC, "past end of file");
	te_init(0);
	TE_PH(0)->p_filesz = 0x1000;
	TE_PH(0)->p_memsz = 0x800;
	tl_expect_fail(te, sizeof(te), -ENOEXEC, "file size 0x1000 > memory size 0x800");
}

Test(loader_elf, segments_out_of_ram)
{
	te_init(0);
	TE_PH(0)->p_paddr = 128 * MIB;
	tl_expect_fail(te, sizeof(te), -ERANGE, "outside guest RAM");
	te_init(0);
	TE_PH(0)->p_paddr = TL_MEM - 0x1000; /* starts inside, bss runs out */
	tl_expect_fail(te, sizeof(te), -ERANGE, "outside guest RAM");
	te_init(0);
	TE_PH(0)->p_paddr = 0x8000;
	tl_expect_fail(te, sizeof(te), -ENOEXEC, "below 0x100000");
	te_init(0);
	TE_PH(0)->p_paddr = UINT64_MAX - 0x1000;
	tl_expect_fail(te, sizeof(te), -ENOEXEC, "overflows");
}

Test(loader_elf, corrupt_note)
{
	te_init(8);
	Elf64_Nhdr nh = { .n_namesz = 0xfffffff0, .n_descsz = 4, .n_type = 18 };
	memcpy(te + TE_NOTE_OFF, &nh, sizeof(nh));
	tl_expect_fail(te, sizeof(te), -ENOEXEC, "note");
	te_init(0);
	TE_PH(1)->p_filesz = 0x10000;
	tl_expect_fail(te, sizeof(te), -ENOEXEC, "note segment 1 past end");
}

Test(loader_elf, missing_file_named)
{
	struct boot_setup s;
	struct errbuf err;
	cr_assert_eq(tl_boot("/nonexistent/vmlinux-ember", NULL, "", false, &s, &err), -ENOENT);
	cr_assert(strstr(err.msg, "/nonexistent/vmlinux-ember"), "%s", err.msg);
	cr_assert_eq(tl_boot(tl_dir, NULL, "", false, &s, &err), -EINVAL, "a directory");
}

/* ---- PVH: the Xen note selects the 32-bit entry and hvm_start_info. */
TestSuite(loader_pvh, .init = tl_setup, .fini = tl_teardown);

static void tl_check_pvh(unsigned desc_size)
{
	struct boot_setup s;
	struct errbuf err;
	uint8_t *ram = tl_mem.regions[0].host;
	uint8_t rd[5000];

	memset(rd, 0x3c, sizeof(rd));
	te_init(desc_size);
	const char *k = tl_file("vmlinux", te, sizeof(te));
	const char *i = tl_file("initrd", rd, sizeof(rd));
	cr_assert_eq(tl_boot(k, i, "quiet", false, &s, &err), 0, "%s", err.msg);
	cr_assert_eq(s.mode, BOOT_ENTRY_PVH);
	cr_assert_eq(s.entry, TE_PVH_ENTRY);
	cr_assert_eq(s.params_gpa, LAYOUT_PVH_INFO);

	struct hvm_start_info si;
	memcpy(&si, ram + LAYOUT_PVH_INFO, sizeof(si));
	cr_assert_eq(si.magic, 0x336ec578);
	cr_assert_eq(si.version, 1);
	cr_assert_eq(si.cmdline_paddr, LAYOUT_CMDLINE);
	cr_assert_str_eq((char *)ram + si.cmdline_paddr, "quiet");
	cr_assert_eq(si.rsdp_paddr, 0);
	cr_assert_eq(si.nr_modules, 1);
	struct hvm_modlist_entry mod;
	memcpy(&mod, ram + si.modlist_paddr, sizeof(mod));
	cr_assert_eq(mod.paddr, s.initrd_gpa);
	cr_assert_eq(mod.size, sizeof(rd));

	struct boot_e820_entry e[BOOT_E820_MAX];
	unsigned n = bootparams_e820(&tl_mem, e);
	cr_assert_eq(si.memmap_entries, n);
	for (unsigned j = 0; j < n; j++) {
		struct hvm_memmap_table_entry m;
		memcpy(&m, ram + si.memmap_paddr + j * sizeof(m), sizeof(m));
		cr_assert_eq(m.addr, e[j].addr);
		cr_assert_eq(m.size, e[j].size);
		cr_assert_eq(m.type, e[j].type);
		cr_assert_eq(m.reserved, 0);
	}
	cr_assert_leq(si.memmap_paddr + n * sizeof(struct hvm_memmap_table_entry),
		      LAYOUT_PVH_INFO + 0x1000, "inside the start-info page");
}

Test(loader_pvh, note_with_8_byte_entry) { tl_check_pvh(8); }
Test(loader_pvh, note_with_4_byte_entry) { tl_check_pvh(4); }

Test(loader_pvh, prefer_linux64_and_bad_notes)
{
	struct boot_setup s;
	struct errbuf err;
	te_init(8);
	cr_assert_eq(tl_boot(tl_file("v", te, sizeof(te)), NULL, "", true, &s, &err), 0, "%s",
		     err.msg);
	cr_assert_eq(s.mode, BOOT_ENTRY_LINUX64);
	cr_assert_eq(s.entry, TE_PADDR);
	cr_assert_eq(s.params_gpa, LAYOUT_ZERO_PAGE);
	te_init(2);
	tl_expect_fail(te, sizeof(te), -ENOEXEC, "PVH entry note of 2 bytes");
	te_init(8);
	uint64_t far = 0x100000000ULL + TE_PADDR;
	memcpy(te + TE_NOTE_OFF + TE_PH(1)->p_filesz - 8, &far, 8);
	tl_expect_fail(te, sizeof(te), -ENOEXEC, "PVH entry 0x100100000");
}

/* ---- bzImage: setup_sects 1, so protected-mode code at 0x400. */
#define TB_CODE_OFF 0x400
#define TB_CODE 0x1000
#define TB_SIZE (TB_CODE_OFF + TB_CODE)
static uint8_t tb[TB_SIZE];
#define TB_HDR ((struct setup_header *)(tb + 0x1f1))

static void tb_init(void)
{
	struct setup_header *h = TB_HDR;
	memset(tb, 0, sizeof(tb));
	h->setup_sects = 1;
	h->boot_flag = 0xAA55;
	h->jump = 0x6aeb; /* jmp to 0x26c: the header is 0x7b bytes */
	h->header = 0x53726448;
	h->version = 0x020f;
	h->loadflags = LOADED_HIGH;
	h->syssize = TB_CODE / 16;
	h->initrd_addr_max = 0x7fffffff;
	h->kernel_alignment = 0x200000;
	h->relocatable_kernel = 1;
	h->xloadflags = XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G;
	h->cmdline_size = 2047;
	h->pref_address = 0x1000000;
	h->init_size = 0x20000;
	for (unsigned i = 0; i < TB_CODE; i++)
		tb[TB_CODE_OFF + i] = (uint8_t)(i * 13 + 1);
}

TestSuite(loader_bzimage, .init = tl_setup, .fini = tl_teardown);

Test(loader_bzimage, valid_image)
{
	struct boot_setup s;
	struct errbuf err;
	uint8_t *ram = tl_mem.regions[0].host;

	tb_init();
	cr_assert_eq(tl_boot(tl_file("bz", tb, sizeof(tb)), NULL, "root=/dev/vda", false, &s, &err),
		     0, "%s", err.msg);
	cr_assert_eq(s.mode, BOOT_ENTRY_LINUX64);
	cr_assert_eq(s.kernel_start, 0x1000000, "pref_address");
	cr_assert_eq(s.entry, 0x1000200, "64-bit entry at +0x200");
	cr_assert_eq(s.kernel_end, 0x1020000, "init_size reserved");
	cr_assert_eq(memcmp(ram + 0x1000000, tb + TB_CODE_OFF, TB_CODE), 0);
	struct boot_params *bp = (struct boot_params *)(ram + LAYOUT_ZERO_PAGE);
	cr_assert_eq(bp->hdr.version, 0x020f);
	cr_assert_eq(bp->hdr.code32_start, 0x1000000);
	cr_assert_eq(bp->hdr.type_of_loader, 0xff);
	cr_assert_eq(bp->hdr.cmdline_size, 2047);
	cr_assert_eq(bp->hdr.init_size, 0x20000);
	cr_assert_str_eq((char *)ram + bp->hdr.cmd_line_ptr, "root=/dev/vda");
}

Test(loader_bzimage, header_rejections)
{
	tb_init();
	TB_HDR->header = 0x53726449;
	tl_expect_fail(tb, sizeof(tb), -ENOEXEC, "HdrS");
	tb_init();
	TB_HDR->version = 0x0205;
	tl_expect_fail(tb, sizeof(tb), -ENOEXEC, "2.05 is too old");
	tb_init();
	TB_HDR->xloadflags = 0;
	tl_expect_fail(tb, sizeof(tb), -ENOEXEC, "not 64-bit capable");
	tb_init();
	TB_HDR->jump = 0x10eb; /* header ends at 0x212: no init_size */
	tl_expect_fail(tb, sizeof(tb), -ENOEXEC, "lacks init_size");
	tb_init();
	TB_HDR->kernel_alignment = 0x3000;
	tl_expect_fail(tb, sizeof(tb), -ENOEXEC, "kernel_alignment");
}

Test(loader_bzimage, truncated)
{
	tb_init();
	tl_expect_fail(tb, 0x100, -ENOEXEC, "too short");
	tl_expect_fail(tb, 0x230, -ENOEXEC, "truncated bzImage");
	tl_expect_fail(tb, TB_CODE_OFF + 0x100, -ENOEXEC, "truncated bzImage");
	tl_expect_fail(tb, TB_SIZE - 16, -ENOEXEC, "header says 4096 bytes");
	tb_init();
	TB_HDR->setup_sects = 0xff;
	tl_expect_fail(tb, sizeof(tb), -ENOEXEC, "protected-mode code at 0x20000");
}

Test(loader_bzimage, placement_and_limits)
{
	struct boot_setup s;
	struct errbuf err;

	tb_init();
	TB_HDR->pref_address = 0x3000000;
	TB_HDR->init_size = 0x2000000; /* 48 + 32 MiB > 64 MiB: relocate low */
	cr_assert_eq(tl_boot(tl_file("bz", tb, sizeof(tb)), NULL, "", false, &s, &err), 0, "%s",
		     err.msg);
	cr_assert_eq(s.kernel_start, 0x200000, "lowest 2 MiB-aligned address");
	TB_HDR->relocatable_kernel = 0;
	tl_expect_fail(tb, sizeof(tb), -ERANGE, "non-relocatable");
	tb_init();
	TB_HDR->cmdline_size = 8;
	const char *k = tl_file("bz8", tb, sizeof(tb));
	cr_assert_eq(tl_boot(k, NULL, "12345678", false, &s, &err), 0, "%s", err.msg);
	cr_assert_eq(tl_boot(k, NULL, "123456789", false, &s, &err), -E2BIG);
	cr_assert(strstr(err.msg, "9 bytes, at most 8"), "%s", err.msg);
}

/* ---- initrd placement. */
TestSuite(loader_initrd, .init = tl_setup, .fini = tl_teardown);

Test(loader_initrd, highest_page_aligned)
{
	struct boot_setup s;
	struct errbuf err;
	uint8_t *ram = tl_mem.regions[0].host;
	static uint8_t rd[10000];

	for (unsigned i = 0; i < sizeof(rd); i++)
		rd[i] = (uint8_t)(i ^ 0x5a);
	te_init(0);
	const char *k = tl_file("vmlinux", te, sizeof(te));
	cr_assert_eq(tl_boot(k, tl_file("rd", rd, sizeof(rd)), "", false, &s, &err), 0, "%s",
		     err.msg);
	cr_assert_eq(s.initrd_gpa, (TL_MEM - sizeof(rd)) & ~0xfffULL);
	cr_assert_eq(s.initrd_size, sizeof(rd));
	cr_assert_eq(memcmp(ram + s.initrd_gpa, rd, sizeof(rd)), 0);
	struct boot_params *bp = (struct boot_params *)(ram + LAYOUT_ZERO_PAGE);
	cr_assert_eq(bp->hdr.ramdisk_image, s.initrd_gpa);
	cr_assert_eq(bp->hdr.ramdisk_size, sizeof(rd));

	tb_init();
	TB_HDR->initrd_addr_max = 0x1ffffff; /* highest byte it may occupy */
	k = tl_file("bz", tb, sizeof(tb));
	cr_assert_eq(tl_boot(k, tl_paths[1], "", false, &s, &err), 0, "%s", err.msg);
	cr_assert_eq(s.initrd_gpa, (0x2000000 - sizeof(rd)) & ~0xfffULL);
}

Test(loader_initrd, does_not_fit)
{
	struct boot_setup s;
	struct errbuf err;
	char path[160];

	te_init(0);
	const char *k = tl_file("vmlinux", te, sizeof(te));
	/* A sparse file as large as the RAM above the kernel, plus a page. */
	snprintf(path, sizeof(path), "%s/big", tl_dir);
	strcpy(tl_paths[tl_npaths++], path);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, (off_t)(TL_MEM - TE_PADDR - 0x3000 + 0x1000)), 0);
	close(fd);
	cr_assert_eq(tl_boot(k, path, "", false, &s, &err), -ENOSPC);
	cr_assert(strstr(err.msg, "does not fit") && strstr(err.msg, "66048000 bytes"), "%s",
		  err.msg);
	cr_assert_eq(tl_boot(k, "/nonexistent/initrd-ember", "", false, &s, &err), -ENOENT);
	cr_assert(strstr(err.msg, "/nonexistent/initrd-ember"), "%s", err.msg);
	cr_assert_eq(tl_boot(k, tl_file("empty", "", 0), "", false, &s, &err), -EINVAL);
}

Test(loader_initrd, place_arithmetic)
{
	uint64_t gpa = 0;
	cr_assert_eq(loader_place_initrd(0x200000, 0x400000, 0x1000, &gpa), 0);
	cr_assert_eq(gpa, 0x3ff000);
	cr_assert_eq(loader_place_initrd(0x200000, 0x400000, 0x1001, &gpa), 0);
	cr_assert_eq(gpa, 0x3fe000, "rounded down to a page");
	cr_assert_eq(loader_place_initrd(0x200000, 0x400000, 0x200000, &gpa), 0, "exact fit");
	cr_assert_eq(gpa, 0x200000);
	cr_assert_eq(loader_place_initrd(0x200001, 0x400000, 0x1ff000, &gpa), 0);
	cr_assert_eq(gpa, 0x201000, "first page after an unaligned kernel end");
	cr_assert_eq(loader_place_initrd(0x200001, 0x400000, 0x1ff001, &gpa), -ENOSPC);
	cr_assert_eq(loader_place_initrd(0, 0x1000, UINT64_MAX, &gpa), -ENOSPC);
}

/* ---- Spec validation. */
TestSuite(loader, .init = tl_setup, .fini = tl_teardown);

Test(loader, spec_checks)
{
	struct boot_setup s;
	struct errbuf err;
	struct boot_spec spec = { .kernel_path = "/x", .nr_vcpus = 0 };
	cr_assert_eq(boot_load(&tl_mem, &spec, &s, &err), -EINVAL);
	spec.nr_vcpus = BOOT_MAX_VCPUS + 1;
	cr_assert_eq(boot_load(&tl_mem, &spec, &s, &err), -EINVAL);
	cr_assert(strstr(err.msg, "33 vCPUs"), "%s", err.msg);
	spec.nr_vcpus = 1;
	spec.kernel_path = NULL;
	cr_assert_eq(boot_load(&tl_mem, &spec, &s, &err), -EINVAL);

	/* 32 vCPUs: the largest MP table still fits. */
	te_init(0);
	spec.kernel_path = tl_file("v", te, sizeof(te));
	spec.nr_vcpus = 32;
	cr_assert_eq(boot_load(&tl_mem, &spec, &s, &err), 0, "%s", err.msg);
}

/* ---- A real kernel, when the guest build has produced one. */
static bool tl_find(const char *name, char *out, size_t len)
{
	char pat[256];
	glob_t g;
	snprintf(out, len, "build/guest/%s", name);
	if (access(out, R_OK) == 0)
		return true;
	snprintf(pat, sizeof(pat), "%s/.cache/ember/*/%s", getenv("HOME") ? getenv("HOME") : "",
		 name);
	bool found = glob(pat, 0, NULL, &g) == 0 && g.gl_pathc > 0;
	if (found)
		snprintf(out, len, "%s", g.gl_pathv[0]);
	globfree(&g);
	return found;
}

Test(loader_real, vmlinux_and_bzimage)
{
	struct guest_mem m;
	struct boot_setup s;
	struct errbuf err = { "" };
	char vml[512], bz[512];
	bool have_vml = tl_find("vmlinux", vml, sizeof(vml));
	bool have_bz = tl_find("bzImage", bz, sizeof(bz));

	if (!have_vml && !have_bz)
		cr_skip_test("no guest kernel built (make guest)");
	cr_assert_eq(gm_alloc(&m, 512 * MIB), 0);
	struct boot_spec spec = { .cmdline = "console=ttyS0", .nr_vcpus = 2 };
	if (have_vml) {
		spec.kernel_path = vml;
		cr_assert_eq(boot_load(&m, &spec, &s, &err), 0, "%s: %s", vml, err.msg);
		cr_assert_geq(s.kernel_start, LAYOUT_HIMEM);
		cr_assert(s.entry >= s.kernel_start && s.entry < s.kernel_end, "entry in the kernel");
		cr_assert_eq(s.params_gpa, s.mode == BOOT_ENTRY_PVH ? LAYOUT_PVH_INFO : LAYOUT_ZERO_PAGE);
		spec.prefer_linux64 = true;
		cr_assert_eq(boot_load(&m, &spec, &s, &err), 0, "%s: %s", vml, err.msg);
		cr_assert_eq(s.mode, BOOT_ENTRY_LINUX64);
		cr_assert_eq(s.entry, s.kernel_start, "startup_64 opens the kernel");
		spec.prefer_linux64 = false;
	}
	if (have_bz) {
		spec.kernel_path = bz;
		cr_assert_eq(boot_load(&m, &spec, &s, &err), 0, "%s: %s", bz, err.msg);
		cr_assert_eq(s.mode, BOOT_ENTRY_LINUX64);
		cr_assert_eq(s.entry, s.kernel_start + 0x200);
		struct boot_params bp;
		cr_assert_eq(gm_read(&m, LAYOUT_ZERO_PAGE, &bp, sizeof(bp)), 0);
		cr_assert_geq(bp.hdr.version, 0x020c);
		cr_assert_eq(bp.hdr.header, 0x53726448);
	}
	gm_free(&m);
}

/* ---- ACPI: the tables at LAYOUT_ACPI_BASE, their RSDP in the zero page
 * (acpi_rsdp_addr) and in the PVH start info (rsdp_paddr). */
TestSuite(loader_acpi, .init = tl_setup, .fini = tl_teardown);

static const struct acpi_platform tl_kvm_platform = {
	.nr_cpus = 2, .apic = true, .lapic_addr = (uint32_t)LAYOUT_LAPIC,
	.ioapic_addr = (uint32_t)LAYOUT_IOAPIC, .ioapic_pins = 24, .sleep_port = LAYOUT_ACPI_SLEEP,
	.devs = &acpi_dev_com1, .nr_devs = 1,
};

Test(loader_acpi, rsdp_in_zero_page_and_pvh_start_info)
{
	struct boot_setup s;
	struct errbuf err;
	uint8_t *ram = tl_mem.regions[0].host;

	tl_acpi = &tl_kvm_platform;
	te_init(8);
	const char *k = tl_file("vmlinux", te, sizeof(te));
	cr_assert_eq(tl_boot(k, NULL, "", false, &s, &err), 0, "%s", err.msg);
	cr_assert_eq(s.mode, BOOT_ENTRY_PVH);
	cr_assert_eq(s.rsdp_gpa, LAYOUT_ACPI_BASE);
	cr_assert_arr_eq(ram + LAYOUT_ACPI_BASE, "RSD PTR ", 8);
	struct hvm_start_info si;
	memcpy(&si, ram + LAYOUT_PVH_INFO, sizeof(si));
	cr_assert_eq(si.rsdp_paddr, LAYOUT_ACPI_BASE);

	memset(ram + LAYOUT_ACPI_BASE, 0, 64);
	cr_assert_eq(tl_boot(k, NULL, "", true, &s, &err), 0, "%s", err.msg);
	cr_assert_eq(s.mode, BOOT_ENTRY_LINUX64);
	cr_assert_arr_eq(ram + LAYOUT_ACPI_BASE, "RSD PTR ", 8);
	struct boot_params bp;
	memcpy(&bp, ram + LAYOUT_ZERO_PAGE, sizeof(bp));
	cr_assert_eq(bp.acpi_rsdp_addr, LAYOUT_ACPI_BASE);
	/* The tables sit in the e820 map's reserved legacy area. */
	int reserved = 0;
	for (unsigned i = 0; i < bp.e820_entries; i++)
		if (bp.e820_table[i].type == BOOT_E820_RESERVED &&
		    bp.e820_table[i].addr <= LAYOUT_ACPI_BASE &&
		    bp.e820_table[i].addr + bp.e820_table[i].size >= LAYOUT_ACPI_BASE + ACPI_TABLES_MAX)
			reserved = 1;
	cr_assert(reserved);
	tl_acpi = NULL;
}

Test(loader_acpi, none_without_a_platform)
{
	struct boot_setup s;
	struct errbuf err;
	uint8_t *ram = tl_mem.regions[0].host;

	tl_acpi = NULL;
	te_init(8);
	const char *k = tl_file("vmlinux", te, sizeof(te));
	cr_assert_eq(tl_boot(k, NULL, "", true, &s, &err), 0, "%s", err.msg);
	cr_assert_eq(s.rsdp_gpa, 0);
	struct boot_params bp;
	memcpy(&bp, ram + LAYOUT_ZERO_PAGE, sizeof(bp));
	cr_assert_eq(bp.acpi_rsdp_addr, 0);
	uint8_t zero[8] = { 0 };
	cr_assert_arr_eq(ram + LAYOUT_ACPI_BASE, zero, 8);
}

Test(loader_acpi, bad_platform_fails_the_load)
{
	struct boot_setup s;
	struct errbuf err;
	struct acpi_platform p = tl_kvm_platform;
	p.nr_cpus = 0;
	tl_acpi = &p;
	te_init(8);
	const char *k = tl_file("vmlinux", te, sizeof(te));
	cr_assert_eq(tl_boot(k, NULL, "", true, &s, &err), -EINVAL);
	cr_assert(strstr(err.msg, "ACPI tables"), "%s", err.msg);
	tl_acpi = NULL;
}
