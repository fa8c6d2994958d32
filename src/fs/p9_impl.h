/*
 * Internals of the 9P server shared by src/fs/p9_*.c (and the unit tests):
 * the server and fid structures, the fid table, path containment and the
 * request handlers.
 */
#ifndef NKVM_P9_IMPL_H
#define NKVM_P9_IMPL_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "nkvm/log.h"
#include "nkvm/p9.h"
#include "p9_msg.h"

#define P9_FID_BUCKETS	1024u
/* ".." containment checks climb at most this many levels (then refuse). */
#define P9_MAX_DEPTH	4096
#define P9_SCRATCH_SIZE	(64u * 1024u)

/*
 * A host object the guest reached: an O_PATH fd, shared (refcounted) by the
 * fids that name it or use it as their parent, so a clone costs no fd. Its
 * identity (dev, ino) and file type are fixed at open: an inode's type
 * never changes.
 */
struct p9_obj {
	int fd;
	unsigned refs;
	dev_t dev;
	ino_t ino;
	mode_t type;	/* S_IFMT bits */
};

/*
 * Where a fid points: the object, and the directory entry it was reached
 * by (parent object + name). The entry is needed to open a regular file
 * for I/O (an O_PATH fd cannot be reopened without /proc magic links), to
 * remove and to rename it; it is checked against the object's identity
 * before each use, because a host process may have moved things since.
 * parent == NULL: the share root, or a directory reached by ".." whose
 * name is looked up when needed.
 */
struct p9_node {
	struct p9_obj *self;
	struct p9_obj *parent;
	char *name;
};

enum p9_fid_kind { P9_FID_FILE, P9_FID_XATTR };

struct p9_fid {
	struct p9_fid *next;	/* hash chain */
	uint32_t id;
	enum p9_fid_kind kind;
	struct p9_node node;
	int ofd;		/* the opened file after lopen/lcreate, else -1 */
	int oflags;		/* host open flags of ofd */
	uint64_t xattr_size;	/* P9_FID_XATTR: the (empty) value's size */
};

struct p9_server {
	struct p9_obj *root;
	bool ro;
	bool privileged;	/* euid 0: honour guest gids and chowns */
	uint32_t msize;		/* 0 until Tversion succeeds */
	unsigned nfids, max_fids;
	struct p9_fid *fids[P9_FID_BUCKETS];
	uint8_t *scratch;	/* P9_SCRATCH_SIZE: getdents, readlink */
	struct log_ratelimit rl;
};

/* p9_fid.c: objects and the fid table */
int p9_obj_new(int fd, struct p9_obj **out) __attribute__((warn_unused_result));
struct p9_obj *p9_obj_get(struct p9_obj *o);
void p9_obj_put(struct p9_obj *o);
void p9_node_release(struct p9_node *n);
int p9_node_copy(struct p9_node *dst, const struct p9_node *src)
	__attribute__((warn_unused_result));
struct p9_fid *p9_fid_lookup(struct p9_server *s, uint32_t id);
int p9_fid_new(struct p9_server *s, uint32_t id, struct p9_fid **out)
	__attribute__((warn_unused_result));
void p9_fid_free(struct p9_server *s, struct p9_fid *f);
void p9_fid_free_all(struct p9_server *s);
void p9_fid_close_open(struct p9_fid *f);
void p9_fid_renamed(struct p9_server *s, const struct p9_obj *olddir,
		    const char *oldname, struct p9_obj *newdir,
		    const char *newname);

/* p9_path.c: containment */
int p9_name_check(const char *s, uint16_t len, char out[NAME_MAX + 1],
		  bool allow_dots) __attribute__((warn_unused_result));
int p9_openat2(int dirfd, const char *name, int flags, mode_t mode);
int p9_walk_step(struct p9_server *s, const struct p9_node *cur,
		 const char *name, struct p9_node *out)
	__attribute__((warn_unused_result));
int p9_entry(struct p9_server *s, struct p9_node *n)
	__attribute__((warn_unused_result));
int p9_entry_check(struct p9_server *s, struct p9_node *n)
	__attribute__((warn_unused_result));
int p9_reopen(struct p9_server *s, struct p9_node *n, int flags);
int p9_child(struct p9_server *s, struct p9_obj *dir, const char *name,
	     struct p9_node *out) __attribute__((warn_unused_result));
bool p9_is_root(const struct p9_server *s, const struct p9_obj *o);
void p9_qid_make(const struct p9_server *s, dev_t dev, ino_t ino,
		 mode_t type, struct p9_qid *q);
void p9_obj_qid(const struct p9_server *s, const struct p9_obj *o,
		struct p9_qid *q);

/* p9_attr.c: attributes on an object without following symlinks */
int p9_set_mode(struct p9_server *s, struct p9_node *n, mode_t mode)
	__attribute__((warn_unused_result));
int p9_set_times(struct p9_server *s, struct p9_node *n,
		 const struct timespec ts[2]) __attribute__((warn_unused_result));

/* p9_ops.c: after a create, the guest's gid (as root) and exact mode */
void p9_post_create(struct p9_server *s, struct p9_node *n, mode_t mode,
		    uint32_t gid);

/* Request handlers: parse the body from r, act, write the reply body to w.
 * 0, or -errno for an Rlerror. */
typedef int p9_op_fn(struct p9_server *s, struct p9_rbuf *r, struct p9_wbuf *w);

p9_op_fn p9_op_getattr, p9_op_setattr, p9_op_lopen, p9_op_lcreate,
	p9_op_read, p9_op_write, p9_op_readdir, p9_op_statfs, p9_op_fsync,
	p9_op_clunk, p9_op_remove, p9_op_lock, p9_op_getlock,
	p9_op_xattrwalk, p9_op_xattrcreate;
p9_op_fn p9_op_walk, p9_op_mkdir, p9_op_symlink, p9_op_link, p9_op_mknod,
	p9_op_rename, p9_op_renameat, p9_op_unlinkat, p9_op_readlink;

/* A fid that names a file or directory (not an xattr fid), or NULL. */
struct p9_fid *p9_fid_file(struct p9_server *s, uint32_t id);

/* The end of a request whose fields are all read, then its file fid: 0
 * with *f set, the message's error (EPROTO: short or trailing bytes)
 * first, else -EBADF. */
int p9_req_file(struct p9_server *s, const struct p9_rbuf *r, uint32_t id, struct p9_fid **f)
	__attribute__((warn_unused_result));

#endif
