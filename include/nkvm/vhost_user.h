/*
 * The front-end side of the vhost-user protocol (QEMU's docs/interop/
 * vhost-user.rst): nkvm hands a virtio device's rings, guest RAM and
 * eventfds to a back-end process (virtiofsd) over a unix stream socket.
 *
 * The back end is not trusted: every reply is read with a deadline, at
 * most the bytes the request expects, and checked (request code, version
 * and reply flags, size); fds it sends along are closed. Any transport
 * error (timeout, EOF, a malformed reply) leaves the stream out of step, so
 * the connection is closed and every later call fails with -ENOTCONN.
 *
 * Calls block the calling thread for at most the timeout per message.
 * KVM-free: unit tests drive it over a socketpair.
 */
#ifndef NKVM_VHOST_USER_H
#define NKVM_VHOST_USER_H

#include <stdbool.h>
#include <stdint.h>

struct gm;

/* Request codes used here (front end to back end). */
enum vhu_request {
	VHU_GET_FEATURES = 1,
	VHU_SET_FEATURES = 2,
	VHU_SET_OWNER = 3,
	VHU_SET_MEM_TABLE = 5,
	VHU_SET_VRING_NUM = 8,
	VHU_SET_VRING_ADDR = 9,
	VHU_SET_VRING_BASE = 10,
	VHU_GET_VRING_BASE = 11,
	VHU_SET_VRING_KICK = 12,
	VHU_SET_VRING_CALL = 13,
	VHU_GET_PROTOCOL_FEATURES = 15,
	VHU_SET_PROTOCOL_FEATURES = 16,
	VHU_SET_VRING_ENABLE = 18,
};

/* Header flags: protocol version 1 in bits 0-1, a reply, a reply wanted. */
#define VHU_VERSION        0x1u
#define VHU_VERSION_MASK   0x3u
#define VHU_FLAG_REPLY     0x4u
#define VHU_FLAG_NEED_REPLY 0x8u
#define VHU_HDR_SIZE       12

/* Feature bit 30 in GET/SET_FEATURES: the back end speaks protocol
 * features (and then rings start disabled until SET_VRING_ENABLE). */
#define VHU_F_PROTOCOL_FEATURES 30
/* Protocol feature: every request may ask for an acknowledgement. */
#define VHU_PROTOCOL_F_REPLY_ACK 3
/* The protocol features nkvm uses, when the back end offers them. */
#define VHU_PROTOCOL_WANTED (1ULL << VHU_PROTOCOL_F_REPLY_ACK)

/* SET_VRING_KICK/CALL payload: the queue index, and "no fd" in bit 8. */
#define VHU_VRING_IDX_MASK 0xffu
#define VHU_VRING_NOFD     0x100u

/* At most this many memory regions (and so fds) per SET_MEM_TABLE. */
#define VHU_MAX_REGIONS 8

struct vhu {
	int fd;                     /* connection; -1 once closed */
	const char *name;           /* for log lines ("fs0"); not copied */
	int timeout_ms;             /* per message, send and reply */
	uint64_t features;          /* the back end's, from GET_FEATURES */
	uint64_t protocol_features; /* negotiated (ours & theirs) */
	unsigned long fds_dropped;  /* fds the back end sent us, closed */
	char error[160];            /* why the connection was closed */
};

/*
 * Take over connected socket `fd` (closed by vhu_close, or right away on
 * error). 0 or -errno.
 */
int vhu_init(struct vhu *v, int fd, const char *name, int timeout_ms)
	__attribute__((warn_unused_result));

/* Close the connection (idempotent). */
void vhu_close(struct vhu *v);

/* True while the connection is usable. */
static inline bool vhu_connected(const struct vhu *v)
{
	return v->fd >= 0;
}

/*
 * The opening exchange: GET_FEATURES; with VHU_F_PROTOCOL_FEATURES,
 * GET_PROTOCOL_FEATURES and SET_PROTOCOL_FEATURES (what both speak of
 * VHU_PROTOCOL_WANTED); SET_OWNER. 0 or -errno.
 */
int vhu_handshake(struct vhu *v) __attribute__((warn_unused_result));

/* SET_FEATURES: the driver's features, plus VHU_F_PROTOCOL_FEATURES when
 * the back end offered it. 0 or -errno. */
int vhu_set_features(struct vhu *v, uint64_t features)
	__attribute__((warn_unused_result));

/*
 * SET_MEM_TABLE: every region of guest RAM with the memfd (SCM_RIGHTS,
 * one per region), its guest address, size, nkvm's address for it and its
 * offset in the memfd. -EINVAL when RAM is not memfd-backed.
 */
int vhu_set_mem_table(struct vhu *v, const struct gm *gm)
	__attribute__((warn_unused_result));

/* One ring as the back end needs it: nkvm's (host) addresses of the three
 * parts, which lie inside the regions sent by vhu_set_mem_table. */
struct vhu_vring {
	unsigned index;
	uint16_t num;        /* queue size */
	uint16_t base;       /* next avail index the back end serves */
	uint64_t desc, avail, used;
	int kick_fd, call_fd;
};

/*
 * Start a ring: SET_VRING_NUM, SET_VRING_ADDR, SET_VRING_BASE,
 * SET_VRING_CALL, SET_VRING_KICK (the back end starts serving on the
 * kick), then SET_VRING_ENABLE 1 when protocol features are in use.
 * 0 or -errno.
 */
int vhu_vring_start(struct vhu *v, const struct vhu_vring *r)
	__attribute__((warn_unused_result));

/*
 * Stop ring `index`: SET_VRING_ENABLE 0 (with protocol features), then
 * GET_VRING_BASE, which stops the back end's processing of the ring; the
 * avail index it had reached in *base. 0 or -errno.
 */
int vhu_vring_stop(struct vhu *v, unsigned index, uint16_t *base)
	__attribute__((warn_unused_result));

/*
 * The building blocks, exposed for the tests: send request `req` with
 * `size` bytes of payload and nfds fds; with want_reply, read a reply of
 * exactly reply_size bytes into reply (for requests that have none, a
 * REPLY_ACK when negotiated: a nonzero value is -EIO, the connection
 * stays). 0 or -errno.
 */
int vhu_call(struct vhu *v, uint32_t req, const void *payload, uint32_t size,
	     const int *fds, unsigned nfds, void *reply, uint32_t reply_size)
	__attribute__((warn_unused_result));

#endif
