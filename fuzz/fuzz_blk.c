/*
 * libFuzzer harness for virtio-blk end to end (src/virtio/blk.c, blk_req.c,
 * blk_io*.c), driven through the virtio-mmio transport (src/virtio/mmio.c)
 * the way a guest driver does it.
 *
 * Input: a 16-byte header, then the contents of a 64 KiB guest RAM at gpa 0
 * (zero-filled past the input; malloc'd at its exact size so ASan sees any
 * access past it). The guest RAM holds the rings, request headers, discard
 * segments, data and status bytes; the header picks the device and the
 * queue geometry:
 *
 *   [0]      bit 0 read-only; bits 1-2 logical block 512 << n; bit 3 worker
 *            threads (else io_uring, five times faster to set up and tear
 *            down per input); bit 4 reset (status 0) with the I/O
 *            still in flight; bit 5 tear down (virtio_mmio_destroy) with the
 *            I/O in flight; bits 6-7 serial: none, short, exactly 20, long
 *   [1]      bit 7 clear: queue size 1 << (bits 0-3); set: bits 0-6 raw
 *   [2..3]   desc gpa, [4..5] avail gpa, [6..7] used gpa (LE)
 *   [8..9]   avail->idx, written into the avail ring (LE)
 *   [10]     driver features: bit 0 SEG_MAX, 1 BLK_SIZE, 2 FLUSH, 3 RO,
 *            4 DISCARD, 5 WRITE_ZEROES, 6 INDIRECT_DESC, 7 EVENT_IDX (only
 *            offered ones are accepted; VERSION_1 always)
 *   [11]     image size given to the device: 1 MiB - 512 * (bits 0-3)
 *   [12]     second round: make this many more entries available, kick again
 *   [13]     bit 0: the engine's O_DIRECT mode, so misaligned buffers go
 *            through bounce buffers (the memfd is not O_DIRECT itself; the
 *            engine does not need it to be)
 *   [14..15] unused
 *
 * First, on a copy of RAM, every chain the queue holds goes through
 * blk_req_parse() directly and the result is checked (data iovecs inside
 * RAM and adding up, range inside the disk, status byte the last writable
 * byte, ...). Then the device runs: features, queue setup and DRIVER_OK
 * through virtio_mmio_access(), a QueueNotify write and virtio_mmio_kick(),
 * completions until nothing is in flight, maybe a second round, reset,
 * destroy. The image is a memfd of 1 MiB + 4 KiB created once; whatever
 * lies past the capacity the device was given is a canary that must stay
 * intact, and the file must keep its size. Every broken invariant traps.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nkvm/gm.h"
#include "nkvm/log.h"
#include "nkvm/virtio_blk.h"
#include "nkvm/virtio_mmio.h"
#include "nkvm/virtq.h"

#define RAM_SIZE   (64 * 1024)
#define HDR_SIZE   16
#define IMG_SIZE   (1024 * 1024)
#define FILE_SIZE  (IMG_SIZE + 4096)
#define CANARY     0xa5
#define MAX_WAITS  4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int img_fd = -1;
static bool verbose;	/* NKVM_FUZZ_LOG=1: logs and a line per input */
/* past the capacity: at most the 4 KiB tail, 15 trimmed sectors and a
 * partial logical block */
static uint8_t canary[FILE_SIZE - IMG_SIZE + 16 * 1024];
static uint8_t readback[sizeof(canary)];

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static void reg_write(struct virtio_mmio *m, uint64_t off, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
			 (uint8_t)(v >> 24) };

	virtio_mmio_access(m, off, b, 4, true);
}

static uint32_t reg_read(struct virtio_mmio *m, uint64_t off)
{
	uint8_t b[4];

	virtio_mmio_access(m, off, b, 4, false);
	return b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24;
}

/* Once per process: the image, and quiet logs (NKVM_FUZZ_LOG=1 keeps them). */
static int setup_once(void)
{
	if (img_fd >= 0)
		return 0;
	verbose = getenv("NKVM_FUZZ_LOG");
	if (!verbose)
		log_threshold = LOG_ERR;
	img_fd = memfd_create("nkvm-fuzz-blk", MFD_CLOEXEC);
	if (img_fd < 0)
		return -1;
	memset(canary, CANARY, sizeof(canary));
	return 0;
}

/* Fresh image every input, so nothing carries over between inputs: zeroes
 * up to the capacity, the canary from there to the end of the file. */
