/*
 * virtio-vsock device (see virtio_vsock.h): configuration, the transmit
 * queue (the guest's packets, checked then dispatched), the receive queue
 * (control packets, RSTs without a connection, data read from sockets),
 * and the private event loop hooked into nkvm's main loop.
 *
 * The event queue is set up by the driver but never used: nkvm sends
 * TRANSPORT_RESET only where the guest's CID could change under it
 * (snapshot restore), which it does not do.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include "nkvm/clock.h"
#include "nkvm/le.h"
#include "nkvm/log.h"
#include "vsock_impl.h"

#define VSOCK_QUEUE_MAX 256

static struct log_ratelimit dev_rl = { .burst = 5 };

static void vs_config_read(struct virtio_dev *d, uint32_t off, void *buf,
			   unsigned len)
{
	struct virtio_vsock *v = d->priv;

	memcpy(buf, v->config + off, len);
}

/* Take a receive buffer: -EAGAIN when there is none (stalled until the
 * driver posts more) or it cannot hold a header and some data. */
static int rx_pop(struct virtio_vsock *v, struct vq_chain *ch)
{
	if (virtio_pop(&v->dev, VIRTIO_VSOCK_RXQ, ch) < 0) {
		v->rx_stalled = true;
		return -EAGAIN;
	}
	if (ch->in_len <= VSOCK_HDR_LEN) {
		virtio_fail(&v->dev, "receive buffer with no room past the packet header");
		v->rx_stalled = true;
		return -EAGAIN;
	}
	return 0;
}

static void rx_push(struct virtio_vsock *v, struct vq_chain *ch,
		    const struct vsock_hdr *h)
{
	uint8_t b[VSOCK_HDR_LEN];

	vsock_hdr_encode(h, b);
	vq_iov_copy_to(ch, 0, b, VSOCK_HDR_LEN);
	if (vq_push(&v->dev.vq[VIRTIO_VSOCK_RXQ], ch->head, VSOCK_HDR_LEN + h->len) < 0)
		v->st.dropped++;
}

int vsock_rx_ctrl(struct virtio_vsock *v, const struct vsock_hdr *h)
{
	struct vq_chain ch;

	if (rx_pop(v, &ch) < 0)
		return -EAGAIN;
	rx_push(v, &ch, h);
	return 0;
}

int vsock_rx_data(struct virtio_vsock *v, struct vsock_conn *c, uint32_t max)
{
	struct iovec iov[VQ_MAX_SEGS];
	struct vsock_hdr h;
	struct vq_chain ch;
	uint64_t room;
	ssize_t n;
	int k;

	if (rx_pop(v, &ch) < 0)
		return -EAGAIN;
	room = ch.in_len - VSOCK_HDR_LEN;
	if (room > max)
		room = max;
	if (room > VSOCK_MAX_PKT)
		room = VSOCK_MAX_PKT;
	k = vq_iov_slice(vq_chain_in(&ch), ch.nr_in, VSOCK_HDR_LEN, room, iov, VQ_MAX_SEGS);
	do {
		n = k > 0 ? readv(c->fd, iov, k) : -1;
	} while (n < 0 && errno == EINTR);
	if (n <= 0) {
		int e = n == 0 ? 0 : (errno == EAGAIN ? -EAGAIN : -errno);

		if (vq_unpop(&v->dev.vq[VIRTIO_VSOCK_RXQ], &ch) < 0)
			v->st.dropped++;
		return k > 0 ? e : -EAGAIN;
	}
	vsock_conn_hdr(c, VSOCK_OP_RW, &h);
	h.len = (uint32_t)n;
	rx_push(v, &ch, &h);
	c->tx_cnt += (uint32_t)n;
	v->st.to_guest_bytes += (uint64_t)n;
	return (int)n;
}

void vsock_owe_rst(struct virtio_vsock *v, const struct vsock_hdr *h)
{
	if (v->rst_len == VSOCK_RST_QUEUE) {
		v->st.rst_lost++;
		return;
	}
	v->rst[(v->rst_head + v->rst_len++) % VSOCK_RST_QUEUE] = *h;
}

