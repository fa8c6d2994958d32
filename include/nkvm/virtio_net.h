/*
 * virtio-net (virtio 1.2 section 5.1): one receive/transmit queue pair and
 * a control queue, on a network back end (net_backend.h).
 *
 * Transmit: each chain is a 12-byte header + one Ethernet frame; checked
 * (net_tx_check) and handed to the back end, or dropped and counted.
 * Receive: a tap has frames read straight into the guest's buffers
 * (net_rx_pull, zero-copy), user networking delivers frames it holds
 * (net_rx_deliver, one copy); with mergeable receive buffers a frame may
 * fill several chains, otherwise it must fit in one. Without buffers the
 * frame waits in the back end, which stops reading: nkvm never queues
 * without bound for a guest that does not read.
 */
#ifndef NKVM_VIRTIO_NET_H
#define NKVM_VIRTIO_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "nkvm/net_backend.h"
#include "nkvm/virtio.h"

/* Feature bits (section 5.1.3). */
#define VIRTIO_NET_F_CSUM            0
#define VIRTIO_NET_F_GUEST_CSUM      1
#define VIRTIO_NET_F_MAC             5
#define VIRTIO_NET_F_GUEST_TSO4      7
#define VIRTIO_NET_F_GUEST_TSO6      8
#define VIRTIO_NET_F_GUEST_ECN       9
#define VIRTIO_NET_F_GUEST_UFO       10
#define VIRTIO_NET_F_HOST_TSO4       11
#define VIRTIO_NET_F_HOST_TSO6       12
#define VIRTIO_NET_F_HOST_ECN        13
#define VIRTIO_NET_F_HOST_UFO        14
#define VIRTIO_NET_F_MRG_RXBUF       15
#define VIRTIO_NET_F_STATUS          16
#define VIRTIO_NET_F_CTRL_VQ         17
#define VIRTIO_NET_F_CTRL_RX         18

/* struct virtio_net_hdr_v1 fields. */
#define VIRTIO_NET_HDR_F_NEEDS_CSUM  1
#define VIRTIO_NET_HDR_F_DATA_VALID  2
#define VIRTIO_NET_HDR_GSO_NONE      0
#define VIRTIO_NET_HDR_GSO_TCPV4     1
#define VIRTIO_NET_HDR_GSO_UDP       3
#define VIRTIO_NET_HDR_GSO_TCPV6     4
#define VIRTIO_NET_HDR_GSO_ECN       0x80

/* Control queue. */
#define VIRTIO_NET_CTRL_RX           0
#define VIRTIO_NET_CTRL_MAC          1
#define VIRTIO_NET_OK                0
#define VIRTIO_NET_ERR               1

#define VIRTIO_NET_S_LINK_UP         1

#define VIRTIO_NET_RXQ  0
#define VIRTIO_NET_TXQ  1
#define VIRTIO_NET_CTLQ 2

/* Ethernet header, and the largest frame the guest may send: 64 KiB of
 * TSO payload and its headers. */
#define ETH_HDR_LEN   14
#define NET_TX_MAX    (NET_MAX_FRAME - NET_HDR_LEN)
/* A frame without TSO: a 1500-byte MTU plus Ethernet and VLAN headers. */
#define NET_FRAME_MAX_NO_GSO 1518

struct virtio_net_stats {
	unsigned long tx_frames, tx_dropped, tx_malformed;
	unsigned long rx_frames, rx_dropped, rx_no_buffer;
	uint64_t tx_bytes, rx_bytes;
};

struct virtio_net {
	struct virtio_dev dev;
	struct net_backend *be;
	uint8_t mac[6];
	uint8_t config[12];          /* mac, status, max_virtqueue_pairs, mtu */
	/* receive chains popped ahead of frames (net.c): a ring of
	 * RX_MAX_BUFS slots from rx_first, rx_nres of them, rx_room writable
	 * bytes in rx_nseg segments; rx_iov: the first of those segments
	 * (rx_covered bytes, about rx_hint) as one array, then rx_bounce
	 * (NET_MAX_FRAME + 1 bytes) for the rest of a longer frame, or for
	 * all of it while frames are expected to be at most rx_copybreak
	 * bytes long (net.c; tests and benchmarks may change it) */
	struct vq_chain *rx_chains;
	unsigned rx_first, rx_nres, rx_nseg;
	uint64_t rx_room, rx_covered, rx_hint, rx_copybreak;
	struct iovec *rx_iov;
	uint8_t *rx_bounce;
	bool rx_waiting;             /* the back end has a frame for us */
	struct virtio_net_stats st;
};

/*
 * Is this transmitted frame acceptable? hdr: the 12-byte header; len: the
 * frame's length after it; features: negotiated. 0, or -EINVAL with the
 * reason (too short/long, unknown GSO type, GSO or checksum offload that
 * was not negotiated, checksum position outside the frame).
 */
int net_tx_check(const uint8_t *hdr, uint64_t len, uint64_t features,
		 const char **why) __attribute__((warn_unused_result));

/*
 * Initialise a NIC on back end be (which the NIC then owns and destroys).
 * The device offers the offloads the back end honours. 0 or -errno.
 */
int virtio_net_init(struct virtio_net *n, const struct gm *gm, const char *name,
		    const uint8_t mac[6], struct net_backend *be)
	__attribute__((warn_unused_result));

/* Start the back end (after the NIC is placed in the VM). 0 or -errno. */
int virtio_net_start(struct virtio_net *n, struct evl *evl)
	__attribute__((warn_unused_result));

/* Stop and destroy the back end, release the NIC (after the transport's
 * reset). */
void virtio_net_destroy(struct virtio_net *n);

/* The back end's deliver() and pull(): see net_backend.h. */
int net_rx_deliver(void *dev, const struct iovec *iov, unsigned niov);
int net_rx_pull(void *dev, unsigned budget);

#endif
