#include "jailer/libs.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Where the loader looks after DT_RUNPATH (glibc's system directories on
 * Debian and others, plus the usual extra ones). */
static const char *const lib_dirs[] = {
	"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64",
	"/lib",			 "/usr/lib",		      "/usr/local/lib",
};

#define MAX_PHDRS 512
#define MAX_DYNAMIC (1 << 20)
#define MAX_STRTAB (16 << 20)

static int read_at(int fd, void *buf, size_t n, off_t off)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r = pread(fd, (char *)buf + done, n - done, off + (off_t)done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -ENOEXEC;
		done += (size_t)r;
	}
	return 0;
}

static bool ehdr_ok(const Elf64_Ehdr *h)
{
	return !memcmp(h->e_ident, ELFMAG, SELFMAG) && h->e_ident[EI_CLASS] == ELFCLASS64 &&
	       h->e_ident[EI_DATA] == ELFDATA2LSB && h->e_machine == EM_X86_64 &&
	       (h->e_type == ET_EXEC || h->e_type == ET_DYN);
}

void elf_deps_free(struct elf_deps *d)
{
	free(d->strtab);
	d->strtab = NULL;
}

/* The file offset of [vaddr, vaddr + len) from the PT_LOAD holding it. */
static int vaddr_to_off(const Elf64_Phdr *ph, size_t n, uint64_t vaddr, uint64_t len, off_t *off)
{
	for (size_t i = 0; i < n; i++)
		if (ph[i].p_type == PT_LOAD && vaddr >= ph[i].p_vaddr &&
		    vaddr - ph[i].p_vaddr <= ph[i].p_filesz &&
		    len <= ph[i].p_filesz - (vaddr - ph[i].p_vaddr)) {
			*off = (off_t)(ph[i].p_offset + (vaddr - ph[i].p_vaddr));
			return 0;
		}
	return -ENOEXEC;
}

static int read_dynamic(int fd, const Elf64_Phdr *ph, size_t nph, const Elf64_Phdr *dyn,
			struct elf_deps *d, const char *path, struct errbuf *err)
{
	if (dyn->p_filesz > MAX_DYNAMIC || dyn->p_filesz % sizeof(Elf64_Dyn))
		return err_set(err, -ENOEXEC, "%s: malformed dynamic section", path);
	size_t n = dyn->p_filesz / sizeof(Elf64_Dyn);
	Elf64_Dyn *dt = malloc(n ? n * sizeof(*dt) : 1);
	if (!dt)
		return err_set(err, -ENOMEM, "%s: out of memory", path);
	int r = read_at(fd, dt, n * sizeof(*dt), (off_t)dyn->p_offset);
	uint64_t strtab = 0, strsz = 0;
	bool has_strtab = false;
	long rpath = -1;
	for (size_t i = 0; r == 0 && i < n && dt[i].d_tag != DT_NULL; i++) {
		switch (dt[i].d_tag) {
		case DT_NEEDED:
			if (d->nneeded == JAIL_MAX_LIBS)
				r = -E2BIG;
			else
				d->needed[d->nneeded++] = dt[i].d_un.d_val;
			break;
		case DT_STRTAB:
			strtab = dt[i].d_un.d_ptr;
			has_strtab = true;
			break;
		case DT_STRSZ:
			strsz = dt[i].d_un.d_val;
			break;
		case DT_RUNPATH:
			d->runpath = (long)dt[i].d_un.d_val;
			break;
		case DT_RPATH:
			rpath = (long)dt[i].d_un.d_val;
			break;
		}
	}
	free(dt);
	if (r < 0)
		return err_set(err, r, "%s: reading the dynamic section: %s", path, strerror(-r));
	if (d->runpath < 0)
		d->runpath = rpath;
	if (!d->nneeded && d->runpath < 0)
		return 0;
	off_t off;
	if (!has_strtab || !strsz || strsz > MAX_STRTAB ||
	    vaddr_to_off(ph, nph, strtab, strsz, &off) < 0)
		return err_set(err, -ENOEXEC, "%s: malformed dynamic string table", path);
	d->strtab = malloc(strsz + 1);
	if (!d->strtab)
		return err_set(err, -ENOMEM, "%s: out of memory", path);
	if ((r = read_at(fd, d->strtab, strsz, off)) < 0)
		return err_set(err, r, "%s: reading the string table: %s", path, strerror(-r));
	d->strtab[strsz] = 0;
	d->strsz = strsz;
	for (size_t i = 0; i < d->nneeded; i++)
		if (d->needed[i] >= strsz || !d->strtab[d->needed[i]])
			return err_set(err, -ENOEXEC, "%s: malformed DT_NEEDED entry", path);
	if (d->runpath >= 0 && (uint64_t)d->runpath >= strsz)
		return err_set(err, -ENOEXEC, "%s: malformed DT_RUNPATH entry", path);
	return 0;
}

