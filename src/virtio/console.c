/* virtio-console, single port: receiveq 0 and transmitq 1. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "nkvm/log.h"
#include "nkvm/virtio_console.h"

/* struct virtio_console_config: cols, rows, max_nr_ports, emerg_wr. No
 * feature that uses it is offered; it reads as zeroes. */
#define CONSOLE_CONFIG_SIZE 12

static void con_config_read(struct virtio_dev *d, uint32_t off, void *buf,
			    unsigned len)
{
	memset(buf, 0, len);
}

/* Write every readable byte of the chain to the output fd. Output errors
 * (a closed terminal) drop the data: the guest must not stall on them. */
static void con_write_chain(struct virtio_console *c, struct vq_chain *ch)
{
	struct iovec *iov = vq_chain_out(ch);
	unsigned i;

	for (i = 0; i < ch->nr_out; i++) {
		const uint8_t *p = iov[i].iov_base;
		size_t left = iov[i].iov_len;

		while (left) {
			ssize_t n = write(c->out_fd, p, left);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				c->tx_errors++;
				return;
			}
			p += n;
			left -= (size_t)n;
			c->tx_bytes += (size_t)n;
		}
	}
}

static uint32_t con_serve_tx(void *opaque, struct vq_chain *c)
{
	con_write_chain(opaque, c);
	return 0;
}

static void con_notify(struct virtio_dev *d, unsigned q)
{
	struct virtio_console *c = d->priv;
	uint64_t one = 1;

	if (q == VIRTIO_CONSOLE_TXQ) {
		virtio_serve(d, q, con_serve_tx, c);
	} else if (c->room_efd >= 0 &&
		   write(c->room_efd, &one, sizeof(one)) < 0) {
		/* the counter cannot overflow in practice; nothing to do */
	}
}

size_t virtio_console_input(void *opaque, const uint8_t *buf, size_t len)
{
	struct virtio_console *c = opaque;
	struct virtio_dev *d = &c->dev;
	struct vq_chain chain;
	size_t done = 0;
	unsigned budget;
	uint16_t old;

	pthread_mutex_lock(&d->lock);
	old = d->vq[VIRTIO_CONSOLE_RXQ].used_idx;
	/* bounded even if the guest posts empty buffers as fast as we take them */
	budget = d->vq[VIRTIO_CONSOLE_RXQ].size;
	while (done < len && budget-- &&
	       virtio_pop(d, VIRTIO_CONSOLE_RXQ, &chain) == 0) {
		size_t n = vq_iov_copy_to(&chain, 0, buf + done, len - done);

		done += n;
		if (vq_push(&d->vq[VIRTIO_CONSOLE_RXQ], chain.head, (uint32_t)n) < 0)
			break;
	}
	c->rx_bytes += done;
	virtio_notify_used(d, VIRTIO_CONSOLE_RXQ, old);
	pthread_mutex_unlock(&d->lock);
	return done;
}

static const struct virtio_dev_ops console_ops = {
	.config_read = con_config_read,
	.notify = con_notify,
};

int virtio_console_init(struct virtio_console *c, const struct gm *gm,
			const char *name, int out_fd, int room_efd)
{
	memset(c, 0, sizeof(*c));
	c->out_fd = out_fd;
	c->room_efd = room_efd;
	c->dev.name = name;
	c->dev.device_id = VIRTIO_ID_CONSOLE;
	c->dev.nr_queues = 2;
	c->dev.queue_max = 256;
	c->dev.config_size = CONSOLE_CONFIG_SIZE;
	c->dev.ops = &console_ops;
	c->dev.priv = c;
	return virtio_dev_init(&c->dev, gm);
}
