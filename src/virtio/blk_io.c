/*
 * Block I/O engine, the part both back ends share: engine selection,
 * request checks, O_DIRECT bounce buffers, and the per-request step
 * machine (see blk_io_impl.h) that turns a request into system calls.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "nkvm/blk_io.h"
#include "nkvm/log.h"

#include "blk_io_impl.h"

/* -EAGAIN/-EINTR in a row before a step's error is reported as it is. */
#define BLK_MAX_RETRIES 16
/* Consecutive empty reap(wait=true) rounds before destroy gives up. */
#define BLK_DESTROY_TRIES 1000

static void req_finish(struct blk_io_req *r, int result)
{
	r->priv.finished = true;
	r->result = result;
}

/* READ/WRITE: the rest of the transfer, from the bounce buffer or from the
 * caller's iovecs. A step that starts inside an iovec carries just the rest
 * of that one iovec (priv.part): short transfers are rare, and this needs
 * no copy of the caller's array. */
static bool rw_step(struct blk_io_req *r, struct blk_step *s)
{
	struct blk_io_req_priv *p = &r->priv;
	uint64_t skip = p->done;
	unsigned k = 0;

	if (p->done >= p->total) {
		req_finish(r, 0);
		return false;
	}
	s->sys = r->op == BLK_IO_READ ? BLK_SYS_PREADV : BLK_SYS_PWRITEV;
	s->off = r->offset + p->done;
	if (p->bounce) {
		p->part.iov_base = (char *)p->bounce + p->done;
		p->part.iov_len = p->total - p->done;
		s->iov = &p->part;
		s->iovcnt = 1;
		return true;
	}
	/* done < total, so this stops inside the array */
	while (k < r->iovcnt && skip >= r->iov[k].iov_len) {
		skip -= r->iov[k].iov_len;
		k++;
	}
	if (skip == 0) {
		s->iov = r->iov + k;
		s->iovcnt = r->iovcnt - k;
	} else {
		p->part.iov_base = (char *)r->iov[k].iov_base + skip;
		p->part.iov_len = r->iov[k].iov_len - skip;
		s->iov = &p->part;
		s->iovcnt = 1;
	}
	return true;
}

/* WRITE_ZEROES: stage 0 and 1 are the two fallocate modes (the unmapping
 * one first when allowed), stage 2 writes zeroes. */
static bool zeroes_step(const struct blk_io *io, struct blk_io_req *r,
			struct blk_step *s)
{
	static const int punch = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	static const int zero = FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
	struct blk_io_req_priv *p = &r->priv;
	uint64_t left = r->len - p->done;

	if (p->stage < 2) {
		s->sys = BLK_SYS_FALLOCATE;
		s->mode = (p->stage == 0) == r->unmap ? punch : zero;
		s->off = r->offset;
		s->len = r->len;
		return true;
	}
	if (left == 0) {
		req_finish(r, 0);
		return false;
	}
	p->part.iov_base = io->zeroes;
	p->part.iov_len = left < BLK_ZERO_CHUNK ? left : BLK_ZERO_CHUNK;
	s->sys = BLK_SYS_PWRITEV;
	s->iov = &p->part;
	s->iovcnt = 1;
	s->off = r->offset + p->done;
	return true;
}

/* Fill *s with the next system call r needs; false when r is finished. */
bool blk_req_step(const struct blk_io *io, struct blk_io_req *r, struct blk_step *s)
{
	memset(s, 0, sizeof(*s));
	s->fd = r->fd;
	if (r->priv.finished)
		return false;
	switch (r->op) {
	case BLK_IO_READ:
	case BLK_IO_WRITE:
		return rw_step(r, s);
	case BLK_IO_FLUSH:
		s->sys = BLK_SYS_FDATASYNC;
		return true;
	case BLK_IO_DISCARD:
		if (r->len == 0)
			break;
		s->sys = BLK_SYS_FALLOCATE;
		s->mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
		s->off = r->offset;
		s->len = r->len;
		return true;
	case BLK_IO_WRITE_ZEROES:
		if (r->len == 0)
			break;
		return zeroes_step(io, r, s);
	}
	/* nothing to do (zero length) */
	req_finish(r, 0);
	return false;
}

/* A transfer step moved res bytes (or failed). 0 bytes for a non-empty
 * step means end of file (read) or a device that takes nothing (write):
 * neither will get better, so the request fails with -EIO. */
static void transfer_advance(struct blk_io_req *r, long res, uint64_t want)
{
	struct blk_io_req_priv *p = &r->priv;

	if (res < 0)
		req_finish(r, (int)res);
	else if (res == 0)
		req_finish(r, -EIO);
	else
		p->done += (uint64_t)res < want - p->done ? (uint64_t)res : want - p->done;
}

