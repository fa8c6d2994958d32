/*
 * Block I/O through io_uring: each request has at most one SQE/CQE in the
 * ring at a time (one step, see blk_io_impl.h), so a ring of `depth`
 * entries never overflows. The completion eventfd is registered with the
 * ring, so the kernel signals it for every CQE.
 */
#include <errno.h>
#include <liburing.h>
#include <stdlib.h>

#include "nkvm/log.h"

#include "blk_io_impl.h"

struct blk_uring {
	struct io_uring ring;
};

static int uring_init(struct blk_io *io)
{
	static const int ops[] = {
		IORING_OP_NOP, IORING_OP_READV, IORING_OP_WRITEV,
		IORING_OP_FSYNC, IORING_OP_FALLOCATE,
	};
	struct io_uring_probe *probe;
	struct blk_uring *u;
	int ret;

	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	ret = io_uring_queue_init(io->depth, &u->ring, 0);
	if (ret < 0)
		goto err_free;
	/* FALLOCATE came with 5.6, as did probing: no probe, too old */
	probe = io_uring_get_probe_ring(&u->ring);
	if (!probe) {
		ret = -EOPNOTSUPP;
		goto err_exit;
	}
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (!io_uring_opcode_supported(probe, ops[i]))
			ret = -EOPNOTSUPP;
	io_uring_free_probe(probe);
	if (ret < 0)
		goto err_exit;
	ret = io_uring_register_eventfd(&u->ring, io->efd);
	if (ret < 0)
		goto err_exit;
	io->be = u;
	return 0;

err_exit:
	io_uring_queue_exit(&u->ring);
err_free:
	free(u);
	return ret;
}

static void uring_prep(struct io_uring_sqe *sqe, const struct blk_step *s)
{
	switch (s->sys) {
	case BLK_SYS_PREADV:
		io_uring_prep_readv(sqe, s->fd, s->iov, s->iovcnt, s->off);
		break;
	case BLK_SYS_PWRITEV:
		io_uring_prep_writev(sqe, s->fd, s->iov, s->iovcnt, s->off);
		break;
	case BLK_SYS_FDATASYNC:
		io_uring_prep_fsync(sqe, s->fd, IORING_FSYNC_DATASYNC);
		break;
	case BLK_SYS_FALLOCATE:
		io_uring_prep_fallocate(sqe, s->fd, s->mode, (off_t)s->off,
					(off_t)s->len);
		break;
	}
}

/* Put step s of r (or a NOP when s is NULL) into an SQE. 0 or -errno. */
static int uring_put(struct blk_uring *u, struct blk_io_req *r,
		     const struct blk_step *s)
{
	struct io_uring_sqe *sqe;
	int ret;

	sqe = io_uring_get_sqe(&u->ring);
	if (!sqe) {
		/* cannot happen with inflight <= depth <= SQ entries */
		ret = io_uring_submit(&u->ring);
		if (ret < 0)
			return ret;
		sqe = io_uring_get_sqe(&u->ring);
		if (!sqe)
			return -EAGAIN;
	}
	if (s)
		uring_prep(sqe, s);
	else
		io_uring_prep_nop(sqe);
	io_uring_sqe_set_data(sqe, r);
	return 0;
}

/* A request that needs no system call (zero length) still completes
 * through the ring, as a NOP, so reap has one path. */
static int uring_submit(struct blk_io *io, struct blk_io_req *r)
{
	struct blk_step s;

	return uring_put(io->be, r, blk_req_step(io, r, &s) ? &s : NULL);
}

static int uring_kick(struct blk_io *io)
{
	struct blk_uring *u = io->be;
	int ret;

	if (!io_uring_sq_ready(&u->ring))
		return 0;
	ret = io_uring_submit(&u->ring);
	return ret < 0 ? ret : 0;
}

/* Handle one CQE; true when its request is finished. */
static bool uring_complete(struct blk_io *io, struct io_uring_cqe *cqe)
{
	struct blk_io_req *r = io_uring_cqe_get_data(cqe);
	struct blk_uring *u = io->be;
	struct blk_step s;
	int ret;

	blk_req_advance(r, cqe->res);
	io_uring_cqe_seen(&u->ring, cqe);
	if (!blk_req_step(io, r, &s))
		return true;
	/* the rest of a short transfer, a retry, the next fallback */
	ret = uring_put(u, r, &s);
	if (ret) {
		r->priv.finished = true;
		r->result = ret;
		return true;
	}
	return false;
}

static unsigned uring_reap(struct blk_io *io, struct blk_io_req **done,
			   unsigned max, bool wait)
{
	struct blk_uring *u = io->be;
	struct io_uring_cqe *cqe;
	unsigned n = 0;
	int ret;

	for (;;) {
		/* drain before looking: a CQE posted after this signals again */
		blk_io_drain_efd(io);
		while (n < max && io_uring_peek_cqe(&u->ring, &cqe) == 0) {
			struct blk_io_req *r = io_uring_cqe_get_data(cqe);

			if (uring_complete(io, cqe))
				done[n++] = r;
		}
		if (n > 0 || !wait) {
			if (uring_kick(io))
				log_debug("blk-io: io_uring_submit failed; retrying later");
			break;
		}
		/* nothing finished yet and something is in flight */
		ret = io_uring_submit_and_wait(&u->ring, 1);
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
			log_err("blk-io: io_uring wait failed: %d", ret);
			break;
		}
	}
	/* left behind (more than max): keep the eventfd readable */
	if (io_uring_cq_ready(&u->ring))
		blk_io_signal(io);
	return n;
}

static void uring_fini(struct blk_io *io)
{
	struct blk_uring *u = io->be;

	io_uring_queue_exit(&u->ring);
	free(u);
	io->be = NULL;
}

const struct blk_io_ops blk_io_uring_ops = {
	.name = "io_uring",
	.init = uring_init,
	.submit = uring_submit,
	.kick = uring_kick,
	.reap = uring_reap,
	.fini = uring_fini,
};
