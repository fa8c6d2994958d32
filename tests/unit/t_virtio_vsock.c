/* virtio-vsock through the virtio-mmio transport on a malloc'd guest RAM,
 * with real unix sockets in a temporary directory on the host side: the
 * option and handshake parsers, header checks with malformed packets,
 * host- and guest-initiated connections, data both ways, credit (a guest
 * that ignores it, a guest that gives little), shutdown and RST, timeouts,
 * the connection limit and device reset. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "nkvm/clock.h"
#include "nkvm/le.h"
#include "nkvm/virtio_mmio.h"
#include "nkvm/virtio_vsock.h"
#include "nkvm/vsock_opts.h"
#include "tap.h"
#include "vq_driver.h"

#define RAM_SIZE  0x400000ULL
#define RX_DESC   0x0000ULL /* 128 entries: 64 chains of header + data */
#define RX_AVAIL  0x1000ULL
#define RX_USED   0x2000ULL
#define TX_DESC   0x3000ULL
#define TX_AVAIL  0x4000ULL
#define TX_USED   0x5000ULL
#define EV_DESC   0x6000ULL
#define EV_AVAIL  0x7000ULL
#define EV_USED   0x8000ULL
#define RXBUF     0x100000ULL /* descriptor i's buffer at RXBUF + i * 4 KiB */
#define TXBUF     0x200000ULL /* every packet sent from here: 1 MiB */
#define RX_SIZE   128
#define TX_SIZE   64
#define GUEST_CID 3
#define HOSTPORT0 (1u << 30)

static char dir[32], uds[64];
static struct virtio_vsock v;
static struct virtio_mmio m;
static struct ring rx, tx, ev;
static uint16_t rx_seen;
static unsigned rx_posted;

/* ---- the guest driver ---- */

/* Post receive chains (44-byte header + 4 KiB) until 64 are out; kick. */
static void rx_fill(void)
{
	while (rx_posted < RX_SIZE / 2) {
		uint16_t head = rx.next_desc & (RX_SIZE - 1);
		struct ring_seg s[2] = {
			{ RXBUF + head * 0x1000ULL, VSOCK_HDR_LEN, true },
			{ RXBUF + (head + 1) * 0x1000ULL, 4096, true },
		};

		ring_post(&rx, s, 2);
		rx_posted++;
	}
	drv_kick(&m, VIRTIO_VSOCK_RXQ);
}

/* The next packet the device gave the guest: 1 with h (and up to 4 KiB
 * of data), 0 when there is none. */
static int rx_next(struct vsock_hdr *h, uint8_t *data)
{
	uint32_t id, len;

	if (ring_used_idx(&rx) == rx_seen)
		return 0;
	id = ring_used_id(&rx, rx_seen);
	len = ring_used_len(&rx, rx_seen);
	rx_seen++;
	rx_posted--;
	vsock_hdr_decode(ram + RXBUF + id * 0x1000ULL, h);
	if (data && len > VSOCK_HDR_LEN)
		memcpy(data, ram + RXBUF + (id + 1) * 0x1000ULL, len - VSOCK_HDR_LEN);
	if (len != VSOCK_HDR_LEN + h->len)
		diag("used length %u for a %u-byte payload", len, h->len);
	return 1;
}

/* Skip packets until one with op; 1 if found (h filled). */
static int rx_find(uint16_t op, struct vsock_hdr *h, uint8_t *data)
{
	while (rx_next(h, data))
		if (h->op == op)
			return 1;
	return 0;
}

/* Send a packet: header fields, payload (len bytes, may be NULL: zeros),
 * and the chain's payload length (normally len). */
static void tx_raw(const struct vsock_hdr *h, const void *payload, uint32_t plen)
{
	struct ring_seg s[2] = {
		{ TXBUF, VSOCK_HDR_LEN, false },
		{ TXBUF + 0x1000, plen, false },
	};

	vsock_hdr_encode(h, ram + TXBUF);
	if (payload)
		memcpy(ram + TXBUF + 0x1000, payload, plen);
	else
		memset(ram + TXBUF + 0x1000, 0, plen);
	ring_post(&tx, s, plen ? 2 : 1);
	drv_kick(&m, VIRTIO_VSOCK_TXQ);
}

static struct vsock_hdr ghdr(uint16_t op, uint32_t sport, uint32_t dport, uint32_t len)
{
	return (struct vsock_hdr){
		.src_cid = GUEST_CID, .dst_cid = VSOCK_HOST_CID,
		.src_port = sport, .dst_port = dport, .len = len,
		.type = VSOCK_TYPE_STREAM, .op = op, .buf_alloc = 256 * 1024,
	};
}

static void tx_op(uint16_t op, uint32_t sport, uint32_t dport, const void *p, uint32_t len)
{
	struct vsock_hdr h = ghdr(op, sport, dport, len);

	tx_raw(&h, p, len);
}

/* ---- the host side ---- */

static void spin(void)
{
	for (int i = 0; i < 6; i++)
		virtio_vsock_poll(&v);
}

static int client(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", uds);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int server(const char *suffix)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s%.8s", uds, suffix);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 128) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Non-blocking read: bytes, 0 at EOF, -1 when nothing is there (or reset). */
static ssize_t rd(int fd, void *buf, size_t len)
{
	ssize_t n = recv(fd, buf, len, MSG_DONTWAIT);

	return n < 0 ? -1 : n;
}

static bool closed(int fd)
{
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);

	return n == 0 || (n < 0 && errno == ECONNRESET);
}