/* Take the result of the step blk_req_step last gave for r. */
void blk_req_advance(struct blk_io_req *r, long res)
{
	struct blk_io_req_priv *p = &r->priv;

	if (p->finished)
		return;
	if (res == -EAGAIN || res == -EINTR) {
		if (p->retries++ < BLK_MAX_RETRIES)
			return; /* the same step again */
	} else {
		p->retries = 0;
	}
	switch (r->op) {
	case BLK_IO_READ:
	case BLK_IO_WRITE:
		transfer_advance(r, res, p->total);
		break;
	case BLK_IO_FLUSH:
	case BLK_IO_DISCARD:
		req_finish(r, res < 0 ? (int)res : 0);
		break;
	case BLK_IO_WRITE_ZEROES:
		if (p->stage == 2)
			transfer_advance(r, res, r->len);
		else if (res >= 0)
			req_finish(r, 0);
		else if (res == -EOPNOTSUPP || res == -EINVAL)
			p->stage++; /* this mode is not supported here: the next one */
		else
			req_finish(r, (int)res);
		break;
	}
}

/* Make the eventfd readable. */
void blk_io_signal(const struct blk_io *io)
{
	uint64_t one = 1;
	ssize_t n;

	do
		n = write(io->efd, &one, sizeof(one));
	while (n < 0 && errno == EINTR);
	/* EAGAIN means the counter is nearly 2^64: readable anyway */
}

/* Reset the eventfd counter (non-blocking). */
void blk_io_drain_efd(const struct blk_io *io)
{
	uint64_t v;
	ssize_t n;

	do
		n = read(io->efd, &v, sizeof(v));
	while (n < 0 && errno == EINTR);
}

static bool iov_aligned(const struct iovec *iov, unsigned cnt)
{
	for (unsigned i = 0; i < cnt; i++)
		if ((uintptr_t)iov[i].iov_base % BLK_IO_DIRECT_ALIGN ||
		    iov[i].iov_len % BLK_IO_DIRECT_ALIGN)
			return false;
	return true;
}

/* Check r and reset its private part; set up a bounce buffer when an
 * O_DIRECT transfer has misaligned memory. 0, -EINVAL or -ENOMEM. */
static int req_start(const struct blk_io *io, struct blk_io_req *r)
{
	struct blk_io_req_priv *p = &r->priv;
	uint64_t total = 0;
	size_t sz;

	/* r->result is left alone: the engine sets it when r finishes */
	memset(p, 0, sizeof(*p));
	switch (r->op) {
	case BLK_IO_READ:
	case BLK_IO_WRITE:
		if (r->iovcnt > BLK_IO_MAX_IOV || (r->iovcnt && !r->iov))
			return -EINVAL;
		for (unsigned i = 0; i < r->iovcnt; i++) {
			if (r->iov[i].iov_len > INT64_MAX - total)
				return -EINVAL;
			total += r->iov[i].iov_len;
		}
		break;
	case BLK_IO_DISCARD:
	case BLK_IO_WRITE_ZEROES:
		total = r->len;
		break;
	case BLK_IO_FLUSH:
		return 0;
	default:
		return -EINVAL;
	}
	/* offset + length must fit in off_t */
	if (total > INT64_MAX || r->offset > INT64_MAX - total)
		return -EINVAL;
	if (r->op != BLK_IO_READ && r->op != BLK_IO_WRITE)
		return 0;
	p->total = total;
	if (!io->direct || total == 0 || iov_aligned(r->iov, r->iovcnt))
		return 0;
	if (total > SIZE_MAX - BLK_IO_DIRECT_ALIGN)
		return -ENOMEM;
	sz = (total + BLK_IO_DIRECT_ALIGN - 1) & ~(size_t)(BLK_IO_DIRECT_ALIGN - 1);
	if (posix_memalign(&p->bounce, BLK_IO_DIRECT_ALIGN, sz)) {
		p->bounce = NULL;
		return -ENOMEM;
	}
	if (r->op == BLK_IO_WRITE) {
		char *d = p->bounce;

		for (unsigned i = 0; i < r->iovcnt; i++) {
			if (!r->iov[i].iov_len)
				continue; /* its base may be NULL */
			memcpy(d, r->iov[i].iov_base, r->iov[i].iov_len);
			d += r->iov[i].iov_len;
		}
	}
	return 0;
}

/* On reap: a bounced read hands its data to the caller's iovecs. */
static void req_end(struct blk_io_req *r)
{
	struct blk_io_req_priv *p = &r->priv;
	const char *src = p->bounce;

	if (!src)
		return;
	if (r->op == BLK_IO_READ && r->result == 0) {
		for (unsigned i = 0; i < r->iovcnt; i++) {
			if (!r->iov[i].iov_len)
				continue;
			memcpy(r->iov[i].iov_base, src, r->iov[i].iov_len);
			src += r->iov[i].iov_len;
		}
	}
	free(p->bounce);
	p->bounce = NULL;
}

