/* The vhost-user front end against a scripted back end on a socketpair:
 * every message nkvm sends (header, payload, fds), the handshake with and
 * without protocol features, REPLY_ACK, and replies that are malformed,
 * short, lying, late, carry fds, or never come because the back end
 * closed the socket. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "nkvm/gm.h"
#include "nkvm/le.h"
#include "nkvm/log.h"
#include "nkvm/vhost_user.h"
#include "tap.h"
#include "vhu_backend.h"

#define T_MS 200	/* the front end's timeout here */
#define PF   (1ULL << VHU_F_PROTOCOL_FEATURES)
#define ACK  (1ULL << VHU_PROTOCOL_F_REPLY_ACK)

static int be;	/* the back end's end */

/* Open fds of this process. */
static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

/* A new connection; the front end's in v. */
static void conn(struct vhu *v)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		diag("socketpair: %s", strerror(errno));
	be = sv[1];
	if (vhu_init(v, sv[0], "t", T_MS) < 0)
		diag("vhu_init failed");
}

static void disconn(struct vhu *v)
{
	vhu_close(v);
	close(be);
}

/* The next request: code, flags and size as expected. */
static void expect(struct be_msg *m, uint32_t req, uint32_t flags, uint32_t size,
		   const char *what)
{
	int r = be_recv(be, m);

	ok(r == 0 && m->req == req && m->flags == flags && m->size == size,
	   "%s: request %u, flags 0x%x, %u bytes", what, req, flags, size);
	if (r == 0 && (m->req != req || m->flags != flags || m->size != size))
		diag("  got request %u, flags 0x%x, %u bytes", m->req, m->flags, m->size);
}

/* A connected front end that negotiated REPLY_ACK (and protocol features). */
static void conn_acked(struct vhu *v)
{
	struct be_msg m;

	conn(v);
	be_reply_u64(be, VHU_GET_FEATURES, PF | 1ULL << 32);
	be_reply_u64(be, VHU_GET_PROTOCOL_FEATURES, ACK);
	be_acks(be, VHU_SET_OWNER, 1);
	if (vhu_handshake(v) < 0)
		diag("handshake failed: %s", v->error);
	while (be_recv(be, &m) == 0)
		;
}

static void test_handshake_protocol(void)
{
	struct vhu v;
	struct be_msg m;

	conn(&v);
	be_reply_u64(be, VHU_GET_FEATURES, PF | 1ULL << 32 | 1ULL << 29);
	/* offers more than nkvm wants: MQ (0), CONFIG (9) */
	be_reply_u64(be, VHU_GET_PROTOCOL_FEATURES, ACK | 1 | 1 << 9);
	be_acks(be, VHU_SET_OWNER, 1);
	is_int(vhu_handshake(&v), 0, "handshake with protocol features");
	ok(v.features == (PF | 1ULL << 32 | 1ULL << 29), "back end features kept");
	is_int(v.protocol_features, ACK, "only REPLY_ACK negotiated");
	expect(&m, VHU_GET_FEATURES, VHU_VERSION, 0, "GET_FEATURES");
	expect(&m, VHU_GET_PROTOCOL_FEATURES, VHU_VERSION, 0, "GET_PROTOCOL_FEATURES");
	expect(&m, VHU_SET_PROTOCOL_FEATURES, VHU_VERSION, 8, "SET_PROTOCOL_FEATURES (no ack asked yet)");
	ok(get_le64(m.payload) == ACK, "  payload: what both speak");
	expect(&m, VHU_SET_OWNER, VHU_VERSION | VHU_FLAG_NEED_REPLY, 0, "SET_OWNER asks for an ack");
	ok(be_empty(be), "nothing else sent");
	disconn(&v);
}

static void test_handshake_plain(void)
{
	struct vhu v;
	struct be_msg m;

	conn(&v);
	be_reply_u64(be, VHU_GET_FEATURES, 1ULL << 32);
	is_int(vhu_handshake(&v), 0, "handshake without protocol features");
	expect(&m, VHU_GET_FEATURES, VHU_VERSION, 0, "GET_FEATURES");
	expect(&m, VHU_SET_OWNER, VHU_VERSION, 0, "SET_OWNER, no ack");
	ok(be_empty(be), "no GET_PROTOCOL_FEATURES");
	/* SET_FEATURES: bit 30 stays off when not offered */
	is_int(vhu_set_features(&v, 1ULL << 32 | PF | 1ULL << 29), 0, "SET_FEATURES");
	expect(&m, VHU_SET_FEATURES, VHU_VERSION, 8, "SET_FEATURES message");
	ok(get_le64(m.payload) == (1ULL << 32 | 1ULL << 29), "  bit 30 not sent to a back end without it");
	disconn(&v);
}

