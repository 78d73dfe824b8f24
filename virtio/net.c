#include "virtio/net.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include "config/config.h"
#include "mmds/stack.h"
#include "runtime/base/log.h"
#include "virtio/iov.h"

#define VNET_QUEUE_SIZE 256
#define VNET_RXQ 0
#define VNET_TXQ 1
#define VNET_HDR_LEN ((uint32_t)sizeof(struct virtio_net_hdr_v1)) /* 12 with VERSION_1 */
/* Frames: Ethernet with a VLAN tag (Linux's GOOD_PACKET_LEN) at the
 * default MTU, the MTU offered plus that header otherwise, or up to 64 KiB
 * of GSO payload plus headers with TSO (5.1.6.3). */
#define VNET_MAX_FRAME 1518u
#define VNET_ETH_VLAN_HLEN 18u
#define VNET_MAX_GSO_FRAME 65550u
#define VNET_MIN_FRAME 14u
/* Chains gathered for one mergeable RX frame; iovecs for one readv. */
#define VNET_RX_MAX_CHAINS 64
#define VNET_RX_MAX_IOV 1024
/* Frames per wake-up before giving other devices a turn. */
#define VNET_BUDGET 256

struct vnet {
	struct virtio_dev vd; /* first: the transport hands us this pointer */
	char name[64];
	int fd;
	bool is_tap;
	bool rx_blocked; /* waiting for the guest to post RX buffers */
	struct vhub_watch w;
	/* TX batching (vnet_set_tx_batch): while frames keep coming, the
	 * driver is asked not to notify and a timer brings the VMM thread
	 * back every tx_batch_ns instead. -1 / 0: off. */
	int tx_timer;
	struct vhub_watch tx_w;
	uint32_t tx_batch_ns;
	uint8_t config[12]; /* mac[6], status, max_virtqueue_pairs, mtu (5.1.4) */
	uint32_t max_frame; /* without GSO: VNET_MAX_FRAME or the MTU's */
	struct virtq_chain chain;
	struct iovec iov[VNET_RX_MAX_IOV];
	uint64_t iov_gpa[VNET_RX_MAX_IOV];
	uint16_t rx_head[VNET_RX_MAX_CHAINS];
	uint16_t rx_iov[VNET_RX_MAX_CHAINS + 1]; /* chain i: iov[rx_iov[i]..rx_iov[i + 1]) */
	uint32_t rx_len[VNET_RX_MAX_CHAINS];
	struct vnet_stats stats;
	/* MMDS on this interface (vnet_enable_mmds): frames to its address go
	 * there instead of the TAP; its answers come before the TAP's frames. */
	struct mmds_stack *mmds;
	uint8_t *mmds_frame; /* one guest frame, linearised (max TX size) */
};

static bool vnet_has(const struct vnet *n, unsigned bit)
{
	return virtio_dev_has(&n->vd, VIRTIO_BIT(bit));
}

static void vnet_on_tap(struct vhub_watch *w, uint32_t events);
static bool vnet_rx(struct vnet *n);

static void vnet_update_watch(struct vnet *n)
{
	uint32_t ev = n->rx_blocked ? 0 : EPOLLIN;
	if (!ev)
		vhub_del(n->vd.hub, &n->w);
	else if (n->w.fd < 0 && vhub_add(n->vd.hub, &n->w, n->fd, ev, vnet_on_tap, n) < 0)
		log_ratelimited(LOG_ERROR, "%s: cannot watch the TAP", n->name);
}

/* --- guest -> TAP --- */

