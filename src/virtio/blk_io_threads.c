/*
 * Block I/O on worker threads, for hosts without io_uring (old kernels,
 * seccomp, kernel.io_uring_disabled). A few threads take requests from one
 * queue, run each to the end with plain system calls, and put it on a
 * completion list, signalling the eventfd. Both lists are intrusive
 * (priv.next) and hold only requests in flight, so they are bounded by depth.
 *
 * The owner thread keeps its own list of submitted-but-not-kicked requests
 * without locking; kick hands the whole batch to the workers at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "nkvm/log.h"

#include "blk_io_impl.h"

#define BLK_MAX_THREADS 4

struct req_list {
	struct blk_io_req *head, *tail;
};

struct blk_threads {
	struct blk_io *io;
	pthread_mutex_t lock;
	pthread_cond_t work;    /* queue not empty, or stop */
	pthread_cond_t done_cv; /* a request was completed */
	struct req_list queue;  /* kicked, for the workers (lock) */
	struct req_list done;   /* completed, for reap (lock) */
	struct req_list pending; /* submitted, not kicked (owner thread) */
	bool stop;
	unsigned nthreads;
	pthread_t tid[BLK_MAX_THREADS];
};

static void list_add(struct req_list *l, struct blk_io_req *r)
{
	r->priv.next = NULL;
	if (l->tail)
		l->tail->priv.next = r;
	else
		l->head = r;
	l->tail = r;
}

static struct blk_io_req *list_pop(struct req_list *l)
{
	struct blk_io_req *r = l->head;

	if (r) {
		l->head = r->priv.next;
		if (!l->head)
			l->tail = NULL;
		r->priv.next = NULL;
	}
	return r;
}

/* Append all of src to dst and empty src. */
static void list_splice(struct req_list *dst, struct req_list *src)
{
	if (!src->head)
		return;
	if (dst->tail)
		dst->tail->priv.next = src->head;
	else
		dst->head = src->head;
	dst->tail = src->tail;
	src->head = src->tail = NULL;
}

/* One step as a system call: bytes or 0 on success, -errno on failure. */
static long run_step(const struct blk_step *s)
{
	long n = -1;

	switch (s->sys) {
	case BLK_SYS_PREADV:
		n = preadv(s->fd, s->iov, (int)s->iovcnt, (off_t)s->off);
		break;
	case BLK_SYS_PWRITEV:
		n = pwritev(s->fd, s->iov, (int)s->iovcnt, (off_t)s->off);
		break;
	case BLK_SYS_FDATASYNC:
		n = fdatasync(s->fd);
		break;
	case BLK_SYS_FALLOCATE:
		n = fallocate(s->fd, s->mode, (off_t)s->off, (off_t)s->len);
		break;
	}
	return n < 0 ? -errno : n;
}

static void *worker(void *arg)
{
	struct blk_threads *t = arg;
	struct blk_io_req *r;
	struct blk_step s;

	pthread_mutex_lock(&t->lock);
	for (;;) {
		while (!t->stop && !t->queue.head)
			pthread_cond_wait(&t->work, &t->lock);
		r = list_pop(&t->queue);
		if (!r)
			break; /* stop, and nothing left */
		pthread_mutex_unlock(&t->lock);

		while (blk_req_step(t->io, r, &s))
			blk_req_advance(r, run_step(&s));

		pthread_mutex_lock(&t->lock);
		list_add(&t->done, r);
		pthread_cond_signal(&t->done_cv);
		blk_io_signal(t->io);
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

/* Stop and join the first n workers (the queue must be empty). */
static void threads_stop(struct blk_threads *t, unsigned n)
{
	pthread_mutex_lock(&t->lock);
	t->stop = true;
	pthread_cond_broadcast(&t->work);
	pthread_mutex_unlock(&t->lock);
	for (unsigned i = 0; i < n; i++)
		pthread_join(t->tid[i], NULL);
}

static int threads_init(struct blk_io *io)
{
	struct blk_threads *t;
	sigset_t all, old;
	int ret = 0;

	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->io = io;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->work, NULL);
	pthread_cond_init(&t->done_cv, NULL);
	/* Workers block every signal: vCPU kicks and signalfd stay with the
	 * threads they are meant for. They inherit this mask. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (t->nthreads = 0; t->nthreads < BLK_MAX_THREADS &&
	     t->nthreads < io->depth; t->nthreads++) {
		ret = -pthread_create(&t->tid[t->nthreads], NULL, worker, t);
		if (ret)
			break;
		pthread_setname_np(t->tid[t->nthreads], "nkvm-blk-io");
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret) {
		threads_stop(t, t->nthreads);
		pthread_cond_destroy(&t->done_cv);
		pthread_cond_destroy(&t->work);
		pthread_mutex_destroy(&t->lock);
		free(t);
		return ret;
	}
	io->be = t;
	return 0;
}

static int threads_submit(struct blk_io *io, struct blk_io_req *r)
{
	struct blk_threads *t = io->be;

	list_add(&t->pending, r);
	return 0;
}

static int threads_kick(struct blk_io *io)
{
	struct blk_threads *t = io->be;

	if (!t->pending.head)
		return 0;
	pthread_mutex_lock(&t->lock);
	list_splice(&t->queue, &t->pending);
	pthread_cond_broadcast(&t->work);
	pthread_mutex_unlock(&t->lock);
	return 0;
}

static unsigned threads_reap(struct blk_io *io, struct blk_io_req **done,
			     unsigned max, bool wait)
{
	struct blk_threads *t = io->be;
	unsigned n = 0;

	pthread_mutex_lock(&t->lock);
	/* the caller kicked already, so what is in flight will complete */
	while (wait && !t->done.head)
		pthread_cond_wait(&t->done_cv, &t->lock);
	/* Workers signal under the lock, so every signal so far is for a
	 * request on the list now; later ones signal again. */
	blk_io_drain_efd(io);
	while (n < max && t->done.head)
		done[n++] = list_pop(&t->done);
	if (t->done.head)
		blk_io_signal(io); /* left behind: stay readable */
	pthread_mutex_unlock(&t->lock);
	return n;
}

static void threads_fini(struct blk_io *io)
{
	struct blk_threads *t = io->be;

	threads_stop(t, t->nthreads);
	pthread_cond_destroy(&t->done_cv);
	pthread_cond_destroy(&t->work);
	pthread_mutex_destroy(&t->lock);
	free(t);
	io->be = NULL;
}

const struct blk_io_ops blk_io_threads_ops = {
	.name = "threads",
	.init = threads_init,
	.submit = threads_submit,
	.kick = threads_kick,
	.reap = threads_reap,
	.fini = threads_fini,
};
