/*
 * The libslirp back end, for real: a fake device records what deliver()
 * gets while the test plays the guest (ARP, DHCP by hand-built frames), a
 * host client connects to a forwarded port, the guest reaches the host's
 * loopback as 10.0.2.2 (or, with restrict=on, does not), and the bounds
 * and the -EAGAIN backlog are checked. Needs loopback sockets only.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "nkvm/net_opts.h"
#include "nkvm/net_slirp.h"
#include "tap.h"

#define MAX_FRAMES 512
#define WAIT_MS 2000
#define SILENT_MS 1000  /* how long "nothing arrives" is watched for */

#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_ACK 0x10

static const uint8_t guest_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const uint8_t gw_mac[6] = { 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02 };
static const uint8_t guest_ip[4] = { 10, 0, 2, 15 }, gw_ip[4] = { 10, 0, 2, 2 };

/* The fake virtio-net device: frames as deliver() saw them. */
struct fake_dev {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool eagain;             /* no rx buffers */
	unsigned eagain_calls;
	unsigned nr;
	size_t len[MAX_FRAMES];
	uint8_t *frame[MAX_FRAMES];
	bool off_thread;         /* deliver ran on a thread other than main */
};

static pthread_t main_thread;

static int fake_deliver(void *opaque, const struct iovec *iov, unsigned n)
{
	struct fake_dev *d = opaque;
	size_t total = 0, off = 0;
	unsigned i;
	uint8_t *buf;

	pthread_mutex_lock(&d->lock);
	d->off_thread = !pthread_equal(pthread_self(), main_thread);
	if (d->eagain) {
		d->eagain_calls++;
		pthread_cond_broadcast(&d->cond);
		pthread_mutex_unlock(&d->lock);
		return -EAGAIN;
	}
	for (i = 0; i < n; i++)
		total += iov[i].iov_len;
	buf = malloc(total);
	for (i = 0; buf && i < n; i++) {
		memcpy(buf + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	if (buf && d->nr < MAX_FRAMES) {
		d->frame[d->nr] = buf;
		d->len[d->nr++] = total;
	} else {
		free(buf);
	}
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
	return 0;
}

static void fake_init(struct fake_dev *d)
{
	memset(d, 0, sizeof(*d));
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->cond, NULL);
}

static void fake_free(struct fake_dev *d)
{
	unsigned i;

	for (i = 0; i < d->nr; i++)
		free(d->frame[i]);
	pthread_mutex_destroy(&d->lock);
	pthread_cond_destroy(&d->cond);
}

static void deadline(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

typedef bool (*frame_pred)(const uint8_t *f, size_t len, const void *arg);

/* Wait for a frame (from index *from on) that pred accepts; its index or -1. */
static int wait_frame(struct fake_dev *d, unsigned *from, frame_pred pred,
		      const void *arg)
{
	struct timespec ts;
	int found = -1;

	deadline(&ts, WAIT_MS);
	pthread_mutex_lock(&d->lock);
	for (;;) {
		for (; *from < d->nr; (*from)++) {
			if (pred(d->frame[*from], d->len[*from], arg)) {
				found = (int)(*from)++;
				goto out;
			}
		}
		if (pthread_cond_timedwait(&d->cond, &d->lock, &ts) == ETIMEDOUT)
			break;
	}
out:
	pthread_mutex_unlock(&d->lock);
	return found;
}

static bool wait_eagain(struct fake_dev *d, unsigned calls)
{
	struct timespec ts;
	bool r;

	deadline(&ts, WAIT_MS);
	pthread_mutex_lock(&d->lock);
	while (d->eagain_calls < calls &&
	       pthread_cond_timedwait(&d->cond, &d->lock, &ts) != ETIMEDOUT)
		;
	r = d->eagain_calls >= calls;
	pthread_mutex_unlock(&d->lock);
	return r;
}

/* Poll the back end's counters until tx_frames reaches n. */
static bool wait_tx(struct net_backend *be, unsigned long n)
{
	struct net_slirp_stats st;
	int i;

	for (i = 0; i < WAIT_MS; i++) {
		net_slirp_get_stats(be, &st);
		if (st.tx_frames >= n)
			return true;
		usleep(1000);
	}
	return false;
}

/* ---- frames ---- */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += get16(p + i);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* virtio-net header + ARP who-has 10.0.2.2 from 10.0.2.15; returns length. */
static size_t build_arp_request(uint8_t *b, uint8_t target_last)
{
	uint8_t *e = b + NET_HDR_LEN, *a = e + 14;

	memset(b, 0, NET_HDR_LEN + 42);
	memset(e, 0xff, 6);
	memcpy(e + 6, guest_mac, 6);
	put16(e + 12, 0x0806);
	put16(a, 1);
	put16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, 1);
	memcpy(a + 8, guest_mac, 6);
	memcpy(a + 14, "\x0a\x00\x02\x0f", 4);
	memcpy(a + 24, "\x0a\x00\x02", 3);
	a[27] = target_last;
	return NET_HDR_LEN + 42;
}

static bool is_arp_reply(const uint8_t *f, size_t len, const void *arg)
{
	const uint8_t *e = f + NET_HDR_LEN, *a = e + 14;
	const uint8_t *sip = arg;

	return len >= NET_HDR_LEN + 42 && get16(e + 12) == 0x0806 &&
	       get16(a + 6) == 2 && !memcmp(a + 14, sip, 4);
}

/*
 * virtio-net header + Ethernet + a 20-byte IPv4 header from the guest's MAC
 * to dmac, src -> dst, for l4len bytes of protocol proto (zeroed); returns
 * the IP header. The caller fills in the L4 part, then its checksum.
 */
static uint8_t *build_ip(uint8_t *b, const uint8_t dmac[6], const uint8_t src[4],
			 const uint8_t dst[4], uint8_t proto, size_t l4len)
{
	uint8_t *e = b + NET_HDR_LEN, *ip = e + 14;

	memset(b, 0, NET_HDR_LEN + 14 + 20 + l4len);
	memcpy(e, dmac, 6);
	memcpy(e + 6, guest_mac, 6);
	put16(e + 12, 0x0800);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + l4len));
	put16(ip + 4, 0x1234);
	ip[8] = 64;
	ip[9] = proto;
	memcpy(ip + 12, src, 4);
	memcpy(ip + 16, dst, 4);
	put16(ip + 10, csum_fold(csum_add(0, ip, 20)));
	return ip;
}

