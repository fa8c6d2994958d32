/*
 * virtio-vsock's host side: the listening unix socket and the host
 * clients' "CONNECT <port>" handshake, the guest's connects to
 * "<uds_path>_<port>", and the timer that drops connections stuck in a
 * handshake. All sockets are non-blocking: the event loop never waits on
 * a host peer.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "nkvm/clock.h"
#include "nkvm/log.h"
#include "vsock_impl.h"

#define LISTEN_BACKLOG 64
#define ACCEPT_BUDGET  16

static struct log_ratelimit host_rl = { .burst = 5 };

/* A socket file left by a process that is gone: nobody accepts on it. */
static bool stale_socket(const struct sockaddr_un *a)
{
	struct stat st;
	int fd, r, e;

	if (lstat(a->sun_path, &st) < 0 || !S_ISSOCK(st.st_mode))
		return false;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	r = connect(fd, (const struct sockaddr *)a, sizeof(*a));
	e = errno;
	close(fd);
	return r < 0 && e == ECONNREFUSED;
}

int vsock_listen_open(struct virtio_vsock *v, char *err, size_t errlen)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, r;

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", v->uds_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	r = bind(fd, (struct sockaddr *)&a, sizeof(a));
	if (r < 0 && errno == EADDRINUSE && stale_socket(&a) && unlink(a.sun_path) == 0)
		r = bind(fd, (struct sockaddr *)&a, sizeof(a));
	if (r < 0)
		goto fail;
	if (listen(fd, LISTEN_BACKLOG) < 0 || stat(a.sun_path, &st) < 0) {
		int e = errno;

		unlink(a.sun_path);
		errno = e;
		goto fail;
	}
	v->listen_fd = fd;
	v->uds_dev = st.st_dev;
	v->uds_ino = st.st_ino;
	return 0;
fail:
	r = -errno;
	if (fd >= 0)
		close(fd);
	if (r == -EADDRINUSE)
		errbuf_printf(err, errlen, "socket %s: the path exists and is in use "
			      "(another VM?): pick another path", v->uds_path);
	else
		errbuf_printf(err, errlen, "socket %s: cannot listen there: %s",
			      v->uds_path, strerror(-r));
	return r;
}

static void on_listen(void *opaque, uint32_t events);

void vsock_listen_poll(struct virtio_vsock *v)
{
	struct virtio_dev *d = &v->dev;
	bool want = v->listen_fd >= 0 && !v->accept_paused && v->driver_ok &&
		    !(d->status & VIRTIO_STATUS_NEEDS_RESET);

	if (want == v->listening)
		return;
	if (!want) {
		evl_del(&v->evl, v->listen_fd);
		v->listening = false;
	} else if (evl_add(&v->evl, v->listen_fd, EPOLLIN, on_listen, v) == 0) {
		v->listening = true;
	}
}

static void on_listen(void *opaque, uint32_t events)
{
	struct virtio_vsock *v = opaque;
	unsigned budget = ACCEPT_BUDGET;

	while (budget--) {
		int fd = accept4(v->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct vsock_conn *c;

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				/* out of descriptors: wait for a connection
				 * to close instead of spinning on the listener */
				log_warn("%s: accept: %s", v->dev.name, strerror(errno));
				v->accept_paused = true;
				vsock_listen_poll(v);
			}
			return;
		}
		c = vsock_conn_new(v, fd);
		if (!c) {
			v->st.conns_refused++;
			if (log_ratelimit_ok(&host_rl))
				log_warn("%s: %d connections open: host client refused",
					 v->dev.name, VSOCK_MAX_CONNS);
			close(fd);
			continue;
		}
		c->state = VSOCK_HANDSHAKE;
		vsock_conn_deadline(c);
		vsock_conn_poll(c);
	}
}

/* A host port for a host-initiated connection that no other uses. */
static uint32_t alloc_port(struct virtio_vsock *v, uint32_t peer)
{
	for (;;) {
		uint32_t p = v->next_port++;

		if (v->next_port == 0xffffffffu)
			v->next_port = 1u << 30;
		if (!vsock_conn_find(v, p, peer))
			return p;
	}
}

