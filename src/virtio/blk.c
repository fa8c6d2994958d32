/* virtio-blk device: configuration, request queue, completions, reset. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "nkvm/le.h"
#include "nkvm/evloop.h"
#include "nkvm/log.h"
#include "nkvm/virtio_blk.h"

#define BLK_QUEUE_MAX 256
#define REAP_BATCH 32

/* struct virtio_blk_config, little endian, fixed for the device's life. */
static void build_config(struct virtio_blk *b)
{
	uint8_t *c = b->config;

	memset(c, 0, sizeof(b->config));
	put_le64(c + 0, b->lim.capacity);
	put_le32(c + 12, VIRTIO_BLK_SEG_MAX);               /* seg_max */
	put_le32(c + 20, b->lim.logical_block);             /* blk_size */
	put_le32(c + 36, VIRTIO_BLK_MAX_DISCARD_SECTORS);   /* max_discard_sectors */
	put_le32(c + 40, 1);                                /* max_discard_seg */
	put_le32(c + 44, b->lim.logical_block / 512);       /* discard_sector_alignment */
	put_le32(c + 48, VIRTIO_BLK_MAX_DISCARD_SECTORS);   /* max_write_zeroes_sectors */
	put_le32(c + 52, 1);                                /* max_write_zeroes_seg */
	c[56] = 1;                                          /* write_zeroes_may_unmap */
}

static void blk_config_read(struct virtio_dev *d, uint32_t off, void *buf,
			    unsigned len)
{
	struct virtio_blk *b = d->priv;

	memcpy(buf, b->config + off, len);
}

static struct blk_req *req_get(struct virtio_blk *b)
{
	struct blk_req *r = b->free_reqs;

	if (r) {
		b->free_reqs = r->next_free;
		return r;
	}
	r = malloc(sizeof(*r));
	if (r)
		b->nr_reqs++;
	return r;
}

static void req_put(struct virtio_blk *b, struct blk_req *r)
{
	r->next_free = b->free_reqs;
	b->free_reqs = r;
}

/* Status byte, used element, maybe an interrupt. */
static void finish(struct virtio_blk *b, struct blk_req *r, uint8_t status)
{
	struct virtio_dev *d = &b->dev;
	uint16_t old = d->vq[r->q].used_idx;

	if (status != VIRTIO_BLK_S_OK)
		b->errors++;
	*r->status_ptr = status;
	if (vq_push(&d->vq[r->q], r->head, status == VIRTIO_BLK_S_OK ? r->written : 1) == 0)
		virtio_notify_used(d, r->q, old);
	req_put(b, r);
}

static void count(struct virtio_blk *b, const struct blk_req *r)
{
	uint64_t bytes = 0;
	unsigned i;

	for (i = 0; i < r->io.iovcnt; i++)
		bytes += r->io.iov[i].iov_len;
	switch (r->io.op) {
	case BLK_IO_READ: b->reads++; b->read_bytes += bytes; break;
	case BLK_IO_WRITE: b->writes++; b->written_bytes += bytes; break;
	case BLK_IO_FLUSH: b->flushes++; break;
	default: b->discards++;
	}
}

/* Take every available request; submit I/O, finish the rest at once. */
static void blk_notify(struct virtio_dev *d, unsigned q)
{
	struct virtio_blk *b = d->priv;
	struct vq_chain chain;
	struct blk_req *r;
	bool queued = false;

	while (virtio_pop(d, q, &chain) == 0) {
		r = req_get(b);
		if (!r) {
			virtio_fail(d, "out of memory for a request");
			break;
		}
		r->q = q;
		if (blk_req_parse(&b->lim, b->serial, &chain, r) < 0) {
			b->rejected++;
			req_put(b, r);
			virtio_fail(d, "request without a header or a status byte");
			break;
		}
		if (!r->submit) {
			finish(b, r, r->status);
			continue;
		}
		r->io.fd = b->fd;
		r->io.opaque = r;
		count(b, r);
		if (blk_io_submit(b->io, &r->io) < 0) {
			/* depth >= queue size, so this is an engine failure */
			finish(b, r, VIRTIO_BLK_S_IOERR);
			continue;
		}
		queued = true;
	}
	if (queued && blk_io_kick(b->io) < 0)
		log_debug("%s: submit deferred", d->name);
}

void virtio_blk_complete(struct virtio_blk *b, bool wait)
{
	struct blk_io_req *done[REAP_BATCH];
	unsigned n, i;

	do {
		n = blk_io_reap(b->io, done, REAP_BATCH, wait);
		for (i = 0; i < n; i++) {
			struct blk_req *r = done[i]->opaque;

			finish(b, r, done[i]->result ? VIRTIO_BLK_S_IOERR :
				     VIRTIO_BLK_S_OK);
		}
	} while (n == REAP_BATCH);
}