/* The TCP/UDP checksum of the packet at ip (pseudo header included): the
 * value to store when the field is zero, 0 when the stored one is right. */
static uint16_t l4_csum(const uint8_t *ip)
{
	size_t ihl = (size_t)(ip[0] & 15) * 4, l4len = get16(ip + 2) - ihl;
	uint32_t sum = csum_add(0, ip + 12, 8);

	sum += ip[9] + l4len;
	return csum_fold(csum_add(sum, ip + ihl, l4len));
}

#define BOOTP_LEN 548   /* 236 fixed + 312 of options: a full DHCP message */

/* virtio-net header + DHCPDISCOVER, with valid IP and UDP checksums. */
static size_t build_dhcp_discover(uint8_t *b)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t any[4];
	uint8_t *ip = build_ip(b, bcast, any, bcast, 17, 8 + BOOTP_LEN);
	uint8_t *udp = ip + 20, *bp = udp + 8, *opt = bp + 240;

	put16(udp, 68);
	put16(udp + 2, 67);
	put16(udp + 4, 8 + BOOTP_LEN);
	bp[0] = 1;                                /* BOOTREQUEST */
	bp[1] = 1;
	bp[2] = 6;
	memcpy(bp + 4, "\xde\xad\xbe\xef", 4);    /* xid */
	memcpy(bp + 28, guest_mac, 6);            /* chaddr */
	memcpy(bp + 236, "\x63\x82\x53\x63", 4);  /* magic cookie */
	opt[0] = 53;                              /* message type: DISCOVER */
	opt[1] = 1;
	opt[2] = 1;
	opt[3] = 255;
	put16(udp + 6, l4_csum(ip));
	return NET_HDR_LEN + 14 + 20 + 8 + BOOTP_LEN;
}

/* A TCP segment without data from the guest's sport to 10.0.2.2:dport. */
static size_t build_tcp(uint8_t *b, uint16_t sport, uint16_t dport, uint32_t seq,
			uint8_t flags)
{
	uint8_t *ip = build_ip(b, gw_mac, guest_ip, gw_ip, 6, 20), *tcp = ip + 20;

	put16(tcp, sport);
	put16(tcp + 2, dport);
	put32(tcp + 4, seq);
	tcp[12] = 5 << 4;                         /* data offset: no options */
	tcp[13] = flags;
	put16(tcp + 14, 65535);                   /* window */
	put16(tcp + 16, l4_csum(ip));
	return NET_HDR_LEN + 14 + 20 + 20;
}

