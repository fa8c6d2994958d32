/*
 * Changing attributes of an object the guest holds without following a
 * symlink: on the object's own O_PATH fd with AT_EMPTY_PATH where the
 * kernel has it (fchmodat2 since Linux 6.6, utimensat), else through the
 * directory entry (checked to still name the object) with
 * AT_SYMLINK_NOFOLLOW, or "." of a directory's own fd. (Before Linux 6.6,
 * glibc's fchmodat(AT_SYMLINK_NOFOLLOW) opens the entry O_PATH|O_NOFOLLOW,
 * refuses a symlink and chmods its /proc/self/fd link: the inode it just
 * opened, nothing followed. Nothing here opens a file for I/O that way.)
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "p9_impl.h"

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif

/* chmod without following: symlinks have no mode of their own (EOPNOTSUPP,
 * as Linux says). */
int p9_set_mode(struct p9_server *s, struct p9_node *n, mode_t mode)
{
	int ret;

	if (S_ISLNK(n->self->type))
		return -EOPNOTSUPP;
	if (syscall(SYS_fchmodat2, n->self->fd, "", mode, AT_EMPTY_PATH) == 0)
		return 0;
	if (errno != ENOSYS && errno != EINVAL)
		return -errno;
	/* older kernel: "." of a directory cannot be a symlink */
	if (S_ISDIR(n->self->type))
		return fchmodat(n->self->fd, ".", mode, 0) < 0 ? -errno : 0;
	ret = p9_entry_check(s, n);
	if (ret)
		return ret;
	/* glibc refuses a symlink here and never follows one */
	return fchmodat(n->parent->fd, n->name, mode, AT_SYMLINK_NOFOLLOW) < 0 ?
	       -errno : 0;
}

/* utimensat without following (a symlink gets its own times). */
int p9_set_times(struct p9_server *s, struct p9_node *n,
		 const struct timespec ts[2])
{
	int ret;

	if (utimensat(n->self->fd, "", ts, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOENT)
		return -errno;
	if (S_ISDIR(n->self->type))
		return utimensat(n->self->fd, ".", ts, 0) < 0 ? -errno : 0;
	ret = p9_entry_check(s, n);
	if (ret)
		return ret;
	return utimensat(n->parent->fd, n->name, ts, AT_SYMLINK_NOFOLLOW) < 0 ?
	       -errno : 0;
}
