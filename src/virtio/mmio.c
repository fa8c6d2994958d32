/*
 * virtio-mmio version 2 register file and status state machine.
 * Every register access runs with the device lock held.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "nkvm/le.h"
#include "nkvm/log.h"
#include "nkvm/virtio_mmio.h"

#define MMIO_LOG_BURST 5

static void raise_irq(struct virtio_dev *d)
{
	struct virtio_mmio *m = d->transport;
	uint64_t one = 1;

	m->irqs++;
	if (m->irq_fd >= 0 && write(m->irq_fd, &one, sizeof(one)) < 0 &&
	    log_ratelimit_ok(&m->rl))
		log_warn("%s: interrupt eventfd: %s", d->name, strerror(errno));
}

static void notify(struct virtio_mmio *m, uint32_t q);

static void rekick(struct virtio_dev *d, unsigned q)
{
	notify(d->transport, q);
}

static int kick_fd(struct virtio_dev *d, unsigned q)
{
	struct virtio_mmio *m = d->transport;

	return q < d->nr_queues ? m->kick_fd[q] : -1;
}

int virtio_mmio_init(struct virtio_mmio *m, struct virtio_dev *d,
		     uint64_t base, int irq)
{
	unsigned q;

	memset(m, 0, sizeof(*m));
	m->dev = d;
	m->base = base;
	m->irq = irq;
	m->rl.burst = MMIO_LOG_BURST;
	m->irq_fd = -1;
	for (q = 0; q < VIRTIO_MAX_QUEUES; q++)
		m->kick_fd[q] = -1;
	for (q = 0; q < d->nr_queues; q++) {
		m->kick_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (m->kick_fd[q] < 0)
			goto err;
	}
	m->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (m->irq_fd < 0)
		goto err;
	d->transport = m;
	d->raise = raise_irq;
	d->rekick = rekick;
	d->kick_fd = kick_fd;
	return 0;
err:
	virtio_mmio_destroy(m);
	return -errno;
}

/* Full device reset: the model first (it drains in-flight I/O), then the
 * generic state and the transport's registers. */
static void device_reset(struct virtio_mmio *m)
{
	struct virtio_dev *d = m->dev;

	if (d->ops->reset)
		d->ops->reset(d);
	virtio_dev_reset(d);
	m->dev_features_sel = m->drv_features_sel = m->queue_sel = 0;
	memset(m->qcfg, 0, sizeof(m->qcfg));
}

void virtio_mmio_destroy(struct virtio_mmio *m)
{
	int saved = errno;
	unsigned q;

	if (m->dev) {
		pthread_mutex_lock(&m->dev->lock);
		device_reset(m);
		m->dev->raise = NULL;
		pthread_mutex_unlock(&m->dev->lock);
	}
	for (q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		if (m->kick_fd[q] >= 0)
			close(m->kick_fd[q]);
		m->kick_fd[q] = -1;
	}
	if (m->irq_fd >= 0)
		close(m->irq_fd);
	m->irq_fd = -1;
	errno = saved;
}

static __attribute__((format(printf, 2, 3)))
void guest_error(struct virtio_mmio *m, const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	if (!log_ratelimit_ok(&m->rl))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warn("%s: %s", m->dev->name, msg);
}

/* FEATURES_OK: the driver may only accept what was offered, and must
 * accept VERSION_1 (nkvm has no legacy interface). */
static bool features_ok(struct virtio_mmio *m)
{
	struct virtio_dev *d = m->dev;

	if (d->guest_features & ~d->host_features) {
		guest_error(m, "driver accepted features 0x%" PRIx64 " that were not offered",
			    d->guest_features & ~d->host_features);
		return false;
	}
	if (!virtio_has(d, VIRTIO_F_VERSION_1)) {
		guest_error(m, "driver did not accept VIRTIO_F_VERSION_1 (legacy drivers are not supported)");
		return false;
	}
	return true;
}

static void write_status(struct virtio_mmio *m, uint32_t v)
{
	struct virtio_dev *d = m->dev;
	uint8_t old = d->status, set;

	if (v == 0) {
		device_reset(m);
		return;
	}
	if (v > 0xff || (old & ~v & ~VIRTIO_STATUS_NEEDS_RESET)) {
		/* clearing bits other than by reset is not allowed */
		guest_error(m, "status 0x%x after 0x%x ignored", v, old);
		return;
	}
	set = (uint8_t)v & ~old;
	if ((set & VIRTIO_STATUS_FEATURES_OK) && !features_ok(m))
		set &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
	if ((set & VIRTIO_STATUS_DRIVER_OK) &&
	    !((old | set) & VIRTIO_STATUS_FEATURES_OK)) {
		guest_error(m, "DRIVER_OK without FEATURES_OK");
		set &= (uint8_t)~VIRTIO_STATUS_DRIVER_OK;
	}
	/* NEEDS_RESET is the device's to set, never the driver's */
	d->status |= set & (uint8_t)~VIRTIO_STATUS_NEEDS_RESET;
	if ((set & VIRTIO_STATUS_DRIVER_OK) && d->ops->start &&
	    d->ops->start(d) < 0)
		virtio_fail(d, "device could not start");
}

