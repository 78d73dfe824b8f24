/* boot_load: kernel, command line, initrd and boot tables into guest
 * memory. The format loaders (elf.c, bzimage.c) validate and place the
 * kernel; this file picks one and does the rest. */
#include "runtime/boot/loader.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/boot/bootparams.h"
#include "runtime/boot/bzimage.h"
#include "runtime/boot/elf.h"
#include "runtime/boot/layout.h"
#include "runtime/boot/mptable.h"
#include "runtime/boot/pvh.h"

#define LOADER_PAGE 4096ULL

typedef unsigned long long ull;

int loader_place_initrd(uint64_t floor, uint64_t limit, uint64_t size, uint64_t *gpa)
{
	if (size > limit)
		return -ENOSPC;
	uint64_t at = (limit - size) & ~(LOADER_PAGE - 1);
	floor = (floor + LOADER_PAGE - 1) & ~(LOADER_PAGE - 1);
	if (at < floor)
		return -ENOSPC;
	*gpa = at;
	return 0;
}

/* Opens path read-only and checks it is a regular file. O_NONBLOCK: a
 * FIFO put there since the PUT's check must not hold the VMM thread until
 * a writer comes (it changes nothing for a regular file). */
static int loader_open(const char *what, const char *path, uint64_t *size, struct errbuf *err)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return err_set(err, -errno, "%s %s: %s", what, path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return err_set(err, -e, "%s %s: %s", what, path, strerror(e));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return err_set(err, -EINVAL, "%s %s: not a regular file", what, path);
	}
	*size = (uint64_t)st.st_size;
	return fd;
}

static int loader_kernel(struct guest_mem *mem, const struct boot_spec *spec,
			 struct loader_kernel *k, struct errbuf *err)
{
	uint8_t magic[SELFMAG] = { 0 };
	uint64_t size;
	int fd, ret;

	fd = loader_open("kernel", spec->kernel_path, &size, err);
	if (fd < 0)
		return fd;
	if (size >= SELFMAG)
		ret = loader_pread_full(fd, magic, SELFMAG, 0);
	else
		ret = 0;
	if (!ret && memcmp(magic, ELFMAG, SELFMAG) == 0)
		ret = loader_elf_load(mem, fd, size, spec->prefer_linux64, k, err);
	else if (!ret)
		ret = loader_bzimage_load(mem, fd, size, k, err);
	else
		err_set(err, ret, "%s", strerror(-ret));
	close(fd);
	if (ret)
		return err_wrap(err, ret, "kernel %s", spec->kernel_path);
	return 0;
}

/* boot.rst "Details of header fields", initrd_addr_max: load the initrd as
 * high as allowed, so the kernel's early allocations below it stay free. */
static int loader_initrd(struct guest_mem *mem, const char *path, const struct loader_kernel *k,
			 struct boot_setup *s, struct errbuf *err)
{
	uint64_t size, gpa;
	int fd, ret;

	fd = loader_open("initrd", path, &size, err);
	if (fd < 0)
		return fd;
	if (size == 0) {
		close(fd);
		return err_set(err, -EINVAL, "initrd %s is empty", path);
	}
	if (loader_place_initrd(k->end, k->initrd_limit, size, &gpa)) {
		close(fd);
		return err_set(err, -ENOSPC,
			       "initrd %s (%llu bytes) does not fit in guest RAM: %llu bytes free between the kernel end 0x%llx and 0x%llx",
			       path, (ull)size,
			       (ull)(k->initrd_limit > k->end ? k->initrd_limit - k->end : 0),
			       (ull)k->end, (ull)k->initrd_limit);
	}
	ret = loader_copy_to_guest(mem, fd, 0, gpa, size);
	close(fd);
	if (ret)
		return err_set(err, ret, "initrd %s: %s", path, strerror(-ret));
	s->initrd_gpa = gpa;
	s->initrd_size = size;
	return 0;
}

/* The tables go where a BIOS-area scan finds the RSDP; the kernel also
 * gets its address (zero page, PVH start info), which saves the scan. */
static int loader_acpi(struct guest_mem *mem, const struct acpi_platform *p, uint64_t *rsdp,
		       struct errbuf *err)
{
	uint8_t buf[ACPI_TABLES_MAX];
	struct acpi_layout l;

	_Static_assert(LAYOUT_ACPI_BASE + ACPI_TABLES_MAX <= LAYOUT_HIMEM,
		       "ACPI tables must stay in the reserved BIOS area");
	long n = acpi_build(buf, sizeof(buf), LAYOUT_ACPI_BASE, p, &l);
	if (n < 0)
		return err_set(err, (int)n, "ACPI tables (%u vCPUs, %u devices): %s", p->nr_cpus,
			       p->nr_devs, strerror((int)-n));
	if (gm_write(mem, LAYOUT_ACPI_BASE, buf, (uint64_t)n))
		return err_set(err, -EFAULT, "no guest RAM for the ACPI tables at 0x%llx",
			       (ull)LAYOUT_ACPI_BASE);
	*rsdp = l.rsdp;
	return 0;
}

int boot_load(struct guest_mem *mem, const struct boot_spec *spec, struct boot_setup *out,
	      struct errbuf *err)
{
	struct loader_kernel k;
	struct boot_e820_entry e820[BOOT_E820_MAX];
	unsigned n;
	int ret;

	memset(out, 0, sizeof(*out));
	if (!spec->kernel_path)
		return err_set(err, -EINVAL, "no kernel image given");
	if (spec->nr_vcpus < 1 || spec->nr_vcpus > BOOT_MAX_VCPUS)
		return err_set(err, -EINVAL, "%u vCPUs: 1..%u supported", spec->nr_vcpus,
			       BOOT_MAX_VCPUS);
	/* The boot area below 1 MiB and a kernel above it need at least 2 MiB. */
	if (loader_low_end(mem) < 2 * LAYOUT_HIMEM)
		return err_set(err, -EINVAL, "guest RAM of %llu bytes is too small to boot",
			       (ull)mem->total);

	ret = loader_kernel(mem, spec, &k, err);
	if (ret)
		return ret;
	out->mode = k.mode;
	out->entry = k.entry;
	out->kernel_start = k.start;
	out->kernel_end = k.end;

	ret = bootparams_write_cmdline(mem, spec->cmdline, k.cmdline_max, err);
	if (ret)
		return ret;
	if (spec->initrd_path) {
		ret = loader_initrd(mem, spec->initrd_path, &k, out, err);
		if (ret)
			return ret;
	}
	if (!spec->no_mptable) {
		ret = mptable_write(mem, spec->nr_vcpus, err);
		if (ret)
			return ret;
	}

	if (spec->acpi) {
		ret = loader_acpi(mem, spec->acpi, &out->rsdp_gpa, err);
		if (ret)
			return ret;
	}

	n = bootparams_e820(mem, e820);
	if (k.mode == BOOT_ENTRY_PVH) {
		out->params_gpa = LAYOUT_PVH_INFO;
		return pvh_write_start_info(mem, out, e820, n, err);
	}
	struct boot_params bp;
	bootparams_fill(&bp, &k, out, e820, n);
	out->params_gpa = LAYOUT_ZERO_PAGE;
	if (gm_write(mem, LAYOUT_ZERO_PAGE, &bp, sizeof(bp)))
		return err_set(err, -EFAULT, "no guest RAM for the zero page");
	return 0;
}
