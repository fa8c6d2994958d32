/*
 * Split virtqueue, device side (virtio 1.2, 2.7). Every check on what the
 * guest writes into a ring lives here; see include/nkvm/virtq.h.
 *
 * Guest memory is only reached through gm_ptr(): the three rings once at
 * vq_setup (whole ranges), indirect tables and buffers at vq_pop. Indexes
 * and descriptors are read once into locals; the guest may change the ring
 * under us at any time and we never look twice.
 */
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "nkvm/gm.h"
#include "nkvm/log.h"
#include "nkvm/virtq.h"

#define VQ_LOG_BURST 8

/* Ring field offsets (bytes). */
#define AVAIL_FLAGS 0
#define AVAIL_IDX   2
#define AVAIL_RING  4
#define USED_FLAGS  0
#define USED_IDX    2
#define USED_RING   4

static inline uint16_t *ring16(uint8_t *ring, uint64_t off)
{
	return (uint16_t *)(void *)(ring + off);
}

/* Plain single load of a guest u16 (the guest may be writing it). */
static inline uint16_t load16(uint8_t *ring, uint64_t off)
{
	return le16toh(__atomic_load_n(ring16(ring, off), __ATOMIC_RELAXED));
}

static const char *vq_name(const struct virtq *vq)
{
	return vq->name ? vq->name : "virtq";
}

static __attribute__((format(printf, 2, 3)))
int vq_violation(struct virtq *vq, const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	vq->broken = true;
	if (!log_ratelimit_ok(&vq->rl))
		return -EIO;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warn("%s: guest error: %s; queue needs reset", vq_name(vq), msg);
	return -EIO;
}

/* Zero a queue and name it; the name string must outlive the queue. */
void vq_init(struct virtq *vq, const char *name)
{
	memset(vq, 0, sizeof(*vq));
	vq->name = name;
	vq->rl.burst = VQ_LOG_BURST;
}

/* Back to the state before QUEUE_READY; name and log limiter are kept so a
 * guest cannot reset its way past the rate limit. */
void vq_reset(struct virtq *vq)
{
	const char *name = vq->name;
	struct log_ratelimit rl = vq->rl;

	memset(vq, 0, sizeof(*vq));
	vq->name = name;
	vq->rl = rl;
}

/*
 * Validate the queue geometry the driver wrote and map the rings: size a
 * power of two <= VIRTQ_MAX_SIZE, rings aligned (16/2/4) and wholly inside
 * guest RAM. 0 or -EINVAL; on failure the queue is left reset (not ready).
 */
int vq_setup(struct virtq *vq, const struct gm *gm, uint16_t size,
	     uint64_t desc, uint64_t avail, uint64_t used, bool indirect,
	     bool event_idx)
{
	uint64_t ev = event_idx ? 2 : 0;
	uint8_t *d, *a, *u;

	vq_reset(vq);
	if (!gm || size == 0 || size > VIRTQ_MAX_SIZE || (size & (size - 1)))
		return -EINVAL;
	if (desc % 16 || avail % 2 || used % 4)
		return -EINVAL;
	d = gm_ptr(gm, desc, VIRTQ_DESC_BYTES(size));
	a = gm_ptr(gm, avail, VIRTQ_AVAIL_BYTES(size) - 2 + ev);
	u = gm_ptr(gm, used, VIRTQ_USED_BYTES(size) - 2 + ev);
	if (!d || !a || !u)
		return -EINVAL;
	/* index fields are accessed atomically: the host view must be aligned
	 * too (always so for gm_init RAM, a caller's buffer might not be) */
	if ((uintptr_t)a % 2 || (uintptr_t)u % 4)
		return -EINVAL;

	vq->gm = gm;
	vq->size = size;
	vq->desc_gpa = desc;
	vq->avail_gpa = avail;
	vq->used_gpa = used;
	vq->desc = d;
	vq->avail = a;
	vq->used = u;
	vq->indirect = indirect;
	vq->event_idx = event_idx;
	vq->ready = true;
	return 0;
}

/* Where the walk reads descriptors from: the queue's table or an indirect
 * table, and how many entries it has. */
struct vq_table {
	const uint8_t *base;
	uint32_t n;
	bool indirect;
};

static void vq_read_desc(const struct vq_table *t, uint16_t i,
			 struct virtq_desc *d)
{
	struct virtq_desc raw;

	memcpy(&raw, t->base + (size_t)i * sizeof(raw), sizeof(raw));
	d->addr = le64toh(raw.addr);
	d->len = le32toh(raw.len);
	d->flags = le16toh(raw.flags);
	d->next = le16toh(raw.next);
}

/* Append one buffer to the chain after checking it. Zero-length buffers
 * are dropped (no iov, address not checked). */
