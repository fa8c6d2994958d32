/*
 * libFuzzer harness for the virtio-mmio transport (src/virtio/mmio.c): its
 * register file and status state machine, queue setup and reset, with a
 * virtio-rng device (src/virtio/rng.c) behind it so kicks process a real
 * ring, over a 16 KiB guest RAM at gpa 0 (malloc'd at its exact size so
 * ASan sees any access past it).
 *
 * Input: [0] how getrandom() behaves (below), then a sequence of ops, each
 * starting with an op byte:
 *
 *   op & 3 == 0  register write: [op][off lo][off hi][value, width bytes LE]
 *   op & 3 == 1  register read:  [op][off lo][off hi]
 *                width 1 << ((op >> 2) & 3) (1, 2, 4, 8); off & 0xfff, moved
 *                down so that the access stays in the 4 KiB window (what the
 *                bus guarantees)
 *   op & 3 == 2  guest store:    [op][gpa lo][gpa hi][(op >> 2) + 1 bytes]
 *                (the driver writing descriptors, rings or buffers)
 *   op & 3 == 3  kick queue (op >> 2) & 7: signal its eventfd, unless bit 5
 *                is set (a spurious wake-up), then virtio_mmio_kick()
 *
 * getrandom() is replaced while an input runs, so the bytes the rng writes
 * into guest RAM (which may overlap the rings) are the same every run:
 * byte [0] bits 0-1 pick full reads, short reads, EINTR every other call,
 * or EAGAIN after (bits 2-7) calls; past 1 MiB per input it fails.
 *
 * After every op the harness checks the transport's invariants: DRIVER_OK
 * only with FEATURES_OK, FEATURES_OK only with offered features and
 * VERSION_1, a ready queue only when FEATURES_OK and with its size and
 * rings inside guest RAM, nothing left in flight, reads of fixed registers
 * and of bad widths/offsets as specified, status 0 a full reset. Work is
 * bounded: at most MAX_OPS ops and MAX_KICKS kicks per input.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "nkvm/gm.h"
#include "nkvm/log.h"
#include "nkvm/virtio_mmio.h"
#include "nkvm/virtio_rng.h"
#include "nkvm/virtq.h"

#define RAM_SIZE   (16 * 1024)
#define MAX_OPS    1024
#define MAX_KICKS  16
#define RND_BUDGET (1024 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The deterministic getrandom() of the input running (armed), else the
 * real one. */
static struct {
	bool armed;
	uint8_t mode, fill;
	unsigned calls;
	size_t left;
} rnd;

ssize_t getrandom(void *buf, size_t len, unsigned flags)
{
	if (!rnd.armed)
		return syscall(SYS_getrandom, buf, len, flags);
	rnd.calls++;
	switch (rnd.mode & 3) {
	case 1:
		if (len > 1 + rnd.calls % 61)
			len = 1 + rnd.calls % 61;
		break;
	case 2:
		if (rnd.calls & 1) {
			errno = EINTR;
			return -1;
		}
		break;
	case 3:
		if (rnd.calls > (unsigned)(rnd.mode >> 2)) {
			errno = EAGAIN;
			return -1;
		}
		break;
	}
	if (len > rnd.left) {
		errno = EAGAIN;
		return -1;
	}
	rnd.left -= len;
	memset(buf, rnd.fill++, len);
	return (ssize_t)len;
}

static bool in_ram(const void *p, uint64_t len, const uint8_t *ram)
{
	const uint8_t *b = p;

	return b >= ram && b <= ram + RAM_SIZE &&
	       len <= (uint64_t)(ram + RAM_SIZE - b);
}

static uint32_t le32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

/* What must hold between any two register accesses or kicks. */
static void check_state(const struct virtio_dev *d, const uint8_t *ram)
{
	if ((d->status & VIRTIO_STATUS_DRIVER_OK) &&
	    !(d->status & VIRTIO_STATUS_FEATURES_OK))
		__builtin_trap();
	if ((d->status & VIRTIO_STATUS_FEATURES_OK) &&
	    ((d->guest_features & ~d->host_features) ||
	     !virtio_has(d, VIRTIO_F_VERSION_1)))
		__builtin_trap();
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		const struct virtq *vq = &d->vq[q];
		uint64_t ev = vq->event_idx ? 2 : 0;

		if (!vq->ready)
			continue;
		if (q >= d->nr_queues || !(d->status & VIRTIO_STATUS_FEATURES_OK) ||
		    vq->size == 0 || vq->size > d->queue_max ||
		    (vq->size & (vq->size - 1)))
			__builtin_trap();
		if (!in_ram(vq->desc, VIRTQ_DESC_BYTES(vq->size), ram) ||
		    !in_ram(vq->avail, VIRTQ_AVAIL_BYTES(vq->size) - 2 + ev, ram) ||
		    !in_ram(vq->used, VIRTQ_USED_BYTES(vq->size) - 2 + ev, ram))
			__builtin_trap();
		if (vq->indirect != virtio_has(d, VIRTIO_F_INDIRECT_DESC) ||
		    vq->event_idx != virtio_has(d, VIRTIO_F_EVENT_IDX))
			__builtin_trap();
		/* the rng pushes back every chain it pops, at once */
		if (vq->nr_inflight)
			__builtin_trap();
	}
}

