/* virtio-vsock connections: the host Unix sockets behind them, the buffer
 * for guest data the host has not taken yet, and the credit bookkeeping of
 * virtio 1.2 section 5.10.6.3. VMM thread only. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "runtime/base/log.h"
#include "virtio/iov.h"
#include "virtio/vsock_int.h"

static unsigned vc_hash(uint32_t local_port, uint32_t peer_port)
{
	return ((local_port * 2654435761u) ^ peer_port) % VSOCK_HASH;
}

struct vsock_conn *vsock_conn_find(struct vsock *vs, uint32_t local_port, uint32_t peer_port)
{
	for (struct vsock_conn *c = vs->hash[vc_hash(local_port, peer_port)]; c; c = c->hnext)
		if (c->local_port == local_port && c->peer_port == peer_port)
			return c;
	return NULL;
}

static void vc_hash_add(struct vsock_conn *c)
{
	struct vsock_conn **head = &c->vs->hash[vc_hash(c->local_port, c->peer_port)];
	c->hnext = *head;
	*head = c;
	c->hashed = true;
}

static void vc_hash_del(struct vsock_conn *c)
{
	if (!c->hashed)
		return;
	struct vsock_conn **p = &c->vs->hash[vc_hash(c->local_port, c->peer_port)];
	while (*p && *p != c)
		p = &(*p)->hnext;
	if (*p)
		*p = c->hnext;
	c->hashed = false;
}

static void vc_on_event(struct vhub_watch *w, uint32_t events);

/* The caller checked vsock_conn_room. */
static struct vsock_conn *vc_new(struct vsock *vs, int fd, enum vsock_conn_state state)
{
	struct vsock_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->vs = vs;
	c->fd = fd;
	c->w.fd = -1;
	c->state = state;
	c->all_next = vs->all;
	if (vs->all)
		vs->all->all_prev = c;
	vs->all = c;
	vs->nr_conns++;
	vs->stats.conns_opened++;
	return c;
}

void vsock_conn_free(struct vsock_conn *c)
{
	struct vsock *vs = c->vs;
	vc_hash_del(c);
	if (c->in_rxq) {
		struct vsock_conn **p = &vs->rxq_head, *prev = NULL;
		while (*p && *p != c) {
			prev = *p;
			p = &(*p)->rxq_next;
		}
		if (*p)
			*p = c->rxq_next;
		if (vs->rxq_tail == c)
			vs->rxq_tail = prev;
	}
	if (c->all_prev)
		c->all_prev->all_next = c->all_next;
	else
		vs->all = c->all_next;
	if (c->all_next)
		c->all_next->all_prev = c->all_prev;
	vhub_del(vs->vd.hub, &c->w);
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	vs->nr_conns--;
	vs->stats.conns_closed++;
	/* Events for it may still sit in the hub's current batch. */
	vhub_defer_free(vs->vd.hub, c);
	/* An fd came free: host connections may have been waiting for one. */
	vsock_listen_resume(vs);
}

void vsock_conn_free_all(struct vsock *vs)
{
	while (vs->all)
		vsock_conn_free(vs->all);
	vs->rxq_head = vs->rxq_tail = NULL;
}

struct vsock_conn *vsock_conn_connect(struct vsock *vs, uint32_t local_port, uint32_t peer_port)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", vs->uds_path, local_port);
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path)) {
		vs->stats.conns_refused++;
		return NULL;
	}
	if (!vsock_conn_room(vs))
		return NULL;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_ratelimited(LOG_WARN, "virtio-vsock: guest port %u -> host port %u: socket: %s",
				peer_port, local_port, strerror(errno));
		vs->stats.conns_refused++;
		return NULL;
	}
	/* A Unix connect either succeeds at once or fails (EAGAIN: the
	 * listener's backlog is full, which we treat as refused). */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		log_ratelimited(LOG_DEBUG, "virtio-vsock: guest port %u -> %s: %s", peer_port,
				sa.sun_path, strerror(errno));
		close(fd);
		vs->stats.conns_refused++;
		return NULL;
	}
	struct vsock_conn *c = vc_new(vs, fd, VC_ESTABLISHED);
	if (!c) {
		close(fd);
		vs->stats.conns_refused++;
		return NULL;
	}
	c->local_port = local_port;
	c->peer_port = peer_port;
	vc_hash_add(c);
	return c;
}

void vsock_conn_pend(struct vsock_conn *c, unsigned what)
{
	struct vsock *vs = c->vs;
	c->pending |= what;
	if (c->in_rxq)
		return;
	c->in_rxq = true;
	c->rxq_next = NULL;
	if (vs->rxq_tail)
		vs->rxq_tail->rxq_next = c;
	else
		vs->rxq_head = c;
	vs->rxq_tail = c;
}

void vsock_conn_reset(struct vsock_conn *c)
{
	vhub_del(c->vs->vd.hub, &c->w);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
	c->buf_len = 0;
	c->state = VC_CLOSING;
	c->pending = 0;
	vsock_conn_pend(c, VC_PEND_RST);
}

