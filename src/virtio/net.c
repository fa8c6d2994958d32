/* virtio-net device: configuration, transmit, receive, control queue. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nkvm/le.h"
#include "nkvm/log.h"
#include "nkvm/virtio_net.h"

#define NET_QUEUE_MAX 256
#define NET_CONFIG_SIZE 12
/* receive buffers one frame may take with mergeable buffers */
#define RX_MAX_BUFS 64
/* frame bytes one pull() reads under the device lock (vCPUs reading this
 * device's registers wait for it) */
#define RX_PULL_BYTES (256u << 10)
/* frames expected to be at most this long are read into the bounce
 * buffer and copied (see rx_hint_update) */
#define RX_COPYBREAK 4096
#define CTRL_CMD_MAX 4096

/* Offloads the device offers when the back end honours them. */
#define OFFLOAD_BITS ((1ULL << VIRTIO_NET_F_CSUM) | \
		      (1ULL << VIRTIO_NET_F_GUEST_CSUM) | \
		      (1ULL << VIRTIO_NET_F_GUEST_TSO4) | \
		      (1ULL << VIRTIO_NET_F_GUEST_TSO6) | \
		      (1ULL << VIRTIO_NET_F_GUEST_ECN) | \
		      (1ULL << VIRTIO_NET_F_GUEST_UFO) | \
		      (1ULL << VIRTIO_NET_F_HOST_TSO4) | \
		      (1ULL << VIRTIO_NET_F_HOST_TSO6) | \
		      (1ULL << VIRTIO_NET_F_HOST_ECN) | \
		      (1ULL << VIRTIO_NET_F_HOST_UFO))

static bool has(uint64_t features, unsigned bit)
{
	return (features >> bit) & 1;
}