static void test_features_acked(void)
{
	struct vhu v;
	struct be_msg m;

	conn_acked(&v);
	be_acks(be, VHU_SET_FEATURES, 1);
	is_int(vhu_set_features(&v, 1ULL << 32), 0, "SET_FEATURES acked");
	expect(&m, VHU_SET_FEATURES, VHU_VERSION | VHU_FLAG_NEED_REPLY, 8, "SET_FEATURES");
	ok(get_le64(m.payload) == (1ULL << 32 | PF), "  bit 30 added for a back end that offered it");
	/* a refusal: the connection stays usable */
	be_reply_u64(be, VHU_SET_FEATURES, 1);
	is_int(vhu_set_features(&v, 1ULL << 32), -EIO, "an ack with status 1 is -EIO");
	ok(vhu_connected(&v), "  and the connection stays");
	be_recv(be, &m);
	disconn(&v);
}

static void test_mem_table(void)
{
	struct vhu v;
	struct be_msg m;
	struct gm g, buf_gm;
	struct stat a, b;
	static uint8_t buf[4096];

	if (gm_init(&g, 3ULL << 30 | 512ULL << 20) < 0) {	/* two regions */
		ok(0, "gm_init");
		return;
	}
	conn_acked(&v);
	be_acks(be, VHU_SET_MEM_TABLE, 1);
	is_int(vhu_set_mem_table(&v, &g), 0, "SET_MEM_TABLE");
	expect(&m, VHU_SET_MEM_TABLE, VHU_VERSION | VHU_FLAG_NEED_REPLY, 8 + 2 * 32,
	       "SET_MEM_TABLE: two regions");
	is_int(get_le32(m.payload), 2, "  num_regions 2");
	ok(get_le64(m.payload + 8) == 0 && get_le64(m.payload + 16) == g.region[0].size &&
	   get_le64(m.payload + 24) == (uintptr_t)g.region[0].hva &&
	   get_le64(m.payload + 32) == g.region[0].offset,
	   "  region 0: gpa 0, size, nkvm's address, memfd offset");
	ok(get_le64(m.payload + 40) == GM_HIGH_START &&
	   get_le64(m.payload + 48) == g.region[1].size &&
	   get_le64(m.payload + 56) == (uintptr_t)g.region[1].hva &&
	   get_le64(m.payload + 64) == g.region[1].offset && g.region[1].offset != 0,
	   "  region 1: above 4 GiB, its own offset");
	is_int(m.nfds, 2, "  one fd per region");
	ok(m.nfds == 2 && fstat(m.fds[0], &a) == 0 && fstat(g.memfd, &b) == 0 &&
	   a.st_ino == b.st_ino, "  the fd is guest RAM's memfd");
	be_close_fds(&m);
	gm_init_buffer(&buf_gm, buf, sizeof(buf));
	is_int(vhu_set_mem_table(&v, &buf_gm), -EINVAL, "RAM without a memfd refused");
	ok(be_empty(be), "  nothing sent");
	disconn(&v);
	gm_destroy(&g);
}

