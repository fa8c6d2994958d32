/* virtio-net: the transmit header check (net_tx_check) on every accepted
 * and refused combination, then the whole device on a fake back end
 * through the virtio-mmio transport: offered features and config space,
 * set_features at DRIVER_OK, transmit (split chains, malformed frames,
 * send failures, the fairness rekick), receive into single and mergeable
 * buffers (frames that do not fit, not enough buffers given back with
 * vq_unpop, rx_ready on the next receive kick), pull receive through a
 * back end's recv_into (frames read straight into the buffers, reserved
 * ahead; 60-byte, full-MTU and 64 KiB frames, num_buffers and used
 * lengths, too few buffers leaving the frame unread, a chain too small
 * without mergeable buffers, the iovec limit, chains the guest may not
 * post), the control queue and a reset while the back end waits. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>

#include "nkvm/le.h"
#include "nkvm/log.h"
#include "nkvm/net_backend.h"
#include "nkvm/virtio.h"
#include "nkvm/virtio_mmio.h"
#include "nkvm/virtio_net.h"
#include "nkvm/virtq.h"
#include "tap.h"
#include "vq_driver.h"

#define FB(x) (1ULL << VIRTIO_NET_F_##x)
#define FV(x) (1ULL << VIRTIO_F_##x)

/* What the device offers whatever the back end: MAC, STATUS, MRG_RXBUF,
 * CTRL_VQ, CTRL_RX, and the engine's and transport's bits. */
#define F_ALWAYS (FB(MAC) | FB(STATUS) | FB(MRG_RXBUF) | FB(CTRL_VQ) | \
		  FB(CTRL_RX) | FV(INDIRECT_DESC) | FV(EVENT_IDX) | V1)
#define F_OFFLOADS (FB(CSUM) | FB(GUEST_CSUM) | FB(GUEST_TSO4) | \
		    FB(GUEST_TSO6) | FB(GUEST_ECN) | FB(GUEST_UFO) | \
		    FB(HOST_TSO4) | FB(HOST_TSO6) | FB(HOST_ECN) | FB(HOST_UFO))
/* What the driver accepts in most tests. */
#define F_DRV (V1 | FB(MAC) | FB(STATUS) | FB(CTRL_VQ) | FB(CTRL_RX))

#define RAM_SIZE  0x200000ULL
#define RX_DESC   0x0000ULL /* 128 entries */
#define RX_AVAIL  0x1000ULL
#define RX_USED   0x2000ULL
#define TX_DESC   0x3000ULL /* 256 entries */
#define TX_AVAIL  0x4000ULL
#define TX_USED   0x5000ULL
#define CQ_DESC   0x6000ULL /* 16 entries */
#define CQ_AVAIL  0x7000ULL
#define CQ_USED   0x8000ULL
#define TXBUF     0x10000ULL
#define RXBUF     0x80000ULL /* up to the end of RAM: 1.5 MiB */
#define RX_SIZE   128
#define TX_SIZE   256
#define CQ_SIZE   16
#define MRG_BUF   1526      /* what Linux posts with mergeable buffers */

static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef };

/* ============================ net_tx_check ============================ */

struct hdr_spec {
	uint8_t flags, gso;
	uint16_t hdr_len, gso_size, csum_start, csum_off;
};

static void mkhdr(uint8_t *h, const struct hdr_spec *s)
{
	memset(h, 0, NET_HDR_LEN);
	h[0] = s->flags;
	h[1] = s->gso;
	put_le16(h + 2, s->hdr_len);
	put_le16(h + 4, s->gso_size);
	put_le16(h + 6, s->csum_start);
	put_le16(h + 8, s->csum_off);
}

static void check_ok(const struct hdr_spec *s, uint64_t len, uint64_t f,
		     const char *what)
{
	uint8_t h[NET_HDR_LEN];
	const char *why = "unset";
	int r;

	mkhdr(h, s);
	r = net_tx_check(h, len, f, &why);
	if (!ok(r == 0 && why == NULL, "accepted: %s", what))
		diag("  got %d (%s)", r, why ? why : "no reason");
}

static void check_bad(const struct hdr_spec *s, uint64_t len, uint64_t f,
		      const char *what)
{
	uint8_t h[NET_HDR_LEN];
	const char *why = NULL;
	int r;

	mkhdr(h, s);
	r = net_tx_check(h, len, f, &why);
	if (!ok(r == -EINVAL && why && *why, "refused: %s", what))
		diag("  got %d (%s)", r, why ? why : "no reason");
}

static void test_tx_check(void)
{
	const struct hdr_spec none = { 0 };
	const uint64_t csum = FB(CSUM);
	const uint64_t tso = FB(CSUM) | FB(HOST_TSO4) | FB(HOST_TSO6);
	const uint64_t all = tso | FB(HOST_ECN) | FB(HOST_UFO);
	struct hdr_spec s;

	/* accepted */
	check_ok(&none, 60, 0, "plain 60-byte frame, no features");
	check_ok(&none, ETH_HDR_LEN, 0, "14 bytes (an Ethernet header only)");
	check_ok(&none, 1522, 0, "1522 bytes (VLAN-tagged full MTU) without GSO");
	s = (struct hdr_spec){ .flags = VIRTIO_NET_HDR_F_DATA_VALID };
	check_ok(&s, 60, 0, "DATA_VALID flag");
	s = (struct hdr_spec){ .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
			       .csum_start = 34, .csum_off = 16 };
	check_ok(&s, 100, csum, "NEEDS_CSUM with CSUM, csum inside");
	s.csum_start = 82;
	check_ok(&s, 100, csum, "NEEDS_CSUM, checksum field in the last 2 bytes");
	s = (struct hdr_spec){ .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
			       .gso = VIRTIO_NET_HDR_GSO_TCPV4, .hdr_len = 54,
			       .gso_size = 1448, .csum_start = 34, .csum_off = 16 };
	check_ok(&s, 9000, tso, "GSO TCPV4 with HOST_TSO4 + CSUM");
	check_ok(&s, NET_TX_MAX, tso, "GSO TCPV4 at NET_TX_MAX");
	s.gso = VIRTIO_NET_HDR_GSO_TCPV6;
	s.csum_start = 54;
	check_ok(&s, 30000, tso, "GSO TCPV6 with HOST_TSO6 + CSUM");
	s.gso = VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN;
	check_ok(&s, 30000, tso | FB(HOST_ECN), "GSO TCPV4|ECN with HOST_ECN");
	s.gso = VIRTIO_NET_HDR_GSO_TCPV6 | VIRTIO_NET_HDR_GSO_ECN;
	check_ok(&s, 30000, tso | FB(HOST_ECN), "GSO TCPV6|ECN with HOST_ECN");
	s.gso = VIRTIO_NET_HDR_GSO_UDP;
	check_ok(&s, 30000, csum | FB(HOST_UFO), "GSO UDP with HOST_UFO");

	/* lengths */
	check_bad(&none, 0, all, "empty frame");
	check_bad(&none, ETH_HDR_LEN - 1, all, "13 bytes");
	s = (struct hdr_spec){ .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
			       .gso = VIRTIO_NET_HDR_GSO_TCPV4, .gso_size = 1448,
			       .csum_start = 34, .csum_off = 16 };
	check_bad(&s, NET_TX_MAX + 1, all, "GSO frame of NET_TX_MAX + 1");
	check_bad(&s, 1ULL << 32, all, "GSO frame of 4 GiB");
	check_bad(&none, 1523, all, "1523 bytes without GSO");
	check_bad(&none, 9000, all, "9000 bytes without GSO");

	/* flags */
	s = (struct hdr_spec){ .flags = 4 };
	check_bad(&s, 60, all, "flag 4 (unknown)");
	s.flags = 0x80 | VIRTIO_NET_HDR_F_DATA_VALID;
	check_bad(&s, 60, all, "flag 0x80 with DATA_VALID");

	/* checksum offload */
	s = (struct hdr_spec){ .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
			       .csum_start = 34, .csum_off = 16 };
	check_bad(&s, 100, 0, "NEEDS_CSUM without CSUM");
	check_bad(&s, 100, FB(GUEST_CSUM) | FB(HOST_TSO4),
		  "NEEDS_CSUM with GUEST_CSUM but not CSUM");
	s.csum_start = 83;
	check_bad(&s, 100, csum, "checksum field 1 byte past the end");
	s.csum_start = 100;
	s.csum_off = 0;
	check_bad(&s, 100, csum, "csum_start at the end");
	s.csum_start = 0xffff;
	s.csum_off = 0xffff;
	check_bad(&s, 60, csum, "csum_start 0xffff + csum_offset 0xffff");
	s.csum_start = 0xfffe;
	s.csum_off = 0;
	check_bad(&s, 60, csum, "csum_start 0xfffe (+2 wraps to 0 in 16 bits)");
	s.csum_start = 0xfff0;
	s.csum_off = 0x000e;
	check_bad(&s, 60, csum, "0xfff0 + 0xe + 2 = 0x10000");
	s.csum_start = 0x10;
	s.csum_off = 0xfff0;
	check_bad(&s, 60, csum, "0x10 + 0xfff0 (offset wraps in 16 bits)");
	s.csum_start = 0xffff;
	s.csum_off = 0xffff;
	s.gso = VIRTIO_NET_HDR_GSO_TCPV4;
	s.gso_size = 1448;
	check_bad(&s, NET_TX_MAX, all, "GSO frame, csum at 0xffff + 0xffff");

	/* segmentation */
	s = (struct hdr_spec){ .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
			       .gso = VIRTIO_NET_HDR_GSO_TCPV4, .gso_size = 1448,
			       .csum_start = 34, .csum_off = 16 };
	check_bad(&s, 9000, csum | FB(HOST_TSO6), "TCPV4 without HOST_TSO4");
	s.gso = VIRTIO_NET_HDR_GSO_TCPV6;
	check_bad(&s, 9000, csum | FB(HOST_TSO4), "TCPV6 without HOST_TSO6");
	s.gso = VIRTIO_NET_HDR_GSO_UDP;
	check_bad(&s, 9000, tso | FB(HOST_ECN), "UDP without HOST_UFO");
	s.gso = 2;
	check_bad(&s, 9000, all, "GSO type 2 (unknown)");
	s.gso = 5;
	check_bad(&s, 9000, all, "GSO type 5 (UDP_L4: not offered)");
	s.gso = 0x7f;
	check_bad(&s, 9000, all, "GSO type 0x7f");
	s.gso = 2 | VIRTIO_NET_HDR_GSO_ECN;
	check_bad(&s, 9000, all, "GSO type 2 with ECN");
	s.gso = VIRTIO_NET_HDR_GSO_NONE | VIRTIO_NET_HDR_GSO_ECN;
	check_bad(&s, 60, all, "ECN without segmentation");
	s.flags = 0;
	check_bad(&s, 60, all, "ECN alone, no checksum");
	s.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	s.gso = VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN;
	check_bad(&s, 9000, tso, "TCPV4|ECN without HOST_ECN");
	s.gso = VIRTIO_NET_HDR_GSO_TCPV6 | VIRTIO_NET_HDR_GSO_ECN;
	check_bad(&s, 9000, tso, "TCPV6|ECN without HOST_ECN");
	s.gso = VIRTIO_NET_HDR_GSO_TCPV4;
	s.flags = 0;
	check_bad(&s, 9000, all, "GSO without NEEDS_CSUM");
	s.flags = VIRTIO_NET_HDR_F_DATA_VALID;
	check_bad(&s, 9000, all, "GSO with DATA_VALID but no NEEDS_CSUM");
	s.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	s.gso_size = 0;
	check_bad(&s, 9000, all, "GSO with gso_size 0");
	s.gso = VIRTIO_NET_HDR_GSO_TCPV6;
	check_bad(&s, 200, all, "small TCPV6 GSO frame with gso_size 0");
}

