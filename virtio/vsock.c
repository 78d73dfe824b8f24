/* virtio-vsock device: packets on the TX queue (guest -> host) and the RX
 * queue (host -> guest), virtio 1.2 section 5.10.6. Connections and the
 * host sockets are in vsock_conn.c. */
#include "virtio/vsock.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/virtio_ids.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "config/config.h"
#include "runtime/base/log.h"
#include "virtio/iov.h"
#include "virtio/vsock_int.h"

void vsock_orphan_rst(struct vsock *vs, uint32_t local_port, uint32_t peer_port)
{
	if (vs->nr_orphans == VSOCK_MAX_ORPHAN_RST) {
		/* The guest is not giving us RX buffers; it will time out. */
		vs->stats.rsts_dropped++;
		return;
	}
	vs->orphans[vs->nr_orphans++] = (struct vsock_orphan){ local_port, peer_port };
}

/* Picks what to send for c into h (payload read straight into the chain).
 * Returns true if a packet was built. */
static bool vsock_rx_conn(struct vsock *vs, struct vsock_conn *c, struct virtio_vsock_hdr *h)
{
	const struct virtq_chain *ch = &vs->chain;
	unsigned p = c->pending;
	if (p & VC_PEND_RST) {
		h->op = VIRTIO_VSOCK_OP_RST;
		c->pending = 0;
	} else if (p & VC_PEND_REQUEST) {
		h->op = VIRTIO_VSOCK_OP_REQUEST;
		c->pending &= ~(unsigned)VC_PEND_REQUEST;
	} else if (p & VC_PEND_RESPONSE) {
		h->op = VIRTIO_VSOCK_OP_RESPONSE;
		c->pending &= ~(unsigned)VC_PEND_RESPONSE;
	} else if (p & VC_PEND_CREDIT_UPDATE) {
		h->op = VIRTIO_VSOCK_OP_CREDIT_UPDATE;
		c->pending &= ~(unsigned)VC_PEND_CREDIT_UPDATE;
	} else if (p & VC_PEND_CREDIT_REQUEST) {
		h->op = VIRTIO_VSOCK_OP_CREDIT_REQUEST;
		c->pending &= ~(unsigned)VC_PEND_CREDIT_REQUEST;
	} else if (p & VC_PEND_DATA) {
		c->pending &= ~(unsigned)VC_PEND_DATA;
		if (c->state != VC_ESTABLISHED || c->host_eof)
			return false;
		if (c->peer_shut_rcv) {
			/* The guest takes no more data; a host that hung up
			 * ends the connection. */
			if (c->host_hup)
				vsock_conn_reset(c);
			return false;
		}
		uint32_t credit = vsock_conn_peer_credit(c);
		if (credit == 0) {
			/* Ask once; the guest's answer re-arms the socket. */
			if (c->credit_requested)
				return false;
			c->credit_requested = true;
			h->op = VIRTIO_VSOCK_OP_CREDIT_REQUEST;
		} else {
			uint32_t max = ch->in_len - VSOCK_HDR_LEN;
			if (max > credit)
				max = credit;
			if (max > VSOCK_MAX_PKT)
				max = VSOCK_MAX_PKT;
			if (max == 0) {
				/* A buffer with no room for data: say something
				 * harmless in it and keep the data for the next. */
				c->pending |= VC_PEND_DATA;
				h->op = VIRTIO_VSOCK_OP_CREDIT_UPDATE;
				goto fill;
			}
			unsigned n = viov_slice(ch->iov + ch->nr_out, ch->nr_in, VSOCK_HDR_LEN, max,
						vs->iov, VIRTQ_MAX_SIZE);
			ssize_t r = readv(c->fd, vs->iov, (int)n);
			if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
				return false;
			if (r < 0) {
				vsock_conn_reset(c);
				return false;
			}
			if (r == 0) {
				/* Host end closed: no more either way (5.10.6.5). */
				c->host_eof = true;
				h->op = VIRTIO_VSOCK_OP_SHUTDOWN;
				h->flags = VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND;
			} else {
				h->op = VIRTIO_VSOCK_OP_RW;
				h->len = (uint32_t)r;
				c->tx_cnt += (uint32_t)r;
				/* Maybe more waiting: served again in turn. */
				c->pending |= VC_PEND_DATA;
			}
		}
	} else if (p & VC_PEND_SHUTDOWN) {
		h->op = VIRTIO_VSOCK_OP_SHUTDOWN;
		h->flags = VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND;
		c->pending &= ~(unsigned)VC_PEND_SHUTDOWN;
	} else {
		return false;
	}
fill:
	h->src_port = c->local_port;
	h->dst_port = c->peer_port;
	h->fwd_cnt = c->fwd_cnt;
	c->fwd_told = c->fwd_cnt;
	return true;
}

