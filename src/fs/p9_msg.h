/*
 * 9P2000.L wire format: message numbers, constants, and bounded readers and
 * writers over byte buffers. Used by the server for requests and replies,
 * and by the unit tests and fuzzer to build requests and parse replies.
 */
#ifndef NKVM_P9_MSG_H
#define NKVM_P9_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* size[4] type[1] tag[2] */
#define P9_HDR_SIZE	7
/* Rlerror: header + ecode[4] */
#define P9_LERROR_SIZE	11
/* Rread/Rreaddir: header + count[4] before the data */
#define P9_IOHDR_SIZE	11
#define P9_QID_SIZE	13
#define P9_NOTAG	0xffffu
#define P9_NOFID	0xffffffffu
#define P9_MAXWELEM	16
#define P9_VERSION_L	"9P2000.L"

enum p9_msg_type {
	P9_TLERROR = 6, P9_RLERROR,
	P9_TSTATFS = 8, P9_RSTATFS,
	P9_TLOPEN = 12, P9_RLOPEN,
	P9_TLCREATE = 14, P9_RLCREATE,
	P9_TSYMLINK = 16, P9_RSYMLINK,
	P9_TMKNOD = 18, P9_RMKNOD,
	P9_TRENAME = 20, P9_RRENAME,
	P9_TREADLINK = 22, P9_RREADLINK,
	P9_TGETATTR = 24, P9_RGETATTR,
	P9_TSETATTR = 26, P9_RSETATTR,
	P9_TXATTRWALK = 30, P9_RXATTRWALK,
	P9_TXATTRCREATE = 32, P9_RXATTRCREATE,
	P9_TREADDIR = 40, P9_RREADDIR,
	P9_TFSYNC = 50, P9_RFSYNC,
	P9_TLOCK = 52, P9_RLOCK,
	P9_TGETLOCK = 54, P9_RGETLOCK,
	P9_TLINK = 70, P9_RLINK,
	P9_TMKDIR = 72, P9_RMKDIR,
	P9_TRENAMEAT = 74, P9_RRENAMEAT,
	P9_TUNLINKAT = 76, P9_RUNLINKAT,
	P9_TVERSION = 100, P9_RVERSION,
	P9_TAUTH = 102, P9_RAUTH,
	P9_TATTACH = 104, P9_RATTACH,
	P9_TFLUSH = 108, P9_RFLUSH,
	P9_TWALK = 110, P9_RWALK,
	P9_TREAD = 116, P9_RREAD,
	P9_TWRITE = 118, P9_RWRITE,
	P9_TCLUNK = 120, P9_RCLUNK,
	P9_TREMOVE = 122, P9_RREMOVE,
};

/* qid.type */
#define P9_QTDIR	0x80
#define P9_QTSYMLINK	0x02
#define P9_QTFILE	0x00

/* Tgetattr request_mask / Rgetattr valid */
#define P9_GETATTR_BASIC	0x000007ffull

/* Tsetattr valid */
#define P9_SETATTR_MODE		0x001u
#define P9_SETATTR_UID		0x002u
#define P9_SETATTR_GID		0x004u
#define P9_SETATTR_SIZE		0x008u
#define P9_SETATTR_ATIME	0x010u
#define P9_SETATTR_MTIME	0x020u
#define P9_SETATTR_CTIME	0x040u
#define P9_SETATTR_ATIME_SET	0x080u
#define P9_SETATTR_MTIME_SET	0x100u

