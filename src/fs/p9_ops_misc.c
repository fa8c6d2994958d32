/*
 * 9P2000.L locks and xattrs, as far as Linux's v9fs asks for them (see
 * the security model in p9_ops.c):
 * - Tlock is always granted (status 0) and Tgetlock always answers
 *   "unlocked": the guest kernel arbitrates POSIX locks among its own
 *   processes before it sends them; locks between guest and host
 *   processes are not supported.
 * - No xattr is exposed: Txattrwalk of a name is ENODATA (what Linux asks
 *   for security.capability on every write, and ACLs), the list ("" name)
 *   is an empty xattr fid to read and clunk, Txattrcreate is EOPNOTSUPP.
 */
#include <errno.h>

#include "p9_impl.h"

/* Tlock fid[4] type[1] flags[4] start[8] length[8] proc_id[4]
 * client_id[s] -> status[1]. */
int p9_op_lock(struct p9_server *s, struct p9_rbuf *r, struct p9_wbuf *w)
{
	uint32_t fid = p9r_u32(r);
	uint8_t type = p9r_u8(r);
	uint16_t len;
	int ret;

	p9r_u32(r);
	p9r_u64(r);
	p9r_u64(r);
	p9r_u32(r);
	p9r_str(r, &len);
	ret = p9r_end(r);
	if (ret)
		return ret;
	if (!p9_fid_file(s, fid))
		return -EBADF;
	if (type > P9_LOCK_TYPE_UNLCK)
		return -EINVAL;
	p9w_u8(w, P9_LOCK_SUCCESS);
	return 0;
}

/* Tgetlock fid[4] type[1] start[8] length[8] proc_id[4] client_id[s]:
 * the same range back, unlocked. */
int p9_op_getlock(struct p9_server *s, struct p9_rbuf *r, struct p9_wbuf *w)
{
	uint32_t fid = p9r_u32(r), proc_id;
	uint8_t type = p9r_u8(r);
	uint64_t start = p9r_u64(r), length = p9r_u64(r);
	uint16_t len;
	const char *client;
	int ret;

	proc_id = p9r_u32(r);
	client = p9r_str(r, &len);
	ret = p9r_end(r);
	if (ret)
		return ret;
	if (!p9_fid_file(s, fid))
		return -EBADF;
	if (type > P9_LOCK_TYPE_UNLCK)
		return -EINVAL;
	p9w_u8(w, P9_LOCK_TYPE_UNLCK);
	p9w_u64(w, start);
	p9w_u64(w, length);
	p9w_u32(w, proc_id);
	p9w_str(w, client, len);
	return 0;
}

/* Txattrwalk fid[4] newfid[4] name[s] -> size[8]. */
int p9_op_xattrwalk(struct p9_server *s, struct p9_rbuf *r, struct p9_wbuf *w)
{
	uint32_t fid = p9r_u32(r), newfid = p9r_u32(r);
	uint16_t len;
	struct p9_fid *f, *nf;
	int ret;

	p9r_str(r, &len);
	ret = p9_req_file(s, r, fid, &f);
	if (ret)
		return ret;
	if (len)
		return -ENODATA;
	ret = p9_fid_new(s, newfid, &nf);
	if (ret)
		return ret;
	nf->kind = P9_FID_XATTR;
	nf->xattr_size = 0;
	p9w_u64(w, nf->xattr_size);
	return 0;
}

/* Txattrcreate fid[4] name[s] attr_size[8] flags[4]. */
int p9_op_xattrcreate(struct p9_server *s, struct p9_rbuf *r, struct p9_wbuf *w)
{
	uint32_t fid = p9r_u32(r);
	uint16_t len;
	int ret;

	p9r_str(r, &len);
	p9r_u64(r);
	p9r_u32(r);
	ret = p9r_end(r);
	if (ret)
		return ret;
	if (!p9_fid_file(s, fid))
		return -EBADF;
	return s->ro ? -EROFS : -EOPNOTSUPP;
}
