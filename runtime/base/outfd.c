#include "runtime/base/outfd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static void outfd_none(struct outfd *o)
{
	*o = (struct outfd){ .fd = -1, .restore_flags = -1 };
}

/* A second open file description of the pipe, FIFO or terminal behind fd,
 * with its own O_NONBLOCK; -1 when /proc cannot give one. */
static int reopen_private(int fd, const struct stat *st, int flags)
{
	char path[40];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	/* O_NOCTTY: a session leader without a terminal must not acquire one. */
	int nfd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY | (flags & O_APPEND));
	if (nfd < 0)
		return -1;
	struct stat nst;
	if (fstat(nfd, &nst) < 0 || nst.st_dev != st->st_dev || nst.st_ino != st->st_ino) {
		close(nfd);
		return -1;
	}
	return nfd;
}

int outfd_open_shared(struct outfd *o, int fd)
{
	outfd_none(o);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	o->fd = fd;
	if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) {
		/* Reopening would lose the shared offset: console and log
		 * redirected into one file (>out 2>&1) would overwrite each
		 * other. */
		o->regular = true;
		return 0;
	}
	if (S_ISSOCK(st.st_mode)) {
		o->sock = true;
		return 0;
	}
	int flags = fcntl(fd, F_GETFL);
	if (flags < 0)
		return -errno;
	if (flags & O_NONBLOCK)
		return 0;
	int nfd = reopen_private(fd, &st, flags);
	if (nfd >= 0) {
		o->fd = nfd;
		o->owned = true;
		return 0;
	}
	if (fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return -errno;
	o->restore_flags = flags;
	return 0;
}

void outfd_adopt(struct outfd *o, int fd)
{
	outfd_none(o);
	o->fd = fd;
	o->owned = true;
	struct stat st;
	o->regular = fstat(fd, &st) == 0 && (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode));
}

ssize_t outfd_write(const struct outfd *o, const void *buf, size_t len)
{
	if (o->fd < 0)
		return -EBADF;
	for (int tries = 0; tries < 16; tries++) {
		ssize_t n = o->sock ? send(o->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL)
				    : write(o->fd, buf, len);
		if (n >= 0)
			return n;
		if (errno == EWOULDBLOCK)
			return -EAGAIN;
		if (errno != EINTR)
			return -errno;
	}
	return -EINTR;
}

void outfd_close(struct outfd *o)
{
	if (o->fd >= 0 && o->owned)
		close(o->fd);
	else if (o->fd >= 0 && o->restore_flags >= 0)
		fcntl(o->fd, F_SETFL, o->restore_flags);
	outfd_none(o);
}