/* ============================ the fake back end ============================ */

struct fake_be {
	struct net_backend be;
	int send_ret;                /* what send() returns */
	unsigned sends, starts, rx_ready, set_features, destroys;
	uint64_t features;           /* last set_features() */
	/* the last frame sent, as one buffer, and how it came */
	uint8_t last[NET_MAX_FRAME + 64];
	size_t last_len;
	unsigned last_niov;
	size_t last_iov0_len;
	bool last_hdr_in_ram;        /* iov[0] pointed into guest RAM */
	bool last_frame_in_ram;      /* the other iovs all did */
	/* recv_into: frames waiting (a tap's queue), consumed in order */
	const uint8_t *rxq[16];
	size_t rxq_len[16];
	unsigned rxq_head, rxq_n;
	int recv_err;                /* when set, recv_into returns it */
	unsigned recvs;              /* recv_into calls that read a frame */
	unsigned recv_niov;          /* n of the last such call */
	bool recv_in_ram;            /* all its iovs lay in guest RAM */
};

static struct fake_be fb;

static bool in_ram(const void *p, size_t len)
{
	const uint8_t *b = p;

	return b >= ram && b <= ram + RAM_SIZE && len <= (size_t)(ram + RAM_SIZE - b);
}

static int fake_start(struct net_backend *be, struct evl *evl)
{
	((struct fake_be *)be)->starts++;
	return 0;
}

static int fake_send(struct net_backend *be, const struct iovec *iov, unsigned n)
{
	struct fake_be *f = (struct fake_be *)be;
	size_t off = 0;

	f->sends++;
	f->last_niov = n;
	f->last_iov0_len = n ? iov[0].iov_len : 0;
	f->last_hdr_in_ram = n && in_ram(iov[0].iov_base, iov[0].iov_len);
	f->last_frame_in_ram = true;
	for (unsigned i = 0; i < n; i++) {
		size_t l = iov[i].iov_len;

		if (i)
			f->last_frame_in_ram &= in_ram(iov[i].iov_base, l);
		if (l > sizeof(f->last) - off)
			l = sizeof(f->last) - off;
		memcpy(f->last + off, iov[i].iov_base, l);
		off += l;
	}
	f->last_len = off;
	return f->send_ret;
}

static void fake_rx_ready(struct net_backend *be)
{
	((struct fake_be *)be)->rx_ready++;
}

static void fake_destroy(struct net_backend *be)
{
	((struct fake_be *)be)->destroys++;
}

static void fake_set_features(struct net_backend *be, uint64_t f)
{
	((struct fake_be *)be)->set_features++;
	((struct fake_be *)be)->features = f;
}

static const struct net_backend_ops fake_ops = {
	.start = fake_start,
	.send = fake_send,
	.rx_ready = fake_rx_ready,
	.destroy = fake_destroy,
	.set_features = fake_set_features,
};

/* readv() as tun does it: the next frame into iov, cut if it does not
 * fit (the rest lost), the bytes copied returned. */
static ssize_t fake_recv_into(struct net_backend *be, const struct iovec *iov, unsigned n)
{
	struct fake_be *f = (struct fake_be *)be;
	const uint8_t *p;
	size_t len, at = 0;

	if (f->recv_err)
		return f->recv_err;
	if (!f->rxq_n)
		return -EAGAIN;
	p = f->rxq[f->rxq_head % 16];
	len = f->rxq_len[f->rxq_head % 16];
	f->rxq_head++;
	f->rxq_n--;
	f->recvs++;
	f->recv_niov = n;
	f->recv_in_ram = true;
	for (unsigned i = 0; i < n; i++) {
		size_t l = iov[i].iov_len;

		/* the last is the device's own one-byte tail */
		if (i + 1 < n)
			f->recv_in_ram &= in_ram(iov[i].iov_base, l);
		if (l > len - at)
			l = len - at;
		memcpy(iov[i].iov_base, p + at, l);
		at += l;
	}
	return (ssize_t)at;
}

/* A tap-like back end: pull receive through recv_into. */
static const struct net_backend_ops fake_ops_pull = {
	.start = fake_start,
	.send = fake_send,
	.rx_ready = fake_rx_ready,
	.destroy = fake_destroy,
	.set_features = fake_set_features,
	.recv_into = fake_recv_into,
};

/* The same without the optional set_features. */
static const struct net_backend_ops fake_ops_nosf = {
	.start = fake_start,
	.send = fake_send,
	.rx_ready = fake_rx_ready,
	.destroy = fake_destroy,
};

/* ============================ the device ============================ */

static struct virtio_net nic;
static struct virtio_mmio mm;
static struct ring rxr, txr, cqr;

/* A NIC on the fake back end with `offloads`, and its transport. */
static bool nic_open(uint64_t offloads, const struct net_backend_ops *ops)
{
	memset(&fb, 0, sizeof(fb));
	fb.be.ops = ops;
	fb.be.kind = "fake";
	fb.be.offloads = offloads;
	if (virtio_net_init(&nic, &gm, "net0", mac, &fb.be) < 0)
		return false;
	if (virtio_mmio_init(&mm, &nic.dev, 0xd0000000, 5) < 0) {
		virtio_net_destroy(&nic);
		return false;
	}
	return true;
}

static void nic_close(void)
{
	virtio_mmio_destroy(&mm);
	virtio_net_destroy(&nic);
}

/* The driver: features f, the three queues on cleared rings, and
 * DRIVER_OK when `start`. True when every step was accepted. */
static bool nic_setup(uint64_t f, bool start)
{
	bool good;

	ring_init(&rxr, RX_DESC, RX_AVAIL, RX_USED, RX_SIZE);
	ring_init(&txr, TX_DESC, TX_AVAIL, TX_USED, TX_SIZE);
	ring_init(&cqr, CQ_DESC, CQ_AVAIL, CQ_USED, CQ_SIZE);
	good = drv_negotiate(&mm, f) & ST_FOK;
	good &= drv_queue_ring(&mm, VIRTIO_NET_RXQ, &rxr) == 1;
	good &= drv_queue_ring(&mm, VIRTIO_NET_TXQ, &txr) == 1;
	good &= drv_queue_ring(&mm, VIRTIO_NET_CTLQ, &cqr) == 1;
	if (start) {
		drv_ok(&mm);
		good &= mmio_rd(&mm, VIRTIO_MMIO_STATUS) == ST_ALL;
	}
	efd_take(mm.irq_fd);
	return good;
}

static uint64_t offered(void)
{
	return drv_device_features(&mm, 0) |
	       (uint64_t)drv_device_features(&mm, 1) << 32;
}

