/*
 * net_driver: nkvm's virtio-net device on the tap back end driven from
 * the host, against a raw tap at the same frame sizes, for bench/net.sh.
 * A benchmark, not a test: it prints numbers.
 *
 * On a PVM host a guest-side iperf would measure the emulation of the
 * guest kernel, not nkvm, so this program plays the guest's driver
 * against the real code instead: guest RAM from gm_init (memfd, as a
 * VM's), a virtio_net on a tap from net_tap_create (a new tap, no
 * ifname), started on an event loop (evloop.h) in which the queues' kick
 * eventfds are registered as nkvm's vm_virtio.c registers them, set up
 * through virtio_mmio_access() the way Linux's virtio_mmio and
 * virtio_net drivers do it (VERSION_1, EVENT_IDX, INDIRECT_DESC,
 * MRG_RXBUF, MAC, STATUS, and every checksum/TSO offload the device
 * offers; no control queue). Queues of -q entries (256; 1024 to see what
 * bigger rings do, when the device offers them).
 *
 * Everything runs in a fresh network namespace (unshare(CLONE_NEWNET),
 * so root is needed), with IPv6 off so the kernel sends nothing of its
 * own through the taps. Two taps: nkvm's, and a "raw" one this program
 * opens itself with the same flags (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR,
 * 12-byte header) and the same receive offloads nkvm sets for the
 * features negotiated (TUNSETOFFLOAD). Both are up, no address.
 *
 * Cases (-c), each run for -t seconds, -n rounds, nkvm and raw alternating
 * (nkvm first in odd rounds):
 *
 *   tx1500  guest -> tap, 1514-byte Ethernet frames (a 1500-byte IPv4/UDP
 *           packet, checksums computed, header flags 0): one direct
 *           descriptor per frame holding header + frame (Linux's layout
 *           for a linear skb).
 *   tx64k   guest -> tap, 64294-byte TCP/IPv4 frames (44 x 1460 bytes of
 *           payload), header NEEDS_CSUM + GSO_TCPV4, gso_size 1460: one
 *           descriptor pointing to an indirect table of header + the 54
 *           bytes of headers, then the payload in 32 KiB pieces (TCP's
 *           page fragments), as Linux sends a TSO skb.
 *   rx1500  tap -> guest, 1514-byte UDP frames, injected while read.
 *   rx64k   tap -> guest, 64294-byte TCP frames that stay one GSO frame
 *           (the tap has TSO4 on, since the guest took GUEST_TSO4).
 *   rxq1500, rxq64k  the same frames, queued first, then read: the
 *           reader's capacity alone (see below).
 *
 * Transmit, nkvm: post -k chains (default 128) into free ring slots,
 * publish avail->idx, kick when avail_event asks (vring_need_event; the
 * write to the kick eventfd is what KVM's ioeventfd does), then one turn
 * of the event loop (epoll_wait, the kick callback: virtio_mmio_kick, so
 * the device pops each chain and writev()s it to the tap), take the
 * interrupt (InterruptStatus, InterruptAck) when one was raised, reap the
 * used ring, re-enable the interrupt (used_event). Transmit, raw: writev()
 * of the same 12-byte header and frame (the same iovec split as nkvm's
 * writev) to the raw tap, one frame per call.
 * What is measured: the device and back end's send path into the kernel,
 * up to and including the tap's write. Nobody reads the tap's other
 * side: the kernel takes each frame into the tap's receive path and drops
 * it in ip_rcv (the destination MAC is not the tap's: PACKET_OTHERHOST),
 * the same for both. Every frame is checked to have been accepted: the
 * tap's rx_packets (/proc/net/dev of the namespace; /sys/class/net shows
 * the host's namespace) grows by the frames written, rx_errs not at all,
 * and nkvm counted no dropped or malformed frame.
 *
 * Receive: frames are injected into the tap under test through an
 * AF_PACKET socket bound to it (sendmmsg, 32 frames a call,
 * PACKET_QDISC_BYPASS; for 64k with PACKET_VNET_HDR and a GSO_TCPV4
 * header, so the frame reaches the tap as one 64 KiB skb); the tap queues
 * them (txqueuelen set to 1024) and drops what does not fit (its
 * tx_dropped). rx1500/rx64k: a second thread injects as fast as it can
 * while the reader runs, so the two share the CPUs and the rate is the
 * slower one's; rxq1500/rxq64k: 1000 frames are queued (untimed), then
 * only the reader's draining them is timed (wall and CPU), again until
 * the drains add up to -t seconds; every queued frame must arrive.
 * The reader: nkvm: 256 receive buffers posted (1536 bytes for the 1500
 * cases, 4096 for the 64k ones: what Linux's mergeable-buffer sizing
 * settles on), the event loop turns (tap fd readable: the back end
 * read()s and delivers into the buffers; wake eventfd; kicks), the driver
 * reaps every used buffer (num_buffers, lengths, GSO type checked),
 * reposts it and kicks when avail_event asks. Raw: read() from the raw
 * tap until EAGAIN (then poll(), in the rx cases), into one 64 KiB
 * buffer. Frames counted are those the reader got within the -t seconds.
 * In rx1500/rx64k, when the tap dropped frames the reader, not the
 * injector, set the pace; the "tap drops" column says so (drops /
 * (accepted + drops)); without drops the raw number is the injector's
 * limit, not the tap's.
 *
 * Per run: frames/s, Gbit/s (Ethernet frame bytes; no vnet header,
 * preamble or FCS), and CPU ns per frame of the thread doing the work
 * (CLOCK_THREAD_CPUTIME_ID: nkvm's device, back end and event loop plus
 * this driver's guest side, which is a few stores per frame; the injector
 * thread is not in it). At the end a table of medians and ratios.
 *
 * usage: net_driver [-c CASES] [-n RUNS] [-t SECS] [-k N] [-q SIZE] [-s SIDE] [-v]
 *   -c  comma-separated cases (default: all six)
 *   -n  rounds (5); -t seconds per run (3)
 *   -k  transmit: chains posted per kick, 1..SIZE (128)
 *   -q  entries per queue, 256 or 1024 (256): as many receive buffers
 *       (1024 needs a device built to offer it: NET_QUEUE_MAX in net.c)
 *   -z  the device's rx_copybreak in bytes (its default when not given;
 *       0: every frame read straight into the receive buffers)
 *   -s  nkvm or raw: run that side only, no table (for perf, strace)
 *   -v  each run's line on stdout ("run case=... side=..."), not stderr
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "nkvm/evloop.h"
#include "nkvm/gm.h"
#include "nkvm/le.h"
#include "nkvm/log.h"
#include "nkvm/net_opts.h"
#include "nkvm/net_tap.h"
#include "nkvm/virtio_mmio.h"
#include "nkvm/virtio_net.h"

#define QMAX       1024		/* the largest -q */
#define MMIO_BASE  0xd0000000ULL
#define RAM_SIZE   (128ULL << 20)
/* Guest physical layout: the two rings, the indirect tables (one per
 * transmit slot), the transmit slots (header + frame each), the receive
 * buffers. */
