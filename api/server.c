/* libmicrohttpd glue: the socket, the limits, and turning a request into
 * api_route() + dispatch and the reply into an HTTP response. */
#include "api/server.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "api/path.h"
#include "api/router.h"
#include "api/socket.h"
#include "runtime/base/log.h"

struct api_server {
	struct api_server_opts opts;
	char *path;
	struct MHD_Daemon *mhd;
	unsigned active; /* open connections; only the MHD thread touches it */
};

/* One request: made when its request line is parsed (on_uri), its body
 * gathered across MHD's upload callbacks. */
struct api_req {
	bool started; /* on_request has seen it */
	size_t raw_len; /* strlen of the URI as sent */
	char path_fault[160]; /* why the path is refused; "" if it is not */
	char *buf;
	size_t len;
	bool too_large;
};

static void count(struct api_server *s, enum api_endpoint ep, int status, bool bad_path)
{
	struct api_counters *c = s->opts.counters;
	if (!c)
		return;
	api_counters_add(c, ep, status);
	if (bad_path)
		atomic_fetch_add(&c->bad_path, 1);
}

static enum MHD_Result send_reply(struct MHD_Connection *conn, const struct vmm_reply *r)
{
	const char *body = r->body ? r->body : "";
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return MHD_NO;
	if (r->body)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	enum MHD_Result ret = MHD_queue_response(conn, (unsigned)r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* Refuses the request before its body is read; MHD then closes the
 * connection rather than read what it did not want. */
static enum MHD_Result refuse(struct api_server *s, struct MHD_Connection *conn,
			      const char *msg, bool bad_path)
{
	struct vmm_reply r = { 0 };
	vmm_reply_fault(&r, 400, msg);
	count(s, API_EP_NONE, 400, bad_path);
	enum MHD_Result ret = send_reply(conn, &r);
	vmm_reply_free(&r);
	return ret;
}

/* MHD's request line parser (0.9.75) ends the URI with the NUL it writes
 * over the space before the version, so a NUL the client sent inside the
 * URI shows as a URI shorter than the gap up to the version. */
static bool raw_nul(const struct api_req *req, const char *url, const char *version)
{
	if (!url || !version || !*version || version <= url || version - url > API_CONN_MEMORY)
		return false;
	return (size_t)(version - url) - 1 > req->raw_len;
}

static enum MHD_Result on_first_call(struct api_server *s, struct MHD_Connection *conn,
				     struct api_req *req, const char *url, const char *version)
{
	req->started = true;
	if (!req->path_fault[0] && raw_nul(req, url, version))
		snprintf(req->path_fault, sizeof(req->path_fault),
			 "Invalid path: a NUL byte at offset %zu; a path holds printable ASCII only.",
			 req->raw_len);
	if (req->path_fault[0]) {
		log_ratelimited(LOG_INFO, "API request refused (400): %s", req->path_fault);
		return refuse(s, conn, req->path_fault, true);
	}
	int nh = MHD_get_connection_values(conn, MHD_HEADER_KIND, NULL, NULL);
	if (nh > API_MAX_HEADERS) {
		char msg[96];
		snprintf(msg, sizeof(msg), "Too many headers: %d (at most %d).", nh,
			 API_MAX_HEADERS);
		return refuse(s, conn, msg, false);
	}
	const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl) {
		char *end;
		errno = 0;
		unsigned long long n = strtoull(cl, &end, 10);
		if (errno || end == cl || n > API_MAX_BODY) {
			char msg[160];
			snprintf(msg, sizeof(msg),
				 "Request payload with size %.20s is larger than the limit of %d "
				 "allowed by server.",
				 cl, API_MAX_BODY);
			if (s->opts.counters)
				atomic_fetch_add(&s->opts.counters->too_large, 1);
			return refuse(s, conn, msg, false);
		}
	}
	return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_size, void **con_cls)
{
	struct api_server *s = cls;
	struct api_req *req = *con_cls;
	if (!req)
		return MHD_NO; /* on_uri ran out of memory */
	if (!req->started)
		return on_first_call(s, conn, req, url, version);
	if (*upload_size) {
		/* Chunked bodies have no Content-Length: cap them here too. */
		if (!req->too_large && req->len + *upload_size > API_MAX_BODY) {
			req->too_large = true;
			free(req->buf);
			req->buf = NULL;
		}
		if (!req->too_large) {
			char *nb = realloc(req->buf, req->len + *upload_size + 1);
			if (!nb)
				return MHD_NO;
			memcpy(nb + req->len, upload_data, *upload_size);
			req->buf = nb;
			req->len += *upload_size;
		}
		*upload_size = 0;
		return MHD_YES;
	}

	struct vmm_reply reply = { 0 };
	struct api_route route;
	if (req->too_large) {
		if (s->opts.counters)
			atomic_fetch_add(&s->opts.counters->too_large, 1);
		return refuse(s, conn,
			      "Request payload is larger than the limit allowed by server.", false);
	}
	if (api_route(method, url, req->buf, req->len, &route) < 0) {
		vmm_reply_fault(&reply, route.status, route.fault);
		/* The fault quotes the path sanitised; the raw url may hold anything. */
		log_ratelimited(LOG_INFO, "API request refused (%d): %s", route.status,
				route.fault);
	} else {
		s->opts.dispatch(s->opts.dispatch_ctx, &route.action, &reply);
	}
	count(s, route.ep, reply.status, route.status && route.ep == API_EP_NONE);
	enum MHD_Result ret = send_reply(conn, &reply);
	vmm_reply_free(&reply);
	return ret;
}

/* The request line is in: the request's state starts here, with the URI
 * still as the client sent it (MHD decodes it in place afterwards). */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	(void)cls;
	(void)conn;
	struct api_req *req = calloc(1, sizeof(*req));
	if (req && uri) {
		req->raw_len = strlen(uri);
		api_path_check(uri, req->path_fault, sizeof(req->path_fault));
	}
	return req;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)conn;
	(void)toe;
	struct api_req *req = *con_cls;
	if (req) {
		free(req->buf);
		free(req);
	}
	*con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	(void)conn;
	(void)socket_context;
	struct api_server *s = cls;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		s->active++;
		if (s->opts.counters)
			atomic_fetch_add(&s->opts.counters->connections, 1);
	} else if (s->active) {
		s->active--;
	}
}

