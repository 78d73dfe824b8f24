/* The guest's side of MMDS: one HTTP/1.x request in, one response out.
 * Firecracker's rules (docs/mmds/mmds-user-guide.md): GET reads the data
 * store by path, PUT /latest/api/token makes a V2 session token, any other
 * method is 405; V2 GETs need a valid token (401), V1 GETs take one or
 * none. Every response closes the connection. */
#include "mmds/mmds.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TOKEN_PATH "/latest/api/token"

struct http_req {
	const char *method, *path, *version;
	size_t method_len, path_len, version_len;
	const char *accept, *token, *ttl, *xff;
	size_t accept_len, token_len, ttl_len;
};

static bool is(const char *s, size_t n, const char *lit)
{
	return n == strlen(lit) && memcmp(s, lit, n) == 0;
}

static bool header_is(const char *s, size_t n, const char *name)
{
	return n == strlen(name) && strncasecmp(s, name, n) == 0;
}

/* Splits the request line and picks the headers MMDS reads. Returns false
 * on anything malformed. */
static bool parse(const char *req, size_t len, struct http_req *q)
{
	memset(q, 0, sizeof(*q));
	const char *end = req + len, *p = req;
	const char *eol = memchr(p, '\n', len);
	if (!eol)
		return false;
	const char *line_end = eol > p && eol[-1] == '\r' ? eol - 1 : eol;
	const char *sp1 = memchr(p, ' ', (size_t)(line_end - p));
	if (!sp1)
		return false;
	const char *sp2 = memchr(sp1 + 1, ' ', (size_t)(line_end - sp1 - 1));
	if (!sp2)
		return false;
	q->method = p;
	q->method_len = (size_t)(sp1 - p);
	q->path = sp1 + 1;
	q->path_len = (size_t)(sp2 - sp1 - 1);
	q->version = sp2 + 1;
	q->version_len = (size_t)(line_end - sp2 - 1);
	if (!q->method_len || !q->path_len)
		return false;
	for (p = eol + 1; p < end;) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			return false;
		line_end = eol > p && eol[-1] == '\r' ? eol - 1 : eol;
		if (line_end == p)
			break; /* the blank line */
		const char *colon = memchr(p, ':', (size_t)(line_end - p));
		if (!colon || colon == p)
			return false;
		const char *v = colon + 1;
		while (v < line_end && (*v == ' ' || *v == '\t'))
			v++;
		const char *ve = line_end;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		size_t nl = (size_t)(colon - p), vl = (size_t)(ve - v);
		if (header_is(p, nl, "Accept")) {
			q->accept = v;
			q->accept_len = vl;
		} else if (header_is(p, nl, "X-metadata-token") ||
			   header_is(p, nl, "X-aws-ec2-metadata-token")) {
			q->token = v;
			q->token_len = vl;
		} else if (header_is(p, nl, "X-metadata-token-ttl-seconds") ||
			   header_is(p, nl, "X-aws-ec2-metadata-token-ttl-seconds")) {
			q->ttl = v;
			q->ttl_len = vl;
		} else if (header_is(p, nl, "X-Forwarded-For")) {
			q->xff = v;
		}
		p = eol + 1;
	}
	return true;
}

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 501: return "Not Implemented";
	case 505: return "HTTP Version Not Supported";
	default: return "Internal Server Error";
	}
}

static int respond(struct mmds *m, int status, bool json, const char *body, size_t body_len,
		   const char *extra, char **resp, size_t *resp_len)
{
	char head[256];
	int h = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nServer: Ember MMDS\r\nContent-Type: %s\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n%s\r\n",
			 status, reason(status), json ? "application/json" : "text/plain",
			 body_len, extra ? extra : "");
	if (h < 0 || (size_t)h >= sizeof(head))
		return -ENOMEM;
	char *out = malloc((size_t)h + body_len);
	if (!out)
		return -ENOMEM;
	memcpy(out, head, (size_t)h);
	if (body_len)
		memcpy(out + h, body, body_len);
	*resp = out;
	*resp_len = (size_t)h + body_len;
	m->stats.requests++;
	if (status >= 400)
		m->stats.bad_requests++;
	return 0;
}

