/*
 * Tap back end: a Linux tap device with IFF_VNET_HDR, so the virtio-net
 * header (checksum offload, TSO) passes through unchanged and the kernel
 * does the segmentation and checksums.
 *
 * Runs on the event loop's thread: the tap fd is in the epoll set while
 * the guest has receive buffers; when it has none, the frame just read is
 * kept (one frame, never more) and the fd is taken out of the set until the
 * device calls rx_ready(), so a guest that stops reading makes the kernel
 * queue (and drop) frames, not nkvm. Transmit writes straight to the tap;
 * a full tap queue drops the frame (counted by the device), as a NIC would.
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
	bool pending;                /* buf holds a frame the guest refused */
	size_t pending_len;
	char ifname[IFNAMSIZ];
	uint8_t buf[NET_MAX_FRAME];
};

static void tap_poll(struct tap *t, bool on)
{
	if (t->polling == on || !t->evl)
		return;
	if (evl_mod(t->evl, t->fd, on ? EPOLLIN : 0) == 0)
		t->polling = on;
}

/* Hand the held frame to the guest; false if it still has no room. */
static bool tap_flush_pending(struct tap *t)
{
	struct iovec iov = { .iov_base = t->buf, .iov_len = t->pending_len };

	if (!t->pending)
		return true;
	if (t->be.deliver(t->be.dev, &iov, 1) == -EAGAIN)
		return false;
	t->pending = false;	/* delivered, or dropped for good */
	return true;
}

static void tap_readable(void *opaque, uint32_t events)
{
	struct tap *t = opaque;
	unsigned budget = TAP_RX_BUDGET;

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
	while (budget--) {
		ssize_t n;

		if (!tap_flush_pending(t)) {
			tap_poll(t, false);	/* until rx_ready */
			return;
		}
		n = read(t->fd, t->buf, sizeof(t->buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;	/* EAGAIN: drained */
		/* tun reports a cut frame's full length: drop those too */
		if ((size_t)n < NET_HDR_LEN + ETH_HDR_LEN || (size_t)n > sizeof(t->buf))
			continue;
		t->pending = true;
		t->pending_len = (size_t)n;
	}
	tap_flush_pending(t);
}

/* rx_ready() ran under the device lock: deliver from the loop instead. */
static void tap_woken(void *opaque, uint32_t events)
{
	struct tap *t = opaque;
	uint64_t v;

	if (read(t->wake_efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	if (tap_flush_pending(t))
		tap_poll(t, true);
}

static int tap_start(struct net_backend *be, struct evl *evl)
{
	struct tap *t = (struct tap *)be;
	int r;

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

static int tap_send(struct net_backend *be, const struct iovec *iov, unsigned n)
{
	struct tap *t = (struct tap *)be;
	ssize_t w;

	do {
		w = writev(t->fd, iov, (int)n);
	} while (w < 0 && errno == EINTR);
	return w < 0 ? -errno : 0;
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
	unsigned off = 0;

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
