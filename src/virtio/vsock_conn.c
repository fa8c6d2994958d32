/*
 * virtio-vsock connections: the state machine the guest's packets drive,
 * credit both ways, and the data between a unix socket and the guest.
 *
 * Guest -> host: RW payloads are written to the unix socket at once; what
 * a slow peer does not take goes to a ring of VSOCK_BUF_ALLOC bytes, which
 * is exactly the credit advertised, so a guest keeping to its credit never
 * finds it full and a guest that does not is reset. fwd_cnt counts bytes
 * the peer took; the guest hears of it in every packet's header and in a
 * CREDIT_UPDATE once its view of the free space falls under half.
 *
 * Host -> guest: the socket is polled for input only while the guest has
 * credit and receive buffers; vsock_rx_data() reads straight into them.
 *
 * Close: RST from either side ends a connection at once. A guest SHUTDOWN
 * with both flags (its close()) is answered with RST once the ring has
 * drained, within VSOCK_TIMEOUT_MS of the last progress. EOF from the unix
 * peer becomes SHUTDOWN(SEND) after the last byte, and a guest
 * SHUTDOWN(SEND) becomes shutdown(SHUT_WR) after the ring has drained.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nkvm/clock.h"
#include "nkvm/log.h"
#include "vsock_impl.h"

/* packets read from one socket per event, so others get their turn */
#define PUMP_BUDGET 64

static struct log_ratelimit conn_rl = { .burst = 5 };

struct vsock_conn *vsock_conn_new(struct virtio_vsock *v, int fd)
{
	unsigned i;

	for (i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = &v->conn[i];

		if (c->used)
			continue;
		memset(c, 0, sizeof(*c));
		c->v = v;
		c->used = true;
		c->fd = fd;
		return c;
	}
	return NULL;
}

struct vsock_conn *vsock_conn_find(struct virtio_vsock *v, uint32_t local,
				   uint32_t peer)
{
	unsigned i;

	for (i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = &v->conn[i];

		if (c->used && c->state != VSOCK_HANDSHAKE &&
		    c->local_port == local && c->peer_port == peer)
			return c;
	}
	return NULL;
}

void vsock_conn_hdr(struct vsock_conn *c, uint16_t op, struct vsock_hdr *h)
{
	*h = (struct vsock_hdr){
		.src_cid = VSOCK_HOST_CID,
		.dst_cid = c->v->cid,
		.src_port = c->local_port,
		.dst_port = c->peer_port,
		.type = VSOCK_TYPE_STREAM,
		.op = op,
		.buf_alloc = VSOCK_BUF_ALLOC,
		.fwd_cnt = c->fwd_cnt,
	};
	c->fwd_cnt_told = c->fwd_cnt;
	c->owe &= ~VSOCK_OWE_CREDIT;
}

void vsock_conn_close(struct vsock_conn *c, bool rst)
{
	struct virtio_vsock *v = c->v;

	/* the guest knows of it once a REQUEST went out, or it sent one */
	if (rst && c->state != VSOCK_HANDSHAKE &&
	    !(c->state == VSOCK_REQUESTED && (c->owe & VSOCK_OWE_REQUEST))) {
		struct vsock_hdr h;

		vsock_conn_hdr(c, VSOCK_OP_RST, &h);
		vsock_owe_rst(v, &h);
	}
	if (c->events)
		evl_del(&v->evl, c->fd);
	if (c->fd >= 0)
		close(c->fd);
	free(c->ring);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	/* a listener paused for lack of descriptors may go on */
	v->accept_paused = false;
	vsock_listen_poll(v);
}

static uint32_t peer_credit(const struct vsock_conn *c)
{
	uint32_t inflight = c->tx_cnt - c->peer_fwd_cnt;

	/* a guest claiming more than it was sent just gets no credit */
	return inflight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - inflight;
}

static uint32_t conn_want(const struct vsock_conn *c)
{
	uint32_t ev = 0;

	if (c->state == VSOCK_HANDSHAKE)
		return EPOLLIN;
	if (c->state != VSOCK_ESTABLISHED)
		return 0;
	if (c->ring_len)
		ev |= EPOLLOUT;
	if (!c->host_eof && !c->guest_shut_rcv && !(c->owe & VSOCK_OWE_RESPONSE) &&
	    !c->v->rx_stalled && peer_credit(c) > 0)
		ev |= EPOLLIN;
	return ev;
}

static void conn_event(void *opaque, uint32_t events);

