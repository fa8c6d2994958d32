/*
 * Asynchronous file I/O for the block device models: io_uring when the host
 * allows it, otherwise a small pool of worker threads, behind one interface.
 *
 * Calls on one engine must not run concurrently: make them from one thread
 * (the device's event loop) or under one lock (the device mutex); only the
 * engine's own workers run beside them. The loop polls blk_io_event_fd()
 * and calls blk_io_reap() when it is readable. Nothing blocks except
 * blk_io_reap(wait=true) and blk_io_destroy().
 *
 * Requests belong to the caller and must stay valid, with their iovecs and
 * buffers, from blk_io_submit() until blk_io_reap() hands them back. At most
 * `depth` requests are in flight (submitted, not yet reaped); there is no
 * other queue, so memory use is bounded by depth.
 *
 * Environment: NKVM_BLK_IO=uring or NKVM_BLK_IO=threads picks the engine for
 * callers asking for BLK_IO_AUTO (tests and debugging use it to exercise one
 * path); an explicit kind from the caller is never overridden.
 */
#ifndef NKVM_BLK_IO_H
#define NKVM_BLK_IO_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

enum blk_io_op {
	BLK_IO_READ,         /* preadv */
	BLK_IO_WRITE,        /* pwritev */
	BLK_IO_FLUSH,        /* fdatasync */
	BLK_IO_DISCARD,      /* punch a hole; -EOPNOTSUPP where the file cannot */
	BLK_IO_WRITE_ZEROES, /* the range reads as zeroes afterwards */
};

enum blk_io_kind { BLK_IO_AUTO, BLK_IO_URING, BLK_IO_THREADS };

/* Largest depth blk_io_create accepts. */
#define BLK_IO_MAX_DEPTH 4096
/* Most iovecs in one READ/WRITE request (the kernel's UIO_MAXIOV). */
#define BLK_IO_MAX_IOV 1024
/*
 * With direct=true, a READ/WRITE whose iovecs are not all aligned to this
 * (base and length) goes through an aligned bounce buffer. The offset and
 * total length must still be multiples of the image's logical block: a
 * bounce buffer cannot fix those without read-modify-write.
 */
#define BLK_IO_DIRECT_ALIGN 4096

/* What the engine keeps per request; nothing here is for the caller. */
struct blk_io_req_priv {
	struct blk_io_req *next; /* queue link (worker threads) */
	uint64_t total;          /* READ/WRITE: sum of iov lengths */
	uint64_t done;           /* bytes transferred so far */
	void *bounce;            /* aligned copy of the data (O_DIRECT) */
	struct iovec part;       /* the one iovec of a partial step */
	unsigned stage;          /* WRITE_ZEROES: which fallback is running */
	unsigned retries;        /* -EAGAIN/-EINTR resubmissions */
	bool finished;           /* result is final */
};

struct blk_io_req {
	enum blk_io_op op;
	int fd;
	uint64_t offset;         /* bytes */
	uint64_t len;            /* DISCARD/WRITE_ZEROES: bytes; else ignored */
	bool unmap;              /* WRITE_ZEROES: may deallocate the range */
	const struct iovec *iov; /* READ/WRITE buffers */
	unsigned iovcnt;
	int result;              /* when reaped: 0, or -errno (short = -EIO) */
	void *opaque;            /* the caller's */
	struct blk_io_req_priv priv;
};

struct blk_io;

/*
 * Create an engine for up to `depth` (1..BLK_IO_MAX_DEPTH) requests in
 * flight. BLK_IO_AUTO (or NKVM_BLK_IO, see above) tries io_uring and falls
 * back to worker threads when the host refuses it (no io_uring, seccomp,
 * io_uring_disabled, memlock limits, missing opcodes); BLK_IO_URING and
 * BLK_IO_THREADS fail rather than fall back. direct: the fds given in
 * requests are O_DIRECT (misaligned buffers are bounced). 0 or -errno.
 */
int blk_io_create(struct blk_io **out, enum blk_io_kind kind, unsigned depth,
		  bool direct) __attribute__((warn_unused_result));

/* Which engine runs: BLK_IO_URING or BLK_IO_THREADS. */
enum blk_io_kind blk_io_kind(const struct blk_io *io);

/* "auto", "io_uring" or "threads". */
const char *blk_io_kind_name(enum blk_io_kind k);

/* An eventfd (EFD_NONBLOCK|EFD_CLOEXEC) that is readable while completions
 * wait to be reaped. The engine owns it. */
int blk_io_event_fd(const struct blk_io *io);

/*
 * Queue a request; it may wait for blk_io_kick() before it starts. Checks
 * the op, the iovec count and that offset + length fits in off_t. Returns 0,
 * -EAGAIN when depth requests are in flight, -EINVAL for a malformed request
 * or -ENOMEM (bounce buffer); on error the request is not the engine's.
 */
int blk_io_submit(struct blk_io *io, struct blk_io_req *r)
	__attribute__((warn_unused_result));

/* Start everything queued since the last kick (one io_uring_submit, or one
 * wake-up of the workers). 0 or -errno from io_uring_submit (the requests
 * stay queued and the next kick or reap retries). */
int blk_io_kick(struct blk_io *io) __attribute__((warn_unused_result));

/*
 * Hand back up to `max` completed requests in `done`, with their result set,
 * and return how many. Short transfers and -EAGAIN/-EINTR are resubmitted
 * here, not handed back. wait=true kicks anything queued and blocks until at
 * least one request completes, unless none is in flight; wait=false never
 * blocks. Completions left behind (more than max) keep the eventfd readable.
 */
unsigned blk_io_reap(struct blk_io *io, struct blk_io_req **done, unsigned max,
		     bool wait);

/* Requests submitted and not yet reaped. */
unsigned blk_io_inflight(const struct blk_io *io);

/* Wait for everything in flight (queued requests are started first; their
 * results are dropped), then free the engine. NULL is fine. */
void blk_io_destroy(struct blk_io *io);

#endif
