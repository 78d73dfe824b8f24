#include "runtime/base/evloop.h"

#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

int evloop_init(struct evloop *loop)
{
	for (int i = 0; i < EVLOOP_MAX_HANDLERS; i++)
		loop->handlers[i].fd = -1;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	return loop->epfd < 0 ? -errno : 0;
}

void evloop_destroy(struct evloop *loop)
{
	if (loop->epfd >= 0)
		close(loop->epfd);
	loop->epfd = -1;
}

int evloop_add(struct evloop *loop, int fd, uint32_t events, evloop_cb cb, void *opaque)
{
	for (int i = 0; i < EVLOOP_MAX_HANDLERS; i++) {
		struct evloop_handler *h = &loop->handlers[i];
		if (h->fd != -1)
			continue;
		struct epoll_event ev = { .events = events, .data.u32 = (uint32_t)i };
		if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
			return -errno;
		*h = (struct evloop_handler){ fd, cb, opaque };
		return 0;
	}
	return -ENOSPC;
}

int evloop_del(struct evloop *loop, int fd)
{
	for (int i = 0; i < EVLOOP_MAX_HANDLERS; i++) {
		if (loop->handlers[i].fd == fd) {
			loop->handlers[i].fd = -1;
			return epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL) < 0 ? -errno : 0;
		}
	}
	return -ENOENT;
}

int evloop_run_once(struct evloop *loop, int timeout_ms)
{
	struct epoll_event evs[16];
	int n = epoll_wait(loop->epfd, evs, 16, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	int ran = 0;
	for (int i = 0; i < n; i++) {
		uint32_t slot = evs[i].data.u32;
		/* A handler earlier in this batch may have removed this one. */
		if (slot >= EVLOOP_MAX_HANDLERS || loop->handlers[slot].fd == -1)
			continue;
		struct evloop_handler h = loop->handlers[slot];
		h.cb(h.opaque, evs[i].events);
		ran++;
	}
	return ran;
}
