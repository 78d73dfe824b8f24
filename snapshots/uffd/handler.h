/* The reference page-fault handler for the Uffd memory backend
 * (`ember-uffd-handler`, docs/snapshots.md), Firecracker's protocol: the
 * handler listens on a Unix socket; one VMM connects and sends ONE message,
 * a JSON array of its guest memory regions
 * ({"base_host_virt_addr", "size", "offset", "page_size"}) with its
 * userfaultfd attached (SCM_RIGHTS); from then on every page the VMM
 * touches first is copied in from the memory file at
 * region.offset + (address - region.base).
 *
 * One handler serves one VMM; several VMMs restored from one memory file
 * each get their own handler (and socket), and share the file's page cache.
 * The VMM keeps the connection open while it uses the memory: its hang-up
 * is how the handler learns that the VMM is gone. */
#ifndef EMBER_SNAPSHOTS_UFFD_HANDLER_H
#define EMBER_SNAPSHOTS_UFFD_HANDLER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "runtime/base/err.h"

#define UFFD_PAGE 4096
#define UFFD_MAX_REGIONS 8
/* Eight regions take under 1 KiB of JSON; anything longer is not a VMM. */
#define UFFD_MSG_MAX 4096
/* How long a VMM that has connected may take to send its message. */
#define UFFD_MSG_TIMEOUT_MS 10000

struct uffd_region {
	uint64_t base;   /* host virtual address in the VMM */
	uint64_t size;
	uint64_t offset; /* of the region's first page in the memory file */
	/* Pages the VMM discarded (UFFD_EVENT_REMOVE), served as zeros from
	 * then on; one bit per page, allocated at the first remove. */
	uint64_t *removed;
};

struct uffd_layout {
	struct uffd_region r[UFFD_MAX_REGIONS];
	unsigned n;
};

/* message.c: the handshake's JSON, checked as hostile input: an array of
 * 1..UFFD_MAX_REGIONS objects with exactly the four fields (and the
 * deprecated "page_size_kib" Firecracker also sends, equal to page_size),
 * non-negative integers, page_size 4096, sizes, offsets and bases
 * page-aligned, each region inside a file of file_size bytes, no two
 * overlapping. -EBADMSG with one line of text; *out untouched then. */
int uffd_parse_message(const char *buf, size_t len, uint64_t file_size,
		       struct uffd_layout *out, struct errbuf *err);
void uffd_layout_free(struct uffd_layout *l);

/* socket.c: the listening socket. The path appears only once the handler
 * listens (bound under a temporary name, then hard-linked into place), so
 * whoever starts the handler may wait for the path and then connect; an
 * existing path is refused, not replaced. */
#define UFFD_SUN_PATH 108 /* sizeof(sockaddr_un.sun_path) on Linux */

struct uffd_listener {
	int fd;
	char path[UFFD_SUN_PATH];
	dev_t dev; /* the path's inode, so that only our own socket is unlinked */
	ino_t ino;
};

int uffd_listen(const char *path, struct uffd_listener *l, struct errbuf *err);
/* Takes one connection, then closes the listener and removes the path: a
 * second VMM is refused at connect instead of waiting forever for pages. */
int uffd_accept(struct uffd_listener *l, int *conn, struct errbuf *err);
void uffd_listener_close(struct uffd_listener *l);
/* The message (up to UFFD_MSG_MAX bytes, in one sendmsg as Firecracker and
 * Ember send it) and exactly one file descriptor, which must be a
 * userfaultfd; it is made non-blocking. Waits at most timeout_ms. */
int uffd_receive(int conn, int timeout_ms, char *buf, size_t cap, size_t *len, int *uffd,
		 struct errbuf *err);

/* serve.c: answers the userfaultfd's events until the VMM is gone (its
 * connection hung up, or its memory no longer exists): returns 0 then, or
 * -errno when it cannot go on (a fault outside the regions, an event it
 * does not handle, bytes on the connection after the message). */
int uffd_serve(int uffd, int conn, const uint8_t *file, struct uffd_layout *l,
	       struct errbuf *err);

/* run.c: the whole handler, as `ember-uffd-handler SOCKET MEMORY_FILE`
 * runs it: maps the memory file (private, read-only), listens, takes one
 * VMM, validates its message and serves it. 0 when the VMM has gone. */
int uffd_handler_run(const char *sock_path, const char *mem_path, struct errbuf *err);

#endif