/* A UDP datagram from the guest's sport to 10.0.2.2:dport. */
static size_t build_udp(uint8_t *b, uint16_t sport, uint16_t dport, const char *payload)
{
	size_t plen = strlen(payload);
	uint8_t *ip = build_ip(b, gw_mac, guest_ip, gw_ip, 17, 8 + plen), *udp = ip + 20;

	put16(udp, sport);
	put16(udp + 2, dport);
	put16(udp + 4, (uint16_t)(8 + plen));
	memcpy(udp + 8, payload, plen);
	put16(udp + 6, l4_csum(ip));
	return NET_HDR_LEN + 14 + 20 + 8 + plen;
}

/* A DHCP message type option in a BOOTP reply, or -1. */
static int dhcp_msg_type(const uint8_t *bp, size_t len)
{
	size_t i = 240;

	if (len < 240 || memcmp(bp + 236, "\x63\x82\x53\x63", 4))
		return -1;
	while (i + 1 < len && bp[i] != 255) {
		if (bp[i] == 0) {
			i++;
			continue;
		}
		if (bp[i] == 53 && bp[i + 1] == 1 && i + 2 < len)
			return bp[i + 2];
		i += 2 + bp[i + 1];
	}
	return -1;
}

static bool is_dhcp_offer(const uint8_t *f, size_t len, const void *arg)
{
	const uint8_t *e = f + NET_HDR_LEN, *ip = e + 14, *udp, *bp;
	size_t ihl;

	if (len < NET_HDR_LEN + 14 + 20 || get16(e + 12) != 0x0800 || ip[9] != 17)
		return false;
	ihl = (size_t)(ip[0] & 15) * 4;
	udp = ip + ihl;
	bp = udp + 8;
	if (len < NET_HDR_LEN + 14 + ihl + 8 + 240 || get16(udp) != 67 ||
	    get16(udp + 2) != 68 || bp[0] != 2)
		return false;
	return dhcp_msg_type(bp, len - (size_t)(bp - f)) == 2;
}

/* A TCP SYN to 10.0.2.15:port, what slirp sends for a hostfwd connection. */
static bool is_syn_to(const uint8_t *f, size_t len, const void *arg)
{
	const uint8_t *e = f + NET_HDR_LEN, *ip = e + 14, *tcp;
	uint16_t port = *(const uint16_t *)arg;

	if (len < NET_HDR_LEN + 14 + 40 || get16(e + 12) != 0x0800 || ip[9] != 6)
		return false;
	tcp = ip + (ip[0] & 15) * 4;
	return !memcmp(ip + 16, "\x0a\x00\x02\x0f", 4) && get16(tcp + 2) == port &&
	       (tcp[13] & 0x12) == 0x02;
}

/* TCP or UDP from slirp to the guest (10.0.2.15); a zero port matches any. */
struct l4_match {
	uint8_t proto;
	uint16_t sport, dport;
	uint8_t flags_mask, flags;   /* TCP: (flags & flags_mask) == flags */
	const char *payload;         /* UDP: exactly this payload, if set */
};

static bool is_l4(const uint8_t *f, size_t len, const void *arg)
{
	const struct l4_match *m = arg;
	const uint8_t *e = f + NET_HDR_LEN, *ip = e + 14, *l4;
	size_t ihl, iplen, plen;

	if (len < NET_HDR_LEN + 14 + 20 || get16(e + 12) != 0x0800 || ip[9] != m->proto)
		return false;
	ihl = (size_t)(ip[0] & 15) * 4;
	iplen = get16(ip + 2);
	if (ihl < 20 || iplen < ihl + (m->proto == 6 ? 20 : 8) ||
	    len < NET_HDR_LEN + 14 + iplen)
		return false;
	l4 = ip + ihl;
	if (memcmp(ip + 16, guest_ip, 4) || (m->sport && get16(l4) != m->sport) ||
	    (m->dport && get16(l4 + 2) != m->dport))
		return false;
	if (m->proto == 6)
		return (l4[13] & m->flags_mask) == m->flags;
	if (!m->payload)
		return true;
	plen = strlen(m->payload);
	return get16(l4 + 4) == 8 + plen && iplen >= ihl + 8 + plen &&
	       !memcmp(l4 + 8, m->payload, plen);
}

/* How many frames deliver() got so far that pred accepts. */
static unsigned count_frames(struct fake_dev *d, frame_pred pred, const void *arg)
{
	unsigned i, n = 0;

	pthread_mutex_lock(&d->lock);
	for (i = 0; i < d->nr; i++)
		n += pred(d->frame[i], d->len[i], arg);
	pthread_mutex_unlock(&d->lock);
	return n;
}

/* ---- helpers ---- */

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n - 1;	/* the DIR's own fd */
}

/* A bound (and, for TCP, listening) loopback socket; port 0 = any. */
static int bound_socket(int type, uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(*port);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    ((type & ~SOCK_NONBLOCK) == SOCK_STREAM && listen(fd, 1) < 0) ||
	    getsockname(fd, (struct sockaddr *)&a, &alen) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*port = ntohs(a.sin_port);
	return fd;
}

