/*
 * A tiny 9P2000.L client for the unit tests: builds each request with the
 * server's own writer (p9_msg.h; one test checks raw bytes against the
 * spec by hand), runs it through p9_handle, checks the reply's framing
 * (size field = length, tag echoed, type = request + 1 or Rlerror) and
 * decodes it. Every call returns 0 or -ecode from Rlerror.
 * Header-only, static functions: each test program uses what it needs.
 */
#ifndef T_P9_CLIENT_H
#define T_P9_CLIENT_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/fs/p9_impl.h"
#include "nkvm/le.h"
#include "nkvm/p9.h"
#include "tap.h"

#define P9C_BAD_REPLY	(-100000)	/* framing broken: a test failure */

struct p9c {
	struct p9_server *s;
	uint8_t *req, *resp;
	size_t req_len, resp_len, resp_cap;
	uint16_t tag;
	struct p9_wbuf w;	/* the request being built */
	struct p9_rbuf r;	/* the reply body */
	unsigned bad;		/* replies with broken framing */
};

struct p9c_attr {
	struct p9_qid qid;
	uint64_t valid;
	uint32_t mode, uid, gid;
	uint64_t nlink, rdev, size, blksize, blocks;
	uint64_t atime, atime_ns, mtime, mtime_ns, ctime, ctime_ns;
};

struct p9c_dirent {
	struct p9_qid qid;
	uint64_t off;
	uint8_t type;
	char name[NAME_MAX + 1];
};

static __attribute__((unused)) void p9c_init(struct p9c *c, struct p9_server *s)
{
	memset(c, 0, sizeof(*c));
	c->s = s;
	c->req = malloc(P9_MAX_MSIZE);
	c->resp = malloc(P9_MAX_MSIZE);
	c->resp_cap = P9_MAX_MSIZE;
	c->tag = 1;
}

static __attribute__((unused)) void p9c_fini(struct p9c *c)
{
	free(c->req);
	free(c->resp);
	c->req = c->resp = NULL;
}

static struct p9_wbuf *p9c_begin(struct p9c *c)
{
	p9w_init(&c->w, c->req, P9_MAX_MSIZE);
	return &c->w;
}

/* Checks an already produced reply to a request of type with tag. */
static __attribute__((unused)) int p9c_check_reply(const uint8_t *resp, size_t n,
						   size_t cap, uint8_t type,
						   uint16_t tag)
{
	if (n < P9_HDR_SIZE || n > cap || get_le32(resp) != n ||
	    get_le16(resp + 5) != tag)
		return P9C_BAD_REPLY;
	if (resp[4] == P9_RLERROR)
		return n == P9_LERROR_SIZE ? -(int)get_le32(resp + 7) : P9C_BAD_REPLY;
	return resp[4] == type + 1 ? 0 : P9C_BAD_REPLY;
}

/* Sends what was built as message `type`; the reply body is then in c->r. */
static int p9c_send(struct p9c *c, uint8_t type)
{
	size_t n;
	int ret;

	c->tag = (uint16_t)(c->tag + 1 == P9_NOTAG ? 1 : c->tag + 1);
	c->req_len = p9w_finish(&c->w, type, type == P9_TVERSION ? P9_NOTAG : c->tag);
	if (!c->req_len)
		return P9C_BAD_REPLY;
	n = p9_handle(c->s, c->req, c->req_len, c->resp, c->resp_cap);
	c->resp_len = n;
	ret = p9c_check_reply(c->resp, n, c->resp_cap, type,
			      type == P9_TVERSION ? P9_NOTAG : c->tag);
	if (ret == P9C_BAD_REPLY) {
		c->bad++;
		diag("bad reply framing to type %u (%zu bytes)", type, n);
	}
	p9r_init(&c->r, c->resp + P9_HDR_SIZE, n >= P9_HDR_SIZE ? n - P9_HDR_SIZE : 0);
	return ret;
}

/* The reply must be read whole. */
static int p9c_done(struct p9c *c)
{
	if (p9r_end(&c->r)) {
		c->bad++;
		diag("reply body has the wrong length");
		return P9C_BAD_REPLY;
	}
	return 0;
}

