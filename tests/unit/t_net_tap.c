/*
 * The tap back end for real, in a network namespace of its own (so the
 * host's interfaces are never touched): creating a tap and removing it,
 * attaching to a persistent one and leaving it, the error for a name that
 * is not a tap, receive offloads from set_features, and frames both ways
 * through an AF_PACKET socket on the tap: send() reaches the wire, a frame
 * from the wire is read by the device's pull() through recv_into with its
 * header, a pull refused with -EAGAIN leaves frames in the tap (not lost,
 * not re-read) until rx_ready(), -ENETDOWN discards them, and recv_into
 * reports a cut frame's full length.
 * Skipped without root, /dev/net/tun or namespaces.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "nkvm/evloop.h"
#include "nkvm/log.h"
#include "nkvm/net_opts.h"
#include "nkvm/net_tap.h"
#include "nkvm/virtio_net.h"
#include "tap.h"

#define ETHERTYPE_TEST 0x88b5	/* IEEE local experimental */
#define MAX_FRAMES 32
#define FRAME_LEN 60

static const uint8_t peer_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };

/* ---- helpers ---- */

static struct net_opts tap_opts(const char *ifname)
{
	struct net_opts o = { .kind = NET_TAP };

	snprintf(o.ifname, sizeof(o.ifname), "%s", ifname);
	return o;
}

/* A persistent tap made the way `ip tuntap add` makes one (persist on
 * or off); 0 or -errno. */
static int tap_persist(const char *name, int on)
{
	struct ifreq ifr = { 0 };
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETPERSIST, on) < 0)
		r = -errno;
	close(fd);
	return r;
}

static int ctl_sock(void)
{
	static int s = -1;

	if (s < 0)
		s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	return s;
}

static int if_up(const char *name)
{
	struct ifreq ifr = { 0 };

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(ctl_sock(), SIOCGIFFLAGS, &ifr) < 0)
		return -errno;
	ifr.ifr_flags |= IFF_UP;
	return ioctl(ctl_sock(), SIOCSIFFLAGS, &ifr) < 0 ? -errno : 0;
}

/* Delete an interface (`ip link del`) over rtnetlink: 0 or -errno. */
static int link_del(const char *name)
{
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
	} req = {
		.nh = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_DELLINK,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK, .nlmsg_seq = 1 },
		.ifi = { .ifi_family = AF_UNSPEC, .ifi_index = (int)if_nametoindex(name) },
	};
	union {
		struct nlmsghdr nh;
		uint8_t b[512];
	} ack;
	struct nlmsgerr *e = NLMSG_DATA(&ack.nh);
	int s, r = -EIO;
	ssize_t n;

	if (!req.ifi.ifi_index)
		return -ENODEV;
	s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (s < 0)
		return -errno;
	if (send(s, &req, sizeof(req), 0) != sizeof(req)) {
		r = -errno;
	} else {
		n = recv(s, &ack, sizeof(ack), 0);
		if (n >= (ssize_t)NLMSG_LENGTH(sizeof(*e)) && ack.nh.nlmsg_type == NLMSG_ERROR)
			r = e->error;
	}
	close(s);
	return r;
}

/* An ethtool on/off feature of the interface: 0/1, or -errno. */
static int ethtool_get(const char *name, uint32_t cmd)
{
	struct ethtool_value ev = { .cmd = cmd };
	struct ifreq ifr = { 0 };

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_data = (void *)&ev;
	if (ioctl(ctl_sock(), SIOCETHTOOL, &ifr) < 0)
		return -errno;
	return ev.data ? 1 : 0;
}

/* Best effort: no IPv6 in this namespace, so the kernel sends nothing of
 * its own (router solicitations, MLD) on the taps. */
static void no_ipv6(void)
{
	static const char *const f[] = {
		"/proc/sys/net/ipv6/conf/all/disable_ipv6",
		"/proc/sys/net/ipv6/conf/default/disable_ipv6",
	};

	for (unsigned i = 0; i < 2; i++) {
		int fd = open(f[i], O_WRONLY | O_CLOEXEC);

		if (fd >= 0) {
			if (write(fd, "1\n", 2) < 0)
				diag("%s: %s", f[i], strerror(errno));
			close(fd);
		}
	}
}