/* The event after a restore (vsock.h): into the first event buffer with
 * room; without one, the guest's next notify of any queue tries again. */
static void vsock_send_reset_event(struct vsock *vs)
{
	struct virtq *vq = &vs->vd.vqs[VSOCK_EVQ];
	struct virtq_chain *ch = &vs->chain;
	bool pushed = false;
	while (vs->reset_event_due) {
		int r = virtq_pop(vq, ch);
		if (r == 0 && virtq_enable_notify(vq))
			continue;
		if (r != 1)
			break;
		struct virtio_vsock_event ev = { .id = VIRTIO_VSOCK_EVENT_TRANSPORT_RESET };
		pushed = true;
		if (ch->in_len < sizeof(ev)) {
			vs->stats.malformed++;
			virtq_push(vq, ch->head, 0);
			continue;
		}
		viov_from_buf(ch->iov + ch->nr_out, ch->nr_in, 0, &ev, sizeof(ev));
		virtq_push_chain(vq, ch, sizeof(ev));
		vs->reset_event_due = false;
	}
	if (pushed)
		virtio_dev_signal_used(&vs->vd, VSOCK_EVQ);
}

void vsock_rx_run(struct vsock *vs)
{
	/* Nothing reaches the guest before it has reset its old connections. */
	if (vs->reset_event_due)
		vsock_send_reset_event(vs);
	struct virtq *vq = &vs->vd.vqs[VSOCK_RXQ];
	struct virtq_chain *ch = &vs->chain;
	bool pushed = false;
	while (vs->nr_orphans || vs->rxq_head) {
		int r = virtq_pop(vq, ch);
		if (r == 0 && virtq_enable_notify(vq))
			continue;
		if (r != 1)
			break; /* no buffers: the guest's next RX notify resumes us */
		if (ch->in_len < VSOCK_HDR_LEN) {
			vs->stats.malformed++;
			virtq_push(vq, ch->head, 0);
			pushed = true;
			continue;
		}
		struct virtio_vsock_hdr h = {
			.src_cid = VSOCK_HOST_CID,
			.dst_cid = vs->guest_cid,
			.type = VIRTIO_VSOCK_TYPE_STREAM,
			.buf_alloc = VSOCK_BUF_SIZE,
		};
		bool built;
		struct vsock_conn *c = NULL;
		if (vs->nr_orphans) {
			struct vsock_orphan o = vs->orphans[--vs->nr_orphans];
			h.op = VIRTIO_VSOCK_OP_RST;
			h.src_port = o.local_port;
			h.dst_port = o.peer_port;
			built = true;
		} else {
			c = vs->rxq_head;
			vs->rxq_head = c->rxq_next;
			if (!vs->rxq_head)
				vs->rxq_tail = NULL;
			c->in_rxq = false;
			built = vsock_rx_conn(vs, c, &h);
		}
		if (!built) {
			if (virtq_unpop(vq) < 0) /* cannot fail right after a pop */
				virtq_push(vq, ch->head, 0);
		} else {
			viov_from_buf(ch->iov + ch->nr_out, ch->nr_in, 0, &h, sizeof(h));
			virtq_push_chain(vq, ch, VSOCK_HDR_LEN + h.len);
			pushed = true;
			vs->stats.rx_packets++;
			vs->stats.rx_bytes += h.len;
			if (h.op == VIRTIO_VSOCK_OP_RST)
				vs->stats.rsts_sent++;
		}
		if (!c)
			continue;
		if (built && h.op == VIRTIO_VSOCK_OP_RST) {
			vsock_conn_free(c);
			continue;
		}
		if (c->pending)
			vsock_conn_pend(c, 0);
		vsock_conn_update_watch(c);
	}
	if (pushed)
		virtio_dev_signal_used(&vs->vd, VSOCK_RXQ);
}