/* Runs before a connection is set up: the connection cap, counted. */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t len)
{
	(void)addr;
	(void)len;
	struct api_server *s = cls;
	if (s->active < API_MAX_CONNS)
		return MHD_YES;
	if (s->opts.counters)
		atomic_fetch_add(&s->opts.counters->rejected_conns, 1);
	log_ratelimited(LOG_WARN, "API: connection refused: %d already open", API_MAX_CONNS);
	return MHD_NO;
}

__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt,
							     va_list ap)
{
	(void)cls;
	char msg[256];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = 0;
	log_ratelimited(LOG_DEBUG, "API (libmicrohttpd): %s", msg);
}

static struct MHD_Daemon *start_mhd(struct api_server *s, unsigned flags, int listen_fd)
{
	/* The server thread inherits this mask: process signals stay with
	 * the VMM thread, whose handlers may touch the VM. */
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGQUIT);
	sigaddset(&block, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	struct MHD_Daemon *d = MHD_start_daemon(
		flags | MHD_USE_ERROR_LOG, 0, on_accept, s, on_request, s,
		/* First, so that MHD's own start-up messages come through it. */
		MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)API_MAX_CONNS + 1,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)API_IDLE_TIMEOUT_S,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)API_CONN_MEMORY,
		MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
		/* Last: without a socket the list ends here. */
		listen_fd >= 0 ? MHD_OPTION_LISTEN_SOCKET : MHD_OPTION_END, (MHD_socket)listen_fd,
		MHD_OPTION_END);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return d;
}

int api_server_start(struct api_server **out, const struct api_server_opts *opts,
		     struct errbuf *err)
{
	struct api_server *s = calloc(1, sizeof(*s));
	if (!s)
		return err_set(err, -ENOMEM, "API server: out of memory");
	s->opts = *opts;
	int fd = -1;
	unsigned flags;
	if (opts->sock_path) {
		s->path = strdup(opts->sock_path);
		if (!s->path) {
			free(s);
			return err_set(err, -ENOMEM, "API server: out of memory");
		}
		fd = api_socket_listen(opts->sock_path, err);
		if (fd < 0) {
			free(s->path);
			free(s);
			return fd;
		}
		flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;
	} else {
		flags = MHD_USE_NO_LISTEN_SOCKET;
	}
	s->mhd = start_mhd(s, flags, fd);
	if (!s->mhd) {
		if (fd >= 0) {
			close(fd);
			unlink(s->path);
		}
		free(s->path);
		free(s);
		return err_set(err, -EIO, "API server: libmicrohttpd would not start");
	}
	*out = s;
	return 0;
}

void api_server_stop(struct api_server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->mhd); /* joins the thread and closes the listening socket */
	if (s->path)
		unlink(s->path);
	free(s->path);
	free(s);
}

int api_server_add_connection(struct api_server *s, int fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	return MHD_add_connection(s->mhd, fd, (struct sockaddr *)&sa, sizeof(sa)) == MHD_YES
		       ? 0
		       : -errno;
}

void api_server_run(struct api_server *s)
{
	MHD_run(s->mhd);
}

unsigned api_server_connections(struct api_server *s)
{
	return s->active;
}
