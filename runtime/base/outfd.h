/* Writing to an output fd without ever blocking: a write to a reader that
 * stalls (a full pipe, a stopped terminal, a FIFO nobody reads) answers
 * -EAGAIN instead of waiting.
 *
 * An inherited fd (stdout, stderr) shares its file status flags with the
 * parent and every other process holding the same open file description:
 * setting O_NONBLOCK on it would change the user's shell too. So
 * outfd_open_shared() writes through a private description of the same
 * pipe, FIFO or terminal, opened anew through /proc/self/fd with
 * O_NONBLOCK; sockets get send(MSG_DONTWAIT) per call; regular files and
 * block devices are written as they are (no reader can stall them). Only
 * where /proc cannot be opened (a chroot without it) is O_NONBLOCK set on
 * the shared description, and the old flags come back at outfd_close
 * (not after a SIGKILL). */
#ifndef EMBER_OUTFD_H
#define EMBER_OUTFD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct outfd {
	int fd;            /* where writes go; -1: nowhere */
	bool owned;        /* fd is ours: outfd_close closes it */
	bool sock;         /* a socket: send(MSG_DONTWAIT) */
	bool regular;      /* a regular file or block device: never stalls on
			    * a reader, and epoll refuses it */
	int restore_flags; /* >= 0: the fd's flags before we set O_NONBLOCK */
};

/* For an fd the caller keeps (and may share with other processes).
 * Returns 0 or -errno (fstat failed: not an open fd). */
int outfd_open_shared(struct outfd *o, int fd);
/* For an fd this process opened itself with O_NONBLOCK; outfd_close
 * closes it. */
void outfd_adopt(struct outfd *o, int fd);
/* Returns the bytes written (possibly fewer than len), -EAGAIN when the
 * reader is not keeping up, or another -errno (EPIPE: no reader left). */
ssize_t outfd_write(const struct outfd *o, const void *buf, size_t len);
/* Idempotent; leaves o->fd -1. */
void outfd_close(struct outfd *o);

#endif
