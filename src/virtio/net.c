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

static void net_reset(struct virtio_dev *d)
{
	struct virtio_net *n = d->priv;

	/* a frame the back end holds is delivered once buffers come back */
	if (n->rx_waiting) {
		n->rx_waiting = false;
		n->be->ops->rx_ready(n->be);
	}
}

/* Copy bytes [off, off + len) of the source frame into the chain's
 * writable buffers at offset doff. */
static void copy_frame(const struct iovec *src, unsigned nsrc, uint64_t off,
		       uint64_t len, struct vq_chain *c, uint64_t doff)
{
	unsigned i;

	for (i = 0; i < nsrc && len; i++) {
		uint64_t l = src[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		l -= off;
		if (l > len)
			l = len;
		vq_iov_copy_to(c, doff, (uint8_t *)src[i].iov_base + off, l);
		doff += l;
		len -= l;
		off = 0;
	}
}

/*
 * Take the receive chains one frame of `total` bytes (header included)
 * needs: one without mergeable buffers (it must hold the whole frame),
 * up to RX_MAX_BUFS with. Returns how many, 0 when there are not enough
 * (all given back), or -1 when the frame can never fit (dropped).
 */
static int rx_take(struct virtio_net *n, struct vq_chain *c, uint64_t total)
{
	struct virtio_dev *d = &n->dev;
	bool mrg = virtio_has(d, VIRTIO_NET_F_MRG_RXBUF);
	uint64_t room = 0;
	int k = 0, r;

	while (room < total) {
		if (k == (mrg ? RX_MAX_BUFS : 1))
			goto too_big;
		r = virtio_pop(d, VIRTIO_NET_RXQ, &c[k]);
		if (r < 0)
			goto give_back;
		room += c[k++].in_len;
		if (!c[k - 1].in_len || (!mrg && room < total))
			goto too_big;
	}
	return k;
too_big:
	r = -1;
	goto unpop;
give_back:
	r = 0;
unpop:
	while (k > 0)
		if (vq_unpop(&d->vq[VIRTIO_NET_RXQ], &c[--k]) < 0)
			break;
	return r;
}

int net_rx_deliver(void *dev, const struct iovec *iov, unsigned niov)
{
	struct virtio_net *n = dev;
	struct vq_chain *chains = n->rx_chains;	/* under the device lock */
	uint16_t heads[RX_MAX_BUFS];
	uint32_t lens[RX_MAX_BUFS];
	struct virtio_dev *d = &n->dev;
	uint64_t total = 0, off = 0;
	uint16_t old;
	int k, i, ret = 0;

	for (unsigned j = 0; j < niov; j++)
		total += iov[j].iov_len;
	if (total < NET_HDR_LEN + ETH_HDR_LEN || total > NET_MAX_FRAME)
		return -EINVAL;
	pthread_mutex_lock(&d->lock);
	if (!virtio_queue_live(d, VIRTIO_NET_RXQ)) {
		/* no driver yet (or being reset): the frame is lost */
		n->st.rx_dropped++;
		ret = -ENETDOWN;
		goto out;
	}
	old = d->vq[VIRTIO_NET_RXQ].used_idx;
	k = rx_take(n, chains, total);
	if (k <= 0) {
		if (k == 0) {
			n->st.rx_no_buffer++;
			n->rx_waiting = true;
			ret = -EAGAIN;
		} else {
			n->st.rx_dropped++;
			ret = -EMSGSIZE;
		}
		goto out;
	}
	for (i = 0; i < k; i++) {
		uint64_t l = total - off < chains[i].in_len ? total - off : chains[i].in_len;

		copy_frame(iov, niov, off, l, &chains[i], 0);
		if (i == 0) {
			uint8_t nb[2];

			put_le16(nb, (uint16_t)k);	/* num_buffers */
			vq_iov_copy_to(&chains[0], 10, nb, 2);
		}
		off += l;
		heads[i] = chains[i].head;
		lens[i] = (uint32_t)l;
	}
	/* all buffers of the frame become visible at once: a guest seeing the
	 * first (num_buffers = k) before the rest would drop the frame */
	if (vq_push_many(&d->vq[VIRTIO_NET_RXQ], heads, lens, (unsigned)k) == 0) {
		n->st.rx_frames++;
		n->st.rx_bytes += total - NET_HDR_LEN;
	}
	virtio_notify_used(d, VIRTIO_NET_RXQ, old);
out:
	pthread_mutex_unlock(&d->lock);
	return ret;
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
	/* ~1 MiB: the most chains one frame may take, kept per NIC since
	 * back ends deliver from their own threads */
	n->rx_chains = calloc(RX_MAX_BUFS, sizeof(*n->rx_chains));
	if (!n->rx_chains)
		return -ENOMEM;
	be->deliver = net_rx_deliver;
	be->dev = n;
	r = virtio_dev_init(&n->dev, gm);
	if (r < 0) {
		free(n->rx_chains);
		n->rx_chains = NULL;
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
	n->rx_chains = NULL;
	virtio_dev_destroy(&n->dev);
}