static uint16_t free_port(int type)
{
	uint16_t port = 0;
	int fd = bound_socket(type, &port);

	if (fd < 0)
		return 0;
	close(fd);
	return port;
}

static struct net_opts user_opts(const char *spec)
{
	struct net_opts o;
	char err[256];

	if (net_opts_parse(spec, &o, err, sizeof(err)) < 0) {
		diag("bad spec %s: %s", spec, err);
		memset(&o, 0, sizeof(o));
	}
	return o;
}

static int send_buf(struct net_backend *be, const uint8_t *b, size_t len)
{
	struct iovec iov = { .iov_base = (void *)b, .iov_len = len };

	return be->ops->send(be, &iov, 1);
}

/* The guest asks for 10.0.2.2's MAC, so that slirp learns the guest's and
 * can send it IP. True when the reply came. */
static bool guest_arp(struct net_backend *be, struct fake_dev *d)
{
	uint8_t buf[NET_HDR_LEN + 42];
	unsigned from = 0;

	return send_buf(be, buf, build_arp_request(buf, 2)) == 0 &&
	       wait_frame(d, &from, is_arp_reply, gw_ip) >= 0;
}

/* Wait up to ms for any of fds to become readable: how many are. */
static int wait_readable(struct pollfd *p, unsigned n, int ms)
{
	unsigned i;

	for (i = 0; i < n; i++)
		p[i].events = POLLIN;
	return poll(p, n, ms);
}

/* accept() on a non-blocking listener within ms; the fd or -1. */
static int accept_within(int lfd, int ms)
{
	struct pollfd p = { .fd = lfd };

	if (wait_readable(&p, 1, ms) != 1)
		return -1;
	return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
}

/* One datagram on a non-blocking socket within ms; its length or -1. */
static ssize_t recv_within(int fd, void *buf, size_t len, int ms,
			   struct sockaddr_in *from)
{
	struct pollfd p = { .fd = fd };
	socklen_t alen = sizeof(*from);

	if (wait_readable(&p, 1, ms) != 1)
		return -1;
	return recvfrom(fd, buf, len, 0, (struct sockaddr *)from, &alen);
}

/* ---- tests ---- */

static void test_guest_traffic(void)
{
	static const uint8_t host_ip[4] = { 10, 0, 2, 2 }, dns_ip[4] = { 10, 0, 2, 3 };
	struct net_backend *be = NULL;
	struct net_slirp_stats st;
	struct fake_dev d;
	struct net_opts o;
	uint8_t buf[1024], zero[NET_HDR_LEN] = { 0 };
	struct iovec iov[3];
	struct sockaddr_in a = { .sin_family = AF_INET };
	char spec[128], err[256] = "";
	unsigned from = 0;
	uint16_t port = free_port(SOCK_STREAM), gport = 22;
	size_t len;
	int i, r, c;

	fake_init(&d);
	snprintf(spec, sizeof(spec), "user,hostfwd=tcp:127.0.0.1:%u-:22", port);
	o = user_opts(spec);
	r = net_slirp_create(&be, &o, err, sizeof(err));
	is_int(r, 0, "create with hostfwd on 127.0.0.1:%u", port);
	if (r) {
		diag("  %s", err);
		fake_free(&d);
		return;
	}
	ok(!strcmp(be->kind, "user") && be->offloads == 0, "kind user, no offloads");
	is_int(be->ops->start(be, NULL), -EINVAL, "start without deliver: -EINVAL");
	be->deliver = fake_deliver;
	be->dev = &d;
	is_int(be->ops->start(be, NULL), 0, "start");
	is_int(be->ops->start(be, NULL), -EBUSY, "second start: -EBUSY");

	/* ARP, with the header split across iovecs to test the copy */
	len = build_arp_request(buf, 2);
	iov[0] = (struct iovec){ buf, 5 };
	iov[1] = (struct iovec){ buf + 5, 10 };
	iov[2] = (struct iovec){ buf + 15, len - 15 };
	is_int(be->ops->send(be, iov, 3), 0, "send ARP who-has 10.0.2.2 (3 iovecs)");
	i = wait_frame(&d, &from, is_arp_reply, host_ip);
	ok(i >= 0, "ARP reply from 10.0.2.2 delivered");
	if (i >= 0) {
		const uint8_t *f = d.frame[i], *a6 = f + NET_HDR_LEN + 14;

		ok(!memcmp(f, zero, NET_HDR_LEN), "12-byte zeroed virtio-net header in front");
		ok(!memcmp(f + NET_HDR_LEN, guest_mac, 6) && !memcmp(a6 + 18, guest_mac, 6),
		   "addressed to the guest's MAC");
		ok(!memcmp(a6 + 8, "\x52\x55\x0a\x00\x02\x02", 6),
		   "sender MAC 52:55:0a:00:02:02");
		ok(d.off_thread, "deliver() ran on the back end's thread");
	}
	len = build_arp_request(buf, 3);
	is_int(send_buf(be, buf, len), 0, "send ARP who-has 10.0.2.3");
	ok(wait_frame(&d, &from, is_arp_reply, dns_ip) >= 0, "ARP reply from 10.0.2.3");

	len = build_dhcp_discover(buf);
	is_int(send_buf(be, buf, len), 0, "send DHCPDISCOVER (%zu bytes)", len);
	i = wait_frame(&d, &from, is_dhcp_offer, NULL);
	ok(i >= 0, "DHCPOFFER delivered");
	if (i >= 0) {
		const uint8_t *ip = d.frame[i] + NET_HDR_LEN + 14;
		const uint8_t *bp = ip + (ip[0] & 15) * 4 + 8;

		ok(!memcmp(bp + 16, "\x0a\x00\x02\x0f", 4), "offers yiaddr 10.0.2.15");
		ok(!memcmp(bp + 4, "\xde\xad\xbe\xef", 4), "same xid");
		ok(csum_fold(csum_add(0, ip, (ip[0] & 15) * 4)) == 0, "IP checksum valid");
	}

	/* a host client on the forwarded port reaches the guest's port 22 */
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	ok(c >= 0 && connect(c, (struct sockaddr *)&a, sizeof(a)) == 0,
	   "connect to the hostfwd port");
	ok(wait_frame(&d, &from, is_syn_to, &gport) >= 0,
	   "slirp sends the guest a SYN to 10.0.2.15:22");
	if (c >= 0)
		close(c);

	net_slirp_get_stats(be, &st);
	ok(st.tx_frames == 3 && st.rx_frames >= 3 && st.tx_dropped == 0,
	   "counters: %lu tx, %lu rx", st.tx_frames, st.rx_frames);
	be->ops->destroy(be);
	fake_free(&d);
}