static void test_features_config(void)
{
	uint8_t cfg[12], b[4];
	uint64_t f;

	if (!ok(nic_open(0, &fake_ops), "NIC on a back end without offloads"))
		return;
	ok(fb.be.deliver == net_rx_deliver && fb.be.dev == &nic,
	   "  init sets the back end's deliver and dev");
	is_int(mmio_rd(&mm, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_NET, "  DeviceID 1");
	for (unsigned q = 0; q < 4; q++) {
		mmio_wr(&mm, VIRTIO_MMIO_QUEUE_SEL, q);
		is_int(mmio_rd(&mm, VIRTIO_MMIO_QUEUE_NUM_MAX), q < 3 ? 256 : 0,
		       "  queue %u max %u", q, q < 3 ? 256 : 0);
	}
	f = offered();
	is_int(f, F_ALWAYS, "  offered: MAC STATUS MRG_RXBUF CTRL_VQ CTRL_RX + engine bits only");
	ok(!(f & F_OFFLOADS), "  no offload bit");
	ok(!(drv_negotiate(&mm, F_DRV | FB(CSUM)) & ST_FOK),
	   "  driver accepting CSUM anyway: FEATURES_OK refused");
	ok(!(drv_negotiate(&mm, F_DRV | FB(HOST_TSO4)) & ST_FOK),
	   "  HOST_TSO4 refused");

	memset(cfg, 0xaa, sizeof(cfg));
	virtio_mmio_access(&mm, VIRTIO_MMIO_CONFIG, cfg, 12, false);
	ok(memcmp(cfg, mac, 6) == 0, "config: MAC");
	is_int(get_le16(cfg + 6), VIRTIO_NET_S_LINK_UP, "config: status LINK_UP");
	is_int(get_le16(cfg + 8), 1, "config: max_virtqueue_pairs 1");
	memset(b, 0xaa, 4);
	virtio_mmio_access(&mm, VIRTIO_MMIO_CONFIG + 2, b, 4, false);
	ok(memcmp(b, mac + 2, 4) == 0, "config: unaligned 4-byte read of the MAC");
	memset(b, 0xaa, 4);
	virtio_mmio_access(&mm, VIRTIO_MMIO_CONFIG + 6, b, 1, false);
	is_int(b[0], 1, "config: 1-byte read of status");
	memset(b, 0xaa, 4);
	virtio_mmio_access(&mm, VIRTIO_MMIO_CONFIG + 10, b, 4, false);
	ok(all_zero(b, 4), "config: read past its 12 bytes gives zeroes");
	b[0] = 0x11;
	virtio_mmio_access(&mm, VIRTIO_MMIO_CONFIG, b, 1, true);
	memset(cfg, 0, sizeof(cfg));
	virtio_mmio_access(&mm, VIRTIO_MMIO_CONFIG, cfg, 6, false);
	ok(memcmp(cfg, mac, 6) == 0, "config: read-only (a write leaves the MAC)");

	/* set_features at DRIVER_OK, with what the driver accepted */
	f = F_DRV | FB(MRG_RXBUF) | FV(EVENT_IDX);
	ok(nic_setup(f, false), "driver up to FEATURES_OK");
	is_int(fb.set_features, 0, "  set_features not called before DRIVER_OK");
	drv_ok(&mm);
	is_int(fb.set_features, 1, "  called once at DRIVER_OK");
	is_int(fb.features, f, "  with the negotiated features");
	is_int(virtio_net_start(&nic, NULL), 0, "virtio_net_start");
	is_int(fb.starts, 1, "  starts the back end");
	nic_close();
	is_int(fb.destroys, 1, "destroy destroys the back end once");
	ok(nic.be == NULL, "  and forgets it");

	/* every offload the back end honours, nothing it does not */
	if (!ok(nic_open(~0ULL, &fake_ops), "NIC on a back end with every bit in offloads"))
		return;
	is_int(offered(), F_ALWAYS | F_OFFLOADS,
	       "  offered: the offload bits too, and no other bit of offloads");
	f = F_DRV | FB(CSUM) | FB(GUEST_CSUM) | FB(HOST_TSO4) | FB(HOST_TSO6) |
	    FB(HOST_ECN) | FB(GUEST_TSO4);
	ok(nic_setup(f, true), "  driver accepts CSUM, TSO and ECN offloads");
	is_int(fb.features, f, "  set_features got them");
	nic_close();

	/* only some */
	if (!nic_open(FB(CSUM) | FB(HOST_TSO4) | (1ULL << 3), &fake_ops))
		return;
	is_int(offered(), F_ALWAYS | FB(CSUM) | FB(HOST_TSO4),
	       "back end with CSUM + HOST_TSO4 (+ bit 3): offers those two");
	nic_close();

	/* set_features is optional */
	if (!nic_open(0, &fake_ops_nosf))
		return;
	ok(nic_setup(F_DRV, true), "back end without set_features: DRIVER_OK works");
	nic_close();
}

/* ---- transmit ---- */

/* An Ethernet frame of len bytes: broadcast, our MAC, type 0x88b5, a
 * pattern from seed. */
static void mkframe(uint8_t *p, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 7 + (i >> 8));
	if (len >= ETH_HDR_LEN) {
		memset(p, 0xff, 6);
		memcpy(p + 6, mac, 6);
		p[12] = 0x88;
		p[13] = 0xb5;
	}
}

/* One tx chain with header h and a len-byte frame in one buffer at gpa;
 * returns its head. */
static uint16_t tx_post_one(uint64_t gpa, const uint8_t *h, size_t len,
			    uint8_t seed)
{
	struct ring_seg s = { gpa, (uint32_t)(NET_HDR_LEN + len), false };

	memcpy(ram + gpa, h, NET_HDR_LEN);
	mkframe(ram + gpa + NET_HDR_LEN, len, seed);
	return ring_post(&txr, &s, 1);
}

static void test_tx(void)
{
	static const struct hdr_spec csum34 = {
		.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 34, .csum_off = 16 };
	static const struct hdr_spec tso4 = {
		.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .gso = VIRTIO_NET_HDR_GSO_TCPV4,
		.hdr_len = 54, .gso_size = 1448, .csum_start = 34, .csum_off = 16 };
	static uint8_t want[NET_HDR_LEN + 3000];
	struct ring_seg seg[6];
	uint8_t h[NET_HDR_LEN];
	uint16_t u = 0, head;
	unsigned long mal;
	bool good;

	if (!nic_open(FB(CSUM) | FB(HOST_TSO4) | FB(HOST_TSO6), &fake_ops))
		return;
	if (!ok(nic_setup(F_DRV | FB(CSUM) | FB(HOST_TSO4), true),
		"tx: driver with CSUM + HOST_TSO4"))
		goto out;

	/* header split 5 + 7 (the 7 sharing a buffer with the frame's
	 * start), frame 10 + 90, a writable buffer at the end */
	mkhdr(want, &csum34);
	put_le16(want + 10, 0xbeef);	/* num_buffers: the guest's garbage */
	mkframe(want + NET_HDR_LEN, 100, 1);
	memcpy(ram + TXBUF, want, 5);
	memcpy(ram + TXBUF + 0x100, want + 5, 7 + 10);
	memcpy(ram + TXBUF + 0x200, want + 22, 90);
	memset(ram + TXBUF + 0x300, 0x5a, 64);
	seg[0] = (struct ring_seg){ TXBUF, 5, false };
	seg[1] = (struct ring_seg){ TXBUF + 0x100, 17, false };
	seg[2] = (struct ring_seg){ TXBUF + 0x200, 90, false };
	seg[3] = (struct ring_seg){ TXBUF + 0x300, 64, true };
	head = ring_post(&txr, seg, 4);
	drv_kick(&mm, VIRTIO_NET_TXQ);
	is_int(fb.sends, 1, "split chain: one frame sent");
	is_int(fb.last_len, NET_HDR_LEN + 100, "  header + 100 bytes (writable part not sent)");
	put_le16(want + 10, 0);
	ok(memcmp(fb.last, want, NET_HDR_LEN + 100) == 0,
	   "  same bytes, num_buffers zeroed");
	ok(fb.last_iov0_len == NET_HDR_LEN && !fb.last_hdr_in_ram,
	   "  header: a 12-byte copy outside guest RAM");
	ok(fb.last_frame_in_ram, "  frame: passed in place");
	ok(all_byte(ram + TXBUF + 0x300, 0x5a, 64), "  writable buffer untouched");
	ok(ram_get16(TXBUF + 10 - 5 + 0x100) == 0xbeef,
	   "  the guest's header left as it was");
	is_int(ring_used_idx(&txr), ++u, "  used idx %u", u);
	ok(ring_used_id(&txr, 0) == head && ring_used_len(&txr, 0) == 0, "  used {head, 0}");
	ok(nic.st.tx_frames == 1 && nic.st.tx_bytes == 100, "  tx_frames 1, tx_bytes 100");
	is_int(efd_take(mm.irq_fd), 1, "  interrupt");

	/* a checksummed frame and a TSO frame in one kick */
	mkhdr(h, &csum34);
	tx_post_one(TXBUF, h, 200, 2);
	mkhdr(h, &tso4);
	tx_post_one(TXBUF + 0x1000, h, 3000, 3);
	drv_kick(&mm, VIRTIO_NET_TXQ);
	is_int(fb.sends, 3, "NEEDS_CSUM and GSO TCPV4 frames sent");
	mkhdr(want, &tso4);
	mkframe(want + NET_HDR_LEN, 3000, 3);
	ok(fb.last_len == NET_HDR_LEN + 3000 && memcmp(fb.last, want, fb.last_len) == 0,
	   "  TSO frame's bytes and header");
	u += 2;
	is_int(ring_used_idx(&txr), u, "  used idx %u", u);
	ok(nic.st.tx_frames == 3 && nic.st.tx_bytes == 3300, "  tx_frames 3, tx_bytes 3300");

	/* lying headers and bad chains: dropped, counted, never sent, used
	 * entries still returned with length 0 */
	mal = nic.st.tx_malformed;
	mkhdr(h, &(struct hdr_spec){ .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				     .csum_start = 0xfff0, .csum_off = 0x10 });
	tx_post_one(TXBUF, h, 100, 4);
	mkhdr(h, &(struct hdr_spec){ .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				     .gso = VIRTIO_NET_HDR_GSO_TCPV6, .gso_size = 1440,
				     .csum_start = 54, .csum_off = 16 });
	tx_post_one(TXBUF + 0x1000, h, 3000, 5);	/* TSO6 not negotiated */
	mkhdr(h, &(struct hdr_spec){ .flags = 0x40 });
	tx_post_one(TXBUF + 0x2000, h, 60, 6);
	mkhdr(h, &(struct hdr_spec){ 0 });
	tx_post_one(TXBUF + 0x3000, h, 13, 7);		/* runt */
	tx_post_one(TXBUF + 0x4000, h, 2000, 8);	/* too long without GSO */
	mkhdr(h, &tso4);
	put_le16(h + 4, 0);
	tx_post_one(TXBUF + 0x5000, h, 3000, 9);	/* gso_size 0 */
	seg[0] = (struct ring_seg){ TXBUF + 0x6000, 11, false };
	ring_post(&txr, seg, 1);			/* 11 bytes: no header */
	seg[0] = (struct ring_seg){ TXBUF + 0x6000, 4, false };
	seg[1] = (struct ring_seg){ TXBUF + 0x6100, 7, false };
	seg[2] = (struct ring_seg){ TXBUF + 0x6200, 100, true };
	ring_post(&txr, seg, 3);			/* 11 readable, 100 writable */
	seg[0] = (struct ring_seg){ TXBUF + 0x6000, 200, true };
	ring_post(&txr, seg, 1);			/* writable only */
	drv_kick(&mm, VIRTIO_NET_TXQ);
	is_int(fb.sends, 3, "9 malformed chains: nothing sent");
	is_int(nic.st.tx_malformed - mal, 9, "  tx_malformed +9");
	is_int(ring_used_idx(&txr), u + 9, "  all 9 returned");
	good = true;
	for (unsigned i = 0; i < 9; i++)
		good &= ring_used_len(&txr, u + i) == 0;
	ok(good, "  each with used length 0");
	ok(!(mmio_rd(&mm, VIRTIO_MMIO_STATUS) & ST_NR), "  no NEEDS_RESET for a bad frame");
	ok(nic.st.tx_frames == 3 && nic.st.tx_dropped == 0, "  not counted as sent or dropped");
	u += 9;

	/* the back end refuses */
	fb.send_ret = -ENOBUFS;
	mkhdr(h, &csum34);
	tx_post_one(TXBUF, h, 100, 10);
	drv_kick(&mm, VIRTIO_NET_TXQ);
	is_int(fb.sends, 4, "back end send failure: send was tried");
	is_int(nic.st.tx_dropped, 1, "  tx_dropped 1");
	is_int(nic.st.tx_frames, 3, "  tx_frames unchanged");
	ok(ring_used_idx(&txr) == ++u && ring_used_len(&txr, u - 1) == 0, "  chain returned");
	fb.send_ret = 0;

	/* a full ring: 256 chains in one kick, then a rekick for fairness */
	efd_take(mm.kick_fd[VIRTIO_NET_TXQ]);
	efd_take(mm.irq_fd);
	mkhdr(h, &(struct hdr_spec){ 0 });
	for (unsigned i = 0; i < TX_SIZE; i++)
		tx_post_one(TXBUF + 0x100ULL * i, h, 60 + i % 64, (uint8_t)i);
	drv_kick(&mm, VIRTIO_NET_TXQ);
	is_int(fb.sends, 4 + TX_SIZE, "256 chains: all sent");
	u += TX_SIZE;
	is_int(ring_used_idx(&txr), u, "  used idx %u", u);
	is_int(efd_take(mm.kick_fd[VIRTIO_NET_TXQ]), 1,
	       "  budget spent: the kick fd is readable again (rekick)");
	is_int(efd_take(mm.irq_fd), 1, "  one interrupt");
	virtio_mmio_kick(&mm, VIRTIO_NET_TXQ);
	mmio_wr(&mm, VIRTIO_MMIO_QUEUE_NOTIFY, VIRTIO_NET_TXQ);
	virtio_mmio_kick(&mm, VIRTIO_NET_TXQ);
	is_int(fb.sends, 4 + TX_SIZE, "  the rekick finds nothing more");
	is_int(efd_take(mm.kick_fd[VIRTIO_NET_TXQ]), 0, "  and does not rekick");
	for (unsigned i = 0; i < 10; i++)
		tx_post_one(TXBUF + 0x100ULL * i, h, 60, (uint8_t)i);
	drv_kick(&mm, VIRTIO_NET_TXQ);
	is_int(fb.sends, 14 + TX_SIZE, "10 chains: sent");
	is_int(efd_take(mm.kick_fd[VIRTIO_NET_TXQ]), 0, "  under the budget: no rekick");
	is_int(ring_used_idx(&txr), u + 10, "  used idx");
out:
	nic_close();
}

