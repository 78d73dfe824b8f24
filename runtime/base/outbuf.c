#include "runtime/base/outbuf.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct outbuf {
	pthread_mutex_t lock;
	struct outfd sink;
	int wake_fd;
	uint8_t *ring;
	size_t cap, head, used; /* queued bytes: [head, head + used) mod cap */
	struct outbuf_stats stats;
};

int outbuf_create(struct outbuf **out, size_t capacity)
{
	struct outbuf *ob = calloc(1, sizeof(*ob));
	if (!ob)
		return -ENOMEM;
	ob->sink = (struct outfd){ .fd = -1, .restore_flags = -1 };
	ob->cap = capacity;
	ob->ring = malloc(capacity ? capacity : 1);
	ob->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int err = ob->wake_fd < 0 ? errno : 0;
	if (!err && !ob->ring)
		err = ENOMEM;
	if (!err)
		err = pthread_mutex_init(&ob->lock, NULL);
	if (err) {
		if (ob->wake_fd >= 0)
			close(ob->wake_fd);
		free(ob->ring);
		free(ob);
		return -err;
	}
	*out = ob;
	return 0;
}

void outbuf_wake(struct outbuf *ob)
{
	uint64_t one = 1;
	ssize_t n = write(ob->wake_fd, &one, sizeof(one));
	(void)n; /* a saturated counter is as good as a written one */
}

void outbuf_set_sink(struct outbuf *ob, struct outfd *sink)
{
	pthread_mutex_lock(&ob->lock);
	struct outfd old = ob->sink;
	ob->sink = *sink;
	pthread_mutex_unlock(&ob->lock);
	*sink = (struct outfd){ .fd = -1, .restore_flags = -1 };
	outfd_close(&old);
	outbuf_wake(ob);
}

/* What the sink failed to take is lost: the queue goes with it. Called
 * with the lock held. */
static void outbuf_fail(struct outbuf *ob, size_t lost)
{
	ob->stats.write_errors++;
	ob->stats.bytes_dropped += lost + ob->used;
	ob->head = ob->used = 0;
}

static void outbuf_queue(struct outbuf *ob, const uint8_t *p, size_t len)
{
	size_t tail = (ob->head + ob->used) % ob->cap;
	size_t first = ob->cap - tail < len ? ob->cap - tail : len;
	memcpy(ob->ring + tail, p, first);
	memcpy(ob->ring, p + first, len - first);
	ob->used += len;
}

int outbuf_put(struct outbuf *ob, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	int r = 0;
	bool wake = false;
	pthread_mutex_lock(&ob->lock);
	if (ob->sink.fd < 0) {
		ob->stats.write_errors++;
		ob->stats.bytes_dropped += len;
		r = -EBADF;
	} else if (len > ob->cap - ob->used) {
		ob->stats.puts_refused++;
		ob->stats.bytes_dropped += len;
		r = -ENOBUFS;
	} else if (ob->used) {
		/* Behind earlier bytes: the drainer already knows. */
		outbuf_queue(ob, p, len);
	} else {
		ssize_t n = outfd_write(&ob->sink, p, len);
		if (n == -EAGAIN)
			n = 0;
		if (n < 0) {
			outbuf_fail(ob, len);
			r = (int)n;
		} else {
			ob->stats.bytes_out += (size_t)n;
			if ((size_t)n < len) {
				outbuf_queue(ob, p + n, len - (size_t)n);
				wake = true;
			}
		}
	}
	pthread_mutex_unlock(&ob->lock);
	if (wake)
		outbuf_wake(ob);
	return r;
}

int outbuf_flush(struct outbuf *ob)
{
	uint64_t v;
	ssize_t rd = read(ob->wake_fd, &v, sizeof(v));
	(void)rd;
	int r = 0;
	pthread_mutex_lock(&ob->lock);
	while (ob->used) {
		size_t chunk = ob->cap - ob->head < ob->used ? ob->cap - ob->head : ob->used;
		ssize_t n = outfd_write(&ob->sink, ob->ring + ob->head, chunk);
		if (n == -EAGAIN || n == 0) {
			r = -EAGAIN;
			break;
		}
		if (n < 0) {
			outbuf_fail(ob, 0);
			r = (int)n;
			break;
		}
		ob->stats.bytes_out += (size_t)n;
		ob->head = (ob->head + (size_t)n) % ob->cap;
		ob->used -= (size_t)n;
	}
	if (!ob->used)
		ob->head = 0;
	pthread_mutex_unlock(&ob->lock);
	return r;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int outbuf_drain(struct outbuf *ob, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	for (;;) {
		int r = outbuf_flush(ob);
		if (r != -EAGAIN)
			return r;
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd p = { .fd = outbuf_fd(ob, NULL), .events = POLLOUT };
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
			return -errno;
	}
}

int outbuf_wake_fd(struct outbuf *ob)
{
	return ob->wake_fd;
}

int outbuf_fd(struct outbuf *ob, bool *pollable)
{
	pthread_mutex_lock(&ob->lock);
	int fd = ob->sink.fd;
	if (pollable)
		*pollable = fd >= 0 && !ob->sink.regular;
	pthread_mutex_unlock(&ob->lock);
	return fd;
}

size_t outbuf_pending(struct outbuf *ob)
{
	pthread_mutex_lock(&ob->lock);
	size_t n = ob->used;
	pthread_mutex_unlock(&ob->lock);
	return n;
}

void outbuf_get_stats(struct outbuf *ob, struct outbuf_stats *out)
{
	pthread_mutex_lock(&ob->lock);
	*out = ob->stats;
	pthread_mutex_unlock(&ob->lock);
}

void outbuf_destroy(struct outbuf *ob)
{
	if (!ob)
		return;
	outfd_close(&ob->sink);
	close(ob->wake_fd);
	pthread_mutex_destroy(&ob->lock);
	free(ob->ring);
	free(ob);
}
