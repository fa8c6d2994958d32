/*
 * 9P2000.L namespace operations: walk, clunk, remove, readdir, mkdir,
 * symlink, link, mknod, rename, renameat, unlinkat, readlink. Every name is
 * one component checked by p9_name_check and used with an *at() syscall on
 * the directory fid's own fd (see the security model in p9_ops.c and the
 * containment rules in p9_path.c).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "nkvm/le.h"
#include "p9_impl.h"

/* A fid naming a directory: -EBADF / -ENOTDIR otherwise. */
static int dir_fid(struct p9_server *s, uint32_t id, struct p9_fid **out)
{
	struct p9_fid *f = p9_fid_file(s, id);

	if (!f)
		return -EBADF;
	if (!S_ISDIR(f->node.self->type))
		return -ENOTDIR;
	*out = f;
	return 0;
}

/* Twalk fid[4] newfid[4] nwname[2] nwname*(wname[s]): one component per
 * step. Failing at the first name is an Rlerror; failing later answers the
 * qids walked so far and creates no newfid. */
int p9_op_walk(struct p9_server *s, struct p9_rbuf *r, struct p9_wbuf *w)
{
	uint32_t fid = p9r_u32(r), newfid = p9r_u32(r);
	uint16_t nwname = p9r_u16(r), lens[P9_MAXWELEM];
	const char *names[P9_MAXWELEM];
	struct p9_qid qids[P9_MAXWELEM];
	struct p9_node cur, next;
	struct p9_fid *f, *nf;
	char nm[NAME_MAX + 1];
	unsigned i;
	int ret;

	if (nwname > P9_MAXWELEM)
		return r->err ? -EPROTO : -EINVAL;
	for (i = 0; i < nwname; i++)
		names[i] = p9r_str(r, &lens[i]);
	ret = p9_req_file(s, r, fid, &f);
	if (ret)
		return ret;
	if (newfid != fid && p9_fid_lookup(s, newfid))
		return -EEXIST;
	if (newfid == fid && nwname && f->ofd >= 0)
		return -EBUSY;	/* an open fid keeps what it names */
	ret = p9_node_copy(&cur, &f->node);
	if (ret)
		return ret;
	for (i = 0; i < nwname; i++) {
		ret = p9_name_check(names[i], lens[i], nm, true);
		if (!ret)
			ret = p9_walk_step(s, &cur, nm, &next);
		if (ret)
			break;
		p9_node_release(&cur);
		cur = next;
		p9_obj_qid(s, cur.self, &qids[i]);
	}
	if (i == 0 && nwname) {
		p9_node_release(&cur);
		return ret;
	}
	if (i == nwname) {
		if (newfid == fid) {
			p9_node_release(&f->node);
			f->node = cur;
		} else if ((ret = p9_fid_new(s, newfid, &nf)) != 0) {
			p9_node_release(&cur);
			return ret;
		} else {
			nf->node = cur;
		}
	} else {
		p9_node_release(&cur);
	}
	p9w_u16(w, (uint16_t)i);
	for (unsigned j = 0; j < i; j++)
		p9w_qid(w, &qids[j]);
	return 0;
}

/* Tclunk fid[4]: forgets the fid (any kind). */
int p9_op_clunk(struct p9_server *s, struct p9_rbuf *r, struct p9_wbuf *w)
{
	uint32_t fid = p9r_u32(r);
	struct p9_fid *f;
	int ret = p9r_end(r);

	if (ret)
		return ret;
	f = p9_fid_lookup(s, fid);
	if (!f)
		return -EBADF;
	p9_fid_free(s, f);
	return 0;
}

/* Tremove fid[4]: removes the fid's entry (checked to still name it) and
 * clunks the fid whatever the outcome. The root cannot go (EBUSY). */
int p9_op_remove(struct p9_server *s, struct p9_rbuf *r, struct p9_wbuf *w)
{
	uint32_t fid = p9r_u32(r);
	struct p9_fid *f;
	int ret = p9r_end(r);

	if (ret)
		return ret;
	f = p9_fid_lookup(s, fid);
	if (!f)
		return -EBADF;
	if (f->kind != P9_FID_FILE)
		ret = -EINVAL;
	else if (s->ro)
		ret = -EROFS;
	else
		ret = p9_entry_check(s, &f->node);
	if (!ret && unlinkat(f->node.parent->fd, f->node.name,
			     S_ISDIR(f->node.self->type) ? AT_REMOVEDIR : 0) < 0)
		ret = -errno;
	p9_fid_free(s, f);
	return ret;
}

