#include "virtio/hub.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "runtime/base/log.h"

#define VHUB_BATCH 32

int vhub_init(struct vhub *hub)
{
	hub->dispatching = false;
	hub->deferred = NULL;
	hub->nr_deferred = hub->cap_deferred = 0;
	hub->epfd = epoll_create1(EPOLL_CLOEXEC);
	return hub->epfd < 0 ? -errno : 0;
}

static void vhub_flush_deferred(struct vhub *hub)
{
	for (size_t i = 0; i < hub->nr_deferred; i++)
		free(hub->deferred[i]);
	hub->nr_deferred = 0;
}

void vhub_destroy(struct vhub *hub)
{
	vhub_flush_deferred(hub);
	free(hub->deferred);
	hub->deferred = NULL;
	hub->cap_deferred = 0;
	if (hub->epfd >= 0)
		close(hub->epfd);
	hub->epfd = -1;
}

int vhub_add(struct vhub *hub, struct vhub_watch *w, int fd, uint32_t events, vhub_cb cb,
	     void *opaque)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };
	w->fd = fd;
	w->events = events;
	w->cb = cb;
	w->opaque = opaque;
	if (epoll_ctl(hub->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		w->fd = -1;
		return -errno;
	}
	return 0;
}

int vhub_mod(struct vhub *hub, struct vhub_watch *w, uint32_t events)
{
	if (w->fd < 0)
		return -ENOENT;
	if (events == w->events)
		return 0;
	struct epoll_event ev = { .events = events, .data.ptr = w };
	if (epoll_ctl(hub->epfd, EPOLL_CTL_MOD, w->fd, &ev) < 0)
		return -errno;
	w->events = events;
	return 0;
}

void vhub_del(struct vhub *hub, struct vhub_watch *w)
{
	if (w->fd < 0)
		return;
	epoll_ctl(hub->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	w->fd = -1;
}

void vhub_defer_free(struct vhub *hub, void *ptr)
{
	if (!hub->dispatching) {
		free(ptr);
		return;
	}
	if (hub->nr_deferred == hub->cap_deferred) {
		size_t cap = hub->cap_deferred ? hub->cap_deferred * 2 : 16;
		void **d = realloc(hub->deferred, cap * sizeof(*d));
		if (!d) {
			/* Leaking beats a use-after-free; this is ENOMEM anyway. */
			log_err("vhub: out of memory deferring a free");
			return;
		}
		hub->deferred = d;
		hub->cap_deferred = cap;
	}
	hub->deferred[hub->nr_deferred++] = ptr;
}

int vhub_run(struct vhub *hub, int timeout_ms)
{
	struct epoll_event evs[VHUB_BATCH];
	int n = epoll_wait(hub->epfd, evs, VHUB_BATCH, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	int ran = 0;
	hub->dispatching = true;
	for (int i = 0; i < n; i++) {
		struct vhub_watch *w = evs[i].data.ptr;
		/* Removed by an earlier callback of this batch (its memory is
		 * still ours: frees are deferred until the batch ends). */
		if (w->fd < 0)
			continue;
		w->cb(w, evs[i].events);
		ran++;
	}
	hub->dispatching = false;
	vhub_flush_deferred(hub);
	return ran;
}
