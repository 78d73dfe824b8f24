/* virtio-net (virtio 1.2 section 5.1) on a host TAP device opened with
 * IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, so the virtio_net_hdr_v1 in front of
 * every frame passes between guest and TAP unchanged. Frames move with one
 * readv/writev straight between the TAP and guest buffers (mergeable RX
 * buffers included). Offloads: checksum and TSO both ways; what the TAP
 * may hand us is set with TUNSETOFFLOAD from what the guest negotiated. */
#ifndef EMBER_VIRTIO_NET_H
#define EMBER_VIRTIO_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime/base/err.h"
#include "virtio/virtio.h"

struct config_net;

struct vnet_stats {
	uint64_t rx_packets, rx_bytes; /* TAP -> guest (bytes of frame, no header) */
	uint64_t tx_packets, tx_bytes; /* guest -> TAP */
	uint64_t rx_dropped;           /* frames read that no guest buffer could take */
	uint64_t rx_blocked;           /* times RX waited for guest buffers */
	uint64_t tx_dropped;           /* refused headers, bad sizes, TAP write errors */
};

/* Snapshot state, beside the queues' in the transport's (fixed-width, no
 * padding, host byte order): the MAC, which must be the one the device was
 * created with (the VM reopens the TAP by name from the saved
 * configuration). Nothing else carries over because nothing else is
 * state: TX completes each frame within its notification, RX readv()s a
 * frame straight into the buffers it pushes, offloads follow the
 * negotiated features at activation, and "waiting for RX buffers" is
 * found again by the first RX pass after activation. Frames the TAP held
 * belong to the host kernel and are not carried. */
#define VNET_STATE_VERSION 1
struct vnet_state {
	uint32_t version;
	uint8_t mac[6];  /* all 0 without has_mac */
	uint8_t has_mac; /* VIRTIO_NET_F_MAC offered, 0 or 1 */
	uint8_t reserved;
};

/* Opens cfg's TAP (TUNSETIFF) and gives it cfg's MTU, if any, which is
 * also offered to the driver (VIRTIO_NET_F_MTU). */
int vnet_create(const struct config_net *cfg, struct virtio_dev **out, struct errbuf *err);
/* What vnet_create does to the TAP, for PUT /network-interfaces: the
 * interface can be opened (and takes the MTU); the fd is closed again, so
 * a configuration holds no fd before InstanceStart. */
int vnet_check_tap(const struct config_net *cfg, struct errbuf *err);
/* The same device on an already open packet fd that is not a TAP (tests
 * use a SOCK_SEQPACKET socketpair): no TUN ioctls. The fd is owned. mtu 0:
 * none offered. */
int vnet_create_fd(int fd, const uint8_t *mac, uint16_t mtu, struct virtio_dev **out,
		   struct errbuf *err);
const struct vnet_stats *vnet_stats(const struct virtio_dev *vd);

/* TX batching, for transports where each notification costs the guest an
 * exit to the VMM (the software CPU): after a pass that sent frames the
 * driver is asked not to notify, and the TX queue is looked at again ns
 * later, until a pass finds it empty. 0 (the default): every frame the
 * driver notifies is sent at once. Before activation. */
void vnet_set_tx_batch(struct virtio_dev *vd, uint32_t ns);

/* MMDS on this interface (mmds/stack.h): frames the guest sends to its
 * address are answered by m and never reach the TAP. Before activation. */
struct mmds;
struct mmds_stack_stats;
int vnet_enable_mmds(struct virtio_dev *vd, struct mmds *m, struct errbuf *err);
/* NULL without MMDS. */
const struct mmds_stack_stats *vnet_mmds_stats(const struct virtio_dev *vd);

#endif
