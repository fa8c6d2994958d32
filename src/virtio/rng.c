/* virtio-rng: one request queue of device-writable buffers. */
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "nkvm/virtio_rng.h"

/* Bytes handed out per request at most: the driver asks again for more,
 * and one request never keeps the event loop busy for long. */
#define RNG_MAX_PER_REQ 65536

static void rng_config_read(struct virtio_dev *d, uint32_t off, void *buf,
			    unsigned len)
{
	memset(buf, 0, len);	/* no configuration space */
}

/* Fill up to RNG_MAX_PER_REQ bytes of the chain's writable buffers. */
static uint32_t rng_fill(struct vq_chain *c)
{
	struct iovec *iov = vq_chain_in(c);
	uint32_t done = 0;
	unsigned i;

	for (i = 0; i < c->nr_in && done < RNG_MAX_PER_REQ; i++) {
		size_t want = iov[i].iov_len, off = 0;

		if (want > RNG_MAX_PER_REQ - done)
			want = RNG_MAX_PER_REQ - done;
		while (off < want) {
			ssize_t n = getrandom((uint8_t *)iov[i].iov_base + off,
					      want - off, 0);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return done;
			off += (size_t)n;
			done += (uint32_t)n;
		}
	}
	return done;
}

static uint32_t rng_serve(void *opaque, struct vq_chain *c)
{
	struct virtio_rng *rng = opaque;
	uint32_t n = rng_fill(c);

	rng->bytes += n;
	return n;
}

static void rng_notify(struct virtio_dev *d, unsigned q)
{
	virtio_serve(d, q, rng_serve, d->priv);
}

static const struct virtio_dev_ops rng_ops = {
	.config_read = rng_config_read,
	.notify = rng_notify,
};

int virtio_rng_init(struct virtio_rng *rng, const struct gm *gm, const char *name)
{
	memset(rng, 0, sizeof(*rng));
	rng->dev.name = name;
	rng->dev.device_id = VIRTIO_ID_RNG;
	rng->dev.nr_queues = 1;
	rng->dev.queue_max = 256;
	rng->dev.ops = &rng_ops;
	rng->dev.priv = rng;
	return virtio_dev_init(&rng->dev, gm);
}
