/* mmds/: the data store (PUT, PATCH, limits, reads by path), tokens with an
 * injected clock, the guest's HTTP answers, and the frame path with
 * crafted frames (ARP, TCP handshake, request, response, FIN, RST). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mmds/mmds.h"
#include "mmds/stack.h"

static struct mmds m;
static uint64_t clock_ms = 1000000;

static uint64_t fake_now(void *ctx)
{
	(void)ctx;
	return clock_ms;
}

static void setup(void)
{
	struct errbuf err;
	cr_assert_eq(mmds_init(&m, 200, "test-vm", &err), 0, "%s", err.msg);
	m.now_ms = fake_now;
	clock_ms = 1000000;
}

static void teardown(void) { mmds_destroy(&m); }

TestSuite(mmds, .init = setup, .fini = teardown);

static void put(const char *text)
{
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);
	cr_assert(j, "%s", je.text);
	struct errbuf err;
	cr_assert_eq(mmds_put(&m, j, &err), 0, "%s", err.msg);
	json_decref(j);
}

static int patch(const char *text, struct errbuf *err)
{
	json_t *j = json_loads(text, 0, NULL);
	cr_assert(j);
	int r = mmds_patch(&m, j, err);
	json_decref(j);
	return r;
}

static char *all(void)
{
	json_t *j = mmds_get_all(&m);
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	return s;
}

static void expect_path(const char *path, bool json, int want_rc, const char *want)
{
	char *out = NULL;
	size_t len = 0;
	int r = mmds_get_path(&m, path, strlen(path), json, &out, &len);
	cr_expect_eq(r, want_rc, "%s: rc %d", path, r);
	if (r == 0) {
		cr_expect_eq(len, strlen(want), "%s: len %zu", path, len);
		cr_expect_str_eq(out, want, "%s", path);
	}
	free(out);
}

Test(mmds, empty_store_reads_as_empty_object_and_refuses_patch)
{
	char *s = all();
	cr_expect_str_eq(s, "{}");
	free(s);
	struct errbuf err;
	cr_expect_eq(patch("{\"a\":1}", &err), -ENOENT);
	expect_path("/a", true, -ENOENT, NULL);
}

Test(mmds, put_replaces_patch_merges)
{
	put("{\"a\":{\"b\":1,\"c\":[1,2]},\"d\":\"x\"}");
	put("{\"a\":{\"b\":2}}");
	struct errbuf err;
	cr_assert_eq(patch("{\"a\":{\"c\":\"y\",\"b\":null},\"e\":{\"f\":true}}", &err), 0);
	char *s = all();
	cr_expect_str_eq(s, "{\"a\":{\"c\":\"y\"},\"e\":{\"f\":true}}");
	free(s);
	/* RFC 7396: a non-object patch replaces the whole target. */
	cr_assert_eq(patch("{\"a\":[1]}", &err), 0);
	s = all();
	cr_expect_str_eq(s, "{\"a\":[1],\"e\":{\"f\":true}}");
	free(s);
}

Test(mmds, limits_apply_to_put_and_patch_result)
{
	char big[300];
	snprintf(big, sizeof(big), "{\"k\":\"%0190d\"}", 0); /* 198 bytes compact */
	put(big);
	struct errbuf err;
	char over[300];
	snprintf(over, sizeof(over), "{\"k\":\"%0190d\",\"x\":1}", 0);
	json_t *j = json_loads(over, 0, NULL);
	cr_expect_eq(mmds_put(&m, j, &err), -EFBIG);
	json_decref(j);
	cr_expect_eq(patch("{\"zz\":1}", &err), -EFBIG);
	char *s = all();
	cr_expect_str_eq(s, big, "a refused patch changes nothing");
	free(s);
	cr_expect_eq(patch("{\"k\":\"short\"}", &err), 0);
}