static void check_read(const struct virtio_mmio *m, uint64_t off,
		       const uint8_t *b, unsigned len)
{
	const struct virtio_dev *d = m->dev;
	uint32_t v = le32(b);

	if (off >= VIRTIO_MMIO_CONFIG || len != 4 || off % 4) {
		/* bad width, or the rng's empty config space: zeroes */
		for (unsigned i = 0; i < len; i++)
			if (b[i])
				__builtin_trap();
		return;
	}
	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		if (v != VIRTIO_MMIO_MAGIC)
			__builtin_trap();
		break;
	case VIRTIO_MMIO_VERSION:
		if (v != 2)
			__builtin_trap();
		break;
	case VIRTIO_MMIO_DEVICE_ID:
		if (v != VIRTIO_ID_RNG)
			__builtin_trap();
		break;
	case VIRTIO_MMIO_STATUS:
		if (v != d->status)
			__builtin_trap();
		break;
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		if (v != (m->queue_sel < d->nr_queues ? d->queue_max : 0))
			__builtin_trap();
		break;
	case VIRTIO_MMIO_QUEUE_READY:
		if (v != (m->queue_sel < d->nr_queues && d->vq[m->queue_sel].ready))
			__builtin_trap();
		break;
	}
}

/* Status 0 resets everything. */
static void check_reset(const struct virtio_mmio *m)
{
	const struct virtio_dev *d = m->dev;

	if (d->status || d->guest_features || d->isr || m->queue_sel)
		__builtin_trap();
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		if (d->vq[q].ready || m->qcfg[q].num)
			__builtin_trap();
}

/* The lowest free fd: the same after an input as before it, or an fd
 * (eventfd, io_uring, ...) leaked. */
static int free_fd(void)
{
	int fd = dup(2);

	if (fd >= 0)
		close(fd);
	return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool quiet, verbose;
	struct virtio_rng rng;
	struct virtio_mmio m;
	unsigned ops = 0, kicks = 0;
	size_t i = 1;
	uint8_t *ram;
	struct gm gm;
	int fd0;

	if (size < 1)
		return 0;
	if (!quiet) {
		/* guest errors are the point: NKVM_FUZZ_LOG=1 shows them */
		verbose = getenv("NKVM_FUZZ_LOG");
		if (!verbose)
			log_threshold = LOG_ERR;
		quiet = true;
	}
	fd0 = free_fd();
	ram = calloc(1, RAM_SIZE);
	if (!ram)
		return 0;
	gm_init_buffer(&gm, ram, RAM_SIZE);
	if (virtio_rng_init(&rng, &gm, "rng-fuzz")) {
		free(ram);
		return 0;
	}
	if (virtio_mmio_init(&m, &rng.dev, 0xd0001000, 6)) {
		virtio_dev_destroy(&rng.dev);
		free(ram);
		return 0;
	}
	rnd = (typeof(rnd)){ .armed = true, .mode = data[0], .left = RND_BUDGET };

	while (i < size && ops++ < MAX_OPS) {
		uint8_t op = data[i++], buf[8];
		unsigned len = 1u << ((op >> 2) & 3), n;
		uint64_t off;

		switch (op & 3) {
		case 0:
		case 1:
			if (size - i < 2)
				goto out;
			off = (data[i] | data[i + 1] << 8) & (VIRTIO_MMIO_SIZE - 1);
			i += 2;
			if (off + len > VIRTIO_MMIO_SIZE)
				off = VIRTIO_MMIO_SIZE - len;
			if (op & 1) {
				memset(buf, 0xcc, sizeof(buf));
				virtio_mmio_access(&m, off, buf, len, false);
				check_read(&m, off, buf, len);
				break;
			}
			memset(buf, 0, sizeof(buf));
			n = size - i < len ? (unsigned)(size - i) : len;
			memcpy(buf, data + i, n);
			i += n;
			virtio_mmio_access(&m, off, buf, len, true);
			if (off == VIRTIO_MMIO_STATUS && len == 4 && le32(buf) == 0)
				check_reset(&m);
			break;
		case 2:
			if (size - i < 2)
				goto out;
			off = (data[i] | data[i + 1] << 8) & (RAM_SIZE - 1);
			i += 2;
			n = (op >> 2) + 1u;
			if (n > size - i)
				n = (unsigned)(size - i);
			if (n > RAM_SIZE - off)
				n = (unsigned)(RAM_SIZE - off);
			memcpy(ram + off, data + i, n);
			i += n;
			break;
		case 3:
			if (kicks++ >= MAX_KICKS)
				break;
			n = (op >> 2) & 7;
			if (!(op & 0x20) && n < rng.dev.nr_queues) {
				uint64_t one = 1;

				if (write(m.kick_fd[n], &one, sizeof(one)) != sizeof(one))
					__builtin_trap();
			}
			virtio_mmio_kick(&m, n);
			break;
		}
		check_state(&rng.dev, ram);
	}
out:
	/* a queue the rng left for later (its budget) runs once more */
	virtio_mmio_kick(&m, 0);
	check_state(&rng.dev, ram);
	if (verbose)
		fprintf(stderr, "mmio: %u ops, status 0x%x, used %u, %lu kicks, %lu irqs, "
			"%lu rng bytes, %lu violations\n", ops, rng.dev.status,
			rng.dev.vq[0].used_idx, m.kicks, m.irqs, rng.bytes,
			rng.dev.violations);
	virtio_mmio_destroy(&m);
	check_reset(&m);
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		if (m.kick_fd[q] != -1)
			__builtin_trap();
	virtio_dev_destroy(&rng.dev);
	rnd.armed = false;
	free(ram);
	if (free_fd() != fd0)
		__builtin_trap();
	return 0;
}