/* One guest packet for a known connection. */
static void vsock_tx_conn(struct vsock *vs, struct vsock_conn *c,
			  const struct virtio_vsock_hdr *h)
{
	if (c->state == VC_CLOSING)
		return; /* an RST is on its way; nothing else matters */
	if (h->op == VIRTIO_VSOCK_OP_RST) {
		vsock_conn_free(c);
		return;
	}
	/* Every packet carries the guest's view of its buffer (5.10.6.3). */
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	if (vsock_conn_peer_credit(c) > 0)
		c->credit_requested = false;
	switch (h->op) {
	case VIRTIO_VSOCK_OP_RESPONSE:
		if (c->state != VC_LOCAL_INIT || vsock_conn_established(c) < 0)
			vsock_conn_reset(c);
		break;
	case VIRTIO_VSOCK_OP_RW: {
		if (c->state != VC_ESTABLISHED || c->peer_shut_send) {
			vsock_conn_reset(c);
			break;
		}
		const struct virtq_chain *ch = &vs->chain;
		unsigned n = viov_slice(ch->iov, ch->nr_out, VSOCK_HDR_LEN, h->len, vs->iov,
					VIRTQ_MAX_SIZE);
		int r = vsock_conn_send(c, vs->iov, n, h->len);
		if (r == -ENOBUFS) {
			vs->stats.credit_violations++;
			log_ratelimited(LOG_WARN, "virtio-vsock: guest port %u sent past its credit, "
						  "connection reset", c->peer_port);
		}
		if (r < 0)
			vsock_conn_reset(c);
		else
			vs->stats.tx_bytes += h->len;
		break;
	}
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		if (h->flags & VIRTIO_VSOCK_SHUTDOWN_RCV)
			c->peer_shut_rcv = true;
		if (h->flags & VIRTIO_VSOCK_SHUTDOWN_SEND)
			c->peer_shut_send = true;
		break;
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
		break;
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		vsock_conn_pend(c, VC_PEND_CREDIT_UPDATE);
		break;
	default: /* REQUEST on an existing connection, or nonsense */
		vsock_conn_reset(c);
	}
	if (c->state == VC_ESTABLISHED) {
		vsock_conn_progress(c);
		vsock_conn_update_watch(c);
	}
}

static void vsock_tx_packet(struct vsock *vs)
{
	const struct virtq_chain *ch = &vs->chain;
	struct virtio_vsock_hdr h;
	if (ch->out_len < VSOCK_HDR_LEN) {
		vs->stats.malformed++;
		return;
	}
	viov_to_buf(ch->iov, ch->nr_out, 0, &h, sizeof(h));
	/* Only the guest's own CID to the host; a length the buffers hold. */
	if (h.src_cid != vs->guest_cid || h.dst_cid != VSOCK_HOST_CID ||
	    h.len > ch->out_len - VSOCK_HDR_LEN || h.len > VSOCK_MAX_PKT ||
	    (h.op != VIRTIO_VSOCK_OP_RW && h.len)) {
		vs->stats.malformed++;
		log_ratelimited(LOG_WARN, "virtio-vsock: bad packet (cid %" PRIu64 " -> %" PRIu64
					  ", op %u, len %u of %u), dropped",
				(uint64_t)h.src_cid, (uint64_t)h.dst_cid, h.op, h.len,
				ch->out_len - VSOCK_HDR_LEN);
		return;
	}
	vs->stats.tx_packets++;
	struct vsock_conn *c = vsock_conn_find(vs, h.dst_port, h.src_port);
	if (h.type != VIRTIO_VSOCK_TYPE_STREAM) {
		/* No SEQPACKET (not offered): refuse whatever it is. */
		if (h.op != VIRTIO_VSOCK_OP_RST)
			vsock_orphan_rst(vs, h.dst_port, h.src_port);
		return;
	}
	if (c) {
		vsock_tx_conn(vs, c, &h);
		return;
	}
	if (h.op == VIRTIO_VSOCK_OP_REQUEST) {
		c = vsock_conn_connect(vs, h.dst_port, h.src_port);
		if (c) {
			c->peer_buf_alloc = h.buf_alloc;
			c->peer_fwd_cnt = h.fwd_cnt;
			vsock_conn_pend(c, VC_PEND_RESPONSE);
			vsock_conn_update_watch(c);
			return;
		}
	}
	if (h.op != VIRTIO_VSOCK_OP_RST)
		vsock_orphan_rst(vs, h.dst_port, h.src_port);
}

