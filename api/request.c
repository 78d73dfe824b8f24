/* One request through libmicrohttpd's callbacks: the raw path checked,
 * the headers' limits, the body gathered and capped, then api_route() and
 * the dispatch, and the reply as an HTTP response. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/path.h"
#include "api/router.h"
#include "api/server_int.h"
#include "runtime/base/log.h"

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

/* Every answer Ember gives goes through here: the request is whole (or
 * refused unread), so its deadline no longer runs. */
static enum MHD_Result send_reply(struct MHD_Connection *conn, const struct vmm_reply *r)
{
	api_dl_answering(api_conn_of(conn));
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

enum MHD_Result api_on_request(void *cls, struct MHD_Connection *conn, const char *url,
			       const char *method, const char *version, const char *upload_data,
			       size_t *upload_size, void **con_cls)
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
void *api_on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
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

void api_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)toe;
	struct api_req *req = *con_cls;
	if (req) {
		free(req->buf);
		free(req);
	}
	*con_cls = NULL;
	/* Kept alive, the connection now waits for its next request. */
	api_dl_ready(api_conn_of(conn), api_now_ns());
}