/* A test frame: broadcast from peer_mac, our EtherType, pattern from seed. */
static void mkframe(uint8_t *p, uint8_t seed)
{
	for (unsigned i = 0; i < FRAME_LEN; i++)
		p[i] = (uint8_t)(seed * 31 + i);
	memset(p, 0xff, 6);
	memcpy(p + 6, peer_mac, 6);
	p[12] = ETHERTYPE_TEST >> 8;
	p[13] = ETHERTYPE_TEST & 0xff;
}

/* ---- the fake device: what pull() read through recv_into ---- */

struct fake_dev {
	struct net_backend *be;
	bool eagain;                 /* pull: "the guest has no room" */
	bool netdown;                /* pull: "no driver" */
	unsigned calls, eagain_calls, reads;
	unsigned nr;
	size_t len[MAX_FRAMES];
	uint8_t frame[MAX_FRAMES][256];
};

static struct fake_dev fdev;

/* The device's side of pull(): frames read into two buffers (header and
 * 20 bytes, then the rest), as a guest's chains would take them. */
static int fake_pull(void *opaque, unsigned budget)
{
	struct fake_dev *d = opaque;
	unsigned done = 0;

	d->calls++;
	if (d->eagain) {
		d->eagain_calls++;
		return -EAGAIN;
	}
	if (d->netdown)
		return -ENETDOWN;
	while (done < budget) {
		static uint8_t a[NET_HDR_LEN + 20], b[NET_MAX_FRAME];
		struct iovec iov[2] = { { a, sizeof(a) }, { b, sizeof(b) } };
		ssize_t n = d->be->ops->recv_into(d->be, iov, 2);

		if (n < 0)
			break;
		done++;
		d->reads++;
		/* only ours: the kernel may send frames of its own on the tap */
		if (n < NET_HDR_LEN + ETH_HDR_LEN || a[NET_HDR_LEN + 12] != ETHERTYPE_TEST >> 8 ||
		    a[NET_HDR_LEN + 13] != (ETHERTYPE_TEST & 0xff) || d->nr == MAX_FRAMES)
			continue;
		d->len[d->nr] = (size_t)n;
		memcpy(d->frame[d->nr], a, sizeof(a));
		memcpy(d->frame[d->nr] + sizeof(a), b, (size_t)n - sizeof(a) < 200 ? (size_t)n - sizeof(a) : 200);
		d->nr++;
	}
	return (int)done;
}

/* A started tap on the fake device. */
static void fake_attach(struct net_backend *be)
{
	memset(&fdev, 0, sizeof(fdev));
	fdev.be = be;
	be->pull = fake_pull;
	be->dev = &fdev;
}

/* Run the loop until the fake device holds `nr` frames or `calls`
 * pull() calls were made (whichever is asked), up to ~1 s. */
static void run_until(struct evl *evl, unsigned nr, unsigned calls)
{
	for (int i = 0; i < 100 && fdev.nr < nr && fdev.calls < calls; i++)
		evl_run_once(evl, 10);
}

/* ---- tests ---- */

static void test_create(void)
{
	struct net_opts o = tap_opts("");
	struct net_backend *be = NULL;
	char err[256] = "", name[IFNAMSIZ];
	int r;

	r = net_tap_create(&be, &o, err, sizeof(err));
	if (!ok(r == 0 && be, "create a tap, no ifname")) {
		diag("  %d: %s", r, err);
		return;
	}
	snprintf(name, sizeof(name), "%s", net_tap_ifname(be));
	ok(name[0] != '\0', "  the kernel named it %s", name);
	ok(if_nametoindex(name) != 0, "  if_nametoindex finds it");
	is_str(be->kind, "tap", "  kind tap");
	ok((be->offloads & (1ULL << VIRTIO_NET_F_CSUM)) &&
	   (be->offloads & (1ULL << VIRTIO_NET_F_HOST_TSO4)) &&
	   (be->offloads & (1ULL << VIRTIO_NET_F_GUEST_CSUM)),
	   "  offloads: CSUM, GUEST_CSUM, HOST_TSO4");
	ok(!(be->offloads & (1ULL << VIRTIO_NET_F_HOST_UFO)), "  but not HOST_UFO");
	is_int(ethtool_get(name, ETHTOOL_GTXCSUM), 0, "  no receive offload yet (tx-checksum off)");
	be->ops->destroy(be);
	is_int(if_nametoindex(name), 0, "destroy removes it");

	o = tap_opts("nkvmt0");
	r = net_tap_create(&be, &o, err, sizeof(err));
	if (!ok(r == 0, "create tap nkvmt0 (a name not in use)")) {
		diag("  %d: %s", r, err);
		return;
	}
	is_str(net_tap_ifname(be), "nkvmt0", "  named nkvmt0");
	ok(if_nametoindex("nkvmt0") != 0, "  exists");
	{
		struct net_backend *be2 = NULL;

		err[0] = '\0';
		r = net_tap_create(&be2, &o, err, sizeof(err));
		is_int(r, -EBUSY, "  a second attach -> -EBUSY");
		ok(strstr(err, "tap nkvmt0") && strstr(err, "in use"),
		   "  error names the tap and says in use: %s", err);
		if (r == 0)
			be2->ops->destroy(be2);
	}
	be->ops->destroy(be);
	is_int(if_nametoindex("nkvmt0"), 0, "  destroy removes it");
}

