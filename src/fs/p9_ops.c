/*
 * 9P2000.L file operations: getattr, setattr, lopen, lcreate, read, write,
 * fsync, statfs. Namespace operations are in p9_ops_dir.c, locks and
 * xattrs in p9_ops_misc.c, containment in p9_path.c.
 *
 * Security model
 * --------------
 * The guest is hostile; the share is the only part of the host it may
 * reach, and only with the rights of the user running nkvm.
 *
 * - Identity: the server acts as nkvm's uid/gid and capabilities. uname,
 *   aname and n_uname in Tattach are ignored. Files the guest creates
 *   belong to nkvm's uid. When nkvm runs as root (euid 0), lcreate, mkdir,
 *   symlink and mknod chown the new file to the gid the guest asks for,
 *   and setattr applies the guest's uid/gid; as any other user, chown to
 *   someone else fails with EPERM exactly as it would for that user. Guest
 *   root therefore never exceeds what the host user can do, and the host's
 *   permission checks (including for root: none) are the ones that apply.
 * - Modes are the guest's (it already applied its umask): after a create
 *   the mode is set exactly, undoing nkvm's own umask. Tmknod makes FIFOs,
 *   sockets and device nodes only when nkvm runs as root (EPERM
 *   otherwise; regular files always). Running as root, a guest can thus
 *   create set-id files and device nodes inside the share; the server never
 *   opens a device node, FIFO or socket for the guest (EACCES), but host
 *   users who can reach the share could. Share only directories no
 *   untrusted host user can reach when running as root.
 * - Containment: see p9_path.c. Every name is one checked component,
 *   resolved relative to a directory fd the guest already holds, without
 *   following symlinks; operations taking a name use the *at() syscalls on
 *   the directory fid's fd with AT_SYMLINK_NOFOLLOW where they have it;
 *   link targets are fids, so nothing outside can be linked in; truncation
 *   goes through an opened fd, never a path.
 * - ro: every modifying request (setattr, lcreate, write, mkdir, symlink,
 *   link, mknod, rename, renameat, unlinkat, remove, xattrcreate, lopen
 *   with write access or O_TRUNC) is refused with EROFS here, whatever the
 *   guest's mount options say.
 * - Locks: Tlock is always granted and Tgetlock always reports unlocked.
 *   The guest kernel still arbitrates locks between its own processes;
 *   locks are not visible to host processes, nor host locks to the guest.
 * - xattrs: none are exposed (Txattrwalk of a name: ENODATA, the list is
 *   empty; Txattrcreate: EOPNOTSUPP), so no security.* or trusted.*
 *   attribute of the host is ever read or written by the guest.
 * - Resources: at most P9_MAX_FIDS fids (ENFILE); each holds at most two
 *   fds; replies never exceed msize; messages are parsed completely and
 *   bounds-checked before anything is done.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "nkvm/le.h"
#include "p9_impl.h"

static const struct {
	uint32_t dotl;
	int host;
} oflag_map[] = {
	{ P9_DOTL_TRUNC, O_TRUNC },
	{ P9_DOTL_APPEND, O_APPEND },
	{ P9_DOTL_NONBLOCK, O_NONBLOCK },
	{ P9_DOTL_DSYNC, O_DSYNC },
	{ P9_DOTL_SYNC, O_SYNC },
	{ P9_DOTL_DIRECTORY, O_DIRECTORY },
	{ P9_DOTL_EXCL, O_EXCL },
};

/* Guest open flags to host ones. Dropped on purpose: CREAT (lcreate adds
 * it), NOCTTY/NOFOLLOW/CLOEXEC (always set), DIRECT (needs aligned
 * buffers we do not promise), NOATIME (EPERM on files of other users),
 * FASYNC, LARGEFILE. */
static int host_oflags(uint32_t dotl, int *out)
{
	int fl;

	switch (dotl & P9_DOTL_ACCMODE) {
	case P9_DOTL_RDONLY: fl = O_RDONLY; break;
	case P9_DOTL_WRONLY: fl = O_WRONLY; break;
	case P9_DOTL_RDWR: fl = O_RDWR; break;
	default: return -EINVAL;
	}
	for (size_t i = 0; i < sizeof(oflag_map) / sizeof(oflag_map[0]); i++)
		if (dotl & oflag_map[i].dotl)
			fl |= oflag_map[i].host;
	*out = fl;
	return 0;
}

static bool writes(int hostflags)
{
	return (hostflags & O_ACCMODE) != O_RDONLY || (hostflags & O_TRUNC);
}

