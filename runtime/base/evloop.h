/* The VMM thread's epoll loop. Handlers run on that thread only. */
#ifndef EMBER_EVLOOP_H
#define EMBER_EVLOOP_H

#include <stdbool.h>
#include <stdint.h>

#define EVLOOP_MAX_HANDLERS 64

typedef void (*evloop_cb)(void *opaque, uint32_t events);

struct evloop_handler {
	int fd; /* -1 when the slot is free */
	evloop_cb cb;
	void *opaque;
};

struct evloop {
	int epfd;
	struct evloop_handler handlers[EVLOOP_MAX_HANDLERS];
};

int evloop_init(struct evloop *loop);
void evloop_destroy(struct evloop *loop);
/* events: EPOLLIN etc. Returns 0, -ENOSPC when full, or -errno. */
int evloop_add(struct evloop *loop, int fd, uint32_t events, evloop_cb cb, void *opaque);
/* Safe from inside a handler, including for the fd being dispatched. */
int evloop_del(struct evloop *loop, int fd);
/* Waits up to timeout_ms (-1: forever) and dispatches. Returns the number
 * of handlers run or -errno (EINTR is 0). */
int evloop_run_once(struct evloop *loop, int timeout_ms);

#endif
