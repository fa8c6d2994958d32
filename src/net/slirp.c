/*
 * User-mode networking back end on libslirp: the guest gets QEMU's default
 * network (10.0.2.0/24, gateway and host 10.0.2.2, DNS 10.0.2.3, DHCP from
 * 10.0.2.15, IPv6 fec0::/64) and reaches the world through ordinary host
 * sockets, with no privileges. Hostfwd rules forward host ports in.
 *
 * Threads. libslirp has no locking, so one Slirp instance is used by one
 * thread at a time: the creating thread until start() (slirp_new and the
 * hostfwd binds happen there so that errors are synchronous), then one
 * dedicated thread per back end that owns it, then destroy()'s thread
 * after the join. libslirp also keeps process-wide state (its clock and
 * the resolv.conf cache), so every slirp_* call, across all instances,
 * runs under `slirp_global`. The slirp thread loops on poll(): the fds
 * slirp_pollfds_fill asks for plus an eventfd that other threads write to
 * wake it, a timeout from slirp and from our timer list, then
 * slirp_pollfds_poll, expired timers, the rx backlog and the tx queue.
 *
 * Guest -> slirp: send() runs on the device's thread with the device lock
 * held. It copies the frame (virtio-net header stripped) into a queue under
 * `tx_lock` (held for a pointer swap only, never while calling out) and
 * wakes the thread, which feeds the frames to slirp_input.
 *
 * Slirp -> guest: slirp's send_packet callback runs on the slirp thread
 * (under slirp_global, never under tx_lock) and calls be->deliver() with
 * a zeroed 12-byte header in front; deliver takes the device lock. When it
 * returns -EAGAIN (no guest buffers) the frame and all later ones go to a
 * backlog, in order, until rx_ready() (device thread: a flag and a wake)
 * lets the thread retry it. Lock order is therefore slirp_global -> device
 * lock -> tx_lock, and destroy() must not be called with the device lock
 * held (it joins a thread that may be waiting for that lock).
 *
 * Bounds, so a guest (or a slow one) cannot make nkvm grow: the tx queue
 * holds at most TX_MAX_FRAMES frames and TX_MAX_BYTES bytes (send() then
 * drops with -ENOBUFS); the rx backlog holds RX_MAX_FRAMES frames and
 * RX_MAX_BYTES bytes (the newest frame is dropped and counted beyond
 * that). Drops are safe: slirp's TCP retransmits, UDP may be lost anyway.
 * Host sockets are bounded by slirp itself and RLIMIT_NOFILE.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <libslirp.h>

#include "nkvm/log.h"
#include "nkvm/net_slirp.h"

#define TX_MAX_FRAMES 256
#define TX_MAX_BYTES (4u << 20)
#define RX_MAX_FRAMES 256
#define RX_MAX_BYTES (4u << 20)
#define ETH_HDR_LEN 14
#define TIMER_FIRES_MAX 64      /* per loop turn: a timer re-armed in the past */

struct frame {
	struct frame *next;
	size_t len;
	uint8_t data[];
};

struct frame_queue {
	struct frame *head, **tail;
	unsigned n;
	size_t bytes;
};

struct slirp_timer {
	struct slirp_timer *next;
	bool by_id;              /* timer_new_opaque: fire via slirp_handle_timer */
	SlirpTimerId id;
	SlirpTimerCb cb;
	void *cb_opaque;
	int64_t expire_ms;       /* -1: not armed */
};

struct slirp_be {
	struct net_backend be;   /* first: ops get &be */
	Slirp *slirp;
	int wake_fd;             /* eventfd: send(), rx_ready(), destroy() */
	pthread_t thread;
	bool started;
	bool stop;               /* atomic */
	bool rx_kick;            /* atomic: rx_ready() was called */

	pthread_mutex_t tx_lock;
	struct frame_queue txq;  /* under tx_lock */

	/* the rest belongs to the slirp thread once started */
	struct frame_queue backlog;
	bool rx_blocked;         /* deliver() said -EAGAIN: backlog until kicked */
	struct slirp_timer *timers;
	struct pollfd *pfd;
	unsigned npfd, pfd_cap;

	struct net_slirp_stats st;   /* __atomic, relaxed */
	struct log_ratelimit rl_guest, rl_drop;
};