/* 5.1.6.2.1: what the driver may ask of us depends on what it negotiated. */
static bool vnet_tx_hdr_ok(const struct vnet *n, const struct virtio_net_hdr_v1 *h)
{
	if (h->flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM)
		return false;
	if ((h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && !vnet_has(n, VIRTIO_NET_F_CSUM))
		return false;
	switch (h->gso_type) {
	case VIRTIO_NET_HDR_GSO_NONE:
		return true;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		return vnet_has(n, VIRTIO_NET_F_HOST_TSO4) && h->gso_size;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		return vnet_has(n, VIRTIO_NET_F_HOST_TSO6) && h->gso_size;
	default: /* UFO, ECN: not offered */
		return false;
	}
}

/* A frame for MMDS goes to it and never to the TAP. Only the first bytes
 * are copied to decide; the frame is copied whole only if it is MMDS's. */
static bool vnet_tx_mmds(struct vnet *n, const struct virtq_chain *c)
{
	uint8_t peek[42];
	size_t len = c->out_len - VNET_HDR_LEN;
	size_t k = viov_to_buf(c->iov, c->nr_out, VNET_HDR_LEN, peek, sizeof(peek));
	if (!mmds_stack_wants(n->mmds, peek, k))
		return false;
	viov_to_buf(c->iov, c->nr_out, VNET_HDR_LEN, n->mmds_frame, len);
	mmds_stack_input(n->mmds, n->mmds_frame, len);
	return true;
}

static void vnet_tx_one(struct vnet *n, const struct virtq_chain *c)
{
	struct virtio_net_hdr_v1 h;
	uint32_t max = VNET_HDR_LEN + (vnet_has(n, VIRTIO_NET_F_HOST_TSO4) ||
						   vnet_has(n, VIRTIO_NET_F_HOST_TSO6)
					       ? VNET_MAX_GSO_FRAME
					       : n->max_frame);
	if (c->out_len < VNET_HDR_LEN + VNET_MIN_FRAME || c->out_len > max) {
		n->stats.tx_dropped++;
		log_ratelimited(LOG_WARN, "%s: TX frame of %u bytes dropped", n->name, c->out_len);
		return;
	}
	viov_to_buf(c->iov, c->nr_out, 0, &h, sizeof(h));
	if (!vnet_tx_hdr_ok(n, &h)) {
		n->stats.tx_dropped++;
		log_ratelimited(LOG_WARN, "%s: TX header (flags 0x%x, gso %u) not negotiated, dropped",
				n->name, h.flags, h.gso_type);
		return;
	}
	if (n->mmds && vnet_tx_mmds(n, c))
		return;
	/* Straight from guest memory; the TAP reads the header itself. */
	ssize_t w;
	do
		w = writev(n->fd, c->iov, (int)c->nr_out);
	while (w < 0 && errno == EINTR);
	if (w < 0) {
		n->stats.tx_dropped++;
		log_ratelimited(LOG_WARN, "%s: TAP write: %s", n->name, strerror(errno));
		return;
	}
	n->stats.tx_packets++;
	n->stats.tx_bytes += c->out_len - VNET_HDR_LEN;
}

/* Arms the TX timer; false if there is none (batching off, or the
 * transport's notifications cost no exit) or it cannot be armed. */
static bool vnet_tx_defer(struct vnet *n)
{
	if (n->tx_timer < 0)
		return false;
	struct itimerspec its = { .it_value = { 0, (long)n->tx_batch_ns } };
	return timerfd_settime(n->tx_timer, 0, &its, NULL) == 0;
}

static void vnet_tx(struct vnet *n)
{
	struct virtq *vq = &n->vd.vqs[VNET_TXQ];
	unsigned sent = 0;
	while (virtq_pop(vq, &n->chain) == 1) {
		vnet_tx_one(n, &n->chain);
		virtq_push(vq, n->chain.head, 0);
		sent++;
	}
	/* Frames are flowing: let the driver queue the next ones without a
	 * notification each (an exit of the guest CPU, a wake-up of this
	 * thread) and take them in one pass when the timer fires. A pass that
	 * finds nothing turns notifications back on. */
	if (sent && vnet_tx_defer(n)) {
		virtq_disable_notify(vq);
	} else {
		while (virtq_enable_notify(vq)) {
			while (virtq_pop(vq, &n->chain) == 1) {
				vnet_tx_one(n, &n->chain);
				virtq_push(vq, n->chain.head, 0);
			}
		}
	}
	virtio_dev_signal_used(&n->vd, VNET_TXQ);
	/* MMDS may have answers now. */
	if (n->mmds && !n->rx_blocked && mmds_stack_pending(n->mmds)) {
		vnet_rx(n);
		vnet_update_watch(n);
	}
}

static void vnet_on_tx_timer(struct vhub_watch *w, uint32_t events)
{
	(void)events;
	struct vnet *n = w->opaque;
	uint64_t ticks;
	ssize_t r = read(n->tx_timer, &ticks, sizeof(ticks));
	(void)r;
	if (virtio_dev_enter(&n->vd))
		vnet_tx(n);
	virtio_dev_leave(&n->vd);
}

/* --- TAP -> guest --- */

/* Tells the written hook about gathered chain i, all of its writable part:
 * readv's spread is not worth tracking. */
static void vnet_rx_report(struct vnet *n, unsigned i)
{
	for (unsigned j = n->rx_iov[i]; j < n->rx_iov[i + 1]; j++)
		virtq_report_written(&n->vd.vqs[VNET_RXQ], n->iov_gpa[j], n->iov[j].iov_len);
}

/* Gives gathered chains [from, to) back for the next frame, newest first.
 * Those virtq_unpop refuses (a malformed entry the guest placed between
 * them was completed already) go back to the guest empty instead of
 * being lost. */
static void vnet_rx_giveback(struct vnet *n, unsigned from, unsigned to)
{
	struct virtq *vq = &n->vd.vqs[VNET_RXQ];
	while (to > from) {
		if (virtq_unpop(vq) == 0) {
			to--;
			continue;
		}
		for (unsigned i = from; i < to; i++) {
			vnet_rx_report(n, i);
			virtq_push(vq, n->rx_head[i], 0);
		}
		return;
	}
}

/* Gathers guest buffers for one frame into n->iov. Returns the number of
 * chains taken (0: none or not enough; they were given back). */
static unsigned vnet_rx_gather(struct vnet *n, unsigned *nr_iov)
{
	struct virtq *vq = &n->vd.vqs[VNET_RXQ];
	bool mrg = vnet_has(n, VIRTIO_NET_F_MRG_RXBUF);
	bool gso = vnet_has(n, VIRTIO_NET_F_GUEST_TSO4) || vnet_has(n, VIRTIO_NET_F_GUEST_TSO6);
	uint32_t need = VNET_HDR_LEN + (gso ? VNET_MAX_GSO_FRAME : n->max_frame);
	uint32_t space = 0;
	unsigned chains = 0;
	*nr_iov = 0;
	/* Without mergeable buffers one chain holds a whole frame (5.1.6.3.1). */
	while (chains < (mrg ? VNET_RX_MAX_CHAINS : 1u) && space < need) {
		int r = virtq_pop(vq, &n->chain);
		if (r == 0 && virtq_enable_notify(vq))
			continue;
		if (r != 1)
			break;
		struct virtq_chain *c = &n->chain;
		if (c->in_len < VNET_HDR_LEN || *nr_iov + c->nr_in > VNET_RX_MAX_IOV) {
			/* Unusable here: the first gets dropped, else retried. */
			if (chains == 0 && c->in_len < VNET_HDR_LEN) {
				virtq_push(vq, c->head, 0);
				continue;
			}
			if (virtq_unpop(vq) < 0) /* cannot fail right after a pop */
				virtq_push(vq, c->head, 0);
			break;
		}
		memcpy(n->iov + *nr_iov, c->iov + c->nr_out, c->nr_in * sizeof(struct iovec));
		memcpy(n->iov_gpa + *nr_iov, c->gpa + c->nr_out, c->nr_in * sizeof(uint64_t));
		n->rx_iov[chains] = (uint16_t)*nr_iov;
		*nr_iov += c->nr_in;
		n->rx_iov[chains + 1] = (uint16_t)*nr_iov;
		n->rx_head[chains] = c->head;
		n->rx_len[chains] = c->in_len;
		chains++;
		space += c->in_len;
	}
	if (chains && (space >= need || !mrg))
		return chains;
	vnet_rx_giveback(n, 0, chains);
	return 0;
}

/* MMDS's next frame into the gathered buffers, behind a virtio_net_hdr_v1
 * with no offloads (the stack computes its checksums). Returns the bytes
 * written, as readv would; 0 if MMDS had nothing after all. */
static ssize_t vnet_rx_mmds_frame(struct vnet *n, unsigned nr_iov)
{
	uint8_t frame[VNET_HDR_LEN + MMDS_FRAME_MAX];
	memset(frame, 0, VNET_HDR_LEN);
	size_t len = mmds_stack_output(n->mmds, frame + VNET_HDR_LEN);
	if (!len)
		return 0;
	return (ssize_t)viov_from_buf(n->iov, nr_iov, 0, frame, VNET_HDR_LEN + len);
}

/* Reads frames while the guest has room; returns true if any was used. */
static bool vnet_rx(struct vnet *n)
{
	struct virtq *vq = &n->vd.vqs[VNET_RXQ];
	bool pushed = false;
	for (int budget = VNET_BUDGET; budget > 0 && !n->rx_blocked; budget--) {
		unsigned nr_iov;
		unsigned chains = vnet_rx_gather(n, &nr_iov);
		if (!chains) {
			n->rx_blocked = true;
			/* Out of budget is not out of buffers: the transport comes
			 * back to the queue (virtqueue.h). */
			if (!vq->over_budget)
				n->stats.rx_blocked++;
			break;
		}
		ssize_t r;
		if (n->mmds && mmds_stack_pending(n->mmds)) {
			r = vnet_rx_mmds_frame(n, nr_iov);
			if (r == 0) { /* cannot happen after pending; not an EOF */
				vnet_rx_giveback(n, 0, chains);
				break;
			}
		} else {
			do
				r = readv(n->fd, n->iov, (int)nr_iov);
			while (r < 0 && errno == EINTR);
		}
		if (r < (ssize_t)VNET_HDR_LEN) {
			vnet_rx_giveback(n, 0, chains);
			if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
				log_ratelimited(LOG_WARN, "%s: TAP read: %s", n->name, strerror(errno));
			if (r > 0) {
				n->stats.rx_dropped++; /* a runt */
				continue;
			}
			if (r == 0) /* end of file: only a non-TAP fd does that */
				n->rx_blocked = true;
			break;
		}
		/* Hand out the chains the frame filled, give back the rest. */
		uint32_t left = (uint32_t)r;
		uint16_t used = 0;
		for (unsigned i = 0; i < chains && left; i++, used++) {
			uint32_t k = left < n->rx_len[i] ? left : n->rx_len[i];
			left -= k;
		}
		/* 5.1.6.4: num_buffers, 1 without mergeable buffers. */
		viov_from_buf(n->iov, nr_iov, offsetof(struct virtio_net_hdr_v1, num_buffers),
			      &used, sizeof(used));
		vnet_rx_giveback(n, used, chains);
		left = (uint32_t)r;
		for (unsigned i = 0; i < used; i++) {
			uint32_t k = left < n->rx_len[i] ? left : n->rx_len[i];
			vnet_rx_report(n, i);
			virtq_push(vq, n->rx_head[i], k);
			left -= k;
		}
		pushed = true;
		n->stats.rx_packets++;
		n->stats.rx_bytes += (uint64_t)r - VNET_HDR_LEN;
	}
	if (pushed)
		virtio_dev_signal_used(&n->vd, VNET_RXQ);
	return pushed;
}

static void vnet_on_tap(struct vhub_watch *w, uint32_t events)
{
	(void)events;
	struct vnet *n = w->opaque;
	if (virtio_dev_enter(&n->vd)) {
		vnet_rx(n);
		vnet_update_watch(n);
	}
	virtio_dev_leave(&n->vd);
}

static void vnet_notify(struct virtio_dev *vd, unsigned q)
{
	struct vnet *n = (struct vnet *)vd;
	if (q == VNET_TXQ) {
		vnet_tx(n);
		return;
	}
	/* New RX buffers: read what the TAP has been holding. */
	n->rx_blocked = false;
	vnet_rx(n);
	vnet_update_watch(n);
}

static int vnet_set_offload(struct vnet *n, bool on)
{
	if (!n->is_tap)
		return 0;
	unsigned off = 0;
	if (on && vnet_has(n, VIRTIO_NET_F_GUEST_CSUM)) {
		off |= TUN_F_CSUM;
		if (vnet_has(n, VIRTIO_NET_F_GUEST_TSO4))
			off |= TUN_F_TSO4;
		if (vnet_has(n, VIRTIO_NET_F_GUEST_TSO6))
			off |= TUN_F_TSO6;
	}
	if (ioctl(n->fd, TUNSETOFFLOAD, off) < 0) {
		int r = -errno;
		log_warn("%s: TUNSETOFFLOAD 0x%x: %s", n->name, off, strerror(-r));
		return r;
	}
	return 0;
}

static int vnet_activate(struct virtio_dev *vd)
{
	struct vnet *n = (struct vnet *)vd;
	int r = vnet_set_offload(n, true);
	if (r < 0)
		return r;
	n->rx_blocked = false;
	if (n->tx_batch_ns && vd->notify_exits) {
		n->tx_timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (n->tx_timer < 0 ||
		    vhub_add(vd->hub, &n->tx_w, n->tx_timer, EPOLLIN, vnet_on_tx_timer, n) < 0) {
			/* Not fatal: every frame is notified then. */
			log_ratelimited(LOG_WARN, "%s: no TX timer: %s", n->name, strerror(errno));
			if (n->tx_timer >= 0)
				close(n->tx_timer);
			n->tx_timer = -1;
		}
	}
	r = vhub_add(vd->hub, &n->w, n->fd, EPOLLIN, vnet_on_tap, n);
	return r;
}

static void vnet_reset(struct virtio_dev *vd)
{
	struct vnet *n = (struct vnet *)vd;
	vhub_del(vd->hub, &n->w);
	vhub_del(vd->hub, &n->tx_w);
	if (n->tx_timer >= 0)
		close(n->tx_timer);
	n->tx_timer = -1;
	vnet_set_offload(n, false);
}

static void vnet_counters(const struct virtio_dev *vd, device_counter_fn fn, void *ctx)
{
	const struct vnet_stats *s = &((const struct vnet *)vd)->stats;
	fn(ctx, "rx_packets_count", s->rx_packets);
	fn(ctx, "rx_bytes_count", s->rx_bytes);
	fn(ctx, "tx_packets_count", s->tx_packets);
	fn(ctx, "tx_bytes_count", s->tx_bytes);
	fn(ctx, "tx_malformed_frames", s->tx_dropped);
	fn(ctx, "ember_rx_dropped", s->rx_dropped);
	fn(ctx, "ember_rx_blocked", s->rx_blocked);
	const struct mmds_stack *m = ((const struct vnet *)vd)->mmds;
	if (m) {
		fn(ctx, "ember_mmds_frames_in", m->stats.frames_in);
		fn(ctx, "ember_mmds_frames_out", m->stats.frames_out);
		fn(ctx, "ember_mmds_dropped_in", m->stats.dropped_in);
		fn(ctx, "ember_mmds_dropped_out", m->stats.ctl_dropped);
		fn(ctx, "ember_mmds_conns_refused", m->stats.conns_refused);
	}
}

static void vnet_destroy(struct virtio_dev *vd)
{
	struct vnet *n = (struct vnet *)vd;
	if (n->fd >= 0)
		close(n->fd);
	if (n->tx_timer >= 0)
		close(n->tx_timer);
	if (n->mmds)
		mmds_stack_destroy(n->mmds);
	free(n->mmds);
	free(n->mmds_frame);
	free(n);
}

_Static_assert(sizeof(struct vnet_state) == 12, "vnet_state must have no padding");

static void vnet_state_of(const struct vnet *n, struct vnet_state *st)
{
	memset(st, 0, sizeof(*st));
	st->version = VNET_STATE_VERSION;
	st->has_mac = (n->vd.features & VIRTIO_BIT(VIRTIO_NET_F_MAC)) != 0;
	if (st->has_mac)
		memcpy(st->mac, n->config, sizeof(st->mac));
}

static int vnet_save(struct virtio_dev *vd, void *buf, size_t len)
{
	struct vnet_state st;
	if (len < sizeof(st))
		return -ENOSPC;
	vnet_state_of((const struct vnet *)vd, &st);
	memcpy(buf, &st, sizeof(st));
	return (int)sizeof(st);
}

static int vnet_restore(struct virtio_dev *vd, const void *buf, size_t len)
{
	struct vnet_state st, now;
	if (len != sizeof(st))
		return -EINVAL;
	memcpy(&st, buf, sizeof(st));
	/* Everything saved is what this device already is. */
	vnet_state_of((const struct vnet *)vd, &now);
	if (memcmp(&st, &now, sizeof(st))) {
		log_warn("%s: snapshot state (version %u) is not this interface's",
			 ((const struct vnet *)vd)->name, st.version);
		return -EINVAL;
	}
	return 0;
}

static const struct virtio_dev_ops vnet_ops = {
	.activate = vnet_activate,
	.reset = vnet_reset,
	.queue_notify = vnet_notify,
	.counters = vnet_counters,
	.save = vnet_save,
	.restore = vnet_restore,
	.destroy = vnet_destroy,
};

static struct vnet *vnet_new(int fd, const uint8_t *mac, uint16_t mtu, const char *what)
{
	struct vnet *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->fd = fd;
	n->w.fd = -1;
	n->tx_w.fd = -1;
	n->tx_timer = -1;
	snprintf(n->name, sizeof(n->name), "virtio-net %s", what);
	uint64_t f = VIRTIO_FEAT_VERSION_1 | VIRTIO_FEAT_EVENT_IDX | VIRTIO_FEAT_INDIRECT_DESC |
		     VIRTIO_BIT(VIRTIO_NET_F_CSUM) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM) |
		     VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO4) | VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO6) |
		     VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO6) |
		     VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF) | VIRTIO_BIT(VIRTIO_NET_F_STATUS);
	if (mac) {
		f |= VIRTIO_BIT(VIRTIO_NET_F_MAC);
		memcpy(n->config, mac, 6);
	}
	uint16_t status = VIRTIO_NET_S_LINK_UP, pairs = 1;
	memcpy(n->config + 6, &status, 2);
	memcpy(n->config + 8, &pairs, 2);
	n->max_frame = VNET_MAX_FRAME;
	if (mtu) {
		/* The driver sets this MTU on the interface (5.1.4.1). */
		f |= VIRTIO_BIT(VIRTIO_NET_F_MTU);
		memcpy(n->config + 10, &mtu, 2);
		if (mtu + VNET_ETH_VLAN_HLEN > n->max_frame)
			n->max_frame = mtu + VNET_ETH_VLAN_HLEN;
	}
	n->vd = (struct virtio_dev){
		.name = n->name,
		.device_id = VIRTIO_ID_NET,
		.ops = &vnet_ops,
		.features = f,
		.nr_queues = 2,
		.queue_max = VNET_QUEUE_SIZE,
		.config = n->config,
		.config_len = sizeof(n->config),
	};
	return n;
}