int net_tx_check(const uint8_t *hdr, uint64_t len, uint64_t features,
		 const char **why)
{
	uint8_t flags = hdr[0], gso = hdr[1] & ~VIRTIO_NET_HDR_GSO_ECN;
	uint16_t gso_size = get_le16(hdr + 4);
	uint16_t csum_start = get_le16(hdr + 6), csum_off = get_le16(hdr + 8);
	bool ecn = hdr[1] & VIRTIO_NET_HDR_GSO_ECN;

	*why = NULL;
	if (len < ETH_HDR_LEN)
		*why = "frame shorter than an Ethernet header";
	else if (len > NET_TX_MAX)
		*why = "frame longer than 64 KiB";
	else if (flags & ~(VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID))
		*why = "unknown header flags";
	else if ((flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
		 !has(features, VIRTIO_NET_F_CSUM))
		*why = "checksum offload was not negotiated";
	else if ((flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
		 (uint32_t)csum_start + csum_off + 2 > len)
		*why = "checksum position outside the frame";
	else if (gso == VIRTIO_NET_HDR_GSO_NONE && (ecn || hdr[1] != 0))
		*why = "ECN flag without segmentation";
	else if (gso == VIRTIO_NET_HDR_GSO_NONE && len > NET_FRAME_MAX_NO_GSO + 4)
		*why = "frame too long for the MTU without segmentation";
	else if (gso == VIRTIO_NET_HDR_GSO_TCPV4 && !has(features, VIRTIO_NET_F_HOST_TSO4))
		*why = "TSO over IPv4 was not negotiated";
	else if (gso == VIRTIO_NET_HDR_GSO_TCPV6 && !has(features, VIRTIO_NET_F_HOST_TSO6))
		*why = "TSO over IPv6 was not negotiated";
	else if (gso == VIRTIO_NET_HDR_GSO_UDP && !has(features, VIRTIO_NET_F_HOST_UFO))
		*why = "UFO was not negotiated";
	else if (gso != VIRTIO_NET_HDR_GSO_NONE && gso != VIRTIO_NET_HDR_GSO_TCPV4 &&
		 gso != VIRTIO_NET_HDR_GSO_TCPV6 && gso != VIRTIO_NET_HDR_GSO_UDP)
		*why = "unknown segmentation type";
	else if (ecn && !has(features, VIRTIO_NET_F_HOST_ECN))
		*why = "ECN segmentation was not negotiated";
	else if (gso != VIRTIO_NET_HDR_GSO_NONE &&
		 (!(flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) || gso_size == 0))
		*why = "segmentation without checksum offload or segment size";
	return *why ? -EINVAL : 0;
}

static void net_config_read(struct virtio_dev *d, uint32_t off, void *buf,
			    unsigned len)
{
	struct virtio_net *n = d->priv;

	memcpy(buf, n->config + off, len);
}

/* Transmit one chain: header copied (so the guest cannot change it after
 * the check), the frame passed to the back end in place. */
static void tx_one(struct virtio_net *n, struct vq_chain *c)
{
	struct iovec iov[VQ_MAX_SEGS + 1];
	uint8_t hdr[NET_HDR_LEN];
	const char *why = "no header";
	uint64_t len;
	int k;

	len = c->out_len >= NET_HDR_LEN ? c->out_len - NET_HDR_LEN : 0;
	if (c->out_len < NET_HDR_LEN ||
	    vq_iov_copy_from(c, 0, hdr, NET_HDR_LEN) != NET_HDR_LEN ||
	    net_tx_check(hdr, len, n->dev.guest_features, &why) < 0) {
		static struct log_ratelimit rl = { .burst = 5 };

		n->st.tx_malformed++;
		if (log_ratelimit_ok(&rl))
			log_debug("%s: transmitted frame dropped: %s", n->dev.name, why);
		return;
	}
	put_le16(hdr + 10, 0);	/* num_buffers: receive-side only */
	iov[0] = (struct iovec){ .iov_base = hdr, .iov_len = NET_HDR_LEN };
	/* the frame itself is passed in place; it always fits: at most
	 * nr_out segments after the header */
	k = vq_iov_slice(vq_chain_out(c), c->nr_out, NET_HDR_LEN, len, iov + 1,
			 VQ_MAX_SEGS);
	if (k < 0 || n->be->ops->send(n->be, iov, (unsigned)k + 1) < 0) {
		n->st.tx_dropped++;
		return;
	}
	n->st.tx_frames++;
	n->st.tx_bytes += len;
}

static uint32_t net_serve_tx(void *opaque, struct vq_chain *c)
{
	tx_one(opaque, c);
	return 0;
}

/* Control commands Linux sends: receive modes and MAC filters are
 * acknowledged (nkvm delivers every frame the back end gives it, which
 * is what promiscuous mode would); anything else is refused. */
static uint8_t ctrl_cmd(struct virtio_net *n, uint8_t cls, uint8_t cmd)
{
	if (cls == VIRTIO_NET_CTRL_RX && cmd <= 5)	/* promisc...nobcast */
		return VIRTIO_NET_OK;
	if (cls == VIRTIO_NET_CTRL_MAC && cmd == 0)	/* MAC_TABLE_SET */
		return VIRTIO_NET_OK;
	return VIRTIO_NET_ERR;
}

static void net_ctrl(struct virtio_net *n)
{
	struct virtio_dev *d = &n->dev;
	struct vq_chain chain;
	uint16_t old = d->vq[VIRTIO_NET_CTLQ].used_idx;
	unsigned budget = d->vq[VIRTIO_NET_CTLQ].size;

	while (budget-- && virtio_pop(d, VIRTIO_NET_CTLQ, &chain) == 0) {
		uint8_t hdr[2], ack;
		uint32_t written = 0;

		if (chain.in_len < 1 || chain.out_len < 2 || chain.out_len > CTRL_CMD_MAX ||
		    vq_iov_copy_from(&chain, 0, hdr, 2) != 2) {
			virtio_fail(d, "malformed control command");
			break;
		}
		ack = ctrl_cmd(n, hdr[0], hdr[1]);
		written = (uint32_t)vq_iov_copy_to(&chain, 0, &ack, 1);
		if (vq_push(&d->vq[VIRTIO_NET_CTLQ], chain.head, written) < 0)
			break;
	}
	virtio_notify_used(d, VIRTIO_NET_CTLQ, old);
}

static void net_notify(struct virtio_dev *d, unsigned q)
{
	struct virtio_net *n = d->priv;

	if (q == VIRTIO_NET_TXQ) {
		virtio_serve(d, q, net_serve_tx, n);
	} else if (q == VIRTIO_NET_RXQ) {
		/* new receive buffers: let a waiting back end deliver */
		if (n->rx_waiting) {
			n->rx_waiting = false;
			n->be->ops->rx_ready(n->be);
		}
	} else if (q == VIRTIO_NET_CTLQ) {
		net_ctrl(n);
	}
}

static int net_start_dev(struct virtio_dev *d)
{
	struct virtio_net *n = d->priv;

	if (n->be->ops->set_features)
		n->be->ops->set_features(n->be, d->guest_features);
	return 0;
}

/*
 * Receive buffers are popped ahead of the frames that will fill them (the
 * reservation, rx_chains[rx_first...], oldest first): a frame read
 * straight from the back end may be as long as the largest frame the
 * guest can be sent, so its buffers must be taken before it is read. A
 * frame takes the oldest reserved chains it needs; the rest stay reserved
 * for the next frame, so a small frame does not pop and give back 64 KiB
 * worth of buffers each time. When the guest has too little room for a
 * frame, every reserved chain is given back (vq_unpop) and the device
 * waits for the guest's next receive kick: while waiting it holds nothing.
 * Only this file pops the receive queue, so the chains in flight there are
 * exactly the reserved ones; anything else means the queue was reset
 * under the reservation (QueueReady 0) and the chains are gone.
 */
static struct vq_chain *res_at(struct virtio_net *n, unsigned i)
{
	return &n->rx_chains[(n->rx_first + i) % RX_MAX_BUFS];
}

static void rx_res_forget(struct virtio_net *n)
{
	n->rx_first = n->rx_nres = n->rx_nseg = 0;
	n->rx_room = 0;
}

static void rx_res_check(struct virtio_net *n)
{
	if (n->dev.vq[VIRTIO_NET_RXQ].nr_inflight != n->rx_nres)
		rx_res_forget(n);
}

/* Give every reserved chain back, newest first (vq_unpop's order). */
static void rx_unreserve(struct virtio_net *n)
{
	while (n->rx_nres &&
	       vq_unpop(&n->dev.vq[VIRTIO_NET_RXQ], res_at(n, n->rx_nres - 1)) == 0)
		n->rx_nres--;
	rx_res_forget(n);
}

static bool rx_mergeable(const struct virtio_net *n)
{
	return virtio_has(&n->dev, VIRTIO_NET_F_MRG_RXBUF);
}

/* Can the reservation grow no more, whatever the guest posts? (The most
 * chains or segments one frame may take, or the whole ring is ours.) */
static bool rx_res_full(const struct virtio_net *n)
{
	const struct virtq *vq = &n->dev.vq[VIRTIO_NET_RXQ];

	return n->rx_nres == (rx_mergeable(n) ? RX_MAX_BUFS : 1) ||
	       n->rx_nseg + VQ_MAX_SEGS > NET_RX_MAX_IOV - 1 || vq->nr_inflight == vq->size;
}

/*
 * Pop receive chains until the reservation holds `want` bytes, cannot grow
 * (rx_res_full) or the ring is empty. Each chain must be device-writable
 * only and hold at least the header (a mergeable buffer MUST, 5.1.6.3.1;
 * a smaller chain could hold no frame at all): anything else is the guest
 * breaking the rules. 0, or -EIO (the device then needs a reset).
 */
static int rx_reserve(struct virtio_net *n, uint64_t want)
{
	struct virtio_dev *d = &n->dev;

	while (n->rx_room < want && !rx_res_full(n)) {
		struct vq_chain *c = res_at(n, n->rx_nres);
		int r = virtio_pop(d, VIRTIO_NET_RXQ, c);

		if (r == -EAGAIN)
			return 0;
		if (r == 0 && (c->nr_out || c->in_len < NET_HDR_LEN)) {
			virtio_fail(d, c->nr_out ? "receive buffer the device may only read"
						 : "receive buffer smaller than the header");
			r = -EIO;
		}
		if (r < 0) {
			rx_res_forget(n);	/* the driver must reset the device */
			return -EIO;
		}
		n->rx_nres++;
		n->rx_room += c->in_len;
		n->rx_nseg += c->nr_in;
	}
	return 0;
}

/* Not enough room for a frame: give the buffers back, wait for a kick. */
static void rx_wait(struct virtio_net *n)
{
	rx_unreserve(n);
	n->rx_waiting = true;
	n->st.rx_no_buffer++;
}

/*
 * The reserved buffers' writable segments as one array in rx_iov, oldest
 * first, as many as it takes to hold `cover` bytes (all, if they hold
 * less); then, for recv_into, the bounce buffer for the rest, one byte
 * longer than the rest of the reservation: a frame reaching that byte
 * did not fit (taps do not all say so otherwise). rx_covered: the bytes
 * in guest buffers. Returns the number of guest segments.
 */
static unsigned rx_iov(struct virtio_net *n, uint64_t cover)
{
	uint64_t at = 0;
	unsigned k = 0;

	for (unsigned i = 0; i < n->rx_nres && at < cover; i++) {
		struct vq_chain *c = res_at(n, i);
		const struct iovec *in = vq_chain_in(c);

		for (unsigned j = 0; j < c->nr_in && at < cover; j++) {
			n->rx_iov[k++] = in[j];
			at += in[j].iov_len;
		}
	}
	n->rx_covered = at;
	n->rx_iov[k] = (struct iovec){
		.iov_base = n->rx_bounce,
		.iov_len = (n->rx_room - at < NET_MAX_FRAME ? n->rx_room - at : NET_MAX_FRAME) + 1,
	};
	return k;
}

/*
 * How much of the next frame to read straight into guest buffers: the
 * longest recent frame (rx_hint, decaying by 1/16 a frame), or nothing
 * while that is at most rx_copybreak. Giving the kernel all 64 KiB worth
 * of buffers for every 1.5 KiB frame costs more (a 44-entry iovec to
 * import, per read) than the copy it saves; and a short frame costs less
 * read into the bounce buffer (hot in the cache) and copied than read
 * into a guest buffer the cache has not seen (docs/benchmarks.md: the
 * kernel's copy to user memory is slower there than memcpy). A frame
 * longer than the guess is read into the bounce buffer past it and
 * copied from there.
 */
static void rx_hint_update(struct virtio_net *n, uint64_t len)
{
	n->rx_hint -= n->rx_hint / 16;
	if (n->rx_hint < len)
		n->rx_hint = len;
}

/*
 * A frame of len bytes (header included, at most rx_room) now fills the
 * oldest reserved buffers: set num_buffers in its header (the kernel's
 * IFF_VNET_HDR header leaves those 2 bytes alone) and return the chains,
 * all made visible with one used->idx update: a guest seeing the first
 * (num_buffers = k) before the rest would drop the frame.
 */
static void rx_complete(struct virtio_net *n, uint64_t len)
{
	uint16_t heads[RX_MAX_BUFS];
	uint32_t lens[RX_MAX_BUFS];
	uint64_t left = len;
	unsigned k = 0;
	uint8_t nb[2];

	while (left && k < n->rx_nres) {
		struct vq_chain *c = res_at(n, k);
		uint64_t l = left < c->in_len ? left : c->in_len;

		heads[k] = c->head;
		lens[k++] = (uint32_t)l;
		left -= l;
		n->rx_room -= c->in_len;
		n->rx_nseg -= c->nr_in;
	}
	put_le16(nb, (uint16_t)k);
	vq_iov_copy_to(res_at(n, 0), 10, nb, 2);	/* every chain holds a header */
	n->rx_first = (n->rx_first + k) % RX_MAX_BUFS;
	n->rx_nres -= k;
	if (vq_push_many(&n->dev.vq[VIRTIO_NET_RXQ], heads, lens, k) == 0) {
		n->st.rx_frames++;
		n->st.rx_bytes += len - NET_HDR_LEN;
	}
}

/* Copy all of src into dst, which has room for it. */
static void iov_copy(const struct iovec *dst, const struct iovec *src, unsigned nsrc)
{
	size_t doff = 0;

	for (unsigned i = 0; i < nsrc; i++) {
		const uint8_t *p = src[i].iov_base;
		size_t l = src[i].iov_len;

		while (l) {
			size_t c = dst->iov_len - doff < l ? dst->iov_len - doff : l;

			memcpy((uint8_t *)dst->iov_base + doff, p, c);
			p += c;
			l -= c;
			doff += c;
			if (doff == dst->iov_len) {
				dst++;
				doff = 0;
			}
		}
	}
}

int net_rx_deliver(void *dev, const struct iovec *iov, unsigned niov)
{
	struct virtio_net *n = dev;
	struct virtio_dev *d = &n->dev;
	uint64_t total = 0;
	uint16_t old;
	int ret = 0;

	for (unsigned j = 0; j < niov; j++)
		total += iov[j].iov_len;
	if (total < NET_HDR_LEN + ETH_HDR_LEN || total > NET_MAX_FRAME)
		return -EINVAL;
	pthread_mutex_lock(&d->lock);
	old = d->vq[VIRTIO_NET_RXQ].used_idx;
	rx_res_check(n);
	if (!virtio_queue_live(d, VIRTIO_NET_RXQ) || rx_reserve(n, total) < 0) {
		/* no driver yet, being reset, or a broken ring: lost */
		n->st.rx_dropped++;
		ret = -ENETDOWN;
	} else if (n->rx_room < total && !rx_res_full(n)) {
		rx_wait(n);
		ret = -EAGAIN;
	} else if (n->rx_room < total) {
		/* it can never fit: more than RX_MAX_BUFS buffers, or more
		 * than one chain without mergeable buffers (5.1.6.4.1) */
		rx_unreserve(n);
		n->st.rx_dropped++;
		ret = -EMSGSIZE;
	} else {
		rx_iov(n, total);
		iov_copy(n->rx_iov, iov, niov);
		rx_complete(n, total);
		virtio_notify_used(d, VIRTIO_NET_RXQ, old);
	}
	pthread_mutex_unlock(&d->lock);
	return ret;
}

/* The longest frame (header included) the guest may be sent: a GSO frame
 * when it takes them, else a 1514-byte one (the 1526 bytes 5.1.6.3.1 has
 * the driver post; a longer, VLAN-tagged one fits only when the guest has
 * posted more). */
static uint64_t rx_frame_max(const struct virtio_net *n)
{
	const struct virtio_dev *d = &n->dev;

	if (virtio_has(d, VIRTIO_NET_F_GUEST_TSO4) || virtio_has(d, VIRTIO_NET_F_GUEST_TSO6) ||
	    virtio_has(d, VIRTIO_NET_F_GUEST_UFO))
		return NET_MAX_FRAME;
	return NET_HDR_LEN + ETH_HDR_LEN + 1500;
}

int net_rx_pull(void *dev, unsigned budget)
{
	static struct log_ratelimit rl = { .burst = 5 };
	struct virtio_net *n = dev;
	struct virtio_dev *d = &n->dev;
	uint64_t need, bytes = 0;
	unsigned done = 0;
	uint16_t old;
	int ret = 0;

	pthread_mutex_lock(&d->lock);
	old = d->vq[VIRTIO_NET_RXQ].used_idx;
	rx_res_check(n);
	need = rx_frame_max(n);
	while (done < budget && bytes < RX_PULL_BYTES) {
		ssize_t got;
		unsigned k;

		if (!virtio_queue_live(d, VIRTIO_NET_RXQ) ||
		    rx_reserve(n, rx_mergeable(n) ? NET_MAX_FRAME : 1) < 0) {
			ret = -ENETDOWN;
			break;
		}
		/* room for the longest frame, or all the guest can ever give
		 * (then a longer frame is cut and dropped) */
		if (n->rx_room < need && !rx_res_full(n)) {
			rx_wait(n);
			ret = -EAGAIN;
			break;
		}
		k = rx_iov(n, n->rx_hint <= n->rx_copybreak ? 0 : n->rx_hint);
		got = n->be->ops->recv_into(n->be, n->rx_iov, k + 1);
		if (got == -EAGAIN)
			break;
		if (got < 0) {
			if (log_ratelimit_ok(&rl))
				log_warn("%s: receive from the %s back end: %s", d->name,
					 n->be->kind, strerror((int)-got));
			break;
		}
		done++;
		/* it reached the last byte given (a tap that cuts a frame
		 * returns what it copied) or does not fit: cut; or a runt.
		 * Its buffers go back, scribbled on but unused. */
		if ((uint64_t)got >= n->rx_covered + n->rx_iov[k].iov_len ||
		    (uint64_t)got > n->rx_room || got < NET_HDR_LEN + ETH_HDR_LEN) {
			rx_unreserve(n);
			n->st.rx_dropped++;
			continue;
		}
		if ((uint64_t)got > n->rx_covered) {
			/* longer than the guess (or short): the rest from the
			 * bounce buffer into the buffers after the covered ones */
			struct iovec rest = { n->rx_bounce, (size_t)got - n->rx_covered };

			rx_iov(n, (uint64_t)got);
			iov_copy(n->rx_iov + k, &rest, 1);
		}
		rx_hint_update(n, (uint64_t)got);
		bytes += (uint64_t)got;
		rx_complete(n, (uint64_t)got);
	}
	virtio_notify_used(d, VIRTIO_NET_RXQ, old);
	pthread_mutex_unlock(&d->lock);
	return ret ? ret : (int)done;
}

static void net_reset(struct virtio_dev *d)
{
	struct virtio_net *n = d->priv;

	/* the queue is reset right after: the reserved chains are gone */
	rx_res_forget(n);
	/* a frame the back end holds is delivered once buffers come back */
	if (n->rx_waiting) {
		n->rx_waiting = false;
		n->be->ops->rx_ready(n->be);
	}
}

static const struct virtio_dev_ops net_ops = {
	.config_read = net_config_read,
	.start = net_start_dev,
	.reset = net_reset,
	.notify = net_notify,
};

int virtio_net_init(struct virtio_net *n, const struct gm *gm, const char *name,
		    const uint8_t mac[6], struct net_backend *be)
{
	int r;

	memset(n, 0, sizeof(*n));
	n->be = be;
	memcpy(n->mac, mac, 6);
	memcpy(n->config, mac, 6);
	put_le16(n->config + 6, VIRTIO_NET_S_LINK_UP);
	put_le16(n->config + 8, 1);	/* max_virtqueue_pairs */
	n->dev.name = name;
	n->dev.device_id = VIRTIO_ID_NET;
	n->dev.features = (1ULL << VIRTIO_NET_F_MAC) |
			  (1ULL << VIRTIO_NET_F_MRG_RXBUF) |
			  (1ULL << VIRTIO_NET_F_STATUS) |
			  (1ULL << VIRTIO_NET_F_CTRL_VQ) |
			  (1ULL << VIRTIO_NET_F_CTRL_RX) |
			  (be->offloads & OFFLOAD_BITS);
	n->dev.config_size = NET_CONFIG_SIZE;
	n->dev.nr_queues = 3;
	n->dev.queue_max = NET_QUEUE_MAX;
	n->dev.ops = &net_ops;
	n->dev.priv = n;
	/* ~330 KiB: the most chains one frame may take, their segments as
	 * one array for recv_into, and the bounce buffer after them */
	n->rx_chains = calloc(RX_MAX_BUFS, sizeof(*n->rx_chains));
	n->rx_iov = calloc(NET_RX_MAX_IOV, sizeof(*n->rx_iov));
	n->rx_bounce = malloc(NET_MAX_FRAME + 1);
	n->rx_hint = NET_MAX_FRAME;
	n->rx_copybreak = RX_COPYBREAK;
	if (!n->rx_chains || !n->rx_iov || !n->rx_bounce) {
		free(n->rx_chains);
		free(n->rx_iov);
		free(n->rx_bounce);
		return -ENOMEM;
	}
	be->deliver = net_rx_deliver;
	be->pull = net_rx_pull;
	be->dev = n;
	r = virtio_dev_init(&n->dev, gm);
	if (r < 0) {
		free(n->rx_chains);
		free(n->rx_iov);
		free(n->rx_bounce);
		n->rx_chains = NULL;
		n->rx_iov = NULL;
		n->rx_bounce = NULL;
	}
	return r;
}

int virtio_net_start(struct virtio_net *n, struct evl *evl)
{
	return n->be->ops->start(n->be, evl);
}

void virtio_net_destroy(struct virtio_net *n)
{
	if (n->be) {
		n->be->ops->destroy(n->be);
		n->be = NULL;
	}
	free(n->rx_chains);
	free(n->rx_iov);
	free(n->rx_bounce);
	n->rx_chains = NULL;
	n->rx_iov = NULL;
	n->rx_bounce = NULL;
	virtio_dev_destroy(&n->dev);
}
