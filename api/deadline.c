/* The request deadline's bookkeeping; the server thread owns it (every
 * call comes from libmicrohttpd's callbacks or the loop around MHD_run). */
#include "api/deadline.h"

#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

void api_dl_init(struct api_deadlines *d, int64_t deadline_ns, int64_t idle_ns)
{
	for (unsigned i = 0; i < API_DL_SLOTS; i++)
		d->conn[i] = (struct api_conn){ .fd = -1 };
	d->deadline_ns = deadline_ns;
	d->idle_ns = idle_ns;
}

struct api_conn *api_dl_open(struct api_deadlines *d, int fd, int64_t now)
{
	for (unsigned i = 0; i < API_DL_SLOTS; i++) {
		struct api_conn *c = &d->conn[i];
		if (c->fd < 0) {
			*c = (struct api_conn){ .fd = fd };
			api_dl_ready(c, now);
			return c;
		}
	}
	return NULL;
}

void api_dl_close(struct api_conn *c)
{
	if (c)
		c->fd = -1;
}

void api_dl_answering(struct api_conn *c)
{
	if (c)
		c->answering = true;
}

void api_dl_ready(struct api_conn *c, int64_t now)
{
	if (!c)
		return;
	c->ready_ns = now;
	c->first_ns = 0;
	c->answering = false;
}

static bool waiting(const struct api_conn *c)
{
	return c->fd >= 0 && !c->answering && !c->cut;
}

void api_dl_peek(struct api_deadlines *d, int64_t now)
{
	for (unsigned i = 0; i < API_DL_SLOTS; i++) {
		struct api_conn *c = &d->conn[i];
		int queued = 0;
		if (waiting(c) && !c->first_ns && ioctl(c->fd, FIONREAD, &queued) == 0 && queued > 0)
			c->first_ns = now;
	}
}

static int64_t deadline(const struct api_deadlines *d, const struct api_conn *c)
{
	int64_t start = c->ready_ns + d->idle_ns;
	if (c->first_ns && c->first_ns < start)
		start = c->first_ns;
	return start + d->deadline_ns;
}

unsigned api_dl_expire(struct api_deadlines *d, int64_t now, int64_t *next)
{
	unsigned cut = 0;
	*next = -1;
	for (unsigned i = 0; i < API_DL_SLOTS; i++) {
		struct api_conn *c = &d->conn[i];
		if (!waiting(c))
			continue;
		int64_t t = deadline(d, c);
		if (t <= now) {
			/* MHD owns the fd: it sees the end of the stream and closes
			 * it, and the slot, in its next round. */
			shutdown(c->fd, SHUT_RDWR);
			c->cut = true;
			cut++;
		} else if (*next < 0 || t < *next) {
			*next = t;
		}
	}
	return cut;
}
