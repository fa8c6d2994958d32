/*
 * Containment: how a guest's names become host objects without ever
 * leaving the share.
 *
 * - A name is one component: not empty, no '/', no NUL, at most NAME_MAX
 *   bytes (ENAMETOOLONG). Operations that create, remove or rename take no
 *   "." or ".." either (EINVAL).
 * - A component is opened with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS
 *   | RESOLVE_NO_MAGICLINKS, O_PATH | O_NOFOLLOW) relative to the O_PATH fd
 *   of a directory the guest already holds: a symlink is returned as
 *   itself (the guest reads it and resolves it in its own namespace) and
 *   never followed here; walking on from it is ENOTDIR, opening it ELOOP.
 * - "." stays. ".." at the share root stays at the root. Elsewhere ".." is
 *   the kernel's ".." of the directory's own fd (its current parent, so it
 *   survives renames), accepted only if climbing from it reaches the
 *   root's (dev, ino): a directory that a host process moved out of the
 *   share answers ".." with ENOENT instead of a way out.
 * - Every fid keeps an fd of its object, so a directory renamed away (even
 *   outside the share, by a host process) gives the guest no more than
 *   what that fd already reached: its own subtree. Nothing is resolved
 *   from a path string, so no rename race can redirect a lookup.
 * - Opening a regular file for I/O reopens its directory entry (parent fd
 *   + name) with the same openat2 rules and checks the result is the same
 *   inode (ESTALE otherwise); directories reopen "." from their own fd.
 *   Device nodes, FIFOs and sockets are never opened (EACCES): with the
 *   server running as root a guest could otherwise mknod a host disk.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "p9_impl.h"

/* Checks a guest-supplied name and copies it NUL-terminated into out. */
int p9_name_check(const char *s, uint16_t len, char out[NAME_MAX + 1],
		  bool allow_dots)
{
	if (len == 0)
		return -EINVAL;
	if (len > NAME_MAX)
		return -ENAMETOOLONG;
	if (memchr(s, '/', len) || memchr(s, '\0', len))
		return -EINVAL;
	memcpy(out, s, len);
	out[len] = '\0';
	if (!allow_dots && (strcmp(out, ".") == 0 || strcmp(out, "..") == 0))
		return -EINVAL;
	return 0;
}

/* openat2 of one component beneath dirfd, never through a symlink (a
 * trailing one is opened itself with O_PATH, else ELOOP). fd or -errno. */
int p9_openat2(int dirfd, const char *name, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC),
		.mode = (flags & O_CREAT) ? mode : 0,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
			   RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, dirfd, name, &how, sizeof(how));

	return fd < 0 ? -errno : (int)fd;
}

/* Whether o is the share root. */
bool p9_is_root(const struct p9_server *s, const struct p9_obj *o)
{
	return o->dev == s->root->dev && o->ino == s->root->ino;
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	return x ^ (x >> 33);
}

/*
 * A qid: type from the file type, path = inode number; objects on another
 * device than the root (mounts inside the share) get their top 16 bits
 * mixed with a hash of the device, so inode numbers below 2^48 cannot
 * collide across devices. version is always 0: the server keeps no cache
 * coherence promises (the guest mounts with cache=none or accepts that).
 */
void p9_qid_make(const struct p9_server *s, dev_t dev, ino_t ino,
		 mode_t type, struct p9_qid *q)
{
	q->type = S_ISDIR(type) ? P9_QTDIR :
		  S_ISLNK(type) ? P9_QTSYMLINK : P9_QTFILE;
	q->version = 0;
	q->path = ino;
	if (dev != s->root->dev)
		q->path ^= mix64(dev) & 0xffff000000000000ull;
}

/* The qid of an object. */
void p9_obj_qid(const struct p9_server *s, const struct p9_obj *o,
		struct p9_qid *q)
{
	p9_qid_make(s, o->dev, o->ino, o->type, q);
}

/* Opens name (already checked, not "." or "..") in dir as O_PATH: a node
 * with dir as its parent. */
int p9_child(struct p9_server *s, struct p9_obj *dir, const char *name,
	     struct p9_node *out)
{
	struct p9_obj *o;
	char *copy;
	int fd, ret;

	if (!S_ISDIR(dir->type))
		return -ENOTDIR;
	fd = p9_openat2(dir->fd, name, O_PATH, 0);
	if (fd < 0)
		return fd;
	ret = p9_obj_new(fd, &o);
	if (ret)
		return ret;
	copy = strdup(name);
	if (!copy) {
		p9_obj_put(o);
		return -ENOMEM;
	}
	out->self = o;
	out->parent = p9_obj_get(dir);
	out->name = copy;
	return 0;
}

/* 0 when climbing ".." from o meets the share root; -ENOENT when it
 * reaches the top of the host's tree (or P9_MAX_DEPTH) first. */
