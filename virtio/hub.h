/* The VMM thread's dispatcher for virtio: one epoll set holding every fd
 * the virtio devices watch (queue-notify eventfds, control eventfds, TAP
 * fds, vsock sockets), itself registered as a single handler in the VMM
 * event loop. Watches are unlimited in number (a vsock device may hold many
 * connections) and carry their own callback.
 *
 * Freeing a watch's owner from inside a callback is safe only through
 * vhub_defer_free(): events for it may still sit in the batch being
 * dispatched. Threading: VMM thread only. */
#ifndef EMBER_VIRTIO_HUB_H
#define EMBER_VIRTIO_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vhub_watch;
typedef void (*vhub_cb)(struct vhub_watch *w, uint32_t events);

struct vhub_watch {
	int fd;         /* -1 when not registered */
	uint32_t events;
	vhub_cb cb;
	void *opaque;
};

struct vhub {
	int epfd;
	bool dispatching;
	void **deferred;
	size_t nr_deferred, cap_deferred;
};

int vhub_init(struct vhub *hub);
/* Frees what is deferred and closes the epoll fd; watches are the
 * owners' business (they must be removed or their fds closed). */
void vhub_destroy(struct vhub *hub);
int vhub_add(struct vhub *hub, struct vhub_watch *w, int fd, uint32_t events, vhub_cb cb,
	     void *opaque);
int vhub_mod(struct vhub *hub, struct vhub_watch *w, uint32_t events);
/* No-op on a watch that is not registered. */
void vhub_del(struct vhub *hub, struct vhub_watch *w);
/* free(ptr) once the current dispatch batch is over (now if none). */
void vhub_defer_free(struct vhub *hub, void *ptr);
/* Waits up to timeout_ms and runs the callbacks of one batch. Returns the
 * number run or -errno. */
int vhub_run(struct vhub *hub, int timeout_ms);

#endif
