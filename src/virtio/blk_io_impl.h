/*
 * Inside the block I/O engine: what blk_io.c shares with its two back ends
 * (blk_io_uring.c, blk_io_threads.c).
 *
 * A request runs as a sequence of steps, each one system call (preadv,
 * pwritev, fdatasync, fallocate). blk_req_step() says what the next step is,
 * blk_req_advance() takes its result: short transfers continue with the
 * rest, -EAGAIN/-EINTR repeat the step, WRITE_ZEROES walks its fallbacks.
 * The back ends only run steps, so both behave the same way.
 */
#ifndef NKVM_BLK_IO_IMPL_H
#define NKVM_BLK_IO_IMPL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "nkvm/blk_io.h"

enum blk_sys { BLK_SYS_PREADV, BLK_SYS_PWRITEV, BLK_SYS_FDATASYNC, BLK_SYS_FALLOCATE };

/* One system call to make for a request. */
struct blk_step {
	enum blk_sys sys;
	int fd;
	const struct iovec *iov; /* PREADV/PWRITEV */
	unsigned iovcnt;
	uint64_t off;
	uint64_t len;            /* FALLOCATE */
	int mode;                /* FALLOCATE */
};

struct blk_io_ops {
	const char *name;
	/* Set up io->be; 0 or -errno (the caller then tries another back end). */
	int (*init)(struct blk_io *io);
	/* Queue a started request (blk_req_step may already say it is done). */
	int (*submit)(struct blk_io *io, struct blk_io_req *r);
	int (*kick)(struct blk_io *io);
	unsigned (*reap)(struct blk_io *io, struct blk_io_req **done,
			 unsigned max, bool wait);
	/* Nothing is in flight any more: free io->be. */
	void (*fini)(struct blk_io *io);
};

struct blk_io {
	const struct blk_io_ops *ops;
	enum blk_io_kind kind;
	unsigned depth;
	unsigned inflight;       /* submitted and not reaped (owner thread only) */
	bool direct;
	int efd;
	void *zeroes;            /* BLK_ZERO_CHUNK zero bytes, aligned, read-only */
	void *be;                /* the back end's state */
};

/* WRITE_ZEROES without fallocate writes this much per step. */
#define BLK_ZERO_CHUNK (64u << 10)

extern const struct blk_io_ops blk_io_uring_ops;
extern const struct blk_io_ops blk_io_threads_ops;

/* The next step of r into *s; false when r is finished (r->result set). */
bool blk_req_step(const struct blk_io *io, struct blk_io_req *r, struct blk_step *s);

/* Account the result (bytes or -errno) of the step blk_req_step gave. */
void blk_req_advance(struct blk_io_req *r, long res);

/* Make the eventfd readable (a completion is waiting). */
void blk_io_signal(const struct blk_io *io);

/* Reset the eventfd counter before looking for completions. */
void blk_io_drain_efd(const struct blk_io *io);

#endif