static void test_vring(void)
{
	struct vhu v;
	struct be_msg m;
	struct vhu_vring r = { .index = 1, .num = 128, .base = 7, .desc = 0x1000,
			       .avail = 0x2000, .used = 0x3000 };
	uint16_t base = 0;

	r.kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	r.call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	conn_acked(&v);
	be_ring_start_acks(be);
	is_int(vhu_vring_start(&v, &r), 0, "vring start");
	expect(&m, VHU_SET_VRING_NUM, VHU_VERSION | VHU_FLAG_NEED_REPLY, 8, "SET_VRING_NUM");
	ok(get_le32(m.payload) == 1 && get_le32(m.payload + 4) == 128, "  index 1, num 128");
	expect(&m, VHU_SET_VRING_ADDR, VHU_VERSION | VHU_FLAG_NEED_REPLY, 40, "SET_VRING_ADDR");
	ok(get_le32(m.payload) == 1 && get_le32(m.payload + 4) == 0 &&
	   get_le64(m.payload + 8) == 0x1000 && get_le64(m.payload + 16) == 0x3000 &&
	   get_le64(m.payload + 24) == 0x2000 && get_le64(m.payload + 32) == 0,
	   "  index, flags 0, then desc, used, avail, log 0 in that order");
	expect(&m, VHU_SET_VRING_BASE, VHU_VERSION | VHU_FLAG_NEED_REPLY, 8, "SET_VRING_BASE");
	ok(get_le32(m.payload) == 1 && get_le32(m.payload + 4) == 7, "  index 1, base 7");
	expect(&m, VHU_SET_VRING_CALL, VHU_VERSION | VHU_FLAG_NEED_REPLY, 8, "SET_VRING_CALL");
	ok(get_le64(m.payload) == 1 && m.nfds == 1, "  index 1, no NOFD bit, one fd");
	if (m.nfds == 1) {
		efd_write(m.fds[0]);
		is_int(efd_read(r.call_fd), 1, "  the fd is the call eventfd");
	}
	be_close_fds(&m);
	expect(&m, VHU_SET_VRING_KICK, VHU_VERSION | VHU_FLAG_NEED_REPLY, 8, "SET_VRING_KICK");
	ok(get_le64(m.payload) == 1 && m.nfds == 1, "  index 1, one fd");
	if (m.nfds == 1) {
		efd_write(r.kick_fd);
		is_int(efd_read(m.fds[0]), 1, "  the fd is the kick eventfd");
	}
	be_close_fds(&m);
	expect(&m, VHU_SET_VRING_ENABLE, VHU_VERSION | VHU_FLAG_NEED_REPLY, 8, "SET_VRING_ENABLE");
	ok(get_le32(m.payload) == 1 && get_le32(m.payload + 4) == 1, "  index 1, enable 1");

	be_ring_stop_replies(be, 1, 42);
	is_int(vhu_vring_stop(&v, 1, &base), 0, "vring stop");
	is_int(base, 42, "  the back end's avail index");
	expect(&m, VHU_SET_VRING_ENABLE, VHU_VERSION | VHU_FLAG_NEED_REPLY, 8, "SET_VRING_ENABLE 0 first");
	ok(get_le32(m.payload + 4) == 0, "  enable 0");
	expect(&m, VHU_GET_VRING_BASE, VHU_VERSION, 8, "GET_VRING_BASE (has its own reply)");
	ok(get_le32(m.payload) == 1, "  index 1");

	/* lying GET_VRING_BASE answers close the connection */
	be_ring_stop_replies(be, 0, 42);
	is_int(vhu_vring_stop(&v, 1, &base), -EPROTO, "GET_VRING_BASE for another ring: -EPROTO");
	ok(!vhu_connected(&v), "  connection closed");
	is_int(vhu_vring_stop(&v, 1, &base), -ENOTCONN, "  later calls: -ENOTCONN");
	disconn(&v);
	conn_acked(&v);
	be_ring_stop_replies(be, 1, 0x10000);
	is_int(vhu_vring_stop(&v, 1, &base), -EPROTO, "GET_VRING_BASE index above 0xffff: -EPROTO");
	disconn(&v);

	conn_acked(&v);
	r.index = 256;
	is_int(vhu_vring_start(&v, &r), -EINVAL, "ring index 256 refused before sending");
	r.index = 0;
	r.kick_fd = -1;
	is_int(vhu_vring_start(&v, &r), -EINVAL, "no kick fd refused");
	ok(be_empty(be), "  nothing sent");
	disconn(&v);
	close(r.call_fd);
}

/* A GET_FEATURES whose reply is `what`; the call's result. */
static int bad_reply(struct vhu *v, uint32_t req, uint32_t flags, uint32_t size,
		     size_t len)
{
	uint8_t p[16] = { 1 };
	uint64_t f;
	int r;

	conn(v);
	be_send_raw(be, req, flags, size, p, len);
	r = vhu_call(v, VHU_GET_FEATURES, NULL, 0, NULL, 0, &f, sizeof(f));
	return r;
}

