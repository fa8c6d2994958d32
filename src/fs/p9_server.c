/* The 9P2000.L server: lifetime, framing and dispatch of one message, and
 * the session messages (Tversion, Tauth, Tattach, Tflush). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nkvm/le.h"
#include "p9_impl.h"

/* Lets a guest's dentry cache hold many fids: nkvm waits on epoll, never
 * select(), so high fd numbers are fine. Failure only means fewer fds. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Creates a server for the directory root; see p9.h. */
int p9_server_create(struct p9_server **out, const char *root, bool ro,
		     char *err, size_t errlen)
{
	struct p9_server *s;
	int fd, probe, ret;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s || !(s->scratch = malloc(P9_SCRATCH_SIZE))) {
		free(s);
		errbuf_printf(err, errlen, "%s: out of memory", root);
		return -ENOMEM;
	}
	fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		errbuf_printf(err, errlen, "%s: %s", root, strerror(errno));
		goto err_free;
	}
	/* the whole design rests on openat2 (Linux 5.6) */
	probe = p9_openat2(fd, ".", O_PATH, 0);
	if (probe < 0) {
		ret = probe;
		errbuf_printf(err, errlen, "%s: openat2: %s%s", root,
			      strerror(-probe),
			      probe == -ENOSYS ? " (Linux 5.6 or later needed)" : "");
		close(fd);
		goto err_free;
	}
	close(probe);
	ret = p9_obj_new(fd, &s->root);
	if (ret) {
		errbuf_printf(err, errlen, "%s: %s", root, strerror(-ret));
		goto err_free;
	}
	s->ro = ro;
	s->privileged = geteuid() == 0;
	s->max_fids = P9_MAX_FIDS;
	s->rl.burst = 10;
	raise_nofile();
	*out = s;
	return 0;
err_free:
	free(s->scratch);
	free(s);
	return ret;
}

/* Frees everything the server holds. */
void p9_server_destroy(struct p9_server *s)
{
	if (!s)
		return;
	p9_fid_free_all(s);
	p9_obj_put(s->root);
	free(s->scratch);
	free(s);
}

/* Back to the state before Tversion. */
void p9_server_reset(struct p9_server *s)
{
	p9_fid_free_all(s);
	s->msize = 0;
}

/* The negotiated msize, P9_MAX_MSIZE before one is. */
uint32_t p9_server_msize(const struct p9_server *s)
{
	return s->msize ? s->msize : P9_MAX_MSIZE;
}

/* Tversion msize[4] version[s]: starts a new session (every fid goes). */
static int op_version(struct p9_server *s, struct p9_rbuf *r, struct p9_wbuf *w)
{
	uint32_t msize = p9r_u32(r);
	uint16_t vlen;
	const char *v = p9r_str(r, &vlen);
	int ret = p9r_end(r);

	if (ret)
		return ret;
	if (msize < P9_MIN_MSIZE)
		return -EINVAL;
	p9_server_reset(s);
	msize = msize < P9_MAX_MSIZE ? msize : P9_MAX_MSIZE;
	p9w_u32(w, msize);
	if (vlen != strlen(P9_VERSION_L) || memcmp(v, P9_VERSION_L, vlen) != 0) {
		p9w_cstr(w, "unknown");	/* no session: msize stays 0 */
		return 0;
	}
	p9w_cstr(w, P9_VERSION_L);
	s->msize = msize;
	return 0;
}

/* Tauth: no authentication; attach takes afid NOFID. */
static int op_auth(struct p9_server *s, struct p9_rbuf *r, struct p9_wbuf *w)
{
	uint16_t len;
	int ret;

	p9r_u32(r);
	p9r_str(r, &len);
	p9r_str(r, &len);
	p9r_u32(r);
	ret = p9r_end(r);
	return ret ? ret : -EOPNOTSUPP;
}

/* Tattach fid[4] afid[4] uname[s] aname[s] n_uname[4]: fid = the root.
 * uname, aname and n_uname are ignored: every user gets the same share,
 * and the server acts as nkvm's uid whatever the guest claims. */