static void test_persistent(void)
{
	struct net_opts o = tap_opts("nkvmp0");
	struct net_backend *be = NULL;
	char err[256] = "";
	int r;

	r = tap_persist("nkvmp0", 1);
	if (!ok(r == 0, "persistent tap nkvmp0 made (TUNSETIFF + TUNSETPERSIST)")) {
		diag("  %s", strerror(-r));
		return;
	}
	r = net_tap_create(&be, &o, err, sizeof(err));
	if (ok(r == 0, "attach to it by name")) {
		is_str(net_tap_ifname(be), "nkvmp0", "  named nkvmp0");
		be->ops->destroy(be);
	} else {
		diag("  %d: %s", r, err);
	}
	ok(if_nametoindex("nkvmp0") != 0, "  still there after destroy");
	is_int(tap_persist("nkvmp0", 0), 0, "  made non-persistent");
	is_int(if_nametoindex("nkvmp0"), 0, "  then gone");
}

static void test_not_a_tap(void)
{
	struct net_opts o = tap_opts("lo");
	struct net_backend *be = NULL;
	struct ifreq ifr = { 0 };
	char err[256] = "";
	int r, fd;

	r = net_tap_create(&be, &o, err, sizeof(err));
	ok(r < 0, "ifname lo: refused (%d)", r);
	is_int(r, -EINVAL, "  -EINVAL");
	ok(strstr(err, "tap lo") != NULL, "  error mentions \"tap lo\": %s", err);
	ok(if_nametoindex("lo") != 0, "  lo untouched");
	if (r == 0)
		be->ops->destroy(be);

	/* a tun (not tap) device of that name, held open */
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "nkvmu0");
	if (!ok(fd >= 0 && ioctl(fd, TUNSETIFF, &ifr) == 0, "a tun device nkvmu0")) {
		if (fd >= 0)
			close(fd);
		return;
	}
	o = tap_opts("nkvmu0");
	err[0] = '\0';
	r = net_tap_create(&be, &o, err, sizeof(err));
	is_int(r, -EINVAL, "  attaching a tap to it -> -EINVAL");
	ok(strstr(err, "tap nkvmu0") && strstr(err, "not a tap"),
	   "  error names it and says not a tap: %s", err);
	if (r == 0)
		be->ops->destroy(be);
	close(fd);
	is_int(if_nametoindex("nkvmu0"), 0, "  the tun goes with its fd");
}