int vnet_create_fd(int fd, const uint8_t *mac, uint16_t mtu, struct virtio_dev **out,
		   struct errbuf *err)
{
	struct vnet *n = vnet_new(fd, mac, mtu, "(fd)");
	if (!n) {
		close(fd);
		return err_set(err, -ENOMEM, "virtio-net: out of memory");
	}
	*out = &n->vd;
	return 0;
}

/* The TAP's MTU becomes mtu unless it already is: setting it needs
 * CAP_NET_ADMIN, which a jailed VMM lacks, while reading it does not, so
 * a TAP prepared by whoever made it passes. The ioctls go through any
 * socket; a Unix one needs nothing more from seccomp's socket rules. */
static int vnet_tap_mtu(const char *ifname, uint16_t mtu, struct errbuf *err)
{
	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return err_set(err, -errno, "tap %s: mtu %u: socket: %s", ifname, mtu,
			       strerror(errno));
	struct ifreq ifr = { 0 };
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	int r = 0;
	if (ioctl(s, SIOCGIFMTU, &ifr) < 0 || ifr.ifr_mtu != mtu) {
		ifr.ifr_mtu = mtu;
		if (ioctl(s, SIOCSIFMTU, &ifr) < 0)
			r = err_set(err, -errno, "tap %s: cannot set mtu %u: %s", ifname, mtu,
				    strerror(errno));
	}
	close(s);
	return r;
}