static pthread_mutex_t slirp_global = PTHREAD_MUTEX_INITIALIZER;

static struct slirp_be *to_sb(struct net_backend *be)
{
	return (struct slirp_be *)be;
}

static void stat_inc(unsigned long *c)
{
	__atomic_fetch_add(c, 1, __ATOMIC_RELAXED);
}

static void wake(struct slirp_be *s)
{
	uint64_t one = 1;

	/* non-blocking; EAGAIN only when the counter is saturated: awake anyway */
	if (write(s->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_debug("net user: wake: %s", strerror(errno));
}

/* ---- frame queues ---- */

static void fq_init(struct frame_queue *q)
{
	q->head = NULL;
	q->tail = &q->head;
	q->n = 0;
	q->bytes = 0;
}

static void fq_push(struct frame_queue *q, struct frame *f)
{
	f->next = NULL;
	*q->tail = f;
	q->tail = &f->next;
	q->n++;
	q->bytes += f->len;
}

static struct frame *fq_pop(struct frame_queue *q)
{
	struct frame *f = q->head;

	if (!f)
		return NULL;
	q->head = f->next;
	if (!q->head)
		q->tail = &q->head;
	q->n--;
	q->bytes -= f->len;
	return f;
}

static void fq_free(struct frame_queue *q)
{
	struct frame *f;

	while ((f = fq_pop(q)))
		free(f);
}

/* ---- libslirp callbacks (all on the thread that is using the Slirp) ---- */

static int64_t cb_clock_get_ns(void *opaque)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t now_ms(void)
{
	return cb_clock_get_ns(NULL) / 1000000;
}

static struct slirp_timer *timer_add(struct slirp_be *s)
{
	struct slirp_timer *t = calloc(1, sizeof(*t));

	if (!t) {
		/* libslirp's only timer sends periodic IPv6 router adverts;
		 * without it the guest still gets them by solicitation */
		log_warn("net user: out of memory for a timer");
		return NULL;
	}
	t->expire_ms = -1;
	t->next = s->timers;
	s->timers = t;
	return t;
}

static void *cb_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
	struct slirp_timer *t = timer_add(opaque);

	if (!t)
		return NULL;
	t->cb = cb;
	t->cb_opaque = cb_opaque;
	return t;
}

static void *cb_timer_new_opaque(SlirpTimerId id, void *cb_opaque, void *opaque)
{
	struct slirp_timer *t = timer_add(opaque);

	if (!t)
		return NULL;
	t->by_id = true;
	t->id = id;
	t->cb_opaque = cb_opaque;
	return t;
}

static void cb_timer_free(void *timer, void *opaque)
{
	struct slirp_be *s = opaque;
	struct slirp_timer **pp;

	for (pp = &s->timers; *pp; pp = &(*pp)->next) {
		if (*pp == timer) {
			*pp = ((struct slirp_timer *)timer)->next;
			free(timer);
			return;
		}
	}
}

static void cb_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	struct slirp_timer *t = timer;

	if (t)
		t->expire_ms = expire_ms < 0 ? 0 : expire_ms;
}

/* ms until the earliest armed timer, or UINT32_MAX when none is. */
static uint32_t timers_timeout(struct slirp_be *s)
{
	int64_t now = now_ms(), best = INT64_MAX;
	struct slirp_timer *t;

	for (t = s->timers; t; t = t->next)
		if (t->expire_ms >= 0 && t->expire_ms - now < best)
			best = t->expire_ms - now;
	if (best == INT64_MAX)
		return UINT32_MAX;
	if (best <= 0)
		return 0;
	return best >= UINT32_MAX ? UINT32_MAX - 1 : (uint32_t)best;
}

/* Fire expired timers; a callback may mod or free any timer, so the
 * scan restarts after each one. Called under slirp_global. */
static void timers_run(struct slirp_be *s)
{
	struct slirp_timer *t;
	int64_t now = now_ms();
	int fired = 0;

	while (fired < TIMER_FIRES_MAX) {
		for (t = s->timers; t; t = t->next)
			if (t->expire_ms >= 0 && t->expire_ms <= now)
				break;
		if (!t)
			return;
		t->expire_ms = -1;
		fired++;
		if (t->by_id)
			slirp_handle_timer(s->slirp, t->id, t->cb_opaque);
		else
			t->cb(t->cb_opaque);
	}
}

