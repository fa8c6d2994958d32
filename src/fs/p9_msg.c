/* 9P wire encode/decode: bounds-checked little-endian readers and writers.
 * A reader never touches a byte at or past len; a writer never one at or
 * past cap. Errors are sticky so a handler checks once, after parsing. */
#include <errno.h>
#include <string.h>

#include "nkvm/le.h"
#include "p9_msg.h"

/* Initializes a reader over len bytes at p. */
void p9r_init(struct p9_rbuf *r, const uint8_t *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->off = 0;
	r->err = false;
}

/* The next n bytes, or NULL (and err) when fewer are left. */
static const uint8_t *take(struct p9_rbuf *r, size_t n)
{
	const uint8_t *q;

	if (r->err || n > r->len - r->off) {
		r->err = true;
		return NULL;
	}
	q = r->p + r->off;
	r->off += n;
	return q;
}

/* Reads one byte (0 past the end). */
uint8_t p9r_u8(struct p9_rbuf *r)
{
	const uint8_t *q = take(r, 1);

	return q ? q[0] : 0;
}

/* Reads a little-endian u16 (0 past the end). */
uint16_t p9r_u16(struct p9_rbuf *r)
{
	const uint8_t *q = take(r, 2);

	return q ? get_le16(q) : 0;
}

/* Reads a little-endian u32 (0 past the end). */
uint32_t p9r_u32(struct p9_rbuf *r)
{
	const uint8_t *q = take(r, 4);

	return q ? get_le32(q) : 0;
}

/* Reads a little-endian u64 (0 past the end). */
uint64_t p9r_u64(struct p9_rbuf *r)
{
	const uint8_t *q = take(r, 8);

	return q ? get_le64(q) : 0;
}

/* Reads s[2]; the bytes stay in the message. */
const char *p9r_str(struct p9_rbuf *r, uint16_t *len)
{
	uint16_t n = p9r_u16(r);
	const uint8_t *q = take(r, n);

	*len = q ? n : 0;
	return (const char *)q;
}

/* Reads n raw bytes; they stay in the message. */
const uint8_t *p9r_mem(struct p9_rbuf *r, size_t n)
{
	return take(r, n);
}

/* Reads a qid (zeroes past the end). */
void p9r_qid(struct p9_rbuf *r, struct p9_qid *q)
{
	q->type = p9r_u8(r);
	q->version = p9r_u32(r);
	q->path = p9r_u64(r);
}

/* A request must be read whole: no error, no trailing byte. */
int p9r_end(const struct p9_rbuf *r)
{
	return r->err || r->off != r->len ? -EPROTO : 0;
}

/* Initializes a writer over cap bytes; the body starts after the header. */
void p9w_init(struct p9_wbuf *w, uint8_t *p, size_t cap)
{
	w->p = p;
	w->cap = cap;
	w->off = P9_HDR_SIZE;
	w->err = cap < P9_HDR_SIZE;
}

/* Room for len more bytes, or NULL (and err). */
uint8_t *p9w_reserve(struct p9_wbuf *w, size_t len)
{
	uint8_t *q;

	if (w->err || len > w->cap - w->off) {
		w->err = true;
		return NULL;
	}
	q = w->p + w->off;
	w->off += len;
	return q;
}

/* Writes one byte. */
void p9w_u8(struct p9_wbuf *w, uint8_t v)
{
	uint8_t *q = p9w_reserve(w, 1);

	if (q)
		q[0] = v;
}

/* Writes a little-endian u16. */
void p9w_u16(struct p9_wbuf *w, uint16_t v)
{
	uint8_t *q = p9w_reserve(w, 2);

	if (q)
		put_le16(q, v);
}

/* Writes a little-endian u32. */
void p9w_u32(struct p9_wbuf *w, uint32_t v)
{
	uint8_t *q = p9w_reserve(w, 4);

	if (q)
		put_le32(q, v);
}

/* Writes a little-endian u64. */
void p9w_u64(struct p9_wbuf *w, uint64_t v)
{
	uint8_t *q = p9w_reserve(w, 8);

	if (q)
		put_le64(q, v);
}

/* Writes len raw bytes. */
void p9w_mem(struct p9_wbuf *w, const void *data, size_t len)
{
	uint8_t *q = p9w_reserve(w, len);

	if (q && len)
		memcpy(q, data, len);
}

/* Writes s[2]; a string longer than the field can say is an error. */
void p9w_str(struct p9_wbuf *w, const char *s, size_t len)
{
	if (len > UINT16_MAX) {
		w->err = true;
		return;
	}
	p9w_u16(w, (uint16_t)len);
	p9w_mem(w, s, len);
}

/* Writes a NUL-terminated string as s[2]. */
void p9w_cstr(struct p9_wbuf *w, const char *s)
{
	p9w_str(w, s, strlen(s));
}

/* Writes a qid: type[1] version[4] path[8]. */
void p9w_qid(struct p9_wbuf *w, const struct p9_qid *q)
{
	p9w_u8(w, q->type);
	p9w_u32(w, q->version);
	p9w_u64(w, q->path);
}

/* Fills in size[4] type[1] tag[2]; the length, or 0 on overflow. */
size_t p9w_finish(struct p9_wbuf *w, uint8_t type, uint16_t tag)
{
	if (w->err || w->off > UINT32_MAX)
		return 0;
	put_le32(w->p, (uint32_t)w->off);
	w->p[4] = type;
	put_le16(w->p + 5, tag);
	return w->off;
}

/* A whole Rlerror message; 0 when cap cannot hold one. */
size_t p9_put_lerror(uint8_t *buf, size_t cap, uint16_t tag, uint32_t ecode)
{
	struct p9_wbuf w;

	p9w_init(&w, buf, cap);
	p9w_u32(&w, ecode);
	return p9w_finish(&w, P9_RLERROR, tag);
}
