/*
 * A virtio device as the transport (virtio/mmio.c) sees it, and the helpers
 * device models use to complete requests and report guest errors.
 *
 * Threads and locking: `lock` guards everything in struct virtio_dev and
 * the device model's own state. Register accesses come from vCPU threads,
 * queue notifications and I/O completions from the event-loop thread; both
 * take the lock, so a device model's callbacks always run with it held.
 */
#ifndef NKVM_VIRTIO_H
#define NKVM_VIRTIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "nkvm/virtq.h"

/* Device IDs (virtio 1.2 section 5). */
#define VIRTIO_ID_NET     1
#define VIRTIO_ID_BLOCK   2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG     4

/* Device status bits (section 2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER      2
#define VIRTIO_STATUS_DRIVER_OK   4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED      128

/* Reserved feature bits the transport handles. */
#define VIRTIO_F_VERSION_1 32

/* InterruptStatus bits. */
#define VIRTIO_INT_VRING  1
#define VIRTIO_INT_CONFIG 2

#define VIRTIO_MAX_QUEUES 8
#define VIRTIO_VENDOR_ID  0x4d564b4e	/* "NKVM", little endian */

struct virtio_dev;

struct virtio_dev_ops {
	/* Read/write the device-specific configuration space; off + len is
	 * already checked against config_size. NULL write: read-only. */
	void (*config_read)(struct virtio_dev *d, uint32_t off, void *buf,
			    unsigned len);
	void (*config_write)(struct virtio_dev *d, uint32_t off,
			     const void *buf, unsigned len);
	/* The driver set DRIVER_OK: queues are set up. 0, or -errno and the
	 * device is marked NEEDS_RESET. May be NULL. */
	int (*start)(struct virtio_dev *d);
	/* Device reset (status 0 written, or the VM is going away): finish or
	 * cancel everything in flight; queues are reset by the caller after. */
	void (*reset)(struct virtio_dev *d);
	/* The driver kicked queue q (event-loop thread). */
	void (*notify)(struct virtio_dev *d, unsigned q);
};

struct virtio_dev {
	/* set by the device model before virtio_dev_init() */
	const char *name;            /* "blk0", for logs; not copied */
	uint32_t device_id;
	uint64_t features;           /* device-specific offered features */
	uint32_t config_size;
	unsigned nr_queues;
	uint16_t queue_max;          /* <= VIRTQ_MAX_SIZE, power of two */
	const struct virtio_dev_ops *ops;
	void *priv;                  /* the device model's */
	/* the queues are served by another process (vhost-user): the
	 * transport leaves their kick eventfds alone for it to read */
	bool external_queues;

	/* run-time state, guarded by lock */
	pthread_mutex_t lock;
	const struct gm *gm;
	uint64_t host_features;      /* features | engine and transport bits */
	uint64_t guest_features;     /* what the driver wrote */
	uint8_t status;
	uint32_t isr;                /* InterruptStatus */
	uint32_t config_generation;
	struct virtq vq[VIRTIO_MAX_QUEUES];
	char vq_names[VIRTIO_MAX_QUEUES][24];
	unsigned long violations;    /* times the guest broke the rules */

	/* set by the transport: interrupt the guest; have notify(q) called
	 * again soon (a device that stopped early to keep the loop fair) */
	void (*raise)(struct virtio_dev *d);
	void (*rekick)(struct virtio_dev *d, unsigned q);
	/* the eventfd a QueueNotify of queue q signals (-1: none) */
	int (*kick_fd)(struct virtio_dev *d, unsigned q);
	void *transport;
};

/* Fill in the run-time fields (call after the model set its fields). */
int virtio_dev_init(struct virtio_dev *d, const struct gm *gm)
	__attribute__((warn_unused_result));

/* Undo virtio_dev_init (after the model's reset). */
void virtio_dev_destroy(struct virtio_dev *d);

/* True when the driver negotiated feature `bit`. */
static inline bool virtio_has(const struct virtio_dev *d, unsigned bit)
{
	return (d->guest_features >> bit) & 1;
}

/* True when queue q may be processed: DRIVER_OK, no NEEDS_RESET, ready. */
bool virtio_queue_live(const struct virtio_dev *d, unsigned q);

/*
 * Interrupt the guest for queue q if it wants one for the entries pushed
 * since used index old_used (EVENT_IDX / NO_INTERRUPT respected).
 */
void virtio_notify_used(struct virtio_dev *d, unsigned q, uint16_t old_used);

/*
 * The guest broke the rules (a malformed ring, a request the model cannot
 * parse): log rate-limited, set DEVICE_NEEDS_RESET and raise a config
 * interrupt. The device stops processing until the driver resets it.
 */
void virtio_fail(struct virtio_dev *d, const char *why);

/* The device's configuration changed: a config interrupt for a driver
 * that finished setup (the generation moves so it re-reads). Lock held. */
void virtio_config_changed(struct virtio_dev *d);

/*
 * Pop the next chain of queue q. 0 with *chain filled; -EAGAIN when empty
 * (with EVENT_IDX the avail event is re-armed and the ring checked once
 * more, so no kick is lost); -EIO after a violation, which has already
 * called virtio_fail().
 */
int virtio_pop(struct virtio_dev *d, unsigned q, struct vq_chain *chain)
	__attribute__((warn_unused_result));

/*
 * Serve queue q: pop each available chain, let fn handle it (fn returns
 * the bytes it wrote to the chain's writable buffers), push it, then
 * interrupt the guest if it asks for it. At most one ring's worth per call,
 * so a guest refilling as fast as we empty cannot hold the event loop; the
 * rest is rekicked for the next turn.
 */
void virtio_serve(struct virtio_dev *d, unsigned q,
		  uint32_t (*fn)(void *opaque, struct vq_chain *c), void *opaque);

/* Reset the generic state (status, features, ISR, every queue). */
void virtio_dev_reset(struct virtio_dev *d);

#endif