void vsock_conn_poll(struct vsock_conn *c)
{
	struct virtio_vsock *v = c->v;
	uint32_t ev = conn_want(c);
	int r;

	if (ev == c->events)
		return;
	if (!ev) {
		evl_del(&v->evl, c->fd);
		c->events = 0;
		return;
	}
	r = c->events ? evl_mod(&v->evl, c->fd, ev)
		      : evl_add(&v->evl, c->fd, ev, conn_event, c);
	if (r < 0) {
		if (log_ratelimit_ok(&conn_rl))
			log_warn("%s: cannot poll a connection: %s", v->dev.name, strerror(-r));
		return;
	}
	c->events = ev;
}

void vsock_conn_deadline(struct vsock_conn *c)
{
	c->deadline_ns = mono_ns() + VSOCK_TIMEOUT_MS * 1000000ULL;
	vsock_timer_arm(c->v);
}

static ssize_t send_iov(int fd, struct iovec *iov, int n)
{
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = (size_t)n };
	ssize_t w;

	do {
		w = sendmsg(fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
	} while (w < 0 && errno == EINTR);
	if (w < 0 && errno == EAGAIN)
		return 0;
	return w < 0 ? -errno : w;
}

/* Write the ring to the socket until it is empty or the peer is full. */
static int conn_drain(struct vsock_conn *c)
{
	while (c->ring_len) {
		uint32_t first = VSOCK_BUF_ALLOC - c->ring_head;
		struct iovec iov[2] = {
			{ c->ring + c->ring_head, first < c->ring_len ? first : c->ring_len },
			{ c->ring, first < c->ring_len ? c->ring_len - first : 0 },
		};
		ssize_t w = send_iov(c->fd, iov, iov[1].iov_len ? 2 : 1);

		if (w < 0)
			return (int)w;
		if (w == 0)
			break;
		c->ring_head = (uint32_t)((c->ring_head + (size_t)w) % VSOCK_BUF_ALLOC);
		c->ring_len -= (uint32_t)w;
		c->fwd_cnt += (uint32_t)w;
		if (c->deadline_ns)
			vsock_conn_deadline(c);	/* progress while closing */
	}
	return 0;
}

/* The guest's RW payload: to the socket, the rest into the ring. */
static int conn_take(struct vsock_conn *c, const struct vq_chain *ch, uint32_t len)
{
	struct iovec iov[VQ_MAX_SEGS];
	uint32_t done = 0;

	c->rx_cnt += len;
	c->v->st.from_guest_bytes += len;
	if (!c->ring_len) {
		int k = vq_iov_slice(vq_chain_out((struct vq_chain *)ch), ch->nr_out,
				     VSOCK_HDR_LEN, len, iov, VQ_MAX_SEGS);
		ssize_t w = k > 0 ? send_iov(c->fd, iov, k) : 0;

		if (w < 0)
			return (int)w;
		done = (uint32_t)w;
		c->fwd_cnt += done;
	}
	if (done < len && !c->ring) {
		c->ring = malloc(VSOCK_BUF_ALLOC);
		if (!c->ring)
			return -ENOMEM;
	}
	while (done < len) {
		uint32_t tail = (c->ring_head + c->ring_len) % VSOCK_BUF_ALLOC;
		uint32_t n = VSOCK_BUF_ALLOC - tail;

		if (n > len - done)
			n = len - done;
		vq_iov_copy_from(ch, VSOCK_HDR_LEN + done, c->ring + tail, n);
		c->ring_len += n;
		done += n;
	}
	return 0;
}

/* Move what can move from the socket to the guest. False if c is gone. */
static bool conn_pump(struct vsock_conn *c)
{
	unsigned budget = PUMP_BUDGET;

	while (budget-- && (conn_want(c) & EPOLLIN)) {
		int n = vsock_rx_data(c->v, c, peer_credit(c));

		if (n == -EAGAIN)
			break;
		if (n == 0) {
			/* the peer will send no more: tell the guest after
			 * the data, which went out already */
			c->host_eof = true;
			c->owe |= VSOCK_OWE_SHUTDOWN;
			break;
		}
		if (n < 0) {
			vsock_conn_close(c, true);
			return false;
		}
		if (!peer_credit(c))
			c->owe |= VSOCK_OWE_CREDREQ;
	}
	return true;
}

/* After any change: half-close, clean close, credit update, polling. */
static void conn_after(struct vsock_conn *c)
{
	if (c->state == VSOCK_ESTABLISHED) {
		if (!c->ring_len && c->guest_shut_send && !c->wr_shut) {
			shutdown(c->fd, SHUT_WR);
			c->wr_shut = true;
		}
		if (c->guest_shut_send && c->guest_shut_rcv) {
			if (!c->ring_len) {
				/* the guest closed and has nothing in flight */
				vsock_conn_close(c, true);
				return;
			}
			if (!c->deadline_ns)
				vsock_conn_deadline(c);
		}
		if (c->fwd_cnt != c->fwd_cnt_told &&
		    VSOCK_BUF_ALLOC - (c->rx_cnt - c->fwd_cnt_told) < VSOCK_BUF_ALLOC / 2)
			c->owe |= VSOCK_OWE_CREDIT;
	}
	vsock_conn_poll(c);
}