static void vsock_notify(struct virtio_dev *vd, unsigned q)
{
	struct vsock *vs = (struct vsock *)vd;
	/* Fds may have come free elsewhere in the process meanwhile. */
	vsock_listen_resume(vs);
	/* Before any packet, so that new connections are not reset too. */
	if (vs->reset_event_due)
		vsock_send_reset_event(vs);
	if (q == VSOCK_TXQ) {
		struct virtq *vq = &vd->vqs[VSOCK_TXQ];
		do {
			while (virtq_pop(vq, &vs->chain) == 1) {
				/* Payload goes out before the buffer is given back. */
				vsock_tx_packet(vs);
				virtq_push(vq, vs->chain.head, 0);
			}
		} while (virtq_enable_notify(vq));
		virtio_dev_signal_used(vd, VSOCK_TXQ);
	}
	/* New RX buffers, or replies the TX packets asked for. The event
	 * queue is only used after a snapshot restore (above). */
	vsock_rx_run(vs);
}

static int vsock_activate(struct virtio_dev *vd)
{
	struct vsock *vs = (struct vsock *)vd;
	vs->next_local_port = VSOCK_LOCAL_PORT_FIRST;
	vs->listen_paused = false;
	return vhub_add(vd->hub, &vs->listen_w, vs->listen_fd, EPOLLIN, vsock_on_listen, vs);
}

static void vsock_reset(struct virtio_dev *vd)
{
	struct vsock *vs = (struct vsock *)vd;
	/* First: freeing connections must not make it watch the listener. */
	vs->listen_paused = false;
	vhub_del(vd->hub, &vs->listen_w);
	vsock_conn_free_all(vs);
	vs->nr_orphans = 0;
	/* A driver starting over has no connections left to reset. */
	vs->reset_event_due = false;
}

static void vsock_counters(const struct virtio_dev *vd, device_counter_fn fn, void *ctx)
{
	const struct vsock_stats *s = vsock_stats(vd);
	fn(ctx, "rx_packets_count", s->rx_packets);
	fn(ctx, "rx_bytes_count", s->rx_bytes);
	fn(ctx, "tx_packets_count", s->tx_packets);
	fn(ctx, "tx_bytes_count", s->tx_bytes);
	fn(ctx, "conns_added", s->conns_opened);
	fn(ctx, "conns_removed", s->conns_closed);
	fn(ctx, "conn_event_fails", s->conns_refused);
	fn(ctx, "ember_conns_over_limit", s->conns_over_limit);
	fn(ctx, "ember_rsts_dropped", s->rsts_dropped);
	fn(ctx, "ember_credit_violations", s->credit_violations);
	fn(ctx, "ember_rsts_sent", s->rsts_sent);
	fn(ctx, "ember_malformed", s->malformed);
}

static void vsock_destroy(struct virtio_dev *vd)
{
	struct vsock *vs = (struct vsock *)vd;
	if (vs->listen_fd >= 0) {
		close(vs->listen_fd);
		unlink(vs->uds_path); /* ours: we bound it */
	}
	free(vs->uds_path);
	free(vs);
}

