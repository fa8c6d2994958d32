/* The driver side of virtio for unit tests: a guest RAM buffer with a gm
 * over it, split rings built by hand in that RAM (descriptors, avail ring,
 * used ring), and a device brought up through its virtio-mmio registers
 * (status, features, queues, kicks) the way a guest driver does it.
 * Header-only, like tap.h: every helper is static inline so that a test
 * that does not use one still builds with -Werror. */
#ifndef NKVM_TESTS_VQ_DRIVER_H
#define NKVM_TESTS_VQ_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nkvm/gm.h"
#include "nkvm/virtio.h"
#include "nkvm/virtio_mmio.h"
#include "nkvm/virtq.h"

/* ---- guest RAM ---- */

/* The test's guest RAM, guest address 0 at ram[0], and the gm over it. */
static uint8_t *ram __attribute__((unused));
static struct gm gm __attribute__((unused));

/* Allocate `size` bytes of zeroed guest RAM and set gm up over it: 0, or
 * -1 when out of memory. */
static inline int ram_alloc(uint64_t size)
{
	ram = aligned_alloc(4096, size);
	if (!ram)
		return -1;
	memset(ram, 0, size);
	gm_init_buffer(&gm, ram, size);
	return 0;
}

/* Give the guest RAM back (at the end of main). */
static inline void ram_free(void)
{
	free(ram);
	ram = NULL;
}

/* 16- and 32-bit fields at a guest address, in host order (little-endian
 * on the hosts nkvm runs on, as virtio wants). */
static inline void ram_put16(uint64_t gpa, uint16_t v)
{
	memcpy(ram + gpa, &v, 2);
}

static inline uint16_t ram_get16(uint64_t gpa)
{
	uint16_t v;

	memcpy(&v, ram + gpa, 2);
	return v;
}

static inline uint32_t ram_get32(uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, ram + gpa, 4);
	return v;
}

/* Whether the n bytes at p are all b (all_zero: all 0). */
static inline bool all_byte(const uint8_t *p, uint8_t b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != b)
			return false;
	return true;
}

static inline bool all_zero(const uint8_t *p, size_t n)
{
	return all_byte(p, 0, n);
}

/* ---- a split ring, driver side ---- */

/* Where a ring's three parts are in guest RAM, its size (a power of two)
 * and the driver's next avail index and next free descriptor (ring_post). */
struct ring {
	uint64_t desc, avail, used;
	uint16_t size, avail_idx, next_desc;
};

/* Place a ring of `size` entries and clear its three parts. */
static inline void ring_init(struct ring *r, uint64_t desc, uint64_t avail,
			     uint64_t used, uint16_t size)
{
	*r = (struct ring){ .desc = desc, .avail = avail, .used = used,
			    .size = size };
	memset(ram + desc, 0, VIRTQ_DESC_BYTES(size));
	memset(ram + avail, 0, VIRTQ_AVAIL_BYTES(size));
	memset(ram + used, 0, VIRTQ_USED_BYTES(size));
}

/* Write descriptor i of the table at guest address tbl: a ring's table or
 * an indirect one. */
static inline void desc_put(uint64_t tbl, unsigned i, uint64_t addr,
			    uint32_t len, uint16_t flags, uint16_t next)
{
	struct virtq_desc d = { addr, len, flags, next };

	memcpy(ram + tbl + 16ULL * i, &d, sizeof(d));
}

/* Write descriptor i of the ring's own table. */
static inline void ring_desc(const struct ring *r, unsigned i,
			     uint64_t addr, uint32_t len, uint16_t flags,
			     uint16_t next)
{
	desc_put(r->desc, i, addr, len, flags, next);
}

/* Make the chain at head available: the next avail slot, then (release)
 * the new avail index. */
static inline void ring_offer(struct ring *r, uint16_t head)
{
	ram_put16(r->avail + 4 + 2ULL * (r->avail_idx & (r->size - 1)), head);
	r->avail_idx++;
	__atomic_store_n((uint16_t *)(void *)(ram + r->avail + 2), r->avail_idx,
			 __ATOMIC_RELEASE);
}

/* One buffer of a chain for ring_post: where, how long, device-writable. */
struct ring_seg {
	uint64_t gpa;
	uint32_t len;
	bool w;
};

/* Chain n buffers in descriptors taken in turn from the whole table
 * (wrapping around) and make the chain available; returns its head. */
static inline uint16_t ring_post(struct ring *r, const struct ring_seg *s,
				 unsigned n)
{
	uint16_t head = r->next_desc & (r->size - 1);

	for (unsigned i = 0; i < n; i++) {
		uint16_t idx = r->next_desc++ & (r->size - 1);

		ring_desc(r, idx, s[i].gpa, s[i].len,
			  (uint16_t)((s[i].w ? VIRTQ_DESC_F_WRITE : 0) |
				     (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0)),
			  r->next_desc & (r->size - 1));
	}
	ring_offer(r, head);
	return head;
}

/* The rest of the avail ring: its flags (NO_INTERRUPT), its index written
 * directly (a hostile jump: r->avail_idx is left alone), and used_event
 * (the entry after the ring, read with EVENT_IDX). */
static inline void ring_set_avail_flags(struct ring *r, uint16_t flags)
{
	ram_put16(r->avail, flags);
}

static inline void ring_set_avail_idx(struct ring *r, uint16_t idx)
{
	ram_put16(r->avail + 2, idx);
}

static inline void ring_set_used_event(struct ring *r, uint16_t idx)
{
	ram_put16(r->avail + 4 + 2ULL * r->size, idx);
}

/* The device's side: the used index, the id and length of the used element
 * in slot `slot` (taken modulo the size), and avail_event (the entry after
 * the used ring, written with EVENT_IDX). */
