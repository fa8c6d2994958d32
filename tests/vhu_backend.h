/* A scripted vhost-user back end for unit tests: the test holds one end of
 * a socketpair, writes the replies the front end will read (before the
 * call that reads them: the socket buffers them), and afterwards reads
 * and checks each request the front end sent, fds included.
 * Header-only, like tap.h. */
#ifndef NKVM_TESTS_VHU_BACKEND_H
#define NKVM_TESTS_VHU_BACKEND_H

#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nkvm/le.h"
#include "nkvm/vhost_user.h"

/* One message as the back end saw it. */
struct be_msg {
	uint32_t req, flags, size;
	uint8_t payload[512];
	int fds[8];
	int nfds;
};

/* Write a raw message: header fields as given, then `len` payload bytes
 * (len may differ from size, to lie). */
static inline int be_send_raw(int fd, uint32_t req, uint32_t flags,
			      uint32_t size, const void *p, size_t len)
{
	uint8_t b[12 + 512];

	put_le32(b, req);
	put_le32(b + 4, flags);
	put_le32(b + 8, size);
	if (len)
		memcpy(b + 12, p, len);
	return write(fd, b, 12 + len) == (ssize_t)(12 + len) ? 0 : -1;
}

/* A well-formed reply carrying a u64. */
static inline int be_reply_u64(int fd, uint32_t req, uint64_t v)
{
	uint8_t p[8];

	put_le64(p, v);
	return be_send_raw(fd, req, VHU_VERSION | VHU_FLAG_REPLY, 8, p, 8);
}

/* A well-formed vring-state reply (GET_VRING_BASE). */
static inline int be_reply_state(int fd, uint32_t req, uint32_t idx, uint32_t num)
{
	uint8_t p[8];

	put_le32(p, idx);
	put_le32(p + 4, num);
	return be_send_raw(fd, req, VHU_VERSION | VHU_FLAG_REPLY, 8, p, 8);
}

/* Acks (u64 0) for the next n requests of code req. */
static inline void be_acks(int fd, uint32_t req, int n)
{
	while (n-- > 0)
		be_reply_u64(fd, req, 0);
}

/* Acks for one ring's setup (vhu_vring_start with protocol features). */
static inline void be_ring_start_acks(int fd)
{
	be_acks(fd, VHU_SET_VRING_NUM, 1);
	be_acks(fd, VHU_SET_VRING_ADDR, 1);
	be_acks(fd, VHU_SET_VRING_BASE, 1);
	be_acks(fd, VHU_SET_VRING_CALL, 1);
	be_acks(fd, VHU_SET_VRING_KICK, 1);
	be_acks(fd, VHU_SET_VRING_ENABLE, 1);
}

/* The answers to stopping ring q (vhu_vring_stop): an ack, then base. */
static inline void be_ring_stop_replies(int fd, uint32_t q, uint32_t base)
{
	be_acks(fd, VHU_SET_VRING_ENABLE, 1);
	be_reply_state(fd, VHU_GET_VRING_BASE, q, base);
}

/* Read the next message the front end sent (non-blocking): 0, or -1 when
 * there is none or it is malformed. */
static inline int be_recv(int fd, struct be_msg *m)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 8)];
		struct cmsghdr align;
	} u;
	uint8_t h[12];
	struct iovec iov = { h, 12 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c;

	memset(m, 0, sizeof(*m));
	if (recvmsg(fd, &mh, MSG_DONTWAIT) != 12)
		return -1;
	m->req = get_le32(h);
	m->flags = get_le32(h + 4);
	m->size = get_le32(h + 8);
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_type == SCM_RIGHTS) {
			m->nfds = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			memcpy(m->fds, CMSG_DATA(c), sizeof(int) * (size_t)m->nfds);
		}
	}
	if (m->size > sizeof(m->payload))
		return -1;
	if (m->size && recv(fd, m->payload, m->size, MSG_DONTWAIT) != (ssize_t)m->size)
		return -1;
	return 0;
}

/* Close the fds a received message carried. */
static inline void be_close_fds(struct be_msg *m)
{
	for (int i = 0; i < m->nfds; i++)
		close(m->fds[i]);
	m->nfds = 0;
}

/* Nothing more from the front end is waiting. */
static inline int be_empty(int fd)
{
	char c;

	return recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK) < 0;
}

/* Signal an eventfd once; read (and reset) its counter, 0 when unset. */
static inline void efd_write(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) != sizeof(one))
		return;
}

static inline uint64_t efd_read(int fd)
{
	uint64_t v;

	return read(fd, &v, sizeof(v)) == sizeof(v) ? v : 0;
}

#endif