static unsigned nconns(void)
{
	unsigned i, n = 0;

	for (i = 0; i < VSOCK_MAX_CONNS; i++)
		n += v.conn[i].used;
	return n;
}

/* Host-initiated connection to guest port gport, answered with RESPONSE
 * advertising buf_alloc; the client fd, *hport the host port. */
static int host_conn(uint32_t gport, uint32_t buf_alloc, uint32_t *hport)
{
	struct vsock_hdr h, r;
	char line[32], want[32];
	int fd = client();
	ssize_t n;

	snprintf(line, sizeof(line), "CONNECT %u\n", gport);
	if (fd < 0 || write(fd, line, strlen(line)) < 0)
		return -1;
	spin();
	if (!rx_find(VSOCK_OP_REQUEST, &h, NULL) || h.dst_port != gport) {
		close(fd);
		return -1;
	}
	r = ghdr(VSOCK_OP_RESPONSE, gport, h.src_port, 0);
	r.buf_alloc = buf_alloc;
	tx_raw(&r, NULL, 0);
	n = rd(fd, line, sizeof(line) - 1);
	snprintf(want, sizeof(want), "OK %u\n", h.src_port);
	if (n != (ssize_t)strlen(want) || memcmp(line, want, (size_t)n)) {
		close(fd);
		return -1;
	}
	*hport = h.src_port;
	return fd;
}

static void setup_device(void)
{
	ring_init(&rx, RX_DESC, RX_AVAIL, RX_USED, RX_SIZE);
	ring_init(&tx, TX_DESC, TX_AVAIL, TX_USED, TX_SIZE);
	ring_init(&ev, EV_DESC, EV_AVAIL, EV_USED, 8);
	rx_seen = 0;
	rx_posted = 0;
	drv_negotiate(&m, V1);
	drv_queue_ring(&m, VIRTIO_VSOCK_RXQ, &rx);
	drv_queue_ring(&m, VIRTIO_VSOCK_TXQ, &tx);
	drv_queue_ring(&m, VIRTIO_VSOCK_EVQ, &ev);
	drv_ok(&m);
	rx_fill();
}

/* ---- pure parsers ---- */

static void test_opts(void)
{
	struct vsock_opts o = { 0 };
	char err[256], longp[VSOCK_UDS_MAX + 2];

	ok(vsock_opts_parse("cid=7,uds=/tmp/v.sock", &o, err, sizeof(err)) == 0 &&
	   o.enabled && o.guest_cid == 7 && !strcmp(o.uds_path, "/tmp/v.sock"),
	   "opts: cid=7,uds=/tmp/v.sock");
	memset(&o, 0, sizeof(o));
	ok(vsock_opts_parse("uds=v.sock", &o, err, sizeof(err)) == 0 && o.guest_cid == 3,
	   "opts: cid defaults to 3");
	ok(vsock_opts_parse("cid=4294967294,uds=x", &o, err, sizeof(err)) == 0 &&
	   o.guest_cid == 4294967294u, "opts: cid 0xfffffffe accepted");
	ok(vsock_opts_parse("cid=2,uds=x", &o, err, sizeof(err)) == -EINVAL &&
	   strstr(err, "cid 2"), "opts: cid 2 (the host) refused, named");
	ok(vsock_opts_parse("cid=4294967295,uds=x", &o, err, sizeof(err)) == -EINVAL,
	   "opts: cid 0xffffffff (VMADDR_CID_ANY) refused");
	ok(vsock_opts_parse("cid=99999999999999999999,uds=x", &o, err, sizeof(err)) == -EINVAL,
	   "opts: cid overflowing 64 bits refused");
	ok(vsock_opts_parse("cid=abc,uds=x", &o, err, sizeof(err)) == -EINVAL, "opts: cid=abc");
	ok(vsock_opts_parse("cid=5", &o, err, sizeof(err)) == -EINVAL && strstr(err, "uds"),
	   "opts: no uds refused, named");
	ok(vsock_opts_parse("uds=", &o, err, sizeof(err)) == -EINVAL, "opts: empty uds");
	ok(vsock_opts_parse("uds=x,port=3", &o, err, sizeof(err)) == -EINVAL &&
	   strstr(err, "port"), "opts: unknown key named");
	ok(vsock_opts_parse("", &o, err, sizeof(err)) == -EINVAL, "opts: empty value");
	memset(longp, 'a', VSOCK_UDS_MAX);
	longp[VSOCK_UDS_MAX] = 0;
	ok(vsock_opts_set(&o, 3, longp, err, sizeof(err)) == 0, "opts: a %d-byte path fits",
	   VSOCK_UDS_MAX);
	longp[VSOCK_UDS_MAX] = 'a';
	longp[VSOCK_UDS_MAX + 1] = 0;
	ok(vsock_opts_set(&o, 3, longp, err, sizeof(err)) == -EINVAL,
	   "opts: a longer one does not (PATH_<port> must fit sun_path)");
	ok(o.guest_cid == 3 && strlen(o.uds_path) == VSOCK_UDS_MAX,
	   "opts: a refused value leaves the options as they were");
}