static int op_attach(struct p9_server *s, struct p9_rbuf *r, struct p9_wbuf *w)
{
	uint32_t fid = p9r_u32(r), afid = p9r_u32(r);
	struct p9_fid *f;
	struct p9_qid q;
	uint16_t len;
	int ret;

	p9r_str(r, &len);
	p9r_str(r, &len);
	p9r_u32(r);
	ret = p9r_end(r);
	if (ret)
		return ret;
	if (afid != P9_NOFID)
		return -EINVAL;
	ret = p9_fid_new(s, fid, &f);
	if (ret)
		return ret;
	f->node.self = p9_obj_get(s->root);
	p9_obj_qid(s, s->root, &q);
	p9w_qid(w, &q);
	return 0;
}

/* Tflush oldtag[2]: every request is answered before the next is read, so
 * there is never anything left to flush. */
static int op_flush(struct p9_server *s, struct p9_rbuf *r, struct p9_wbuf *w)
{
	p9r_u16(r);
	return p9r_end(r);
}

static p9_op_fn *const ops[256] = {
	[P9_TSTATFS] = p9_op_statfs,
	[P9_TLOPEN] = p9_op_lopen,
	[P9_TLCREATE] = p9_op_lcreate,
	[P9_TSYMLINK] = p9_op_symlink,
	[P9_TMKNOD] = p9_op_mknod,
	[P9_TRENAME] = p9_op_rename,
	[P9_TREADLINK] = p9_op_readlink,
	[P9_TGETATTR] = p9_op_getattr,
	[P9_TSETATTR] = p9_op_setattr,
	[P9_TXATTRWALK] = p9_op_xattrwalk,
	[P9_TXATTRCREATE] = p9_op_xattrcreate,
	[P9_TREADDIR] = p9_op_readdir,
	[P9_TFSYNC] = p9_op_fsync,
	[P9_TLOCK] = p9_op_lock,
	[P9_TGETLOCK] = p9_op_getlock,
	[P9_TLINK] = p9_op_link,
	[P9_TMKDIR] = p9_op_mkdir,
	[P9_TRENAMEAT] = p9_op_renameat,
	[P9_TUNLINKAT] = p9_op_unlinkat,
	[P9_TVERSION] = op_version,
	[P9_TAUTH] = op_auth,
	[P9_TATTACH] = op_attach,
	[P9_TFLUSH] = op_flush,
	[P9_TWALK] = p9_op_walk,
	[P9_TREAD] = p9_op_read,
	[P9_TWRITE] = p9_op_write,
	[P9_TCLUNK] = p9_op_clunk,
	[P9_TREMOVE] = p9_op_remove,
};

/* Handles one message; see p9.h. */
size_t p9_handle(struct p9_server *s, const uint8_t *req, size_t req_len,
		 uint8_t *resp, size_t resp_cap)
{
	uint16_t tag = P9_NOTAG;
	size_t cap = resp_cap, len;
	struct p9_rbuf r;
	struct p9_wbuf w;
	uint8_t type;
	int ret;

	if (resp_cap < P9_LERROR_SIZE)
		return 0;
	if (req_len < P9_HDR_SIZE) {
		ret = -EPROTO;
		goto err;
	}
	tag = get_le16(req + 5);
	type = req[4];
	if (get_le32(req) != req_len) {
		ret = -EPROTO;
		goto err;
	}
	if (!ops[type]) {
		ret = -EOPNOTSUPP;
		goto err;
	}
	if (!s->msize && type != P9_TVERSION) {
		ret = -EPROTO;
		goto err;
	}
	if (s->msize && cap > s->msize)
		cap = s->msize;
	p9r_init(&r, req + P9_HDR_SIZE, req_len - P9_HDR_SIZE);
	p9w_init(&w, resp, cap);
	ret = ops[type](s, &r, &w);
	if (ret == 0) {
		len = p9w_finish(&w, (uint8_t)(type + 1), tag);
		if (len)
			return len;
		ret = -EMSGSIZE;
	}
err:
	if (ret == -EPROTO && log_ratelimit_ok(&s->rl))
		log_debug("9p: malformed request (%zu bytes)", req_len);
	return p9_put_lerror(resp, resp_cap, tag, (uint32_t)-ret);
}
