/*
 * virtio-blk (virtio 1.2 section 5.2) on a raw image file or host block
 * device, with asynchronous I/O through blk_io (io_uring or threads).
 *
 * Requests are parsed by blk_req_parse() (pure: unit-tested and fuzzed),
 * submitted to the engine with the guest's buffers as iovecs (no copy),
 * and completed from the event loop when the engine's eventfd fires.
 */
#ifndef NKVM_VIRTIO_BLK_H
#define NKVM_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>

#include "nkvm/blk_io.h"
#include "nkvm/virtio.h"

/* Feature bits (section 5.2.3). */
#define VIRTIO_BLK_F_SIZE_MAX     1
#define VIRTIO_BLK_F_SEG_MAX      2
#define VIRTIO_BLK_F_RO           5
#define VIRTIO_BLK_F_BLK_SIZE     6
#define VIRTIO_BLK_F_FLUSH        9
#define VIRTIO_BLK_F_TOPOLOGY     10
#define VIRTIO_BLK_F_MQ           12
#define VIRTIO_BLK_F_DISCARD      13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

/* Request types and status values. */
#define VIRTIO_BLK_T_IN           0
#define VIRTIO_BLK_T_OUT          1
#define VIRTIO_BLK_T_FLUSH        4
#define VIRTIO_BLK_T_GET_ID       8
#define VIRTIO_BLK_T_DISCARD      11
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_S_OK     0
#define VIRTIO_BLK_S_IOERR  1
#define VIRTIO_BLK_S_UNSUPP 2

#define VIRTIO_BLK_SECTOR 512ULL
#define VIRTIO_BLK_ID_BYTES 20
/* struct virtio_blk_config up to and including the write-zeroes fields. */
#define VIRTIO_BLK_CONFIG_SIZE 60
/* Largest discard / write-zeroes request (sectors): 1 GiB. */
#define VIRTIO_BLK_MAX_DISCARD_SECTORS (1U << 21)
/* Data segments per request we advertise (seg_max): what a vq_chain
 * holds, less the header and status descriptors. */
#define VIRTIO_BLK_SEG_MAX (VQ_MAX_SEGS - 2)

/* What a device offers and enforces; the request parser's whole input
 * besides the chain. */
struct blk_limits {
	uint64_t capacity;        /* sectors */
	bool ro;
	bool discard, write_zeroes;
	unsigned logical_block;   /* bytes, a multiple of 512 */
};

/* A parsed request: what to do and where the status byte goes. */
struct blk_req {
	struct blk_io_req io;     /* READ/WRITE/FLUSH/DISCARD/WRITE_ZEROES */
	bool submit;              /* true: hand io to the engine */
	uint8_t status;           /* final status when !submit */
	uint8_t *status_ptr;      /* the last writable byte (host pointer) */
	uint32_t type;
	uint32_t written;         /* used length to report, status included */
	uint16_t head;            /* chain head, for vq_push */
	unsigned q;
	struct iovec iov[VIRTIO_BLK_SEG_MAX + 2];
	struct blk_req *next_free;
};

/*
 * Parse one chain into *req. Returns 0 with req filled (either an I/O to
 * submit, or a final status such as IOERR for a request past the end, or
 * UNSUPP for an unknown type, with GET_ID already answered from serial),
 * or -EINVAL when the chain cannot be a request at all (header shorter
 * than 16 bytes, no writable status byte): the device then needs reset.
 */
int blk_req_parse(const struct blk_limits *lim, const char *serial,
		  struct vq_chain *chain, struct blk_req *req)
	__attribute__((warn_unused_result));

struct evl;

struct virtio_blk_opts {
	const char *path;
	bool ro, direct;
	const char *serial;       /* up to 20 bytes, NULL: none */
	enum blk_io_kind io_kind;
};

struct virtio_blk {
	struct virtio_dev dev;
	int fd;                   /* the image (owned by the caller) */
	struct blk_limits lim;
	char serial[VIRTIO_BLK_ID_BYTES];
	struct blk_io *io;
	struct evl *evl;
	struct blk_req *free_reqs; /* recycled requests */
	unsigned nr_reqs;          /* allocated, in flight or free */
	uint8_t config[VIRTIO_BLK_CONFIG_SIZE];
	/* statistics */
	unsigned long reads, writes, flushes, discards, errors, rejected;
	uint64_t read_bytes, written_bytes;
};

/*
 * Set up a disk on an open image fd of `size` bytes (sectors beyond the
 * last whole one are not exposed), registering its completion fd with the
 * event loop. 0 or -errno.
 */
int virtio_blk_init(struct virtio_blk *b, const struct gm *gm, struct evl *evl,
		    const char *name, int fd, uint64_t size,
		    unsigned logical_block, const struct virtio_blk_opts *o)
	__attribute__((warn_unused_result));

/* Drain and free the engine and requests (after the transport's reset). */
void virtio_blk_destroy(struct virtio_blk *b);

/*
 * Change the image under a running disk (the API's PATCH /drives, media
 * change): under the device's lock, complete every request in flight on
 * the old fd, switch to `fd` of `size` bytes, and send a config-change
 * interrupt so the driver reads the new capacity. The logical block size
 * cannot change (the driver reads it once). 0 or -EINVAL; the caller
 * closes the old image afterwards.
 */
int virtio_blk_swap(struct virtio_blk *b, int fd, uint64_t size, unsigned logical_block)
	__attribute__((warn_unused_result));

/* Run completions now (the event loop calls this when the engine's fd is
 * readable; tests and benchmarks call it directly). */
void virtio_blk_complete(struct virtio_blk *b, bool wait);

#endif
