/* The guest's console on the VMM thread's loop: input from the host's
 * console fd into the UART at the pace the UART can take it, and the
 * UART's output buffer drained into the host's console as fast as its
 * reader takes it (vCPUs never wait for that reader). */
#ifndef EMBER_VM_CONSOLE_H
#define EMBER_VM_CONSOLE_H

#include <stdbool.h>

#include "runtime/base/evloop.h"

struct serial;
struct outbuf;

struct vm_console {
	struct evloop *loop;
	struct serial *serial;
	int in_fd;    /* -1: no console input */
	int retry_fd; /* timerfd: look again once the UART had no room */
	bool armed;   /* in_fd is in the loop */
	struct outbuf *out; /* the UART's output buffer, NULL: none */
	int out_fd;         /* its sink, in the loop for EPOLLOUT while full; -1: not */
};

/* Starts watching in_fd (-1 for none) and the UART's output buffer. A
 * file epoll cannot watch (stdin from /dev/null) just means no console
 * input. Returns 0 or -errno. */
int vm_console_start(struct vm_console *c, struct evloop *loop, struct serial *serial,
		     int in_fd);
/* Stops watching and closes the timer, after a last flush of the output
 * bounded to a fraction of a second; idempotent, also after a failed or
 * missing start on a zeroed struct with retry_fd -1. */
void vm_console_stop(struct vm_console *c);

#endif