static inline uint16_t ring_used_idx(const struct ring *r)
{
	return ram_get16(r->used + 2);
}

static inline uint32_t ring_used_id(const struct ring *r, unsigned slot)
{
	return ram_get32(r->used + 4 + 8ULL * (slot & (r->size - 1)));
}

static inline uint32_t ring_used_len(const struct ring *r, unsigned slot)
{
	return ram_get32(r->used + 8 + 8ULL * (slot & (r->size - 1)));
}

static inline uint16_t ring_avail_event(const struct ring *r)
{
	return ram_get16(r->used + 4 + 8ULL * r->size);
}

/* ---- a device through its virtio-mmio registers ---- */

#define ST_ACK VIRTIO_STATUS_ACKNOWLEDGE
#define ST_DRV VIRTIO_STATUS_DRIVER
#define ST_FOK VIRTIO_STATUS_FEATURES_OK
#define ST_DOK VIRTIO_STATUS_DRIVER_OK
#define ST_NR  VIRTIO_STATUS_NEEDS_RESET
/* A device set up and running. */
#define ST_ALL (ST_ACK | ST_DRV | ST_FOK | ST_DOK)
/* VERSION_1: the feature bit every driver here accepts. */
#define V1     (1ULL << VIRTIO_F_VERSION_1)

/* A 32-bit register read (the buffer starts as 0xaa bytes, so a read the
 * transport leaves unanswered shows) and a 32-bit register write. */
static inline uint32_t mmio_rd(struct virtio_mmio *m, uint64_t off)
{
	uint8_t b[4] = { 0xaa, 0xaa, 0xaa, 0xaa };

	virtio_mmio_access(m, off, b, 4, false);
	return b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24;
}

static inline void mmio_wr(struct virtio_mmio *m, uint64_t off, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
			 (uint8_t)(v >> 24) };

	virtio_mmio_access(m, off, b, 4, true);
}

/* DeviceFeatures word `word` (feature bits 32 * word and up). */
static inline uint32_t drv_device_features(struct virtio_mmio *m,
					   uint32_t word)
{
	mmio_wr(m, VIRTIO_MMIO_DEVICE_FEATURES_SEL, word);
	return mmio_rd(m, VIRTIO_MMIO_DEVICE_FEATURES);
}

/* Write the driver's 64 feature bits: word 0, then word 1. */
static inline void drv_features(struct virtio_mmio *m, uint64_t f)
{
	mmio_wr(m, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	mmio_wr(m, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)f);
	mmio_wr(m, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	mmio_wr(m, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(f >> 32));
}

/* Reset, ACKNOWLEDGE, DRIVER, features f, FEATURES_OK; the status read
 * back (without FEATURES_OK when the device refused f). */
static inline uint32_t drv_negotiate(struct virtio_mmio *m, uint64_t f)
{
	mmio_wr(m, VIRTIO_MMIO_STATUS, 0);
	mmio_wr(m, VIRTIO_MMIO_STATUS, ST_ACK);
	mmio_wr(m, VIRTIO_MMIO_STATUS, ST_ACK | ST_DRV);
	drv_features(m, f);
	mmio_wr(m, VIRTIO_MMIO_STATUS, ST_ACK | ST_DRV | ST_FOK);
	return mmio_rd(m, VIRTIO_MMIO_STATUS);
}

/* Program queue q (size, three 64-bit addresses) and write QueueReady 1;
 * QueueReady read back (0 when the transport refused the setup). */
static inline uint32_t drv_queue(struct virtio_mmio *m, unsigned q,
				 uint32_t num, uint64_t desc, uint64_t avail,
				 uint64_t used)
{
	mmio_wr(m, VIRTIO_MMIO_QUEUE_SEL, q);
	mmio_wr(m, VIRTIO_MMIO_QUEUE_NUM, num);
	mmio_wr(m, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
	mmio_wr(m, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
	mmio_wr(m, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)avail);
	mmio_wr(m, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (uint32_t)(avail >> 32));
	mmio_wr(m, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)used);
	mmio_wr(m, VIRTIO_MMIO_QUEUE_USED_HIGH, (uint32_t)(used >> 32));
	mmio_wr(m, VIRTIO_MMIO_QUEUE_READY, 1);
	return mmio_rd(m, VIRTIO_MMIO_QUEUE_READY);
}

/* drv_queue with the size and addresses of ring r. */
static inline uint32_t drv_queue_ring(struct virtio_mmio *m, unsigned q,
				      const struct ring *r)
{
	return drv_queue(m, q, r->size, r->desc, r->avail, r->used);
}

/* Add DRIVER_OK to the status: the device starts. */
static inline void drv_ok(struct virtio_mmio *m)
{
	mmio_wr(m, VIRTIO_MMIO_STATUS, mmio_rd(m, VIRTIO_MMIO_STATUS) | ST_DOK);
}

/* QueueNotify q from the vCPU, then the event loop's side of it: the
 * device processes the queue. */
static inline void drv_kick(struct virtio_mmio *m, unsigned q)
{
	mmio_wr(m, VIRTIO_MMIO_QUEUE_NOTIFY, q);
	virtio_mmio_kick(m, q);
}

/* Take down a device and its transport: the transport first (it resets
 * the device). */
static inline void mmio_dev_destroy(struct virtio_mmio *m,
				    struct virtio_dev *d)
{
	virtio_mmio_destroy(m);
	virtio_dev_destroy(d);
}

/* An eventfd's counter, 0 when it is not readable; the read resets it. */
static inline uint64_t efd_take(int fd)
{
	uint64_t v;

	if (fd < 0 || read(fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

#endif