/* NKVM_BLK_IO for a BLK_IO_AUTO caller: 0 (kind maybe changed) or -EINVAL. */
static int env_kind(enum blk_io_kind *kind)
{
	const char *e = getenv("NKVM_BLK_IO");

	if (!e || !*e || strcmp(e, "auto") == 0)
		return 0;
	if (strcmp(e, "uring") == 0 || strcmp(e, "io_uring") == 0) {
		*kind = BLK_IO_URING;
	} else if (strcmp(e, "threads") == 0) {
		*kind = BLK_IO_THREADS;
	} else {
		log_err("NKVM_BLK_IO=%s: expected uring, threads or auto", e);
		return -EINVAL;
	}
	return 0;
}

static int backend_init(struct blk_io *io, const struct blk_io_ops *ops,
			enum blk_io_kind kind)
{
	int ret = ops->init(io);

	if (ret == 0) {
		io->ops = ops;
		io->kind = kind;
	}
	return ret;
}

/* Create an engine; see blk_io.h. */
int blk_io_create(struct blk_io **out, enum blk_io_kind kind, unsigned depth,
		  bool direct)
{
	struct blk_io *io;
	int ret;

	*out = NULL;
	if (depth == 0 || depth > BLK_IO_MAX_DEPTH || kind > BLK_IO_THREADS)
		return -EINVAL;
	if (kind == BLK_IO_AUTO && (ret = env_kind(&kind)))
		return ret;
	io = calloc(1, sizeof(*io));
	if (!io)
		return -ENOMEM;
	io->depth = depth;
	io->direct = direct;
	io->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (io->efd < 0) {
		ret = -errno;
		goto err_free;
	}
	/* aligned so that zero-filling an O_DIRECT fd works */
	if (posix_memalign(&io->zeroes, BLK_IO_DIRECT_ALIGN, BLK_ZERO_CHUNK)) {
		io->zeroes = NULL;
		ret = -ENOMEM;
		goto err_close;
	}
	memset(io->zeroes, 0, BLK_ZERO_CHUNK);

	ret = -EINVAL;
	if (kind != BLK_IO_THREADS) {
		ret = backend_init(io, &blk_io_uring_ops, BLK_IO_URING);
		if (ret && kind == BLK_IO_URING)
			goto err_zeroes;
		if (ret)
			log_debug("blk-io: io_uring unavailable (%s), using worker threads",
				  strerror(-ret));
	}
	if (ret) {
		ret = backend_init(io, &blk_io_threads_ops, BLK_IO_THREADS);
		if (ret)
			goto err_zeroes;
	}
	log_debug("blk-io: %s engine, depth %u%s", io->ops->name, depth,
		  direct ? ", O_DIRECT" : "");
	*out = io;
	return 0;

err_zeroes:
	free(io->zeroes);
err_close:
	close(io->efd);
err_free:
	free(io);
	return ret;
}

/* The engine in use. */
enum blk_io_kind blk_io_kind(const struct blk_io *io)
{
	return io->kind;
}

/* A name for logs and messages. */
const char *blk_io_kind_name(enum blk_io_kind k)
{
	switch (k) {
	case BLK_IO_AUTO:
		return "auto";
	case BLK_IO_URING:
		return "io_uring";
	case BLK_IO_THREADS:
		return "threads";
	}
	return "?";
}

/* The completion eventfd. */
int blk_io_event_fd(const struct blk_io *io)
{
	return io->efd;
}

/* Queue one request; see blk_io.h. */
int blk_io_submit(struct blk_io *io, struct blk_io_req *r)
{
	int ret;

	if (io->inflight >= io->depth)
		return -EAGAIN;
	ret = req_start(io, r);
	if (ret == 0)
		ret = io->ops->submit(io, r);
	if (ret) {
		free(r->priv.bounce);
		r->priv.bounce = NULL;
		return ret;
	}
	io->inflight++;
	return 0;
}

/* Start what is queued. */
int blk_io_kick(struct blk_io *io)
{
	return io->ops->kick(io);
}

/* Collect completions; see blk_io.h. */
unsigned blk_io_reap(struct blk_io *io, struct blk_io_req **done, unsigned max,
		     bool wait)
{
	unsigned n;

	if (max == 0)
		return 0;
	wait = wait && io->inflight > 0;
	if (wait && blk_io_kick(io))
		log_debug("blk-io: kick before waiting failed; retrying in reap");
	n = io->ops->reap(io, done, max, wait);
	for (unsigned i = 0; i < n; i++)
		req_end(done[i]);
	io->inflight -= n;
	return n;
}

/* Requests submitted and not reaped. */
unsigned blk_io_inflight(const struct blk_io *io)
{
	return io->inflight;
}

/* Drain, then free; see blk_io.h. */
void blk_io_destroy(struct blk_io *io)
{
	struct blk_io_req *done[32];
	unsigned tries = 0;

	if (!io)
		return;
	while (io->inflight && tries < BLK_DESTROY_TRIES) {
		if (blk_io_reap(io, done, 32, true))
			tries = 0;
		else
			tries++;
	}
	if (io->inflight)
		log_err("blk-io: %u requests never completed", io->inflight);
	io->ops->fini(io);
	free(io->zeroes);
	close(io->efd);
	free(io);
}
