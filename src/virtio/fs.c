/*
 * virtio-fs device over vhost-user (see virtio_fs.h): config space, the
 * back end programmed at DRIVER_OK and stopped at reset, call eventfds
 * turned into interrupts, and a watch on the socket for a back end that
 * goes away.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nkvm/evloop.h"
#include "nkvm/le.h"
#include "nkvm/log.h"
#include "nkvm/virtio_fs.h"

/* Transport features the guest may use when the back end offers them
 * too; virtio-fs's own (notification queue, bit 0) nkvm does not offer. */
#define FS_TRANSPORT_FEATURES                                               \
	((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_INDIRECT_DESC) | \
	 (1ULL << VIRTIO_F_EVENT_IDX))

/* The back end is gone: say so once (the caller holds the device lock). */
static void fs_dead(struct virtio_fs *f, const char *why)
{
	vhu_close(&f->vhu);
	if (f->dead)
		return;
	f->dead = true;
	if (f->on_dead)
		f->on_dead(f->dead_opaque, f, why);
	else
		log_err("%s: %s", f->dev.name, why);
}

/* After a failed exchange: a lost connection is the back end's death,
 * anything else (a refused request) only this device's failure. */
static void fs_check_conn(struct virtio_fs *f)
{
	if (!vhu_connected(&f->vhu))
		fs_dead(f, f->vhu.error[0] ? f->vhu.error : "connection lost");
}

static void fs_config_read(struct virtio_dev *d, uint32_t off, void *buf,
			   unsigned len)
{
	struct virtio_fs *f = d->priv;

	memcpy(buf, f->config + off, len);
}