void vsock_handshake(struct vsock_conn *c)
{
	struct virtio_vsock *v = c->v;
	char buf[VSOCK_LINE_MAX], *nl;
	size_t room = VSOCK_LINE_MAX - c->line_len, take;
	ssize_t n;
	uint32_t port;

	/* peek, then take the line and nothing after it: what follows the
	 * '\n' is the client's first data for the guest */
	n = recv(c->fd, buf, room, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0)
		goto drop;
	nl = memchr(buf, '\n', (size_t)n);
	take = nl ? (size_t)(nl - buf) + 1 : (size_t)n;
	if (recv(c->fd, c->line + c->line_len, take, MSG_DONTWAIT) != (ssize_t)take)
		goto drop;
	c->line_len += (unsigned)take;
	if (!nl) {
		if (c->line_len < VSOCK_LINE_MAX)
			return;
		if (log_ratelimit_ok(&host_rl))
			log_warn("%s: host client's handshake line too long: closed", v->dev.name);
		goto drop;
	}
	if (vsock_parse_connect(c->line, c->line_len - 1, &port) < 0) {
		if (log_ratelimit_ok(&host_rl))
			log_warn("%s: host client sent '%.*s', not 'CONNECT <port>': closed",
				 v->dev.name, (int)(c->line_len - 1), c->line);
		goto drop;
	}
	c->peer_port = port;
	c->local_port = alloc_port(v, port);
	c->state = VSOCK_REQUESTED;
	c->owe |= VSOCK_OWE_REQUEST;
	v->st.conns_host++;
	vsock_conn_deadline(c);
	vsock_conn_poll(c);	/* nothing more is read until the guest answers */
	return;
drop:
	vsock_conn_close(c, false);
}

void vsock_guest_connect(struct virtio_vsock *v, const struct vsock_hdr *g)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct vsock_conn *c = vsock_conn_new(v, -1);
	int fd = -1;

	if (!c) {
		if (log_ratelimit_ok(&host_rl))
			log_warn("%s: %d connections open: guest connect to port %u refused",
				 v->dev.name, VSOCK_MAX_CONNS, g->dst_port);
		goto refuse;
	}
	snprintf(a.sun_path, sizeof(a.sun_path), "%s_%u", v->uds_path, g->dst_port);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	/* a unix connect completes at once or fails (EAGAIN: backlog full) */
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		log_debug("%s: guest connect to %s: %s", v->dev.name, a.sun_path,
			  strerror(errno));
		if (fd >= 0)
			close(fd);
		c->used = false;
		goto refuse;
	}
	c->fd = fd;
	c->state = VSOCK_ESTABLISHED;
	c->local_port = g->dst_port;
	c->peer_port = g->src_port;
	c->peer_buf_alloc = g->buf_alloc;
	c->peer_fwd_cnt = g->fwd_cnt;
	c->owe |= VSOCK_OWE_RESPONSE;
	v->st.conns_guest++;
	vsock_conn_poll(c);
	return;
refuse:
	v->st.conns_refused++;
	vsock_reply_rst(v, g);
}

void vsock_timer_arm(struct virtio_vsock *v)
{
	struct itimerspec its = { .it_interval = { 1, 0 }, .it_value = { 1, 0 } };

	if (v->timer_armed || v->timer_fd < 0)
		return;
	if (timerfd_settime(v->timer_fd, 0, &its, NULL) == 0)
		v->timer_armed = true;
}

void vsock_expire_locked(struct virtio_vsock *v, uint64_t now_ns)
{
	static const struct itimerspec off;
	bool any = false;
	unsigned i;

	for (i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = &v->conn[i];

		if (!c->used || !c->deadline_ns)
			continue;
		if (now_ns < c->deadline_ns) {
			any = true;
			continue;
		}
		v->st.timeouts++;
		if (log_ratelimit_ok(&host_rl))
			log_warn("%s: connection %u <-> guest port %u timed out (%s)",
				 v->dev.name, c->local_port, c->peer_port,
				 c->state == VSOCK_HANDSHAKE ? "no CONNECT line" :
				 c->state == VSOCK_REQUESTED ? "the guest did not answer" :
				 "the host peer does not read");
		vsock_conn_close(c, true);
	}
	if (!any && v->timer_armed && v->timer_fd >= 0 &&
	    timerfd_settime(v->timer_fd, 0, &off, NULL) == 0)
		v->timer_armed = false;
}