/*
 * restrict=off: the guest reaches the host's loopback as 10.0.2.2, by TCP
 * (slirp connects to the test's listener and answers the guest's SYN) and
 * by UDP; a UDP hostfwd rule brings a host datagram to the guest.
 */
static void test_host_loopback(void)
{
	static const char out_msg[] = "guest to host over udp", in_msg[] = "host to guest";
	struct l4_match synack = { .proto = 6, .dport = 40000,
				   .flags_mask = TH_SYN | TH_ACK | TH_RST,
				   .flags = TH_SYN | TH_ACK };
	struct l4_match udp_in = { .proto = 17, .dport = 5353, .payload = in_msg };
	struct net_backend *be = NULL;
	struct sockaddr_in a = { .sin_family = AF_INET }, src;
	struct fake_dev d;
	struct net_opts o;
	uint8_t buf[256];
	char spec[128], err[256] = "", rbuf[64];
	uint16_t tport = 0, uport = 0, fport = free_port(SOCK_DGRAM);
	int lfd = bound_socket(SOCK_STREAM | SOCK_NONBLOCK, &tport);
	int ufd = bound_socket(SOCK_DGRAM | SOCK_NONBLOCK, &uport);
	int c = -1, i, hc;
	unsigned from = 0;
	ssize_t n;

	fake_init(&d);
	snprintf(spec, sizeof(spec), "user,hostfwd=udp::%u-:5353", fport);
	o = user_opts(spec);
	if (lfd < 0 || ufd < 0 || !fport || net_slirp_create(&be, &o, err, sizeof(err)) < 0) {
		ok(0, "loopback sockets and create: %s", err);
		goto out;
	}
	be->deliver = fake_deliver;
	be->dev = &d;
	is_int(be->ops->start(be, NULL), 0, "start (restrict=off, udp hostfwd :%u)", fport);
	ok(guest_arp(be, &d), "slirp knows the guest's MAC (ARP)");

	/* TCP to 10.0.2.2:tport is a connect() to 127.0.0.1:tport */
	is_int(send_buf(be, buf, build_tcp(buf, 40000, tport, 0x11223344, TH_SYN)), 0,
	       "guest sends SYN to 10.0.2.2:%u", tport);
	c = accept_within(lfd, SILENT_MS);
	ok(c >= 0, "the host's listener on 127.0.0.1:%u accepts slirp's connection",
	   tport);
	synack.sport = tport;
	i = wait_frame(&d, &from, is_l4, &synack);
	ok(i >= 0, "the guest gets a SYN-ACK from port %u", tport);
	if (i >= 0) {
		const uint8_t *ip = d.frame[i] + NET_HDR_LEN + 14, *tcp = ip + 20;

		ok(!memcmp(ip + 12, gw_ip, 4) && get32(tcp + 8) == 0x11223345 &&
		   l4_csum(ip) == 0, "from 10.0.2.2, acks the SYN (0x%08x), checksum valid",
		   get32(tcp + 8));
	}

	/* UDP to 10.0.2.2:uport is a sendto() to 127.0.0.1:uport */
	is_int(send_buf(be, buf, build_udp(buf, 40001, uport, out_msg)), 0,
	       "guest sends UDP to 10.0.2.2:%u", uport);
	n = recv_within(ufd, rbuf, sizeof(rbuf), SILENT_MS, &src);
	ok(n == (ssize_t)strlen(out_msg) && !memcmp(rbuf, out_msg, (size_t)n) &&
	   src.sin_addr.s_addr == htonl(INADDR_LOOPBACK),
	   "the host's socket on 127.0.0.1:%u gets it (%zd bytes)", uport, n);

	/* UDP hostfwd: a datagram to 127.0.0.1:fport reaches 10.0.2.15:5353 */
	hc = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(fport);
	ok(hc >= 0 && sendto(hc, in_msg, strlen(in_msg), 0, (struct sockaddr *)&a,
			     sizeof(a)) == (ssize_t)strlen(in_msg),
	   "host sends a datagram to the udp hostfwd port %u", fport);
	from = 0;
	i = wait_frame(&d, &from, is_l4, &udp_in);
	ok(i >= 0, "the guest gets it at 10.0.2.15:5353, same payload");
	if (i >= 0) {
		const uint8_t *ip = d.frame[i] + NET_HDR_LEN + 14;

		ok(!memcmp(ip + 12, gw_ip, 4) && l4_csum(ip) == 0,
		   "from 10.0.2.2, UDP checksum valid");
	}
	if (hc >= 0)
		close(hc);
	be->ops->destroy(be);
out:
	if (c >= 0)
		close(c);
	if (lfd >= 0)
		close(lfd);
	if (ufd >= 0)
		close(ufd);
	fake_free(&d);
}

