/*
 * virtio-mmio transport, version 2 (virtio 1.2 section 4.2): one 4 KiB
 * register window per device, announced to Linux on the kernel command line
 * (virtio_mmio.device=4K@BASE:IRQ), one interrupt line each.
 *
 * Kicks: a QueueNotify write signals the queue's eventfd (kick_fd). The VMM
 * registers the same eventfds with KVM_IOEVENTFD, so normally KVM signals
 * them without a userspace exit and the register handler only sees what
 * KVM did not match. The event loop polls kick_fd and calls
 * virtio_mmio_kick(). Interrupts: InterruptStatus is set and irq_fd (a
 * KVM_IRQFD eventfd for the device's GSI) is signalled.
 *
 * KVM-free: unit tests and fuzzers drive it through virtio_mmio_access().
 */
#ifndef NKVM_VIRTIO_MMIO_H
#define NKVM_VIRTIO_MMIO_H

#include <stdbool.h>
#include <stdint.h>

#include "nkvm/log.h"
#include "nkvm/virtio.h"

#define VIRTIO_MMIO_SIZE   0x1000
#define VIRTIO_MMIO_MAGIC  0x74726976	/* "virt" */

/* Register offsets. */
#define VIRTIO_MMIO_MAGIC_VALUE         0x000
#define VIRTIO_MMIO_VERSION             0x004
#define VIRTIO_MMIO_DEVICE_ID           0x008
#define VIRTIO_MMIO_VENDOR_ID           0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES     0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES     0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL           0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX       0x034
#define VIRTIO_MMIO_QUEUE_NUM           0x038
#define VIRTIO_MMIO_QUEUE_READY         0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY        0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS    0x060
#define VIRTIO_MMIO_INTERRUPT_ACK       0x064
#define VIRTIO_MMIO_STATUS              0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW      0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH     0x084
#define VIRTIO_MMIO_QUEUE_AVAIL_LOW     0x090
#define VIRTIO_MMIO_QUEUE_AVAIL_HIGH    0x094
#define VIRTIO_MMIO_QUEUE_USED_LOW      0x0a0
#define VIRTIO_MMIO_QUEUE_USED_HIGH     0x0a4
#define VIRTIO_MMIO_SHM_SEL             0x0ac
#define VIRTIO_MMIO_SHM_LEN_LOW         0x0b0
#define VIRTIO_MMIO_SHM_LEN_HIGH        0x0b4
#define VIRTIO_MMIO_SHM_BASE_LOW        0x0b8
#define VIRTIO_MMIO_SHM_BASE_HIGH       0x0bc
#define VIRTIO_MMIO_CONFIG_GENERATION   0x0fc
#define VIRTIO_MMIO_CONFIG              0x100

struct virtio_mmio {
	struct virtio_dev *dev;
	uint64_t base;                  /* guest physical address */
	int irq;                        /* GSI */
	uint32_t dev_features_sel, drv_features_sel, queue_sel;
	struct {
		uint16_t num;
		uint64_t desc, avail, used;
	} qcfg[VIRTIO_MAX_QUEUES];      /* written by the driver before ready */
	int kick_fd[VIRTIO_MAX_QUEUES]; /* eventfds, one per queue */
	int irq_fd;                     /* eventfd for KVM_IRQFD */
	unsigned long kicks, irqs;      /* statistics */
	struct log_ratelimit rl;
};

/*
 * Set up the transport for an initialised device at `base` with GSI `irq`:
 * creates the kick and interrupt eventfds. 0 or -errno.
 */
int virtio_mmio_init(struct virtio_mmio *m, struct virtio_dev *d,
		     uint64_t base, int irq) __attribute__((warn_unused_result));

/* Reset the device and close the eventfds. */
void virtio_mmio_destroy(struct virtio_mmio *m);

/* Bus handler for the register window (off is relative to base). */
void virtio_mmio_access(void *opaque, uint64_t off, uint8_t *data,
			unsigned len, bool is_write);

/* kick_fd[q] is readable: drain it and let the device process queue q. */
void virtio_mmio_kick(struct virtio_mmio *m, unsigned q);

/* Write the command-line fragment announcing the device, e.g.
 * "virtio_mmio.device=4K@0xd0000000:5". Returns snprintf's result. */
int virtio_mmio_cmdline(const struct virtio_mmio *m, char *buf, size_t len);

#endif
