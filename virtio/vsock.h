/* virtio-vsock (virtio 1.2 section 5.10) with Firecracker's hybrid host
 * side: the guest's AF_VSOCK stream connections to the host (CID 2) port P
 * become connections to the Unix socket "<uds_path>_P"; a host process
 * reaches guest port P by connecting to "<uds_path>" and sending
 * "CONNECT P\n", answered with "OK <host port>\n" once the guest accepts.
 * Credit-based flow control per section 5.10.6.3 in both directions.
 *
 * Every connection holds one host fd, so their number is capped per device,
 * well under the process's fd limit: a guest opening connections must not
 * starve the API and the rest of the VMM of fds. The cap is the config's
 * "max_connections" (an Ember extension), lowered to half of RLIMIT_NOFILE's
 * soft limit if above it; by default a quarter of that limit as it is when
 * the device is created (the VMM raises it to the hard limit at start-up)
 * and never more than VSOCK_DEFAULT_MAX_CONNS: 256 with the usual soft
 * limit of 1024. Over the cap a guest's REQUEST gets an RST and a host
 * connection is accepted and closed at once; both count in conns_refused
 * and conns_over_limit, and the first is logged (once per device). Out of
 * fds all the same, host connections wait in the listen backlog, unwatched
 * (a listener that stays readable would keep the VMM thread spinning), until
 * one of the device's connections closes or the guest notifies a queue. */
#ifndef EMBER_VIRTIO_VSOCK_H
#define EMBER_VIRTIO_VSOCK_H

#include <stdint.h>

#include "runtime/base/err.h"
#include "virtio/virtio.h"

struct config_vsock;

struct vsock_stats {
	uint64_t tx_packets, tx_bytes;  /* guest -> host (TX queue), bytes of payload */
	uint64_t rx_packets, rx_bytes;  /* host -> guest (RX queue) */
	uint64_t conns_opened, conns_closed;
	uint64_t conns_refused;         /* no listener, too many, bad CONNECT line */
	uint64_t conns_over_limit;      /* of those, refused for the cap */
	uint64_t rsts_sent;
	uint64_t malformed;             /* guest packets dropped as nonsense */
	uint64_t credit_violations;     /* guest sent past our buffer: reset */
	uint64_t rsts_dropped;          /* no room to queue an RST for the guest */
};

/* Snapshot state, beside the queues' in the transport's (fixed-width, no
 * padding, host byte order). Connections are not carried, as in
 * Firecracker: their host sockets belong to the old process. Instead the
 * restored device, once active, puts one VIRTIO_VSOCK_EVENT_TRANSPORT_RESET
 * in the event queue (5.10.6.6), so the guest driver resets every
 * connection: its sockets fail cleanly and can connect again. (A guest
 * that had no connections just finds none to reset.) Guest packets of old
 * connections still in the TX queue get an RST. */
#define VSOCK_STATE_VERSION 1
struct vsock_state {
	uint32_t version;
	uint32_t reserved;
	uint64_t guest_cid; /* must be the configured one */
};

/* 1024 less a reserve for the VMM's own fds (API, console, devices). */
#define VSOCK_DEFAULT_MAX_CONNS (1024u - 64u)

int vsock_create(const struct config_vsock *cfg, struct virtio_dev **out, struct errbuf *err);
const struct vsock_stats *vsock_stats(const struct virtio_dev *vd);
/* The connection cap the device applies (see above). */
unsigned vsock_max_conns(const struct virtio_dev *vd);

#endif
