/* The handler's side of the handshake: one listening socket, one VMM, one
 * message with one file descriptor. */
#include "snapshots/uffd/handler.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

_Static_assert(sizeof(((struct sockaddr_un *)0)->sun_path) == UFFD_SUN_PATH, "sun_path");

/* What a file descriptor of a userfaultfd reads as in /proc. */
#define UFFD_LINK "anon_inode:[userfaultfd]"
/* Room for a few fds: any beyond the one expected are closed, not leaked. */
#define MAX_FDS 8

static int bind_listen(int s, const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	strcpy(addr.sun_path, path);
	if (bind(s, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return -errno;
	if (listen(s, 1) < 0) {
		int r = -errno;
		unlink(path);
		return r;
	}
	return 0;
}

/* Listens under a temporary name and links it into place: the path
 * appears only when connecting to it works, and link(), unlike rename(),
 * refuses an existing path. */
static int listen_staged(int s, const char *path)
{
	char tmp[UFFD_SUN_PATH];
	int n = snprintf(tmp, sizeof(tmp), "%s.%d", path, (int)getpid());
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return bind_listen(s, path);
	int r = bind_listen(s, tmp);
	if (r < 0)
		return r;
	r = link(tmp, path) < 0 ? -errno : 0;
	unlink(tmp);
	return r;
}

/* link()'s answers where the file system has no hard links. */
static bool no_hard_links(int r)
{
	return r == -EPERM || r == -EOPNOTSUPP || r == -EXDEV;
}

int uffd_listen(const char *path, struct uffd_listener *l, struct errbuf *err)
{
	l->fd = -1;
	if (strlen(path) >= sizeof(l->path))
		return err_set(err, -ENAMETOOLONG, "socket path longer than %d bytes",
			       UFFD_SUN_PATH - 1);
	strcpy(l->path, path);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return err_set(err, -errno, "socket: %s", strerror(errno));
	int r = listen_staged(s, path);
	if (no_hard_links(r)) {
		/* The plain bind, with its short window before listen(). */
		close(s);
		s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		r = s < 0 ? -errno : bind_listen(s, path);
	}
	struct stat st;
	if (r == 0 && lstat(path, &st) < 0)
		r = -errno;
	if (r < 0) {
		if (s >= 0)
			close(s);
		return err_set(err, r, "socket %s: %s", path,
			       r == -EEXIST || r == -EADDRINUSE ? "already exists" : strerror(-r));
	}
	l->fd = s;
	l->dev = st.st_dev;
	l->ino = st.st_ino;
	return 0;
}

void uffd_listener_close(struct uffd_listener *l)
{
	if (l->fd < 0)
		return;
	close(l->fd);
	l->fd = -1;
	/* Only the socket we made: someone may have put another file there. */
	struct stat st;
	if (lstat(l->path, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == l->dev &&
	    st.st_ino == l->ino)
		unlink(l->path);
}

int uffd_accept(struct uffd_listener *l, int *conn, struct errbuf *err)
{
	int c;
	do
		c = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
	while (c < 0 && (errno == EINTR || errno == ECONNABORTED));
	int r = c < 0 ? -errno : 0;
	uffd_listener_close(l);
	if (r < 0)
		return err_set(err, r, "socket %s: accept: %s", l->path, strerror(-r));
	*conn = c;
	return 0;
}

/* Without /proc (a jail may lack it) the check is left to the first
 * read, which fails on anything else. */
static int check_uffd(int fd, struct errbuf *err)
{
	char proc[64], link[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(proc, link, sizeof(link) - 1);
	if (n < 0)
		return 0;
	link[n] = 0;
	if (strcmp(link, UFFD_LINK) != 0)
		return err_set(err, -EBADMSG, "the file descriptor sent is not a userfaultfd");
	/* The VMM made it non-blocking, as Firecracker does; else poll()
	 * would report only errors. The flag is the open file's, shared. */
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return err_set(err, -errno, "userfaultfd: %s", strerror(errno));
	return 0;
}

/* Takes every descriptor the message carried; only one may have come. */
static int take_fds(struct msghdr *mh, int *uffd, struct errbuf *err)
{
	int fds[MAX_FDS], n = 0;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k && n < MAX_FDS; i++)
			memcpy(&fds[n++], CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
	}
	int r = 0;
	if (mh->msg_flags & MSG_CTRUNC)
		r = err_set(err, -EBADMSG, "more than %d file descriptors with the message", MAX_FDS);
	else if (n != 1)
		r = err_set(err, -EBADMSG, "%d file descriptors with the message, want the userfaultfd",
			    n);
	else
		r = check_uffd(fds[0], err);
	if (r < 0) {
		for (int i = 0; i < n; i++)
			close(fds[i]);
		return r;
	}
	*uffd = fds[0];
	return 0;
}

int uffd_receive(int conn, int timeout_ms, char *buf, size_t cap, size_t *len, int *uffd,
		 struct errbuf *err)
{
	struct pollfd p = { .fd = conn, .events = POLLIN };
	int r;
	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return err_set(err, -errno, "poll: %s", strerror(errno));
	if (r == 0)
		return err_set(err, -ETIMEDOUT, "the VMM connected but sent nothing in %d ms",
			       timeout_ms);
	union {
		char buf[CMSG_SPACE(MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	memset(&ctl, 0, sizeof(ctl));
	struct iovec iov = { buf, cap };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			     .msg_controllen = sizeof(ctl.buf) };
	ssize_t n;
	do
		n = recvmsg(conn, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return err_set(err, -errno, "receiving the message: %s", strerror(errno));
	if (n == 0)
		return err_set(err, -EBADMSG, "the VMM hung up without sending its message");
	r = take_fds(&mh, uffd, err);
	if (r < 0)
		return r;
	*len = (size_t)n;
	return 0;
}