static void cb_register_poll_fd(int fd, void *opaque)
{
	/* nothing: the poll set is rebuilt from slirp_pollfds_fill each turn */
}

static void cb_unregister_poll_fd(int fd, void *opaque)
{
}

static void cb_notify(void *opaque)
{
	/* a socket can take more data: make the loop refill its poll set now */
	wake(opaque);
}

static void cb_guest_error(const char *msg, void *opaque)
{
	struct slirp_be *s = opaque;

	if (log_ratelimit_ok(&s->rl_guest))
		log_warn("net user: guest error: %s", msg);
}

static void cb_init_completed(Slirp *slirp, void *opaque)
{
	((struct slirp_be *)opaque)->slirp = slirp;
}

/* One frame from slirp to the guest, with a zeroed virtio-net header. */
static int deliver_one(struct slirp_be *s, const void *buf, size_t len)
{
	static uint8_t zero_hdr[NET_HDR_LEN];
	struct iovec iov[2] = {
		{ .iov_base = zero_hdr, .iov_len = NET_HDR_LEN },
		{ .iov_base = (void *)buf, .iov_len = len },
	};
	int r = s->be.deliver(s->be.dev, iov, 2);

	if (r == 0) {
		stat_inc(&s->st.rx_frames);
	} else if (r != -EAGAIN) {
		stat_inc(&s->st.rx_dropped);
		if (log_ratelimit_ok(&s->rl_drop))
			log_debug("net user: guest refused a %zu-byte frame: %s", len,
				  strerror(-r));
	}
	return r;
}

static void backlog_add(struct slirp_be *s, const void *buf, size_t len)
{
	struct frame *f;

	if (s->backlog.n >= RX_MAX_FRAMES || s->backlog.bytes + len > RX_MAX_BYTES ||
	    !(f = malloc(sizeof(*f) + len))) {
		stat_inc(&s->st.rx_dropped);
		if (log_ratelimit_ok(&s->rl_drop))
			log_debug("net user: rx backlog full, frame dropped");
		return;
	}
	f->len = len;
	memcpy(f->data, buf, len);
	fq_push(&s->backlog, f);
	stat_inc(&s->st.rx_backlogged);
}

/* slirp's output. Always "sent": a negative return only makes libslirp
 * print a critical message, and TCP recovers from our drops. */
static ssize_t cb_send_packet(const void *buf, size_t len, void *opaque)
{
	struct slirp_be *s = opaque;

	if (len > NET_MAX_FRAME - NET_HDR_LEN) {
		stat_inc(&s->st.rx_dropped);
		return (ssize_t)len;
	}
	if (!s->rx_blocked && deliver_one(s, buf, len) != -EAGAIN)
		return (ssize_t)len;
	s->rx_blocked = true;
	backlog_add(s, buf, len);
	return (ssize_t)len;
}

/* Retry the backlog in order after rx_ready(); stay blocked on -EAGAIN. */
static void backlog_flush(struct slirp_be *s)
{
	struct frame *f;

	while ((f = s->backlog.head)) {
		if (deliver_one(s, f->data, f->len) == -EAGAIN)
			return;
		free(fq_pop(&s->backlog));
	}
	s->rx_blocked = false;
}

static const SlirpCb slirp_cbs = {
	.send_packet = cb_send_packet,
	.guest_error = cb_guest_error,
	.clock_get_ns = cb_clock_get_ns,
	.timer_new = cb_timer_new,
	.timer_free = cb_timer_free,
	.timer_mod = cb_timer_mod,
	.register_poll_fd = cb_register_poll_fd,
	.unregister_poll_fd = cb_unregister_poll_fd,
	.notify = cb_notify,
	.init_completed = cb_init_completed,
	.timer_new_opaque = cb_timer_new_opaque,
};

/* ---- the slirp thread ---- */

