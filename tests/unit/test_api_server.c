/* Unit tests for api/server.c without a socket file: connections are
 * socketpairs handed to the server, which runs on the test's thread; the
 * dispatch callback stands in for the VMM thread. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "api/router.h"
#include "api/server.h"

static struct api_server *srv;
static struct api_counters counters;
static int dispatched;

/* GETs answer 200 {"ok":true}; everything else 204. */
static void dispatch(void *ctx, struct vmm_action *a, struct vmm_reply *r)
{
	(void)ctx;
	dispatched++;
	memset(r, 0, sizeof(*r));
	if (a->kind <= VMM_GET_VM_CONFIG) {
		r->status = 200;
		r->body = strdup("{\"ok\":true}");
	} else {
		r->status = 204;
	}
	vmm_action_free(a);
}

static void setup(void)
{
	signal(SIGPIPE, SIG_IGN);
	memset(&counters, 0, sizeof(counters));
	dispatched = 0;
	struct api_server_opts o = { .dispatch = dispatch, .counters = &counters };
	struct errbuf err = { "" };
	cr_assert_eq(api_server_start(&srv, &o, &err), 0, "%s", err.msg);
}

static void teardown(void)
{
	api_server_stop(srv);
}

TestSuite(api_server, .init = setup, .fini = teardown);

/* Sends raw as one connection (half-closed after) and returns everything
 * the server wrote back, NUL-terminated, in a static buffer. */
static const char *exchange(const char *raw, size_t len)
{
	static char out[65536];
	size_t got = 0, off = 0;
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	cr_assert_eq(api_server_add_connection(srv, sv[1]), 0);
	bool closed = false;
	for (int round = 0; round < 2000 && !closed; round++) {
		if (off < len) {
			ssize_t n = write(sv[0], raw + off, len - off);
			if (n > 0)
				off += (size_t)n;
			if (off == len)
				shutdown(sv[0], SHUT_WR);
		}
		api_server_run(srv);
		for (;;) {
			ssize_t n = read(sv[0], out + got, sizeof(out) - 1 - got);
			if (n > 0) {
				got += (size_t)n;
				continue;
			}
			if (n == 0 || (errno != EAGAIN && errno != EINTR))
				closed = true;
			break;
		}
		if (!closed)
			poll(NULL, 0, 1);
	}
	close(sv[0]);
	for (int i = 0; i < 10 && api_server_connections(srv); i++)
		api_server_run(srv);
	out[got] = 0;
	return out;
}

static const char *ask(const char *raw)
{
	return exchange(raw, strlen(raw));
}

Test(api_server, get_answers_json)
{
	const char *r = ask("GET /machine-config HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert(strncmp(r, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", r);
	cr_assert(strstr(r, "Content-Type: application/json\r\n"), "%s", r);
	cr_assert(strstr(r, "\r\n\r\n{\"ok\":true}"), "%s", r);
	cr_assert_eq(dispatched, 1);
	cr_assert_eq(atomic_load(&counters.count[API_EP_GET_MACHINE_CONFIG]), 1);
	cr_assert_eq(atomic_load(&counters.connections), 1);
}

Test(api_server, no_content_has_no_body)
{
	const char *r = ask("PUT /actions HTTP/1.1\r\nHost: x\r\nContent-Length: 31\r\n\r\n"
			    "{\"action_type\":\"InstanceStart\"}");
	cr_assert(strncmp(r, "HTTP/1.1 204 No Content\r\n", 25) == 0, "%s", r);
	cr_assert_null(strstr(r, "Content-Length"), "%s", r);
	cr_assert_null(strstr(r, "Content-Type"), "%s", r);
}