_Static_assert(sizeof(struct vsock_state) == 16, "vsock_state must have no padding");

static int vsock_save(struct virtio_dev *vd, void *buf, size_t len)
{
	const struct vsock *vs = (const struct vsock *)vd;
	struct vsock_state st = { .version = VSOCK_STATE_VERSION, .guest_cid = vs->guest_cid };
	if (len < sizeof(st))
		return -ENOSPC;
	memcpy(buf, &st, sizeof(st));
	return (int)sizeof(st);
}

static int vsock_restore(struct virtio_dev *vd, const void *buf, size_t len)
{
	struct vsock *vs = (struct vsock *)vd;
	struct vsock_state st;
	if (len != sizeof(st))
		return -EINVAL;
	memcpy(&st, buf, sizeof(st));
	if (st.version != VSOCK_STATE_VERSION || st.reserved)
		return -EINVAL;
	/* The guest addresses its packets with this CID; the config (and so
	 * the device) must still say the same. */
	if (st.guest_cid != vs->guest_cid) {
		log_warn("virtio-vsock: snapshot guest CID %" PRIu64 ", configured %" PRIu64,
			 st.guest_cid, vs->guest_cid);
		return -EINVAL;
	}
	vs->reset_event_due = true;
	return 0;
}

static const struct virtio_dev_ops vsock_ops = {
	.activate = vsock_activate,
	.reset = vsock_reset,
	.queue_notify = vsock_notify,
	.counters = vsock_counters,
	.save = vsock_save,
	.restore = vsock_restore,
	.destroy = vsock_destroy,
};

int vsock_create(const struct config_vsock *cfg, struct virtio_dev **out, struct errbuf *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	/* Room for "_<port>" too: the guest's connections need it. */
	if (!cfg->uds_path || strlen(cfg->uds_path) + 11 >= sizeof(sa.sun_path))
		return err_set(err, -ENAMETOOLONG, "uds_path must be 1..%zu bytes",
			       sizeof(sa.sun_path) - 12);
	struct vsock *vs = calloc(1, sizeof(*vs));
	if (!vs || !(vs->uds_path = strdup(cfg->uds_path))) {
		free(vs);
		return err_set(err, -ENOMEM, "virtio-vsock: out of memory");
	}
	vs->guest_cid = cfg->guest_cid;
	vs->max_conns = vsock_conn_limit(cfg->max_connections);
	memcpy(vs->config, &vs->guest_cid, sizeof(vs->config)); /* 5.10.4: le64 guest_cid */
	vs->listen_w.fd = -1;
	strcpy(sa.sun_path, cfg->uds_path);
	vs->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int r = 0;
	if (vs->listen_fd < 0 || bind(vs->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		err_set(err, r, "%s: %s%s", cfg->uds_path, strerror(-r),
			r == -EADDRINUSE ? " (remove the stale socket first)" : "");
		if (vs->listen_fd >= 0)
			close(vs->listen_fd);
		vs->listen_fd = -1;
		vsock_destroy(&vs->vd);
		return r;
	}
	if (listen(vs->listen_fd, 128) < 0) {
		r = -errno;
		err_set(err, r, "%s: listen: %s", cfg->uds_path, strerror(-r));
		vsock_destroy(&vs->vd);
		return r;
	}
	vs->vd = (struct virtio_dev){
		.name = "virtio-vsock",
		.device_id = VIRTIO_ID_VSOCK,
		.ops = &vsock_ops,
		.features = VIRTIO_FEAT_VERSION_1 | VIRTIO_FEAT_EVENT_IDX | VIRTIO_FEAT_INDIRECT_DESC,
		.nr_queues = 3,
		.queue_max = VSOCK_QUEUE_SIZE,
		.config = vs->config,
		.config_len = sizeof(vs->config),
	};
	*out = &vs->vd;
	return 0;
}

const struct vsock_stats *vsock_stats(const struct virtio_dev *vd)
{
	return &((const struct vsock *)vd)->stats;
}

unsigned vsock_max_conns(const struct virtio_dev *vd)
{
	return ((const struct vsock *)vd)->max_conns;
}