int virtio_blk_swap(struct virtio_blk *b, int fd, uint64_t size, unsigned logical_block)
{
	struct virtio_dev *d = &b->dev;

	if (logical_block != b->lim.logical_block)
		return -EINVAL;
	pthread_mutex_lock(&d->lock);
	/* no request may reach the new image with an offset checked against
	 * the old capacity, nor complete on the old fd after it is closed */
	while (blk_io_inflight(b->io))
		virtio_blk_complete(b, true);
	b->fd = fd;
	b->lim.capacity = size / logical_block * (logical_block / 512);
	build_config(b);
	virtio_config_changed(d);
	pthread_mutex_unlock(&d->lock);
	return 0;
}

static void on_completion(void *opaque, uint32_t events)
{
	struct virtio_blk *b = opaque;

	pthread_mutex_lock(&b->dev.lock);
	virtio_blk_complete(b, false);
	pthread_mutex_unlock(&b->dev.lock);
}

/* Device reset: wait for the I/O in flight (it writes guest memory the
 * driver may reuse right after the reset), dropping the results. */
static void blk_reset(struct virtio_dev *d)
{
	struct virtio_blk *b = d->priv;
	struct blk_io_req *done[REAP_BATCH];
	unsigned n, i;

	while (blk_io_inflight(b->io)) {
		n = blk_io_reap(b->io, done, REAP_BATCH, true);
		for (i = 0; i < n; i++)
			req_put(b, done[i]->opaque);
	}
}

static const struct virtio_dev_ops blk_ops = {
	.config_read = blk_config_read,
	.reset = blk_reset,
	.notify = blk_notify,
};

int virtio_blk_init(struct virtio_blk *b, const struct gm *gm, struct evl *evl,
		    const char *name, int fd, uint64_t size,
		    unsigned logical_block, const struct virtio_blk_opts *o)
{
	int r;

	memset(b, 0, sizeof(*b));
	if (logical_block < 512 || logical_block % 512 || logical_block > 65536)
		return -EINVAL;
	b->fd = fd;
	b->evl = evl;
	b->lim.capacity = size / logical_block * (logical_block / 512);
	b->lim.ro = o->ro;
	b->lim.discard = b->lim.write_zeroes = !o->ro;
	b->lim.logical_block = logical_block;
	/* NUL-padded, not NUL-terminated when exactly 20 bytes (GET_ID) */
	if (o->serial)
		memcpy(b->serial, o->serial, strnlen(o->serial, sizeof(b->serial)));
	build_config(b);
	b->dev.name = name;
	b->dev.device_id = VIRTIO_ID_BLOCK;
	b->dev.features = (1ULL << VIRTIO_BLK_F_SEG_MAX) |
			  (1ULL << VIRTIO_BLK_F_BLK_SIZE) |
			  (1ULL << VIRTIO_BLK_F_FLUSH);
	if (o->ro)
		b->dev.features |= 1ULL << VIRTIO_BLK_F_RO;
	else
		b->dev.features |= (1ULL << VIRTIO_BLK_F_DISCARD) |
				   (1ULL << VIRTIO_BLK_F_WRITE_ZEROES);
	b->dev.config_size = VIRTIO_BLK_CONFIG_SIZE;
	b->dev.nr_queues = 1;
	b->dev.queue_max = BLK_QUEUE_MAX;
	b->dev.ops = &blk_ops;
	b->dev.priv = b;
	r = blk_io_create(&b->io, o->io_kind, BLK_QUEUE_MAX, o->direct);
	if (r < 0)
		return r;
	r = virtio_dev_init(&b->dev, gm);
	if (r < 0)
		goto err;
	if (evl) {
		r = evl_add(evl, blk_io_event_fd(b->io), EPOLLIN, on_completion, b);
		if (r < 0) {
			virtio_dev_destroy(&b->dev);
			goto err;
		}
	}
	return 0;
err:
	blk_io_destroy(b->io);
	b->io = NULL;
	return r;
}

void virtio_blk_destroy(struct virtio_blk *b)
{
	struct blk_req *r;

	if (!b->io)
		return;
	/* the event loop may already be gone: its fd is simply dropped */
	if (b->evl && b->evl->epfd >= 0)
		evl_del(b->evl, blk_io_event_fd(b->io));
	blk_reset(&b->dev);
	blk_io_destroy(b->io);
	b->io = NULL;
	while ((r = b->free_reqs)) {
		b->free_reqs = r->next_free;
		free(r);
	}
	virtio_dev_destroy(&b->dev);
}