#define RX_DESC    0x0000ULL		/* room for QMAX entries each */
#define RX_AVAIL   0x4000ULL
#define RX_USED    0x5000ULL
#define TX_DESC    0x8000ULL
#define TX_AVAIL   0xc000ULL
#define TX_USED    0xd000ULL
#define TBL_GPA    0x10000ULL
#define TBL_BYTES  0x100ULL
#define TX_GPA     (4ULL << 20)
#define TX_STRIDE  0x10000ULL
#define RX_GPA     (72ULL << 20)
#define RX_STRIDE  0x1000ULL

#define MSS        1460
#define TSO_SEGS   44
#define SMALL_LEN  1514			/* 14 + 1500-byte IPv4 packet */
#define TSO_LEN    (54 + TSO_SEGS * MSS)	/* 64294 */
#define PAGE_FRAG  32768		/* TCP's page fragment size */
#define INJ_BATCH  32
#define TAP_QLEN   1024		/* the taps' queues (txqueuelen) */
#define BURST      1000		/* frames queued per burst (rxq cases) */
#define MAX_RUNS   64

static const uint8_t guest_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const uint8_t peer_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };

enum side { NKVM, RAW };
static const char *const side_names[] = { "nkvm", "raw" };

struct bcase {
	const char *name;
	bool rx, tso, burst;
	uint32_t frame_len, rxbuf;
};

static const struct bcase cases[] = {
	{ "tx1500", false, false, false, SMALL_LEN, 0 },
	{ "tx64k", false, true, false, TSO_LEN, 0 },
	{ "rx1500", true, false, false, SMALL_LEN, 1536 },
	{ "rx64k", true, true, false, TSO_LEN, 4096 },
	{ "rxq1500", true, false, true, SMALL_LEN, 1536 },
	{ "rxq64k", true, true, true, TSO_LEN, 4096 },
};
#define NR_CASES (sizeof(cases) / sizeof(cases[0]))

struct result {
	double secs, cpu, user;
	unsigned long frames, kicks, irqs, gso;
	unsigned long injected, dropped;	/* receive only */
};

struct ifstats {
	unsigned long rx_packets, rx_errs, rx_drop, tx_packets, tx_drop;
};

struct kick {
	struct virtio_mmio *m;
	unsigned q;
};

struct nic {
	struct gm gm;
	struct evl evl;
	struct virtio_net net;
	struct virtio_mmio m;
	struct kick kick[2];
	uint8_t *rx_avail, *rx_used, *tx_avail, *tx_used;
	uint16_t rx_avail_idx, rx_kicked, rx_last_used;
	uint16_t tx_avail_idx, tx_kicked, tx_last_used;
	unsigned long last_irqs, kicks;
	const char *ifname;
	int ifindex;
};

struct raw {
	int fd, ifindex;
	char ifname[IFNAMSIZ];
};

/* One transmit slot's iovec, as nkvm's writev sees it. */
struct slot_iov {
	struct iovec iov[4];
	unsigned n;
};

static struct nic nic;
static struct raw raw;
static struct slot_iov slot_iov[QMAX];
static unsigned qsize = 256;	/* -q: entries per queue */
static long copybreak = -1;	/* -z: the device's rx_copybreak, -1 its own */
static unsigned kick_batch = 128;
static bool verbose;
static bool side_on[2] = { true, true };

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("net_driver: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double thread_cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* This thread's user-mode CPU time (the rest of thread_cpu_s is the
 * kernel's, on its behalf: syscalls, copies). */
static double thread_user_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
}

/* ---- frames ---- */

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	for (; len > 1; p += 2, len -= 2)
		sum += (uint32_t)p[0] << 8 | p[1];
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	put_be16(p, (uint16_t)(v >> 16));
	put_be16(p + 2, (uint16_t)v);
}

/*
 * An Ethernet + IPv4 frame of `len` bytes into f: UDP with its checksum,
 * or (tso) TCP with the pseudo-header sum in its checksum field, as a
 * stack leaves it for checksum offload. 10.0.0.1 -> 10.0.0.2.
 */
