/*
 * libFuzzer harness for the split virtqueue engine (src/virtio/virtq.c).
 *
 * Input: a 12-byte header choosing the queue geometry, then guest RAM
 * contents (64 KiB at gpa 0, zero-filled past the input). The harness sets
 * up the queue (setup failures are fine), pops chains, copies from and to
 * them, pushes them back in a fuzzer-chosen order and asks about
 * notifications. Every iov a chain hands out must lie inside guest RAM;
 * anything else traps. RAM is malloc'd at its exact size so ASan sees any
 * access past its end.
 *
 * Header: [0] flags: bits 0-3 log2(size), bit 4 indirect, bit 5 event_idx,
 *             bit 6 size from [1..2] instead, bit 7 push in reverse order
 *         [1..2] raw size, [3..4] desc gpa, [5..6] avail gpa, [7..8] used gpa
 *         [9..10] starting last_avail/used_idx, [11] copy offset
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nkvm/gm.h"
#include "nkvm/log.h"
#include "nkvm/virtq.h"

#define RAM_SIZE  (64 * 1024)
#define HDR_SIZE  12
#define MAX_POPS  48

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static void check_chain(const struct vq_chain *c, const uint8_t *ram,
			const struct virtq *vq)
{
	uint64_t out = 0, in = 0;

	if (c->head >= vq->size || c->nr_out + c->nr_in > VQ_MAX_SEGS)
		__builtin_trap();
	for (unsigned i = 0; i < c->nr_out + c->nr_in; i++) {
		const uint8_t *b = c->iov[i].iov_base;
		size_t l = c->iov[i].iov_len;

		if (l == 0 || b < ram || b > ram + RAM_SIZE ||
		    l > (size_t)(ram + RAM_SIZE - b))
			__builtin_trap();
		if (i < c->nr_out)
			out += l;
		else
			in += l;
	}
	if (out != c->out_len || in != c->in_len)
		__builtin_trap();
}

/* Pop up to MAX_POPS chains, use them, push them back. */
static void run_round(struct virtq *vq, const uint8_t *ram, bool reverse,
		      size_t off)
{
	static struct vq_chain chain;
	uint16_t heads[MAX_POPS], old_used = vq->used_idx;
	uint8_t buf[96];
	unsigned n = 0;
	int ret = 0;

	while (n < MAX_POPS) {
		ret = vq_pop(vq, &chain);
		if (ret)
			break;
		check_chain(&chain, ram, vq);
		if (vq_iov_copy_from(&chain, off, buf, sizeof(buf)) > sizeof(buf))
			__builtin_trap();
		memset(buf, 0xa5, sizeof(buf));
		if (vq_iov_copy_to(&chain, off / 2, buf, sizeof(buf)) > sizeof(buf))
			__builtin_trap();
		heads[n++] = chain.head;
	}
	if (ret && ret != -EAGAIN && ret != -EIO)
		__builtin_trap();
	if (ret == -EIO && (!vq->broken || vq_pop(vq, &chain) != -EIO))
		__builtin_trap();
	for (unsigned i = 0; i < n; i++) {
		uint16_t h = heads[reverse ? n - 1 - i : i];

		ret = vq_push(vq, h, (uint32_t)i);
		if (ret && !(ret == -EIO && vq->broken))
			__builtin_trap();
	}
	/* a second push of a head must be refused */
	if (n && !vq->broken && vq_push(vq, heads[0], 0) != -EINVAL)
		__builtin_trap();
	(void)vq_should_notify(vq, old_used);
	vq_set_avail_event(vq);
}

/* One input: header -> queue geometry, rest -> guest RAM; see top. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtq vq;
	uint16_t qsize, start;
	uint8_t *ram;
	struct gm gm;
	uint8_t f;

	if (size < HDR_SIZE)
		return 0;
	ram = calloc(1, RAM_SIZE);
	if (!ram)
		return 0;
	memcpy(ram, data + HDR_SIZE,
	       size - HDR_SIZE < RAM_SIZE ? size - HDR_SIZE : RAM_SIZE);
	gm_init_buffer(&gm, ram, RAM_SIZE);

	f = data[0];
	qsize = f & 0x40 ? get16(data + 1) : (uint16_t)(1u << (f & 0xf));
	start = get16(data + 9);
	vq_init(&vq, "fuzz");
	/* violations are the point here: keep the log (almost) silent */
	vq.rl.burst = 0;
	vq.rl.count = 1;
	if (vq_setup(&vq, &gm, qsize, get16(data + 3), get16(data + 5),
		     get16(data + 7), f & 0x10, f & 0x20) == 0) {
		vq.last_avail = vq.used_idx = start;
		run_round(&vq, ram, f & 0x80, data[11]);
		run_round(&vq, ram, !(f & 0x80), data[11] / 3);
	} else if (vq.ready || vq_pop(&vq, &(struct vq_chain){ 0 }) != -EAGAIN) {
		__builtin_trap();
	}
	vq_reset(&vq);
	free(ram);
	return 0;
}