static int image_reset(uint64_t cap_bytes)
{
	size_t n = FILE_SIZE - cap_bytes;

	if (ftruncate(img_fd, 0) || ftruncate(img_fd, FILE_SIZE))
		return -1;
	if (n > sizeof(canary) ||
	    pwrite(img_fd, canary, n, (off_t)cap_bytes) != (ssize_t)n)
		return -1;
	return 0;
}

static void image_check(uint64_t cap_bytes)
{
	size_t n = FILE_SIZE - cap_bytes;
	struct stat st;

	if (fstat(img_fd, &st) || st.st_size != FILE_SIZE)
		__builtin_trap();
	if (pread(img_fd, readback, n, (off_t)cap_bytes) != (ssize_t)n ||
	    memcmp(readback, canary, n))
		__builtin_trap();
}

static bool in_ram(const void *p, uint64_t len, const uint8_t *ram)
{
	const uint8_t *b = p;

	return b >= ram && b <= ram + RAM_SIZE &&
	       len <= (uint64_t)(ram + RAM_SIZE - b);
}

/* What blk_req_parse must guarantee about one parsed chain. */
static void check_req(const struct blk_limits *lim, struct vq_chain *c,
		      const struct blk_req *r, const uint8_t *ram)
{
	const struct iovec *last = &vq_chain_in(c)[c->nr_in - 1];
	uint64_t total = 0, cap = lim->capacity * VIRTIO_BLK_SECTOR;

	if (r->head != c->head || !in_ram(r->status_ptr, 1, ram) ||
	    r->status_ptr != (uint8_t *)last->iov_base + last->iov_len - 1)
		__builtin_trap();
	if (r->written < 1 || r->written > c->in_len)
		__builtin_trap();
	if (!r->submit) {
		if (r->status > VIRTIO_BLK_S_UNSUPP ||
		    (r->status != VIRTIO_BLK_S_OK && r->written != 1))
			__builtin_trap();
		if (r->status == VIRTIO_BLK_S_OK && r->type == VIRTIO_BLK_T_GET_ID &&
		    r->written != (c->in_len - 1 < VIRTIO_BLK_ID_BYTES ?
				   c->in_len - 1 : VIRTIO_BLK_ID_BYTES) + 1)
			__builtin_trap();
		return;
	}
	if (r->status != VIRTIO_BLK_S_OK)
		__builtin_trap();
	switch (r->io.op) {
	case BLK_IO_READ:
	case BLK_IO_WRITE:
		if (r->type != (r->io.op == BLK_IO_READ ? VIRTIO_BLK_T_IN :
				VIRTIO_BLK_T_OUT) ||
		    (r->io.op == BLK_IO_WRITE && lim->ro) ||
		    r->io.iov != r->iov || r->io.iovcnt == 0 ||
		    r->io.iovcnt > VIRTIO_BLK_SEG_MAX)
			__builtin_trap();
		for (unsigned i = 0; i < r->io.iovcnt; i++) {
			if (r->iov[i].iov_len == 0 ||
			    !in_ram(r->iov[i].iov_base, r->iov[i].iov_len, ram))
				__builtin_trap();
			total += r->iov[i].iov_len;
		}
		if (total != (r->io.op == BLK_IO_READ ? c->in_len - 1 :
			      c->out_len - 16) ||
		    (r->io.op == BLK_IO_READ && r->written != total + 1))
			__builtin_trap();
		break;
	case BLK_IO_FLUSH:
		if (r->type != VIRTIO_BLK_T_FLUSH || lim->ro)
			__builtin_trap();
		return;
	case BLK_IO_DISCARD:
	case BLK_IO_WRITE_ZEROES:
		if (r->type != (r->io.op == BLK_IO_DISCARD ? VIRTIO_BLK_T_DISCARD :
				VIRTIO_BLK_T_WRITE_ZEROES) ||
		    lim->ro || r->io.len == 0 ||
		    r->io.len > VIRTIO_BLK_MAX_DISCARD_SECTORS * VIRTIO_BLK_SECTOR ||
		    (r->io.op == BLK_IO_DISCARD && r->io.unmap))
			__builtin_trap();
		total = r->io.len;
		break;
	default:
		__builtin_trap();
	}
	if (r->io.offset % lim->logical_block || total % lim->logical_block ||
	    r->io.offset > cap || total > cap - r->io.offset)
		__builtin_trap();
}

/* blk_req_parse on every chain of the queue, on a copy of guest RAM (the
 * device run below must start from the input's RAM, not what this did). */