/* ---- receive ---- */

static uint8_t src[NET_MAX_FRAME + 16];	/* header + frame to deliver */
static uint8_t got[NET_MAX_FRAME + 16];

/* A received frame: header (NEEDS_CSUM, num_buffers garbage) + a len-byte
 * frame. */
static void mkrx_to(uint8_t *b, size_t len, uint8_t seed)
{
	mkhdr(b, &(struct hdr_spec){ .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				     .csum_start = 34, .csum_off = 6 });
	put_le16(b + 10, 0xeeee);
	mkframe(b + NET_HDR_LEN, len, seed);
}

static void mkrx(size_t len, uint8_t seed)
{
	mkrx_to(src, len, seed);
}

/* Deliver src[0, total) in pieces cut at `cuts` (ascending offsets). */
static int deliver(size_t total, const size_t *cuts, unsigned ncuts)
{
	struct iovec iov[8];
	size_t at = 0;
	unsigned n = 0;

	for (unsigned i = 0; i < ncuts && n < 7; i++) {
		iov[n++] = (struct iovec){ src + at, cuts[i] - at };
		at = cuts[i];
	}
	iov[n++] = (struct iovec){ src + at, total - at };
	return fb.be.deliver(fb.be.dev, iov, n);
}

static int deliver1(size_t total)
{
	return deliver(total, NULL, 0);
}

/* Post one receive chain: a single writable buffer of len at gpa. */
static uint16_t rx_post(uint64_t gpa, uint32_t len)
{
	struct ring_seg s = { gpa, len, true };

	return ring_post(&rxr, &s, 1);
}

static void test_rx_single(void)
{
	size_t cuts[2] = { NET_HDR_LEN, NET_HDR_LEN + 333 };
	struct ring_seg seg[2];
	uint16_t u = 0, head;
	unsigned long drops;
	int r;

	if (!nic_open(0, &fake_ops))
		return;

	/* before DRIVER_OK: lost */
	ok(nic_setup(F_DRV, false), "rx: driver up to queues, no DRIVER_OK");
	rx_post(RXBUF, 2048);
	mkrx(100, 1);
	is_int(deliver1(NET_HDR_LEN + 100), -ENETDOWN, "deliver before DRIVER_OK -> -ENETDOWN");
	is_int(nic.st.rx_dropped, 1, "  rx_dropped 1");
	ok(!nic.rx_waiting, "  the back end is not made to wait");
	is_int(ring_used_idx(&rxr), 0, "  nothing used");

	ok(nic_setup(F_DRV, true), "driver without MRG_RXBUF");
	efd_take(mm.irq_fd);

	/* a frame into one 2-buffer chain */
	memset(ram + RXBUF, 0x5a, 0x2000);
	seg[0] = (struct ring_seg){ RXBUF, 700, true };
	seg[1] = (struct ring_seg){ RXBUF + 0x1000, 1000, true };
	head = ring_post(&rxr, seg, 2);
	mkrx(1000, 2);
	is_int(deliver(NET_HDR_LEN + 1000, cuts, 2), 0, "1000-byte frame into a 700 + 1000 chain");
	is_int(ring_used_idx(&rxr), ++u, "  used idx 1");
	ok(ring_used_id(&rxr, 0) == head, "  that chain");
	is_int(ring_used_len(&rxr, 0), NET_HDR_LEN + 1000, "  used length 12 + 1000");
	is_int(ram_get16(RXBUF + 10), 1, "  num_buffers 1");
	ok(memcmp(ram + RXBUF, src, 10) == 0, "  header bytes as the back end gave them");
	memcpy(got, ram + RXBUF, 700);
	memcpy(got + 700, ram + RXBUF + 0x1000, 312);
	ok(memcmp(got + NET_HDR_LEN, src + NET_HDR_LEN, 1000) == 0,
	   "  frame split over both buffers");
	ok(all_byte(ram + RXBUF + 0x1000 + 312, 0x5a, 1000 - 312), "  nothing written after it");
	is_int(efd_take(mm.irq_fd), 1, "  interrupt");
	ok(nic.st.rx_frames == 1 && nic.st.rx_bytes == 1000, "  rx_frames 1, rx_bytes 1000");

	/* too big for the one posted buffer: dropped, buffer not consumed */
	memset(ram + RXBUF, 0x5a, 0x2000);
	head = rx_post(RXBUF, MRG_BUF);
	mkrx(MRG_BUF, 3);
	drops = nic.st.rx_dropped;
	is_int(deliver1(NET_HDR_LEN + MRG_BUF), -EMSGSIZE,
	       "frame 12 bytes bigger than the buffer -> -EMSGSIZE");
	is_int(nic.st.rx_dropped, drops + 1, "  rx_dropped +1");
	is_int(ring_used_idx(&rxr), u, "  used idx unchanged");
	is_int(nic.dev.vq[VIRTIO_NET_RXQ].last_avail, rxr.avail_idx - 1, "  buffer not consumed");
	is_int(nic.dev.vq[VIRTIO_NET_RXQ].nr_inflight, 0, "  nothing in flight");
	ok(all_byte(ram + RXBUF, 0x5a, 64), "  buffer untouched");
	ok(!nic.rx_waiting, "  the back end is not made to wait");
	is_int(efd_take(mm.irq_fd), 0, "  no interrupt");
	mkrx(MRG_BUF - NET_HDR_LEN, 4);
	is_int(deliver1(MRG_BUF), 0, "a frame that fills it exactly");
	ok(ring_used_idx(&rxr) == ++u && ring_used_id(&rxr, u - 1) == head &&
	   ring_used_len(&rxr, u - 1) == MRG_BUF, "  uses that buffer, length 1526");
	ok(memcmp(ram + RXBUF + NET_HDR_LEN, src + NET_HDR_LEN, MRG_BUF - NET_HDR_LEN) == 0,
	   "  bytes");

	/* no buffer: the back end waits, the rx kick wakes it */
	mkrx(60, 5);
	is_int(deliver1(NET_HDR_LEN + 60), -EAGAIN, "no buffer posted -> -EAGAIN");
	ok(nic.rx_waiting && nic.st.rx_no_buffer == 1, "  rx_waiting, rx_no_buffer 1");
	is_int(deliver1(NET_HDR_LEN + 60), -EAGAIN, "  again -> -EAGAIN");
	is_int(fb.rx_ready, 0, "  rx_ready not called yet");
	drv_kick(&mm, VIRTIO_NET_TXQ);
	is_int(fb.rx_ready, 0, "  not by a tx kick either");
	head = rx_post(RXBUF, 2048);
	drv_kick(&mm, VIRTIO_NET_RXQ);
	is_int(fb.rx_ready, 1, "rx kick after posting: rx_ready called");
	ok(!nic.rx_waiting, "  rx_waiting cleared");
	drv_kick(&mm, VIRTIO_NET_RXQ);
	is_int(fb.rx_ready, 1, "  a second rx kick does not call it again");
	is_int(deliver1(NET_HDR_LEN + 60), 0, "the frame is taken now");
	ok(ring_used_idx(&rxr) == ++u && ring_used_id(&rxr, u - 1) == head &&
	   ring_used_len(&rxr, u - 1) == NET_HDR_LEN + 60, "  used {head, 72}");

	/* sizes */
	rx_post(RXBUF, 4096);
	mkrx(100, 6);
	is_int(deliver1(NET_HDR_LEN + ETH_HDR_LEN - 1), -EINVAL, "12 + 13 bytes -> -EINVAL");
	is_int(deliver1(NET_HDR_LEN), -EINVAL, "header only -> -EINVAL");
	is_int(deliver1(0), -EINVAL, "nothing -> -EINVAL");
	is_int(ring_used_idx(&rxr), u, "  nothing used");
	is_int(deliver1(NET_HDR_LEN + ETH_HDR_LEN), 0, "12 + 14 bytes: taken");
	is_int(ring_used_len(&rxr, u), NET_HDR_LEN + ETH_HDR_LEN, "  used length 26");
	u++;
	rx_post(RXBUF, 4096);
	mkrx(NET_MAX_FRAME - NET_HDR_LEN, 7);
	{
		struct iovec iov[2] = { { src, NET_MAX_FRAME }, { src, 1 } };

		is_int(fb.be.deliver(fb.be.dev, iov, 2), -EINVAL,
		       "NET_MAX_FRAME + 1 (in 2 iovecs) -> -EINVAL");
	}
	is_int(ring_used_idx(&rxr), u, "  nothing used");

	nic_close();

	/* a broken receive ring */
	if (!nic_open(0, &fake_ops))
		return;
	ok(nic_setup(F_DRV, true), "a fresh NIC");
	seg[0] = (struct ring_seg){ RAM_SIZE - 16, 64, true };
	ring_post(&rxr, seg, 1);
	mkrx(60, 8);
	r = deliver1(NET_HDR_LEN + 60);
	ok(r < 0, "receive buffer outside RAM: not delivered (%d)", r);
	ok(mmio_rd(&mm, VIRTIO_MMIO_STATUS) & ST_NR, "  NEEDS_RESET");
	is_int(deliver1(NET_HDR_LEN + 60), -ENETDOWN, "  then -ENETDOWN until reset");
	drops = fb.rx_ready;
	mmio_wr(&mm, VIRTIO_MMIO_STATUS, 0);
	ok(!nic.rx_waiting, "  reset: nothing waits");
	is_int(fb.rx_ready, drops + (r == -EAGAIN), "  rx_ready called iff the back end was waiting");
	nic_close();
}