static int cb_add_poll(int fd, int events, void *opaque)
{
	struct slirp_be *s = opaque;
	short ev = 0;

	if (s->npfd == s->pfd_cap) {
		unsigned cap = s->pfd_cap * 2;
		struct pollfd *p = realloc(s->pfd, cap * sizeof(*p));

		if (!p)
			return -1;	/* slirp skips this socket this turn */
		s->pfd = p;
		s->pfd_cap = cap;
	}
	if (events & SLIRP_POLL_IN)
		ev |= POLLIN;
	if (events & SLIRP_POLL_OUT)
		ev |= POLLOUT;
	if (events & SLIRP_POLL_PRI)
		ev |= POLLPRI;
	/* POLLERR and POLLHUP are always reported */
	s->pfd[s->npfd] = (struct pollfd){ .fd = fd, .events = ev };
	return (int)s->npfd++;
}

static int cb_get_revents(int idx, void *opaque)
{
	struct slirp_be *s = opaque;
	short re;
	int r = 0;

	if (idx <= 0 || (unsigned)idx >= s->npfd)
		return 0;
	re = s->pfd[idx].revents;
	if (re & POLLIN)
		r |= SLIRP_POLL_IN;
	if (re & POLLOUT)
		r |= SLIRP_POLL_OUT;
	if (re & POLLPRI)
		r |= SLIRP_POLL_PRI;
	if (re & (POLLERR | POLLNVAL))
		r |= SLIRP_POLL_ERR;
	if (re & POLLHUP)
		r |= SLIRP_POLL_HUP;
	return r;
}

/* Feed every queued guest frame to slirp. */
static void tx_drain(struct slirp_be *s)
{
	struct frame_queue q;
	struct frame *f;

	pthread_mutex_lock(&s->tx_lock);
	q = s->txq;
	if (q.head == NULL)
		q.tail = &q.head;
	fq_init(&s->txq);
	pthread_mutex_unlock(&s->tx_lock);
	if (!q.head)
		return;
	pthread_mutex_lock(&slirp_global);
	for (f = q.head; f; f = f->next) {
		slirp_input(s->slirp, f->data, (int)f->len);
		stat_inc(&s->st.tx_frames);
	}
	pthread_mutex_unlock(&slirp_global);
	fq_free(&q);
}

/* One turn: wait for sockets, the wake fd or a timeout, then let slirp work. */
static void loop_once(struct slirp_be *s)
{
	uint32_t timeout;
	uint64_t v;
	int n, tmo;

	s->pfd[0] = (struct pollfd){ .fd = s->wake_fd, .events = POLLIN };
	s->npfd = 1;
	timeout = timers_timeout(s);
	pthread_mutex_lock(&slirp_global);
	slirp_pollfds_fill(s->slirp, &timeout, cb_add_poll, s);
	pthread_mutex_unlock(&slirp_global);
	tmo = timeout > INT_MAX ? -1 : (int)timeout;
	n = poll(s->pfd, s->npfd, tmo);
	if (n < 0 && errno != EINTR)
		log_debug("net user: poll: %s", strerror(errno));
	if (n > 0 && (s->pfd[0].revents & POLLIN) &&
	    read(s->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_debug("net user: wake read: %s", strerror(errno));
	/* older frames first: the backlog before anything slirp makes now */
	if (__atomic_exchange_n(&s->rx_kick, false, __ATOMIC_ACQ_REL))
		backlog_flush(s);
	pthread_mutex_lock(&slirp_global);
	slirp_pollfds_poll(s->slirp, n < 0, cb_get_revents, s);
	timers_run(s);
	pthread_mutex_unlock(&slirp_global);
	tx_drain(s);
}

static void *slirp_thread(void *arg)
{
	struct slirp_be *s = arg;

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE))
		loop_once(s);
	return NULL;
}

/* ---- net_backend ops ---- */

static int be_start(struct net_backend *be, struct evl *evl)
{
	struct slirp_be *s = to_sb(be);
	sigset_t all, old;
	int r;

	if (s->started)
		return -EBUSY;
	if (!be->deliver)
		return -EINVAL;
	/* signals stay with the main loop's signalfd and the vCPU kicks */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = -pthread_create(&s->thread, NULL, slirp_thread, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r)
		return r;
	s->started = true;
	return 0;
}