static __attribute__((unused)) int p9c_version(struct p9c *c, uint32_t msize,
					       const char *ver, uint32_t *out_msize,
					       char *out_ver, size_t out_len)
{
	struct p9_wbuf *w = p9c_begin(c);
	const char *v;
	uint16_t vl;
	int ret;

	p9w_u32(w, msize);
	p9w_cstr(w, ver);
	ret = p9c_send(c, P9_TVERSION);
	if (ret)
		return ret;
	*out_msize = p9r_u32(&c->r);
	v = p9r_str(&c->r, &vl);
	if (out_ver && out_len) {
		size_t k = vl < out_len - 1 ? vl : out_len - 1;

		memcpy(out_ver, v ? v : "", v ? k : 0);
		out_ver[v ? k : 0] = '\0';
	}
	return p9c_done(c);
}

static __attribute__((unused)) int p9c_attach(struct p9c *c, uint32_t fid,
					      struct p9_qid *qid)
{
	struct p9_wbuf *w = p9c_begin(c);
	int ret;

	p9w_u32(w, fid);
	p9w_u32(w, P9_NOFID);
	p9w_cstr(w, "root");
	p9w_cstr(w, "");
	p9w_u32(w, 0);
	ret = p9c_send(c, P9_TATTACH);
	if (ret)
		return ret;
	p9r_qid(&c->r, qid);
	return p9c_done(c);
}

/* Twalk with explicit names (lens from strlen); *nq = qids returned. */
static __attribute__((unused)) int p9c_walkv(struct p9c *c, uint32_t fid,
					     uint32_t newfid, unsigned n,
					     const char *const *names,
					     unsigned *nq, struct p9_qid *qids)
{
	struct p9_wbuf *w = p9c_begin(c);
	int ret;

	p9w_u32(w, fid);
	p9w_u32(w, newfid);
	p9w_u16(w, (uint16_t)n);
	for (unsigned i = 0; i < n; i++)
		p9w_cstr(w, names[i]);
	ret = p9c_send(c, P9_TWALK);
	*nq = 0;
	if (ret)
		return ret;
	*nq = p9r_u16(&c->r);
	for (unsigned i = 0; i < *nq && i < P9_MAXWELEM; i++)
		p9r_qid(&c->r, &qids[i]);
	return p9c_done(c);
}

/* Twalk along a '/'-separated path ("" = clone); 0 only when every
 * component was walked (a partial walk is -ENOENT here); *last = the qid
 * of the last one. */
static __attribute__((unused)) int p9c_walk(struct p9c *c, uint32_t fid,
					    uint32_t newfid, const char *path,
					    struct p9_qid *last)
{
	char buf[4096], *save = NULL, *tok;
	const char *names[P9_MAXWELEM + 4];
	struct p9_qid qids[P9_MAXWELEM];
	unsigned n = 0, nq;
	int ret;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, "/", &save); tok && n < P9_MAXWELEM + 4;
	     tok = strtok_r(NULL, "/", &save))
		names[n++] = tok;
	ret = p9c_walkv(c, fid, newfid, n, names, &nq, qids);
	if (ret)
		return ret;
	if (nq != n)
		return -ENOENT;
	if (last && n)
		*last = qids[n - 1];
	return 0;
}

static __attribute__((unused)) int p9c_qid_reply(struct p9c *c, int ret,
						 struct p9_qid *qid)
{
	struct p9_qid dummy;

	if (ret)
		return ret;
	p9r_qid(&c->r, qid ? qid : &dummy);
	return p9c_done(c);
}

static __attribute__((unused)) int p9c_lopen(struct p9c *c, uint32_t fid,
					     uint32_t flags, struct p9_qid *qid)
{
	struct p9_wbuf *w = p9c_begin(c);
	int ret;

	p9w_u32(w, fid);
	p9w_u32(w, flags);
	ret = p9c_send(c, P9_TLOPEN);
	if (ret)
		return ret;
	p9r_qid(&c->r, qid ? qid : &(struct p9_qid){ 0 });
	p9r_u32(&c->r);	/* iounit */
	return p9c_done(c);
}

static __attribute__((unused)) int p9c_lcreate(struct p9c *c, uint32_t fid,
					       const char *name, uint32_t flags,
					       uint32_t mode, uint32_t gid,
					       struct p9_qid *qid)
{
	struct p9_wbuf *w = p9c_begin(c);
	int ret;