static void conn_event(void *opaque, uint32_t events)
{
	struct vsock_conn *c = opaque;

	/* events are only hints: a slot freed and reused within one batch
	 * may see another socket's; every action below copes with EAGAIN */
	if (!c->used)
		return;
	if (c->state == VSOCK_HANDSHAKE) {
		vsock_handshake(c);
		return;
	}
	if (c->state == VSOCK_ESTABLISHED) {
		if (c->ring_len && conn_drain(c) < 0) {
			vsock_conn_close(c, true);
			return;
		}
		if (!conn_pump(c))
			return;
	}
	conn_after(c);
}

/* The guest accepted a host-initiated connection: tell the client. */
static int conn_established(struct vsock_conn *c)
{
	char ok[24];
	int n = snprintf(ok, sizeof(ok), "OK %u\n", c->local_port);

	c->state = VSOCK_ESTABLISHED;
	c->deadline_ns = 0;
	return send(c->fd, ok, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) == n ? 0 : -EIO;
}

static const char *conn_packet(struct vsock_conn *c, const struct vsock_hdr *h,
			       const struct vq_chain *ch)
{
	bool est = c->state == VSOCK_ESTABLISHED;

	switch (h->op) {
	case VSOCK_OP_RESPONSE:
		if (c->state != VSOCK_REQUESTED || (c->owe & VSOCK_OWE_REQUEST))
			return "RESPONSE to no request";
		if (conn_established(c) < 0)
			return "host client gone";
		return NULL;
	case VSOCK_OP_SHUTDOWN:
		if (!est)
			return "SHUTDOWN before the connection was up";
		c->guest_shut_rcv |= !!(h->flags & VSOCK_SHUTDOWN_RCV);
		c->guest_shut_send |= !!(h->flags & VSOCK_SHUTDOWN_SEND);
		return NULL;
	case VSOCK_OP_RW:
		if (!est || c->guest_shut_send)
			return "data on a connection not open for it";
		if (h->len > VSOCK_BUF_ALLOC - c->ring_len) {
			c->v->st.credit_violations++;
			return "data beyond the credit it was given";
		}
		if (h->len && conn_take(c, ch, h->len) < 0)
			return "host socket error";
		return NULL;
	case VSOCK_OP_CREDIT_UPDATE:
		return NULL;
	case VSOCK_OP_CREDIT_REQUEST:
		c->owe |= VSOCK_OWE_CREDIT;
		return NULL;
	default:
		return "REQUEST on an existing connection";
	}
}

void vsock_conn_guest_pkt(struct vsock_conn *c, const struct vsock_hdr *h,
			  const struct vq_chain *ch)
{
	const char *why;

	if (h->op == VSOCK_OP_RST) {
		vsock_conn_close(c, false);
		return;
	}
	/* every packet carries the guest's credit for us */
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	why = conn_packet(c, h, ch);
	if (why) {
		c->v->st.malformed++;
		if (log_ratelimit_ok(&conn_rl))
			log_debug("%s: port %u -> %u: %s: reset", c->v->dev.name,
				  c->peer_port, c->local_port, why);
		vsock_conn_close(c, true);
		return;
	}
	conn_after(c);
}

bool vsock_conn_flush(struct vsock_conn *c)
{
	static const struct {
		unsigned bit;
		uint16_t op;
	} order[] = {
		{ VSOCK_OWE_REQUEST, VSOCK_OP_REQUEST },
		{ VSOCK_OWE_RESPONSE, VSOCK_OP_RESPONSE },
		{ VSOCK_OWE_CREDIT, VSOCK_OP_CREDIT_UPDATE },
		{ VSOCK_OWE_CREDREQ, VSOCK_OP_CREDIT_REQUEST },
		{ VSOCK_OWE_SHUTDOWN, VSOCK_OP_SHUTDOWN },
	};
	unsigned i;

	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		struct vsock_hdr h;

		if (!(c->owe & order[i].bit))
			continue;
		vsock_conn_hdr(c, order[i].op, &h);
		if (order[i].op == VSOCK_OP_SHUTDOWN)
			h.flags = VSOCK_SHUTDOWN_SEND;
		if (vsock_rx_ctrl(c->v, &h) < 0) {
			if (order[i].op == VSOCK_OP_CREDIT_UPDATE)
				c->owe |= VSOCK_OWE_CREDIT;	/* vsock_conn_hdr cleared it */
			return false;
		}
		c->owe &= ~order[i].bit;
	}
	return true;
}