/* Copy iov minus the virtio-net header into a new frame, or -errno. */
static int frame_from_iov(const struct iovec *iov, unsigned n, struct frame **out)
{
	size_t total = 0, skip = NET_HDR_LEN, off = 0;
	struct frame *f;
	unsigned i;

	for (i = 0; i < n; i++) {
		if (iov[i].iov_len > NET_MAX_FRAME || total + iov[i].iov_len > NET_MAX_FRAME)
			return -EMSGSIZE;
		total += iov[i].iov_len;
	}
	if (total < NET_HDR_LEN + ETH_HDR_LEN)
		return -EINVAL;
	f = malloc(sizeof(*f) + total - NET_HDR_LEN);
	if (!f)
		return -ENOMEM;
	f->len = total - NET_HDR_LEN;
	for (i = 0; i < n; i++) {
		size_t len = iov[i].iov_len, from = skip < len ? skip : len;

		skip -= from;
		memcpy(f->data + off, (const uint8_t *)iov[i].iov_base + from, len - from);
		off += len - from;
	}
	*out = f;
	return 0;
}

static int be_send(struct net_backend *be, const struct iovec *iov, unsigned n)
{
	struct slirp_be *s = to_sb(be);
	struct frame *f;
	bool was_empty, full;
	int r = frame_from_iov(iov, n, &f);

	if (r < 0) {
		stat_inc(&s->st.tx_dropped);
		return r;
	}
	pthread_mutex_lock(&s->tx_lock);
	full = s->txq.n >= TX_MAX_FRAMES || s->txq.bytes + f->len > TX_MAX_BYTES;
	was_empty = !s->txq.head;
	if (!full)
		fq_push(&s->txq, f);
	pthread_mutex_unlock(&s->tx_lock);
	if (full) {
		free(f);
		stat_inc(&s->st.tx_dropped);
		return -ENOBUFS;
	}
	/* a non-empty queue already has a wake-up pending */
	if (was_empty)
		wake(s);
	return 0;
}

static void be_rx_ready(struct net_backend *be)
{
	struct slirp_be *s = to_sb(be);

	__atomic_store_n(&s->rx_kick, true, __ATOMIC_RELEASE);
	wake(s);
}

/* Free everything but the thread (not started, or joined). */
static void slirp_be_free(struct slirp_be *s)
{
	struct slirp_timer *t;

	if (s->slirp) {
		pthread_mutex_lock(&slirp_global);
		slirp_cleanup(s->slirp);	/* closes its sockets, frees its timer */
		pthread_mutex_unlock(&slirp_global);
	}
	while ((t = s->timers)) {
		s->timers = t->next;
		free(t);
	}
	fq_free(&s->txq);
	fq_free(&s->backlog);
	free(s->pfd);
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	pthread_mutex_destroy(&s->tx_lock);
	free(s);
}

static void be_destroy(struct net_backend *be)
{
	struct slirp_be *s = to_sb(be);

	if (s->started) {
		__atomic_store_n(&s->stop, true, __ATOMIC_RELEASE);
		wake(s);
		pthread_join(s->thread, NULL);
	}
	slirp_be_free(s);
}

static const struct net_backend_ops slirp_ops = {
	.start = be_start,
	.send = be_send,
	.rx_ready = be_rx_ready,
	.destroy = be_destroy,
};

/* A kernel error as the tail of a message, lower case, with a hint. */
static void bind_error(char *err, size_t errlen, const struct net_hostfwd *f, int e)
{
	char host[48], msg[128];
	const char *hint = "";

	net_hostfwd_host_str(f, host, sizeof(host));
	snprintf(msg, sizeof(msg), "%s", e ? strerror(e) : "cannot bind it");
	if (msg[0] >= 'A' && msg[0] <= 'Z' && msg[1] >= 'a' && msg[1] <= 'z')
		msg[0] = (char)(msg[0] - 'A' + 'a');
	if (e == EACCES)
		hint = " (ports below 1024 need root or CAP_NET_BIND_SERVICE)";
	else if (e == EADDRNOTAVAIL)
		hint = " (not an address of this host)";
	else if (e == EADDRINUSE)
		hint = "; pick another host port";
	errbuf_printf(err, errlen, "hostfwd %s: %s%s", host, msg, hint);
}