static int contained(const struct p9_server *s, const struct p9_obj *o)
{
	dev_t dev = o->dev;
	ino_t ino = o->ino;
	int fd = o->fd, ret = -ENOENT;

	for (int depth = 0; depth < P9_MAX_DEPTH; depth++) {
		struct stat st;
		int up;

		if (dev == s->root->dev && ino == s->root->ino) {
			ret = 0;
			break;
		}
		up = openat(fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (up < 0) {
			ret = -errno;
			break;
		}
		if (fstat(up, &st) < 0 || (st.st_dev == dev && st.st_ino == ino)) {
			close(up);	/* "/" is its own parent */
			break;
		}
		if (fd != o->fd)
			close(fd);
		fd = up;
		dev = st.st_dev;
		ino = st.st_ino;
	}
	if (fd != o->fd)
		close(fd);
	return ret;
}

/* ".." of a directory node: the root stays; any other parent must lead
 * back to the root. The result's own entry is unknown (parent NULL). */
static int dotdot(struct p9_server *s, const struct p9_node *cur,
		  struct p9_node *out)
{
	struct p9_obj *p;
	int fd, ret;

	if (p9_is_root(s, cur->self)) {
		out->self = p9_obj_get(s->root);
		out->parent = NULL;
		out->name = NULL;
		return 0;
	}
	fd = openat(cur->self->fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = p9_obj_new(fd, &p);
	if (ret)
		return ret;
	ret = contained(s, p);
	if (ret) {
		p9_obj_put(p);
		return ret;
	}
	out->self = p;
	out->parent = NULL;
	out->name = NULL;
	return 0;
}

/* One walk step from cur by a checked name ("." and ".." allowed). */
int p9_walk_step(struct p9_server *s, const struct p9_node *cur,
		 const char *name, struct p9_node *out)
{
	if (strcmp(name, ".") == 0)
		return p9_node_copy(out, cur);
	if (!S_ISDIR(cur->self->type))
		return -ENOTDIR;
	if (strcmp(name, "..") == 0)
		return dotdot(s, cur, out);
	return p9_child(s, cur->self, name, out);
}

/* The name under which dir holds o, found by scanning dir; -ESTALE if
 * none. Only for directories reached by "..", which is rare. */
static int find_name(struct p9_server *s, const struct p9_obj *dir,
		     const struct p9_obj *o, char **out)
{
	int fd = p9_openat2(dir->fd, ".", O_RDONLY | O_DIRECTORY, 0);
	int ret = -ESTALE;
	ssize_t n;

	if (fd < 0)
		return fd;
	while (ret == -ESTALE && (n = getdents64(fd, s->scratch, P9_SCRATCH_SIZE)) > 0) {
		for (ssize_t off = 0; off < n;) {
			struct dirent64 *d = (struct dirent64 *)(void *)(s->scratch + off);
			struct stat st;

			off += d->d_reclen;
			if (d->d_ino != o->ino || strcmp(d->d_name, ".") == 0 ||
			    strcmp(d->d_name, "..") == 0)
				continue;
			if (fstatat(dir->fd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    st.st_dev == o->dev && st.st_ino == o->ino) {
				*out = strdup(d->d_name);
				ret = *out ? 0 : -ENOMEM;
				break;
			}
		}
	}
	close(fd);
	return ret;
}

/* Makes sure n knows its directory entry (parent + name): -EBUSY for the
 * root, which has none the guest may touch. */
int p9_entry(struct p9_server *s, struct p9_node *n)
{
	struct p9_node up;
	char *name;
	int ret;

	if (n->parent)
		return 0;
	if (p9_is_root(s, n->self))
		return -EBUSY;
	ret = dotdot(s, n, &up);
	if (ret)
		return ret;
	ret = find_name(s, up.self, n->self, &name);
	if (ret) {
		p9_node_release(&up);
		return ret;
	}
	n->parent = up.self;
	n->name = name;
	return 0;
}

/* Like p9_entry, and the entry must still name n's object: -ENOENT when it
 * is gone, -ESTALE when it now names something else. */
int p9_entry_check(struct p9_server *s, struct p9_node *n)
{
	struct stat st;
	int ret = p9_entry(s, n);

	if (ret)
		return ret;
	if (fstatat(n->parent->fd, n->name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (st.st_dev != n->self->dev || st.st_ino != n->self->ino)
		return -ESTALE;
	return 0;
}

/* Opens n's object for I/O with host flags (O_ACCMODE, O_TRUNC, ...):
 * an fd, or -errno (ELOOP for a symlink, EACCES for special files). */
int p9_reopen(struct p9_server *s, struct p9_node *n, int flags)
{
	struct stat st;
	int fd, ret;

	if (S_ISLNK(n->self->type))
		return -ELOOP;
	if (S_ISDIR(n->self->type)) {
		if ((flags & O_ACCMODE) != O_RDONLY)
			return -EISDIR;
		return p9_openat2(n->self->fd, ".", flags | O_DIRECTORY, 0);
	}
	if (!S_ISREG(n->self->type))
		return -EACCES;
	ret = p9_entry_check(s, n);
	if (ret)
		return ret;
	/* O_NONBLOCK: should a host process swap a FIFO in, do not hang;
	 * O_TRUNC only once the file is known to be the fid's own */
	fd = p9_openat2(n->parent->fd, n->name,
			(flags & ~O_TRUNC) | O_NONBLOCK | O_NOCTTY, 0);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0 || st.st_dev != n->self->dev ||
	    st.st_ino != n->self->ino) {
		close(fd);
		return -ESTALE;
	}
	ret = 0;
	if (!(flags & O_NONBLOCK) &&
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0)
		ret = -errno;
	if (!ret && (flags & O_TRUNC) && ftruncate(fd, 0) < 0)
		ret = -errno;
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}