/* Reassemble the n used chains from used slot `first` (each one buffer
 * at the address the test posted: bufs[i]) into got; total length. */
static size_t gather(uint16_t first, unsigned n, const uint64_t *bufs)
{
	size_t at = 0;

	for (unsigned i = 0; i < n; i++) {
		uint32_t l = ring_used_len(&rxr, first + i);

		memcpy(got + at, ram + bufs[i], l);
		at += l;
	}
	return at;
}

static void test_rx_mergeable(void)
{
	static uint64_t bufs[RX_SIZE];
	static uint16_t heads[RX_SIZE];
	size_t cuts[3] = { NET_HDR_LEN, NET_HDR_LEN + 1, NET_HDR_LEN + 2501 };
	uint16_t u = 0, last;
	unsigned long nobuf;

	if (!nic_open(0, &fake_ops))
		return;
	ok(nic_setup(F_DRV | FB(MRG_RXBUF), true), "rx: driver with MRG_RXBUF");

	/* 4000 bytes over three 1526-byte buffers */
	memset(ram + RXBUF, 0x5a, 0x10000);
	for (unsigned i = 0; i < 3; i++) {
		bufs[i] = RXBUF + 0x1000ULL * i;
		heads[i] = rx_post(bufs[i], MRG_BUF);
	}
	mkrx(4000, 1);
	is_int(deliver(NET_HDR_LEN + 4000, cuts, 3), 0,
	       "4000-byte frame (in 4 source pieces) into 3 x 1526-byte buffers");
	is_int(ring_used_idx(&rxr), 3, "  3 buffers used");
	ok(ring_used_id(&rxr, 0) == heads[0] && ring_used_id(&rxr, 1) == heads[1] &&
	   ring_used_id(&rxr, 2) == heads[2], "  in posting order");
	ok(ring_used_len(&rxr, 0) == MRG_BUF && ring_used_len(&rxr, 1) == MRG_BUF &&
	   ring_used_len(&rxr, 2) == NET_HDR_LEN + 4000 - 2 * MRG_BUF,
	   "  used lengths 1526, 1526, 960");
	is_int(ram_get16(bufs[0] + 10), 3, "  num_buffers 3 in the first header");
	ok(memcmp(ram + bufs[1], src + MRG_BUF, 16) == 0 &&
	   memcmp(ram + bufs[2], src + 2 * MRG_BUF, 16) == 0,
	   "  later buffers start with frame bytes, no header");
	is_int(gather(0, 3, bufs), NET_HDR_LEN + 4000, "  4012 bytes in all");
	ok(memcmp(got, src, 10) == 0 && memcmp(got + NET_HDR_LEN, src + NET_HDR_LEN, 4000) == 0,
	   "  header and frame reassemble");
	ok(all_byte(ram + bufs[2] + 960, 0x5a, MRG_BUF - 960), "  nothing after the end");
	is_int(efd_take(mm.irq_fd), 1, "  one interrupt");
	u = 3;

	/* a small frame takes one buffer, num_buffers 1 */
	bufs[0] = RXBUF;
	heads[0] = rx_post(RXBUF, MRG_BUF);
	mkrx(64, 2);
	is_int(deliver1(NET_HDR_LEN + 64), 0, "64-byte frame with MRG_RXBUF");
	ok(ring_used_idx(&rxr) == u + 1 && ring_used_len(&rxr, u) == NET_HDR_LEN + 64 &&
	   ram_get16(RXBUF + 10) == 1, "  one buffer, num_buffers 1");
	u++;
	efd_take(mm.irq_fd);

	/* not enough buffers: all given back */
	for (unsigned i = 0; i < 2; i++) {
		bufs[i] = RXBUF + 0x1000ULL * i;
		heads[i] = rx_post(bufs[i], MRG_BUF);
	}
	last = nic.dev.vq[VIRTIO_NET_RXQ].last_avail;
	nobuf = nic.st.rx_no_buffer;
	mkrx(4000, 3);
	is_int(deliver1(NET_HDR_LEN + 4000), -EAGAIN, "4000 bytes, 2 buffers posted -> -EAGAIN");
	is_int(ring_used_idx(&rxr), u, "  used idx unchanged");
	is_int(nic.dev.vq[VIRTIO_NET_RXQ].last_avail, last, "  avail position rewound");
	is_int(nic.dev.vq[VIRTIO_NET_RXQ].nr_inflight, 0, "  nothing in flight");
	ok(nic.rx_waiting && nic.st.rx_no_buffer == nobuf + 1, "  rx_waiting, rx_no_buffer +1");
	is_int(efd_take(mm.irq_fd), 0, "  no interrupt");
	is_int(deliver1(NET_HDR_LEN + 4000), -EAGAIN, "  again: -EAGAIN, still nothing consumed");
	is_int(nic.dev.vq[VIRTIO_NET_RXQ].last_avail, last, "  avail position unchanged");
	is_int(fb.rx_ready, 0, "  rx_ready not yet");
	bufs[2] = RXBUF + 0x2000;
	heads[2] = rx_post(bufs[2], MRG_BUF);
	drv_kick(&mm, VIRTIO_NET_RXQ);
	is_int(fb.rx_ready, 1, "third buffer posted, rx kick: rx_ready");
	is_int(deliver1(NET_HDR_LEN + 4000), 0, "the frame is delivered now");
	ok(ring_used_idx(&rxr) == u + 3 && ring_used_id(&rxr, u) == heads[0] &&
	   ring_used_id(&rxr, u + 1) == heads[1] && ring_used_id(&rxr, u + 2) == heads[2],
	   "  into the same first buffer, then the others");
	is_int(ram_get16(bufs[0] + 10), 3, "  num_buffers 3");
	gather(u, 3, bufs);
	ok(memcmp(got + NET_HDR_LEN, src + NET_HDR_LEN, 4000) == 0, "  bytes");
	u += 3;

	/* the largest frame over 43 buffers */
	for (unsigned i = 0; i < 43; i++) {
		bufs[i] = RXBUF + 0x800ULL * i;
		heads[i] = rx_post(bufs[i], MRG_BUF);
	}
	mkrx(NET_MAX_FRAME - NET_HDR_LEN, 4);
	is_int(deliver1(NET_MAX_FRAME), 0, "NET_MAX_FRAME bytes into 43 buffers");
	is_int(ring_used_idx(&rxr), u + 43, "  43 used");
	is_int(ram_get16(bufs[0] + 10), 43, "  num_buffers 43");
	is_int(gather(u, 43, bufs), NET_MAX_FRAME, "  all bytes");
	ok(memcmp(got + NET_HDR_LEN, src + NET_HDR_LEN, NET_MAX_FRAME - NET_HDR_LEN) == 0,
	   "  reassemble");
	u += 43;

	/* more than the 64 buffers one frame may take: dropped, all 64
	 * given back */
	for (unsigned i = 0; i < 70; i++) {
		bufs[i] = RXBUF + 0x400ULL * i;
		heads[i] = rx_post(bufs[i], 1000);
	}
	last = nic.dev.vq[VIRTIO_NET_RXQ].last_avail;
	is_int(deliver1(NET_MAX_FRAME), -EMSGSIZE,
	       "NET_MAX_FRAME into 1000-byte buffers (66 needed) -> -EMSGSIZE");
	ok(ring_used_idx(&rxr) == u && nic.dev.vq[VIRTIO_NET_RXQ].last_avail == last &&
	   nic.dev.vq[VIRTIO_NET_RXQ].nr_inflight == 0, "  nothing consumed");
	ok(!nic.rx_waiting, "  not waiting");
	mkrx(1900, 5);
	is_int(deliver1(NET_HDR_LEN + 1900), 0, "1900 bytes: 2 of those buffers");
	ok(ring_used_idx(&rxr) == u + 2 && ring_used_id(&rxr, u) == heads[0] &&
	   ring_used_id(&rxr, u + 1) == heads[1] && ring_used_len(&rxr, u) == 1000 &&
	   ring_used_len(&rxr, u + 1) == 912, "  the first two, 1000 + 912");
	nic_close();

	/* with EVENT_IDX the device asks for a kick on the next buffer */
	if (!nic_open(0, &fake_ops))
		return;
	ok(nic_setup(F_DRV | FB(MRG_RXBUF) | FV(EVENT_IDX), true),
	   "MRG_RXBUF + EVENT_IDX");
	for (unsigned i = 0; i < 2; i++)
		heads[i] = rx_post(RXBUF + 0x1000ULL * i, MRG_BUF);
	mkrx(4000, 6);
	is_int(deliver1(NET_HDR_LEN + 4000), -EAGAIN, "2 buffers for 4000 bytes -> -EAGAIN");
	is_int(ring_avail_event(&rxr), rxr.avail_idx,
	       "  avail_event: kick me when the next buffer comes");
	is_int(nic.dev.vq[VIRTIO_NET_RXQ].last_avail, 0, "  avail position rewound to 0");
	heads[2] = rx_post(RXBUF + 0x2000, MRG_BUF);
	drv_kick(&mm, VIRTIO_NET_RXQ);
	is_int(fb.rx_ready, 1, "  rx kick: rx_ready");
	is_int(deliver1(NET_HDR_LEN + 4000), 0, "  delivered");
	ok(ring_used_idx(&rxr) == 3 && ring_used_id(&rxr, 0) == heads[0], "  from the first buffer");
	nic_close();

	/* a readable-only chain offered for receive: the frame cannot go in */
	if (!nic_open(0, &fake_ops))
		return;
	ok(nic_setup(F_DRV | FB(MRG_RXBUF), true), "MRG_RXBUF, a readable-only rx chain");
	{
		struct ring_seg s = { RXBUF, MRG_BUF, false };

		ring_post(&rxr, &s, 1);
	}
	rx_post(RXBUF + 0x1000, MRG_BUF);
	mkrx(60, 7);
	is_int(deliver1(NET_HDR_LEN + 60), -ENETDOWN, "  frame dropped");
	ok(ring_used_idx(&rxr) == 0, "  nothing used");
	ok(mmio_rd(&mm, VIRTIO_MMIO_STATUS) & ST_NR, "  the guest broke the rules: NEEDS_RESET");
	ok(nic.rx_nres == 0 && !nic.rx_waiting, "  nothing reserved, nobody waits");
	nic_close();
}