/*
 * restrict=on: the guest's SYN to 10.0.2.2 is refused with a RST (libslirp
 * 4.7's tcp_input: dropwithreset for a new connection that is not a
 * guestfwd) and no host connection is made; its UDP is dropped silently
 * (udp_input). A tcp hostfwd still brings host connections in.
 */
static void test_restrict(void)
{
	struct l4_match any_tcp = { .proto = 6, .dport = 40002 };
	struct l4_match synack = { .proto = 6, .dport = 40002,
				   .flags_mask = TH_SYN | TH_ACK, .flags = TH_SYN | TH_ACK };
	struct net_backend *be = NULL;
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct pollfd p[2];
	struct fake_dev d;
	struct net_opts o;
	uint8_t buf[256];
	char spec[128], err[256] = "", rbuf[64];
	uint16_t tport = 0, uport = 0, fport = free_port(SOCK_STREAM), gport = 2222;
	int lfd = bound_socket(SOCK_STREAM | SOCK_NONBLOCK, &tport);
	int ufd = bound_socket(SOCK_DGRAM | SOCK_NONBLOCK, &uport);
	int c, i, r;
	unsigned from = 0;

	fake_init(&d);
	snprintf(spec, sizeof(spec), "user,restrict=on,hostfwd=tcp::%u-:%u", fport, gport);
	o = user_opts(spec);
	if (lfd < 0 || ufd < 0 || !fport || net_slirp_create(&be, &o, err, sizeof(err)) < 0) {
		ok(0, "loopback sockets and create: %s", err);
		goto out;
	}
	be->deliver = fake_deliver;
	be->dev = &d;
	is_int(be->ops->start(be, NULL), 0, "start (restrict=on, tcp hostfwd :%u)", fport);
	ok(guest_arp(be, &d), "slirp knows the guest's MAC (ARP)");

	is_int(send_buf(be, buf, build_tcp(buf, 40002, tport, 0x55667788, TH_SYN)), 0,
	       "guest sends SYN to 10.0.2.2:%u", tport);
	is_int(send_buf(be, buf, build_udp(buf, 40003, uport, "must not leave")), 0,
	       "guest sends UDP to 10.0.2.2:%u", uport);
	ok(wait_tx(be, 3), "slirp took both frames");
	any_tcp.sport = tport;
	i = wait_frame(&d, &from, is_l4, &any_tcp);
	ok(i >= 0, "the guest gets an answer to its SYN");
	if (i >= 0) {
		const uint8_t *ip = d.frame[i] + NET_HDR_LEN + 14, *tcp = ip + 20;

		ok(tcp[13] == (TH_RST | TH_ACK) && get32(tcp + 8) == 0x55667789 &&
		   !memcmp(ip + 12, gw_ip, 4) && l4_csum(ip) == 0,
		   "it is a RST+ACK from 10.0.2.2 acking the SYN (flags 0x%02x)", tcp[13]);
	}

	/* nothing reaches the host's loopback in SILENT_MS */
	p[0] = (struct pollfd){ .fd = lfd };
	p[1] = (struct pollfd){ .fd = ufd };
	r = wait_readable(p, 2, SILENT_MS);
	c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	ok(r == 0 && c < 0 && errno == EAGAIN,
	   "no connection to 127.0.0.1:%u within %d ms", tport, SILENT_MS);
	if (c >= 0)
		close(c);
	ok(recv(ufd, rbuf, sizeof(rbuf), 0) < 0 && errno == EAGAIN,
	   "no datagram at 127.0.0.1:%u", uport);
	synack.sport = tport;
	is_int(count_frames(&d, is_l4, &synack), 0, "no SYN-ACK was delivered");

	/* hostfwd still works */
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(fport);
	ok(c >= 0 && connect(c, (struct sockaddr *)&a, sizeof(a)) == 0,
	   "connect to the tcp hostfwd port %u", fport);
	from = 0;
	ok(wait_frame(&d, &from, is_syn_to, &gport) >= 0,
	   "slirp sends the guest a SYN to 10.0.2.15:%u", gport);
	if (c >= 0)
		close(c);
	be->ops->destroy(be);
out:
	if (lfd >= 0)
		close(lfd);
	if (ufd >= 0)
		close(ufd);
	fake_free(&d);
}

