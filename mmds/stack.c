/* MMDS's frames: ARP, IPv4, and the server side of TCP (stack.h). */
#include "mmds/stack.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define ETH_HDR 14
#define ETH_ARP 0x0806
#define ETH_IPV4 0x0800
#define ARP_LEN 28
#define IP_HDR 20
#define TCP_HDR 20
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define HTTP_PORT 80

enum conn_state { C_FREE, C_SYN_RCVD, C_ESTAB };

struct mmds_conn {
	enum conn_state state;
	uint8_t peer_mac[6];
	uint32_t peer_ip;
	uint16_t peer_port, mss;
	uint32_t iss, snd_una, snd_nxt, snd_max, rcv_nxt, peer_wnd;
	unsigned dupacks;
	bool responded, peer_fin;
	char *resp; /* the whole response; then our FIN */
	size_t resp_len;
	size_t req_len;
	uint64_t last_rx_ms, last_tx_ms;
	char req[MMDS_REQ_MAX];
};

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}
/* Sequence-space comparisons (RFC 793 arithmetic mod 2^32). */
static bool seq_lt(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static bool seq_le(uint32_t a, uint32_t b) { return (int32_t)(a - b) <= 0; }

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += get16(p + i);
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint64_t now(const struct mmds_stack *s) { return s->m->now_ms(s->m->now_ctx); }

int mmds_stack_init(struct mmds_stack *s, struct mmds *m)
{
	memset(s, 0, sizeof(*s));
	s->m = m;
	s->conns = calloc(MMDS_MAX_CONNS, sizeof(*s->conns));
	if (!s->conns)
		return -ENOMEM;
	memcpy(&s->isn, m->key, sizeof(s->isn));
	return 0;
}

static void conn_free(struct mmds_conn *c)
{
	free(c->resp);
	c->resp = NULL;
	c->state = C_FREE;
}

void mmds_stack_destroy(struct mmds_stack *s)
{
	for (unsigned i = 0; s->conns && i < MMDS_MAX_CONNS; i++)
		conn_free(&s->conns[i]);
	free(s->conns);
	s->conns = NULL;
}

bool mmds_stack_wants(const struct mmds_stack *s, const uint8_t *f, size_t len)
{
	if (len < ETH_HDR + 20)
		return false;
	uint16_t type = get16(f + 12);
	if (type == ETH_ARP)
		return len >= ETH_HDR + ARP_LEN && get32(f + ETH_HDR + 24) == s->m->ipv4;
	if (type == ETH_IPV4)
		return get32(f + ETH_HDR + 16) == s->m->ipv4;
	return false;
}

/* --- frames out --- */

static uint8_t *ctl_slot(struct mmds_stack *s, size_t len)
{
	if (s->ctl_count == MMDS_CTL_QUEUE || len > MMDS_CTL_FRAME_MAX) {
		s->stats.ctl_dropped++;
		return NULL;
	}
	unsigned i = (s->ctl_head + s->ctl_count++) % MMDS_CTL_QUEUE;
	s->ctl_len[i] = (uint8_t)len;
	return s->ctl[i];
}

static void eth_header(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	put16(f + 12, type);
}

struct seg {
	const uint8_t *mac;
	uint32_t ip;
	uint16_t port;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win;
	bool mss_opt;
	const void *data;
	size_t len;
};

/* Ethernet + IPv4 + TCP, checksums complete. Returns the frame's length. */
static size_t build_seg(struct mmds_stack *s, const struct seg *g, uint8_t *f)
{
	size_t tcp_len = TCP_HDR + (g->mss_opt ? 4 : 0) + g->len;
	eth_header(f, g->mac, s->m->mac, ETH_IPV4);
	uint8_t *ip = f + ETH_HDR, *t = ip + IP_HDR;
	memset(ip, 0, IP_HDR + TCP_HDR);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(IP_HDR + tcp_len));
	put16(ip + 4, s->ip_id++);
	put16(ip + 6, 0x4000); /* DF */
	ip[8] = 64;
	ip[9] = 6;
	put32(ip + 12, s->m->ipv4);
	put32(ip + 16, g->ip);
	put16(ip + 10, csum_fold(csum_add(0, ip, IP_HDR)));
	put16(t, HTTP_PORT);
	put16(t + 2, g->port);
	put32(t + 4, g->seq);
	put32(t + 8, g->ack);
	t[12] = (uint8_t)((TCP_HDR + (g->mss_opt ? 4 : 0)) / 4 << 4);
	t[13] = g->flags;
	put16(t + 14, g->win);
	if (g->mss_opt) {
		t[20] = 2;
		t[21] = 4;
		put16(t + 22, MMDS_MSS);
	}
	if (g->len)
		memcpy(t + tcp_len - g->len, g->data, g->len);
	uint8_t pseudo[12];
	memcpy(pseudo, ip + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = 6;
	put16(pseudo + 10, (uint16_t)tcp_len);
	put16(t + 16, csum_fold(csum_add(csum_add(0, pseudo, 12), t, tcp_len)));
	return ETH_HDR + IP_HDR + tcp_len;
}

static void queue_seg(struct mmds_stack *s, const struct seg *g)
{
	uint8_t *f = ctl_slot(s, ETH_HDR + IP_HDR + TCP_HDR + 4);
	if (!f)
		return;
	size_t n = build_seg(s, g, f);
	s->ctl_len[(s->ctl_head + s->ctl_count - 1) % MMDS_CTL_QUEUE] = (uint8_t)n;
}

static uint16_t conn_window(const struct mmds_conn *c)
{
	return (uint16_t)(c->responded ? MMDS_REQ_MAX : MMDS_REQ_MAX - c->req_len);
}

static void queue_ctl(struct mmds_stack *s, struct mmds_conn *c, uint8_t flags)
{
	struct seg g = { c->peer_mac, c->peer_ip, c->peer_port, flags & TCP_SYN ? c->iss : c->snd_nxt,
			 c->rcv_nxt, flags, conn_window(c), (flags & TCP_SYN) != 0, NULL, 0 };
	queue_seg(s, &g);
}

/* RFC 793's reset for a segment that belongs to no connection. */
static void queue_rst(struct mmds_stack *s, const uint8_t *mac, uint32_t ip, uint16_t port,
		      uint32_t seq, uint32_t ack, uint8_t flags, uint32_t seg_len)
{
	if (flags & TCP_RST)
		return;
	struct seg g = { mac, ip, port, 0, 0, TCP_RST, 0, false, NULL, 0 };
	if (flags & TCP_ACK) {
		g.seq = ack;
	} else {
		g.flags |= TCP_ACK;
		g.ack = seq + seg_len;
	}
	queue_seg(s, &g);
}

/* --- ARP --- */

static void arp_input(struct mmds_stack *s, const uint8_t *f, size_t len)
{
	const uint8_t *a = f + ETH_HDR;
	if (len < ETH_HDR + ARP_LEN || get16(a) != 1 || get16(a + 2) != ETH_IPV4 || a[4] != 6 ||
	    a[5] != 4 || get16(a + 6) != 1) {
		s->stats.dropped_in++; /* replies and odd ARP for our address */
		return;
	}
	uint8_t *r = ctl_slot(s, ETH_HDR + ARP_LEN);
	if (!r)
		return;
	eth_header(r, a + 8, s->m->mac, ETH_ARP);
	uint8_t *o = r + ETH_HDR;
	put16(o, 1);
	put16(o + 2, ETH_IPV4);
	o[4] = 6;
	o[5] = 4;
	put16(o + 6, 2);
	memcpy(o + 8, s->m->mac, 6);
	put32(o + 14, s->m->ipv4);
	memcpy(o + 18, a + 8, 10); /* the asker's MAC and address */
}

/* --- TCP --- */

static struct mmds_conn *conn_find(struct mmds_stack *s, uint32_t ip, uint16_t port)
{
	for (unsigned i = 0; i < MMDS_MAX_CONNS; i++) {
		struct mmds_conn *c = &s->conns[i];
		if (c->state != C_FREE && c->peer_ip == ip && c->peer_port == port)
			return c;
	}
	return NULL;
}

/* A free slot, or the longest idle one past MMDS_IDLE_MS (a guest that
 * rebooted or forgot its sockets must not lock MMDS out). */
static struct mmds_conn *conn_alloc(struct mmds_stack *s)
{
	struct mmds_conn *idle = NULL;
	uint64_t t = now(s);
	for (unsigned i = 0; i < MMDS_MAX_CONNS; i++) {
		struct mmds_conn *c = &s->conns[i];
		if (c->state == C_FREE)
			return c;
		if (t - c->last_rx_ms >= MMDS_IDLE_MS && (!idle || c->last_rx_ms < idle->last_rx_ms))
			idle = c;
	}
	if (idle)
		conn_free(idle);
	return idle;
}

static uint16_t syn_mss(const uint8_t *opt, size_t n)
{
	uint16_t mss = 536; /* RFC 1122's default */
	for (size_t i = 0; i < n;) {
		if (opt[i] == 0)
			break;
		if (opt[i] == 1) {
			i++;
			continue;
		}
		if (i + 1 >= n || opt[i + 1] < 2 || i + opt[i + 1] > n)
			break;
		if (opt[i] == 2 && opt[i + 1] == 4)
			mss = get16(opt + i + 2);
		i += opt[i + 1];
	}
	if (mss < 64)
		mss = 64;
	return mss > MMDS_MSS ? MMDS_MSS : mss;
}

static void conn_open(struct mmds_stack *s, const uint8_t *mac, uint32_t ip, uint16_t port,
		      uint32_t seq, uint16_t win, const uint8_t *opt, size_t opt_len)
{
	struct mmds_conn *c = conn_alloc(s);
	if (!c) {
		s->stats.conns_refused++;
		queue_rst(s, mac, ip, port, seq, 0, TCP_SYN, 1);
		return;
	}
	memset(c, 0, offsetof(struct mmds_conn, req));
	c->state = C_SYN_RCVD;
	memcpy(c->peer_mac, mac, 6);
	c->peer_ip = ip;
	c->peer_port = port;
	c->mss = syn_mss(opt, opt_len);
	s->isn = s->isn * 1103515245u + 12345u + 0x10000u;
	c->iss = s->isn;
	c->snd_una = c->snd_nxt = c->snd_max = c->iss + 1;
	c->rcv_nxt = seq + 1;
	c->peer_wnd = win;
	c->last_rx_ms = c->last_tx_ms = now(s);
	queue_ctl(s, c, TCP_SYN | TCP_ACK);
}

static uint32_t fin_end(const struct mmds_conn *c)
{
	return c->iss + 1 + (uint32_t)c->resp_len + 1;
}

static void conn_respond(struct mmds_stack *s, struct mmds_conn *c, size_t hdr_len, bool too_big)
{
	c->responded = true;
	int r = 0;
	if (too_big)
		r = mmds_http_too_large(s->m, &c->resp, &c->resp_len);
	else if (hdr_len)
		r = mmds_http_answer(s->m, c->req, hdr_len, &c->resp, &c->resp_len);
	if (r < 0) {
		c->resp = NULL;
		c->resp_len = 0; /* out of memory: just close */
	}
}

/* Appends in-order payload to the request; answers once its header block
 * is complete (a body, if any, is not read: the answer closes anyway). */
static void conn_data(struct mmds_stack *s, struct mmds_conn *c, const uint8_t *p, size_t n)
{
	if (c->responded)
		return;
	size_t old = c->req_len, take = n < MMDS_REQ_MAX - old ? n : MMDS_REQ_MAX - old;
	memcpy(c->req + old, p, take);
	c->req_len += take;
	size_t from = old > 3 ? old - 3 : 0;
	const char *e = memmem(c->req + from, c->req_len - from, "\r\n\r\n", 4);
	if (e) {
		conn_respond(s, c, (size_t)(e - c->req) + 4, false);
	} else if (c->req_len == MMDS_REQ_MAX) {
		conn_respond(s, c, 0, true);
	}
}

static void tcp_input(struct mmds_stack *s, const uint8_t *f, const uint8_t *ip, size_t ip_len,
		      size_t ihl)
{
	const uint8_t *t = ip + ihl;
	size_t tcp_len = ip_len - ihl;
	if (tcp_len < TCP_HDR) {
		s->stats.dropped_in++;
		return;
	}
	size_t doff = (size_t)(t[12] >> 4) * 4;
	if (doff < TCP_HDR || doff > tcp_len) {
		s->stats.dropped_in++;
		return;
	}
	const uint8_t *mac = f + 6;
	uint32_t src = get32(ip + 12), seq = get32(t + 4), ack = get32(t + 8);
	uint16_t sport = get16(t), dport = get16(t + 2), win = get16(t + 14);
	uint8_t flags = t[13];
	const uint8_t *payload = t + doff;
	size_t plen = tcp_len - doff;
	uint32_t seg_len = (uint32_t)plen + !!(flags & TCP_SYN) + !!(flags & TCP_FIN);
	if (dport != HTTP_PORT) {
		queue_rst(s, mac, src, sport, seq, ack, flags, seg_len);
		return;
	}
	struct mmds_conn *c = conn_find(s, src, sport);
	if (c && (flags & TCP_SYN) && !(flags & TCP_ACK) && seq + 1 != c->rcv_nxt) {
		conn_free(c); /* the port is in use again: a new connection */
		c = NULL;
	}
	if (!c) {
		if ((flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN)
			conn_open(s, mac, src, sport, seq, win, t + TCP_HDR, doff - TCP_HDR);
		else
			queue_rst(s, mac, src, sport, seq, ack, flags, seg_len);
		return;
	}
	c->last_rx_ms = now(s);
	if (flags & TCP_RST) {
		if (seq_le(c->rcv_nxt, seq) && seq_lt(seq, c->rcv_nxt + MMDS_REQ_MAX))
			conn_free(c);
		return;
	}
	if (flags & TCP_SYN) { /* a retransmitted SYN: our SYN-ACK was lost */
		queue_ctl(s, c, c->state == C_SYN_RCVD ? TCP_SYN | TCP_ACK : TCP_ACK);
		return;
	}
	if (!(flags & TCP_ACK))
		return;
	if (c->state == C_SYN_RCVD) {
		if (ack != c->iss + 1) {
			queue_rst(s, mac, src, sport, seq, ack, flags, seg_len);
			return;
		}
		c->state = C_ESTAB;
	}
	if (seq_lt(c->snd_max, ack)) { /* acks what we never sent */
		queue_ctl(s, c, TCP_ACK);
		return;
	}
	if (seq_lt(c->snd_una, ack)) {
		c->snd_una = ack;
		c->dupacks = 0;
		if (seq_lt(c->snd_nxt, ack))
			c->snd_nxt = ack;
	} else if (ack == c->snd_una && !seg_len && c->snd_una != c->snd_max &&
		   win == c->peer_wnd && ++c->dupacks == 3) {
		c->snd_nxt = c->snd_una; /* go back N */
		s->stats.retransmits++;
	}
	c->peer_wnd = win;
	if (plen || (flags & TCP_FIN)) {
		if (seq != c->rcv_nxt) {
			queue_ctl(s, c, TCP_ACK); /* out of order or repeated */
			return;
		}
		/* All of it is taken: into the request, or, past the answer or
		 * the request's cap, acknowledged and ignored. */
		conn_data(s, c, payload, plen);
		c->rcv_nxt += (uint32_t)plen;
		if (flags & TCP_FIN) {
			c->rcv_nxt++;
			c->peer_fin = true;
			if (!c->responded)
				conn_respond(s, c, 0, false); /* closed without a request */
		}
		queue_ctl(s, c, TCP_ACK);
	}
	if (c->responded && c->peer_fin && c->snd_una == fin_end(c))
		conn_free(c);
}

static void ipv4_input(struct mmds_stack *s, const uint8_t *f, size_t len)
{
	const uint8_t *ip = f + ETH_HDR;
	size_t avail = len - ETH_HDR, ihl = (size_t)(ip[0] & 15) * 4;
	size_t tot = get16(ip + 2);
	if ((ip[0] >> 4) != 4 || ihl < IP_HDR || tot < ihl || tot > avail ||
	    csum_fold(csum_add(0, ip, ihl)) != 0 || (get16(ip + 6) & 0x3fff) || ip[9] != 6) {
		s->stats.dropped_in++; /* fragments, other protocols, broken headers */
		return;
	}
	tcp_input(s, f, ip, tot, ihl);
}

void mmds_stack_input(struct mmds_stack *s, const uint8_t *frame, size_t len)
{
	s->stats.frames_in++;
	if (!mmds_stack_wants(s, frame, len)) {
		s->stats.dropped_in++;
		return;
	}
	if (get16(frame + 12) == ETH_ARP)
		arp_input(s, frame, len);
	else
		ipv4_input(s, frame, len);
}

/* --- data out --- */

/* How many response bytes c may send now, and whether the FIN goes too;
 * false when it has nothing to send. Restarts from snd_una (go back N)
 * when nothing was acknowledged for MMDS_RTO_MS. */
static bool conn_next(struct mmds_stack *s, struct mmds_conn *c, size_t *n, bool *fin)
{
	if (c->state != C_ESTAB || !c->responded)
		return false;
	uint32_t end = fin_end(c);
	if (c->snd_una != c->snd_max && c->snd_nxt == c->snd_max &&
	    now(s) - c->last_tx_ms >= MMDS_RTO_MS) {
		c->snd_nxt = c->snd_una;
		c->last_tx_ms = now(s);
		s->stats.retransmits++;
	}
	if (c->snd_nxt == end)
		return false;
	uint32_t data_end = end - 1;
	uint32_t left = seq_lt(c->snd_nxt, data_end) ? data_end - c->snd_nxt : 0;
	int32_t room = (int32_t)(c->snd_una + c->peer_wnd - c->snd_nxt);
	uint32_t k = left;
	if (room <= 0)
		k = 0;
	else if (k > (uint32_t)room)
		k = (uint32_t)room;
	if (k > c->mss)
		k = c->mss;
	*n = k;
	*fin = c->snd_nxt + k == data_end;
	return k > 0 || *fin;
}

bool mmds_stack_pending(struct mmds_stack *s)
{
	if (s->ctl_count)
		return true;
	size_t n;
	bool fin;
	for (unsigned i = 0; i < MMDS_MAX_CONNS; i++)
		if (conn_next(s, &s->conns[i], &n, &fin))
			return true;
	return false;
}

size_t mmds_stack_output(struct mmds_stack *s, uint8_t *buf)
{
	if (s->ctl_count) {
		unsigned i = s->ctl_head;
		size_t n = s->ctl_len[i];
		memcpy(buf, s->ctl[i], n);
		s->ctl_head = (i + 1) % MMDS_CTL_QUEUE;
		s->ctl_count--;
		s->stats.frames_out++;
		return n;
	}
	for (unsigned k = 0; k < MMDS_MAX_CONNS; k++) {
		struct mmds_conn *c = &s->conns[(s->rr + k) % MMDS_MAX_CONNS];
		size_t n;
		bool fin;
		if (!conn_next(s, c, &n, &fin))
			continue;
		s->rr = (s->rr + k + 1) % MMDS_MAX_CONNS;
		size_t off = c->snd_nxt - (c->iss + 1);
		struct seg g = { c->peer_mac, c->peer_ip, c->peer_port, c->snd_nxt, c->rcv_nxt,
				 (uint8_t)(TCP_ACK | (n ? TCP_PSH : 0) | (fin ? TCP_FIN : 0)),
				 conn_window(c), false, n ? c->resp + off : NULL, n };
		size_t len = build_seg(s, &g, buf);
		c->snd_nxt += (uint32_t)n + fin;
		if (seq_lt(c->snd_max, c->snd_nxt))
			c->snd_max = c->snd_nxt;
		c->last_tx_ms = now(s);
		s->stats.frames_out++;
		return len;
	}
	return 0;
}
