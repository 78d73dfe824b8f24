/* Console input: bytes from the host's console fd into the guest's UART,
 * on the VMM thread's loop, at the pace the UART can take them. */
#ifndef EMBER_VM_CONSOLE_H
#define EMBER_VM_CONSOLE_H

#include <stdbool.h>

#include "runtime/base/evloop.h"

struct serial;

struct vm_console {
	struct evloop *loop;
	struct serial *serial;
	int in_fd;    /* -1: no console input */
	int retry_fd; /* timerfd: look again once the UART had no room */
	bool armed;   /* in_fd is in the loop */
};

/* Starts watching in_fd (-1 for none). A file epoll cannot watch (stdin
 * from /dev/null) just means no console input. Returns 0 or -errno. */
int vm_console_start(struct vm_console *c, struct evloop *loop, struct serial *serial,
		     int in_fd);
/* Stops watching and closes the timer; idempotent, also after a failed
 * or missing start on a zeroed struct with retry_fd -1. */
void vm_console_stop(struct vm_console *c);

#endif