static void test_backlog(void)
{
	static const uint8_t host_ip[4] = { 10, 0, 2, 2 };
	struct net_backend *be = NULL;
	struct net_slirp_stats st;
	struct fake_dev d;
	struct net_opts o = user_opts("user,restrict=on");
	uint8_t buf[128];
	char err[256] = "";
	unsigned from = 0, n, total = 0;
	size_t len;
	int i;

	fake_init(&d);
	if (net_slirp_create(&be, &o, err, sizeof(err)) < 0) {
		ok(0, "create (restrict=on): %s", err);
		fake_free(&d);
		return;
	}
	be->deliver = fake_deliver;
	be->dev = &d;
	d.eagain = true;
	is_int(be->ops->start(be, NULL), 0, "start (restrict=on), guest has no rx buffers");
	len = build_arp_request(buf, 2);
	is_int(send_buf(be, buf, len), 0, "send ARP request");
	ok(wait_eagain(&d, 1), "deliver() got the reply and said -EAGAIN");
	usleep(50000);
	pthread_mutex_lock(&d.lock);
	ok(d.nr == 0 && d.eagain_calls == 1,
	   "nothing delivered, no retry before rx_ready (%u calls)", d.eagain_calls);
	d.eagain = false;
	pthread_mutex_unlock(&d.lock);
	net_slirp_get_stats(be, &st);
	is_int(st.rx_backlogged, 1, "the frame is in the backlog");
	be->ops->rx_ready(be);
	ok(wait_frame(&d, &from, is_arp_reply, host_ip) >= 0,
	   "rx_ready(): the backlogged ARP reply is delivered");

	/* the backlog is bounded: 300 replies, 256 kept, 44 dropped */
	pthread_mutex_lock(&d.lock);
	d.eagain = true;
	pthread_mutex_unlock(&d.lock);
	for (n = 0; n < 300; n += 100) {
		for (i = 0; i < 100; i++)
			total += send_buf(be, buf, len) == 0;
		wait_tx(be, 1 + n + 100);
	}
	is_int(total, 300, "300 requests queued in batches of 100");
	net_slirp_get_stats(be, &st);
	ok(st.rx_backlogged == 1 + 256 && st.rx_dropped == 44,
	   "backlog bounded at 256 frames: %lu kept, %lu dropped", st.rx_backlogged - 1,
	   st.rx_dropped);
	pthread_mutex_lock(&d.lock);
	d.eagain = false;
	pthread_mutex_unlock(&d.lock);
	be->ops->rx_ready(be);
	for (n = 0; n < 256 && wait_frame(&d, &from, is_arp_reply, host_ip) >= 0; n++)
		;
	is_int(n, 256, "all 256 backlogged frames delivered after rx_ready");
	be->ops->destroy(be);
	fake_free(&d);
}