void vsock_reply_rst(struct virtio_vsock *v, const struct vsock_hdr *g)
{
	struct vsock_hdr h = {
		.src_cid = g->dst_cid,	/* the address the guest used */
		.dst_cid = g->src_cid,
		.src_port = g->dst_port,
		.dst_port = g->src_port,
		.type = VSOCK_TYPE_STREAM,
		.op = VSOCK_OP_RST,
	};

	vsock_owe_rst(v, &h);
}

/* One packet from the guest. */
static uint32_t serve_tx(void *opaque, struct vq_chain *ch)
{
	struct virtio_vsock *v = opaque;
	uint8_t b[VSOCK_HDR_LEN];
	struct vsock_conn *c;
	struct vsock_hdr h;
	const char *why;
	enum vsock_verdict verdict;

	if (ch->out_len < VSOCK_HDR_LEN ||
	    vq_iov_copy_from(ch, 0, b, VSOCK_HDR_LEN) != VSOCK_HDR_LEN) {
		v->st.malformed++;
		if (log_ratelimit_ok(&dev_rl))
			log_debug("%s: packet shorter than its header dropped", v->dev.name);
		return 0;
	}
	vsock_hdr_decode(b, &h);
	verdict = vsock_hdr_check(&h, v->cid, ch->out_len - VSOCK_HDR_LEN, &why);
	c = vsock_conn_find(v, h.dst_port, h.src_port);
	if (verdict != VSOCK_PKT_OK) {
		v->st.malformed++;
		if (log_ratelimit_ok(&dev_rl))
			log_debug("%s: packet op %u from port %u dropped: %s", v->dev.name,
				  h.op, h.src_port, why);
		if (verdict == VSOCK_PKT_RST && c && h.dst_cid == VSOCK_HOST_CID)
			vsock_conn_close(c, true);
		else if (verdict == VSOCK_PKT_RST)
			vsock_reply_rst(v, &h);
		return 0;
	}
	if (c)
		vsock_conn_guest_pkt(c, &h, ch);
	else if (h.op == VSOCK_OP_REQUEST)
		vsock_guest_connect(v, &h);
	else if (h.op != VSOCK_OP_RST)
		vsock_reply_rst(v, &h);
	return 0;
}

/*
 * The end of every entry point: send what is owed (RSTs first, then each
 * connection's control packets), poll what can move now, interrupt the
 * guest for the receive buffers used since old_rx.
 */
static void settle(struct virtio_vsock *v, uint16_t old_rx)
{
	unsigned i;

	while (v->rst_len && vsock_rx_ctrl(v, &v->rst[v->rst_head]) == 0) {
		v->rst_head = (v->rst_head + 1) % VSOCK_RST_QUEUE;
		v->rst_len--;
		v->st.rst_sent++;
	}
	for (i = 0; i < VSOCK_MAX_CONNS && !v->rx_stalled; i++)
		if (v->conn[i].used && v->conn[i].owe && !vsock_conn_flush(&v->conn[i]))
			break;
	for (i = 0; i < VSOCK_MAX_CONNS; i++)
		if (v->conn[i].used)
			vsock_conn_poll(&v->conn[i]);
	vsock_listen_poll(v);
	virtio_notify_used(&v->dev, VIRTIO_VSOCK_RXQ, old_rx);
}

static void vs_notify(struct virtio_dev *d, unsigned q)
{
	struct virtio_vsock *v = d->priv;
	uint16_t old = d->vq[VIRTIO_VSOCK_RXQ].used_idx;

	if (q == VIRTIO_VSOCK_TXQ)
		virtio_serve(d, q, serve_tx, v);
	else if (q == VIRTIO_VSOCK_RXQ)
		v->rx_stalled = false;	/* new buffers */
	settle(v, old);
}

static int vs_start(struct virtio_dev *d)
{
	struct virtio_vsock *v = d->priv;

	v->driver_ok = true;
	v->rx_stalled = false;
	vsock_listen_poll(v);
	return 0;
}

/* Device reset: every connection goes (the guest's sockets went with its
 * driver), and no host client is accepted until the driver is back. */
static void vs_reset(struct virtio_dev *d)
{
	struct virtio_vsock *v = d->priv;
	unsigned i;

	v->driver_ok = false;
	for (i = 0; i < VSOCK_MAX_CONNS; i++)
		if (v->conn[i].used)
			vsock_conn_close(&v->conn[i], false);
	v->rst_len = 0;
	v->rx_stalled = false;
	vsock_listen_poll(v);
}

