/* The API server: HTTP/1.1 on a Unix socket (libmicrohttpd), one thread.
 * Each request is routed (api/router.h) and, when valid, handed to the
 * dispatch callback (the channel to the VMM thread); the reply goes back
 * as Firecracker's API answers: 204, 200 with JSON, or 4xx with
 * {"fault_message": "..."}.
 *
 * Limits against abuse: request bodies over API_MAX_BODY, more than
 * API_MAX_HEADERS headers, headers over the per-connection memory pool,
 * path bytes other than printable ASCII (api/path.h), connections idle for
 * API_IDLE_TIMEOUT_S, a request not whole API_REQUEST_DEADLINE_S after its
 * first byte (api/deadline.h), more than API_MAX_CONNS at once. Malformed
 * HTTP gets libmicrohttpd's 400 and the connection closes. */
#ifndef EMBER_API_SERVER_H
#define EMBER_API_SERVER_H

#include "runtime/control/action.h"
#include "runtime/base/err.h"

#define API_MAX_HEADERS 64
#define API_IDLE_TIMEOUT_S 10
#define API_REQUEST_DEADLINE_S 10
#define API_MAX_CONNS 32
/* Request line and headers must fit in this (libmicrohttpd's pool). */
#define API_CONN_MEMORY (32 * 1024)

struct api_server_opts {
	/* The socket to create (removed again by api_server_stop); NULL for
	 * a server without one, fed by api_server_add_connection and driven
	 * by api_server_run (the fuzz target). */
	const char *sock_path;
	vmm_action_handler dispatch;
	void *dispatch_ctx;
	struct api_counters *counters; /* may be NULL */
	unsigned request_deadline_ms;  /* 0: API_REQUEST_DEADLINE_S (tests shorten it) */
};

struct api_server;

/* Creates, binds and listens on the socket (a stale socket left by a dead
 * process is replaced; a live one or another kind of file is an error),
 * then starts the server thread. Connections made before the thread runs
 * wait in the backlog. */
int api_server_start(struct api_server **out, const struct api_server_opts *opts,
		     struct errbuf *err);
/* Stops the thread, closes every connection, removes the socket. */
void api_server_stop(struct api_server *s);

/* Without a socket only: hands MHD a connected stream socket, and runs
 * one round of its processing (non-blocking) with the request deadlines. */
int api_server_add_connection(struct api_server *s, int fd);
void api_server_run(struct api_server *s);
/* Connections MHD holds open now. */
unsigned api_server_connections(struct api_server *s);

#endif