	p9w_u32(w, fid);
	p9w_cstr(w, name);
	p9w_u32(w, flags);
	p9w_u32(w, mode);
	p9w_u32(w, gid);
	ret = p9c_send(c, P9_TLCREATE);
	if (ret)
		return ret;
	p9r_qid(&c->r, qid ? qid : &(struct p9_qid){ 0 });
	p9r_u32(&c->r);
	return p9c_done(c);
}

/* Tread: up to cap bytes copied to buf, *n = count returned. */
static __attribute__((unused)) int p9c_read(struct p9c *c, uint32_t fid,
					    uint64_t off, uint32_t count,
					    void *buf, size_t cap, uint32_t *n)
{
	struct p9_wbuf *w = p9c_begin(c);
	const uint8_t *d;
	int ret;

	p9w_u32(w, fid);
	p9w_u64(w, off);
	p9w_u32(w, count);
	ret = p9c_send(c, P9_TREAD);
	if (ret)
		return ret;
	*n = p9r_u32(&c->r);
	d = p9r_mem(&c->r, *n);
	if (d && buf)
		memcpy(buf, d, *n < cap ? *n : cap);
	return p9c_done(c);
}

static __attribute__((unused)) int p9c_write(struct p9c *c, uint32_t fid,
					     uint64_t off, const void *data,
					     uint32_t len, uint32_t *n)
{
	struct p9_wbuf *w = p9c_begin(c);
	int ret;

	p9w_u32(w, fid);
	p9w_u64(w, off);
	p9w_u32(w, len);
	p9w_mem(w, data, len);
	ret = p9c_send(c, P9_TWRITE);
	if (ret)
		return ret;
	*n = p9r_u32(&c->r);
	return p9c_done(c);
}

static __attribute__((unused)) int p9c_getattr(struct p9c *c, uint32_t fid,
					       struct p9c_attr *a)
{
	struct p9_wbuf *w = p9c_begin(c);
	int ret;

	p9w_u32(w, fid);
	p9w_u64(w, P9_GETATTR_BASIC);
	ret = p9c_send(c, P9_TGETATTR);
	if (ret)
		return ret;
	a->valid = p9r_u64(&c->r);
	p9r_qid(&c->r, &a->qid);
	a->mode = p9r_u32(&c->r);
	a->uid = p9r_u32(&c->r);
	a->gid = p9r_u32(&c->r);
	a->nlink = p9r_u64(&c->r);
	a->rdev = p9r_u64(&c->r);
	a->size = p9r_u64(&c->r);
	a->blksize = p9r_u64(&c->r);
	a->blocks = p9r_u64(&c->r);
	a->atime = p9r_u64(&c->r);
	a->atime_ns = p9r_u64(&c->r);
	a->mtime = p9r_u64(&c->r);
	a->mtime_ns = p9r_u64(&c->r);
	a->ctime = p9r_u64(&c->r);
	a->ctime_ns = p9r_u64(&c->r);
	for (int i = 0; i < 4; i++)
		p9r_u64(&c->r);
	return p9c_done(c);
}

static __attribute__((unused)) int p9c_setattr(struct p9c *c, uint32_t fid,
					       uint32_t valid, uint32_t mode,
					       uint32_t uid, uint32_t gid,
					       uint64_t size, uint64_t as,
					       uint64_t ans, uint64_t ms,
					       uint64_t mns)
{
	struct p9_wbuf *w = p9c_begin(c);
	int ret;

	p9w_u32(w, fid);
	p9w_u32(w, valid);
	p9w_u32(w, mode);
	p9w_u32(w, uid);
	p9w_u32(w, gid);
	p9w_u64(w, size);
	p9w_u64(w, as);
	p9w_u64(w, ans);
	p9w_u64(w, ms);
	p9w_u64(w, mns);
	ret = p9c_send(c, P9_TSETATTR);
	return ret ? ret : p9c_done(c);
}