static void test_offloads(void)
{
	struct net_opts o = tap_opts("nkvmo0");
	struct net_backend *be = NULL;
	char err[256] = "";
	uint64_t f;

	if (net_tap_create(&be, &o, err, sizeof(err)) < 0) {
		ok(0, "create nkvmo0: %s", err);
		return;
	}
	if (ethtool_get("nkvmo0", ETHTOOL_GTXCSUM) < 0) {
		diag("no ethtool features: offload checks skipped");
		be->ops->destroy(be);
		return;
	}
	f = (1ULL << VIRTIO_NET_F_GUEST_CSUM) | (1ULL << VIRTIO_NET_F_GUEST_TSO4) |
	    (1ULL << VIRTIO_NET_F_GUEST_TSO6);
	be->ops->set_features(be, f);
	ok(ethtool_get("nkvmo0", ETHTOOL_GTXCSUM) == 1 &&
	   ethtool_get("nkvmo0", ETHTOOL_GTSO) == 1,
	   "GUEST_CSUM + GUEST_TSO4/6: the tap may hand over partial checksums and TSO");
	be->ops->set_features(be, f | (1ULL << VIRTIO_NET_F_GUEST_UFO) |
			      (1ULL << VIRTIO_NET_F_GUEST_ECN));
	ok(ethtool_get("nkvmo0", ETHTOOL_GTXCSUM) == 1 &&
	   ethtool_get("nkvmo0", ETHTOOL_GTSO) == 1,
	   "  with GUEST_UFO and GUEST_ECN too (UFO dropped if the kernel refuses it)");
	be->ops->set_features(be, (1ULL << VIRTIO_NET_F_GUEST_TSO4) |
			      (1ULL << VIRTIO_NET_F_CSUM));
	ok(ethtool_get("nkvmo0", ETHTOOL_GTXCSUM) == 0 &&
	   ethtool_get("nkvmo0", ETHTOOL_GTSO) == 0,
	   "GUEST_TSO4 without GUEST_CSUM: nothing offloaded");
	be->ops->set_features(be, 1ULL << VIRTIO_NET_F_GUEST_CSUM);
	ok(ethtool_get("nkvmo0", ETHTOOL_GTXCSUM) == 1 &&
	   ethtool_get("nkvmo0", ETHTOOL_GTSO) == 0,
	   "GUEST_CSUM alone: checksums only");
	be->ops->set_features(be, 0);
	is_int(ethtool_get("nkvmo0", ETHTOOL_GTXCSUM), 0, "none: off again");
	be->ops->destroy(be);
}