/* Tgetattr fid[4] request_mask[8]: the basic stat fields, always. */
int p9_op_getattr(struct p9_server *s, struct p9_rbuf *r, struct p9_wbuf *w)
{
	uint32_t fid = p9r_u32(r);
	struct p9_fid *f;
	struct p9_qid q;
	struct stat st;
	int ret;

	p9r_u64(r);
	ret = p9_req_file(s, r, fid, &f);
	if (ret)
		return ret;
	if (fstat(f->node.self->fd, &st) < 0)
		return -errno;
	p9_qid_make(s, st.st_dev, st.st_ino, st.st_mode, &q);
	p9w_u64(w, P9_GETATTR_BASIC);
	p9w_qid(w, &q);
	p9w_u32(w, st.st_mode);
	p9w_u32(w, st.st_uid);
	p9w_u32(w, st.st_gid);
	p9w_u64(w, st.st_nlink);
	p9w_u64(w, st.st_rdev);	/* glibc's dev_t encoding is Linux's */
	p9w_u64(w, (uint64_t)st.st_size);
	p9w_u64(w, (uint64_t)st.st_blksize);
	p9w_u64(w, (uint64_t)st.st_blocks);
	p9w_u64(w, (uint64_t)st.st_atim.tv_sec);
	p9w_u64(w, (uint64_t)st.st_atim.tv_nsec);
	p9w_u64(w, (uint64_t)st.st_mtim.tv_sec);
	p9w_u64(w, (uint64_t)st.st_mtim.tv_nsec);
	p9w_u64(w, (uint64_t)st.st_ctim.tv_sec);
	p9w_u64(w, (uint64_t)st.st_ctim.tv_nsec);
	for (int i = 0; i < 4; i++)
		p9w_u64(w, 0);	/* btime sec/nsec, gen, data_version */
	return 0;
}

/* Truncates a regular file through an fd opened for writing: the fid's
 * own, or one reopened from its (checked) entry. */