uint32_t vsock_conn_peer_credit(const struct vsock_conn *c)
{
	/* Unsigned wrap-around is the protocol's (5.10.6.3); a guest that
	 * reports more consumed than sent gets no credit rather than 4 GiB. */
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;
	return in_flight > c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

void vsock_conn_update_watch(struct vsock_conn *c)
{
	if (c->fd < 0)
		return;
	uint32_t ev = 0;
	if (c->state == VC_CONNECT_LINE) {
		ev = EPOLLIN;
	} else if (c->state == VC_ESTABLISHED) {
		if (!(c->pending & VC_PEND_DATA) && !c->host_eof && !c->peer_shut_rcv &&
		    vsock_conn_peer_credit(c) > 0)
			ev |= EPOLLIN;
		if (c->buf_len)
			ev |= EPOLLOUT;
	}
	struct vhub *hub = c->vs->vd.hub;
	/* Not registered when nothing is wanted: a hung-up socket would
	 * otherwise report EPOLLHUP forever. */
	if (!ev)
		vhub_del(hub, &c->w);
	else if (c->w.fd >= 0)
		vhub_mod(hub, &c->w, ev);
	else if (vhub_add(hub, &c->w, c->fd, ev, vc_on_event, c) < 0)
		vsock_conn_reset(c);
}

/* Writes the buffered guest data; false if the host end is gone. */
static bool vc_flush(struct vsock_conn *c)
{
	while (c->buf_len) {
		uint32_t chunk = VSOCK_BUF_SIZE - c->buf_head;
		if (chunk > c->buf_len)
			chunk = c->buf_len;
		ssize_t w = send(c->fd, c->buf + c->buf_head, chunk, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return true;
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		c->buf_head = (c->buf_head + (uint32_t)w) % VSOCK_BUF_SIZE;
		c->buf_len -= (uint32_t)w;
		c->fwd_cnt += (uint32_t)w;
	}
	free(c->buf); /* idle connections hold no buffer */
	c->buf = NULL;
	c->buf_head = 0;
	return true;
}

int vsock_conn_send(struct vsock_conn *c, const struct iovec *iov, unsigned n, uint32_t len)
{
	/* The guest may only send what we announced room for. */
	if (len > VSOCK_BUF_SIZE - (c->rx_cnt - c->fwd_cnt))
		return -ENOBUFS;
	c->rx_cnt += len;
	uint32_t done = 0;
	if (c->buf_len == 0 && len) {
		/* Straight from guest memory to the socket. */
		struct msghdr m = { .msg_iov = (struct iovec *)iov, .msg_iovlen = n };
		ssize_t w;
		do
			w = sendmsg(c->fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
		while (w < 0 && errno == EINTR);
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		done = w > 0 ? (uint32_t)w : 0;
		c->fwd_cnt += done;
	}
	if (done == len)
		return 0;
	if (!c->buf && !(c->buf = malloc(VSOCK_BUF_SIZE)))
		return -ENOMEM;
	/* The credit check above guarantees the rest fits. */
	uint32_t rest = len - done, pos = (c->buf_head + c->buf_len) % VSOCK_BUF_SIZE;
	uint32_t first = VSOCK_BUF_SIZE - pos < rest ? VSOCK_BUF_SIZE - pos : rest;
	viov_to_buf(iov, n, done, c->buf + pos, first);
	viov_to_buf(iov, n, done + first, c->buf, rest - first);
	c->buf_len += rest;
	return 0;
}

void vsock_conn_progress(struct vsock_conn *c)
{
	if (c->state != VC_ESTABLISHED)
		return;
	if (c->buf_len == 0) {
		/* 5.10.6.5: after the guest's SHUTDOWN of both directions
		 * (and its data delivered) the peer answers with RST. */
		if (c->peer_shut_send && c->peer_shut_rcv) {
			vsock_conn_reset(c);
			return;
		}
		if (c->peer_shut_send && !c->shut_wr_done) {
			shutdown(c->fd, SHUT_WR);
			c->shut_wr_done = true;
		}
	}
	uint32_t unannounced = c->fwd_cnt - c->fwd_told;
	uint32_t free_seen = VSOCK_BUF_SIZE - (c->rx_cnt - c->fwd_told);
	if (unannounced && (unannounced >= VSOCK_CREDIT_THRESHOLD ||
			    free_seen < VSOCK_CREDIT_THRESHOLD))
		vsock_conn_pend(c, VC_PEND_CREDIT_UPDATE);
}

int vsock_conn_established(struct vsock_conn *c)
{
	char ok[32];
	int n = snprintf(ok, sizeof(ok), "OK %u\n", c->local_port);
	c->state = VC_ESTABLISHED;
	/* The socket's buffer is empty at this point: it fits or the host
	 * end is gone. */
	return send(c->fd, ok, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) == n ? 0 : -EIO;
}

/* A host connection's first line: "CONNECT <port>\n". Only what belongs to
 * the line is consumed; data after it stays for the guest. */
static bool vc_read_line(struct vsock_conn *c)
{
	struct vsock *vs = c->vs;
	unsigned room = VSOCK_CONNECT_LINE_MAX - 1 - c->line_len;
	ssize_t n = recv(c->fd, c->line + c->line_len, room, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	if (n <= 0)
		return false;
	char *nl = memchr(c->line + c->line_len, '\n', (size_t)n);
	size_t take = nl ? (size_t)(nl - (c->line + c->line_len)) + 1 : (size_t)n;
	if (recv(c->fd, c->line + c->line_len, take, MSG_DONTWAIT) != (ssize_t)take)
		return false;
	c->line_len += (unsigned)take;
	if (!nl)
		return c->line_len < VSOCK_CONNECT_LINE_MAX - 1;
	c->line[c->line_len - 1] = '\0';
	char *end;
	if (strncmp(c->line, "CONNECT ", 8) || c->line[8] < '0' || c->line[8] > '9')
		return false;
	errno = 0;
	unsigned long port = strtoul(c->line + 8, &end, 10);
	if (errno || *end || port > UINT32_MAX)
		return false;
	/* A free local port: from 2^30 up, wrapping inside that range. */
	uint32_t lp;
	do {
		lp = vs->next_local_port++;
		if (vs->next_local_port < VSOCK_LOCAL_PORT_FIRST)
			vs->next_local_port = VSOCK_LOCAL_PORT_FIRST;
	} while (vsock_conn_find(vs, lp, (uint32_t)port));
	c->local_port = lp;
	c->peer_port = (uint32_t)port;
	vc_hash_add(c);
	c->state = VC_LOCAL_INIT;
	vsock_conn_pend(c, VC_PEND_REQUEST);
	return true;
}

static void vc_on_event(struct vhub_watch *w, uint32_t events)
{
	struct vsock_conn *c = w->opaque;
	struct vsock *vs = c->vs;
	if (!virtio_dev_enter(&vs->vd)) {
		virtio_dev_leave(&vs->vd);
		return;
	}
	if (events & (EPOLLHUP | EPOLLERR))
		c->host_hup = true;
	if (c->state == VC_CONNECT_LINE) {
		if (!vc_read_line(c)) {
			vs->stats.conns_refused++;
			log_ratelimited(LOG_WARN, "virtio-vsock: host connection without a valid "
						  "\"CONNECT <port>\" line, closed");
			vsock_conn_free(c);
			c = NULL;
		}
	} else if (c->state == VC_ESTABLISHED) {
		if ((events & EPOLLOUT) && !vc_flush(c))
			vsock_conn_reset(c);
		else if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			vsock_conn_pend(c, VC_PEND_DATA);
	}
	if (c) {
		vsock_conn_progress(c);
		vsock_conn_update_watch(c);
	}
	vsock_rx_run(vs);
	virtio_dev_leave(&vs->vd);
}

void vsock_listen_resume(struct vsock *vs)
{
	if (!vs->listen_paused)
		return;
	vs->listen_paused = false;
	if (vhub_add(vs->vd.hub, &vs->listen_w, vs->listen_fd, EPOLLIN, vsock_on_listen, vs) < 0)
		vs->listen_paused = true; /* the next chance tries again */
}

/* accept4 failed with errno. */
static void vc_accept_failed(struct vsock *vs)
{
	if (errno != EMFILE && errno != ENFILE && errno != ENOBUFS && errno != ENOMEM)
		return;
	/* The connection stays queued and the listener readable: watched,
	 * it would wake us for nothing, again and again. */
	log_ratelimited(LOG_WARN, "virtio-vsock: cannot accept host connections: %s",
			strerror(errno));
	vhub_del(vs->vd.hub, &vs->listen_w);
	vs->listen_paused = true;
}

void vsock_on_listen(struct vhub_watch *w, uint32_t events)
{
	(void)events;
	struct vsock *vs = w->opaque;
	if (!virtio_dev_enter(&vs->vd)) {
		virtio_dev_leave(&vs->vd);
		return;
	}
	/* A bounded batch per wake-up; the listener stays readable if more. */
	for (int i = 0; i < 16; i++) {
		int fd = accept4(vs->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			vc_accept_failed(vs);
			break;
		}
		/* Over the cap, closing it at once is the refusal. */
		if (!vsock_conn_room(vs)) {
			close(fd);
			continue;
		}
		struct vsock_conn *c = vc_new(vs, fd, VC_CONNECT_LINE);
		if (!c) {
			vs->stats.conns_refused++;
			close(fd);
			continue;
		}
		/* Watched here, not by vsock_conn_update_watch: a connection
		 * with no guest side yet has nothing to reset, it just goes. */
		if (vhub_add(vs->vd.hub, &c->w, fd, EPOLLIN, vc_on_event, c) < 0) {
			vs->stats.conns_refused++;
			log_ratelimited(LOG_WARN, "virtio-vsock: cannot watch a host connection");
			vsock_conn_free(c);
		}
	}
	virtio_dev_leave(&vs->vd);
}