/* ---- pull receive (a tap's path: read straight into the buffers) ---- */

static uint8_t fr[6][NET_MAX_FRAME];	/* frames waiting in the fake back end */

#define GSO_OFF (FB(GUEST_CSUM) | FB(GUEST_TSO4) | FB(GUEST_TSO6))
#define F_GSO (FB(GUEST_CSUM) | FB(GUEST_TSO4))

/* A frame of len bytes (after its header) into b; queue it in the back
 * end. */
static void rxq_add(uint8_t *b, size_t len, uint8_t seed)
{
	unsigned at = (fb.rxq_head + fb.rxq_n) % 16;

	mkrx_to(b, len, seed);
	fb.rxq[at] = b;
	fb.rxq_len[at] = NET_HDR_LEN + len;
	fb.rxq_n++;
}

/* Post n one-buffer chains of len bytes, stride apart from base. */
static void rx_post_n(uint64_t *bufs, uint16_t *heads, unsigned n, uint64_t base,
		      uint64_t stride, uint32_t len)
{
	for (unsigned i = 0; i < n; i++) {
		bufs[i] = base + stride * i;
		heads[i] = rx_post(bufs[i], len);
	}
}

/* The n used chains from slot first hold the NET_MAX_FRAME bytes of f
 * (num_buffers aside). */
static void check_max_frame(uint16_t first, unsigned n, const uint64_t *bufs, const uint8_t *f)
{
	is_int(gather(first, n, bufs), NET_MAX_FRAME, "  65550 bytes in %u buffers", n);
	ok(memcmp(got, f, 10) == 0 &&
	   memcmp(got + NET_HDR_LEN, f + NET_HDR_LEN, NET_MAX_FRAME - NET_HDR_LEN) == 0,
	   "  header and frame reassemble");
}