static int elf_read_fd(int fd, const char *path, struct elf_deps *d, struct errbuf *err)
{
	Elf64_Ehdr eh;
	if (read_at(fd, &eh, sizeof(eh), 0) < 0 || !ehdr_ok(&eh))
		return err_set(err, -ENOEXEC, "%s: not a 64-bit x86-64 ELF executable", path);
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || !eh.e_phnum || eh.e_phnum > MAX_PHDRS)
		return err_set(err, -ENOEXEC, "%s: malformed program headers", path);
	Elf64_Phdr *ph = malloc(eh.e_phnum * sizeof(*ph));
	if (!ph)
		return err_set(err, -ENOMEM, "%s: out of memory", path);
	int r = read_at(fd, ph, eh.e_phnum * sizeof(*ph), (off_t)eh.e_phoff);
	if (r < 0) {
		free(ph);
		return err_set(err, -ENOEXEC, "%s: malformed program headers", path);
	}
	const Elf64_Phdr *dyn = NULL;
	for (size_t i = 0; r == 0 && i < eh.e_phnum; i++) {
		if (ph[i].p_type == PT_DYNAMIC) {
			dyn = &ph[i];
		} else if (ph[i].p_type == PT_INTERP) {
			size_t n = ph[i].p_filesz;
			if (n < 2 || n > sizeof(d->interp) ||
			    read_at(fd, d->interp, n, (off_t)ph[i].p_offset) < 0 ||
			    d->interp[n - 1] || strlen(d->interp) != n - 1 || d->interp[0] != '/')
				r = err_set(err, -ENOEXEC, "%s: malformed PT_INTERP", path);
		}
	}
	if (r == 0 && dyn)
		r = read_dynamic(fd, ph, eh.e_phnum, dyn, d, path, err);
	free(ph);
	return r;
}

int elf_deps_read(const char *path, struct elf_deps *d, struct errbuf *err)
{
	memset(d, 0, sizeof(*d));
	d->runpath = -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, -errno, "%s: %s", path, strerror(errno));
	int r = elf_read_fd(fd, path, d, err);
	close(fd);
	if (r < 0)
		elf_deps_free(d);
	return r;
}

/* Whether path is a file the loader would take: an x86-64 ELF64. */
static bool elf_fits(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	Elf64_Ehdr eh;
	bool ok = read_at(fd, &eh, sizeof(eh), 0) == 0 && ehdr_ok(&eh);
	close(fd);
	return ok;
}

static bool try_dir(const char *dir, size_t dlen, const char *name, char out[PATH_MAX])
{
	int n = snprintf(out, PATH_MAX, "%.*s/%s", (int)dlen, dir, name);
	return n > 0 && n < PATH_MAX && elf_fits(out);
}

/* DT_RUNPATH's directories ($ORIGIN: the needing object's directory),
 * then lib_dirs. */
