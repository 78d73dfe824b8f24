/* A bounded output buffer in front of a non-blocking sink (struct outfd):
 * the guest's console and the log write through one, so that a reader
 * that stops reading costs them bytes, never time.
 *
 * outbuf_put() is all-or-nothing and never waits: with nothing queued it
 * writes straight through; what the sink does not take at once is queued
 * (up to the capacity), and what does not fit is dropped and counted. The
 * queue is emptied by outbuf_flush() on whichever thread drains this
 * buffer (the VMM thread's loop for the console, the logger's thread for
 * the log): it watches outbuf_wake_fd() for "something is queued" and,
 * while outbuf_flush() answers -EAGAIN, outbuf_fd() for POLLOUT.
 *
 * Every call is thread-safe; the internal mutex is held only around
 * memory copies and non-blocking writes. */
#ifndef EMBER_OUTBUF_H
#define EMBER_OUTBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/base/outfd.h"

struct outbuf;

struct outbuf_stats {
	uint64_t bytes_out;     /* written to a sink */
	uint64_t bytes_dropped; /* refused (no room) or lost to a failing sink */
	uint64_t puts_refused;  /* outbuf_put calls dropped for want of room */
	uint64_t write_errors;  /* sink failures (not EAGAIN); what was queued is lost */
};

/* capacity: bytes that may wait for the sink. No sink yet: puts are
 * dropped and counted as write errors. Returns 0 or -errno. */
int outbuf_create(struct outbuf **out, size_t capacity);
/* Takes over *sink (left with fd -1) and closes the previous one; bytes
 * still queued go to the new sink. Wakes the drainer. */
void outbuf_set_sink(struct outbuf *ob, struct outfd *sink);
/* 0: written or queued. -ENOBUFS: no room, dropped. Another -errno: the
 * sink failed, dropped. */
int outbuf_put(struct outbuf *ob, const void *buf, size_t len);
/* Writes what is queued. 0: nothing left; -EAGAIN: the sink is full, wait
 * for POLLOUT on outbuf_fd(); another -errno: the sink failed and the
 * queue was dropped. Also clears the wake fd. */
int outbuf_flush(struct outbuf *ob);
/* Flushes and waits for POLLOUT until the queue is empty or timeout_ms
 * passed (then -ETIMEDOUT). For a last flush at exit: never unbounded. */
int outbuf_drain(struct outbuf *ob, int timeout_ms);
/* An eventfd, readable when bytes were queued (or outbuf_wake was called)
 * since the last outbuf_flush. */
int outbuf_wake_fd(struct outbuf *ob);
void outbuf_wake(struct outbuf *ob);
/* The sink's fd to poll for POLLOUT, and whether it can be polled at all
 * (epoll refuses regular files, which never answer -EAGAIN anyway). */
int outbuf_fd(struct outbuf *ob, bool *pollable);
size_t outbuf_pending(struct outbuf *ob);
void outbuf_get_stats(struct outbuf *ob, struct outbuf_stats *out);
/* Drops what is queued (call outbuf_drain first for a last flush) and
 * closes the sink. NULL is fine. */
void outbuf_destroy(struct outbuf *ob);

#endif