/* Treaddir: decodes up to max entries; *nent = entries in the reply. */
static __attribute__((unused)) int p9c_readdir(struct p9c *c, uint32_t fid,
					       uint64_t off, uint32_t count,
					       struct p9c_dirent *ents,
					       unsigned max, unsigned *nent)
{
	struct p9_wbuf *w = p9c_begin(c);
	struct p9_rbuf body;
	uint32_t total;
	const uint8_t *d;
	int ret;

	p9w_u32(w, fid);
	p9w_u64(w, off);
	p9w_u32(w, count);
	ret = p9c_send(c, P9_TREADDIR);
	*nent = 0;
	if (ret)
		return ret;
	total = p9r_u32(&c->r);
	d = p9r_mem(&c->r, total);
	ret = p9c_done(c);
	if (ret || total > count)
		return P9C_BAD_REPLY;
	p9r_init(&body, d, total);
	while (body.off < body.len && !body.err) {
		struct p9c_dirent e;
		const char *nm;
		uint16_t nl;

		p9r_qid(&body, &e.qid);
		e.off = p9r_u64(&body);
		e.type = p9r_u8(&body);
		nm = p9r_str(&body, &nl);
		if (!nm || nl > NAME_MAX)
			return P9C_BAD_REPLY;
		memcpy(e.name, nm, nl);
		e.name[nl] = '\0';
		if (*nent < max)
			ents[*nent] = e;
		(*nent)++;
	}
	return body.err ? P9C_BAD_REPLY : 0;
}

static __attribute__((unused)) int p9c_mkdir(struct p9c *c, uint32_t dfid,
					     const char *name, uint32_t mode,
					     uint32_t gid, struct p9_qid *qid)
{
	struct p9_wbuf *w = p9c_begin(c);

	p9w_u32(w, dfid);
	p9w_cstr(w, name);
	p9w_u32(w, mode);
	p9w_u32(w, gid);
	return p9c_qid_reply(c, p9c_send(c, P9_TMKDIR), qid);
}

static __attribute__((unused)) int p9c_symlink(struct p9c *c, uint32_t dfid,
					       const char *name, const char *target,
					       uint32_t gid, struct p9_qid *qid)
{
	struct p9_wbuf *w = p9c_begin(c);

	p9w_u32(w, dfid);
	p9w_cstr(w, name);
	p9w_cstr(w, target);
	p9w_u32(w, gid);
	return p9c_qid_reply(c, p9c_send(c, P9_TSYMLINK), qid);
}

static __attribute__((unused)) int p9c_mknod(struct p9c *c, uint32_t dfid,
					     const char *name, uint32_t mode,
					     uint32_t major, uint32_t minor,
					     uint32_t gid, struct p9_qid *qid)
{
	struct p9_wbuf *w = p9c_begin(c);

	p9w_u32(w, dfid);
	p9w_cstr(w, name);
	p9w_u32(w, mode);
	p9w_u32(w, major);
	p9w_u32(w, minor);
	p9w_u32(w, gid);
	return p9c_qid_reply(c, p9c_send(c, P9_TMKNOD), qid);
}

static int p9c_empty_reply(struct p9c *c, uint8_t type)
{
	int ret = p9c_send(c, type);

	return ret ? ret : p9c_done(c);
}

static __attribute__((unused)) int p9c_link(struct p9c *c, uint32_t dfid,
					    uint32_t fid, const char *name)
{
	struct p9_wbuf *w = p9c_begin(c);

	p9w_u32(w, dfid);
	p9w_u32(w, fid);
	p9w_cstr(w, name);
	return p9c_empty_reply(c, P9_TLINK);
}

static __attribute__((unused)) int p9c_rename(struct p9c *c, uint32_t fid,
					      uint32_t dfid, const char *name)
{
	struct p9_wbuf *w = p9c_begin(c);

	p9w_u32(w, fid);
	p9w_u32(w, dfid);
	p9w_cstr(w, name);
	return p9c_empty_reply(c, P9_TRENAME);
}

static __attribute__((unused)) int p9c_renameat(struct p9c *c, uint32_t ofid,
						const char *oname, uint32_t nfid,
						const char *nname)
{
	struct p9_wbuf *w = p9c_begin(c);

	p9w_u32(w, ofid);
	p9w_cstr(w, oname);
	p9w_u32(w, nfid);
	p9w_cstr(w, nname);
	return p9c_empty_reply(c, P9_TRENAMEAT);
}

static __attribute__((unused)) int p9c_unlinkat(struct p9c *c, uint32_t dfid,
						const char *name, uint32_t flags)
{
	struct p9_wbuf *w = p9c_begin(c);

	p9w_u32(w, dfid);
	p9w_cstr(w, name);
	p9w_u32(w, flags);
	return p9c_empty_reply(c, P9_TUNLINKAT);
}

