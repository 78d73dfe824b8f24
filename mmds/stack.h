/* MMDS's network end on one virtio-net interface: the frames the guest
 * sends to the MMDS address (ARP requests for it, IPv4 to it) come here
 * instead of the TAP, and the answers wait here until the interface's RX
 * queue has room for them.
 *
 * A hand-written subset of TCP, server side only (docs/mmds.md says why
 * not lwIP or libslirp): passive open on port 80, in-order data, one HTTP
 * request per connection, the response sent as the guest's window allows
 * and closed with FIN; go-back-N on duplicate ACKs and after a second
 * without progress. Everything is bounded: MMDS_MAX_CONNS connections
 * (then the oldest idle one goes, else an RST), MMDS_REQ_MAX request bytes,
 * MMDS_CTL_QUEUE control frames (ARP replies, SYN-ACKs, ACKs, RSTs) held
 * for a guest without RX buffers, more dropped and counted; data segments
 * are made only when the guest can take them. Each input frame costs work
 * bounded by its length. VMM thread only, as struct mmds. */
#ifndef EMBER_MMDS_STACK_H
#define EMBER_MMDS_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mmds/mmds.h"

#define MMDS_MAX_CONNS 16
#define MMDS_REQ_MAX MMDS_HTTP_REQ_MAX
#define MMDS_CTL_QUEUE 16
/* Ethernet + IPv4 + TCP with our MSS of payload. */
#define MMDS_MSS 1460
#define MMDS_FRAME_MAX (14 + 20 + 20 + MMDS_MSS)
#define MMDS_CTL_FRAME_MAX 64
/* An idle connection may be evicted for a new one after this. */
#define MMDS_IDLE_MS 30000
#define MMDS_RTO_MS 1000

struct mmds_stack_stats {
	uint64_t frames_in;      /* guest frames taken (never reach the TAP) */
	uint64_t frames_out;     /* frames handed to the guest */
	uint64_t dropped_in;     /* malformed or unsupported frames to MMDS */
	uint64_t ctl_dropped;    /* control frames lost to a full queue */
	uint64_t conns_refused;  /* SYNs answered with RST: table full */
	uint64_t retransmits;    /* go-back-N restarts */
};

struct mmds_conn;
struct mmds_stack {
	struct mmds *m;
	struct mmds_conn *conns; /* MMDS_MAX_CONNS */
	uint8_t ctl[MMDS_CTL_QUEUE][MMDS_CTL_FRAME_MAX];
	uint8_t ctl_len[MMDS_CTL_QUEUE];
	unsigned ctl_head, ctl_count;
	unsigned rr;       /* next connection to send data for */
	uint32_t isn;      /* grows per connection; mixed with the key */
	uint16_t ip_id;
	struct mmds_stack_stats stats;
};

int mmds_stack_init(struct mmds_stack *s, struct mmds *m);
void mmds_stack_destroy(struct mmds_stack *s);
/* True when frame (Ethernet, no virtio header) is for MMDS: an ARP packet
 * asking for or naming its address, or IPv4 to it. Reads at most the
 * first 42 bytes. */
bool mmds_stack_wants(const struct mmds_stack *s, const uint8_t *frame, size_t len);
/* Takes one such frame; answers go to the queue or a connection. */
void mmds_stack_input(struct mmds_stack *s, const uint8_t *frame, size_t len);
/* True when mmds_stack_output has a frame to give. */
bool mmds_stack_pending(struct mmds_stack *s);
/* The next frame for the guest into buf (MMDS_FRAME_MAX bytes); its
 * length, 0 if none. */
size_t mmds_stack_output(struct mmds_stack *s, uint8_t *buf);

#endif