static void build_frame(uint8_t *f, uint32_t len, bool tso, const uint8_t dst[6],
			const uint8_t src[6])
{
	uint8_t *ip = f + 14, *l4 = ip + 20, pseudo[12];
	uint32_t l4len = len - 34, i;

	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	put_be16(f + 12, ETHERTYPE_IP);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put_be16(ip + 2, (uint16_t)(len - 14));
	put_be16(ip + 4, 1);
	put_be16(ip + 6, 0x4000);		/* DF */
	ip[8] = 64;
	ip[9] = tso ? IPPROTO_TCP : IPPROTO_UDP;
	put_be32(ip + 12, 0x0a000001);
	put_be32(ip + 16, 0x0a000002);
	put_be16(ip + 10, (uint16_t)~csum_fold(csum_add(0, ip, 20)));
	for (i = tso ? 20 : 8; i < l4len; i++)
		l4[i] = (uint8_t)(i * 7 + 1);
	memcpy(pseudo, ip + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = ip[9];
	put_be16(pseudo + 10, (uint16_t)l4len);
	if (tso) {
		memset(l4, 0, 20);
		put_be16(l4, 40000);
		put_be16(l4 + 2, 5001);
		put_be32(l4 + 4, 1000);		/* seq */
		put_be32(l4 + 8, 1);		/* ack */
		l4[12] = 5 << 4;
		l4[13] = 0x18;			/* PSH ACK */
		put_be16(l4 + 14, 65535);
		put_be16(l4 + 16, csum_fold(csum_add(0, pseudo, 12)));
	} else {
		uint16_t c;

		put_be16(l4, 40000);
		put_be16(l4 + 2, 5001);
		put_be16(l4 + 4, (uint16_t)l4len);
		put_be16(l4 + 6, 0);
		c = (uint16_t)~csum_fold(csum_add(csum_add(0, pseudo, 12), l4, l4len));
		put_be16(l4 + 6, c ? c : 0xffff);
	}
}

/* The 12-byte virtio_net_hdr_v1 for a frame (num_buffers 0). */
static void build_vnet_hdr(uint8_t *h, bool tso)
{
	memset(h, 0, NET_HDR_LEN);
	if (!tso)
		return;
	h[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h[1] = VIRTIO_NET_HDR_GSO_TCPV4;
	put_le16(h + 2, 54);		/* hdr_len */
	put_le16(h + 4, MSS);		/* gso_size */
	put_le16(h + 6, 34);		/* csum_start */
	put_le16(h + 8, 16);		/* csum_offset */
}

/* ---- the namespace and the taps ---- */

static void write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return;	/* no IPv6: nothing to turn off */
	if (write(fd, s, strlen(s)) < 0)
		fprintf(stderr, "net_driver: %s: %s\n", path, strerror(errno));
	close(fd);
}

static void if_up(const char *name)
{
	struct ifreq ifr = { 0 };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		die("socket: %s", strerror(errno));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		die("%s: SIOCGIFFLAGS: %s", name, strerror(errno));
	ifr.ifr_flags |= IFF_UP | IFF_NOARP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		die("%s: SIOCSIFFLAGS: %s", name, strerror(errno));
	ifr.ifr_qlen = TAP_QLEN;
	if (ioctl(s, SIOCSIFTXQLEN, &ifr) < 0)
		die("%s: SIOCSIFTXQLEN: %s", name, strerror(errno));
	close(s);
}

/* The namespace's counters for one interface (/proc/net/dev). */
static struct ifstats if_stats(const char *name)
{
	struct ifstats st = { 0 };
	char line[512];
	size_t nl = strlen(name);
	FILE *f = fopen("/proc/net/dev", "re");

	if (!f)
		die("/proc/net/dev: %s", strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		char *p = line;
		unsigned long v[16];

		while (*p == ' ')
			p++;
		if (strncmp(p, name, nl) || p[nl] != ':')
			continue;
		if (sscanf(p + nl + 1, "%lu %lu %lu %lu %lu %lu %lu %lu %lu %lu %lu %lu",
			   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7],
			   &v[8], &v[9], &v[10], &v[11]) != 12)
			die("/proc/net/dev: cannot parse the line for %s", name);
		st = (struct ifstats){ .rx_packets = v[1], .rx_errs = v[2], .rx_drop = v[3],
				       .tx_packets = v[9], .tx_drop = v[11] };
		fclose(f);
		return st;
	}
	die("%s not in /proc/net/dev", name);
}

/* The raw tap: what net_tap_create does, and the receive offloads nkvm's
 * set_features turns on for the features this driver takes. */
static void raw_open(unsigned offload)
{
	struct ifreq ifr = { 0 };
	int hdr = NET_HDR_LEN;

	raw.fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (raw.fd < 0)
		die("/dev/net/tun: %s", strerror(errno));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(raw.fd, TUNSETIFF, &ifr) < 0 ||
	    ioctl(raw.fd, TUNSETVNETHDRSZ, &hdr) < 0 ||
	    ioctl(raw.fd, TUNSETOFFLOAD, offload) < 0)
		die("raw tap: %s", strerror(errno));
	snprintf(raw.ifname, sizeof(raw.ifname), "%s", ifr.ifr_name);
	if_up(raw.ifname);
	raw.ifindex = (int)if_nametoindex(raw.ifname);
}

/* ---- the guest's virtio driver ---- */

static uint32_t mmio_rd(uint64_t off)
{
	uint8_t b[4];

	virtio_mmio_access(&nic.m, off, b, 4, false);
	return get_le32(b);
}

static void mmio_wr(uint64_t off, uint32_t v)
{
	uint8_t b[4];

	put_le32(b, v);
	virtio_mmio_access(&nic.m, off, b, 4, true);
}

static void *gpa(uint64_t addr, uint64_t len)
{
	void *p = gm_ptr(&nic.gm, addr, len);

	if (!p)
		die("gpa %#" PRIx64 "+%#" PRIx64 " outside guest RAM", addr, len);
	return p;
}

static uint16_t *ring16(uint8_t *ring, uint64_t off)
{
	return (uint16_t *)(void *)(ring + off);
}

static void put_desc(uint64_t tbl, unsigned i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	struct virtq_desc d = {
		.addr = htole64(addr), .len = htole32(len),
		.flags = htole16(flags), .next = htole16(next),
	};

	memcpy(gpa(tbl + 16ULL * i, 16), &d, 16);
}

/* The event loop's side of a kick, as in vm_virtio.c. */
static void on_kick(void *opaque, uint32_t events)
{
	struct kick *k = opaque;

	virtio_mmio_kick(k->m, k->q);
}

#define WANT_FEATURES ((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_EVENT_IDX) | \
		       (1ULL << VIRTIO_F_INDIRECT_DESC) | (1ULL << VIRTIO_NET_F_MAC) | \
		       (1ULL << VIRTIO_NET_F_STATUS) | (1ULL << VIRTIO_NET_F_MRG_RXBUF) | \
		       (1ULL << VIRTIO_NET_F_CSUM) | (1ULL << VIRTIO_NET_F_GUEST_CSUM) | \
		       (1ULL << VIRTIO_NET_F_HOST_TSO4) | (1ULL << VIRTIO_NET_F_HOST_TSO6) | \
		       (1ULL << VIRTIO_NET_F_HOST_ECN) | (1ULL << VIRTIO_NET_F_GUEST_TSO4) | \
		       (1ULL << VIRTIO_NET_F_GUEST_TSO6) | (1ULL << VIRTIO_NET_F_GUEST_ECN))
/* What tap_set_features makes of those. */
#define RAW_OFFLOAD (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN)

static void queue_setup(unsigned q, uint64_t desc, uint64_t avail, uint64_t used)
{
	memset(gpa(desc, VIRTQ_DESC_BYTES(qsize)), 0, VIRTQ_DESC_BYTES(qsize));
	memset(gpa(avail, VIRTQ_AVAIL_BYTES(qsize)), 0, VIRTQ_AVAIL_BYTES(qsize));
	memset(gpa(used, VIRTQ_USED_BYTES(qsize)), 0, VIRTQ_USED_BYTES(qsize));
	mmio_wr(VIRTIO_MMIO_QUEUE_SEL, q);
	if (mmio_rd(VIRTIO_MMIO_QUEUE_READY) || mmio_rd(VIRTIO_MMIO_QUEUE_NUM_MAX) < qsize)
		die("queue %u busy or smaller than %u", q, qsize);
	mmio_wr(VIRTIO_MMIO_QUEUE_NUM, qsize);
	mmio_wr(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
	mmio_wr(VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
	mmio_wr(VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)avail);
	mmio_wr(VIRTIO_MMIO_QUEUE_AVAIL_HIGH, 0);
	mmio_wr(VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)used);
	mmio_wr(VIRTIO_MMIO_QUEUE_USED_HIGH, 0);
	mmio_wr(VIRTIO_MMIO_QUEUE_READY, 1);
	if (!mmio_rd(VIRTIO_MMIO_QUEUE_READY))
		die("queue %u not ready", q);
}