static void test_rx_pull(void)
{
	static uint64_t bufs[RX_SIZE];
	static uint16_t heads[RX_SIZE];
	struct virtq *vq = &nic.dev.vq[VIRTIO_NET_RXQ];
	unsigned long drops;
	bool good;

	if (!nic_open(GSO_OFF, &fake_ops_pull))
		return;
	ok(fb.be.pull == net_rx_pull, "pull: init sets the back end's pull");
	ok(nic_setup(F_DRV | FB(MRG_RXBUF), false), "pull: MRG_RXBUF, no GSO, before DRIVER_OK");
	rx_post(RXBUF, MRG_BUF);
	rxq_add(fr[0], 60, 1);
	is_int(net_rx_pull(&nic, 64), -ENETDOWN, "  -ENETDOWN (the back end discards)");
	ok(fb.rxq_n == 1 && fb.recvs == 0 && ring_used_idx(&rxr) == 0, "  nothing read, nothing used");
	fb.rxq_n = 0;

	ok(nic_setup(F_DRV | FB(MRG_RXBUF), true), "driver up, MRG_RXBUF, no GSO");
	memset(ram + RXBUF, 0x5a, 0x10000);
	rx_post_n(bufs, heads, 4, RXBUF, 0x1000, MRG_BUF);
	rxq_add(fr[0], 60, 2);
	is_int(net_rx_pull(&nic, 64), 1, "60-byte frame pulled");
	ok(fb.recv_niov == 5 && fb.recv_in_ram,
	   "  read straight into the 4 posted buffers (+ the device's 1-byte tail)");
	ok(ring_used_idx(&rxr) == 1 && ring_used_id(&rxr, 0) == heads[0] &&
	   ring_used_len(&rxr, 0) == NET_HDR_LEN + 60, "  used {first buffer, 72}");
	is_int(ram_get16(bufs[0] + 10), 1, "  num_buffers 1 (over the source's 0xeeee)");
	ok(memcmp(ram + bufs[0], fr[0], 10) == 0 &&
	   memcmp(ram + bufs[0] + NET_HDR_LEN, fr[0] + NET_HDR_LEN, 60) == 0,
	   "  header and frame bytes");
	ok(all_byte(ram + bufs[1], 0x5a, MRG_BUF), "  the next buffer untouched");
	is_int(efd_take(mm.irq_fd), 1, "  interrupt");
	ok(nic.rx_nres == 3 && vq->nr_inflight == 3,
	   "  the other 3 buffers stay reserved for the next frames");
	ok(nic.st.rx_frames == 1 && nic.st.rx_bytes == 60, "  rx_frames 1, rx_bytes 60");

	rxq_add(fr[1], 1514, 3);
	rxq_add(fr[2], 100, 4);
	is_int(net_rx_pull(&nic, 64), 2, "1514- and 100-byte frames in one pull (one buffer left)");
	ok(ring_used_id(&rxr, 1) == heads[1] && ring_used_len(&rxr, 1) == MRG_BUF &&
	   ram_get16(bufs[1] + 10) == 1, "  1514: the second buffer, filled exactly, num_buffers 1");
	ok(memcmp(ram + bufs[1] + NET_HDR_LEN, fr[1] + NET_HDR_LEN, 1514) == 0, "  its bytes");
	ok(ring_used_id(&rxr, 2) == heads[2] && ring_used_len(&rxr, 2) == NET_HDR_LEN + 100,
	   "  100: the third buffer, used length 112");
	is_int(efd_take(mm.irq_fd), 1, "  one interrupt for both");

	rx_post_n(bufs + 4, heads + 4, 2, RXBUF + 0x4000, 0x1000, MRG_BUF);
	rxq_add(fr[0], 60, 5);
	rxq_add(fr[1], 60, 6);
	is_int(net_rx_pull(&nic, 1), 1, "budget 1: one frame");
	is_int(fb.rxq_n, 1, "  the other still waits in the back end");
	is_int(net_rx_pull(&nic, 1), 1, "  the next call takes it");
	ok(ring_used_id(&rxr, 3) == heads[3] && ring_used_id(&rxr, 4) == heads[4],
	   "  buffers used in posting order");

	/* one buffer left, two frames: the second is not read */
	rxq_add(fr[0], 60, 7);
	rxq_add(fr[1], 60, 8);
	is_int(net_rx_pull(&nic, 64), -EAGAIN, "two frames, one buffer left: -EAGAIN");
	is_int(ring_used_idx(&rxr), 6, "  the first delivered");
	ok(fb.rxq_n == 1 && fb.recvs == 6, "  the second left in the back end, unread");
	ok(nic.rx_waiting && nic.st.rx_no_buffer == 1, "  rx_waiting, rx_no_buffer 1");
	ok(vq->nr_inflight == 0 && nic.rx_nres == 0, "  no buffer held");
	heads[6] = rx_post(RXBUF + 0x6000, MRG_BUF);
	rx_post(RXBUF + 0x7000, MRG_BUF);
	drv_kick(&mm, VIRTIO_NET_RXQ);
	is_int(fb.rx_ready, 1, "two buffers posted, rx kick: rx_ready");
	is_int(net_rx_pull(&nic, 64), 1, "  the frame is read now");
	ok(ring_used_id(&rxr, 6) == heads[6] && fb.rxq_n == 0, "  into the first");
	ok(memcmp(ram + RXBUF + 0x6000 + NET_HDR_LEN, fr[1] + NET_HDR_LEN, 60) == 0,
	   "  in order, nothing lost");
	ok(!nic.rx_waiting && nic.rx_nres == 1, "  the second stays reserved");
	is_int(net_rx_pull(&nic, 64), 0, "  nothing waiting: 0 frames");
	ok(nic.rx_nres == 1 && vq->nr_inflight == 1, "  the reservation kept");

	/* runts and back-end errors */
	rx_post(RXBUF, MRG_BUF);
	drops = nic.st.rx_dropped;
	mkrx_to(fr[0], 60, 9);
	fb.rxq[fb.rxq_head % 16] = fr[0];
	fb.rxq_len[fb.rxq_head % 16] = NET_HDR_LEN + ETH_HDR_LEN - 1;
	fb.rxq_n = 1;
	is_int(net_rx_pull(&nic, 64), 1, "a 12 + 13-byte runt is read");
	ok(nic.st.rx_dropped == drops + 1 && ring_used_idx(&rxr) == 7, "  dropped, nothing used");
	fb.recv_err = -EBADFD;
	rxq_add(fr[0], 60, 10);
	is_int(net_rx_pull(&nic, 64), 0, "recv_into fails (-EBADFD): 0 frames");
	is_int(ring_used_idx(&rxr), 7, "  nothing used");
	fb.recv_err = 0;
	is_int(net_rx_pull(&nic, 64), 1, "  it works again: the frame");
	is_int(ring_used_idx(&rxr), 8, "  used");
	rxq_add(fr[1], 3000, 13);
	drops = nic.st.rx_dropped;
	is_int(net_rx_pull(&nic, 1), 1, "a 3000-byte frame, one 1526-byte buffer (no GSO): read");
	ok(nic.st.rx_dropped == drops + 1 && ring_used_idx(&rxr) == 8 && fb.rxq_n == 0,
	   "  cut (it reached the tail): dropped, nothing used");

	/* a queue reset under the reservation (QueueReady 0, set up again) */
	rx_post_n(bufs, heads, 2, RXBUF, 0x1000, MRG_BUF);
	rxq_add(fr[0], 60, 11);
	net_rx_pull(&nic, 64);
	is_int(nic.rx_nres, 2, "two buffers reserved");
	memset(ram + RXBUF, 0x5a, 0x10000);
	mmio_wr(&mm, VIRTIO_MMIO_QUEUE_SEL, VIRTIO_NET_RXQ);
	mmio_wr(&mm, VIRTIO_MMIO_QUEUE_READY, 0);
	ring_init(&rxr, RX_DESC, RX_AVAIL, RX_USED, RX_SIZE);
	is_int(drv_queue_ring(&mm, VIRTIO_NET_RXQ, &rxr), 1, "  receive queue reset and set up again");
	rxr.next_desc = 5;
	heads[0] = rx_post(RXBUF + 0x8000, MRG_BUF);
	rxq_add(fr[0], 60, 12);
	is_int(net_rx_pull(&nic, 64), -EAGAIN, "  a frame, then -EAGAIN (the ring is empty)");
	ok(ring_used_idx(&rxr) == 1 && ring_used_id(&rxr, 0) == heads[0],
	   "  goes into the buffer posted since, not a stale reserved one");
	ok(all_byte(ram + RXBUF, 0x5a, 0x2000), "  the stale buffers untouched");
	mmio_wr(&mm, VIRTIO_MMIO_STATUS, 0);
	ok(nic.rx_nres == 0, "device reset: nothing reserved");
	nic_close();

	/* GSO: buffers for a 64 KiB frame before anything is read */
	if (!nic_open(GSO_OFF, &fake_ops_pull))
		return;
	ok(nic_setup(F_DRV | FB(MRG_RXBUF) | F_GSO | FV(EVENT_IDX), true),
	   "MRG_RXBUF + GUEST_TSO4 + EVENT_IDX");
	rx_post_n(bufs, heads, 10, RXBUF, 0x800, MRG_BUF);
	rxq_add(fr[0], 60, 13);
	is_int(net_rx_pull(&nic, 64), -EAGAIN,
	       "10 x 1526 bytes posted (< 64 KiB): -EAGAIN, even for a small frame");
	ok(fb.recvs == 0 && fb.rxq_n == 1, "  the frame stays in the back end (its size is "
	   "known only once read)");
	ok(ring_used_idx(&rxr) == 0 && vq->last_avail == 0 && vq->nr_inflight == 0,
	   "  nothing pushed, all 10 given back");
	is_int(ring_avail_event(&rxr), 10, "  avail_event: kick me when the next buffer comes");
	rx_post_n(bufs + 10, heads + 10, 34, RXBUF + 0x5000, 0x800, MRG_BUF);
	drv_kick(&mm, VIRTIO_NET_RXQ);
	is_int(fb.rx_ready, 1, "34 more, kick: rx_ready");
	rxq_add(fr[1], NET_MAX_FRAME - NET_HDR_LEN, 14);
	is_int(net_rx_pull(&nic, 64), -EAGAIN,
	       "the small frame and a 64 KiB one, then -EAGAIN (1 buffer left)");
	is_int(fb.recvs, 2, "  two frames read");
	ok(ring_used_id(&rxr, 0) == heads[0] && ram_get16(bufs[0] + 10) == 1,
	   "  small: the first buffer, num_buffers 1");
	is_int(ring_used_idx(&rxr), 44, "  64 KiB: 43 buffers");
	is_int(ram_get16(bufs[1] + 10), 43, "  num_buffers 43");
	good = true;
	for (unsigned i = 0; i < 43; i++)
		good &= ring_used_id(&rxr, 1 + i) == heads[1 + i] &&
			ring_used_len(&rxr, 1 + i) == (i < 42 ? MRG_BUF : NET_MAX_FRAME - 42 * MRG_BUF);
	ok(good, "  in order, used lengths 42 x 1526 + 1458");
	check_max_frame(1, 43, bufs + 1, fr[1]);
	nic_close();

	/* after many short frames they are read into the bounce buffer and
	 * copied (copybreak), or with rx_copybreak 0 into the first buffer
	 * only; a long frame's rest lands in the bounce buffer and is copied
	 * into the reserved buffers after it */
	for (unsigned cb = 0; cb < 2; cb++) {
		if (!nic_open(GSO_OFF, &fake_ops_pull))
			return;
		if (!cb)
			nic.rx_copybreak = 0;
		ok(nic_setup(F_DRV | FB(MRG_RXBUF) | F_GSO, true),
		   "rx_copybreak %u: 100 short frames, then a 64 KiB one", cb ? 4096 : 0);
		rx_post_n(bufs, heads, RX_SIZE, RXBUF, 0x2000, 4096);
		good = true;
		for (unsigned i = 0; i < 100; i++) {
			rxq_add(fr[0], 60, (uint8_t)i);
			good &= net_rx_pull(&nic, 64) == 1;
			good &= ram_get16(bufs[i] + 10) == 1 &&
				memcmp(ram + bufs[i] + NET_HDR_LEN, fr[0] + NET_HDR_LEN, 60) == 0;
		}
		ok(good && ring_used_idx(&rxr) == 100, "  100 frames, one buffer each, bytes right");
		is_int(fb.recv_niov, cb ? 1 : 2, cb ? "  the last read into the bounce buffer only"
						: "  the last read into 1 buffer + the bounce buffer");
		rxq_add(fr[1], NET_MAX_FRAME - NET_HDR_LEN, 40);
		is_int(net_rx_pull(&nic, 64), -EAGAIN,
		       "  the 64 KiB frame, then -EAGAIN (11 buffers left)");
		is_int(fb.recv_niov, cb ? 1 : 2, "  read the same way");
		ok(ring_used_idx(&rxr) == 117 && ram_get16(bufs[100] + 10) == 17,
		   "  17 buffers, num_buffers 17");
		check_max_frame(100, 17, bufs + 100, fr[1]);
		rx_post_n(bufs, heads, 20, RXBUF, 0x2000, 4096);
		rxq_add(fr[2], NET_MAX_FRAME - NET_HDR_LEN, 41);
		is_int(net_rx_pull(&nic, 64), -EAGAIN,
		       "  20 more buffers: another 64 KiB frame, then -EAGAIN");
		ok(fb.recv_niov == 18 && ring_used_idx(&rxr) == 134,
		   "  read straight into all its 17 buffers now (%u iovecs)", fb.recv_niov);
		is_int(ram_get16(RXBUF + 0x2000 * 117 + 10), 17,
		       "  from the 11 given back before, num_buffers 17");
		nic_close();
	}

	/* at most 256 KiB per pull (the device lock is held meanwhile) */
	if (!nic_open(GSO_OFF, &fake_ops_pull))
		return;
	ok(nic_setup(F_DRV | FB(MRG_RXBUF) | F_GSO, true), "128 x 4 KiB buffers, six 64 KiB frames");
	rx_post_n(bufs, heads, RX_SIZE, RXBUF, 0x1000, 4096);
	for (unsigned i = 0; i < 6; i++)
		rxq_add(fr[i], NET_MAX_FRAME - NET_HDR_LEN, (uint8_t)(20 + i));
	is_int(net_rx_pull(&nic, 64), 4, "  one pull reads 4 (256 KiB)");
	is_int(net_rx_pull(&nic, 64), 2, "  the next the other 2");
	ok(ring_used_idx(&rxr) == 6 * 17 && ram_get16(RXBUF + 17 * 0x1000 * 5 + 10) == 17,
	   "  17 buffers each, num_buffers 17");
	nic_close();

	/* many-segment chains: at most NET_RX_MAX_IOV iovecs per read */
	if (!nic_open(GSO_OFF, &fake_ops_pull))
		return;
	ok(nic_setup(F_DRV | FB(MRG_RXBUF) | F_GSO | FV(INDIRECT_DESC), true),
	   "9 chains of 128 x 64-byte buffers (indirect tables)");
	for (unsigned i = 0; i < 9; i++) {
		uint64_t tbl = TXBUF + 0x1000ULL * i;

		for (unsigned j = 0; j < RX_SIZE; j++)
			desc_put(tbl, j, RXBUF + 0x2000ULL * i + 64 * j, 64,
				 VIRTQ_DESC_F_WRITE | (j + 1 < RX_SIZE ? VIRTQ_DESC_F_NEXT : 0),
				 (uint16_t)(j + 1));
		ring_desc(&rxr, i, tbl, RX_SIZE * 16, VIRTQ_DESC_F_INDIRECT, 0);
		ring_offer(&rxr, (uint16_t)i);
	}
	rxq_add(fr[0], 30000, 30);
	is_int(net_rx_pull(&nic, 1), 1, "  a 30000-byte frame (budget 1)");
	is_int(fb.recv_niov, 6 * RX_SIZE + 1,
	       "  read into 6 chains' 768 iovecs + the tail (a 7th could pass 1024)");
	ok(ring_used_idx(&rxr) == 4 && ring_used_len(&rxr, 0) == 8192 &&
	   ring_used_len(&rxr, 3) == NET_HDR_LEN + 30000 - 3 * 8192 &&
	   ram_get16(RXBUF + 10) == 4, "  4 chains used (3 x 8192 + 5436), num_buffers 4");
	ok(memcmp(ram + RXBUF + 0x2000 * 3, fr[0] + 3 * 8192, 5436) == 0, "  the last one's bytes");
	nic_close();

	/* without mergeable buffers: one chain per frame, never cut */
	if (!nic_open(GSO_OFF, &fake_ops_pull))
		return;
	ok(nic_setup(F_DRV, true), "no MRG_RXBUF, no GSO");
	{
		struct ring_seg seg[2] = { { RXBUF, 700, true }, { RXBUF + 0x1000, 1000, true } };

		heads[0] = ring_post(&rxr, seg, 2);
	}
	rxq_add(fr[0], 1000, 31);
	is_int(net_rx_pull(&nic, 64), -EAGAIN,
	       "1000-byte frame into a 700 + 1000 chain, then -EAGAIN (no chain left)");
	ok(fb.recv_niov == 3 && ring_used_len(&rxr, 0) == NET_HDR_LEN + 1000 &&
	   ram_get16(RXBUF + 10) == 1, "  2 iovecs + the tail, used length 1012, num_buffers 1");
	ok(memcmp(ram + RXBUF + NET_HDR_LEN, fr[0] + NET_HDR_LEN, 700 - NET_HDR_LEN) == 0 &&
	   memcmp(ram + RXBUF + 0x1000, fr[0] + 700, 312) == 0, "  split over both");
	heads[1] = rx_post(RXBUF + 0x4000, 1000);
	rxq_add(fr[1], 1514, 32);
	drops = nic.st.rx_dropped;
	is_int(net_rx_pull(&nic, 64), 1, "1514-byte frame, one 1000-byte chain: read");
	ok(nic.st.rx_dropped == drops + 1 && ring_used_idx(&rxr) == 1 && fb.rxq_n == 0,
	   "  and dropped, not cut (5.1.6.4.1: one chain holds the whole frame)");
	rxq_add(fr[2], 60, 33);
	is_int(net_rx_pull(&nic, 64), -EAGAIN, "  a 60-byte frame, then -EAGAIN");
	ok(ring_used_idx(&rxr) == 2 && ring_used_id(&rxr, 1) == heads[1] &&
	   ring_used_len(&rxr, 1) == NET_HDR_LEN + 60, "  goes into that chain");
	nic_close();

	/* a frame longer than the bounce buffer, all of it read there
	 * (copybreak), into a chain that would hold it: cut, so dropped */
	if (!nic_open(GSO_OFF, &fake_ops_pull))
		return;
	ok(nic_setup(F_DRV | F_GSO, true), "one 200000-byte chain, everything through the bounce buffer");
	nic.rx_copybreak = UINT64_MAX;
	heads[0] = rx_post(RXBUF, 200000);
	{
		static uint8_t big[70000];

		mkrx_to(big, sizeof(big) - NET_HDR_LEN, 37);
		fb.rxq[fb.rxq_head % 16] = big;
		fb.rxq_len[fb.rxq_head % 16] = sizeof(big);
		fb.rxq_n = 1;
	}
	drops = nic.st.rx_dropped;
	is_int(net_rx_pull(&nic, 1), 1, "  a 70000-byte frame: read");
	ok(nic.st.rx_dropped == drops + 1 && ring_used_idx(&rxr) == 0,
	   "  it filled the bounce buffer to the last byte: cut, dropped");
	rxq_add(fr[0], NET_MAX_FRAME - NET_HDR_LEN, 38);
	is_int(net_rx_pull(&nic, 1), 1, "  a 65550-byte one");
	ok(ring_used_idx(&rxr) == 1 && ring_used_len(&rxr, 0) == NET_MAX_FRAME &&
	   memcmp(ram + RXBUF + NET_HDR_LEN, fr[0] + NET_HDR_LEN, NET_MAX_FRAME - NET_HDR_LEN) == 0,
	   "  delivered whole");
	nic_close();

	/* GSO without mergeable buffers, a guest posting small chains: the
	 * device cannot wait for a bigger one */
	if (!nic_open(GSO_OFF, &fake_ops_pull))
		return;
	ok(nic_setup(F_DRV | F_GSO, true), "GUEST_TSO4 without MRG_RXBUF, a 1526-byte chain");
	rx_post(RXBUF, MRG_BUF);
	rxq_add(fr[0], 60, 34);
	is_int(net_rx_pull(&nic, 64), -EAGAIN, "  a 60-byte frame is read into it, then -EAGAIN");
	is_int(ring_used_idx(&rxr), 1, "  used");
	nic_close();

	/* what the guest may not post */
	if (!nic_open(GSO_OFF, &fake_ops_pull))
		return;
	ok(nic_setup(F_DRV | FB(MRG_RXBUF), true), "a receive chain with a device-readable buffer");
	{
		struct ring_seg seg[2] = { { RXBUF, 12, false }, { RXBUF + 0x1000, MRG_BUF, true } };

		ring_post(&rxr, seg, 2);
	}
	rxq_add(fr[0], 60, 35);
	is_int(net_rx_pull(&nic, 64), -ENETDOWN, "  -ENETDOWN");
	ok(mmio_rd(&mm, VIRTIO_MMIO_STATUS) & ST_NR, "  NEEDS_RESET");
	ok(fb.recvs == 0 && fb.rxq_n == 1 && ring_used_idx(&rxr) == 0, "  nothing read or used");
	fb.rxq_n = 0;
	ok(nic_setup(F_DRV | FB(MRG_RXBUF), true), "an 8-byte mergeable buffer (< the header)");
	rx_post(RXBUF, 8);
	rxq_add(fr[0], 60, 36);
	is_int(net_rx_pull(&nic, 64), -ENETDOWN, "  -ENETDOWN");
	ok(mmio_rd(&mm, VIRTIO_MMIO_STATUS) & ST_NR, "  NEEDS_RESET");
	ok(fb.recvs == 0 && ring_used_idx(&rxr) == 0, "  nothing read or used");
	nic_close();
}

