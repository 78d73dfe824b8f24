/* The shared libraries a dynamically linked VMM needs inside its jail.
 * Firecracker's jailer expects a static binary; ember links glibc,
 * unicorn, libmicrohttpd and others dynamically, so the jailer finds what
 * the dynamic loader will load (PT_INTERP, then DT_NEEDED, recursively) and
 * pivot.c binds each file read-only into the jail: the interpreter at its
 * own path, every library in JAIL_LIB_DIR, a directory the loader always
 * searches. A static binary needs nothing. */
#ifndef EMBER_JAILER_LIBS_H
#define EMBER_JAILER_LIBS_H

#include <limits.h>
#include <stddef.h>

#include "runtime/base/err.h"

#define JAIL_LIB_DIR "/lib/x86_64-linux-gnu"
#define JAIL_MAX_LIBS 256

struct jail_lib {
	char host[PATH_MAX]; /* the file on the host */
	char jail[PATH_MAX]; /* where the jail shows it (absolute, inside the jail) */
};

struct jail_libs {
	struct jail_lib *v;
	size_t n;
};

/* What an ELF file asks of the dynamic loader. */
struct elf_deps {
	char interp[PATH_MAX]; /* PT_INTERP, "" without */
	char *strtab;          /* the dynamic string table (malloc'd) */
	size_t strsz;
	size_t needed[JAIL_MAX_LIBS]; /* DT_NEEDED names: offsets into strtab */
	size_t nneeded;
	long runpath; /* DT_RUNPATH, else DT_RPATH: offset into strtab, -1 without */
};

/* Reads a 64-bit little-endian x86-64 ELF file. -ENOEXEC (with a message)
 * for anything else or a malformed one. */
int elf_deps_read(const char *path, struct elf_deps *d, struct errbuf *err);
void elf_deps_free(struct elf_deps *d);

/* Every file exec's loading needs, found on the host the way the loader
 * looks (DT_RUNPATH/DT_RPATH with $ORIGIN, then the system directories),
 * each once. A library not found is -ENOENT naming it and who needs it. */
int jail_libs_resolve(const char *exec, struct jail_libs *out, struct errbuf *err);
void jail_libs_free(struct jail_libs *l);

#endif
