/*
 * The libslirp back end, for real: a fake device records what deliver()
 * gets while the test plays the guest (ARP, DHCP by hand-built frames), a
 * host client connects to a forwarded port, and the bounds and the
 * -EAGAIN backlog are checked. Needs loopback sockets only.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
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

static const uint8_t guest_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

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

#define BOOTP_LEN 548   /* 236 fixed + 312 of options: a full DHCP message */
#define DHCP_IP_LEN (20 + 8 + BOOTP_LEN)

/* virtio-net header + DHCPDISCOVER, with valid IP and UDP checksums. */
static size_t build_dhcp_discover(uint8_t *b)
{
	uint8_t *e = b + NET_HDR_LEN, *ip = e + 14, *udp = ip + 20, *bp = udp + 8;
	uint8_t *opt = bp + 240;
	uint32_t sum;

	memset(b, 0, NET_HDR_LEN + 14 + DHCP_IP_LEN);
	memset(e, 0xff, 6);
	memcpy(e + 6, guest_mac, 6);
	put16(e + 12, 0x0800);
	ip[0] = 0x45;
	put16(ip + 2, DHCP_IP_LEN);
	put16(ip + 4, 0x1234);
	ip[8] = 64;
	ip[9] = 17;
	memset(ip + 16, 0xff, 4);                 /* 0.0.0.0 -> broadcast */
	put16(ip + 10, csum_fold(csum_add(0, ip, 20)));
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
	/* pseudo header: src, dst, proto, UDP length */
	sum = csum_add(0, ip + 12, 8);
	sum += 17 + 8 + BOOTP_LEN;
	sum = csum_add(sum, udp, 8 + BOOTP_LEN);
	put16(udp + 6, csum_fold(sum));
	return NET_HDR_LEN + 14 + DHCP_IP_LEN;
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
	    (type == SOCK_STREAM && listen(fd, 1) < 0) ||
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
	test_backlog();
	test_bounds();
	test_port_in_use();
	return done_testing();
}
