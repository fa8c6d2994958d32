/*
 * Split virtqueue engine (virtio 1.2, section 2.7): the device side of the
 * descriptor table, available ring and used ring.
 *
 * This is the one place that validates what the guest puts in a ring: queue
 * geometry at QUEUE_READY (vq_setup), then every index, descriptor, indirect
 * table and buffer at vq_pop. Devices only ever see a struct vq_chain of
 * host iovecs that all lie inside guest RAM, readable ones first.
 *
 * A guest that breaks the rules gets -EIO from vq_pop, the queue is marked
 * broken (vq->broken) and stays so until vq_reset()/vq_setup(); the
 * transport then sets DEVICE_NEEDS_RESET and raises a config interrupt.
 *
 * Not thread-safe: one device thread (holding the device mutex) owns a queue.
 */
#ifndef NKVM_VIRTQ_H
#define NKVM_VIRTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "nkvm/log.h"

struct gm;

/* Largest queue size nkvm offers (QueueNumMax); sizes are powers of two. */
#define VIRTQ_MAX_SIZE 1024

/*
 * Most non-empty buffers one chain may carry (readable + writable). A longer
 * chain is a guest violation, so devices advertise limits below this (e.g.
 * virtio-blk seg_max). 256 keeps struct vq_chain at ~4 KiB.
 */
#define VQ_MAX_SEGS 256

/* Descriptor flags (virtq_desc.flags). */
#define VIRTQ_DESC_F_NEXT     1
#define VIRTQ_DESC_F_WRITE    2
#define VIRTQ_DESC_F_INDIRECT 4

/* virtq_avail.flags / virtq_used.flags */
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY     1

/* Feature bits this engine implements. */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX     29

/* Guest layout (little endian), for tests and fuzzers building rings. */
struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct virtq_used_elem {
	uint32_t id;
	uint32_t len;
};

/* Bytes of each ring for a queue of `size` entries (with the event field). */
#define VIRTQ_DESC_BYTES(size)  (16ULL * (size))
#define VIRTQ_AVAIL_BYTES(size) (6ULL + 2ULL * (size))
#define VIRTQ_USED_BYTES(size)  (6ULL + 8ULL * (size))

struct virtq {
	const struct gm *gm;
	const char *name;       /* for log messages, e.g. "blk0.rq0" */
	uint16_t size;          /* entries, power of two, 0 when not ready */
	bool ready;             /* vq_setup succeeded and no reset since */
	bool indirect;          /* VIRTIO_F_INDIRECT_DESC negotiated */
	bool event_idx;         /* VIRTIO_F_EVENT_IDX negotiated */
	bool broken;            /* guest violated the rules: needs reset */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	/* host views of the rings, from gm_ptr() of each whole ring at setup */
	uint8_t *desc, *avail, *used;
	uint16_t last_avail;    /* next avail ring slot the device consumes */
	uint16_t used_idx;      /* shadow of used->idx (the device owns it) */
	uint16_t nr_inflight;   /* chains popped and not yet pushed */
	/* one bit per head index popped and not yet pushed */
	uint64_t inflight[VIRTQ_MAX_SIZE / 64];
	struct log_ratelimit rl;
};

/*
 * One available buffer, checked: iov[0, nr_out) are device-readable,
 * iov[nr_out, nr_out + nr_in) device-writable (the spec orders them so, and
 * vq_pop enforces it, so one array holds both). Every iov lies inside guest
 * RAM; zero-length descriptors are skipped and produce no iov. About 4 KiB:
 * fine on a device thread's stack, or keep one per in-flight request.
 */
struct vq_chain {
	uint16_t head;          /* pass to vq_push() */
	unsigned nr_out, nr_in;
	uint64_t out_len, in_len; /* total bytes readable / writable */
	struct iovec iov[VQ_MAX_SEGS];
};

static inline struct iovec *vq_chain_out(struct vq_chain *c)
{
	return c->iov;
}

static inline struct iovec *vq_chain_in(struct vq_chain *c)
{
	return c->iov + c->nr_out;
}

/* Zero a queue and give it a name for log messages (not copied). */
void vq_init(struct virtq *vq, const char *name);

