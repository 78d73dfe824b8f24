/* The API's listening socket: a Unix socket file only its owner can
 * reach, from the moment it exists. */
#ifndef EMBER_API_SOCKET_H
#define EMBER_API_SOCKET_H

#include "runtime/base/err.h"

/* Creates, binds (mode 0600) and listens on path; a stale socket left
 * by a dead process is replaced, a live one or another kind of file is an
 * error. Returns the non-blocking, close-on-exec fd or -errno. */
int api_socket_listen(const char *path, struct errbuf *err);

#endif