static void test_connect_line(void)
{
	static const struct {
		const char *s;
		int ok;
		uint32_t port;
	} t[] = {
		{ "CONNECT 52", 1, 52 }, { "CONNECT 52\r", 1, 52 },
		{ "CONNECT 0", 1, 0 }, { "CONNECT 0004", 1, 4 },
		{ "CONNECT 4294967295", 1, 4294967295u },
		{ "CONNECT 4294967296", 0, 0 }, { "CONNECT 12345678901", 0, 0 },
		{ "connect 52", 0, 0 }, { "CONNECT  52", 0, 0 }, { "CONNECT 52 ", 0, 0 },
		{ "CONNECT", 0, 0 }, { "CONNECT ", 0, 0 }, { "CONNECT -1", 0, 0 },
		{ "CONNECT +1", 0, 0 }, { "CONNECT 0x10", 0, 0 }, { "CONNECT\t52", 0, 0 },
		{ "CONNECT 5\r\r", 0, 0 }, { "", 0, 0 }, { "\r", 0, 0 },
		{ "GET / HTTP/1.0", 0, 0 },
	};
	unsigned i, good = 0;
	uint32_t port;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		port = 12345;
		int r = vsock_parse_connect(t[i].s, strlen(t[i].s), &port);

		if (t[i].ok ? r == 0 && port == t[i].port : r == -EINVAL && port == 12345)
			good++;
		else
			diag("'%s': %d port %u", t[i].s, r, port);
	}
	is_int(good, i, "handshake: %u lines parsed or refused as they should", i);
	ok(vsock_parse_connect("CONNECT 5\0", 10, &port) == -EINVAL,
	   "handshake: a NUL inside the line refused");
}

static void test_hdr_check(void)
{
	struct vsock_hdr h = ghdr(VSOCK_OP_RW, 1000, 2000, 10), d;
	uint8_t b[VSOCK_HDR_LEN];
	const char *why;

	vsock_hdr_encode(&h, b);
	ok(get_le64(b) == 3 && get_le64(b + 8) == 2 && get_le32(b + 16) == 1000 &&
	   get_le32(b + 20) == 2000 && get_le32(b + 24) == 10 && get_le16(b + 28) == 1 &&
	   get_le16(b + 30) == 5 && get_le32(b + 36) == 256 * 1024,
	   "header: encoded at the spec's offsets");
	vsock_hdr_decode(b, &d);
	ok(d.src_cid == h.src_cid && d.dst_cid == h.dst_cid && d.src_port == h.src_port &&
	   d.dst_port == h.dst_port && d.len == h.len && d.type == h.type && d.op == h.op &&
	   d.flags == h.flags && d.buf_alloc == h.buf_alloc && d.fwd_cnt == h.fwd_cnt,
	   "header: decode(encode(h)) == h");
	is_int(vsock_hdr_check(&h, 3, 10, &why), VSOCK_PKT_OK, "check: a good RW");
	ok(!why, "  no reason");
#define CHECK(field, val, pay, want, what) do { \
		struct vsock_hdr x = ghdr(VSOCK_OP_RW, 1000, 2000, 10); \
		x.field = val; \
		is_int(vsock_hdr_check(&x, 3, pay, &why), want, "check: %s", what); \
	} while (0)
	CHECK(src_cid, 4, 10, VSOCK_PKT_DROP, "source CID not the guest's: dropped");
	CHECK(src_cid, 3 | (1ULL << 32), 10, VSOCK_PKT_DROP, "source CID with high bits: dropped");
	CHECK(dst_cid, 5, 10, VSOCK_PKT_RST, "destination CID 5: RST");
	CHECK(dst_cid, 1, 10, VSOCK_PKT_RST, "destination CID 1: RST");
	CHECK(type, 2, 10, VSOCK_PKT_RST, "SEQPACKET type: RST");
	CHECK(type, 0, 10, VSOCK_PKT_RST, "type 0: RST");
	CHECK(op, 0, 10, VSOCK_PKT_RST, "op INVALID: RST");
	CHECK(op, 8, 10, VSOCK_PKT_RST, "op 8: RST");
	CHECK(op, 0xffff, 10, VSOCK_PKT_RST, "op 0xffff: RST");
	CHECK(len, 11, 10, VSOCK_PKT_RST, "len one past the buffer: RST");
	CHECK(len, 0xffffffff, 10, VSOCK_PKT_RST, "len 0xffffffff: RST");
	CHECK(len, 65537, 70000, VSOCK_PKT_RST, "len over 64 KiB: RST");
	CHECK(len, 65536, 70000, VSOCK_PKT_OK, "len 64 KiB, buffer longer: fine");
	CHECK(op, VSOCK_OP_REQUEST, 10, VSOCK_PKT_RST, "REQUEST with a payload: RST");
	{
		struct vsock_hdr x = ghdr(VSOCK_OP_SHUTDOWN, 1, 2, 0);

		x.flags = 4;
		is_int(vsock_hdr_check(&x, 3, 0, &why), VSOCK_PKT_RST, "check: shutdown flag 4: RST");
		x.flags = 3;
		is_int(vsock_hdr_check(&x, 3, 0, &why), VSOCK_PKT_OK, "check: shutdown flags 3: fine");
		x = ghdr(VSOCK_OP_RST, 1, 2, 0);
		x.dst_cid = 9;
		is_int(vsock_hdr_check(&x, 3, 0, &why), VSOCK_PKT_DROP,
		       "check: a bad RST is dropped, never answered");
	}
#undef CHECK
}

/* ---- the device ---- */