static void test_frames(void)
{
	struct net_opts o = tap_opts("nkvmd0");
	struct net_backend *be = NULL;
	struct sockaddr_ll sll = { .sll_family = AF_PACKET,
				   .sll_protocol = htons(ETHERTYPE_TEST) };
	uint8_t hdr[NET_HDR_LEN] = { 0 }, fr[4][FRAME_LEN], buf[2048];
	struct iovec iov[3];
	struct pollfd pfd;
	char err[256] = "";
	struct evl evl;
	int ps = -1, r;
	unsigned nr;
	ssize_t n;

	if (evl_init(&evl) < 0) {
		ok(0, "evl_init");
		return;
	}
	if (net_tap_create(&be, &o, err, sizeof(err)) < 0) {
		ok(0, "create nkvmd0: %s", err);
		evl_destroy(&evl);
		return;
	}
	ok(be->ops->recv_into != NULL, "the tap reads through recv_into");
	is_int(be->ops->start(be, &evl), -EINVAL, "start without a device pull(): -EINVAL");
	fake_attach(be);
	is_int(be->ops->start(be, &evl), 0, "start on an event loop");
	is_int(if_up("nkvmd0"), 0, "  nkvmd0 up");
	sll.sll_ifindex = (int)if_nametoindex("nkvmd0");
	ps = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETHERTYPE_TEST));
	if (!ok(ps >= 0 && bind(ps, (struct sockaddr *)&sll, sizeof(sll)) == 0,
		"  packet socket bound to it"))
		goto out;

	/* guest -> wire: header + frame in pieces */
	for (unsigned i = 0; i < 4; i++)
		mkframe(fr[i], (uint8_t)(i + 1));
	iov[0] = (struct iovec){ hdr, NET_HDR_LEN };
	iov[1] = (struct iovec){ fr[0], 20 };
	iov[2] = (struct iovec){ fr[0] + 20, FRAME_LEN - 20 };
	is_int(be->ops->send(be, iov, 3), 0, "send: header + frame in 2 pieces");
	pfd = (struct pollfd){ .fd = ps, .events = POLLIN };
	n = poll(&pfd, 1, 1000) == 1 ? recv(ps, buf, sizeof(buf), 0) : -1;
	ok(n == FRAME_LEN && memcmp(buf, fr[0], FRAME_LEN) == 0,
	   "  the packet socket receives the same %d bytes (got %zd)", FRAME_LEN, n);
	iov[0] = (struct iovec){ hdr, 4 };
	r = be->ops->send(be, iov, 1);
	ok(r < 0, "send of a 4-byte header fragment: an error (%d), not a crash", r);

	/* wire -> guest: read straight into the device's two buffers */
	n = sendto(ps, fr[1], FRAME_LEN, 0, (struct sockaddr *)&sll, sizeof(sll));
	is_int(n, FRAME_LEN, "packet socket sends a frame on the tap");
	run_until(&evl, 1, ~0u);
	if (ok(fdev.nr == 1, "  pull read it through recv_into")) {
		is_int(fdev.len[0], NET_HDR_LEN + FRAME_LEN, "  12-byte header + the frame");
		ok(memcmp(fdev.frame[0] + NET_HDR_LEN, fr[1], FRAME_LEN) == 0,
		   "  same bytes, across both buffers");
		ok(fdev.frame[0][0] == 0 && fdev.frame[0][1] == VIRTIO_NET_HDR_GSO_NONE,
		   "  header: no flags, no GSO");
	}

	/* the guest has no room: the frames stay in the tap */
	fdev.eagain = true;
	nr = fdev.nr;
	sendto(ps, fr[2], FRAME_LEN, 0, (struct sockaddr *)&sll, sizeof(sll));
	run_until(&evl, ~0u, fdev.calls + 1);
	is_int(fdev.eagain_calls, 1, "pull -> -EAGAIN once");
	sendto(ps, fr[3], FRAME_LEN, 0, (struct sockaddr *)&sll, sizeof(sll));
	for (int i = 0; i < 5; i++)
		evl_run_once(&evl, 20);
	is_int(fdev.eagain_calls, 1, "  another frame comes: the tap is not watched meanwhile");
	fdev.eagain = false;
	be->ops->rx_ready(be);
	run_until(&evl, nr + 2, ~0u);
	if (ok(fdev.nr == nr + 2, "rx_ready: both frames read")) {
		ok(memcmp(fdev.frame[nr] + NET_HDR_LEN, fr[2], FRAME_LEN) == 0 &&
		   memcmp(fdev.frame[nr + 1] + NET_HDR_LEN, fr[3], FRAME_LEN) == 0,
		   "  in order, nothing lost");
	}

	/* the tap is polled again */
	sendto(ps, fr[1], FRAME_LEN, 0, (struct sockaddr *)&sll, sizeof(sll));
	run_until(&evl, nr + 3, ~0u);
	is_int(fdev.nr, nr + 3, "and reading goes on");

	/* no driver: what waits is discarded, not left to spin the loop */
	fdev.netdown = true;
	sendto(ps, fr[2], FRAME_LEN, 0, (struct sockaddr *)&sll, sizeof(sll));
	sendto(ps, fr[3], FRAME_LEN, 0, (struct sockaddr *)&sll, sizeof(sll));
	run_until(&evl, ~0u, fdev.calls + 1);
	for (int i = 0; i < 5; i++)
		evl_run_once(&evl, 10);
	fdev.netdown = false;
	nr = fdev.nr;
	sendto(ps, fr[1], FRAME_LEN, 0, (struct sockaddr *)&sll, sizeof(sll));
	run_until(&evl, nr + 1, ~0u);
	ok(fdev.nr == nr + 1 && memcmp(fdev.frame[nr] + NET_HDR_LEN, fr[1], FRAME_LEN) == 0,
	   "-ENETDOWN: the frames waiting were discarded; the next is read");

	/* recv_into itself: tun's readv semantics the device relies on */
	{
		uint8_t small[NET_HDR_LEN + 20], tail[2];
		struct iovec one = { small, sizeof(small) };
		struct iovec two[2] = { { small, sizeof(small) }, { tail, 1 } };

		is_int(be->ops->recv_into(be, &one, 1), -EAGAIN, "recv_into, nothing waiting: -EAGAIN");
		sendto(ps, fr[2], FRAME_LEN, 0, (struct sockaddr *)&sll, sizeof(sll));
		/* the loop is not run: nothing else reads the tap */
		for (int i = 0; i < 100 && (n = be->ops->recv_into(be, two, 2)) == -EAGAIN; i++)
			poll(NULL, 0, 10);
		ok(n > (ssize_t)sizeof(small),
		   "recv_into 32 + 1 bytes: %zd, more than 32, so the device sees the cut", n);
		ok(memcmp(small + NET_HDR_LEN, fr[2], 20) == 0 && tail[0] == fr[2][20],
		   "  the first 21 frame bytes");
		is_int(be->ops->recv_into(be, &one, 1), -EAGAIN, "  the rest is gone, not read next");
	}