Test(mmds, reads_by_path_json_and_imds)
{
	put("{\"latest\":{\"meta-data\":{\"ami-id\":\"ami-1\",\"z\":{},\"n\":5,\"a~b/c\":\"t\"}},"
	    "\"arr\":[\"p\",\"q\"]}");
	expect_path("/latest/meta-data/ami-id", true, 0, "\"ami-1\"");
	expect_path("/latest/meta-data/ami-id", false, 0, "ami-1");
	expect_path("/latest/meta-data", false, 0, "ami-id\na~b/c\nn\nz/");
	expect_path("/latest/meta-data/", false, 0, "ami-id\na~b/c\nn\nz/");
	expect_path("//latest//meta-data", false, 0, "ami-id\na~b/c\nn\nz/");
	expect_path("/", false, 0, "arr\nlatest/");
	expect_path("/latest", true, 0,
		    "{\"meta-data\":{\"ami-id\":\"ami-1\",\"a~b/c\":\"t\",\"n\":5,\"z\":{}}}");
	expect_path("/latest/meta-data/a~0b~1c", false, 0, "t");
	expect_path("/latest/meta-data/n", true, 0, "5");
	expect_path("/latest/meta-data/n", false, -ENOTSUP, NULL);
	expect_path("/arr/1", false, 0, "q");
	expect_path("/arr/01", false, -ENOENT, NULL);
	expect_path("/arr/2", false, -ENOENT, NULL);
	expect_path("/latest/nope", false, -ENOENT, NULL);
	expect_path("/latest/meta-data/ami-id/deeper", false, -ENOENT, NULL);
	expect_path("/bad~2escape", false, -ENOENT, NULL);
}

Test(mmds, tokens_expire_and_cannot_be_forged)
{
	char tok[MMDS_TOKEN_TEXT_MAX];
	cr_expect_eq(mmds_token_new(&m, 0, tok), -ERANGE);
	cr_expect_eq(mmds_token_new(&m, 21601, tok), -ERANGE);
	cr_assert_eq(mmds_token_new(&m, 2, tok), 0);
	size_t n = strlen(tok);
	cr_expect(mmds_token_valid(&m, tok, n));
	clock_ms += 1999;
	cr_expect(mmds_token_valid(&m, tok, n));
	clock_ms += 1;
	cr_expect_not(mmds_token_valid(&m, tok, n), "expired at ttl");
	/* A later expiry written into it: the MAC no longer matches. */
	clock_ms = 1000000;
	cr_assert_eq(mmds_token_new(&m, 2, tok), 0);
	char forged[MMDS_TOKEN_TEXT_MAX];
	memcpy(forged, tok, n + 1);
	forged[10] = forged[10] == 'f' ? 'e' : 'f';
	cr_expect_not(mmds_token_valid(&m, forged, n));
	memcpy(forged, tok, n + 1);
	forged[n - 1] = forged[n - 1] == '0' ? '1' : '0';
	cr_expect_not(mmds_token_valid(&m, forged, n));
	cr_expect_not(mmds_token_valid(&m, tok, n - 1));
	cr_expect_not(mmds_token_valid(&m, "", 0));
	/* Another process (another key) does not take it. */
	struct mmds other;
	struct errbuf err;
	cr_assert_eq(mmds_init(&other, 10, "test-vm", &err), 0);
	other.now_ms = fake_now;
	cr_expect_not(mmds_token_valid(&other, tok, n));
	mmds_destroy(&other);
}

/* --- HTTP --- */

static int http(const char *req, char *out, size_t cap)
{
	char *resp;
	size_t len;
	cr_assert_eq(mmds_http_answer(&m, req, strlen(req), &resp, &len), 0);
	size_t k = len < cap - 1 ? len : cap - 1;
	memcpy(out, resp, k);
	out[k] = 0;
	free(resp);
	int status = 0;
	cr_assert_eq(sscanf(out, "HTTP/1.1 %d", &status), 1, "%s", out);
	return status;
}

static const char *body(const char *resp)
{
	const char *b = strstr(resp, "\r\n\r\n");
	return b ? b + 4 : "";
}