/*
 * Make the queue ready (QUEUE_READY written with 1): size must be a power of
 * two <= VIRTQ_MAX_SIZE, desc 16-byte, avail 2-byte and used 4-byte aligned,
 * each whole ring (event fields included when event_idx) inside guest RAM.
 * Resets indexes and the broken flag. 0, or -EINVAL (queue left not ready).
 */
int vq_setup(struct virtq *vq, const struct gm *gm, uint16_t size,
	     uint64_t desc, uint64_t avail, uint64_t used, bool indirect,
	     bool event_idx) __attribute__((warn_unused_result));

/* Device or queue reset: not ready, not broken, indexes 0; keeps name. */
void vq_reset(struct virtq *vq);

/*
 * Take the next available chain. Returns 0 with *chain filled, -EAGAIN when
 * the ring is empty (or the queue is not ready), -EIO when the guest broke
 * the rules (vq->broken is then set, logged rate-limited, and every later
 * call returns -EIO until vq_setup/vq_reset). Reads avail->idx, the head and
 * each descriptor once; checks indexes < size, chain length (loops),
 * indirect tables, readable-before-writable, every buffer inside RAM, and
 * that a head is not popped twice before being pushed.
 */
int vq_pop(struct virtq *vq, struct vq_chain *chain)
	__attribute__((warn_unused_result));

/*
 * Give back the chain popped last, unused: it becomes available again, as
 * if never popped. For devices that must take several buffers or none
 * (virtio-net's mergeable receive buffers). Several chains must be given
 * back in the reverse order of their pops (the caller's duty: only that
 * the head is in flight is checked). 0, or -EINVAL.
 */
int vq_unpop(struct virtq *vq, const struct vq_chain *chain)
	__attribute__((warn_unused_result));

/*
 * Return a popped chain to the guest with `written` bytes written to its
 * writable buffers: used element, release fence, used->idx. 0, -EINVAL if
 * head is not in flight (device bug), -EIO if the queue is broken, -EAGAIN
 * if not ready.
 */
int vq_push(struct virtq *vq, uint16_t head, uint32_t written)
	__attribute__((warn_unused_result));

/*
 * vq_push for n chains at once, published with one used->idx update, so
 * the guest never sees some of them without the others (a frame spread
 * over several mergeable receive buffers). Stops at the first failing
 * chain (its error is returned) after publishing those before it.
 */
int vq_push_many(struct virtq *vq, const uint16_t *heads,
		 const uint32_t *written, unsigned n)
	__attribute__((warn_unused_result));

/*
 * Should the device interrupt the guest after pushing from used index
 * old_used up to vq->used_idx? EVENT_IDX: vring_need_event(used_event);
 * otherwise unless avail->flags has VIRTQ_AVAIL_F_NO_INTERRUPT. Call with
 * old_used = vq->used_idx before the batch of vq_push calls.
 */
bool vq_should_notify(struct virtq *vq, uint16_t old_used);

/*
 * With EVENT_IDX, ask for a kick when the driver makes slot last_avail
 * available (writes avail_event, then a full fence). Callers then pop again
 * to catch buffers added meanwhile. No-op without EVENT_IDX.
 */
void vq_set_avail_event(struct virtq *vq);

/*
 * Copy up to len bytes of the readable buffers, starting off bytes into
 * them, to dst (across segment boundaries). Returns bytes copied.
 */
size_t vq_iov_copy_from(const struct vq_chain *chain, size_t off, void *dst,
			size_t len);

/*
 * Copy up to len bytes from src into the writable buffers, starting off
 * bytes into them. Returns bytes copied.
 */
size_t vq_iov_copy_to(const struct vq_chain *chain, size_t off,
		      const void *src, size_t len);

/*
 * dst = the bytes [skip, skip + len) of src[0, n), without copying data.
 * Returns the number of iovecs (0 for len 0), or -1 if they do not fit in
 * max or src is shorter than skip + len.
 */
int vq_iov_slice(const struct iovec *src, unsigned n, uint64_t skip,
		 uint64_t len, struct iovec *dst, unsigned max);

#endif