static void write_queue_ready(struct virtio_mmio *m, uint32_t v)
{
	struct virtio_dev *d = m->dev;
	unsigned q = m->queue_sel;
	int r;

	if (q >= d->nr_queues)
		return;
	if (!v) {
		vq_reset(&d->vq[q]);
		return;
	}
	if (d->vq[q].ready)
		return;
	if (!(d->status & VIRTIO_STATUS_FEATURES_OK)) {
		guest_error(m, "queue %u made ready before FEATURES_OK", q);
		return;
	}
	if (m->qcfg[q].num > d->queue_max) {
		guest_error(m, "queue %u: size %u above the maximum %u", q,
			    m->qcfg[q].num, d->queue_max);
		return;
	}
	r = vq_setup(&d->vq[q], d->gm, m->qcfg[q].num, m->qcfg[q].desc,
		     m->qcfg[q].avail, m->qcfg[q].used,
		     virtio_has(d, VIRTIO_F_INDIRECT_DESC),
		     virtio_has(d, VIRTIO_F_EVENT_IDX));
	if (r < 0)
		guest_error(m, "queue %u: size %u or ring addresses (desc 0x%" PRIx64
			    ", avail 0x%" PRIx64 ", used 0x%" PRIx64 ") invalid",
			    q, m->qcfg[q].num, m->qcfg[q].desc, m->qcfg[q].avail,
			    m->qcfg[q].used);
}

static void set_half(uint64_t *v, bool high, uint32_t val)
{
	if (high)
		*v = (*v & 0xffffffffULL) | (uint64_t)val << 32;
	else
		*v = (*v & ~0xffffffffULL) | val;
}

/* Queue address and size registers: writable only while the selected
 * queue is not ready (section 4.2.2.3). */
static void write_queue_reg(struct virtio_mmio *m, uint64_t off, uint32_t v)
{
	struct virtio_dev *d = m->dev;
	unsigned q = m->queue_sel;
	bool high = off & 4;

	if (q >= d->nr_queues)
		return;
	if (d->vq[q].ready) {
		guest_error(m, "queue %u reconfigured while ready", q);
		return;
	}
	switch (off & ~4ULL) {
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
		set_half(&m->qcfg[q].desc, high, v);
		break;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
		set_half(&m->qcfg[q].avail, high, v);
		break;
	case VIRTIO_MMIO_QUEUE_USED_LOW:
		set_half(&m->qcfg[q].used, high, v);
		break;
	}
}

static void notify(struct virtio_mmio *m, uint32_t q)
{
	uint64_t one = 1;

	if (q >= m->dev->nr_queues) {
		guest_error(m, "notify for queue %u, which does not exist", q);
		return;
	}
	if (write(m->kick_fd[q], &one, sizeof(one)) < 0 &&
	    log_ratelimit_ok(&m->rl))
		log_warn("%s: kick eventfd: %s", m->dev->name, strerror(errno));
}

static void reg_write(struct virtio_mmio *m, uint64_t off, uint32_t v)
{
	struct virtio_dev *d = m->dev;

	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		m->dev_features_sel = v;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		/* features are fixed once FEATURES_OK was accepted */
		if (d->status & VIRTIO_STATUS_FEATURES_OK)
			guest_error(m, "features written after FEATURES_OK");
		else if (m->drv_features_sel < 2)
			set_half(&d->guest_features, m->drv_features_sel == 1, v);
		else if (v)
			guest_error(m, "driver features word %u is not 0", m->drv_features_sel);
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		m->drv_features_sel = v;
		break;
	case VIRTIO_MMIO_QUEUE_SEL:
		m->queue_sel = v;
		break;
	case VIRTIO_MMIO_QUEUE_NUM:
		if (m->queue_sel < d->nr_queues && !d->vq[m->queue_sel].ready)
			m->qcfg[m->queue_sel].num = (uint16_t)(v > 0xffff ? 0 : v);
		break;
	case VIRTIO_MMIO_QUEUE_READY:
		write_queue_ready(m, v);
		break;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		notify(m, v);
		break;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		d->isr &= ~v;
		break;
	case VIRTIO_MMIO_STATUS:
		write_status(m, v);
		break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW: case VIRTIO_MMIO_QUEUE_DESC_HIGH:
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW: case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
	case VIRTIO_MMIO_QUEUE_USED_LOW: case VIRTIO_MMIO_QUEUE_USED_HIGH:
		write_queue_reg(m, off, v);
		break;
	case VIRTIO_MMIO_SHM_SEL:
		break;
	default:
		guest_error(m, "write 0x%x to read-only or unknown register 0x%03" PRIx64, v, off);
	}
}

