/* Firecracker's Uffd memory backend: guest memory stays empty, registered
 * with a userfaultfd, and a separate page-fault handler process fills each
 * page on first touch (docs/snapshots.md). The handler listens on a Unix
 * socket; we send it, in one message, a JSON array describing each region
 * ({"base_host_virt_addr", "size", "offset", "page_size"}, Firecracker's
 * GuestRegionUffdMapping) and the userfaultfd itself (SCM_RIGHTS).
 *
 * The connection stays open for as long as the memory is in use, as
 * Firecracker keeps it: the handler takes its hang-up for "the VMM is gone"
 * (the userfaultfd cannot tell it: the handler holds a copy), so it ends
 * when the VM is destroyed, even if this process goes on serving. */
#ifndef EMBER_VM_UFFD_H
#define EMBER_VM_UFFD_H

#include "runtime/base/err.h"
#include "runtime/base/gmem.h"

/* Registers every region of mem (anonymous, untouched) with a new
 * userfaultfd and hands it to the handler at sock_path. Returns 0 with the
 * userfaultfd in *uffd and the connection in *conn (the VM keeps both open
 * and closes both with its memory), or -errno. */
int vm_uffd_attach(struct guest_mem *mem, const char *sock_path, int *uffd, int *conn,
		   struct errbuf *err);

#endif