static int respond_text(struct mmds *m, int status, char **resp, size_t *resp_len,
			const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int respond_text(struct mmds *m, int status, char **resp, size_t *resp_len,
			const char *fmt, ...)
{
	char body[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(body))
		n = sizeof(body) - 1;
	return respond(m, status, false, body, (size_t)n, NULL, resp, resp_len);
}

/* The path without a query, with any "http://host" in front dropped. */
static void abs_path(struct http_req *q)
{
	if (q->path_len > 7 && strncasecmp(q->path, "http://", 7) == 0) {
		const char *s = memchr(q->path + 7, '/', q->path_len - 7);
		size_t skip = s ? (size_t)(s - q->path) : q->path_len;
		q->path += skip;
		q->path_len -= skip;
	}
	const char *qm = memchr(q->path, '?', q->path_len);
	if (qm)
		q->path_len = (size_t)(qm - q->path);
}

/* A path quoted in a message: printable ASCII only, at most 64 bytes. */
static const char *quote(const char *s, size_t n, char out[68])
{
	size_t i = 0;
	for (; i < n && i < 64; i++)
		out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (i < n) {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	out[i] = 0;
	return out;
}

static int answer_token(struct mmds *m, const struct http_req *q, char **resp, size_t *resp_len)
{
	char qp[68];
	if (q->xff)
		return respond_text(m, 400, resp, resp_len,
				    "Token requests through a proxy (X-Forwarded-For) are refused.");
	if (!is(q->path, q->path_len, TOKEN_PATH))
		return respond_text(m, 404, resp, resp_len, "Resource not found: %s.",
				    quote(q->path, q->path_len, qp));
	if (!q->ttl)
		return respond_text(m, 400, resp, resp_len,
				    "No token lifetime: send X-metadata-token-ttl-seconds.");
	uint32_t ttl = 0;
	bool ok = q->ttl_len > 0 && q->ttl_len <= 9;
	for (size_t i = 0; ok && i < q->ttl_len; i++) {
		ok = q->ttl[i] >= '0' && q->ttl[i] <= '9';
		ttl = ttl * 10 + (uint32_t)(q->ttl[i] - '0');
	}
	if (!ok)
		return respond_text(m, 400, resp, resp_len,
				    "X-metadata-token-ttl-seconds: not a number: %s.",
				    quote(q->ttl, q->ttl_len, qp));
	char tok[MMDS_TOKEN_TEXT_MAX], extra[64];
	int r = mmds_token_new(m, ttl, tok);
	if (r == -ERANGE)
		return respond_text(m, 400, resp, resp_len,
				    "X-metadata-token-ttl-seconds: %u is outside %d..%d.", ttl,
				    MMDS_TOKEN_TTL_MIN, MMDS_TOKEN_TTL_MAX);
	if (r < 0)
		return respond_text(m, 500, resp, resp_len, "Cannot make a token.");
	snprintf(extra, sizeof(extra), "X-metadata-token-ttl-seconds: %u\r\n", ttl);
	return respond(m, 200, false, tok, strlen(tok), extra, resp, resp_len);
}

static int answer_get(struct mmds *m, const struct http_req *q, char **resp, size_t *resp_len)
{
	if (!q->token)
		m->stats.rx_no_token++;
	bool valid = q->token && mmds_token_valid(m, q->token, q->token_len);
	if (q->token && !valid)
		m->stats.rx_invalid_token++;
	if (m->version == MMDS_V2 && !valid)
		return respond_text(m, 401, resp, resp_len,
				    q->token ? "The session token is not valid or has expired."
					     : "No session token: send X-metadata-token (from PUT "
					       TOKEN_PATH ").");
	bool json = !m->imds_compat && q->accept &&
		    memmem(q->accept, q->accept_len, "application/json", 16);
	char *body;
	size_t len;
	char qp[68];
	int r = mmds_get_path(m, q->path, q->path_len, json, &body, &len);
	if (r == -ENOENT)
		return respond_text(m, 404, resp, resp_len, "Resource not found: %s.",
				    quote(q->path, q->path_len, qp));
	if (r == -ENOTSUP)
		return respond_text(m, 501, resp, resp_len,
				    "IMDS text shows only objects and strings; ask for "
				    "application/json.");
	if (r < 0)
		return r;
	r = respond(m, 200, json, body, len, NULL, resp, resp_len);
	free(body);
	return r;
}

int mmds_http_answer(struct mmds *m, const char *req, size_t len, char **resp, size_t *resp_len)
{
	struct http_req q;
	if (!parse(req, len, &q))
		return respond_text(m, 400, resp, resp_len, "Malformed HTTP request.");
	if (!is(q.version, q.version_len, "HTTP/1.1") && !is(q.version, q.version_len, "HTTP/1.0"))
		return respond_text(m, 505, resp, resp_len, "Only HTTP/1.0 and HTTP/1.1.");
	abs_path(&q);
	if (q.path_len == 0 || q.path[0] != '/')
		return respond_text(m, 400, resp, resp_len, "Invalid URI.");
	if (is(q.method, q.method_len, "GET"))
		return answer_get(m, &q, resp, resp_len);
	if (is(q.method, q.method_len, "PUT"))
		return answer_token(m, &q, resp, resp_len);
	return respond(m, 405, false, "Only GET and PUT.", 17, "Allow: GET, PUT\r\n", resp,
		       resp_len);
}

int mmds_http_too_large(struct mmds *m, char **resp, size_t *resp_len)
{
	return respond_text(m, 400, resp, resp_len, "Request header block over %d bytes.",
			    MMDS_HTTP_REQ_MAX);
}