/* ---- control queue, reset ---- */

/* Post a control command: class, cmd, one data byte, then a writable ack
 * byte (pre-set to 0xee) unless !ack; returns the ack's address. */
static uint64_t ctrl_post(uint64_t gpa, uint8_t cls, uint8_t cmd, bool ack)
{
	struct ring_seg s[3] = {
		{ gpa, 2, false },
		{ gpa + 0x10, 1, false },
		{ gpa + 0x20, 1, true },
	};

	ram[gpa] = cls;
	ram[gpa + 1] = cmd;
	ram[gpa + 0x10] = 1;
	ram[gpa + 0x20] = 0xee;
	ring_post(&cqr, s, ack ? 3 : 2);
	return gpa + 0x20;
}

static void test_ctrl_reset(void)
{
	uint64_t a[4];

	if (!nic_open(0, &fake_ops))
		return;
	ok(nic_setup(F_DRV, true), "ctrl: driver with CTRL_VQ + CTRL_RX");
	a[0] = ctrl_post(TXBUF, VIRTIO_NET_CTRL_RX, 0, true);		/* promisc on */
	a[1] = ctrl_post(TXBUF + 0x100, 99, 0, true);			/* unknown class */
	a[2] = ctrl_post(TXBUF + 0x200, VIRTIO_NET_CTRL_MAC, 0, true);	/* MAC_TABLE_SET */
	a[3] = ctrl_post(TXBUF + 0x300, VIRTIO_NET_CTRL_RX, 6, true);	/* unknown cmd */
	drv_kick(&mm, VIRTIO_NET_CTLQ);
	is_int(ring_used_idx(&cqr), 4, "4 commands answered");
	is_int(ram[a[0]], VIRTIO_NET_OK, "  CTRL_RX promisc on: ack 0");
	is_int(ram[a[1]], VIRTIO_NET_ERR, "  class 99: ack 1");
	is_int(ram[a[2]], VIRTIO_NET_OK, "  MAC_TABLE_SET: ack 0");
	is_int(ram[a[3]], VIRTIO_NET_ERR, "  CTRL_RX command 6: ack 1");
	ok(ring_used_len(&cqr, 0) == 1 && ring_used_len(&cqr, 1) == 1, "  used length 1");
	is_int(efd_take(mm.irq_fd), 1, "  interrupt");

	ctrl_post(TXBUF, VIRTIO_NET_CTRL_RX, 0, false);
	drv_kick(&mm, VIRTIO_NET_CTLQ);
	ok(mmio_rd(&mm, VIRTIO_MMIO_STATUS) & ST_NR, "command without an ack byte: NEEDS_RESET");
	ok(mmio_rd(&mm, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_INT_CONFIG,
	   "  config interrupt");
	is_int(ring_used_idx(&cqr), 4, "  not answered");

	ok(nic_setup(F_DRV, true), "after a reset: up again");
	{
		struct ring_seg s[2] = { { TXBUF, 1, false }, { TXBUF + 0x20, 1, true } };

		ring_post(&cqr, s, 2);
	}
	drv_kick(&mm, VIRTIO_NET_CTLQ);
	ok(mmio_rd(&mm, VIRTIO_MMIO_STATUS) & ST_NR, "1-byte command: NEEDS_RESET");

	/* a reset while the back end waits */
	ok(nic_setup(F_DRV, true), "up again");
	mkrx(60, 1);
	is_int(deliver1(NET_HDR_LEN + 60), -EAGAIN, "no rx buffer: the back end waits");
	is_int(fb.rx_ready, 0, "  rx_ready not yet");
	mmio_wr(&mm, VIRTIO_MMIO_STATUS, 0);
	is_int(fb.rx_ready, 1, "device reset: rx_ready called");
	ok(!nic.rx_waiting, "  rx_waiting cleared");
	is_int(deliver1(NET_HDR_LEN + 60), -ENETDOWN, "  the frame it then offers is dropped");
	mmio_wr(&mm, VIRTIO_MMIO_STATUS, 0);
	is_int(fb.rx_ready, 1, "a reset with nobody waiting: no rx_ready");
	nic_close();
}

int main(void)
{
	log_threshold = LOG_ERR;
	if (ram_alloc(RAM_SIZE))
		return 1;

	test_tx_check();
	test_features_config();
	test_tx();
	test_rx_single();
	test_rx_mergeable();
	test_rx_pull();
	test_ctrl_reset();

	ram_free();
	return done_testing();
}
