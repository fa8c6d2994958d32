/*
 * Tap back end: a Linux tap device with IFF_VNET_HDR, so the virtio-net
 * header (checksum offload, TSO) passes through unchanged and the kernel
 * does the segmentation and checksums.
 *
 * Runs on the event loop's thread. Receive is zero-copy: when the tap is
 * readable the back end calls the device's pull(), which takes the
 * guest's receive buffers and has recv_into() readv() the next frame,
 * virtio-net header included (IFF_VNET_HDR), straight into them. When the
 * guest has no room the frame is not read at all and the fd is taken out
 * of the epoll set until the device calls rx_ready(), so a guest that
 * stops reading makes the kernel queue (and drop) frames, not nkvm.
 * Transmit writes straight to the tap; a full tap queue drops the frame
 * (counted by the device), as a NIC would.
 *
 * A tap nkvm creates (no ifname, or a name that does not exist) is not
 * persistent: the kernel removes it when nkvm's fd closes, on every exit
 * path including a crash. An existing (persistent) tap is left as it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "nkvm/evloop.h"
#include "nkvm/log.h"
#include "nkvm/net_tap.h"
#include "nkvm/virtio_net.h"

/* frames read per turn of the event loop before others get theirs */
#define TAP_RX_BUDGET 64

struct tap {
	struct net_backend be;
	int fd, wake_efd;
	struct evl *evl;
	bool polling;                /* fd in the epoll set */
	char ifname[IFNAMSIZ];
};

static void tap_poll(struct tap *t, bool on)
{
	if (t->polling == on || !t->evl)
		return;
	if (evl_mod(t->evl, t->fd, on ? EPOLLIN : 0) == 0)
		t->polling = on;
}

/* No driver running: read and drop what waits, as a NIC that is down
 * would (tun consumes a frame even when the buffer is too short for it). */
static void tap_discard(struct tap *t)
{
	uint8_t scratch[64];

	for (unsigned i = 0; i < TAP_RX_BUDGET; i++)
		if (read(t->fd, scratch, sizeof(scratch)) < 0 && errno != EINTR)
			break;
}

/* Let the device read what waits; stop watching the fd while the guest
 * has no room (until rx_ready). */
static void tap_rx(struct tap *t)
{
	int r = t->be.pull(t->be.dev, TAP_RX_BUDGET);

	if (r == -EAGAIN) {
		tap_poll(t, false);
		return;
	}
	if (r == -ENETDOWN)
		tap_discard(t);
	tap_poll(t, true);
}

static void tap_readable(void *opaque, uint32_t events)
{
	struct tap *t = opaque;

	if (events & EPOLLERR) {
		/* the tap was deleted under us (ip link del): epoll reports
		 * EPOLLERR for ever, even with no events asked for, so stop
		 * watching the fd or the loop spins */
		log_warn("tap %s: the device is gone; no more frames from it",
			 t->ifname);
		evl_del(t->evl, t->fd);
		t->polling = false;
		return;
	}
	tap_rx(t);
}

