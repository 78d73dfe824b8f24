/* Inside the API server, what its two files share: server.c runs the
 * daemon (its thread, connections, deadlines), request.c turns each
 * request into a reply. */
#ifndef EMBER_API_SERVER_INT_H
#define EMBER_API_SERVER_INT_H

#include <microhttpd.h>
#include <pthread.h>

#include "api/deadline.h"
#include "api/server.h"

struct api_server {
	struct api_server_opts opts;
	char *path;
	struct MHD_Daemon *mhd;
	int mhd_fd; /* its epoll set (the listening socket, every connection) */
	pthread_t thread;
	bool have_thread;
	int stop_efd; /* tells the thread to end */
	/* Only the thread that runs MHD touches these (MHD calls back on it). */
	unsigned active; /* open connections */
	struct api_deadlines dl;
	int64_t next_deadline; /* the earliest request deadline; -1: none */
};

int64_t api_now_ns(void);
/* The connection's deadline record; NULL if it has none. */
struct api_conn *api_conn_of(struct MHD_Connection *conn);

/* request.c: libmicrohttpd's per-request callbacks; cls is the server. */
void *api_on_uri(void *cls, const char *uri, struct MHD_Connection *conn);
enum MHD_Result api_on_request(void *cls, struct MHD_Connection *conn, const char *url,
			       const char *method, const char *version, const char *upload_data,
			       size_t *upload_size, void **con_cls);
void api_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
		      enum MHD_RequestTerminationCode toe);

#endif