/* Opens the TAP as Firecracker does; the interface must exist or the
 * process must be allowed to create it (CAP_NET_ADMIN). */
static int vnet_open_tap(const char *ifname, uint16_t mtu, struct errbuf *err)
{
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, -errno, "/dev/net/tun: %s", strerror(errno));
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	int hdr = (int)VNET_HDR_LEN;
	const char *what = "TUNSETIFF";
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 || (what = "TUNSETVNETHDRSZ",
					       ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0)) {
		int r = -errno;
		close(fd);
		return err_set(err, r, "tap %s: %s: %s", ifname, what, strerror(-r));
	}
	if (mtu) {
		int r = vnet_tap_mtu(ifname, mtu, err);
		if (r < 0) {
			close(fd);
			return r;
		}
	}
	return fd;
}

int vnet_create(const struct config_net *cfg, struct virtio_dev **out, struct errbuf *err)
{
	int fd = vnet_open_tap(cfg->host_dev_name, cfg->mtu, err);
	if (fd < 0)
		return fd;
	struct vnet *n = vnet_new(fd, cfg->has_guest_mac ? cfg->guest_mac : NULL, cfg->mtu,
				  cfg->iface_id);
	if (!n) {
		close(fd);
		return err_set(err, -ENOMEM, "virtio-net: out of memory");
	}
	n->is_tap = true;
	*out = &n->vd;
	return 0;
}