static int vq_add_buf(struct virtq *vq, struct vq_chain *c,
		      const struct virtq_desc *d)
{
	bool writable = d->flags & VIRTQ_DESC_F_WRITE;
	unsigned n = c->nr_out + c->nr_in;
	void *p;

	if (d->len == 0)
		return 0;
	if (!writable && c->nr_in)
		return vq_violation(vq, "head %u: readable buffer after a writable one",
				    c->head);
	if (n >= VQ_MAX_SEGS)
		return vq_violation(vq, "head %u: more than %u buffers",
				    c->head, VQ_MAX_SEGS);
	p = gm_ptr(vq->gm, d->addr, d->len);
	if (!p)
		return vq_violation(vq, "head %u: buffer %#llx+%#x outside RAM",
				    c->head, (unsigned long long)d->addr, d->len);
	c->iov[n].iov_base = p;
	c->iov[n].iov_len = d->len;
	if (writable) {
		c->nr_in++;
		c->in_len += d->len;
	} else {
		c->nr_out++;
		c->out_len += d->len;
	}
	return 0;
}

/* Switch the walk to the indirect table described by d. */
static int vq_enter_indirect(struct virtq *vq, struct vq_chain *c,
			     struct vq_table *t, const struct virtq_desc *d)
{
	const uint8_t *p;

	if (!vq->indirect)
		return vq_violation(vq, "head %u: indirect descriptor not negotiated",
				    c->head);
	if (t->indirect)
		return vq_violation(vq, "head %u: nested indirect table", c->head);
	if (d->flags & VIRTQ_DESC_F_NEXT)
		return vq_violation(vq, "head %u: indirect descriptor with NEXT",
				    c->head);
	if (d->len == 0 || d->len % sizeof(struct virtq_desc) ||
	    d->len / sizeof(struct virtq_desc) > vq->size)
		return vq_violation(vq, "head %u: bad indirect table length %u",
				    c->head, d->len);
	p = gm_ptr(vq->gm, d->addr, d->len);
	if (!p)
		return vq_violation(vq, "head %u: indirect table %#llx+%#x outside RAM",
				    c->head, (unsigned long long)d->addr, d->len);
	t->base = p;
	t->n = d->len / sizeof(struct virtq_desc);
	t->indirect = true;
	return 0;
}

/*
 * Follow the chain starting at head (already < size). Each table (the
 * queue's, then at most one indirect table) is walked at most n steps, so a
 * loop shows up as a chain longer than its table.
 */
static int vq_walk(struct virtq *vq, uint16_t head, struct vq_chain *c)
{
	struct vq_table t = { .base = vq->desc, .n = vq->size };
	struct virtq_desc d;
	uint32_t steps = 0;
	uint16_t i = head;
	int ret;

	c->head = head;
	c->nr_out = c->nr_in = 0;
	c->out_len = c->in_len = 0;
	for (;;) {
		if (++steps > t.n)
			return vq_violation(vq, "head %u: descriptor chain loops or exceeds %u",
					    head, t.n);
		vq_read_desc(&t, i, &d);
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			ret = vq_enter_indirect(vq, c, &t, &d);
			if (ret)
				return ret;
			steps = 0;
			i = 0;
			continue;
		}
		ret = vq_add_buf(vq, c, &d);
		if (ret)
			return ret;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (d.next >= t.n)
			return vq_violation(vq, "head %u: next %u out of range (%u)",
					    head, d.next, t.n);
		i = d.next;
	}
}

static bool vq_inflight_test(const struct virtq *vq, uint16_t head)
{
	return vq->inflight[head / 64] & (1ULL << (head % 64));
}

static void vq_inflight_flip(struct virtq *vq, uint16_t head)
{
	vq->inflight[head / 64] ^= 1ULL << (head % 64);
}

/*
 * Take the next available chain: 0, -EAGAIN (empty or not ready) or -EIO
 * (guest violation, queue broken). See virtq.h for the checks.
 */
int vq_pop(struct virtq *vq, struct vq_chain *chain)
{
	uint16_t avail_idx, pending, head;
	int ret;

	if (vq->broken)
		return -EIO;
	if (!vq->ready)
		return -EAGAIN;
	/* acquire: ring entries and descriptors are read after the index */
	avail_idx = le16toh(__atomic_load_n(ring16(vq->avail, AVAIL_IDX),
					    __ATOMIC_ACQUIRE));
	pending = (uint16_t)(avail_idx - vq->last_avail);
	if (pending > vq->size)
		return vq_violation(vq, "avail idx %u is %u ahead of %u (size %u)",
				    avail_idx, pending, vq->last_avail, vq->size);
	if (pending == 0)
		return -EAGAIN;

	head = load16(vq->avail,
		      AVAIL_RING + 2ULL * (vq->last_avail & (vq->size - 1)));
	if (head >= vq->size)
		return vq_violation(vq, "avail slot %u: head %u >= size %u",
				    vq->last_avail, head, vq->size);
	if (vq_inflight_test(vq, head))
		return vq_violation(vq, "head %u made available while in flight",
				    head);
	ret = vq_walk(vq, head, chain);
	if (ret)
		return ret;
	vq_inflight_flip(vq, head);
	vq->nr_inflight++;
	vq->last_avail++;
	return 0;
}

int vq_unpop(struct virtq *vq, const struct vq_chain *chain)
{
	/* The slot is read again, and checked again, by the next vq_pop: a
	 * guest that rewrote it meanwhile gets whatever it wrote validated. */
	if (!vq->ready || vq->broken || !vq->nr_inflight ||
	    chain->head >= vq->size || !vq_inflight_test(vq, chain->head))
		return -EINVAL;
	vq_inflight_flip(vq, chain->head);
	vq->nr_inflight--;
	vq->last_avail--;
	return 0;
}