Test(api_server, refusal_is_a_fault_message)
{
	const char *r = ask("DELETE /x HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert(strncmp(r, "HTTP/1.1 400 Bad Request\r\n", 26) == 0, "%s", r);
	cr_assert(strstr(r, "{\"fault_message\":\"Invalid request method and/or path: DELETE "
			    "/x.\"}"),
		  "%s", r);
	cr_assert_eq(dispatched, 0);
	cr_assert_eq(atomic_load(&counters.bad_path), 1);
	cr_assert_eq(atomic_load(&counters.failures), 1);
}

Test(api_server, keep_alive_pipelining)
{
	const char *r = ask("GET / HTTP/1.1\r\nHost: x\r\n\r\n"
			    "PUT /boot-source HTTP/1.1\r\nHost: x\r\nContent-Length: 26\r\n\r\n"
			    "{\"kernel_image_path\":\"/k\"}"
			    "GET /version HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert_eq(dispatched, 3, "%s", r);
	const char *second = strstr(r, "HTTP/1.1 204");
	cr_assert_not_null(second, "%s", r);
	cr_assert_not_null(strstr(second, "HTTP/1.1 200"), "%s", r);
}

Test(api_server, chunked_body)
{
	const char *r = ask("PUT /actions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
			    "10\r\n{\"action_type\":\"\r\n"
			    "e\r\nFlushMetrics\"}\r\n"
			    "0\r\n\r\n");
	cr_assert(strncmp(r, "HTTP/1.1 204", 12) == 0, "%s", r);
	cr_assert_eq(dispatched, 1);
}

Test(api_server, oversized_body_refused_unread)
{
	char head[128];
	snprintf(head, sizeof(head), "PUT /boot-source HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n",
		 API_MAX_BODY + 1);
	const char *r = ask(head);
	cr_assert(strncmp(r, "HTTP/1.1 400", 12) == 0, "%s", r);
	cr_assert(strstr(r, "larger than the limit of 51200"), "%s", r);
	cr_assert(strstr(r, "Connection: close"), "%s", r);
	cr_assert_eq(dispatched, 0);
	cr_assert_eq(atomic_load(&counters.too_large), 1);
}

Test(api_server, oversized_chunked_body_refused)
{
	size_t n = API_MAX_BODY + 4096;
	char *raw = malloc(n + 256);
	cr_assert_not_null(raw);
	int h = sprintf(raw, "PUT /boot-source HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
			     "%zx\r\n",
			n);
	memset(raw + h, 'x', n);
	strcpy(raw + h + n, "\r\n0\r\n\r\n");
	const char *r = exchange(raw, strlen(raw));
	free(raw);
	cr_assert(strncmp(r, "HTTP/1.1 400", 12) == 0, "%.200s", r);
	cr_assert(strstr(r, "larger than the limit"), "%s", r);
	cr_assert_eq(dispatched, 0);
}

Test(api_server, too_many_headers)
{
	char raw[4096];
	int n = sprintf(raw, "GET / HTTP/1.1\r\nHost: x\r\n");
	for (int i = 0; i < API_MAX_HEADERS + 1; i++)
		n += sprintf(raw + n, "X-%d: y\r\n", i);
	strcpy(raw + n, "\r\n");
	const char *r = ask(raw);
	cr_assert(strncmp(r, "HTTP/1.1 400", 12) == 0, "%s", r);
	cr_assert(strstr(r, "Too many headers"), "%s", r);
	cr_assert_eq(dispatched, 0);
}

Test(api_server, malformed_http_is_400_and_closed)
{
	const char *r = ask("GET / HTTP/1.1\r\nNoColonHere\r\n\r\n");
	cr_assert(strncmp(r, "HTTP/1.1 400", 12) == 0, "%s", r);
	cr_assert_eq(dispatched, 0);
	r = ask("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n");
	cr_assert(strncmp(r, "HTTP/1.1 400", 12) == 0, "%s", r);
	/* The server keeps serving. */
	r = ask("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert(strncmp(r, "HTTP/1.1 200", 12) == 0, "%s", r);
}

Test(api_server, huge_header_block_refused)
{
	size_t n = API_CONN_MEMORY * 2;
	char *raw = malloc(n + 128);
	cr_assert_not_null(raw);
	int h = sprintf(raw, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: ");
	memset(raw + h, 'a', n);
	strcpy(raw + h + n, "\r\n\r\n");
	const char *r = exchange(raw, strlen(raw));
	free(raw);
	cr_assert(strncmp(r, "HTTP/1.1 4", 10) == 0 || r[0] == 0, "%.200s", r);
	cr_assert_eq(dispatched, 0);
}

/* libmicrohttpd decodes the path in place: a %00 used to cut it short, so
 * "/version%00x" answered as "/version". */
Test(api_server, nul_and_bad_path_bytes_refused)
{
	static const struct {
		const char *line, *fault;
	} cases[] = {
		{ "GET /version%00x HTTP/1.1", "%00\\\" at offset 8 decodes to a NUL byte" },
		{ "GET /%00 HTTP/1.1", "%00\\\" at offset 1 decodes to a NUL byte" },
		{ "GET /vers%0aion HTTP/1.1", "decodes to byte 0x0a" },
		{ "GET /version%zz HTTP/1.1", "does not start a %XX escape" },
		{ "GET /ver\x01sion HTTP/1.1", "byte 0x01 at offset 4" },
		{ "PUT /drives/a%00b HTTP/1.1", "a NUL byte" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char raw[256];
		snprintf(raw, sizeof(raw), "%s\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
			 cases[i].line);
		const char *r = ask(raw);
		cr_assert(strncmp(r, "HTTP/1.1 400", 12) == 0, "%s: %s", cases[i].line, r);
		cr_assert(strstr(r, cases[i].fault), "%s: %s", cases[i].line, r);
		cr_assert(strstr(r, "{\"fault_message\":\"Invalid path: "), "%s", r);
	}
	cr_assert_eq(dispatched, 0);
	cr_assert_eq(atomic_load(&counters.bad_path), sizeof(cases) / sizeof(cases[0]));
	/* A NUL sent as it is: the C string ends there, the request line not. */
	static const char raw_nul[] = "GET /version\0x HTTP/1.1\r\nHost: x\r\n\r\n";
	const char *r = exchange(raw_nul, sizeof(raw_nul) - 1);
	cr_assert(strncmp(r, "HTTP/1.1 400", 12) == 0, "%s", r);
	cr_assert(strstr(r, "a NUL byte at offset 8"), "%s", r);
	cr_assert_eq(dispatched, 0);
	/* Escapes of printable bytes still decode, and a query is not the path. */
	r = ask("GET /vers%69on HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert(strncmp(r, "HTTP/1.1 200", 12) == 0, "%s", r);
	r = ask("GET /version?x=%00 HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert(strncmp(r, "HTTP/1.1 200", 12) == 0, "%s", r);
	/* Several spaces before the version are not a NUL (and not a path). */
	r = ask("GET /version   HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert(strstr(r, "byte 0x20 at offset 8"), "%s", r);
	cr_assert_eq(dispatched, 2);
}

static void setup_short_deadline(void)
{
	signal(SIGPIPE, SIG_IGN);
	memset(&counters, 0, sizeof(counters));
	dispatched = 0;
	struct api_server_opts o = { .dispatch = dispatch, .counters = &counters,
				     .request_deadline_ms = 300 };
	struct errbuf err = { "" };
	cr_assert_eq(api_server_start(&srv, &o, &err), 0, "%s", err.msg);
}

TestSuite(api_server_deadline, .init = setup_short_deadline, .fini = teardown);

static int64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int client(void)
{
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	cr_assert_eq(api_server_add_connection(srv, sv[1]), 0);
	return sv[0];
}

/* A client trickling its headers a byte at a time, never idle long enough
 * for the idle timeout, is cut 300 ms after its first byte; one that sat
 * silent for longer than that and then sends a whole request is served:
 * the deadline runs from a request's first byte. */
Test(api_server_deadline, trickler_cut_silent_client_served)
{
	static const char slow_req[] = "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	int slow = client(), quiet = client();
	int64_t first = now_ms(), cut_at = -1;
	size_t sent = 0;
	char out[4096];
	size_t got = 0;
	bool asked = false;
	for (int64_t t = first; t - first < 3000 && (cut_at < 0 || !strstr(out, "\r\n\r\n{"));
	     t = now_ms()) {
		if (cut_at < 0 && sent < sizeof(slow_req) - 1 &&
		    write(slow, slow_req + sent, 1) == 1)
			sent++;
		if (!asked && t - first >= 500) {
			const char *q = "GET /version HTTP/1.1\r\nHost: x\r\n\r\n";
			cr_assert_eq(write(quiet, q, strlen(q)), (ssize_t)strlen(q));
			asked = true;
		}
		api_server_run(srv);
		char b;
		if (cut_at < 0 && read(slow, &b, 1) == 0)
			cut_at = now_ms();
		ssize_t n = read(quiet, out + got, sizeof(out) - 1 - got);
		if (n > 0)
			got += (size_t)n;
		out[got] = 0;
		poll(NULL, 0, 20);
	}
	cr_assert_geq(cut_at - first, 300, "cut after %ld ms", (long)(cut_at - first));
	cr_assert_lt(cut_at - first, 1500, "cut after %ld ms", (long)(cut_at - first));
	cr_assert(strncmp(out, "HTTP/1.1 200", 12) == 0, "%s", out);
	cr_assert_eq(atomic_load(&counters.timed_out), 1);
	cr_assert_eq(dispatched, 1);
	close(slow);
	close(quiet);
	for (int i = 0; i < 10 && api_server_connections(srv); i++)
		api_server_run(srv);
	cr_assert_eq(api_server_connections(srv), 0);
}

/* The deadline covers the body too: headers in at once, then a body that
 * comes a byte at a time is cut, and nothing is dispatched. */
Test(api_server_deadline, trickled_body_cut)
{
	static const char req[] = "PUT /actions HTTP/1.1\r\nHost: x\r\nContent-Length: 31\r\n\r\n";
	static const char body[] = "{\"action_type\":\"InstanceStart\"}";
	int c = client();
	cr_assert_eq(write(c, req, sizeof(req) - 1), (ssize_t)sizeof(req) - 1);
	int64_t first = now_ms(), cut_at = -1;
	size_t sent = 0;
	while (cut_at < 0 && now_ms() - first < 3000) {
		if (sent < sizeof(body) - 2 && write(c, body + sent, 1) == 1)
			sent++;
		api_server_run(srv);
		char b;
		if (read(c, &b, 1) == 0)
			cut_at = now_ms();
		poll(NULL, 0, 20);
	}
	cr_assert(cut_at >= 0 && cut_at - first < 1500, "cut after %ld ms", (long)(cut_at - first));
	cr_assert_eq(dispatched, 0);
	close(c);
}
