/* virtio-vsock internals shared by vsock.c (the device: queues, packets)
 * and vsock_conn.c (connections: host sockets, buffers, credit). */
#ifndef EMBER_VIRTIO_VSOCK_INT_H
#define EMBER_VIRTIO_VSOCK_INT_H

#include <linux/virtio_vsock.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "virtio/hub.h"
#include "virtio/virtio.h"
#include "virtio/vsock.h"

#define VSOCK_HOST_CID 2
#define VSOCK_QUEUE_SIZE 256
#define VSOCK_RXQ 0
#define VSOCK_TXQ 1
#define VSOCK_EVQ 2
#define VSOCK_HDR_LEN ((uint32_t)sizeof(struct virtio_vsock_hdr))
/* Our receive buffer per connection (buf_alloc we announce): guest data
 * that the host socket did not take at once waits here. Firecracker's size. */
#define VSOCK_BUF_SIZE (256u * 1024)
/* Largest payload either way in one packet (Linux's VIRTIO_VSOCK_MAX_PKT_BUF_SIZE). */
#define VSOCK_MAX_PKT (64u * 1024)
/* Tell the guest about freed space once this much was forwarded unannounced. */
#define VSOCK_CREDIT_THRESHOLD (64u * 1024)
#define VSOCK_HASH 256
#define VSOCK_MAX_ORPHAN_RST 64
#define VSOCK_CONNECT_LINE_MAX 32
/* Host-initiated connections get local ports from here up (as Firecracker). */
#define VSOCK_LOCAL_PORT_FIRST (1u << 30)

/* What a connection still has to tell the guest, served by the RX path
 * in this order. */
enum {
	VC_PEND_RST = 1u << 0,
	VC_PEND_REQUEST = 1u << 1,
	VC_PEND_RESPONSE = 1u << 2,
	VC_PEND_CREDIT_UPDATE = 1u << 3,
	VC_PEND_CREDIT_REQUEST = 1u << 4,
	VC_PEND_DATA = 1u << 5,
	VC_PEND_SHUTDOWN = 1u << 6,
};

enum vsock_conn_state {
	VC_CONNECT_LINE, /* host connected to uds_path; reading "CONNECT <port>\n" */
	VC_LOCAL_INIT,   /* REQUEST (to be) sent to the guest, waiting for RESPONSE */
	VC_ESTABLISHED,
	VC_CLOSING,      /* RST queued; freed once it is sent */
};

struct vsock;

struct vsock_conn {
	struct vsock *vs;
	struct vhub_watch w;
	int fd;
	enum vsock_conn_state state;
	uint32_t local_port, peer_port; /* host side, guest side */
	unsigned pending;               /* VC_PEND_* */
	bool in_rxq, hashed;
	struct vsock_conn *rxq_next, *hnext;
	struct vsock_conn *all_next, *all_prev; /* every connection, hashed or not */
	/* Host -> guest (5.10.6.3): what the guest told us of its buffer, and
	 * what we sent it. */
	uint32_t peer_buf_alloc, peer_fwd_cnt, tx_cnt;
	bool credit_requested;
	/* Guest -> host: bytes received, bytes handed to the host socket, and
	 * the fwd_cnt the guest last heard from us. */
	uint32_t rx_cnt, fwd_cnt, fwd_told;
	uint8_t *buf; /* ring of VSOCK_BUF_SIZE, allocated on first need */
	uint32_t buf_head, buf_len;
	bool peer_shut_send, peer_shut_rcv; /* guest's SHUTDOWN flags */
	bool host_eof, host_hup, shut_wr_done;
	char line[VSOCK_CONNECT_LINE_MAX];
	unsigned line_len;
};

struct vsock_orphan {
	uint32_t local_port, peer_port;
};

struct vsock {
	struct virtio_dev vd; /* first: the transport hands us this pointer */
	uint64_t guest_cid;
	uint8_t config[8];
	char *uds_path;
	int listen_fd;
	struct vhub_watch listen_w;
	struct vsock_conn *hash[VSOCK_HASH]; /* by (local_port, peer_port) */
	struct vsock_conn *all;
	unsigned nr_conns, max_conns;
	bool limit_logged;  /* the cap was hit once: said so */
	bool listen_paused; /* out of fds: the listener is not watched */
	uint32_t next_local_port;
	struct vsock_conn *rxq_head, *rxq_tail;
	struct vsock_orphan orphans[VSOCK_MAX_ORPHAN_RST];
	unsigned nr_orphans;
	bool reset_event_due; /* restored: TRANSPORT_RESET still to be sent */
	struct virtq_chain chain;
	struct iovec iov[VIRTQ_MAX_SIZE];
	struct vsock_stats stats;
};

/* vsock_conn.c */
struct vsock_conn *vsock_conn_find(struct vsock *vs, uint32_t local_port, uint32_t peer_port);
/* Guest REQUEST to host port local_port: connect to "<uds_path>_<port>". */
struct vsock_conn *vsock_conn_connect(struct vsock *vs, uint32_t local_port, uint32_t peer_port);
void vsock_conn_free(struct vsock_conn *c);
void vsock_conn_free_all(struct vsock *vs);
/* Queues work for the RX path. */
void vsock_conn_pend(struct vsock_conn *c, unsigned what);
/* Asks for an RST to the guest and stops all host I/O (freed once sent). */
void vsock_conn_reset(struct vsock_conn *c);
/* Recomputes which host socket events the connection waits for. */
void vsock_conn_update_watch(struct vsock_conn *c);
/* Guest RW payload: to the host socket, the rest buffered. */
int vsock_conn_send(struct vsock_conn *c, const struct iovec *iov, unsigned n, uint32_t len);
/* After guest data moved on or guest SHUTDOWN: shut/close as due, and
 * announce credit when the guest may be running short. */
void vsock_conn_progress(struct vsock_conn *c);
/* Bytes the guest will still accept from us. */
uint32_t vsock_conn_peer_credit(const struct vsock_conn *c);
/* The guest's RESPONSE to our REQUEST: tell the host process "OK <port>". */
int vsock_conn_established(struct vsock_conn *c);
void vsock_on_listen(struct vhub_watch *w, uint32_t events);
/* Watches the listener again after running out of fds (vsock.h). */
void vsock_listen_resume(struct vsock *vs);

/* vsock_limit.c */
/* The cap for a configured value (0: the default), from RLIMIT_NOFILE. */
unsigned vsock_conn_limit(uint32_t configured);
/* Whether one more connection fits; if not, counts the refusal (and says
 * so in the log the first time). */
bool vsock_conn_room(struct vsock *vs);

/* vsock.c */
/* Serves pending RX work while the guest has RX buffers. */
void vsock_rx_run(struct vsock *vs);
/* Queues an RST for a packet that belongs to no connection. */
void vsock_orphan_rst(struct vsock *vs, uint32_t local_port, uint32_t peer_port);

#endif