void vnet_set_tx_batch(struct virtio_dev *vd, uint32_t ns)
{
	((struct vnet *)vd)->tx_batch_ns = ns;
}

int vnet_enable_mmds(struct virtio_dev *vd, struct mmds *m, struct errbuf *err)
{
	struct vnet *n = (struct vnet *)vd;
	if (n->mmds)
		return 0;
	n->mmds = calloc(1, sizeof(*n->mmds));
	n->mmds_frame = malloc(VNET_MAX_GSO_FRAME);
	if (!n->mmds || !n->mmds_frame || mmds_stack_init(n->mmds, m) < 0) {
		free(n->mmds);
		free(n->mmds_frame);
		n->mmds = NULL;
		n->mmds_frame = NULL;
		return err_set(err, -ENOMEM, "%s: MMDS: out of memory", n->name);
	}
	return 0;
}

const struct mmds_stack_stats *vnet_mmds_stats(const struct virtio_dev *vd)
{
	const struct vnet *n = (const struct vnet *)vd;
	return n->mmds ? &n->mmds->stats : NULL;
}

const struct vnet_stats *vnet_stats(const struct virtio_dev *vd)
{
	return &((const struct vnet *)vd)->stats;
}

int vnet_check_tap(const struct config_net *cfg, struct errbuf *err)
{
	int fd = vnet_open_tap(cfg->host_dev_name, cfg->mtu, err);
	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}