static void slirp_config(SlirpConfig *c, const struct net_opts *o)
{
	memset(c, 0, sizeof(*c));
	c->version = 4;		/* libslirp 4.7.0 (Debian 12) knows 1..4 */
	c->restricted = o->restrict_;
	c->in_enabled = true;
	c->vnetwork.s_addr = htonl(NET_USER_NETWORK);
	c->vnetmask.s_addr = htonl(NET_USER_NETMASK);
	c->vhost.s_addr = htonl(NET_USER_HOST);
	c->vdhcp_start.s_addr = htonl(NET_USER_DHCP_START);
	c->vnameserver.s_addr = htonl(NET_USER_DNS);
	/* QEMU's IPv6 defaults: fec0::/64, host ::2, DNS ::3 */
	c->in6_enabled = true;
	c->vprefix_addr6.s6_addr[0] = 0xfe;
	c->vprefix_addr6.s6_addr[1] = 0xc0;
	c->vprefix_len = 64;
	c->vhost6 = c->vprefix_addr6;
	c->vhost6.s6_addr[15] = 2;
	c->vnameserver6 = c->vprefix_addr6;
	c->vnameserver6.s6_addr[15] = 3;
	/* if_mtu/if_mru 0: 1500; no emulation helpers (enable_emu: unsafe) */
}

/* Bind every hostfwd rule; called under slirp_global. 0 or -errno. */
static int add_hostfwds(struct slirp_be *s, const struct net_opts *o, char *err,
			size_t errlen)
{
	unsigned i;
	int e;

	for (i = 0; i < o->nr_fwd && i < NET_MAX_HOSTFWD; i++) {
		const struct net_hostfwd *f = &o->fwd[i];

		errno = 0;
		if (slirp_add_hostfwd(s->slirp, f->udp, f->host_addr, f->host_port,
				      f->guest_addr, f->guest_port) < 0) {
			e = errno;
			bind_error(err, errlen, f, e);
			return e ? -e : -EINVAL;
		}
	}
	return 0;
}

/* Make the back end, bind its forwarded ports; no thread yet. */
int net_slirp_create(struct net_backend **out, const struct net_opts *o,
		     char *err, size_t errlen)
{
	struct slirp_be *s;
	SlirpConfig cfg;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s)
		goto err_nomem;
	s->wake_fd = -1;
	pthread_mutex_init(&s->tx_lock, NULL);
	fq_init(&s->txq);
	fq_init(&s->backlog);
	s->rl_guest.burst = 5;
	s->rl_drop.burst = 5;
	s->pfd_cap = 16;
	s->pfd = malloc(s->pfd_cap * sizeof(*s->pfd));
	if (!s->pfd)
		goto err_nomem;
	s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->wake_fd < 0) {
		r = -errno;
		errbuf_printf(err, errlen, "eventfd: %s", strerror(-r));
		goto err;
	}
	s->be.ops = &slirp_ops;
	s->be.kind = "user";
	s->be.offloads = 0;	/* no checksum offload, no TSO through slirp */

	slirp_config(&cfg, o);
	pthread_mutex_lock(&slirp_global);
	s->slirp = slirp_new(&cfg, &slirp_cbs, s);
	r = s->slirp ? add_hostfwds(s, o, err, errlen) : -EINVAL;
	pthread_mutex_unlock(&slirp_global);
	if (!s->slirp)
		errbuf_printf(err, errlen, "libslirp %s refused the configuration",
			      slirp_version_string());
	if (r < 0)
		goto err;
	*out = &s->be;
	return 0;
err_nomem:
	r = -ENOMEM;
	errbuf_printf(err, errlen, "out of memory");
err:
	if (s)
		slirp_be_free(s);
	return r;
}

/* Counters, read without stopping the thread. */
void net_slirp_get_stats(const struct net_backend *be, struct net_slirp_stats *st)
{
	const struct slirp_be *s = (const struct slirp_be *)be;

	st->tx_frames = __atomic_load_n(&s->st.tx_frames, __ATOMIC_RELAXED);
	st->tx_dropped = __atomic_load_n(&s->st.tx_dropped, __ATOMIC_RELAXED);
	st->rx_frames = __atomic_load_n(&s->st.rx_frames, __ATOMIC_RELAXED);
	st->rx_dropped = __atomic_load_n(&s->st.rx_dropped, __ATOMIC_RELAXED);
	st->rx_backlogged = __atomic_load_n(&s->st.rx_backlogged, __ATOMIC_RELAXED);
}
