/*
 * virtio-9p device: gathers each request into a buffer, lets the 9P server
 * answer it, scatters the reply back. Requests are handled one at a time
 * on the event-loop thread (host file system calls block it for their
 * duration; a worker thread is the next step if shares get busy).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nkvm/le.h"
#include "nkvm/log.h"
#include "nkvm/p9.h"
#include "nkvm/virtio_9p.h"

#define P9_QUEUE_MAX 128
/* A little more than the server's largest msize: room for a request
 * that is too big to be valid, so it can be recognised as such. */
#define P9_BUF_EXTRA 4096

static void p9_config_read(struct virtio_dev *d, uint32_t off, void *buf,
			   unsigned len)
{
	struct virtio_9p *p = d->priv;

	memcpy(buf, p->config + off, len);
}

/* One request: the reply never exceeds the chain's writable room. */
static uint32_t p9_one(void *opaque, struct vq_chain *c)
{
	struct virtio_9p *p = opaque;
	size_t len = c->out_len, cap = c->in_len, n;

	if (len > p->buf_size || cap < 11) {
		/* no valid message is this big, or no room to answer */
		p->malformed++;
		return 0;
	}
	vq_iov_copy_from(c, 0, p->req, len);
	if (cap > p->buf_size)
		cap = p->buf_size;
	n = p9_handle(p->srv, p->req, len, p->resp, cap);
	p->requests++;
	return (uint32_t)vq_iov_copy_to(c, 0, p->resp, n);
}

static void p9_notify(struct virtio_dev *d, unsigned q)
{
	virtio_serve(d, q, p9_one, d->priv);
}

static void p9_reset(struct virtio_dev *d)
{
	struct virtio_9p *p = d->priv;

	/* a new driver starts a new session: no fid survives */
	p9_server_reset(p->srv);
}

static const struct virtio_dev_ops p9_ops = {
	.config_read = p9_config_read,
	.reset = p9_reset,
	.notify = p9_notify,
};

int virtio_9p_init(struct virtio_9p *p, const struct gm *gm, const char *name,
		   const char *root, const char *tag, bool ro, char *err,
		   size_t errlen)
{
	size_t tlen = strlen(tag);
	int r;

	memset(p, 0, sizeof(*p));
	if (tlen == 0 || tlen > VIRTIO_9P_TAG_MAX) {
		errbuf_printf(err, errlen, "share tag '%s': 1 to %d characters", tag,
			      VIRTIO_9P_TAG_MAX);
		return -EINVAL;
	}
	r = p9_server_create(&p->srv, root, ro, err, errlen);
	if (r < 0)
		return r;
	p->buf_size = p9_server_msize(p->srv) + P9_BUF_EXTRA;
	p->req = malloc(p->buf_size);
	p->resp = malloc(p->buf_size);
	if (!p->req || !p->resp) {
		errbuf_printf(err, errlen, "share %s: out of memory", tag);
		r = -ENOMEM;
		goto fail;
	}
	put_le16(p->config, (uint16_t)tlen);
	memcpy(p->config + 2, tag, tlen);
	p->dev.name = name;
	p->dev.device_id = VIRTIO_ID_9P;
	p->dev.features = 1ULL << VIRTIO_9P_F_MOUNT_TAG;
	p->dev.config_size = (uint32_t)(2 + tlen);
	p->dev.nr_queues = 1;
	p->dev.queue_max = P9_QUEUE_MAX;
	p->dev.ops = &p9_ops;
	p->dev.priv = p;
	r = virtio_dev_init(&p->dev, gm);
	if (r == 0) {
		p->dev_ready = true;
		return 0;
	}
	errbuf_printf(err, errlen, "share %s: %s", tag, strerror(-r));
fail:
	virtio_9p_destroy(p);
	return r;
}

void virtio_9p_destroy(struct virtio_9p *p)
{
	if (p->dev_ready)
		virtio_dev_destroy(&p->dev);
	p->dev_ready = false;
	if (p->srv)
		p9_server_destroy(p->srv);
	p->srv = NULL;
	free(p->req);
	free(p->resp);
	p->req = p->resp = NULL;
}
