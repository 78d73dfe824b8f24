/* The snapshot memory file: guest RAM, region after region, each page at
 * the offset it has in the one mapping gmem keeps (so the file maps back
 * as guest memory in one mmap). Pages that hold only zeros are left as
 * holes: the file is sparse, and a hole reads back as zeros. */
#ifndef EMBER_VM_MEMFILE_H
#define EMBER_VM_MEMFILE_H

#include "runtime/base/err.h"
#include "runtime/base/gmem.h"
#include "runtime/vm/dirty.h"

/* Full: every page. Diff (dirty non-NULL): only the pages dirty has,
 * zeros included, each at its own offset, the rest holes; rebase it onto
 * its base with ember-snapshot-editor. The file is written beside path,
 * fdatasync'ed and renamed over it; *written gets the bytes of data
 * written. */
int vm_memfile_write(const struct guest_mem *mem, const struct vm_dirty *dirty,
		     const char *path, uint64_t *written, struct errbuf *err);

#endif
