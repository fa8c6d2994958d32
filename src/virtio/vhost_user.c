/*
 * vhost-user front end: message framing, fd passing, and the checks on
 * every reply (see vhost_user.h). Messages are a 12-byte header (request,
 * flags, payload size, little-endian) and a payload; fds travel as
 * SCM_RIGHTS with the first bytes of the message.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nkvm/clock.h"
#include "nkvm/gm.h"
#include "nkvm/le.h"
#include "nkvm/log.h"
#include "nkvm/vhost_user.h"

/* The largest message nkvm sends: SET_MEM_TABLE with VHU_MAX_REGIONS. */
#define VHU_MSG_MAX (VHU_HDR_SIZE + 8 + 32 * VHU_MAX_REGIONS)
/* Room for fds a misbehaving back end attaches, so they can be closed. */
#define VHU_CMSG_FDS 16

int vhu_init(struct vhu *v, int fd, const char *name, int timeout_ms)
{
	memset(v, 0, sizeof(*v));
	v->fd = fd;
	v->name = name ? name : "vhost-user";
	v->timeout_ms = timeout_ms > 0 ? timeout_ms : 1;
	return fd >= 0 ? 0 : -EBADF;
}

void vhu_close(struct vhu *v)
{
	if (v->fd >= 0)
		close(v->fd);
	v->fd = -1;
}

/* The connection cannot be trusted any more: remember why, close it. */
static __attribute__((format(printf, 3, 4)))
int vhu_fail(struct vhu *v, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v->error, sizeof(v->error), fmt, ap);
	va_end(ap);
	log_debug("%s: vhost-user: %s", v->name, v->error);
	vhu_close(v);
	return err;
}

/* Milliseconds left until deadline (ns), at least 0. */
static int ms_left(uint64_t deadline)
{
	uint64_t now = mono_ns();

	return now >= deadline ? 0 : (int)((deadline - now + 999999) / 1000000);
}

/* Wait for `events` on the socket until the deadline: 0, -ETIMEDOUT, or
 * -errno. */
static int wait_fd(struct vhu *v, short events, uint64_t deadline)
{
	struct pollfd p = { .fd = v->fd, .events = events };
	int r;

	do {
		r = poll(&p, 1, ms_left(deadline));
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	return r == 0 ? -ETIMEDOUT : 0;
}

/* Send all of buf, the fds with its first byte. */
static int send_all(struct vhu *v, const uint8_t *buf, size_t len,
		    const int *fds, unsigned nfds, uint64_t deadline)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VHU_MAX_REGIONS)];
		struct cmsghdr align;
	} u;
	size_t done = 0;

	while (done < len) {
		struct iovec iov = { (void *)(buf + done), len - done };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n;
		int r;

		if (nfds && done == 0) {
			struct cmsghdr *c;

			memset(&u, 0, sizeof(u));
			mh.msg_control = u.buf;
			mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
			c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
			memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
		}
		n = sendmsg(v->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			return -errno;
		r = wait_fd(v, POLLOUT, deadline);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Close every fd that came along with a reply: the back end has no fds
 * to give the front end in any reply nkvm asks for. */
static void drop_fds(struct vhu *v, struct msghdr *mh)
{
	struct cmsghdr *c;

	for (c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		size_t i, n;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
		    c->cmsg_len < CMSG_LEN(0))
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			close(fd);
			v->fds_dropped++;
		}
	}
}

/* Read exactly len bytes (never more: the next message stays queued). */
static int recv_all(struct vhu *v, uint8_t *buf, size_t len, uint64_t deadline)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VHU_CMSG_FDS)];
		struct cmsghdr align;
	} u;
	size_t done = 0;

	while (done < len) {
		struct iovec iov = { buf + done, len - done };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = u.buf,
				     .msg_controllen = sizeof(u.buf) };
		ssize_t n = recvmsg(v->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		int r;

		if (n > 0) {
			drop_fds(v, &mh);
			done += (size_t)n;
			continue;
		}
		if (n == 0)
			return -ECONNRESET;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		r = wait_fd(v, POLLIN, deadline);
		if (r < 0)
			return r;
	}
	return 0;
}

static const char *err_text(int r)
{
	if (r == -ETIMEDOUT)
		return "no answer in time";
	if (r == -ECONNRESET || r == -EPIPE)
		return "the back end closed the connection";
	return strerror(-r);
}