static __attribute__((unused)) int p9c_readlink(struct p9c *c, uint32_t fid,
						char *out, size_t cap)
{
	struct p9_wbuf *w = p9c_begin(c);
	const char *t;
	uint16_t len;
	int ret;

	p9w_u32(w, fid);
	ret = p9c_send(c, P9_TREADLINK);
	if (ret)
		return ret;
	t = p9r_str(&c->r, &len);
	snprintf(out, cap, "%.*s", (int)len, t ? t : "");
	return p9c_done(c);
}

/* fid-only requests with an empty reply: clunk, remove. */
static __attribute__((unused)) int p9c_fidop(struct p9c *c, uint8_t type,
					     uint32_t fid)
{
	struct p9_wbuf *w = p9c_begin(c);

	p9w_u32(w, fid);
	return p9c_empty_reply(c, type);
}

static __attribute__((unused)) int p9c_clunk(struct p9c *c, uint32_t fid)
{
	return p9c_fidop(c, P9_TCLUNK, fid);
}

static __attribute__((unused)) int p9c_fsync(struct p9c *c, uint32_t fid,
					     uint32_t datasync)
{
	struct p9_wbuf *w = p9c_begin(c);

	p9w_u32(w, fid);
	p9w_u32(w, datasync);
	return p9c_empty_reply(c, P9_TFSYNC);
}

static __attribute__((unused)) int cmp_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* A snapshot of the tree: names, types, modes, sizes, mtimes, contents. */
static __attribute__((unused)) void snap(int dfd, const char *prefix, char *out, size_t cap)
{
	DIR *d = fdopendir(dup(dfd));
	struct dirent *e;
	char names[64][NAME_MAX + 1];
	int n = 0;

	if (!d)
		return;
	while ((e = readdir(d)) && n < 64)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			snprintf(names[n++], NAME_MAX + 1, "%s", e->d_name);
	closedir(d);
	qsort(names, (size_t)n, sizeof(names[0]), cmp_name);
	for (int i = 0; i < n; i++) {
		struct stat st;
		char line[1024], data[64] = "";
		int fd;

		if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW))
			continue;
		if (S_ISREG(st.st_mode) &&
		    (fd = openat(dfd, names[i], O_RDONLY | O_CLOEXEC)) >= 0) {
			ssize_t k = read(fd, data, sizeof(data) - 1);

			data[k > 0 ? k : 0] = '\0';
			close(fd);
		}
		snprintf(line, sizeof(line), "%.300s/%.255s %o %lld %lld.%ld %s\n",
			 prefix, names[i],
			 st.st_mode, (long long)st.st_size, (long long)st.st_mtim.tv_sec,
			 st.st_mtim.tv_nsec, data);
		strncat(out, line, cap - strlen(out) - 1);
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dfd, names[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			char p[600];

			snprintf(p, sizeof(p), "%.300s/%.255s", prefix, names[i]);
			if (sub >= 0) {
				snap(sub, p, out, cap);
				close(sub);
			}
		}
	}
}

/* Everything about the tree at dir that a modification would change
 * (atimes aside), as text. */
static __attribute__((unused)) void tree_snapshot(const char *dir, char *out,
						  size_t cap)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat st;

	out[0] = '\0';
	fstat(fd, &st);
	snprintf(out, cap, "root %o %lld.%ld\n", st.st_mode, (long long)st.st_mtim.tv_sec,
		 st.st_mtim.tv_nsec);
	snap(fd, "", out, cap);
	close(fd);
}

/* rm -rf dfd/name, never following a symlink. */
static __attribute__((unused)) void rm_rf(int dfd, const char *name)
{
	struct stat st;
	int fd;

	/* a test may have left a directory without permissions */
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
		fchmodat(dfd, name, 0700, 0);
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d;
	struct dirent *e;

	if (fd >= 0 && (d = fdopendir(fd))) {
		while ((e = readdir(d)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
				rm_rf(dirfd(d), e->d_name);
		closedir(d);
		unlinkat(dfd, name, AT_REMOVEDIR);
	} else {
		if (fd >= 0)
			close(fd);
		unlinkat(dfd, name, 0);
	}
}

#endif