out:
	if (ps >= 0)
		close(ps);
	be->ops->destroy(be);
	is_int(if_nametoindex("nkvmd0"), 0, "destroy after start: gone");
	evl_run_once(&evl, 0);
	ok(1, "  the event loop runs on without it");
	evl_destroy(&evl);
}

/* `ip link del` of the tap while nkvm holds it (and a frame the guest has
 * no room for): epoll then reports the fd for ever, EPOLLERR even with no
 * events asked for; the back end must stop watching it, not spin. */
static void test_deleted(void)
{
	struct net_opts o = tap_opts("nkvmx0");
	struct net_backend *be = NULL;
	struct sockaddr_ll sll = { .sll_family = AF_PACKET,
				   .sll_protocol = htons(ETHERTYPE_TEST) };
	uint8_t hdr[NET_HDR_LEN] = { 0 }, fr[FRAME_LEN];
	struct iovec iov[2] = { { hdr, NET_HDR_LEN }, { fr, FRAME_LEN } };
	char err[256] = "";
	struct evl evl;
	int ps, ran, r;

	if (evl_init(&evl) < 0) {
		ok(0, "evl_init");
		return;
	}
	if (net_tap_create(&be, &o, err, sizeof(err)) < 0) {
		ok(0, "create nkvmx0: %s", err);
		evl_destroy(&evl);
		return;
	}
	fake_attach(be);
	if (be->ops->start(be, &evl) < 0 || if_up("nkvmx0") < 0) {
		ok(0, "start nkvmx0");
		goto out;
	}
	sll.sll_ifindex = (int)if_nametoindex("nkvmx0");
	ps = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETHERTYPE_TEST));
	mkframe(fr, 9);
	fdev.eagain = true;
	if (ps >= 0) {
		sendto(ps, fr, FRAME_LEN, 0, (struct sockaddr *)&sll, sizeof(sll));
		close(ps);
	}
	run_until(&evl, ~0u, 1);
	is_int(fdev.eagain_calls, 1, "nkvmx0: a frame waits in the tap for a guest without buffers");
	r = link_del("nkvmx0");
	if (!ok(r == 0, "ip link del nkvmx0 while attached")) {
		diag("  %s", strerror(-r));
		goto out;
	}
	ran = 0;
	for (int i = 0; i < 20; i++)
		ran += evl_run_once(&evl, 0);
	ok(ran <= 1, "  the event loop goes quiet (%d callbacks in 20 turns)", ran);
	ok(be->ops->send(be, iov, 2) < 0, "  send fails (dropped), no crash");
	fdev.eagain = false;
	be->ops->rx_ready(be);
	ran = 0;
	for (int i = 0; i < 20; i++)
		ran += evl_run_once(&evl, 0);
	ok(ran <= 1, "  rx_ready: still quiet (%d callbacks)", ran);
	is_int(fdev.nr, 0, "  the frame went with the tap (nkvm held none)");
out:
	be->ops->destroy(be);
	evl_destroy(&evl);
}

int main(void)
{
	int fd;

	log_threshold = LOG_ERR;
	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root (CAP_NET_ADMIN) to create taps\n");
		return 0;
	}
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		printf("1..0 # SKIP /dev/net/tun: %s\n", strerror(errno));
		return 0;
	}
	close(fd);
	/* a throwaway namespace: the host's interfaces are never touched */
	if (unshare(CLONE_NEWNET) < 0) {
		printf("1..0 # SKIP no network namespace: %s\n", strerror(errno));
		return 0;
	}
	no_ipv6();

	test_create();
	test_persistent();
	test_not_a_tap();
	test_offloads();
	test_frames();
	test_deleted();
	return done_testing();
}