Test(mmds, http_v1_get_json_and_text)
{
	put("{\"latest\":{\"meta-data\":{\"ami-id\":\"ami-1\"}}}");
	char r[1024];
	cr_expect_eq(http("GET /latest/meta-data HTTP/1.1\r\nHost: x\r\n\r\n", r, sizeof(r)), 200);
	cr_expect_str_eq(body(r), "ami-id");
	cr_expect(strstr(r, "Content-Type: text/plain"));
	cr_expect_eq(http("GET /latest HTTP/1.0\r\naccept: application/json\r\n\r\n", r, sizeof(r)),
		     200);
	cr_expect_str_eq(body(r), "{\"meta-data\":{\"ami-id\":\"ami-1\"}}");
	cr_expect(strstr(r, "Content-Length: 32\r\n"));
	cr_expect_eq(http("GET /nope?x=1 HTTP/1.1\r\n\r\n", r, sizeof(r)), 404);
	cr_expect_eq(http("POST / HTTP/1.1\r\n\r\n", r, sizeof(r)), 405);
	cr_expect(strstr(r, "Allow: GET, PUT\r\n"));
	cr_expect_eq(http("GET / HTTP/2.0\r\n\r\n", r, sizeof(r)), 505);
	cr_expect_eq(http("GARBAGE\r\n\r\n", r, sizeof(r)), 400);
	cr_expect_eq(http("GET / HTTP/1.1\r\nno colon here\r\n\r\n", r, sizeof(r)), 400);
	/* imds_compat: text whatever the Accept header says. */
	mmds_configure(&m, MMDS_V1, MMDS_DEFAULT_IPV4, true);
	cr_expect_eq(http("GET /latest HTTP/1.1\r\nAccept: application/json\r\n\r\n", r, sizeof(r)),
		     200);
	cr_expect_str_eq(body(r), "meta-data/");
	/* V1 takes a bad token, but counts it. */
	cr_expect_eq(http("GET /latest HTTP/1.1\r\nX-metadata-token: bad\r\n\r\n", r, sizeof(r)), 200);
	cr_expect_eq(m.stats.rx_invalid_token, 1);
}

Test(mmds, http_v2_tokens)
{
	put("{\"k\":\"v\"}");
	mmds_configure(&m, MMDS_V2, MMDS_DEFAULT_IPV4, false);
	char r[1024], req[512];
	cr_expect_eq(http("GET /k HTTP/1.1\r\n\r\n", r, sizeof(r)), 401);
	cr_expect_eq(http("GET /k HTTP/1.1\r\nX-metadata-token: v1.nope\r\n\r\n", r, sizeof(r)), 401);
	cr_expect_eq(http("PUT /latest/api/token HTTP/1.1\r\n\r\n", r, sizeof(r)), 400);
	cr_expect_eq(http("PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 0\r\n\r\n",
			  r, sizeof(r)),
		     400);
	cr_expect_eq(http("PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 21601\r\n\r\n",
			  r, sizeof(r)),
		     400);
	cr_expect_eq(http("PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 1x\r\n\r\n",
			  r, sizeof(r)),
		     400);
	cr_expect_eq(http("PUT /latest/api/token HTTP/1.1\r\nX-Forwarded-For: 1.2.3.4\r\n"
			  "X-metadata-token-ttl-seconds: 5\r\n\r\n",
			  r, sizeof(r)),
		     400);
	cr_expect_eq(http("PUT /other HTTP/1.1\r\nX-metadata-token-ttl-seconds: 5\r\n\r\n", r,
			  sizeof(r)),
		     404);
	cr_assert_eq(http("PUT /latest/api/token HTTP/1.1\r\n"
			  "X-aws-ec2-metadata-token-ttl-seconds: 5\r\n\r\n",
			  r, sizeof(r)),
		     200);
	cr_expect(strstr(r, "X-metadata-token-ttl-seconds: 5\r\n"));
	char tok[MMDS_TOKEN_TEXT_MAX];
	snprintf(tok, sizeof(tok), "%s", body(r));
	snprintf(req, sizeof(req), "GET /k HTTP/1.1\r\nx-metadata-token:  %s \r\n\r\n", tok);
	cr_expect_eq(http(req, r, sizeof(r)), 200);
	cr_expect_str_eq(body(r), "v");
	clock_ms += 5000;
	cr_expect_eq(http(req, r, sizeof(r)), 401, "expired");
	cr_expect_eq(m.stats.rx_no_token, 1);
}

/* --- frames --- */

static const uint8_t guest_mac[6] = { 0x06, 0, 0xac, 0x10, 0, 2 };
static const uint32_t guest_ip = 0xac100002; /* 172.16.0.2 */

static void p16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void p32(uint8_t *p, uint32_t v) { p16(p, (uint16_t)(v >> 16)); p16(p + 2, (uint16_t)v); }
static uint16_t g16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t g32(const uint8_t *p) { return (uint32_t)g16(p) << 16 | g16(p + 2); }

static uint16_t csum(const uint8_t *p, size_t n, uint32_t sum)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += g16(p + i);
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static size_t arp_request(uint8_t *f, uint32_t target)
{
	memset(f, 0xff, 6);
	memcpy(f + 6, guest_mac, 6);
	p16(f + 12, 0x0806);
	uint8_t *a = f + 14;
	p16(a, 1);
	p16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	p16(a + 6, 1);
	memcpy(a + 8, guest_mac, 6);
	p32(a + 14, guest_ip);
	memset(a + 18, 0, 6);
	p32(a + 24, target);
	return 42;
}