static void test_bounds(void)
{
	struct net_backend *be = NULL;
	struct net_opts o = user_opts("user");
	struct net_slirp_stats st;
	uint8_t small[NET_HDR_LEN + 13];
	uint8_t *big = calloc(1, NET_MAX_FRAME + 1);
	char err[256] = "";
	unsigned i, okn = 0, nobufs = 0;
	size_t len;
	int fds = count_fds();

	if (!big || net_slirp_create(&be, &o, err, sizeof(err)) < 0) {
		ok(0, "create: %s", err);
		free(big);
		return;
	}
	/* not started: nothing drains the queue */
	len = build_arp_request(big, 2);
	for (i = 0; i < 300; i++) {
		int r = send_buf(be, big, len);

		okn += r == 0;
		nobufs += r == -ENOBUFS;
	}
	ok(okn == 256 && nobufs == 44, "flood of 300 frames: 256 queued, 44 -ENOBUFS");
	memset(small, 0, sizeof(small));
	is_int(send_buf(be, small, sizeof(small)), -EINVAL, "runt frame: -EINVAL");
	is_int(send_buf(be, big, NET_MAX_FRAME + 1), -EMSGSIZE, "oversized: -EMSGSIZE");
	net_slirp_get_stats(be, &st);
	is_int(st.tx_dropped, 46, "46 tx drops counted");
	be->ops->destroy(be);

	/* the byte bound: 64 KiB frames stop at 4 MiB */
	if (net_slirp_create(&be, &o, err, sizeof(err)) == 0) {
		okn = 0;
		for (i = 0; i < 80; i++)
			okn += send_buf(be, big, 65536 + NET_HDR_LEN) == 0;
		is_int(okn, 64, "64 KiB frames: 64 queued (4 MiB), the rest refused");
		be->ops->destroy(be);
	}
	free(big);
	is_int(count_fds(), fds, "no fd left after destroy without start");
}

static void test_port_in_use(void)
{
	struct net_backend *be = (struct net_backend *)0x1;
	struct net_opts o;
	char spec[160], err[256], want[128];
	uint16_t port = 0, uport = 0, p1 = free_port(SOCK_STREAM);
	int fd = bound_socket(SOCK_STREAM, &port), ufd = bound_socket(SOCK_DGRAM, &uport);
	int fds, r, s1;

	if (fd < 0 || ufd < 0 || !p1) {
		ok(0, "test sockets");
		return;
	}
	fds = count_fds();
	snprintf(spec, sizeof(spec), "user,hostfwd=tcp:127.0.0.1:%u-:22", port);
	o = user_opts(spec);
	err[0] = '\0';
	r = net_slirp_create(&be, &o, err, sizeof(err));
	snprintf(want, sizeof(want), "hostfwd tcp:127.0.0.1:%u: address already in use",
		 port);
	is_int(r, -EADDRINUSE, "tcp port in use: -EADDRINUSE");
	ok(!strncmp(err, want, strlen(want)), "message: %s", err);
	ok(be == (struct net_backend *)0x1, "*out untouched");

	/* the first rule bound fine, the second fails: the first is released */
	snprintf(spec, sizeof(spec), "user,hostfwd=tcp::%u-:22,hostfwd=udp::%u-:53",
		 p1, uport);
	o = user_opts(spec);
	err[0] = '\0';
	r = net_slirp_create(&be, &o, err, sizeof(err));
	snprintf(want, sizeof(want), "hostfwd udp:127.0.0.1:%u: address already in use",
		 uport);
	is_int(r, -EADDRINUSE, "udp port in use: -EADDRINUSE");
	ok(!strncmp(err, want, strlen(want)), "message: %s", err);
	is_int(count_fds(), fds, "no fd left behind after failed creates");
	s1 = bound_socket(SOCK_STREAM, &p1);
	ok(s1 >= 0, "the first rule's port %u is free again", p1);
	if (s1 >= 0)
		close(s1);

	snprintf(spec, sizeof(spec), "user,hostfwd=tcp:192.0.2.1:%u-:22", p1);
	o = user_opts(spec);
	err[0] = '\0';
	r = net_slirp_create(&be, &o, err, sizeof(err));
	ok(r == -EADDRNOTAVAIL && strstr(err, "not an address of this host"),
	   "a host address not on this host: %s", err);
	close(fd);
	close(ufd);
}

int main(void)
{
	main_thread = pthread_self();
	test_guest_traffic();
	test_host_loopback();
	test_restrict();
	test_backlog();
	test_bounds();
	test_port_in_use();
	return done_testing();
}