/* Publish one used element, then (release) the new used index. */
/* Write one used element at the shadow index, unpublished. */
static int vq_fill(struct virtq *vq, uint16_t head, uint32_t written)
{
	struct virtq_used_elem e;
	uint64_t off;

	if (vq->broken)
		return -EIO;
	if (!vq->ready)
		return -EAGAIN;
	if (head >= vq->size || !vq_inflight_test(vq, head)) {
		if (log_ratelimit_ok(&vq->rl))
			log_err("%s: device pushed head %u that is not in flight",
				vq_name(vq), head);
		return -EINVAL;
	}
	vq_inflight_flip(vq, head);
	vq->nr_inflight--;

	e.id = htole32(head);
	e.len = htole32(written);
	off = USED_RING + sizeof(e) * (vq->used_idx & (vq->size - 1));
	memcpy(vq->used + off, &e, sizeof(e));
	vq->used_idx++;
	return 0;
}

/* Make every filled element visible to the guest. */
static void vq_publish(struct virtq *vq)
{
	/* release: the elements are visible before the index that covers them */
	__atomic_store_n(ring16(vq->used, USED_IDX), htole16(vq->used_idx),
			 __ATOMIC_RELEASE);
}

int vq_push(struct virtq *vq, uint16_t head, uint32_t written)
{
	int r = vq_fill(vq, head, written);

	if (r == 0)
		vq_publish(vq);
	return r;
}

int vq_push_many(struct virtq *vq, const uint16_t *heads,
		 const uint32_t *written, unsigned n)
{
	unsigned i;
	int r = 0;

	for (i = 0; i < n && r == 0; i++)
		r = vq_fill(vq, heads[i], written[i]);
	if (i && vq->ready && !vq->broken)
		vq_publish(vq);
	return r;
}

/*
 * Interrupt suppression (2.7.7/2.7.10). With EVENT_IDX: interrupt iff the
 * driver's used_event lies in [old_used, used_idx), i.e. vring_need_event().
 */
bool vq_should_notify(struct virtq *vq, uint16_t old_used)
{
	uint16_t event, new_used = vq->used_idx;

	if (!vq->ready)
		return false;
	/* our used->idx store must be visible before we read the guest's
	 * suppression state, or we may miss an interrupt it asked for */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!vq->event_idx)
		return !(load16(vq->avail, AVAIL_FLAGS) &
			 VIRTQ_AVAIL_F_NO_INTERRUPT);
	event = load16(vq->avail, AVAIL_RING + 2ULL * vq->size);
	return (uint16_t)(new_used - event - 1) < (uint16_t)(new_used - old_used);
}

/* Write avail_event = last_avail so the driver kicks for the next buffer. */
void vq_set_avail_event(struct virtq *vq)
{
	if (!vq->ready || !vq->event_idx)
		return;
	__atomic_store_n(ring16(vq->used, USED_RING + 8ULL * vq->size),
			 htole16(vq->last_avail), __ATOMIC_RELAXED);
	/* the store must land before the caller re-reads avail->idx */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* Copy between a flat buffer and iov[first, first + n) from offset off. */
static size_t vq_iov_copy(const struct iovec *iov, unsigned n, size_t off,
			  void *buf, size_t len, bool to_iov)
{
	uint8_t *b = buf;
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		size_t seg = iov[i].iov_len, chunk;
		uint8_t *p = iov[i].iov_base;

		if (off >= seg) {
			off -= seg;
			continue;
		}
		chunk = seg - off;
		if (chunk > len - done)
			chunk = len - done;
		if (to_iov)
			memcpy(p + off, b + done, chunk);
		else
			memcpy(b + done, p + off, chunk);
		done += chunk;
		off = 0;
	}
	return done;
}

/* Copy from the chain's readable buffers at byte offset off; bytes copied. */
size_t vq_iov_copy_from(const struct vq_chain *chain, size_t off, void *dst,
			size_t len)
{
	return vq_iov_copy(chain->iov, chain->nr_out, off, dst, len, false);
}

/* Copy into the chain's writable buffers at byte offset off; bytes copied. */
size_t vq_iov_copy_to(const struct vq_chain *chain, size_t off,
		      const void *src, size_t len)
{
	return vq_iov_copy(chain->iov + chain->nr_out, chain->nr_in, off,
			   (void *)src, len, true);
}

int vq_iov_slice(const struct iovec *src, unsigned n, uint64_t skip,
		     uint64_t len, struct iovec *dst, unsigned max)
{
	unsigned i, out = 0;

	for (i = 0; i < n && len; i++) {
		uint64_t l = src[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		if (out == max)
			return -1;
		l -= skip;
		if (l > len)
			l = len;
		dst[out].iov_base = (uint8_t *)src[i].iov_base + skip;
		dst[out++].iov_len = l;
		len -= l;
		skip = 0;
	}
	return len ? -1 : (int)out;
}