static const struct virtio_dev_ops vsock_ops = {
	.config_read = vs_config_read,
	.start = vs_start,
	.reset = vs_reset,
	.notify = vs_notify,
};

static void on_timer(void *opaque, uint32_t events)
{
	struct virtio_vsock *v = opaque;
	uint64_t n;

	if (read(v->timer_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
	vsock_expire_locked(v, mono_ns());
}

void virtio_vsock_poll(struct virtio_vsock *v)
{
	uint16_t old;

	pthread_mutex_lock(&v->dev.lock);
	old = v->dev.vq[VIRTIO_VSOCK_RXQ].used_idx;
	if (evl_run_once(&v->evl, 0) < 0 && log_ratelimit_ok(&dev_rl))
		log_warn("%s: epoll: %s", v->dev.name, strerror(errno));
	settle(v, old);
	pthread_mutex_unlock(&v->dev.lock);
}

void virtio_vsock_expire(struct virtio_vsock *v, uint64_t now_ns)
{
	uint16_t old;

	pthread_mutex_lock(&v->dev.lock);
	old = v->dev.vq[VIRTIO_VSOCK_RXQ].used_idx;
	vsock_expire_locked(v, now_ns);
	settle(v, old);
	pthread_mutex_unlock(&v->dev.lock);
}

static void on_ready(void *opaque, uint32_t events)
{
	virtio_vsock_poll(opaque);
}

int virtio_vsock_init(struct virtio_vsock *v, const struct gm *gm, const char *name,
		      const struct vsock_opts *o, char *err, size_t errlen)
{
	unsigned i;
	int r;

	memset(v, 0, sizeof(*v));
	v->listen_fd = v->timer_fd = v->evl.epfd = -1;
	for (i = 0; i < VSOCK_MAX_CONNS; i++)
		v->conn[i].fd = -1;
	v->cid = o->guest_cid;
	memcpy(v->uds_path, o->uds_path, sizeof(v->uds_path));
	put_le64(v->config, v->cid);
	v->next_port = 1u << 30;
	v->dev.name = name;
	v->dev.device_id = VIRTIO_ID_VSOCK;
	v->dev.config_size = sizeof(v->config);
	v->dev.nr_queues = 3;
	v->dev.queue_max = VSOCK_QUEUE_MAX;
	v->dev.ops = &vsock_ops;
	v->dev.priv = v;
	r = evl_init(&v->evl);
	if (r == 0) {
		v->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		r = v->timer_fd < 0 ? -errno : evl_add(&v->evl, v->timer_fd, EPOLLIN, on_timer, v);
	}
	if (r < 0) {
		errbuf_printf(err, errlen, "vsock: %s", strerror(-r));
		goto fail;
	}
	r = vsock_listen_open(v, err, errlen);
	if (r < 0)
		goto fail;
	r = virtio_dev_init(&v->dev, gm);
	if (r < 0) {
		errbuf_printf(err, errlen, "vsock: %s", strerror(-r));
		goto fail;
	}
	v->dev_ready = true;
	return 0;
fail:
	virtio_vsock_destroy(v);
	return r;
}

int virtio_vsock_start(struct virtio_vsock *v, struct evl *loop)
{
	int r = evl_add(loop, v->evl.epfd, EPOLLIN, on_ready, v);

	if (r == 0)
		v->loop = loop;
	return r;
}

void virtio_vsock_destroy(struct virtio_vsock *v)
{
	struct stat st;
	unsigned i;

	for (i = 0; i < VSOCK_MAX_CONNS; i++)
		if (v->conn[i].used)
			vsock_conn_close(&v->conn[i], false);
	if (v->loop && v->loop->epfd >= 0)
		evl_del(v->loop, v->evl.epfd);
	v->loop = NULL;
	if (v->listen_fd >= 0) {
		/* remove the socket file only if it is still the one we made */
		if (stat(v->uds_path, &st) == 0 && st.st_dev == v->uds_dev &&
		    st.st_ino == v->uds_ino)
			unlink(v->uds_path);
		close(v->listen_fd);
		v->listen_fd = -1;
	}
	if (v->timer_fd >= 0)
		close(v->timer_fd);
	v->timer_fd = -1;
	evl_destroy(&v->evl);
	if (v->dev_ready)
		virtio_dev_destroy(&v->dev);
	v->dev_ready = false;
}