static int set_size(struct p9_server *s, struct p9_fid *f, uint64_t size)
{
	int fd, ret = 0;

	if (S_ISDIR(f->node.self->type))
		return -EISDIR;
	if (!S_ISREG(f->node.self->type))
		return -EINVAL;
	if (size > INT64_MAX)
		return -EFBIG;
	if (f->ofd >= 0 && (f->oflags & O_ACCMODE) != O_RDONLY)
		return ftruncate(f->ofd, (off_t)size) < 0 ? -errno : 0;
	fd = p9_reopen(s, &f->node, O_WRONLY);
	if (fd < 0)
		return fd;
	if (ftruncate(fd, (off_t)size) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static struct timespec guest_time(uint32_t valid, uint32_t is, uint32_t set,
				  uint64_t sec, uint64_t nsec)
{
	struct timespec t = { .tv_sec = 0, .tv_nsec = UTIME_OMIT };

	if (valid & set) {
		t.tv_sec = (time_t)sec;
		t.tv_nsec = (long)(nsec > 999999999 ? 1000000000 : nsec);
	} else if (valid & is) {
		t.tv_nsec = UTIME_NOW;
	}
	return t;
}

/* Tsetattr fid[4] valid[4] mode[4] uid[4] gid[4] size[8] atime_sec[8]
 * atime_nsec[8] mtime_sec[8] mtime_nsec[8]: owner first (a chown may
 * clear set-id bits the mode then sets), mode, size, times; never
 * following a symlink. ctime alone needs nothing: any change updates it. */
int p9_op_setattr(struct p9_server *s, struct p9_rbuf *r, struct p9_wbuf *w)
{
	uint32_t fid = p9r_u32(r), valid = p9r_u32(r), mode = p9r_u32(r);
	uint32_t uid = p9r_u32(r), gid = p9r_u32(r);
	uint64_t size = p9r_u64(r), as = p9r_u64(r), ans = p9r_u64(r);
	uint64_t ms = p9r_u64(r), mns = p9r_u64(r);
	struct timespec ts[2];
	struct p9_fid *f;
	int ret;

	ret = p9_req_file(s, r, fid, &f);
	if (ret)
		return ret;
	if (s->ro)
		return -EROFS;
	if (valid & (P9_SETATTR_UID | P9_SETATTR_GID)) {
		uid_t u = (valid & P9_SETATTR_UID) ? uid : (uid_t)-1;
		gid_t g = (valid & P9_SETATTR_GID) ? gid : (gid_t)-1;

		if (fchownat(f->node.self->fd, "", u, g, AT_EMPTY_PATH) < 0)
			return -errno;
	}
	if (valid & P9_SETATTR_MODE) {
		ret = p9_set_mode(s, &f->node, mode & 07777);
		if (ret)
			return ret;
	}
	if (valid & P9_SETATTR_SIZE) {
		ret = set_size(s, f, size);
		if (ret)
			return ret;
	}
	if (valid & (P9_SETATTR_ATIME | P9_SETATTR_MTIME)) {
		ts[0] = guest_time(valid, P9_SETATTR_ATIME, P9_SETATTR_ATIME_SET, as, ans);
		ts[1] = guest_time(valid, P9_SETATTR_MTIME, P9_SETATTR_MTIME_SET, ms, mns);
		ret = p9_set_times(s, &f->node, ts);
	}
	return ret;
}

static void put_open_reply(struct p9_server *s, struct p9_wbuf *w,
			   const struct p9_obj *o)
{
	struct p9_qid q;

	p9_obj_qid(s, o, &q);
	p9w_qid(w, &q);
	p9w_u32(w, 0);	/* iounit: 0 = as much as msize allows */
}

/* Tlopen fid[4] flags[4]: opens the fid's regular file or directory. */
int p9_op_lopen(struct p9_server *s, struct p9_rbuf *r, struct p9_wbuf *w)
{
	uint32_t fid = p9r_u32(r), flags = p9r_u32(r);
	struct p9_fid *f;
	int ret, hf, fd;

	ret = p9_req_file(s, r, fid, &f);
	if (ret)
		return ret;
	if (f->ofd >= 0)
		return -EBUSY;
	ret = host_oflags(flags, &hf);
	if (ret)
		return ret;
	if (s->ro && writes(hf))
		return -EROFS;
	hf &= ~O_EXCL;
	fd = p9_reopen(s, &f->node, hf);
	if (fd < 0)
		return fd;
	f->ofd = fd;
	f->oflags = hf;
	put_open_reply(s, w, f->node.self);
	return 0;
}

/* After creating: the guest's gid when running as root, and exactly the
 * guest's mode (nkvm's umask does not apply). Best effort: the object
 * exists either way. */
void p9_post_create(struct p9_server *s, struct p9_node *n, mode_t mode,
		    uint32_t gid)
{
	struct stat st;

	if (s->privileged && fchownat(n->self->fd, "", (uid_t)-1, gid, AT_EMPTY_PATH) < 0)
		log_debug("9p: chgrp %s: %s", n->name, strerror(errno));
	if (S_ISLNK(n->self->type) || fstat(n->self->fd, &st) < 0 ||
	    (st.st_mode & 07777) == mode)
		return;
	if (p9_set_mode(s, n, mode) < 0)
		log_debug("9p: chmod %s failed", n->name);
}

/* Opens an existing name for lcreate without O_EXCL, through the same
 * checks as lopen (regular files and directories only). */
static int open_existing(struct p9_server *s, struct p9_obj *dir,
			 const char *name, int hf, struct p9_node *out)
{
	int fd, ret = p9_child(s, dir, name, out);

	if (ret)
		return ret;
	fd = p9_reopen(s, out, hf & ~O_CREAT);
	if (fd < 0)
		p9_node_release(out);
	return fd;
}

/* Tlcreate fid[4] name[s] flags[4] mode[4] gid[4]: creates and opens a
 * regular file in the directory fid, which then becomes that file. The
 * create itself is always O_EXCL, so it can never open an existing
 * symlink, FIFO or device; without the guest's EXCL an existing name is
 * opened like lopen would. */
int p9_op_lcreate(struct p9_server *s, struct p9_rbuf *r, struct p9_wbuf *w)
{
	uint32_t fid = p9r_u32(r), flags, mode, gid;
	uint16_t len;
	const char *name = p9r_str(r, &len);
	char nm[NAME_MAX + 1];
	struct p9_node n;
	struct p9_fid *f;
	struct stat st;
	int ret, hf, fd;
	bool created = true;

	flags = p9r_u32(r);
	mode = p9r_u32(r) & 07777;
	gid = p9r_u32(r);
	ret = p9_req_file(s, r, fid, &f);
	if (ret)
		return ret;
	if (f->ofd >= 0)
		return -EBUSY;
	if (!S_ISDIR(f->node.self->type))
		return -ENOTDIR;
	if (s->ro)
		return -EROFS;
	ret = p9_name_check(name, len, nm, false);
	if (!ret)
		ret = host_oflags(flags, &hf);
	if (ret)
		return ret;
	hf &= ~O_DIRECTORY;
	fd = p9_openat2(f->node.self->fd, nm, hf | O_CREAT | O_EXCL | O_NOCTTY, mode);
	if (fd == -EEXIST && !(hf & O_EXCL)) {
		created = false;
		fd = open_existing(s, f->node.self, nm, hf, &n);
		if (fd < 0)
			return fd;
	} else if (fd < 0) {
		return fd;
	} else {
		/* the O_PATH object of what we just created, checked */
		ret = p9_child(s, f->node.self, nm, &n);
		if (!ret && (fstat(fd, &st) < 0 || st.st_ino != n.self->ino ||
			     st.st_dev != n.self->dev)) {
			p9_node_release(&n);
			ret = -ESTALE;
		}
		if (ret) {
			close(fd);
			return ret;
		}
	}
	if (created)
		p9_post_create(s, &n, mode, gid);
	p9_node_release(&f->node);
	f->node = n;
	f->ofd = fd;
	f->oflags = hf & ~(O_CREAT | O_EXCL | O_TRUNC);
	put_open_reply(s, w, f->node.self);
	return 0;
}

/* Tread fid[4] offset[8] count[4]: up to count bytes, bounded by msize. */
int p9_op_read(struct p9_server *s, struct p9_rbuf *r, struct p9_wbuf *w)
{
	uint32_t fid = p9r_u32(r), count;
	uint64_t off = p9r_u64(r);
	struct p9_fid *f;
	size_t room;
	uint8_t *p;
	ssize_t n;
	int ret;

	count = p9r_u32(r);
	ret = p9r_end(r);
	if (ret)
		return ret;
	f = p9_fid_lookup(s, fid);
	if (!f)
		return -EBADF;
	if (f->kind == P9_FID_XATTR) {
		p9w_u32(w, 0);	/* the value (or list) is always empty */
		return 0;
	}
	if (f->ofd < 0)
		return -EBADF;
	if (off > INT64_MAX)
		return -EINVAL;
	room = w->cap - w->off;
	if (room < 4)
		return -EMSGSIZE;
	room -= 4;
	if (count > room)
		count = (uint32_t)room;
	p = p9w_reserve(w, 4 + (size_t)count);
	n = pread(f->ofd, p + 4, count, (off_t)off);
	if (n < 0)
		return -errno;
	put_le32(p, (uint32_t)n);
	w->off -= count - (size_t)n;
	return 0;
}

/* Twrite fid[4] offset[8] count[4] data[count]. */
int p9_op_write(struct p9_server *s, struct p9_rbuf *r, struct p9_wbuf *w)
{
	uint32_t fid = p9r_u32(r), count;
	uint64_t off = p9r_u64(r);
	const uint8_t *data;
	struct p9_fid *f;
	ssize_t n;
	int ret;

	count = p9r_u32(r);
	data = p9r_mem(r, count);
	ret = p9r_end(r);
	if (ret)
		return ret;
	f = p9_fid_file(s, fid);
	if (!f || f->ofd < 0)
		return -EBADF;
	if (s->ro)
		return -EROFS;
	if (off > INT64_MAX)
		return -EINVAL;
	n = pwrite(f->ofd, data, count, (off_t)off);
	if (n < 0)
		return -errno;
	p9w_u32(w, (uint32_t)n);
	return 0;
}

/* Tfsync fid[4] datasync[4]. */
int p9_op_fsync(struct p9_server *s, struct p9_rbuf *r, struct p9_wbuf *w)
{
	uint32_t fid = p9r_u32(r), datasync = p9r_u32(r);
	struct p9_fid *f;
	int ret = p9r_end(r);

	if (ret)
		return ret;
	f = p9_fid_file(s, fid);
	if (!f || f->ofd < 0)
		return -EBADF;
	ret = datasync ? fdatasync(f->ofd) : fsync(f->ofd);
	return ret < 0 ? -errno : 0;
}

/* Tstatfs fid[4]: the host file system's numbers. */
int p9_op_statfs(struct p9_server *s, struct p9_rbuf *r, struct p9_wbuf *w)
{
	uint32_t fid = p9r_u32(r);
	struct p9_fid *f;
	struct statfs sf;
	uint64_t fsid;
	int ret;

	ret = p9_req_file(s, r, fid, &f);
	if (ret)
		return ret;
	if (fstatfs(f->node.self->fd, &sf) < 0)
		return -errno;
	memcpy(&fsid, &sf.f_fsid, sizeof(fsid));
	p9w_u32(w, (uint32_t)sf.f_type);
	p9w_u32(w, (uint32_t)sf.f_bsize);
	p9w_u64(w, sf.f_blocks);
	p9w_u64(w, sf.f_bfree);
	p9w_u64(w, sf.f_bavail);
	p9w_u64(w, sf.f_files);
	p9w_u64(w, sf.f_ffree);
	p9w_u64(w, fsid);
	p9w_u32(w, (uint32_t)sf.f_namelen);
	return 0;
}