/* Read the reply to `req`: header checked, then exactly size bytes. */
static int recv_reply(struct vhu *v, uint32_t req, void *payload,
		      uint32_t size, uint64_t deadline)
{
	uint8_t hdr[VHU_HDR_SIZE];
	uint32_t got_req, flags, got_size;
	int r = recv_all(v, hdr, sizeof(hdr), deadline);

	if (r < 0)
		return vhu_fail(v, r, "reply to request %u: %s", req, err_text(r));
	got_req = get_le32(hdr);
	flags = get_le32(hdr + 4);
	got_size = get_le32(hdr + 8);
	if (got_req != req)
		return vhu_fail(v, -EPROTO, "reply for request %u while waiting for %u",
				got_req, req);
	if ((flags & VHU_VERSION_MASK) != VHU_VERSION || !(flags & VHU_FLAG_REPLY))
		return vhu_fail(v, -EPROTO, "reply to request %u with flags 0x%x "
				"(not a version 1 reply)", req, flags);
	if (got_size != size)
		return vhu_fail(v, -EPROTO, "reply to request %u has %u bytes, not %u",
				req, got_size, size);
	r = recv_all(v, payload, size, deadline);
	if (r < 0)
		return vhu_fail(v, r, "reply to request %u: %s", req, err_text(r));
	return 0;
}

int vhu_call(struct vhu *v, uint32_t req, const void *payload, uint32_t size,
	     const int *fds, unsigned nfds, void *reply, uint32_t reply_size)
{
	uint64_t deadline = mono_ns() + (uint64_t)v->timeout_ms * 1000000ULL;
	bool ack = !reply && (v->protocol_features & (1ULL << VHU_PROTOCOL_F_REPLY_ACK));
	uint8_t msg[VHU_MSG_MAX], ackbuf[8];
	int r;

	if (v->fd < 0)
		return -ENOTCONN;
	if (size > VHU_MSG_MAX - VHU_HDR_SIZE || nfds > VHU_MAX_REGIONS)
		return -EINVAL;
	put_le32(msg, req);
	put_le32(msg + 4, VHU_VERSION | (ack ? VHU_FLAG_NEED_REPLY : 0));
	put_le32(msg + 8, size);
	if (size)
		memcpy(msg + VHU_HDR_SIZE, payload, size);
	r = send_all(v, msg, VHU_HDR_SIZE + size, fds, nfds, deadline);
	if (r < 0)
		return vhu_fail(v, r, "request %u: %s", req, err_text(r));
	if (reply)
		return recv_reply(v, req, reply, reply_size, deadline);
	if (!ack)
		return 0;
	r = recv_reply(v, req, ackbuf, sizeof(ackbuf), deadline);
	if (r < 0)
		return r;
	if (get_le64(ackbuf)) {
		snprintf(v->error, sizeof(v->error), "request %u refused (status %llu)",
			 req, (unsigned long long)get_le64(ackbuf));
		return -EIO;
	}
	return 0;
}

/* A request with no payload answered by one u64. */
static int get_u64(struct vhu *v, uint32_t req, uint64_t *out)
{
	uint8_t b[8];
	int r = vhu_call(v, req, NULL, 0, NULL, 0, b, sizeof(b));

	if (r == 0)
		*out = get_le64(b);
	return r;
}

static int set_u64(struct vhu *v, uint32_t req, uint64_t val, const int *fds,
		   unsigned nfds)
{
	uint8_t b[8];

	put_le64(b, val);
	return vhu_call(v, req, b, sizeof(b), fds, nfds, NULL, 0);
}

/* The "vring state" payload: index and a number. */
static int set_state(struct vhu *v, uint32_t req, unsigned index, uint32_t num)
{
	uint8_t b[8];

	put_le32(b, index);
	put_le32(b + 4, num);
	return vhu_call(v, req, b, sizeof(b), NULL, 0, NULL, 0);
}