static size_t tcp_frame(uint8_t *f, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
			uint8_t flags, uint16_t win, const char *data)
{
	size_t dl = data ? strlen(data) : 0, tl = 20 + (flags & 0x02 ? 4 : 0) + dl;
	memcpy(f, m.mac, 6);
	memcpy(f + 6, guest_mac, 6);
	p16(f + 12, 0x0800);
	uint8_t *ip = f + 14, *t = ip + 20;
	memset(ip, 0, 40);
	ip[0] = 0x45;
	p16(ip + 2, (uint16_t)(20 + tl));
	ip[8] = 64;
	ip[9] = 6;
	p32(ip + 12, guest_ip);
	p32(ip + 16, m.ipv4);
	p16(ip + 10, csum(ip, 20, 0));
	p16(t, sport);
	p16(t + 2, dport);
	p32(t + 4, seq);
	p32(t + 8, ack);
	t[12] = (uint8_t)((tl - dl) / 4 << 4);
	t[13] = flags;
	p16(t + 14, win);
	if (flags & 0x02) {
		t[20] = 2;
		t[21] = 4;
		p16(t + 22, 1000);
	}
	if (dl)
		memcpy(t + tl - dl, data, dl);
	return 14 + 20 + tl;
}

struct out {
	uint8_t flags;
	uint32_t seq, ack;
	size_t len; /* TCP payload */
	uint8_t f[MMDS_FRAME_MAX];
};