static void test_registers(void)
{
	uint8_t b[8];

	is_int(mmio_rd(&m, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_VSOCK, "device ID 19");
	memset(b, 0xaa, 8);
	virtio_mmio_access(&m, VIRTIO_MMIO_CONFIG, b, 8, false);
	is_int(get_le64(b), GUEST_CID, "config: guest_cid (le64)");
	mmio_wr(&m, VIRTIO_MMIO_QUEUE_SEL, 2);
	ok(mmio_rd(&m, VIRTIO_MMIO_QUEUE_NUM_MAX) > 0, "queue 2 (events) exists");
	mmio_wr(&m, VIRTIO_MMIO_QUEUE_SEL, 3);
	is_int(mmio_rd(&m, VIRTIO_MMIO_QUEUE_NUM_MAX), 0, "queue 3 does not");
	is_int(drv_device_features(&m, 0) & 0xffffff, 0, "no device features: stream only");
	{
		int fd = client();

		spin();
		ok(fd >= 0 && nconns() == 0, "before DRIVER_OK no host client is taken");
		close(fd);
	}
}

static void test_host_initiated(void)
{
	struct vsock_hdr h;
	uint8_t data[4096];
	char buf[64];
	int fd = client();
	ssize_t n;

	/* the line and the first data in one write: the data is the guest's */
	n = write(fd, "CONNECT 5000\nearly", 18);
	spin();
	ok(rx_next(&h, NULL) && h.op == VSOCK_OP_REQUEST, "host client: REQUEST to the guest");
	ok(h.src_cid == 2 && h.dst_cid == GUEST_CID && h.dst_port == 5000 &&
	   h.src_port >= HOSTPORT0 && h.type == VSOCK_TYPE_STREAM && h.len == 0 &&
	   h.buf_alloc == VSOCK_BUF_ALLOC && h.fwd_cnt == 0,
	   "  from 2:%u to 3:5000, our credit in it", h.src_port);
	ok(efd_take(m.irq_fd) > 0, "  interrupt");
	is_int(rd(fd, buf, sizeof(buf)), -1, "  no reply to the client yet");
	tx_op(VSOCK_OP_RESPONSE, 5000, h.src_port, NULL, 0);
	n = rd(fd, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	snprintf((char *)data, sizeof(data), "OK %u\n", h.src_port);
	is_str(buf, (char *)data, "RESPONSE: the client reads 'OK <hostport>'");
	spin();
	ok(rx_next(&h, data) && h.op == VSOCK_OP_RW && h.len == 5 && !memcmp(data, "early", 5),
	   "data after the line reaches the guest as RW");
	ok(h.dst_port == 5000 && h.src_port >= HOSTPORT0, "  on that connection");
	tx_op(VSOCK_OP_RW, 5000, h.src_port, "hello host", 10);
	ok(rd(fd, buf, sizeof(buf)) == 10 && !memcmp(buf, "hello host", 10),
	   "guest RW reaches the client");
	is_int(v.st.to_guest_bytes, 5, "statistics: 5 bytes to the guest");
	is_int(v.st.from_guest_bytes, 10, "  10 from it");

	/* client half-close: SHUTDOWN(SEND) after the data */
	n = write(fd, "last", 4);
	shutdown(fd, SHUT_WR);
	spin();
	ok(rx_next(&h, data) && h.op == VSOCK_OP_RW && h.len == 4, "data before the client's EOF");
	ok(rx_next(&h, NULL) && h.op == VSOCK_OP_SHUTDOWN &&
	   h.flags == VSOCK_SHUTDOWN_SEND, "then SHUTDOWN(SEND)");
	tx_op(VSOCK_OP_RW, 5000, h.src_port, "still", 5);
	ok(rd(fd, buf, sizeof(buf)) == 5, "the guest can still send after it");
	tx_op(VSOCK_OP_SHUTDOWN, 5000, h.src_port, NULL, 0);
	{
		struct vsock_hdr s = ghdr(VSOCK_OP_SHUTDOWN, 5000, h.src_port, 0);

		s.flags = VSOCK_SHUTDOWN_SEND;
		tx_raw(&s, NULL, 0);
	}
	ok(closed(fd), "guest SHUTDOWN(SEND): the client reads EOF");
	is_int(nconns(), 1, "  connection still open (the guest may read)");
	{
		struct vsock_hdr s = ghdr(VSOCK_OP_SHUTDOWN, 5000, h.src_port, 0);

		s.flags = VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND;
		tx_raw(&s, NULL, 0);
	}
	ok(rx_find(VSOCK_OP_RST, &h, NULL) && h.dst_port == 5000,
	   "guest SHUTDOWN(RCV|SEND): answered with RST");
	is_int(nconns(), 0, "  connection gone");
	close(fd);
	(void)n;
}

static void test_host_refused(void)
{
	struct vsock_hdr h;
	char buf[64];
	int fd;
	unsigned long to;

	fd = client();
	if (write(fd, "CONNECT 5999\n", 13) < 0)
		diag("write");
	spin();
	ok(rx_next(&h, NULL) && h.op == VSOCK_OP_REQUEST && h.dst_port == 5999,
	   "CONNECT 5999: REQUEST");
	tx_op(VSOCK_OP_RST, 5999, h.src_port, NULL, 0);
	ok(closed(fd), "guest RST: client closed without OK");
	ok(!rx_next(&h, NULL), "  no RST back");
	close(fd);

	fd = client();
	if (write(fd, "HELLO 5000\n", 11) < 0)
		diag("write");
	spin();
	ok(closed(fd) && !rx_next(&h, NULL), "'HELLO 5000': client closed, guest never asked");
	close(fd);

	fd = client();
	memset(buf, 'C', sizeof(buf));
	if (write(fd, "CONNECT 12", 10) < 0 || write(fd, buf, 40) < 0)
		diag("write");
	spin();
	ok(closed(fd) && !rx_next(&h, NULL), "a line over %d bytes: client closed", VSOCK_LINE_MAX);
	close(fd);

	fd = client();
	if (write(fd, "CONNECT 7", 9) < 0)
		diag("write");
	spin();
	ok(!closed(fd) && nconns() == 1, "a line in pieces: waiting for the rest");
	if (write(fd, "0\n", 2) < 0)
		diag("write");
	spin();
	ok(rx_next(&h, NULL) && h.op == VSOCK_OP_REQUEST && h.dst_port == 70,
	   "  'CONNECT 7' + '0\\n' asks for port 70");
	/* the guest never answers */
	to = v.st.timeouts;
	virtio_vsock_expire(&v, mono_ns() + 1000000000ULL);
	ok(!closed(fd), "  still waiting after 1 s");
	virtio_vsock_expire(&v, mono_ns() + (VSOCK_TIMEOUT_MS + 1000) * 1000000ULL);
	ok(closed(fd) && v.st.timeouts == to + 1, "  closed after %d ms without RESPONSE",
	   VSOCK_TIMEOUT_MS);
	ok(rx_next(&h, NULL) && h.op == VSOCK_OP_RST && h.dst_port == 70,
	   "  and the guest told with RST");
	close(fd);

	fd = client();
	spin();
	is_int(nconns(), 1, "a silent client is accepted");
	virtio_vsock_expire(&v, mono_ns() + (VSOCK_TIMEOUT_MS + 1000) * 1000000ULL);
	ok(closed(fd) && nconns() == 0 && !rx_next(&h, NULL),
	   "  and timed out without a word to the guest");
	close(fd);
	/* a RESPONSE nobody asked for */
	tx_op(VSOCK_OP_RESPONSE, 5000, HOSTPORT0 + 999, NULL, 0);
	ok(rx_next(&h, NULL) && h.op == VSOCK_OP_RST && h.dst_port == 5000 &&
	   h.src_port == HOSTPORT0 + 999, "a RESPONSE to nothing: RST");
}

static struct vsock_conn *conn_of(uint32_t hport)
{
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
		if (v.conn[i].used && v.conn[i].local_port == hport)
			return &v.conn[i];
	return NULL;
}

static uint8_t pat(size_t i)
{
	return (uint8_t)(i * 7 + (i >> 12));
}

static void test_credit_guest_to_host(void)
{
	static uint8_t big[VSOCK_MAX_PKT], back[300 * 1024];
	struct vsock_hdr h;
	struct vsock_conn *c;
	uint32_t hport = 0, sent = 0;
	int fd, small = 4096, i;
	size_t got = 0;
	bool in_order = true;

	rx_fill();
	fd = host_conn(5001, 256 * 1024, &hport);
	c = conn_of(hport);
	ok(fd >= 0 && c, "credit: connection up");
	if (fd < 0 || !c)
		return;
	setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	/* 200 KiB while the client reads nothing: the ring takes the rest */
	for (i = 0; i < 4; i++) {
		uint32_t len = i < 3 ? VSOCK_MAX_PKT : 200 * 1024 - 3 * VSOCK_MAX_PKT;

		for (uint32_t k = 0; k < len; k++)
			big[k] = pat(sent + k);
		tx_op(VSOCK_OP_RW, 5001, hport, big, len);
		sent += len;
	}
	ok(c->used && c->ring_len > 0 && c->ring_len <= VSOCK_BUF_ALLOC,
	   "slow peer: %u bytes held, within the %u advertised", c->ring_len, VSOCK_BUF_ALLOC);
	while (rx_next(&h, NULL))
		;
	/* the client reads: the ring drains and the guest hears of it */
	for (i = 0; i < 200 && got < sent; i++) {
		ssize_t n = rd(fd, back + got, sizeof(back) - got);

		if (n > 0)
			got += (size_t)n;
		spin();
	}
	for (size_t k = 0; k < got; k++)
		in_order &= back[k] == pat(k);
	ok(got == sent && in_order, "all %u bytes reach the client in order (%zu)", sent, got);
	{
		uint32_t last = 0;

		while (rx_find(VSOCK_OP_CREDIT_UPDATE, &h, NULL))
			last = h.fwd_cnt;
		ok(last && VSOCK_BUF_ALLOC - (sent - last) >= VSOCK_BUF_ALLOC / 2,
		   "CREDIT_UPDATEs keep the guest's view of the free space >= half (fwd_cnt %u)",
		   last);
	}
	tx_op(VSOCK_OP_CREDIT_REQUEST, 5001, hport, NULL, 0);
	ok(rx_next(&h, NULL) && h.op == VSOCK_OP_CREDIT_UPDATE && h.fwd_cnt == sent,
	   "CREDIT_REQUEST answered with CREDIT_UPDATE");

	/* a guest that ignores its credit: 64 KiB packets, peer not reading */
	{
		uint32_t most = 0;

		for (i = 0; i < 8 && c->used; i++) {
			tx_op(VSOCK_OP_RW, 5001, hport, big, VSOCK_MAX_PKT);
			if (c->used && c->ring_len > most)
				most = c->ring_len;
		}
		ok(most <= VSOCK_BUF_ALLOC && most > VSOCK_BUF_ALLOC - VSOCK_MAX_PKT,
		   "a guest flooding past its credit: at most %u held (%u)", VSOCK_BUF_ALLOC, most);
	}
	is_int(v.st.credit_violations, 1, "the packet past the credit: counted");
	ok(rx_find(VSOCK_OP_RST, &h, NULL) && h.dst_port == 5001, "  and reset (RST)");
	is_int(nconns(), 0, "  connection and its buffer gone");
	close(fd);
}

/* Take every packet the guest got: RW payloads counted into *total and
 * checked against pat(); true if one was a CREDIT_REQUEST. */
static bool collect(uint32_t *total, bool *in_order)
{
	static uint8_t data[4096];
	struct vsock_hdr h;
	bool req = false;

	while (rx_next(&h, data)) {
		if (h.op == VSOCK_OP_RW) {
			for (uint32_t k = 0; k < h.len; k++)
				*in_order &= data[k] == pat(*total + k);
			*total += h.len;
		}
		req |= h.op == VSOCK_OP_CREDIT_REQUEST;
	}
	return req;
}

static void test_credit_host_to_guest(void)
{
	static uint8_t buf[20000];
	struct vsock_hdr h, u;
	uint32_t hport = 0, total = 0;
	int fd;
	bool req = false, in_order = true;

	rx_fill();
	fd = host_conn(5002, 8192, &hport);
	ok(fd >= 0, "guest credit 8 KiB: connection up");
	for (size_t k = 0; k < sizeof(buf); k++)
		buf[k] = pat(k);
	if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
		diag("short write");
	spin();
	req = collect(&total, &in_order);
	ok(total == 8192 && in_order, "exactly the 8 KiB of credit sent (%u)", total);
	ok(req, "then CREDIT_REQUEST");
	u = ghdr(VSOCK_OP_CREDIT_UPDATE, 5002, hport, 0);
	u.buf_alloc = 8192;
	u.fwd_cnt = 8192;
	tx_raw(&u, NULL, 0);
	spin();
	collect(&total, &in_order);
	ok(total == 16384 && in_order, "CREDIT_UPDATE: 8 KiB more (%u)", total);
	/* a lying fwd_cnt (more than was sent) gives no credit, no crash */
	u.fwd_cnt = 0x80000000u;
	tx_raw(&u, NULL, 0);
	spin();
	ok(!rx_find(VSOCK_OP_RW, &h, NULL), "fwd_cnt beyond what was sent: nothing more sent");
	u.fwd_cnt = 16384;
	u.buf_alloc = 1 << 20;
	tx_raw(&u, NULL, 0);
	spin();
	collect(&total, &in_order);
	ok(total == sizeof(buf) && in_order, "more credit: the rest (%u bytes in all)", total);
	tx_op(VSOCK_OP_RST, 5002, hport, NULL, 0);
	ok(closed(fd) && nconns() == 0, "guest RST: client closed");
	close(fd);
}

static void test_rx_stall(void)
{
	static uint8_t buf[300 * 1024];
	struct vsock_hdr h, u;
	uint32_t hport = 0, total = 0;
	unsigned long before;
	size_t put = 0;
	int fd, i;

	rx_fill();
	fd = host_conn(5003, 1 << 20, &hport);
	ok(fd >= 0, "rx stall: connection up");
	fcntl(fd, F_SETFL, O_NONBLOCK);
	u = ghdr(VSOCK_OP_CREDIT_UPDATE, 5003, hport, 0);
	u.buf_alloc = 1 << 20;
	tx_raw(&u, NULL, 0);
	rx_fill();
	before = v.st.to_guest_bytes;
	for (i = 0; i < 40; i++) {
		ssize_t n = write(fd, buf + put, sizeof(buf) - put);

		put += n > 0 ? (size_t)n : 0;
		spin();
	}
	ok(put == sizeof(buf) && (uint16_t)(ring_used_idx(&rx) - rx_seen) == 64 &&
	   v.st.to_guest_bytes - before < put,
	   "all 64 buffers filled, the rest (%llu bytes) left in the socket",
	   (unsigned long long)(put - (v.st.to_guest_bytes - before)));
	while (rx_next(&h, NULL))
		if (h.op == VSOCK_OP_RW)
			total += h.len;
	rx_fill();
	spin();
	while (rx_next(&h, NULL))
		if (h.op == VSOCK_OP_RW)
			total += h.len;
	ok(total == sizeof(buf), "new buffers: reading resumes (%u bytes in all)", total);
	tx_op(VSOCK_OP_RST, 5003, hport, NULL, 0);
	close(fd);
}

static void test_guest_initiated(void)
{
	struct vsock_hdr h;
	uint8_t data[4096];
	char buf[64];
	int srv = server("_6000"), fd;

	rx_fill();
	ok(srv >= 0, "host server on <uds>_6000");
	tx_op(VSOCK_OP_REQUEST, 1234, 6000, NULL, 0);
	ok(rx_next(&h, NULL) && h.op == VSOCK_OP_RESPONSE && h.src_port == 6000 &&
	   h.dst_port == 1234 && h.src_cid == 2 && h.dst_cid == GUEST_CID,
	   "guest REQUEST to 2:6000: RESPONSE");
	fd = accept(srv, NULL, NULL);
	ok(fd >= 0, "  the host server has the connection");
	tx_op(VSOCK_OP_RW, 1234, 6000, "ping", 4);
	ok(rd(fd, buf, sizeof(buf)) == 4 && !memcmp(buf, "ping", 4), "guest -> host data");
	if (write(fd, "pong!", 5) != 5)
		diag("write");
	spin();
	ok(rx_next(&h, data) && h.op == VSOCK_OP_RW && h.len == 5 && !memcmp(data, "pong!", 5) &&
	   h.dst_port == 1234, "host -> guest data");
	close(fd);
	spin();
	ok(rx_next(&h, NULL) && h.op == VSOCK_OP_SHUTDOWN && h.flags == VSOCK_SHUTDOWN_SEND,
	   "host server closes: SHUTDOWN(SEND)");
	tx_op(VSOCK_OP_RW, 1234, 6000, "late", 4);
	ok(rx_next(&h, NULL) && h.op == VSOCK_OP_RST && h.dst_port == 1234 && nconns() == 0,
	   "guest writes to the closed peer: RST");

	tx_op(VSOCK_OP_REQUEST, 1235, 7777, NULL, 0);
	ok(rx_next(&h, NULL) && h.op == VSOCK_OP_RST && h.src_port == 7777 &&
	   h.dst_port == 1235, "guest REQUEST to 2:7777 (no socket): RST");
	is_int(nconns(), 0, "  no connection kept");
	close(srv);
}

static void test_malformed(void)
{
	struct vsock_hdr h, x;
	uint32_t hport = 0;
	uint8_t junk[20] = { 0 };
	int fd;

	rx_fill();
	{
		struct ring_seg s = { TXBUF, 20, false };

		memcpy(ram + TXBUF, junk, 20);
		ring_post(&tx, &s, 1);
		drv_kick(&m, VIRTIO_VSOCK_TXQ);
	}
	ok(!rx_next(&h, NULL) && !(mmio_rd(&m, VIRTIO_MMIO_STATUS) & ST_NR),
	   "a 20-byte packet: dropped, no reply, device fine");
	x = ghdr(VSOCK_OP_REQUEST, 40, 6000, 0);
	x.src_cid = 77;
	tx_raw(&x, NULL, 0);
	ok(!rx_next(&h, NULL), "source CID 77: dropped without reply");
	x = ghdr(VSOCK_OP_REQUEST, 41, 6000, 0);
	x.dst_cid = 5;
	tx_raw(&x, NULL, 0);
	ok(rx_next(&h, NULL) && h.op == VSOCK_OP_RST && h.src_cid == 5 && h.dst_port == 41,
	   "REQUEST to CID 5: RST from 5");
	x = ghdr(VSOCK_OP_REQUEST, 42, 6000, 0);
	x.type = 2;
	tx_raw(&x, NULL, 0);
	ok(rx_next(&h, NULL) && h.op == VSOCK_OP_RST && h.dst_port == 42, "SEQPACKET REQUEST: RST");
	tx_op(VSOCK_OP_RW, 43, 6000, "x", 1);
	ok(rx_next(&h, NULL) && h.op == VSOCK_OP_RST && h.dst_port == 43,
	   "RW on no connection: RST");
	tx_op(VSOCK_OP_RST, 44, 6000, NULL, 0);
	ok(!rx_next(&h, NULL), "RST on no connection: nothing");
	x = ghdr(VSOCK_OP_RW, 45, 6000, 100);
	tx_raw(&x, "short", 5);
	ok(rx_next(&h, NULL) && h.op == VSOCK_OP_RST && h.dst_port == 45,
	   "len 100 in a 5-byte buffer: RST");

	fd = host_conn(5004, 65536, &hport);
	x = ghdr(9, 5004, hport, 0);
	tx_raw(&x, NULL, 0);
	ok(rx_find(VSOCK_OP_RST, &h, NULL) && h.dst_port == 5004 && closed(fd) && nconns() == 0,
	   "op 9 on a live connection: RST, client closed");
	close(fd);
	fd = host_conn(5005, 65536, &hport);
	x = ghdr(VSOCK_OP_RW, 5005, hport, 5000);
	tx_raw(&x, NULL, 4000);
	ok(rx_find(VSOCK_OP_RST, &h, NULL) && closed(fd) && nconns() == 0,
	   "RW len beyond its buffer on a live connection: RST, client closed");
	close(fd);
	fd = host_conn(5006, 65536, &hport);
	tx_op(VSOCK_OP_REQUEST, 5006, hport, NULL, 0);
	ok(rx_find(VSOCK_OP_RST, &h, NULL) && closed(fd) && nconns() == 0,
	   "a second REQUEST on a live connection: RST");
	close(fd);
	ok(!(mmio_rd(&m, VIRTIO_MMIO_STATUS) & ST_NR), "the device never needed a reset");
}

static void test_limits(void)
{
	struct vsock_hdr h;
	int srv = server("_6001"), fd;
	unsigned i, responses = 0;

	rx_fill();
	for (i = 0; i < VSOCK_MAX_CONNS; i++) {
		tx_op(VSOCK_OP_REQUEST, 3000 + i, 6001, NULL, 0);
		responses += rx_next(&h, NULL) && h.op == VSOCK_OP_RESPONSE;
		rx_fill();
	}
	is_int(responses, VSOCK_MAX_CONNS, "%d guest connections accepted", VSOCK_MAX_CONNS);
	tx_op(VSOCK_OP_REQUEST, 3999, 6001, NULL, 0);
	ok(rx_next(&h, NULL) && h.op == VSOCK_OP_RST && h.dst_port == 3999,
	   "one more: RST");
	fd = client();
	spin();
	ok(closed(fd), "a host client at the limit: closed");
	close(fd);
	ok(v.st.conns_refused >= 2, "refusals counted (%lu)", v.st.conns_refused);
	for (i = 0; i < VSOCK_MAX_CONNS; i++)
		tx_op(VSOCK_OP_RST, 3000 + i, 6001, NULL, 0);
	is_int(nconns(), 0, "all closed by the guest's RSTs");
	close(srv);
}

static void test_reset(void)
{
	struct vsock_hdr h;
	uint32_t hport;
	int fd, fd2;

	rx_fill();
	fd = host_conn(5007, 65536, &hport);
	ok(fd >= 0, "reset: a connection up");
	mmio_wr(&m, VIRTIO_MMIO_STATUS, 0);
	ok(closed(fd) && nconns() == 0, "device reset: the client is closed");
	close(fd);
	fd2 = client();
	spin();
	is_int(nconns(), 0, "no host client taken while the driver is away");
	setup_device();
	spin();
	is_int(nconns(), 1, "driver back: the waiting client is taken");
	close(fd2);
	spin();
	ok(nconns() == 0 && !rx_next(&h, NULL), "  and forgotten when it leaves silently");

	/* a receive buffer that cannot hold a header and data */
	{
		struct ring_seg s = { RXBUF, VSOCK_HDR_LEN, true };

		ring_init(&rx, RX_DESC, RX_AVAIL, RX_USED, RX_SIZE);
		drv_negotiate(&m, V1);
		drv_queue_ring(&m, VIRTIO_VSOCK_RXQ, &rx);
		drv_queue_ring(&m, VIRTIO_VSOCK_TXQ, &tx);
		drv_queue_ring(&m, VIRTIO_VSOCK_EVQ, &ev);
		tx.avail_idx = tx.next_desc = 0;
		ring_init(&tx, TX_DESC, TX_AVAIL, TX_USED, TX_SIZE);
		drv_queue_ring(&m, VIRTIO_VSOCK_TXQ, &tx);
		drv_ok(&m);
		ring_post(&rx, &s, 1);
		drv_kick(&m, VIRTIO_VSOCK_RXQ);
		tx_op(VSOCK_OP_RW, 50, 6000, "x", 1);
		ok(mmio_rd(&m, VIRTIO_MMIO_STATUS) & ST_NR,
		   "a 44-byte receive buffer: DEVICE_NEEDS_RESET, nkvm fine");
	}
}

/* A socket file left by a dead process is replaced; a live one is not. */
static void test_listen_path(void)
{
	struct vsock_opts o;
	struct virtio_vsock v2;
	char err[256], p[64];
	int fd;

	snprintf(p, sizeof(p), "%s/stale.sock", dir);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	{
		struct sockaddr_un a = { .sun_family = AF_UNIX };

		snprintf(a.sun_path, sizeof(a.sun_path), "%s", p);
		if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
			diag("bind");
	}
	close(fd);	/* bound, never listened: stale */
	if (vsock_opts_set(&o, 3, p, err, sizeof(err)) < 0)
		diag("%s", err);
	ok(virtio_vsock_init(&v2, &gm, "vsock2", &o, err, sizeof(err)) == 0,
	   "a stale socket file is replaced");
	if (v2.dev_ready)
		virtio_vsock_destroy(&v2);
	ok(access(p, F_OK) < 0, "  and removed when the device goes");
	if (vsock_opts_set(&o, 3, uds, err, sizeof(err)) < 0)
		diag("%s", err);
	ok(virtio_vsock_init(&v2, &gm, "vsock2", &o, err, sizeof(err)) < 0 &&
	   strstr(err, "in use"), "a socket another device listens on: refused (%s)", err);
	ok(access(uds, F_OK) == 0, "  and left alone");
	snprintf(p, sizeof(p), "%s/none/v.sock", dir);
	if (vsock_opts_set(&o, 3, p, err, sizeof(err)) < 0)
		diag("%s", err);
	ok(virtio_vsock_init(&v2, &gm, "vsock2", &o, err, sizeof(err)) < 0 &&
	   strstr(err, "none/v.sock"), "a missing directory: refused, path named");
}

int main(void)
{
	struct vsock_opts o;
	char err[256];

	log_threshold = LOG_ERR;
	plan(129);
	test_opts();
	test_connect_line();
	test_hdr_check();
	snprintf(dir, sizeof(dir), "/tmp/t_vsock.XXXXXX");
	if (!mkdtemp(dir) || ram_alloc(RAM_SIZE) < 0) {
		ok(0, "setup");
		return done_testing();
	}
	snprintf(uds, sizeof(uds), "%s/v.sock", dir);
	if (vsock_opts_set(&o, GUEST_CID, uds, err, sizeof(err)) < 0 ||
	    virtio_vsock_init(&v, &gm, "vsock", &o, err, sizeof(err)) < 0 ||
	    virtio_mmio_init(&m, &v.dev, 0xd0000000, 5) < 0) {
		ok(0, "device: %s", err);
		return done_testing();
	}
	test_registers();
	setup_device();
	test_host_initiated();
	test_host_refused();
	test_credit_guest_to_host();
	test_credit_host_to_guest();
	test_rx_stall();
	test_guest_initiated();
	test_malformed();
	test_limits();
	test_listen_path();
	test_reset();
	mmio_dev_destroy(&m, &v.dev);
	virtio_vsock_destroy(&v);
	ok(access(uds, F_OK) < 0, "the socket file is removed at the end");
	rmdir(dir);
	ram_free();
	return done_testing();
}