int vhu_handshake(struct vhu *v)
{
	uint64_t proto = 0;
	int r = get_u64(v, VHU_GET_FEATURES, &v->features);

	if (r < 0)
		return r;
	if (v->features & (1ULL << VHU_F_PROTOCOL_FEATURES)) {
		r = get_u64(v, VHU_GET_PROTOCOL_FEATURES, &proto);
		if (r < 0)
			return r;
		proto &= VHU_PROTOCOL_WANTED;
		r = set_u64(v, VHU_SET_PROTOCOL_FEATURES, proto, NULL, 0);
		if (r < 0)
			return r;
		/* acknowledgements from the next request on */
		v->protocol_features = proto;
	}
	return vhu_call(v, VHU_SET_OWNER, NULL, 0, NULL, 0, NULL, 0);
}

int vhu_set_features(struct vhu *v, uint64_t features)
{
	features &= ~(1ULL << VHU_F_PROTOCOL_FEATURES);
	features |= v->features & (1ULL << VHU_F_PROTOCOL_FEATURES);
	return set_u64(v, VHU_SET_FEATURES, features, NULL, 0);
}

int vhu_set_mem_table(struct vhu *v, const struct gm *gm)
{
	uint8_t b[8 + 32 * VHU_MAX_REGIONS];
	int fds[VHU_MAX_REGIONS];
	int i;

	if (gm->memfd < 0 || gm->nr_regions <= 0 || gm->nr_regions > VHU_MAX_REGIONS)
		return -EINVAL;
	memset(b, 0, sizeof(b));
	put_le32(b, (uint32_t)gm->nr_regions);
	for (i = 0; i < gm->nr_regions; i++) {
		const struct gm_region *g = &gm->region[i];
		uint8_t *p = b + 8 + 32 * i;

		put_le64(p, g->gpa);
		put_le64(p + 8, g->size);
		put_le64(p + 16, (uint64_t)(uintptr_t)g->hva);
		put_le64(p + 24, g->offset);
		fds[i] = gm->memfd;
	}
	return vhu_call(v, VHU_SET_MEM_TABLE, b, 8 + 32 * (uint32_t)gm->nr_regions,
			fds, (unsigned)gm->nr_regions, NULL, 0);
}

static int set_addr(struct vhu *v, const struct vhu_vring *r)
{
	uint8_t b[40];

	memset(b, 0, sizeof(b));
	put_le32(b, r->index);
	put_le64(b + 8, r->desc);
	put_le64(b + 16, r->used);
	put_le64(b + 24, r->avail);
	return vhu_call(v, VHU_SET_VRING_ADDR, b, sizeof(b), NULL, 0, NULL, 0);
}

int vhu_vring_start(struct vhu *v, const struct vhu_vring *r)
{
	int e;

	if (r->index > VHU_VRING_IDX_MASK || r->kick_fd < 0 || r->call_fd < 0)
		return -EINVAL;
	e = set_state(v, VHU_SET_VRING_NUM, r->index, r->num);
	if (!e)
		e = set_addr(v, r);
	if (!e)
		e = set_state(v, VHU_SET_VRING_BASE, r->index, r->base);
	if (!e)
		e = set_u64(v, VHU_SET_VRING_CALL, r->index, &r->call_fd, 1);
	if (!e)
		e = set_u64(v, VHU_SET_VRING_KICK, r->index, &r->kick_fd, 1);
	if (!e && (v->features & (1ULL << VHU_F_PROTOCOL_FEATURES)))
		e = set_state(v, VHU_SET_VRING_ENABLE, r->index, 1);
	return e;
}

int vhu_vring_stop(struct vhu *v, unsigned index, uint16_t *base)
{
	uint8_t b[8];
	int r = 0;

	if (index > VHU_VRING_IDX_MASK)
		return -EINVAL;
	if (v->features & (1ULL << VHU_F_PROTOCOL_FEATURES))
		r = set_state(v, VHU_SET_VRING_ENABLE, index, 0);
	if (r < 0)
		return r;
	put_le32(b, index);
	put_le32(b + 4, 0);
	r = vhu_call(v, VHU_GET_VRING_BASE, b, sizeof(b), NULL, 0, b, sizeof(b));
	if (r < 0)
		return r;
	if (get_le32(b) != index)
		return vhu_fail(v, -EPROTO, "GET_VRING_BASE answered for ring %u, not %u",
				get_le32(b), index);
	if (get_le32(b + 4) > 0xffff)
		return vhu_fail(v, -EPROTO, "GET_VRING_BASE: index %u out of range",
				get_le32(b + 4));
	*base = (uint16_t)get_le32(b + 4);
	return 0;
}