/* The next frame MMDS has for the guest, checked as the guest would. */
static bool next_out(struct mmds_stack *s, struct out *o)
{
	size_t n = mmds_stack_output(s, o->f);
	if (!n)
		return false;
	cr_assert_geq(n, 54);
	cr_assert_eq(memcmp(o->f, guest_mac, 6), 0);
	cr_assert_eq(g16(o->f + 12), 0x0800);
	const uint8_t *ip = o->f + 14, *t = ip + 20;
	cr_assert_eq(csum(ip, 20, 0), 0, "IP checksum");
	cr_assert_eq(g16(ip + 2), n - 14);
	size_t tl = n - 34;
	uint8_t pseudo[12];
	memcpy(pseudo, ip + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = 6;
	p16(pseudo + 10, (uint16_t)tl);
	uint32_t sum = 0;
	for (int i = 0; i < 12; i += 2)
		sum += g16(pseudo + i);
	cr_assert_eq(csum(t, tl, sum), 0, "TCP checksum");
	cr_assert_eq(g16(t), 80);
	o->flags = t[13];
	o->seq = g32(t + 4);
	o->ack = g32(t + 8);
	o->len = tl - (size_t)(t[12] >> 4) * 4;
	return true;
}

Test(mmds, arp_for_mmds_is_answered)
{
	struct mmds_stack s;
	cr_assert_eq(mmds_stack_init(&s, &m), 0);
	uint8_t f[64], o[MMDS_FRAME_MAX];
	size_t n = arp_request(f, 0x0a000001);
	cr_expect_not(mmds_stack_wants(&s, f, n), "other addresses go to the TAP");
	n = arp_request(f, m.ipv4);
	cr_assert(mmds_stack_wants(&s, f, n));
	mmds_stack_input(&s, f, n);
	cr_assert(mmds_stack_pending(&s));
	cr_assert_eq(mmds_stack_output(&s, o), 42);
	cr_expect_eq(memcmp(o, guest_mac, 6), 0);
	cr_expect_eq(g16(o + 14 + 6), 2, "an ARP reply");
	cr_expect_eq(memcmp(o + 14 + 8, m.mac, 6), 0);
	cr_expect_eq(g32(o + 14 + 14), m.ipv4);
	cr_expect_eq(g32(o + 14 + 24), guest_ip);
	cr_expect_not(mmds_stack_pending(&s));
	/* A truncated one is taken (never reaches the TAP) and dropped. */
	cr_expect_not(mmds_stack_wants(&s, f, 30));
	mmds_stack_destroy(&s);
}

Test(mmds, tcp_request_response_close)
{
	put("{\"latest\":{\"meta-data\":{\"ami-id\":\"ami-1\"}}}");
	struct mmds_stack s;
	cr_assert_eq(mmds_stack_init(&s, &m), 0);
	uint8_t f[2048];
	struct out o;
	uint32_t gseq = 1000;
	mmds_stack_input(&s, f, tcp_frame(f, 40000, 80, gseq, 0, 0x02, 65535, NULL));
	cr_assert(next_out(&s, &o));
	cr_expect_eq(o.flags, 0x12, "SYN-ACK");
	cr_expect_eq(o.ack, gseq + 1);
	uint32_t iss = o.seq;
	/* The guest's SYN again (our SYN-ACK lost): the same SYN-ACK. */
	mmds_stack_input(&s, f, tcp_frame(f, 40000, 80, gseq, 0, 0x02, 65535, NULL));
	cr_assert(next_out(&s, &o));
	cr_expect_eq(o.flags, 0x12);
	cr_expect_eq(o.seq, iss);
	gseq++;
	const char *req = "GET /latest/meta-data/ami-id HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n";
	mmds_stack_input(&s, f, tcp_frame(f, 40000, 80, gseq, iss + 1, 0x10, 65535, NULL));
	cr_expect_not(next_out(&s, &o));
	/* The request in two pieces. */
	mmds_stack_input(&s, f, tcp_frame(f, 40000, 80, gseq, iss + 1, 0x18, 65535, "GET /latest"));
	gseq += 11;
	cr_assert(next_out(&s, &o));
	cr_expect_eq(o.flags, 0x10);
	cr_expect_eq(o.ack, gseq);
	mmds_stack_input(&s, f, tcp_frame(f, 40000, 80, gseq, iss + 1, 0x18, 65535, req + 11));
	gseq += (uint32_t)strlen(req) - 11;
	cr_assert(next_out(&s, &o)); /* the ACK */
	cr_expect_eq(o.ack, gseq);
	cr_assert(next_out(&s, &o)); /* the response, with our FIN */
	cr_expect_eq(o.flags, 0x19);
	cr_expect_eq(o.seq, iss + 1);
	char text[512];
	memcpy(text, o.f + 54, o.len);
	text[o.len] = 0;
	cr_expect(strncmp(text, "HTTP/1.1 200", 12) == 0, "%s", text);
	cr_expect_str_eq(body(text), "ami-1");
	cr_expect_not(next_out(&s, &o));
	uint32_t fin_end = iss + 1 + (uint32_t)o.len + 1;
	/* The guest acks everything and closes: the connection is gone. */
	mmds_stack_input(&s, f, tcp_frame(f, 40000, 80, gseq, fin_end, 0x11, 65535, NULL));
	cr_assert(next_out(&s, &o));
	cr_expect_eq(o.flags, 0x10);
	cr_expect_eq(o.ack, gseq + 1);
	/* Anything more on that port: an RST. */
	mmds_stack_input(&s, f, tcp_frame(f, 40000, 80, gseq + 1, fin_end, 0x10, 65535, NULL));
	cr_assert(next_out(&s, &o));
	cr_expect_eq(o.flags & 0x04, 0x04);
	cr_expect_eq(s.stats.dropped_in, 0);
	mmds_stack_destroy(&s);
}

Test(mmds, tcp_window_mss_and_retransmission)
{
	char big[180];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	char doc[200];
	snprintf(doc, sizeof(doc), "{\"k\":\"%s\"}", big);
	put(doc);
	struct mmds_stack s;
	cr_assert_eq(mmds_stack_init(&s, &m), 0);
	uint8_t f[2048];
	struct out o;
	/* MSS 1000 from the SYN; a window of 100 bytes. */
	mmds_stack_input(&s, f, tcp_frame(f, 5, 80, 0, 0, 0x02, 100, NULL));
	cr_assert(next_out(&s, &o));
	uint32_t iss = o.seq;
	mmds_stack_input(&s, f, tcp_frame(f, 5, 80, 1, iss + 1, 0x18, 100,
					  "GET /k HTTP/1.1\r\n\r\n"));
	cr_assert(next_out(&s, &o)); /* ACK */
	cr_assert(next_out(&s, &o));
	cr_expect_eq(o.len, 100, "as much as the window");
	cr_expect_not(next_out(&s, &o), "then nothing until an ACK");
	/* Three duplicate ACKs: from snd_una again. */
	for (int i = 0; i < 3; i++)
		mmds_stack_input(&s, f, tcp_frame(f, 5, 80, 20, iss + 1, 0x10, 100, NULL));
	cr_assert(next_out(&s, &o));
	cr_expect_eq(o.seq, iss + 1);
	cr_expect_eq(s.stats.retransmits, 1);
	/* Acked; the rest after a second without progress is sent again. */
	mmds_stack_input(&s, f, tcp_frame(f, 5, 80, 20, iss + 101, 0x10, 2000, NULL));
	cr_assert(next_out(&s, &o));
	cr_expect_eq(o.seq, iss + 101);
	cr_expect(o.flags & 0x01, "last segment carries the FIN");
	cr_expect_not(next_out(&s, &o));
	clock_ms += MMDS_RTO_MS;
	cr_assert(next_out(&s, &o));
	cr_expect_eq(o.seq, iss + 101);
	mmds_stack_destroy(&s);
}

Test(mmds, bounded_connections_queue_and_junk)
{
	struct mmds_stack s;
	cr_assert_eq(mmds_stack_init(&s, &m), 0);
	uint8_t f[2048];
	struct out o;
	for (unsigned i = 0; i < MMDS_MAX_CONNS + 1; i++) {
		mmds_stack_input(&s, f, tcp_frame(f, (uint16_t)(1000 + i), 80, 0, 0, 0x02, 1000, NULL));
		cr_assert(next_out(&s, &o));
		cr_expect_eq(o.flags, i < MMDS_MAX_CONNS ? 0x12 : 0x14, "conn %u", i);
	}
	cr_expect_eq(s.stats.conns_refused, 1);
	/* Idle long enough, the oldest gives way. */
	clock_ms += MMDS_IDLE_MS;
	mmds_stack_input(&s, f, tcp_frame(f, 9999, 80, 0, 0, 0x02, 1000, NULL));
	cr_assert(next_out(&s, &o));
	cr_expect_eq(o.flags, 0x12);
	/* A guest without RX buffers: at most MMDS_CTL_QUEUE control frames wait. */
	for (unsigned i = 0; i < MMDS_CTL_QUEUE + 5; i++)
		mmds_stack_input(&s, f, tcp_frame(f, 7, 81, 0, 0, 0x02, 1000, NULL));
	cr_expect_eq(s.stats.ctl_dropped, 5);
	unsigned got = 0;
	while (next_out(&s, &o))
		got++;
	cr_expect_eq(got, MMDS_CTL_QUEUE);
	/* Broken frames are taken and dropped: a bad IP checksum, a fragment,
	 * UDP, a TCP header longer than the packet. */
	size_t n = tcp_frame(f, 1, 80, 0, 0, 0x02, 1000, NULL);
	f[14 + 10] ^= 1;
	mmds_stack_input(&s, f, n);
	n = tcp_frame(f, 1, 80, 0, 0, 0x02, 1000, NULL);
	f[14 + 6] = 0x20;
	mmds_stack_input(&s, f, n);
	n = tcp_frame(f, 1, 80, 0, 0, 0x02, 1000, NULL);
	f[14 + 9] = 17;
	mmds_stack_input(&s, f, n);
	n = tcp_frame(f, 1, 80, 0, 0, 0x02, 1000, NULL);
	f[34 + 12] = 0xf0;
	mmds_stack_input(&s, f, n);
	cr_expect_eq(s.stats.dropped_in, 4);
	cr_expect_not(next_out(&s, &o));
	mmds_stack_destroy(&s);
}

Test(mmds, oversized_request_gets_400)
{
	struct mmds_stack s;
	cr_assert_eq(mmds_stack_init(&s, &m), 0);
	static uint8_t f[2048];
	struct out o;
	mmds_stack_input(&s, f, tcp_frame(f, 5, 80, 0, 0, 0x02, 65535, NULL));
	cr_assert(next_out(&s, &o));
	uint32_t iss = o.seq, seq = 1;
	char chunk[1001];
	memset(chunk, 'x', 1000);
	chunk[1000] = 0;
	bool answered = false;
	for (int i = 0; i < 6 && !answered; i++) {
		mmds_stack_input(&s, f, tcp_frame(f, 5, 80, seq, iss + 1, 0x10, 65535, chunk));
		seq += 1000;
		while (next_out(&s, &o))
			if (o.len) {
				o.f[54 + 12] = 0;
				cr_expect_str_eq((char *)o.f + 54, "HTTP/1.1 400");
				answered = true;
			}
	}
	cr_expect(answered);
	mmds_stack_destroy(&s);
}
