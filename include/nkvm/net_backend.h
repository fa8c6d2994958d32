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
 * Receive comes in one of two ways:
 * - push (user networking): the back end holds each frame in its own
 *   memory and hands it to deliver(), which copies it into the guest's
 *   receive buffers;
 * - pull (tap): the back end has recv_into(); when a frame is waiting it
 *   calls pull(), and the device takes receive buffers (as many as the
 *   largest frame may fill) and has recv_into() read the frame straight
 *   into them (readv): no copy in nkvm, and while the guest has no room a
 *   frame waits in the back end's source (the tap's kernel queue), not in
 *   nkvm.
 *
 * Threads: send(), rx_ready() and recv_into() are called by the device
 * with its lock held (event-loop thread); deliver() and pull() may be
 * called from any back-end thread without back-end locks that send()
 * takes, and take the device's lock themselves.
 */
#ifndef NKVM_NET_BACKEND_H
#define NKVM_NET_BACKEND_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#define NET_HDR_LEN 12          /* struct virtio_net_hdr_v1 */
#define NET_MAX_FRAME 65550     /* largest frame + header through a back end */
#define NET_RX_MAX_IOV 1024     /* iovecs recv_into may get (the kernel's UIO_MAXIOV) */

struct evl;
struct net_backend;

struct net_backend_ops {
	/* Start delivering (register fds, start threads). 0 or -errno. */
	int (*start)(struct net_backend *be, struct evl *evl);
	/* Send one frame: iov = header + Ethernet frame. 0, or -errno when
	 * it was dropped (the device counts it). Must not block. */
	int (*send)(struct net_backend *be, const struct iovec *iov, unsigned n);
	/* The guest posted receive buffers after a deliver() or pull() got
	 * -EAGAIN. */
	void (*rx_ready)(struct net_backend *be);
	/* Stop, release everything (a tap nkvm created is removed), free. */
	void (*destroy)(struct net_backend *be);
	/* Optional: the driver negotiated `features` (VIRTIO_NET_F_* bits);
	 * a tap turns on the matching receive offloads. */
	void (*set_features)(struct net_backend *be, uint64_t features);
	/*
	 * Optional (pull receive): read the next waiting frame, header +
	 * Ethernet frame, into iov (n <= NET_RX_MAX_IOV: the guest's buffers
	 * and one byte of the device's after them, to see a frame that did
	 * not fit). Returns the bytes read, header included (a frame longer
	 * than iov is cut, the rest lost: taps return either the bytes
	 * copied or the frame's length then), -EAGAIN when no frame waits, or
	 * another -errno. Must not block.
	 */
	ssize_t (*recv_into)(struct net_backend *be, const struct iovec *iov,
			     unsigned n);
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
	/*
	 * Set by the device before start(), for back ends with recv_into:
	 * frames are waiting; the device reads up to `budget` of them through
	 * recv_into (fewer when none is left). Returns how many it read
	 * (delivered, or dropped: cut, malformed); -EAGAIN when the guest has
	 * no room for a frame (stop reading until rx_ready; the frames stay
	 * where they are); -ENETDOWN when the guest's driver is not running
	 * (the back end discards what waits, as deliver() would).
	 */
	int (*pull)(void *dev, unsigned budget);
	void *dev;
};

#endif