static void test_bad_replies(void)
{
	struct vhu v;
	uint64_t f = 0;

	is_int(bad_reply(&v, VHU_GET_PROTOCOL_FEATURES, 5, 8, 8), -EPROTO,
	       "reply for another request: -EPROTO");
	ok(!vhu_connected(&v) && strstr(v.error, "15"), "  closed, error names it: %s", v.error);
	disconn(&v);
	is_int(bad_reply(&v, VHU_GET_FEATURES, VHU_VERSION, 8, 8), -EPROTO,
	       "reply without the reply flag: -EPROTO");
	disconn(&v);
	is_int(bad_reply(&v, VHU_GET_FEATURES, 2 | VHU_FLAG_REPLY, 8, 8), -EPROTO,
	       "version 2: -EPROTO");
	disconn(&v);
	is_int(bad_reply(&v, VHU_GET_FEATURES, 5, 16, 16), -EPROTO,
	       "16-byte payload where 8 are expected: -EPROTO");
	disconn(&v);
	is_int(bad_reply(&v, VHU_GET_FEATURES, 5, 4, 4), -EPROTO,
	       "4-byte payload where 8 are expected: -EPROTO");
	disconn(&v);
	is_int(bad_reply(&v, VHU_GET_FEATURES, 5, 0xffffffff, 0), -EPROTO,
	       "size 0xffffffff: -EPROTO, nothing read");
	disconn(&v);
	is_int(bad_reply(&v, VHU_GET_FEATURES, 5, 8, 3), -ETIMEDOUT,
	       "payload shorter than its size: -ETIMEDOUT after the deadline");
	ok(!vhu_connected(&v), "  connection closed");
	disconn(&v);

	conn(&v);
	be_send_raw(be, VHU_GET_FEATURES, 5, 8, "\x01\0\0\0", 4);
	shutdown(be, SHUT_WR);
	is_int(vhu_call(&v, VHU_GET_FEATURES, NULL, 0, NULL, 0, &f, sizeof(f)), -ECONNRESET,
	       "back end closes in the middle of a reply: -ECONNRESET");
	disconn(&v);

	conn(&v);
	is_int(vhu_call(&v, VHU_GET_FEATURES, NULL, 0, NULL, 0, &f, sizeof(f)), -ETIMEDOUT,
	       "no reply at all: -ETIMEDOUT");
	ok(strstr(v.error, "no answer in time") != NULL, "  error says so: %s", v.error);
	disconn(&v);

	conn(&v);
	close(be);
	is_int(vhu_handshake(&v), -EPIPE, "back end gone before the request: -EPIPE");
	ok(!vhu_connected(&v), "  connection closed");
	vhu_close(&v);
	vhu_close(&v);
	ok(1, "vhu_close twice is fine");

	conn(&v);
	shutdown(be, SHUT_WR);
	is_int(vhu_handshake(&v), -ECONNRESET, "back end closes instead of answering: -ECONNRESET");
	disconn(&v);
}

static void test_reply_fds(void)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	uint8_t b[20];
	struct iovec iov = { b, sizeof(b) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	int efd = eventfd(0, EFD_CLOEXEC), before;
	struct vhu v;
	uint64_t f = 0;

	conn(&v);
	put_le32(b, VHU_GET_FEATURES);
	put_le32(b + 4, 5);
	put_le32(b + 8, 8);
	put_le64(b + 12, 1ULL << 32);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &efd, sizeof(int));
	if (sendmsg(be, &mh, 0) != sizeof(b))
		diag("sendmsg failed");
	before = count_fds();
	is_int(vhu_call(&v, VHU_GET_FEATURES, NULL, 0, NULL, 0, &f, sizeof(f)), 0,
	       "a reply with an fd attached is still read");
	ok(f == 1ULL << 32, "  its value");
	is_int(v.fds_dropped, 1, "  the fd was counted");
	is_int(count_fds(), before, "  and closed: no fd more than before");
	close(efd);
	disconn(&v);
}

static void test_send_limits(void)
{
	struct vhu v;
	uint8_t big[600] = { 0 };
	int fds[9] = { 0 };

	conn(&v);
	is_int(vhu_call(&v, 99, big, sizeof(big), NULL, 0, NULL, 0), -EINVAL,
	       "payload larger than any request nkvm sends: -EINVAL");
	is_int(vhu_call(&v, 99, NULL, 0, fds, 9, NULL, 0), -EINVAL, "9 fds: -EINVAL");
	ok(vhu_connected(&v) && be_empty(be), "  nothing sent, still connected");
	disconn(&v);
	is_int(vhu_init(&v, -1, "t", 10), -EBADF, "vhu_init without a socket: -EBADF");
}

int main(void)
{
	log_threshold = LOG_ERR;
	test_handshake_protocol();
	test_handshake_plain();
	test_features_acked();
	test_mem_table();
	test_vring();
	test_bad_replies();
	test_reply_fds();
	test_send_limits();
	return done_testing();
}
