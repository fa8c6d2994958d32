/* Transport-independent virtio device helpers: interrupts, failure, pops. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "nkvm/log.h"
#include "nkvm/virtio.h"

/* Each guest-triggered failure message: a few, then 1 in 1000. */
#define VIRTIO_LOG_BURST 5

int virtio_dev_init(struct virtio_dev *d, const struct gm *gm)
{
	unsigned q;

	if (!d->ops || d->nr_queues == 0 || d->nr_queues > VIRTIO_MAX_QUEUES ||
	    d->queue_max == 0 || d->queue_max > VIRTQ_MAX_SIZE ||
	    (d->queue_max & (d->queue_max - 1)))
		return -EINVAL;
	if (pthread_mutex_init(&d->lock, NULL) != 0)
		return -ENOMEM;
	d->gm = gm;
	d->host_features = d->features | (1ULL << VIRTIO_F_VERSION_1) |
			   (1ULL << VIRTIO_F_INDIRECT_DESC) |
			   (1ULL << VIRTIO_F_EVENT_IDX);
	for (q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		snprintf(d->vq_names[q], sizeof(d->vq_names[q]), "%s.q%u",
			 d->name ? d->name : "virtio", q);
		vq_init(&d->vq[q], d->vq_names[q]);
	}
	virtio_dev_reset(d);
	return 0;
}

void virtio_dev_destroy(struct virtio_dev *d)
{
	pthread_mutex_destroy(&d->lock);
}

void virtio_dev_reset(struct virtio_dev *d)
{
	unsigned q;

	d->status = 0;
	d->guest_features = 0;
	d->isr = 0;
	for (q = 0; q < VIRTIO_MAX_QUEUES; q++)
		vq_reset(&d->vq[q]);
}

bool virtio_queue_live(const struct virtio_dev *d, unsigned q)
{
	return q < d->nr_queues && (d->status & VIRTIO_STATUS_DRIVER_OK) &&
	       !(d->status & VIRTIO_STATUS_NEEDS_RESET) && d->vq[q].ready &&
	       !d->vq[q].broken;
}

void virtio_notify_used(struct virtio_dev *d, unsigned q, uint16_t old_used)
{
	/* nothing pushed (an empty or malformed ring): no interrupt, which
	 * vq_should_notify would grant without EVENT_IDX */
	if (q >= d->nr_queues || d->vq[q].used_idx == old_used ||
	    !vq_should_notify(&d->vq[q], old_used))
		return;
	d->isr |= VIRTIO_INT_VRING;
	if (d->raise)
		d->raise(d);
}

void virtio_fail(struct virtio_dev *d, const char *why)
{
	static struct log_ratelimit rl = { .burst = VIRTIO_LOG_BURST };

	d->violations++;
	if (d->status & VIRTIO_STATUS_NEEDS_RESET)
		return;
	if (log_ratelimit_ok(&rl))
		log_warn("%s: %s: device needs reset", d->name, why);
	d->status |= VIRTIO_STATUS_NEEDS_RESET;
	virtio_config_changed(d);
}

void virtio_config_changed(struct virtio_dev *d)
{
	/* only a driver that finished setup listens for config changes */
	if (d->status & VIRTIO_STATUS_DRIVER_OK) {
		d->config_generation++;
		d->isr |= VIRTIO_INT_CONFIG;
		if (d->raise)
			d->raise(d);
	}
}

int virtio_pop(struct virtio_dev *d, unsigned q, struct vq_chain *chain)
{
	struct virtq *vq = &d->vq[q];
	int r;

	if (!virtio_queue_live(d, q))
		return -EAGAIN;
	r = vq_pop(vq, chain);
	if (r == -EAGAIN && vq->event_idx) {
		vq_set_avail_event(vq);
		r = vq_pop(vq, chain);
	}
	if (r == -EIO)
		virtio_fail(d, "malformed virtqueue");
	return r;
}

void virtio_serve(struct virtio_dev *d, unsigned q,
		  uint32_t (*fn)(void *opaque, struct vq_chain *c), void *opaque)
{
	struct vq_chain chain;
	uint16_t old = d->vq[q].used_idx;
	unsigned budget = d->vq[q].size;

	while (virtio_pop(d, q, &chain) == 0) {
		if (vq_push(&d->vq[q], chain.head, fn(opaque, &chain)) < 0)
			break;
		if (!--budget) {
			d->rekick(d, q);
			break;
		}
	}
	virtio_notify_used(d, q, old);
}
