/* The jailer's own process: inherited file descriptors, --daemonize and
 * --new-pid-ns. The forking calls return 1 in a parent, which has nothing
 * left to do but exit 0 (main does), 0 in the process that goes on. */
#ifndef EMBER_JAILER_PROC_H
#define EMBER_JAILER_PROC_H

#include <stdbool.h>
#include <sys/types.h>

#include "runtime/base/err.h"

/* Closes every descriptor from first up (close_range; /proc/self/fd where
 * the kernel lacks it), all but keep (-1: none). */
int proc_close_fds(int first, int keep, struct errbuf *err);

/* Firecracker's daemon: fork (the parent exits), setsid, fork again (the
 * session leader exits, so the daemon can never regain a terminal), then
 * stdin, stdout and stderr onto devnull, which is closed. */
int proc_daemonize(int devnull, struct errbuf *err);

/* The next child is pid 1 of a new pid namespace: in the parent *child is
 * its pid (as the host sees it). A jailer that leads its session (and did
 * not daemonize) makes the child lead a new one, so that the jailer's exit
 * sends the VMM no SIGHUP. */
int proc_new_pid_ns(bool daemonized, pid_t *child, struct errbuf *err);

#endif
