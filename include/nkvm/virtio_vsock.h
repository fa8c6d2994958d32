/*
 * virtio-vsock (virtio 1.2 section 5.10) with Firecracker's hybrid host
 * side: the guest's AF_VSOCK stream sockets are bridged to AF_UNIX sockets
 * on the host, all inside nkvm (no /dev/vhost-vsock).
 *
 * - Host-initiated: nkvm listens on uds_path. A client connects, writes
 *   "CONNECT <port>\n"; nkvm sends REQUEST to that guest port; on RESPONSE
 *   it writes "OK <hostport>\n" (the host port nkvm assigned) and bridges
 *   the streams; on RST, a bad line or a timeout it closes the client.
 * - Guest-initiated: a connect to CID 2 port P makes nkvm connect to the
 *   unix socket "<uds_path>_P"; if that fails the guest gets RST.
 *
 * Bounds (all connections share one event loop, never blocked: every
 * socket is non-blocking):
 * - VSOCK_MAX_CONNS connections at once; more are refused (RST, or the
 *   host client closed);
 * - guest -> host: nkvm advertises VSOCK_BUF_ALLOC bytes of credit per
 *   connection and buffers at most that while the unix peer is slow; a
 *   guest sending beyond its credit gets its connection reset;
 * - host -> guest: nkvm reads a unix socket only when the guest has both
 *   credit and receive buffers for it, straight into those buffers;
 * - handshake lines are at most VSOCK_LINE_MAX bytes, and a client that
 *   does not finish its handshake, or a guest that does not answer a
 *   REQUEST, is dropped after VSOCK_TIMEOUT_MS.
 *
 * Threads: every entry point (queue kicks, the private event loop, reset)
 * runs with the device lock held.
 */
#ifndef NKVM_VIRTIO_VSOCK_H
#define NKVM_VIRTIO_VSOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "nkvm/evloop.h"
#include "nkvm/virtio.h"
#include "nkvm/vsock_opts.h"

#define VIRTIO_ID_VSOCK 19

#define VIRTIO_VSOCK_RXQ 0
#define VIRTIO_VSOCK_TXQ 1
#define VIRTIO_VSOCK_EVQ 2

/* struct virtio_vsock_hdr (44 bytes, little endian). */
#define VSOCK_HDR_LEN 44

#define VSOCK_TYPE_STREAM 1

enum vsock_op {
	VSOCK_OP_INVALID = 0,
	VSOCK_OP_REQUEST = 1,
	VSOCK_OP_RESPONSE = 2,
	VSOCK_OP_RST = 3,
	VSOCK_OP_SHUTDOWN = 4,
	VSOCK_OP_RW = 5,
	VSOCK_OP_CREDIT_UPDATE = 6,
	VSOCK_OP_CREDIT_REQUEST = 7,
};

#define VSOCK_SHUTDOWN_RCV  1
#define VSOCK_SHUTDOWN_SEND 2

/* Limits (see above). */
#define VSOCK_MAX_CONNS  64
#define VSOCK_BUF_ALLOC  (256u * 1024)
#define VSOCK_MAX_PKT    (64u * 1024)	/* payload of one packet */
#define VSOCK_LINE_MAX   32
#define VSOCK_TIMEOUT_MS 10000
#define VSOCK_RST_QUEUE  64

struct vsock_hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port;
	uint32_t len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
};

/* Header bytes <-> struct. */
void vsock_hdr_decode(const uint8_t b[VSOCK_HDR_LEN], struct vsock_hdr *h);
void vsock_hdr_encode(const struct vsock_hdr *h, uint8_t b[VSOCK_HDR_LEN]);

enum vsock_verdict {
	VSOCK_PKT_OK,
	VSOCK_PKT_DROP,   /* ignore it: no reply can be addressed, or it is RST */
	VSOCK_PKT_RST,    /* refuse it with RST */
};

/*
 * Judge a packet the guest sent: h its header, payload the bytes after the
 * header in its buffers. DROP: source CID not the guest's, or a bad RST;
 * RST: destination not the host, unknown type or op, len over the buffer
 * or VSOCK_MAX_PKT, payload on a non-RW op, unknown shutdown flags. *why
 * says what was wrong.
 */
enum vsock_verdict vsock_hdr_check(const struct vsock_hdr *h, uint64_t guest_cid,
				   uint64_t payload, const char **why);

