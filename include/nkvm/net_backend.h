/*
 * The interface between virtio-net (virtio/net.c) and a network back end:
 * user-mode networking on libslirp (net/slirp.c) or a tap device
 * (net/tap.c).
 *
 * Frames cross it with a 12-byte struct virtio_net_hdr_v1 in front (flags,
 * gso_type, hdr_len, gso_size, csum_start, csum_offset, num_buffers), the
 * layout virtio 1.x and IFF_VNET_HDR taps share. A back end that cannot
 * honour an offload does not list it in `offloads`; the device then never
 * negotiates it, so the guest never sends such frames.
 *
 * Threads: send() and rx_ready() are called by the device with its lock
 * held (event-loop thread); deliver() may be called from any back-end
 * thread without back-end locks that send() takes, and takes the device's
 * lock itself.
 */
#ifndef NKVM_NET_BACKEND_H
#define NKVM_NET_BACKEND_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#define NET_HDR_LEN 12          /* struct virtio_net_hdr_v1 */
#define NET_MAX_FRAME 65550     /* largest frame + header through a back end */

struct evl;
struct net_backend;

struct net_backend_ops {
	/* Start delivering (register fds, start threads). 0 or -errno. */
	int (*start)(struct net_backend *be, struct evl *evl);
	/* Send one frame: iov = header + Ethernet frame. 0, or -errno when
	 * it was dropped (the device counts it). Must not block. */
	int (*send)(struct net_backend *be, const struct iovec *iov, unsigned n);
	/* The guest posted receive buffers after a deliver() got -EAGAIN. */
	void (*rx_ready)(struct net_backend *be);
	/* Stop, release everything (a tap nkvm created is removed), free. */
	void (*destroy)(struct net_backend *be);
	/* Optional: the driver negotiated `features` (VIRTIO_NET_F_* bits);
	 * a tap turns on the matching receive offloads. */
	void (*set_features)(struct net_backend *be, uint64_t features);
};

struct net_backend {
	const struct net_backend_ops *ops;
	const char *kind;            /* "user", "tap", for messages */
	uint64_t offloads;           /* VIRTIO_NET_F_* bits it honours */
	/*
	 * Set by the device before start(): hand one received frame (header +
	 * Ethernet frame) to the guest. 0 taken; -EAGAIN no receive buffer
	 * now (keep the frame, stop reading, wait for rx_ready); another
	 * -errno: dropped (malformed, too big for the guest's buffers).
	 */
	int (*deliver)(void *dev, const struct iovec *iov, unsigned n);
	void *dev;
};

#endif