/* Tlopen/Tlcreate flags (Linux's P9_DOTL_*) */
#define P9_DOTL_ACCMODE		0x3u
#define P9_DOTL_RDONLY		0u
#define P9_DOTL_WRONLY		1u
#define P9_DOTL_RDWR		2u
#define P9_DOTL_CREATE		0000100u
#define P9_DOTL_EXCL		0000200u
#define P9_DOTL_NOCTTY		0000400u
#define P9_DOTL_TRUNC		0001000u
#define P9_DOTL_APPEND		0002000u
#define P9_DOTL_NONBLOCK	0004000u
#define P9_DOTL_DSYNC		0010000u
#define P9_DOTL_FASYNC		0020000u
#define P9_DOTL_DIRECT		0040000u
#define P9_DOTL_LARGEFILE	0100000u
#define P9_DOTL_DIRECTORY	0200000u
#define P9_DOTL_NOFOLLOW	0400000u
#define P9_DOTL_NOATIME		01000000u
#define P9_DOTL_CLOEXEC		02000000u
#define P9_DOTL_SYNC		04000000u

/* Tunlinkat flags */
#define P9_DOTL_AT_REMOVEDIR	0x200u

/* Tlock / Tgetlock */
#define P9_LOCK_TYPE_RDLCK	0
#define P9_LOCK_TYPE_WRLCK	1
#define P9_LOCK_TYPE_UNLCK	2
#define P9_LOCK_SUCCESS		0

struct p9_qid {
	uint8_t type;
	uint32_t version;
	uint64_t path;
};

/* Reader over a received message body. Any read past the end sets err and
 * yields zeroes / NULL, so a handler parses everything, then checks once. */
struct p9_rbuf {
	const uint8_t *p;
	size_t len, off;
	bool err;
};

void p9r_init(struct p9_rbuf *r, const uint8_t *p, size_t len);
uint8_t p9r_u8(struct p9_rbuf *r);
uint16_t p9r_u16(struct p9_rbuf *r);
uint32_t p9r_u32(struct p9_rbuf *r);
uint64_t p9r_u64(struct p9_rbuf *r);
/* A string s[2]: a pointer into the message (not NUL-terminated) and its
 * length; NULL and err when it runs past the end. */
const char *p9r_str(struct p9_rbuf *r, uint16_t *len);
/* n raw bytes: a pointer into the message, NULL and err past the end. */
const uint8_t *p9r_mem(struct p9_rbuf *r, size_t n);
void p9r_qid(struct p9_rbuf *r, struct p9_qid *q);
/* 0 when everything was read and nothing is left over, else -EPROTO. */
int p9r_end(const struct p9_rbuf *r) __attribute__((warn_unused_result));

/* Writer into a reply (or, for tests, a request) buffer. Writes start after
 * the 7-byte header; p9w_finish fills the header in. Any write past cap
 * sets err and writes nothing. */
struct p9_wbuf {
	uint8_t *p;
	size_t cap, off;
	bool err;
};

void p9w_init(struct p9_wbuf *w, uint8_t *p, size_t cap);
void p9w_u8(struct p9_wbuf *w, uint8_t v);
void p9w_u16(struct p9_wbuf *w, uint16_t v);
void p9w_u32(struct p9_wbuf *w, uint32_t v);
void p9w_u64(struct p9_wbuf *w, uint64_t v);
void p9w_mem(struct p9_wbuf *w, const void *data, size_t len);
/* s[2]: len bytes of s (len > 65535 sets err). */
void p9w_str(struct p9_wbuf *w, const char *s, size_t len);
/* A C string as s[2]. */
void p9w_cstr(struct p9_wbuf *w, const char *s);
void p9w_qid(struct p9_wbuf *w, const struct p9_qid *q);
/* Room for len bytes to be filled in later: a pointer, or NULL and err. */
uint8_t *p9w_reserve(struct p9_wbuf *w, size_t len);
/* Writes the header (size = bytes written, type, tag) and returns the
 * message length, or 0 when a write overflowed or cap < the header. */
size_t p9w_finish(struct p9_wbuf *w, uint8_t type, uint16_t tag);
/* A complete Rlerror(ecode) into buf (cap >= P9_LERROR_SIZE): its length. */
size_t p9_put_lerror(uint8_t *buf, size_t cap, uint16_t tag, uint32_t ecode);

#endif
