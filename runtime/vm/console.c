#include "runtime/vm/console.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "runtime/base/log.h"
#include "runtime/base/outbuf.h"
#include "runtime/devices/serial.h"

/* The last flush at stop: what the guest wrote last still reaches a slow
 * reader, but a stalled one cannot hold up the VMM's exit. */
#define CONSOLE_DRAIN_MS 100

static void console_on_input(void *opaque, uint32_t events);
static void console_on_writable(void *opaque, uint32_t events);

static void console_unwatch_out(struct vm_console *c)
{
	if (c->out_fd >= 0)
		evloop_del(c->loop, c->out_fd);
	c->out_fd = -1;
}

/* Writes out what the UART queued; while the console's reader lags, waits
 * for it to become writable. */
static void console_flush(struct vm_console *c)
{
	int r = outbuf_flush(c->out);
	bool pollable;
	int fd = outbuf_fd(c->out, &pollable);
	if (r != -EAGAIN || !pollable) {
		console_unwatch_out(c);
		return;
	}
	if (c->out_fd == fd)
		return;
	console_unwatch_out(c);
	int e = evloop_add(c->loop, fd, EPOLLOUT, console_on_writable, c);
	if (e == 0)
		c->out_fd = fd;
	else /* what is queued waits for the next wake-up or the stop */
		log_ratelimited(LOG_WARN, "console: cannot watch the output: %s", strerror(-e));
}

static void console_on_writable(void *opaque, uint32_t events)
{
	(void)events;
	console_flush(opaque);
}

static void console_on_out_wake(void *opaque, uint32_t events)
{
	(void)events;
	console_flush(opaque);
}

/* The UART's FIFO was full: stop watching the console until a short timer
 * says to look again, instead of spinning on a readable fd. */
static void console_backoff(struct vm_console *c)
{
	evloop_del(c->loop, c->in_fd);
	c->armed = false;
	struct itimerspec t = { .it_value = { .tv_nsec = 10 * 1000 * 1000 } };
	timerfd_settime(c->retry_fd, 0, &t, NULL);
}

static void console_on_retry(void *opaque, uint32_t events)
{
	(void)events;
	struct vm_console *c = opaque;
	uint64_t ticks;
	ssize_t n = read(c->retry_fd, &ticks, sizeof(ticks));
	(void)n;
	if (serial_rx_space(c->serial) == 0) {
		console_backoff(c);
		return;
	}
	if (!c->armed && evloop_add(c->loop, c->in_fd, EPOLLIN, console_on_input, c) == 0)
		c->armed = true;
}

static void console_on_input(void *opaque, uint32_t events)
{
	struct vm_console *c = opaque;
	uint8_t buf[SERIAL_FIFO_SIZE];
	size_t space = serial_rx_space(c->serial);
	if (space == 0) {
		console_backoff(c);
		return;
	}
	if (space > sizeof(buf))
		space = sizeof(buf);
	ssize_t n = read(c->in_fd, buf, space);
	if (n > 0) {
		serial_receive(c->serial, buf, (size_t)n);
		return;
	}
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) || (events & EPOLLHUP)) {
		/* End of input: the guest keeps running without a console in. */
		evloop_del(c->loop, c->in_fd);
		c->armed = false;
	}
}

int vm_console_start(struct vm_console *c, struct evloop *loop, struct serial *serial,
		     int in_fd)
{
	c->loop = loop;
	c->serial = serial;
	c->in_fd = in_fd;
	c->armed = false;
	c->retry_fd = -1;
	c->out = serial_output(serial);
	c->out_fd = -1;
	if (c->out) {
		int r = evloop_add(loop, outbuf_wake_fd(c->out), EPOLLIN, console_on_out_wake, c);
		if (r < 0) {
			c->out = NULL;
			return r;
		}
	}
	if (in_fd < 0)
		return 0;
	c->retry_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (c->retry_fd < 0)
		return -errno;
	int r = evloop_add(loop, c->retry_fd, EPOLLIN, console_on_retry, c);
	if (r < 0) {
		close(c->retry_fd);
		c->retry_fd = -1;
		return r;
	}
	/* epoll refuses regular files (e.g. stdin from /dev/null): no console in. */
	r = evloop_add(loop, in_fd, EPOLLIN, console_on_input, c);
	if (r == 0)
		c->armed = true;
	else if (r != -EPERM)
		return r;
	return 0;
}

void vm_console_stop(struct vm_console *c)
{
	if (c->out) {
		console_unwatch_out(c);
		evloop_del(c->loop, outbuf_wake_fd(c->out));
		outbuf_drain(c->out, CONSOLE_DRAIN_MS);
		c->out = NULL;
	}
	if (c->armed)
		evloop_del(c->loop, c->in_fd);
	c->armed = false;
	if (c->retry_fd >= 0) {
		evloop_del(c->loop, c->retry_fd);
		close(c->retry_fd);
	}
	c->retry_fd = -1;
}