static bool search(const char *name, const char *runpath, const char *origin_of,
		   char out[PATH_MAX])
{
	while (runpath && *runpath) {
		const char *end = strchr(runpath, ':');
		size_t len = end ? (size_t)(end - runpath) : strlen(runpath);
		char dir[PATH_MAX];
		const char *o = NULL;
		if (!strncmp(runpath, "$ORIGIN", 7))
			o = runpath + 7;
		else if (!strncmp(runpath, "${ORIGIN}", 9))
			o = runpath + 9;
		if (o) {
			const char *slash = strrchr(origin_of, '/');
			size_t olen = slash ? (size_t)(slash - origin_of) : 0;
			int n = snprintf(dir, sizeof(dir), "%.*s%.*s", (int)olen, origin_of,
					 (int)(len - (size_t)(o - runpath)), o);
			if (n > 0 && n < (int)sizeof(dir) && try_dir(dir, (size_t)n, name, out))
				return true;
		} else if (len && try_dir(runpath, len, name, out)) {
			return true;
		}
		runpath = end ? end + 1 : NULL;
	}
	for (size_t i = 0; i < sizeof(lib_dirs) / sizeof(lib_dirs[0]); i++)
		if (try_dir(lib_dirs[i], strlen(lib_dirs[i]), name, out))
			return true;
	return false;
}

static bool listed(const struct jail_libs *l, const char *jail)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].jail, jail))
			return true;
	return false;
}

static int add_lib(struct jail_libs *l, const char *host, const char *jail, struct errbuf *err)
{
	if (listed(l, jail))
		return 0;
	if (l->n == JAIL_MAX_LIBS)
		return err_set(err, -E2BIG, "more than %d shared libraries", JAIL_MAX_LIBS);
	struct jail_lib *v = realloc(l->v, (l->n + 1) * sizeof(*v));
	if (!v)
		return err_set(err, -ENOMEM, "out of memory");
	l->v = v;
	if (strlen(host) >= PATH_MAX || strlen(jail) >= PATH_MAX)
		return err_set(err, -ENAMETOOLONG, "%s: path too long", host);
	strcpy(v[l->n].host, host);
	strcpy(v[l->n].jail, jail);
	l->n++;
	return 0;
}

/* Adds what one object needs; the list is also the queue of objects. */
static int add_needs(struct jail_libs *l, const char *obj, bool is_exec, struct errbuf *err)
{
	struct elf_deps d;
	int r = elf_deps_read(obj, &d, err);
	if (r < 0)
		return r;
	if (is_exec && d.interp[0]) {
		if (!elf_fits(d.interp))
			r = err_set(err, -ENOENT, "%s: its interpreter %s is not on this host", obj,
				    d.interp);
		else
			r = add_lib(l, d.interp, d.interp, err);
	}
	for (size_t i = 0; r == 0 && i < d.nneeded; i++) {
		const char *name = d.strtab + d.needed[i];
		char host[PATH_MAX], jail[PATH_MAX];
		if (strchr(name, '/')) {
			if (name[0] != '/' || !elf_fits(name))
				r = err_set(err, -ENOENT, "%s needs %s, not on this host", obj, name);
			else
				r = add_lib(l, name, name, err);
			continue;
		}
		snprintf(jail, sizeof(jail), JAIL_LIB_DIR "/%s", name);
		if (listed(l, jail))
			continue;
		if (!search(name, d.runpath >= 0 ? d.strtab + d.runpath : NULL, obj, host)) {
			r = err_set(err, -ENOENT, "%s needs %s, found in none of its search directories",
				    obj, name);
			continue;
		}
		r = add_lib(l, host, jail, err);
	}
	elf_deps_free(&d);
	return r;
}

int jail_libs_resolve(const char *exec, struct jail_libs *out, struct errbuf *err)
{
	memset(out, 0, sizeof(*out));
	int r = add_needs(out, exec, true, err);
	for (size_t i = 0; r == 0 && i < out->n; i++) {
		char obj[PATH_MAX];
		strcpy(obj, out->v[i].host);
		r = add_needs(out, obj, false, err);
	}
	if (r < 0)
		jail_libs_free(out);
	return r;
}

void jail_libs_free(struct jail_libs *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}