static uint8_t dt_qtype(unsigned char dt)
{
	return dt == DT_DIR ? P9_QTDIR : dt == DT_LNK ? P9_QTSYMLINK : P9_QTFILE;
}

/* Encodes the host entries in buf[0..n) into the reply while they fit in
 * room; false once one did not (the reply is full). */
static bool put_dirents(struct p9_server *s, struct p9_fid *f, ssize_t n,
			struct p9_wbuf *w, size_t room, size_t *used)
{
	for (ssize_t off = 0; off < n;) {
		struct dirent64 *d = (struct dirent64 *)(void *)(s->scratch + off);
		size_t nlen = strlen(d->d_name), need = P9_QID_SIZE + 8 + 1 + 2 + nlen;
		struct p9_qid q;
		struct stat st;

		off += d->d_reclen;
		if (*used + need > room)
			return false;
		p9_qid_make(s, f->node.self->dev, d->d_ino, 0, &q);
		q.type = dt_qtype(d->d_type);
		if (d->d_type == DT_UNKNOWN &&
		    fstatat(f->node.self->fd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			p9_qid_make(s, st.st_dev, st.st_ino, st.st_mode, &q);
		if (strcmp(d->d_name, "..") == 0 && p9_is_root(s, f->node.self))
			p9_obj_qid(s, s->root, &q);	/* nothing about the outside */
		p9w_qid(w, &q);
		p9w_u64(w, (uint64_t)d->d_off);
		p9w_u8(w, d->d_type);
		p9w_str(w, d->d_name, nlen);
		*used += need;
	}
	return true;
}

/* Treaddir fid[4] offset[8] count[4]: entries from the host's offset
 * (0, or a d_off this server returned), each qid[13] offset[8] type[1]
 * name[s], as many as fit in count and msize. */
int p9_op_readdir(struct p9_server *s, struct p9_rbuf *r, struct p9_wbuf *w)
{
	uint32_t fid = p9r_u32(r), count;
	uint64_t off = p9r_u64(r);
	size_t room, used = 0;
	struct p9_fid *f;
	uint8_t *cnt;
	ssize_t n;
	int ret;

	count = p9r_u32(r);
	ret = p9r_end(r);
	if (ret)
		return ret;
	f = p9_fid_file(s, fid);
	if (!f || f->ofd < 0)
		return -EBADF;
	if (!S_ISDIR(f->node.self->type))
		return -ENOTDIR;
	if (off > INT64_MAX || lseek(f->ofd, (off_t)off, SEEK_SET) < 0)
		return off > INT64_MAX ? -EINVAL : -errno;
	cnt = p9w_reserve(w, 4);
	if (!cnt)
		return -EMSGSIZE;
	room = w->cap - w->off;
	if (count < room)
		room = count;
	while ((n = getdents64(f->ofd, s->scratch, P9_SCRATCH_SIZE)) > 0)
		if (!put_dirents(s, f, n, w, room, &used))
			break;
	if (n < 0)
		return -errno;
	if (used == 0 && n > 0)
		return -EINVAL;	/* count too small for even one entry */
	put_le32(cnt, (uint32_t)used);
	return 0;
}

/* The common part of mkdir/symlink/mknod: reply with the new object's
 * qid after setting its gid and mode. */
static int created(struct p9_server *s, struct p9_fid *d, const char *name,
		   mode_t mode, uint32_t gid, struct p9_wbuf *w)
{
	struct p9_node n;
	struct p9_qid q;
	int ret = p9_child(s, d->node.self, name, &n);

	if (ret)
		return ret;
	p9_post_create(s, &n, mode, gid);
	p9_obj_qid(s, n.self, &q);
	p9w_qid(w, &q);
	p9_node_release(&n);
	return 0;
}

/* Looks up the directory fid and checks a name for a create/remove:
 * -EBADF, -ENOTDIR, -EROFS, -EINVAL, -ENAMETOOLONG. */
static int dir_and_name(struct p9_server *s, uint32_t dfid, const char *name,
			uint16_t len, struct p9_fid **d, char nm[NAME_MAX + 1])
{
	int ret = dir_fid(s, dfid, d);

	if (ret)
		return ret;
	if (s->ro)
		return -EROFS;
	return p9_name_check(name, len, nm, false);
}

/* Tmkdir dfid[4] name[s] mode[4] gid[4] -> qid. */
int p9_op_mkdir(struct p9_server *s, struct p9_rbuf *r, struct p9_wbuf *w)
{
	uint32_t dfid = p9r_u32(r), mode, gid;
	uint16_t len;
	const char *name = p9r_str(r, &len);
	char nm[NAME_MAX + 1];
	struct p9_fid *d;
	int ret;

	mode = p9r_u32(r) & 07777;
	gid = p9r_u32(r);
	ret = p9r_end(r);
	if (!ret)
		ret = dir_and_name(s, dfid, name, len, &d, nm);
	if (ret)
		return ret;
	if (mkdirat(d->node.self->fd, nm, mode) < 0)
		return -errno;
	return created(s, d, nm, mode, gid, w);
}

/* Tsymlink fid[4] name[s] symtgt[s] gid[4] -> qid. The target is only
 * text: the host never follows it. */
int p9_op_symlink(struct p9_server *s, struct p9_rbuf *r, struct p9_wbuf *w)
{
	uint32_t dfid = p9r_u32(r), gid;
	uint16_t len, tlen;
	const char *name = p9r_str(r, &len), *tgt = p9r_str(r, &tlen);
	char nm[NAME_MAX + 1], *target;
	struct p9_fid *d;
	int ret;

	gid = p9r_u32(r);
	ret = p9r_end(r);
	if (!ret)
		ret = dir_and_name(s, dfid, name, len, &d, nm);
	if (ret)
		return ret;
	if (tlen == 0 || memchr(tgt, '\0', tlen))
		return tlen ? -EINVAL : -ENOENT;
	target = strndup(tgt, tlen);
	if (!target)
		return -ENOMEM;
	ret = symlinkat(target, d->node.self->fd, nm) < 0 ? -errno : 0;
	free(target);
	return ret ? ret : created(s, d, nm, 0, gid, w);
}

/* Tmknod dfid[4] name[s] mode[4] major[4] minor[4] gid[4] -> qid. A
 * regular file for anyone; FIFOs, sockets, character and block devices
 * only when nkvm runs as root (EPERM otherwise): a FIFO the guest leaves
 * where a host process expects a file would block that process. */
int p9_op_mknod(struct p9_server *s, struct p9_rbuf *r, struct p9_wbuf *w)
{
	uint32_t dfid = p9r_u32(r), mode, major, minor, gid;
	uint16_t len;
	const char *name = p9r_str(r, &len);
	char nm[NAME_MAX + 1];
	struct p9_fid *d;
	int ret;

	mode = p9r_u32(r);
	major = p9r_u32(r);
	minor = p9r_u32(r);
	gid = p9r_u32(r);
	ret = p9r_end(r);
	if (!ret)
		ret = dir_and_name(s, dfid, name, len, &d, nm);
	if (ret)
		return ret;
	switch (mode & S_IFMT) {
	case S_IFREG:
		break;
	case S_IFIFO: case S_IFSOCK: case S_IFCHR: case S_IFBLK:
		if (!s->privileged)
			return -EPERM;
		break;
	default:
		return -EINVAL;
	}
	if (mknodat(d->node.self->fd, nm, mode & (S_IFMT | 07777),
		    makedev(major, minor)) < 0)
		return -errno;
	return created(s, d, nm, mode & 07777, gid, w);
}

/* Tlink dfid[4] fid[4] name[s]: a new name in dfid for fid's object, which
 * is inside the share by construction. */
int p9_op_link(struct p9_server *s, struct p9_rbuf *r, struct p9_wbuf *w)
{
	uint32_t dfid = p9r_u32(r), fid = p9r_u32(r);
	uint16_t len;
	const char *name = p9r_str(r, &len);
	char nm[NAME_MAX + 1];
	struct p9_fid *d, *f;
	int ret = p9r_end(r);

	if (!ret)
		ret = dir_and_name(s, dfid, name, len, &d, nm);
	if (ret)
		return ret;
	f = p9_fid_file(s, fid);
	if (!f)
		return -EBADF;
	if (S_ISDIR(f->node.self->type))
		return -EPERM;
	/* the object itself needs CAP_DAC_READ_SEARCH; else its entry */
	if (linkat(f->node.self->fd, "", d->node.self->fd, nm, AT_EMPTY_PATH) == 0)
		return 0;
	if (errno != ENOENT && errno != EPERM)
		return -errno;
	ret = p9_entry_check(s, &f->node);
	if (ret)
		return ret;
	return linkat(f->node.parent->fd, f->node.name, d->node.self->fd, nm, 0) < 0 ?
	       -errno : 0;
}

/* renameat, then the fids reached by the old entry follow it. */
static int do_rename(struct p9_server *s, struct p9_obj *od, const char *on,
		     struct p9_obj *nd, const char *nn)
{
	if (renameat(od->fd, on, nd->fd, nn) < 0)
		return -errno;
	p9_fid_renamed(s, od, on, nd, nn);
	return 0;
}

/* Trename fid[4] dfid[4] name[s]: moves fid's entry into dfid as name. */
int p9_op_rename(struct p9_server *s, struct p9_rbuf *r, struct p9_wbuf *w)
{
	uint32_t fid = p9r_u32(r), dfid = p9r_u32(r);
	uint16_t len;
	const char *name = p9r_str(r, &len);
	char nm[NAME_MAX + 1], old[NAME_MAX + 1];
	struct p9_fid *d, *f;
	struct p9_obj *od;
	int ret = p9r_end(r);

	if (!ret)
		ret = dir_and_name(s, dfid, name, len, &d, nm);
	if (ret)
		return ret;
	f = p9_fid_file(s, fid);
	if (!f)
		return -EBADF;
	ret = p9_entry_check(s, &f->node);
	if (ret)
		return ret;
	/* the fix-up rewrites f's own entry: work on copies */
	snprintf(old, sizeof(old), "%s", f->node.name);
	od = p9_obj_get(f->node.parent);
	ret = do_rename(s, od, old, d->node.self, nm);
	p9_obj_put(od);
	return ret;
}

/* Trenameat olddirfid[4] oldname[s] newdirfid[4] newname[s]. */
int p9_op_renameat(struct p9_server *s, struct p9_rbuf *r, struct p9_wbuf *w)
{
	uint32_t ofid = p9r_u32(r), nfid;
	uint16_t olen, nlen;
	const char *oname = p9r_str(r, &olen), *nname;
	char on[NAME_MAX + 1], nn[NAME_MAX + 1];
	struct p9_fid *od, *nd;
	struct p9_obj *oobj;
	int ret;

	nfid = p9r_u32(r);
	nname = p9r_str(r, &nlen);
	ret = p9r_end(r);
	if (!ret)
		ret = dir_and_name(s, ofid, oname, olen, &od, on);
	if (!ret)
		ret = dir_and_name(s, nfid, nname, nlen, &nd, nn);
	if (ret)
		return ret;
	oobj = p9_obj_get(od->node.self);
	ret = do_rename(s, oobj, on, nd->node.self, nn);
	p9_obj_put(oobj);
	return ret;
}

/* Tunlinkat dirfd[4] name[s] flags[4]: AT_REMOVEDIR or 0. */
int p9_op_unlinkat(struct p9_server *s, struct p9_rbuf *r, struct p9_wbuf *w)
{
	uint32_t dfid = p9r_u32(r), flags;
	uint16_t len;
	const char *name = p9r_str(r, &len);
	char nm[NAME_MAX + 1];
	struct p9_fid *d;
	int ret;

	flags = p9r_u32(r);
	ret = p9r_end(r);
	if (!ret)
		ret = dir_and_name(s, dfid, name, len, &d, nm);
	if (ret)
		return ret;
	if (flags & ~P9_DOTL_AT_REMOVEDIR)
		return -EINVAL;
	if (unlinkat(d->node.self->fd, nm,
		     (flags & P9_DOTL_AT_REMOVEDIR) ? AT_REMOVEDIR : 0) < 0)
		return -errno;
	return 0;
}

/* Treadlink fid[4] -> target[s]: the link's text, never followed. */
int p9_op_readlink(struct p9_server *s, struct p9_rbuf *r, struct p9_wbuf *w)
{
	uint32_t fid = p9r_u32(r);
	struct p9_fid *f;
	ssize_t n;
	int ret;

	ret = p9_req_file(s, r, fid, &f);
	if (ret)
		return ret;
	if (!S_ISLNK(f->node.self->type))
		return -EINVAL;
	n = readlinkat(f->node.self->fd, "", (char *)s->scratch, PATH_MAX);
	if (n < 0)
		return -errno;
	if (n >= PATH_MAX)
		return -ENAMETOOLONG;
	p9w_str(w, (const char *)s->scratch, (size_t)n);
	return 0;
}