/* rx_ready() ran under the device lock: read from the loop instead. */
static void tap_woken(void *opaque, uint32_t events)
{
	struct tap *t = opaque;
	uint64_t v;

	if (read(t->wake_efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	if (!t->polling)
		tap_rx(t);
}

static int tap_start(struct net_backend *be, struct evl *evl)
{
	struct tap *t = (struct tap *)be;
	int r;

	if (!be->pull)
		return -EINVAL;	/* the device reads through recv_into */
	t->evl = evl;
	r = evl_add(evl, t->fd, EPOLLIN, tap_readable, t);
	if (r < 0)
		return r;
	t->polling = true;
	r = evl_add(evl, t->wake_efd, EPOLLIN, tap_woken, t);
	if (r < 0) {
		evl_del(evl, t->fd);
		t->evl = NULL;
	}
	return r;
}

/* readv() or writev() of one frame, again after a signal: bytes or
 * -errno. */
static ssize_t tap_rw(ssize_t (*rw)(int, const struct iovec *, int), int fd,
		      const struct iovec *iov, unsigned n)
{
	ssize_t r;

	do {
		r = rw(fd, iov, (int)n);
	} while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

static int tap_send(struct net_backend *be, const struct iovec *iov, unsigned n)
{
	ssize_t w = tap_rw(writev, ((struct tap *)be)->fd, iov, n);

	return w < 0 ? (int)w : 0;
}

/* tun writes the 12-byte header (num_buffers is the device's to fill),
 * then the frame; a frame longer than iov is cut, the rest dropped (the
 * kernel then returns the bytes copied, or on older ones the length). */
static ssize_t tap_recv_into(struct net_backend *be, const struct iovec *iov, unsigned n)
{
	return tap_rw(readv, ((struct tap *)be)->fd, iov, n);
}

static void tap_rx_ready(struct net_backend *be)
{
	struct tap *t = (struct tap *)be;
	uint64_t one = 1;

	if (write(t->wake_efd, &one, sizeof(one)) < 0)
		log_debug("tap %s: wake: %s", t->ifname, strerror(errno));
}

/* Receive offloads the guest can take, so the kernel may hand us big,
 * partially checksummed frames; without them it segments for us. */
static void tap_set_features(struct net_backend *be, uint64_t f)
{
	struct tap *t = (struct tap *)be;
	int hdr = NET_HDR_LEN;
	unsigned off = 0;

	/* the kernel writes the header into the guest's buffers: it must be
	 * the one negotiated, virtio 1.x's 12 bytes (VERSION_1, required by
	 * the transport), little endian */
	if (ioctl(t->fd, TUNSETVNETHDRSZ, &hdr) < 0)
		log_warn("tap %s: TUNSETVNETHDRSZ %d: %s", t->ifname, hdr, strerror(errno));
	if (ioctl(t->fd, TUNSETVNETLE, &(int){ 1 }) < 0)
		log_debug("tap %s: TUNSETVNETLE: %s", t->ifname, strerror(errno));

	if ((f >> VIRTIO_NET_F_GUEST_CSUM) & 1) {
		off |= TUN_F_CSUM;
		if ((f >> VIRTIO_NET_F_GUEST_TSO4) & 1)
			off |= TUN_F_TSO4;
		if ((f >> VIRTIO_NET_F_GUEST_TSO6) & 1)
			off |= TUN_F_TSO6;
		if ((f >> VIRTIO_NET_F_GUEST_ECN) & 1)
			off |= TUN_F_TSO_ECN;
		if ((f >> VIRTIO_NET_F_GUEST_UFO) & 1)
			off |= TUN_F_UFO;
	}
	if (ioctl(t->fd, TUNSETOFFLOAD, off) < 0 && off & TUN_F_UFO)
		ioctl(t->fd, TUNSETOFFLOAD, off & ~TUN_F_UFO); /* no UFO in 6.x */
}

static void tap_destroy(struct net_backend *be)
{
	struct tap *t = (struct tap *)be;

	if (t->evl && t->evl->epfd >= 0) {
		evl_del(t->evl, t->fd);
		evl_del(t->evl, t->wake_efd);
	}
	close(t->fd);	/* a tap nkvm created goes away with it */
	close(t->wake_efd);
	free(t);
}

static const struct net_backend_ops tap_ops = {
	.start = tap_start,
	.send = tap_send,
	.rx_ready = tap_rx_ready,
	.destroy = tap_destroy,
	.set_features = tap_set_features,
	.recv_into = tap_recv_into,
};

/* One line naming the tap and what to do. */
static int tap_error(const char *name, int err, char *msg, size_t len)
{
	const char *who = *name ? name : "(new)";

	switch (err) {
	case EPERM:
	case EACCES:
		errbuf_printf(msg, len, "tap %s: permission denied: creating a tap needs CAP_NET_ADMIN; "
			      "as root, make one this user may open: ip tuntap add %s mode tap user $USER vnet_hdr",
			      who, *name ? name : "tap0");
		break;
	case EBUSY:
		errbuf_printf(msg, len, "tap %s: in use by another process (or a tun, not a tap, device); "
			      "pick another ifname", who);
		break;
	case EINVAL:
		errbuf_printf(msg, len, "tap %s: the name belongs to a device that is not a tap "
			      "(or lacks vnet_hdr support); pick another ifname", who);
		break;
	case ENOENT:
	case ENODEV:
		errbuf_printf(msg, len, "tap %s: /dev/net/tun is missing: load the tun module (modprobe tun)",
			      who);
		break;
	default:
		errbuf_printf(msg, len, "tap %s: %s", who, strerror(err));
	}
	return -err;
}

int net_tap_create(struct net_backend **out, const struct net_opts *o,
		   char *err, size_t errlen)
{
	struct ifreq ifr = { 0 };
	int hdr = NET_HDR_LEN, r;
	struct tap *t;

	t = calloc(1, sizeof(*t));
	if (!t)
		return tap_error(o->ifname, ENOMEM, err, errlen);
	t->wake_efd = -1;
	t->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (t->fd < 0) {
		r = tap_error(o->ifname, errno, err, errlen);
		goto fail;
	}
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", o->ifname);
	if (ioctl(t->fd, TUNSETIFF, &ifr) < 0) {
		r = tap_error(o->ifname, errno, err, errlen);
		goto fail;
	}
	snprintf(t->ifname, sizeof(t->ifname), "%s", ifr.ifr_name);
	if (ioctl(t->fd, TUNSETVNETHDRSZ, &hdr) < 0) {
		r = tap_error(t->ifname, errno, err, errlen);
		goto fail;
	}
	/* nothing offloaded to the guest until it negotiates it */
	if (ioctl(t->fd, TUNSETOFFLOAD, 0) < 0) {
		r = tap_error(t->ifname, errno, err, errlen);
		goto fail;
	}
	t->wake_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (t->wake_efd < 0) {
		r = tap_error(t->ifname, errno, err, errlen);
		goto fail;
	}
	t->be.ops = &tap_ops;
	t->be.kind = "tap";
	t->be.offloads = (1ULL << VIRTIO_NET_F_CSUM) | (1ULL << VIRTIO_NET_F_GUEST_CSUM) |
			 (1ULL << VIRTIO_NET_F_HOST_TSO4) | (1ULL << VIRTIO_NET_F_HOST_TSO6) |
			 (1ULL << VIRTIO_NET_F_HOST_ECN) | (1ULL << VIRTIO_NET_F_GUEST_TSO4) |
			 (1ULL << VIRTIO_NET_F_GUEST_TSO6) | (1ULL << VIRTIO_NET_F_GUEST_ECN);
	log_debug("tap %s: attached", t->ifname);
	*out = &t->be;
	return 0;
fail:
	if (t->fd >= 0)
		close(t->fd);
	if (t->wake_efd >= 0)
		close(t->wake_efd);
	free(t);
	return r;
}

const char *net_tap_ifname(const struct net_backend *be)
{
	return ((const struct tap *)be)->ifname;
}