static void drain(int fd)
{
	uint64_t n;

	if (fd >= 0 && read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_debug("eventfd read: %s", strerror(errno));
}

/* Stop every ring the back end serves; quiet about a dead back end (the
 * reset must complete whatever happened). */
static void fs_stop_rings(struct virtio_fs *f)
{
	unsigned q;

	for (q = 0; q < VIRTIO_FS_QUEUES; q++) {
		uint16_t base;

		if (!f->started[q])
			continue;
		f->started[q] = false;
		if (vhu_vring_stop(&f->vhu, q, &base) == 0)
			log_debug("%s: ring %u stopped at avail index %u", f->dev.name, q, base);
		drain(f->call[q].fd);
	}
	fs_check_conn(f);
}

/* DRIVER_OK (vCPU thread): hand the negotiated features and every ready
 * ring to the back end, starting from avail index 0 (a fresh device). */
static int fs_start(struct virtio_dev *d)
{
	struct virtio_fs *f = d->priv;
	unsigned q;
	int r;

	if (!vhu_connected(&f->vhu))
		return -ENOTCONN;
	r = vhu_set_features(&f->vhu, d->guest_features);
	for (q = 0; q < d->nr_queues && r == 0; q++) {
		const struct virtq *vq = &d->vq[q];
		struct vhu_vring ring = {
			.index = q,
			.num = vq->size,
			.base = 0,
			.desc = (uint64_t)(uintptr_t)vq->desc,
			.avail = (uint64_t)(uintptr_t)vq->avail,
			.used = (uint64_t)(uintptr_t)vq->used,
			.kick_fd = d->kick_fd ? d->kick_fd(d, q) : -1,
			.call_fd = f->call[q].fd,
		};

		if (!vq->ready)
			continue;	/* the driver does not use it */
		f->started[q] = true;
		r = vhu_vring_start(&f->vhu, &ring);
	}
	if (r < 0 && vhu_connected(&f->vhu) && log_ratelimit_ok(&f->rl))
		log_warn("%s: the back end refused the device setup: %s", d->name,
			 f->vhu.error[0] ? f->vhu.error : strerror(-r));
	if (r < 0)
		fs_stop_rings(f);	/* reports a lost connection */
	return r;
}

static void fs_reset(struct virtio_dev *d)
{
	fs_stop_rings(d->priv);
}

static const struct virtio_dev_ops fs_ops = {
	.config_read = fs_config_read,
	.start = fs_start,
	.reset = fs_reset,
};

int virtio_fs_init(struct virtio_fs *f, const char *name, const char *tag,
		   int sock, int timeout_ms, char *err, size_t errlen)
{
	size_t tlen = strlen(tag);
	unsigned q;
	int r;

	memset(f, 0, sizeof(*f));
	f->rl.burst = 5;	/* the guest can repeat DRIVER_OK */
	f->watch_fd = -1;
	for (q = 0; q < VIRTIO_FS_QUEUES; q++)
		f->call[q].fd = -1;
	if (tlen == 0 || tlen > VIRTIO_FS_TAG_MAX) {
		close(sock);
		f->vhu.fd = -1;
		errbuf_printf(err, errlen, "tag '%s': 1 to %d characters", tag,
			      VIRTIO_FS_TAG_MAX);
		return -EINVAL;
	}
	r = vhu_init(&f->vhu, sock, name, timeout_ms);
	if (r == 0)
		r = vhu_handshake(&f->vhu);
	if (r < 0) {
		errbuf_printf(err, errlen, "vhost-user back end: %s",
			      f->vhu.error[0] ? f->vhu.error : strerror(-r));
		goto fail;
	}
	if (!(f->vhu.features & (1ULL << VIRTIO_F_VERSION_1))) {
		errbuf_printf(err, errlen, "the vhost-user back end does not offer "
			      "VIRTIO_F_VERSION_1 (features 0x%" PRIx64 ")", f->vhu.features);
		r = -EPROTO;
		goto fail;
	}
	memcpy(f->config, tag, tlen);	/* not NUL-terminated at 36 */
	memcpy(f->tag, tag, tlen);
	put_le32(f->config + VIRTIO_FS_TAG_MAX, VIRTIO_FS_QUEUES - 1);
	f->dev.name = name;
	f->dev.device_id = VIRTIO_ID_FS;
	f->dev.config_size = VIRTIO_FS_CONFIG_SIZE;
	f->dev.nr_queues = VIRTIO_FS_QUEUES;
	f->dev.queue_max = VIRTIO_FS_QUEUE_MAX;
	f->dev.ops = &fs_ops;
	f->dev.priv = f;
	f->dev.external_queues = true;
	r = virtio_dev_init(&f->dev, NULL);
	if (r < 0) {
		errbuf_printf(err, errlen, "%s", strerror(-r));
		goto fail;
	}
	f->dev_ready = true;
	/* what both sides can do, nothing the transport cannot */
	f->dev.host_features &= f->vhu.features & FS_TRANSPORT_FEATURES;
	return 0;
fail:
	vhu_close(&f->vhu);
	return r;
}

/* A call eventfd was signalled: the back end put buffers in a used ring
 * and wants the guest interrupted (it already applied EVENT_IDX). */
static void on_call(void *opaque, uint32_t events)
{
	struct virtio_fs_call *c = opaque;
	struct virtio_fs *f = c->fs;

	drain(c->fd);
	pthread_mutex_lock(&f->dev.lock);
	if ((f->dev.status & VIRTIO_STATUS_DRIVER_OK) && f->dev.raise) {
		f->calls++;
		f->dev.isr |= VIRTIO_INT_VRING;
		f->dev.raise(&f->dev);
	}
	pthread_mutex_unlock(&f->dev.lock);
}

/* The socket is readable or hung up while no exchange is running (they
 * hold the lock): the back end closed it, or sent something nkvm never
 * asked for; either way the connection is over. */
static void on_socket(void *opaque, uint32_t events)
{
	struct virtio_fs *f = opaque;
	char b;
	ssize_t n;

	pthread_mutex_lock(&f->dev.lock);
	n = recv(f->watch_fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && errno == EAGAIN && vhu_connected(&f->vhu)) {
		pthread_mutex_unlock(&f->dev.lock);
		return;	/* woken by a reply an exchange has taken since */
	}
	evl_del(f->evl, f->watch_fd);
	if (n > 0)
		snprintf(f->vhu.error, sizeof(f->vhu.error),
			 "the vhost-user back end sent a message nkvm did not ask for");
	else
		snprintf(f->vhu.error, sizeof(f->vhu.error),
			 "the vhost-user back end closed its connection");
	fs_dead(f, f->vhu.error);
	pthread_mutex_unlock(&f->dev.lock);
}

int virtio_fs_connect(struct virtio_fs *f, const struct gm *gm,
		      struct evl *evl, char *err, size_t errlen)
{
	unsigned q;
	int r;

	f->dev.gm = gm;
	f->evl = evl;
	r = vhu_set_mem_table(&f->vhu, gm);
	if (r < 0) {
		errbuf_printf(err, errlen, "sending guest memory to the back end: %s",
			      f->vhu.error[0] ? f->vhu.error : strerror(-r));
		return r;
	}
	for (q = 0; q < VIRTIO_FS_QUEUES; q++) {
		f->call[q].fs = f;
		f->call[q].fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (f->call[q].fd < 0)
			goto sys_err;
		r = evl_add(evl, f->call[q].fd, EPOLLIN, on_call, &f->call[q]);
		if (r < 0)
			goto evl_err;
	}
	f->watch_fd = fcntl(f->vhu.fd, F_DUPFD_CLOEXEC, 0);
	if (f->watch_fd < 0)
		goto sys_err;
	r = evl_add(evl, f->watch_fd, EPOLLIN | EPOLLRDHUP, on_socket, f);
	if (r < 0)
		goto evl_err;
	return 0;
sys_err:
	r = -errno;
evl_err:
	errbuf_printf(err, errlen, "event loop: %s", strerror(-r));
	return r;
}

void virtio_fs_destroy(struct virtio_fs *f)
{
	unsigned q;

	if (f->dev_ready)
		virtio_dev_destroy(&f->dev);
	f->dev_ready = false;
	vhu_close(&f->vhu);
	/* the event loop's entries go too (evl_del only clears them once
	 * the loop itself is destroyed), so a reused fd number is free */
	for (q = 0; q < VIRTIO_FS_QUEUES; q++) {
		if (f->call[q].fd >= 0) {
			if (f->evl)
				evl_del(f->evl, f->call[q].fd);
			close(f->call[q].fd);
		}
		f->call[q].fd = -1;
	}
	if (f->watch_fd >= 0) {
		if (f->evl)
			evl_del(f->evl, f->watch_fd);
		close(f->watch_fd);
	}
	f->watch_fd = -1;
	f->evl = NULL;
}