static void parse_all(const uint8_t *ram_in, const struct blk_limits *lim,
		      const char *serial, uint16_t qsize, uint64_t desc,
		      uint64_t avail, uint64_t used, bool indirect, bool event_idx)
{
	static struct vq_chain chain;
	static struct blk_req req;
	struct virtq vq;
	uint8_t *ram;
	struct gm gm;
	int ret;

	ram = malloc(RAM_SIZE);
	if (!ram)
		return;
	memcpy(ram, ram_in, RAM_SIZE);
	gm_init_buffer(&gm, ram, RAM_SIZE);
	vq_init(&vq, "fuzz-parse");
	if (vq_setup(&vq, &gm, qsize, desc, avail, used, indirect, event_idx) == 0) {
		for (unsigned n = 0; n < qsize && vq_pop(&vq, &chain) == 0; n++) {
			memset(&req, 0x5a, sizeof(req));
			ret = blk_req_parse(lim, serial, &chain, &req);
			if (ret == -EINVAL) {
				if (chain.nr_in && chain.out_len >= 16)
					__builtin_trap();
			} else if (ret != 0 || !chain.nr_in || chain.out_len < 16) {
				__builtin_trap();
			} else {
				check_req(lim, &chain, &req, ram);
			}
			if (vq_push(&vq, chain.head, req.written))
				__builtin_trap();
		}
	}
	vq_reset(&vq);
	free(ram);
}

/* Reap until nothing is in flight (each wait returns at least one). */
static void complete_all(struct virtio_blk *b)
{
	unsigned waits = 0;

	pthread_mutex_lock(&b->dev.lock);
	while (blk_io_inflight(b->io)) {
		if (++waits > MAX_WAITS)
			__builtin_trap();
		virtio_blk_complete(b, true);
	}
	pthread_mutex_unlock(&b->dev.lock);
}

