/* virtio-vsock (virtio 1.2 section 5.10) with Firecracker's hybrid host
 * side: the guest's AF_VSOCK stream connections to the host (CID 2) port P
 * become connections to the Unix socket "<uds_path>_P"; a host process
 * reaches guest port P by connecting to "<uds_path>" and sending
 * "CONNECT P\n", answered with "OK <host port>\n" once the guest accepts.
 * Credit-based flow control per section 5.10.6.3 in both directions. */
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

int vsock_create(const struct config_vsock *cfg, struct virtio_dev **out, struct errbuf *err);
const struct vsock_stats *vsock_stats(const struct virtio_dev *vd);

#endif