/* The probe sequence of Linux's virtio_mmio + virtio_net drivers, from a
 * reset; receive and transmit queues, no control queue. */
static void setup_device(void)
{
	uint64_t have;
	uint32_t st;
	uint8_t mac[6];

	if (mmio_rd(VIRTIO_MMIO_MAGIC_VALUE) != VIRTIO_MMIO_MAGIC ||
	    mmio_rd(VIRTIO_MMIO_VERSION) != 2 ||
	    mmio_rd(VIRTIO_MMIO_DEVICE_ID) != VIRTIO_ID_NET)
		die("not a virtio-mmio v2 network device");
	mmio_wr(VIRTIO_MMIO_STATUS, 0);
	st = VIRTIO_STATUS_ACKNOWLEDGE;
	mmio_wr(VIRTIO_MMIO_STATUS, st);
	st |= VIRTIO_STATUS_DRIVER;
	mmio_wr(VIRTIO_MMIO_STATUS, st);
	mmio_wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	have = (uint64_t)mmio_rd(VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	mmio_wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	have |= mmio_rd(VIRTIO_MMIO_DEVICE_FEATURES);
	if ((have & WANT_FEATURES) != WANT_FEATURES)
		die("device offers features %#" PRIx64 ", want %#llx", have, WANT_FEATURES);
	mmio_wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	mmio_wr(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(WANT_FEATURES >> 32));
	mmio_wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	mmio_wr(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)WANT_FEATURES);
	st |= VIRTIO_STATUS_FEATURES_OK;
	mmio_wr(VIRTIO_MMIO_STATUS, st);
	if (!(mmio_rd(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK))
		die("device refused FEATURES_OK");
	for (unsigned i = 0; i < 6; i++) {
		uint8_t b;

		virtio_mmio_access(&nic.m, VIRTIO_MMIO_CONFIG + i, &b, 1, false);
		mac[i] = b;
	}
	if (memcmp(mac, guest_mac, 6))
		die("config space MAC differs from the one given");
	queue_setup(VIRTIO_NET_RXQ, RX_DESC, RX_AVAIL, RX_USED);
	queue_setup(VIRTIO_NET_TXQ, TX_DESC, TX_AVAIL, TX_USED);
	st |= VIRTIO_STATUS_DRIVER_OK;
	mmio_wr(VIRTIO_MMIO_STATUS, st);
	if (mmio_rd(VIRTIO_MMIO_STATUS) != st)
		die("device status %#x after DRIVER_OK", mmio_rd(VIRTIO_MMIO_STATUS));
	nic.rx_avail_idx = nic.rx_kicked = nic.rx_last_used = 0;
	nic.tx_avail_idx = nic.tx_kicked = nic.tx_last_used = 0;
}

/* Publish avail->idx and kick if the device asked for it (EVENT_IDX:
 * vring_need_event on avail_event), as virtqueue_kick() does. The kick is
 * the eventfd write KVM's ioeventfd makes; the event loop takes it. */
static void publish_and_kick(unsigned q, uint8_t *avail, uint8_t *used,
			     uint16_t new, uint16_t *kicked)
{
	uint16_t event, old = *kicked;
	uint64_t one = 1;

	if (old == new)
		return;
	__atomic_store_n(ring16(avail, 2), htole16(new), __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	*kicked = new;
	event = le16toh(__atomic_load_n(ring16(used, 4 + 8 * qsize), __ATOMIC_RELAXED));
	if ((uint16_t)(new - event - 1) >= (uint16_t)(new - old))
		return;
	nic.kicks++;
	if (write(nic.m.kick_fd[q], &one, sizeof(one)) != sizeof(one))
		die("kick eventfd: %s", strerror(errno));
}

/* vm_interrupt: read InterruptStatus and acknowledge it, when the device
 * raised the interrupt line since last time. */
static void take_interrupt(void)
{
	uint32_t isr;

	if (nic.m.irqs == nic.last_irqs)
		return;
	nic.last_irqs = nic.m.irqs;
	isr = mmio_rd(VIRTIO_MMIO_INTERRUPT_STATUS);
	mmio_wr(VIRTIO_MMIO_INTERRUPT_ACK, isr);
	if (isr & VIRTIO_INT_CONFIG)
		die("config interrupt: status %#x", mmio_rd(VIRTIO_MMIO_STATUS));
}

/* virtqueue_enable_cb with EVENT_IDX: an interrupt for the next used
 * entry; true when one raced in (look at the ring again). */
static bool enable_cb(uint8_t *avail, uint8_t *used, uint16_t last_used)
{
	__atomic_store_n(ring16(avail, 4 + 2 * qsize), htole16(last_used), __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return le16toh(__atomic_load_n(ring16(used, 2), __ATOMIC_ACQUIRE)) != last_used;
}

/* ---- transmit ---- */

/* A TSO slot's indirect table at tbl: header + the protocol headers,
 * then the payload in page fragments; the slot's iovec likewise. */
static void setup_tso_table(const struct bcase *c, unsigned i, uint64_t base,
			    uint8_t *p, struct slot_iov *s)
{
	uint64_t tbl = TBL_GPA + i * TBL_BYTES;
	uint32_t off = 54, k = 1;

	put_desc(tbl, 0, base, NET_HDR_LEN + 54, VIRTQ_DESC_F_NEXT, 1);
	s->iov[1] = (struct iovec){ p + NET_HDR_LEN, 54 };
	s->n = 2;
	while (off < c->frame_len) {
		uint32_t l = c->frame_len - off < PAGE_FRAG ? c->frame_len - off : PAGE_FRAG;
		bool last = off + l == c->frame_len;

		put_desc(tbl, k, base + NET_HDR_LEN + off, l,
			 last ? 0 : VIRTQ_DESC_F_NEXT, (uint16_t)(k + 1));
		s->iov[s->n++] = (struct iovec){ p + NET_HDR_LEN + off, l };
		off += l;
		k++;
	}
	put_desc(TX_DESC, i, tbl, k * 16, VIRTQ_DESC_F_INDIRECT, 0);
}

/* Transmit slots: header + frame at TX_GPA + i * TX_STRIDE; the ring's
 * descriptor i is slot i (direct for a small frame, indirect for TSO). */
static void setup_tx(const struct bcase *c)
{
	for (unsigned i = 0; i < qsize; i++) {
		uint64_t base = TX_GPA + i * TX_STRIDE;
		uint8_t *p = gpa(base, NET_HDR_LEN + c->frame_len);
		struct slot_iov *s = &slot_iov[i];

		build_vnet_hdr(p, c->tso);
		build_frame(p + NET_HDR_LEN, c->frame_len, c->tso, peer_mac, guest_mac);
		s->iov[0] = (struct iovec){ p, NET_HDR_LEN };
		if (c->tso) {
			setup_tso_table(c, i, base, p, s);
		} else {
			put_desc(TX_DESC, i, base, NET_HDR_LEN + c->frame_len, 0, 0);
			s->iov[1] = (struct iovec){ p + NET_HDR_LEN, c->frame_len };
			s->n = 2;
		}
	}
}

static unsigned tx_reap(void)
{
	unsigned n = 0;

	do {
		uint16_t idx = le16toh(__atomic_load_n(ring16(nic.tx_used, 2), __ATOMIC_ACQUIRE));

		while (nic.tx_last_used != idx) {
			struct virtq_used_elem e;

			memcpy(&e, nic.tx_used + 4 + 8 * (nic.tx_last_used % qsize), sizeof(e));
			if (le32toh(e.id) >= qsize || le32toh(e.len) != 0)
				die("tx used element id %u len %u", le32toh(e.id), le32toh(e.len));
			nic.tx_last_used++;
			n++;
		}
	} while (enable_cb(nic.tx_avail, nic.tx_used, nic.tx_last_used));
	return n;
}

static void run_tx_nkvm(const struct bcase *c, double secs, struct result *r)
{
	struct virtio_net_stats st0 = nic.net.st;
	unsigned long kicks0 = nic.kicks, irqs0 = nic.m.irqs;
	double t0 = now_s(), c0 = thread_cpu_s(), u0 = thread_user_s();
	double deadline = t0 + secs, t;
	int ran;

	do {
		unsigned inflight = (uint16_t)(nic.tx_avail_idx - nic.tx_last_used);
		unsigned k = qsize - inflight < kick_batch ? qsize - inflight : kick_batch;

		for (unsigned j = 0; j < k; j++) {
			uint16_t slot = nic.tx_avail_idx % qsize;

			*ring16(nic.tx_avail, 4 + 2 * slot) = htole16(slot);
			nic.tx_avail_idx++;
		}
		publish_and_kick(VIRTIO_NET_TXQ, nic.tx_avail, nic.tx_used,
				 nic.tx_avail_idx, &nic.tx_kicked);
		if ((ran = evl_run_once(&nic.evl, 0)) < 0)
			die("evl_run_once: %s", strerror(-ran));
		take_interrupt();
		if (!tx_reap() && k == 0)
			die("transmit ring stuck: %u in flight", inflight);
		t = now_s();
	} while (t < deadline);
	r->cpu = thread_cpu_s() - c0;
	r->user = thread_user_s() - u0;
	r->secs = t - t0;
	r->frames = nic.net.st.tx_frames - st0.tx_frames;
	r->kicks = nic.kicks - kicks0;
	r->irqs = nic.m.irqs - irqs0;
	if (nic.net.st.tx_dropped != st0.tx_dropped || nic.net.st.tx_malformed != st0.tx_malformed)
		die("%s: nkvm dropped %lu and refused %lu frames", c->name,
		    nic.net.st.tx_dropped - st0.tx_dropped,
		    nic.net.st.tx_malformed - st0.tx_malformed);
	if ((uint16_t)(nic.tx_avail_idx - nic.tx_last_used))
		die("%s: %u chains left in flight", c->name,
		    (uint16_t)(nic.tx_avail_idx - nic.tx_last_used));
}

static void run_tx_raw(const struct bcase *c, double secs, struct result *r)
{
	double t0 = now_s(), c0 = thread_cpu_s(), u0 = thread_user_s();
	double deadline = t0 + secs, t;
	unsigned long n = 0;

	do {
		for (unsigned j = 0; j < kick_batch; j++, n++) {
			const struct slot_iov *s = &slot_iov[n % qsize];
			ssize_t w = writev(raw.fd, s->iov, (int)s->n);

			if (w != (ssize_t)(NET_HDR_LEN + c->frame_len))
				die("raw tap writev: %zd (%s)", w, w < 0 ? strerror(errno) : "short");
		}
		t = now_s();
	} while (t < deadline);
	r->cpu = thread_cpu_s() - c0;
	r->user = thread_user_s() - u0;
	r->secs = t - t0;
	r->frames = n;
}

/* ---- receive ---- */

struct injector {
	pthread_t th;
	int fd;
	bool stop;
	unsigned long sent;
	struct mmsghdr msg[INJ_BATCH];
	struct iovec iov;
	struct sockaddr_ll to;
	uint8_t *frame;
};

static void *inject(void *opaque)
{
	struct injector *in = opaque;

	while (!__atomic_load_n(&in->stop, __ATOMIC_RELAXED)) {
		int n = sendmmsg(in->fd, in->msg, INJ_BATCH, 0);

		if (n > 0)
			in->sent += (unsigned)n;
		else if (n < 0 && errno != ENOBUFS && errno != EAGAIN && errno != EINTR)
			die("injector sendmmsg: %s", strerror(errno));
	}
	return NULL;
}

/* The injector's socket and frame, for c's frames into ifindex. */
static void inject_open(struct injector *in, const struct bcase *c, int ifindex)
{
	int one = 1, hdr = c->tso ? 10 : 0;

	memset(in, 0, sizeof(*in));
	in->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);	/* 0: receives nothing */
	if (in->fd < 0)
		die("AF_PACKET socket: %s", strerror(errno));
	if (setsockopt(in->fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)) < 0)
		die("PACKET_QDISC_BYPASS: %s", strerror(errno));
	if (c->tso && setsockopt(in->fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) < 0)
		die("PACKET_VNET_HDR: %s", strerror(errno));
	in->frame = aligned_alloc(4096, 65536 + 4096);
	if (!in->frame)
		die("out of memory");
	/* struct virtio_net_hdr: the v1 header without num_buffers */
	build_vnet_hdr(in->frame, c->tso);
	build_frame(in->frame + hdr, c->frame_len, c->tso, guest_mac, peer_mac);
	in->iov = (struct iovec){ in->frame, hdr + c->frame_len };
	in->to = (struct sockaddr_ll){ .sll_family = AF_PACKET, .sll_ifindex = ifindex,
				       .sll_protocol = htons(ETH_P_IP) };
	for (unsigned i = 0; i < INJ_BATCH; i++)
		in->msg[i].msg_hdr = (struct msghdr){
			.msg_name = &in->to, .msg_namelen = sizeof(in->to),
			.msg_iov = &in->iov, .msg_iovlen = 1,
		};
}

static void inject_close(struct injector *in)
{
	close(in->fd);
	free(in->frame);
}

/* Start injecting c's frames into interface ifindex from a thread. */
static void inject_start(struct injector *in, const struct bcase *c, int ifindex)
{
	int r;

	inject_open(in, c, ifindex);
	r = pthread_create(&in->th, NULL, inject, in);
	if (r)
		die("pthread_create: %s", strerror(r));
}

static void inject_stop(struct injector *in)
{
	__atomic_store_n(&in->stop, true, __ATOMIC_RELAXED);
	pthread_join(in->th, NULL);
	inject_close(in);
}

/* Queue n frames in the tap (no reader yet): how many it took. */
static unsigned inject_burst(struct injector *in, unsigned n)
{
	unsigned done = 0;

	while (done < n) {
		int k = sendmmsg(in->fd, in->msg, n - done < INJ_BATCH ? n - done : INJ_BATCH, 0);

		if (k < 0 && errno == ENOBUFS)
			break;	/* the tap's queue is full */
		if (k < 0 && errno != EINTR)
			die("injector sendmmsg: %s", strerror(errno));
		if (k > 0)
			done += (unsigned)k;
	}
	return done;
}

/* Post every receive buffer: descriptor i is buffer i. */
static void setup_rx(const struct bcase *c)
{
	for (unsigned i = 0; i < qsize; i++) {
		put_desc(RX_DESC, i, RX_GPA + i * RX_STRIDE, c->rxbuf, VIRTQ_DESC_F_WRITE, 0);
		*ring16(nic.rx_avail, 4 + 2 * i) = htole16((uint16_t)i);
	}
	nic.rx_avail_idx = qsize;
	publish_and_kick(VIRTIO_NET_RXQ, nic.rx_avail, nic.rx_used, nic.rx_avail_idx,
			 &nic.rx_kicked);
}

/* Reap the receive ring: check each frame, repost its buffers, kick when
 * asked. Counts frames and GSO frames into r (when r). */
static void rx_reap(const struct bcase *c, struct result *r)
{
	static unsigned left;	/* buffers of the current frame still to come */
	static uint32_t len;

	do {
		uint16_t idx = le16toh(__atomic_load_n(ring16(nic.rx_used, 2), __ATOMIC_ACQUIRE));

		while (nic.rx_last_used != idx) {
			struct virtq_used_elem e;
			uint32_t id;

			memcpy(&e, nic.rx_used + 4 + 8 * (nic.rx_last_used % qsize), sizeof(e));
			nic.rx_last_used++;
			id = le32toh(e.id);
			if (id >= qsize || le32toh(e.len) > c->rxbuf)
				die("rx used element id %u len %u", id, le32toh(e.len));
			if (!left) {
				const uint8_t *h = gpa(RX_GPA + id * RX_STRIDE, NET_HDR_LEN);

				left = get_le16(h + 10);
				if (left == 0 || left > 64)
					die("rx num_buffers %u", left);
				len = 0;
				if (r && (h[1] & ~VIRTIO_NET_HDR_GSO_ECN) == VIRTIO_NET_HDR_GSO_TCPV4)
					r->gso++;
			}
			len += le32toh(e.len);
			if (!--left) {
				if (len != NET_HDR_LEN + c->frame_len)
					die("%s: received frame of %u bytes, want %u", c->name,
					    len - NET_HDR_LEN, c->frame_len);
				if (r)
					r->frames++;
			}
			*ring16(nic.rx_avail, 4 + 2 * (nic.rx_avail_idx % qsize)) =
				htole16((uint16_t)id);
			nic.rx_avail_idx++;
		}
		publish_and_kick(VIRTIO_NET_RXQ, nic.rx_avail, nic.rx_used,
				 nic.rx_avail_idx, &nic.rx_kicked);
	} while (enable_cb(nic.rx_avail, nic.rx_used, nic.rx_last_used));
}

/* Turn the event loop until nothing happened for 20 ms: whatever was
 * still queued is received, uncounted. */
static void rx_drain_nkvm(const struct bcase *c)
{
	int n;

	do {
		n = evl_run_once(&nic.evl, 20);
		take_interrupt();
		rx_reap(c, NULL);
	} while (n > 0);
}

static void rx_drain_raw(void)
{
	static uint8_t buf[NET_MAX_FRAME];
	struct pollfd p = { .fd = raw.fd, .events = POLLIN };

	do {
		while (read(raw.fd, buf, sizeof(buf)) > 0)
			;
	} while (poll(&p, 1, 20) > 0);
}

static void run_rx_nkvm(const struct bcase *c, double secs, struct result *r)
{
	struct ifstats s0 = if_stats(nic.ifname), s1;
	unsigned long kicks0 = nic.kicks, irqs0 = nic.m.irqs;
	struct injector in;
	double t0, c0, u0, deadline, t;

	inject_start(&in, c, nic.ifindex);
	t0 = now_s();
	c0 = thread_cpu_s();
	u0 = thread_user_s();
	deadline = t0 + secs;
	do {
		int ran = evl_run_once(&nic.evl, 50);

		if (ran < 0)
			die("evl_run_once: %s", strerror(-ran));
		take_interrupt();
		rx_reap(c, r);
		t = now_s();
	} while (t < deadline);
	r->cpu = thread_cpu_s() - c0;
	r->user = thread_user_s() - u0;
	r->secs = t - t0;
	r->kicks = nic.kicks - kicks0;
	r->irqs = nic.m.irqs - irqs0;
	inject_stop(&in);
	rx_drain_nkvm(c);
	s1 = if_stats(nic.ifname);
	r->injected = in.sent;
	r->dropped = s1.tx_drop - s0.tx_drop;
}

static void run_rx_raw(const struct bcase *c, double secs, struct result *r)
{
	static uint8_t buf[NET_MAX_FRAME];
	struct ifstats s0 = if_stats(raw.ifname), s1;
	struct pollfd p = { .fd = raw.fd, .events = POLLIN };
	struct injector in;
	double t0, c0, u0, deadline, t = 0;
	unsigned n = 0;

	inject_start(&in, c, raw.ifindex);
	t0 = now_s();
	c0 = thread_cpu_s();
	u0 = thread_user_s();
	deadline = t0 + secs;
	for (;;) {
		ssize_t l = read(raw.fd, buf, sizeof(buf));

		if (l < 0) {
			if (errno != EAGAIN && errno != EINTR)
				die("raw tap read: %s", strerror(errno));
			if (poll(&p, 1, 50) < 0 && errno != EINTR)
				die("poll: %s", strerror(errno));
		} else {
			if ((size_t)l != NET_HDR_LEN + c->frame_len)
				die("%s: raw tap read %zd bytes, want %u", c->name, l,
				    NET_HDR_LEN + c->frame_len);
			if ((buf[1] & ~VIRTIO_NET_HDR_GSO_ECN) == VIRTIO_NET_HDR_GSO_TCPV4)
				r->gso++;
			r->frames++;
		}
		if (l < 0 || ++n % 64 == 0) {
			t = now_s();
			if (t >= deadline)
				break;
		}
	}
	r->cpu = thread_cpu_s() - c0;
	r->user = thread_user_s() - u0;
	r->secs = t - t0;
	inject_stop(&in);
	rx_drain_raw();
	s1 = if_stats(raw.ifname);
	r->injected = in.sent;
	r->dropped = s1.tx_drop - s0.tx_drop;
}

/*
 * The rxq cases: the reader's capacity without a concurrent injector.
 * Queue BURST frames in the tap (untimed), then time only the reader
 * draining them; again until the drains add up to secs.
 */
static void run_rxq(const struct bcase *c, enum side s, double secs, struct result *r)
{
	static uint8_t buf[NET_MAX_FRAME];
	unsigned long kicks0 = nic.kicks, irqs0 = nic.m.irqs;
	struct injector in;

	inject_open(&in, c, s == NKVM ? nic.ifindex : raw.ifindex);
	while (r->secs < secs) {
		unsigned long before = r->frames;
		unsigned n = inject_burst(&in, BURST);
		double t0 = now_s(), c0 = thread_cpu_s(), u0 = thread_user_s();

		if (s == NKVM) {
			int ran;

			do {
				ran = evl_run_once(&nic.evl, 0);
				if (ran < 0)
					die("evl_run_once: %s", strerror(-ran));
				take_interrupt();
				rx_reap(c, r);
			} while (ran > 0);
		} else {
			ssize_t l;

			while ((l = read(raw.fd, buf, sizeof(buf))) > 0) {
				if ((size_t)l != NET_HDR_LEN + c->frame_len)
					die("%s: raw tap read %zd bytes", c->name, l);
				if ((buf[1] & ~VIRTIO_NET_HDR_GSO_ECN) == VIRTIO_NET_HDR_GSO_TCPV4)
					r->gso++;
				r->frames++;
			}
			if (errno != EAGAIN)
				die("raw tap read: %s", strerror(errno));
		}
		r->cpu += thread_cpu_s() - c0;
		r->user += thread_user_s() - u0;
		r->secs += now_s() - t0;
		r->injected += n;
		if (r->frames - before != n)
			die("%s %s: %u frames queued, %lu received", c->name, side_names[s],
			    n, r->frames - before);
	}
	inject_close(&in);
	r->kicks = nic.kicks - kicks0;
	r->irqs = nic.m.irqs - irqs0;
}

/* ---- one run, and the summary ---- */

static struct result results[NR_CASES][2][MAX_RUNS];

static void one_run(const struct bcase *c, unsigned ci, enum side s, unsigned round,
		    double secs)
{
	struct result *r = &results[ci][s][round];
	const char *ifname = s == NKVM ? nic.ifname : raw.ifname;
	struct ifstats s0 = if_stats(ifname), s1;
	FILE *out = verbose ? stdout : stderr;

	memset(r, 0, sizeof(*r));
	if (!c->rx)
		(s == NKVM ? run_tx_nkvm : run_tx_raw)(c, secs, r);
	else if (c->burst)
		run_rxq(c, s, secs, r);
	else
		(s == NKVM ? run_rx_nkvm : run_rx_raw)(c, secs, r);
	s1 = if_stats(ifname);
	/* every transmitted frame reached the kernel through the tap */
	if (!c->rx && (s1.rx_packets - s0.rx_packets != r->frames || s1.rx_errs != s0.rx_errs))
		die("%s %s: %lu frames written, the tap took %lu (%lu errors)", c->name,
		    side_names[s], r->frames, s1.rx_packets - s0.rx_packets,
		    s1.rx_errs - s0.rx_errs);
	if (c->rx && c->tso && r->gso != r->frames)
		die("%s %s: %lu of %lu frames arrived segmented", c->name, side_names[s],
		    r->frames - r->gso, r->frames);
	fprintf(out, "run case=%s side=%s round=%u frames=%lu secs=%.3f fps=%.0f gbps=%.3f "
		"cpu_ns_per_frame=%.0f user_ns_per_frame=%.0f kicks=%lu irqs=%lu injected=%lu "
		"tap_dropped=%lu\n",
		c->name, side_names[s], round + 1, r->frames, r->secs, r->frames / r->secs,
		r->frames * (double)c->frame_len * 8 / r->secs / 1e9,
		r->frames ? r->cpu / r->frames * 1e9 : 0.0,
		r->frames ? r->user / r->frames * 1e9 : 0.0, r->kicks, r->irqs, r->injected,
		r->dropped);
	fflush(out);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

enum metric { FPS, CPU_NS, DROP_PCT };

static double med_of(unsigned ci, enum side s, unsigned runs, enum metric m)
{
	double v[MAX_RUNS];

	for (unsigned i = 0; i < runs; i++) {
		const struct result *r = &results[ci][s][i];

		v[i] = m == FPS ? r->frames / r->secs :
		       m == CPU_NS ? (r->frames ? r->cpu / r->frames * 1e9 : 0) :
		       (r->injected ? 100.0 * r->dropped / (r->injected + r->dropped) : 0);
	}
	return median(v, runs);
}

static double paired_ratio(unsigned ci, unsigned runs)
{
	double v[MAX_RUNS];

	for (unsigned i = 0; i < runs; i++)
		v[i] = (results[ci][NKVM][i].frames / results[ci][NKVM][i].secs) /
		       (results[ci][RAW][i].frames / results[ci][RAW][i].secs);
	return median(v, runs);
}

static void summary(const bool *want, unsigned runs, double secs)
{
	printf("| case | nkvm frames/s | raw frames/s | nkvm Gbit/s | raw Gbit/s | "
	       "**nkvm/raw** | paired | CPU ns/frame nkvm | CPU ns/frame raw | "
	       "tap drops nkvm / raw |\n");
	printf("|---|---|---|---|---|---|---|---|---|---|\n");
	for (unsigned ci = 0; ci < NR_CASES; ci++) {
		const struct bcase *c = &cases[ci];
		double fn, fr, bits = c->frame_len * 8.0 / 1e9;
		char drops[64] = "-";

		if (!want[ci])
			continue;
		fn = med_of(ci, NKVM, runs, FPS);
		fr = med_of(ci, RAW, runs, FPS);
		if (c->rx && !c->burst)
			snprintf(drops, sizeof(drops), "%.0f%% / %.0f%%",
				 med_of(ci, NKVM, runs, DROP_PCT), med_of(ci, RAW, runs, DROP_PCT));
		printf("| %s (%s%s, %u-byte frames) | %.0f | %.0f | %.2f | %.2f | **%.3f** | %.3f | "
		       "%.0f | %.0f | %s |\n", c->name, c->rx ? "tap -> guest" : "guest -> tap",
		       c->burst ? ", queued" : "", c->frame_len, fn, fr, fn * bits, fr * bits, fn / fr,
		       paired_ratio(ci, runs), med_of(ci, NKVM, runs, CPU_NS),
		       med_of(ci, RAW, runs, CPU_NS), drops);
	}
	printf("(medians of %u runs of %.1f s per side; paired: median of the per-round "
	       "frames/s ratios; CPU ns/frame: the working thread's CPU time per frame; "
	       "tap drops: frames the tap's queue dropped, %% of those offered)\n", runs, secs);
}

/* ---- set-up ---- */

static void setup(void)
{
	struct net_opts o = { .kind = NET_TAP };
	struct net_backend *be;
	char err[512];
	int r;

	if (unshare(CLONE_NEWNET) < 0)
		die("unshare(CLONE_NEWNET): %s (root needed)", strerror(errno));
	write_file("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	write_file("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");

	if ((r = gm_init(&nic.gm, RAM_SIZE)) < 0)
		die("guest RAM: %s", strerror(-r));
	if ((r = evl_init(&nic.evl)) < 0)
		die("evl_init: %s", strerror(-r));
	if (net_tap_create(&be, &o, err, sizeof(err)) < 0)
		die("%s", err);
	if ((r = virtio_net_init(&nic.net, &nic.gm, "net0", guest_mac, be)) < 0)
		die("virtio_net_init: %s", strerror(-r));
	if (copybreak >= 0)
		nic.net.rx_copybreak = (uint64_t)copybreak;
	if ((r = virtio_mmio_init(&nic.m, &nic.net.dev, MMIO_BASE, 5)) < 0)
		die("virtio_mmio_init: %s", strerror(-r));
	for (unsigned q = 0; q < 2; q++) {
		nic.kick[q].m = &nic.m;
		nic.kick[q].q = q;
		if ((r = evl_add(&nic.evl, nic.m.kick_fd[q], EPOLLIN, on_kick, &nic.kick[q])) < 0)
			die("evl_add: %s", strerror(-r));
	}
	if ((r = virtio_net_start(&nic.net, &nic.evl)) < 0)
		die("virtio_net_start: %s", strerror(-r));
	nic.ifname = net_tap_ifname(nic.net.be);
	if_up(nic.ifname);
	nic.ifindex = (int)if_nametoindex(nic.ifname);
	nic.rx_avail = gpa(RX_AVAIL, VIRTQ_AVAIL_BYTES(qsize));
	nic.rx_used = gpa(RX_USED, VIRTQ_USED_BYTES(qsize));
	nic.tx_avail = gpa(TX_AVAIL, VIRTQ_AVAIL_BYTES(qsize));
	nic.tx_used = gpa(TX_USED, VIRTQ_USED_BYTES(qsize));
	raw_open(RAW_OFFLOAD);
}

int main(int argc, char **argv)
{
	char list[256] = "tx1500,tx64k,rx1500,rx64k,rxq1500,rxq64k", *tok, *save;
	bool want[NR_CASES] = { false };
	unsigned runs = 5;
	double secs = 3;
	int c;

	while ((c = getopt(argc, argv, "c:n:t:k:q:z:s:vh")) != -1) {
		switch (c) {
		case 'c': snprintf(list, sizeof(list), "%s", optarg); break;
		case 'n': runs = (unsigned)strtoul(optarg, NULL, 0); break;
		case 't': secs = strtod(optarg, NULL); break;
		case 'k': kick_batch = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'q': qsize = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'z': copybreak = strtol(optarg, NULL, 0); break;
		case 's':
			side_on[NKVM] = !strcmp(optarg, "nkvm");
			side_on[RAW] = !strcmp(optarg, "raw");
			if (!side_on[NKVM] && !side_on[RAW])
				die("-s nkvm or -s raw");
			break;
		case 'v': verbose = true; break;
		default:
			fprintf(stderr, "usage: net_driver [-c tx1500,tx64k,rx1500,rx64k,rxq1500,rxq64k] "
				"[-n RUNS] [-t SECS] [-k N] [-q 256|1024] [-z BYTES] [-s nkvm|raw] [-v]\n");
			return 2;
		}
	}
	if (runs < 1 || runs > MAX_RUNS || !(secs > 0) || (qsize != 256 && qsize != QMAX) ||
	    kick_batch < 1 || kick_batch > qsize)
		die("-n 1..%d, -t above 0, -k 1..%u, -q 256 or 1024", MAX_RUNS, qsize);
	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		unsigned i;

		for (i = 0; i < NR_CASES && strcmp(tok, cases[i].name); i++)
			;
		if (i == NR_CASES)
			die("unknown case %s", tok);
		want[i] = true;
	}
	setup();
	printf("net_driver: nkvm tap %s, raw tap %s, %u rounds x %.1f s, queues of %u, "
	       "receive copybreak %llu, transmit %u chains per kick\n", nic.ifname, raw.ifname,
	       runs, secs, qsize, (unsigned long long)nic.net.rx_copybreak, kick_batch);
	fflush(stdout);

	for (unsigned ci = 0; ci < NR_CASES; ci++) {
		const struct bcase *cs = &cases[ci];

		if (!want[ci])
			continue;
		setup_device();
		if (cs->rx)
			setup_rx(cs);
		else
			setup_tx(cs);
		for (unsigned i = 0; i < runs; i++) {
			enum side first = i % 2 ? RAW : NKVM;

			if (side_on[first])
				one_run(cs, ci, first, i, secs);
			if (side_on[!first])
				one_run(cs, ci, first == NKVM ? RAW : NKVM, i, secs);
		}
		if (nic.net.dev.violations)
			die("%s: the device saw %lu driver violations", cs->name,
			    nic.net.dev.violations);
	}
	if (side_on[NKVM] && side_on[RAW])
		summary(want, runs, secs);

	virtio_mmio_destroy(&nic.m);
	virtio_net_destroy(&nic.net);
	evl_destroy(&nic.evl);
	close(raw.fd);
	gm_destroy(&nic.gm);
	return 0;
}