static void kick(struct virtio_mmio *m)
{
	reg_write(m, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	virtio_mmio_kick(m, 0);
}

/* After everything completed: every chain popped was pushed back, unless
 * the device gave up on the guest (NEEDS_RESET). */
static void check_quiet(struct virtio_blk *b)
{
	if (blk_io_inflight(b->io) || b->nr_reqs > 256 + 1)
		__builtin_trap();
	if (virtio_queue_live(&b->dev, 0) && b->dev.vq[0].nr_inflight)
		__builtin_trap();
}

static const char *const serials[] = {
	NULL, "fz", "nkvm-fuzz-serial-20b", "nkvm-fuzz-serial-too-long",
};

/* Offered feature per bit of header byte 10. */
static const uint8_t feat_bits[8] = {
	VIRTIO_BLK_F_SEG_MAX, VIRTIO_BLK_F_BLK_SIZE, VIRTIO_BLK_F_FLUSH,
	VIRTIO_BLK_F_RO, VIRTIO_BLK_F_DISCARD, VIRTIO_BLK_F_WRITE_ZEROES,
	VIRTIO_F_INDIRECT_DESC, VIRTIO_F_EVENT_IDX,
};

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
	struct virtio_blk blk, *b = &blk;
	struct virtio_mmio m;
	struct virtio_blk_opts o = { 0 };
	uint64_t host, want = 1ULL << VIRTIO_F_VERSION_1, cap_bytes;
	uint16_t qsize, desc, avail, used;
	uint8_t f, *ram;
	struct gm gm;
	int fd0;

	if (size < HDR_SIZE || setup_once())
		return 0;
	fd0 = free_fd();
	f = data[0];
	qsize = data[1] & 0x80 ? data[1] & 0x7f : (uint16_t)(1u << (data[1] & 0xf));
	desc = get16(data + 2);
	avail = get16(data + 4);
	used = get16(data + 6);

	ram = calloc(1, RAM_SIZE);
	if (!ram)
		return 0;
	memcpy(ram, data + HDR_SIZE,
	       size - HDR_SIZE < RAM_SIZE ? size - HDR_SIZE : RAM_SIZE);
	if ((uint32_t)avail + 4 <= RAM_SIZE)
		memcpy(ram + avail + 2, data + 8, 2);
	gm_init_buffer(&gm, ram, RAM_SIZE);

	o.ro = f & 1;
	o.direct = data[13] & 1;
	o.serial = serials[f >> 6];
	o.io_kind = f & 8 ? BLK_IO_THREADS : BLK_IO_URING;
	if (virtio_blk_init(b, &gm, NULL, "blk-fuzz", img_fd,
			    IMG_SIZE - 512 * (data[11] & 15),
			    512u << ((f >> 1) & 3), &o)) {
		/* no io_uring here (seccomp, limits): threads instead */
		o.io_kind = BLK_IO_THREADS;
		if (virtio_blk_init(b, &gm, NULL, "blk-fuzz", img_fd,
				    IMG_SIZE - 512 * (data[11] & 15),
				    512u << ((f >> 1) & 3), &o)) {
			free(ram);
			return 0;
		}
	}
	cap_bytes = b->lim.capacity * VIRTIO_BLK_SECTOR;
	if (cap_bytes > IMG_SIZE)
		__builtin_trap();
	if (image_reset(cap_bytes) || virtio_mmio_init(&m, &b->dev, 0xd0000000, 5)) {
		virtio_blk_destroy(b);
		free(ram);
		return 0;
	}

	/* the driver's side: features, queue 0, DRIVER_OK */
	reg_write(&m, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	reg_write(&m, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE |
		  VIRTIO_STATUS_DRIVER);
	host = reg_read(&m, VIRTIO_MMIO_DEVICE_FEATURES);
	reg_write(&m, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	host |= (uint64_t)reg_read(&m, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	if (host != b->dev.host_features)
		__builtin_trap();
	for (unsigned i = 0; i < 8; i++)
		if (data[10] & (1u << i))
			want |= 1ULL << feat_bits[i];
	want &= host;
	reg_write(&m, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)want);
	reg_write(&m, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	reg_write(&m, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(want >> 32));
	reg_write(&m, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE |
		  VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	if (!(reg_read(&m, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK))
		__builtin_trap();
	if (reg_read(&m, VIRTIO_MMIO_CONFIG) != (uint32_t)b->lim.capacity)
		__builtin_trap();
	reg_write(&m, VIRTIO_MMIO_QUEUE_SEL, 0);
	reg_write(&m, VIRTIO_MMIO_QUEUE_NUM, qsize);
	reg_write(&m, VIRTIO_MMIO_QUEUE_DESC_LOW, desc);
	reg_write(&m, VIRTIO_MMIO_QUEUE_AVAIL_LOW, avail);
	reg_write(&m, VIRTIO_MMIO_QUEUE_USED_LOW, used);
	reg_write(&m, VIRTIO_MMIO_QUEUE_READY, 1);
	reg_write(&m, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE |
		  VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
		  VIRTIO_STATUS_DRIVER_OK);

	/* the parser alone first, on the chains the device is about to see */
	if (b->dev.vq[0].ready)
		parse_all(ram, &b->lim, b->serial, qsize, desc, avail, used,
			  virtio_has(&b->dev, VIRTIO_F_INDIRECT_DESC),
			  virtio_has(&b->dev, VIRTIO_F_EVENT_IDX));

	kick(&m);
	if (f & 0x10) {
		/* reset with the I/O in flight: it must be drained */
		reg_write(&m, VIRTIO_MMIO_STATUS, 0);
		if (blk_io_inflight(b->io) || b->dev.status || b->dev.vq[0].ready)
			__builtin_trap();
	} else if (!(f & 0x20)) {
		complete_all(b);
		check_quiet(b);
		if (data[12] && b->dev.vq[0].ready && (uint32_t)avail + 4 <= RAM_SIZE) {
			uint16_t idx = (uint16_t)(get16(ram + avail + 2) + data[12]);

			ram[avail + 2] = (uint8_t)idx;
			ram[avail + 3] = (uint8_t)(idx >> 8);
			kick(&m);
			complete_all(b);
			check_quiet(b);
		}
		if (verbose)
			fprintf(stderr, "blk: status 0x%x used %u isr %u: %lu reads %lu writes "
				"%lu flushes %lu discards, %lu errors, %lu rejected\n",
				b->dev.status, b->dev.vq[0].used_idx, b->dev.isr, b->reads,
				b->writes, b->flushes, b->discards, b->errors, b->rejected);
		reg_read(&m, VIRTIO_MMIO_INTERRUPT_STATUS);
		reg_write(&m, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_INT_VRING |
			  VIRTIO_INT_CONFIG);
		reg_write(&m, VIRTIO_MMIO_STATUS, 0);
		if (reg_read(&m, VIRTIO_MMIO_STATUS) || b->dev.vq[0].ready)
			__builtin_trap();
	}
	/* with bit 5 the transport's teardown is what drains the I/O */
	virtio_mmio_destroy(&m);
	if (blk_io_inflight(b->io))
		__builtin_trap();
	virtio_blk_destroy(b);
	image_check(cap_bytes);
	free(ram);
	if (free_fd() != fd0)
		__builtin_trap();
	return 0;
}