/*
 * Parse a host client's handshake line (without its '\n'): "CONNECT <port>"
 * with one space and a decimal 32-bit port, an optional trailing '\r'.
 * 0 with *port, or -EINVAL.
 */
int vsock_parse_connect(const char *line, size_t len, uint32_t *port)
	__attribute__((warn_unused_result));

enum vsock_state {
	VSOCK_HANDSHAKE,   /* host client accepted, its CONNECT line not in */
	VSOCK_REQUESTED,   /* REQUEST owed or sent to the guest */
	VSOCK_ESTABLISHED,
};

/* Control packets a connection owes the guest (sent when it has buffers). */
#define VSOCK_OWE_REQUEST  1u
#define VSOCK_OWE_RESPONSE 2u
#define VSOCK_OWE_CREDIT   4u   /* CREDIT_UPDATE */
#define VSOCK_OWE_CREDREQ  8u   /* CREDIT_REQUEST */
#define VSOCK_OWE_SHUTDOWN 16u  /* SHUTDOWN(SEND): the unix peer sent EOF */

struct virtio_vsock;

struct vsock_conn {
	struct virtio_vsock *v;
	bool used;
	enum vsock_state state;
	int fd;
	uint32_t events;             /* registered in v->evl; 0: not there */
	uint32_t local_port;         /* host side (the guest's dst_port) */
	uint32_t peer_port;          /* guest side */
	uint64_t deadline_ns;        /* 0: none */
	unsigned owe;                /* VSOCK_OWE_* */
	/* guest -> host: counted in bytes; ring of VSOCK_BUF_ALLOC bytes for
	 * what the unix peer has not taken yet */
	uint32_t rx_cnt, fwd_cnt, fwd_cnt_told;
	uint8_t *ring;
	uint32_t ring_head, ring_len;
	/* host -> guest */
	uint32_t tx_cnt, peer_buf_alloc, peer_fwd_cnt;
	bool guest_shut_send, guest_shut_rcv, host_eof, wr_shut;
	char line[VSOCK_LINE_MAX];
	unsigned line_len;
};

struct vsock_stats {
	unsigned long malformed, dropped, rst_sent, rst_lost, credit_violations;
	unsigned long conns_host, conns_guest, conns_refused, timeouts;
	uint64_t to_guest_bytes, from_guest_bytes;
};

struct virtio_vsock {
	struct virtio_dev dev;
	uint8_t config[8];           /* le64 guest_cid */
	uint64_t cid;
	char uds_path[VSOCK_UDS_MAX + 1];
	dev_t uds_dev;               /* the socket file nkvm made, to remove it */
	ino_t uds_ino;
	struct evl evl;              /* private: listener, timer, connections */
	struct evl *loop;            /* the main loop, which polls evl.epfd */
	int listen_fd, timer_fd;
	bool listening, timer_armed, rx_stalled, dev_ready;
	bool driver_ok;              /* between start and reset */
	bool accept_paused;          /* out of descriptors: until one closes */
	uint32_t next_port;
	struct vsock_conn conn[VSOCK_MAX_CONNS];
	struct vsock_hdr rst[VSOCK_RST_QUEUE];   /* RSTs owed, no connection */
	unsigned rst_head, rst_len;
	struct vsock_stats st;
};

/*
 * Create the device for o (guest memory set later through dev.gm, as the
 * VM does not exist yet): listens on o->uds_path, which must not exist
 * (a stale socket nobody listens on is replaced). 0, or -errno with one
 * line in err.
 */
int virtio_vsock_init(struct virtio_vsock *v, const struct gm *gm, const char *name,
		      const struct vsock_opts *o, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Hook the device's private loop into the main loop. 0 or -errno. */
int virtio_vsock_start(struct virtio_vsock *v, struct evl *loop)
	__attribute__((warn_unused_result));

/* Run the private loop once without waiting (what the main loop does when
 * it is ready); takes the lock. */
void virtio_vsock_poll(struct virtio_vsock *v);

/* Drop the connections whose deadline is before now_ns (the timer does
 * this every second); takes the lock. */
void virtio_vsock_expire(struct virtio_vsock *v, uint64_t now_ns);

/* Close every connection and the listener, remove the socket file, free
 * (after the transport's reset). */
void virtio_vsock_destroy(struct virtio_vsock *v);

#endif