static uint32_t queue_reg(struct virtio_mmio *m, uint64_t off)
{
	unsigned q = m->queue_sel;

	if (q >= m->dev->nr_queues)
		return 0;
	switch (off) {
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		return m->dev->queue_max;
	case VIRTIO_MMIO_QUEUE_READY:
		return m->dev->vq[q].ready;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
		return (uint32_t)m->qcfg[q].desc;
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		return m->qcfg[q].desc >> 32;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
		return (uint32_t)m->qcfg[q].avail;
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		return m->qcfg[q].avail >> 32;
	case VIRTIO_MMIO_QUEUE_USED_LOW:
		return (uint32_t)m->qcfg[q].used;
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		return m->qcfg[q].used >> 32;
	}
	return 0;
}

static uint32_t reg_read(struct virtio_mmio *m, uint64_t off)
{
	struct virtio_dev *d = m->dev;

	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return VIRTIO_MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION:
		return 2;
	case VIRTIO_MMIO_DEVICE_ID:
		return d->device_id;
	case VIRTIO_MMIO_VENDOR_ID:
		return VIRTIO_VENDOR_ID;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		return m->dev_features_sel < 2 ?
		       (uint32_t)(d->host_features >> (32 * m->dev_features_sel)) : 0;
	case VIRTIO_MMIO_QUEUE_NUM_MAX: case VIRTIO_MMIO_QUEUE_READY:
	case VIRTIO_MMIO_QUEUE_DESC_LOW: case VIRTIO_MMIO_QUEUE_DESC_HIGH:
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW: case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
	case VIRTIO_MMIO_QUEUE_USED_LOW: case VIRTIO_MMIO_QUEUE_USED_HIGH:
		return queue_reg(m, off);
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return d->isr;
	case VIRTIO_MMIO_STATUS:
		return d->status;
	case VIRTIO_MMIO_SHM_LEN_LOW: case VIRTIO_MMIO_SHM_LEN_HIGH:
		return 0xffffffff;	/* no shared memory regions */
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return d->config_generation;
	}
	guest_error(m, "read of write-only or unknown register 0x%03" PRIx64, off);
	return 0;
}

static void config_access(struct virtio_mmio *m, uint64_t off, uint8_t *data,
			  unsigned len, bool is_write)
{
	struct virtio_dev *d = m->dev;
	uint64_t coff = off - VIRTIO_MMIO_CONFIG;

	if (coff >= d->config_size || len > d->config_size - coff) {
		guest_error(m, "config access at 0x%" PRIx64 " (%u bytes) outside its %u bytes",
			    coff, len, d->config_size);
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	if (!is_write)
		d->ops->config_read(d, (uint32_t)coff, data, len);
	else if (d->ops->config_write)
		d->ops->config_write(d, (uint32_t)coff, data, len);
}

void virtio_mmio_access(void *opaque, uint64_t off, uint8_t *data,
			unsigned len, bool is_write)
{
	struct virtio_mmio *m = opaque;

	pthread_mutex_lock(&m->dev->lock);
	if (off >= VIRTIO_MMIO_CONFIG) {
		config_access(m, off, data, len, is_write);
	} else if (len != 4 || off % 4) {
		/* registers are 32-bit only (section 4.2.2.2) */
		guest_error(m, "%u-byte access to register 0x%03" PRIx64, len, off);
		if (!is_write)
			memset(data, 0, len);
	} else if (is_write) {
		reg_write(m, off, get_le32(data));
	} else {
		put_le32(data, reg_read(m, off));
	}
	pthread_mutex_unlock(&m->dev->lock);
}

void virtio_mmio_kick(struct virtio_mmio *m, unsigned q)
{
	struct virtio_dev *d = m->dev;
	uint64_t n;

	if (q >= d->nr_queues || read(m->kick_fd[q], &n, sizeof(n)) != sizeof(n))
		return;
	pthread_mutex_lock(&d->lock);
	m->kicks++;
	if (virtio_queue_live(d, q) && d->ops->notify)
		d->ops->notify(d, q);
	pthread_mutex_unlock(&d->lock);
}

int virtio_mmio_cmdline(const struct virtio_mmio *m, char *buf, size_t len)
{
	return snprintf(buf, len, "virtio_mmio.device=4K@0x%" PRIx64 ":%d",
			m->base, m->irq);
}
