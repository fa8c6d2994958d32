/*
 * Opening a disk image: raw file or host block device, its size, and an
 * image lock in the spirit of QEMU's (see include/nkvm/blk_image.h).
 *
 * Locks are open file description (OFD) locks, not classic POSIX locks:
 * POSIX locks belong to the process, so a second open of the same image in
 * one nkvm would silently share (and closing either would drop) the lock;
 * OFD locks belong to the open file and conflict between any two opens.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nkvm/blk_image.h"
#include "nkvm/log.h"


/* Refuse what is neither a regular file nor a block device: -EISDIR for a
 * directory, -EINVAL for the rest. */
static int type_error(const char *path, mode_t m, char *err, size_t errlen)
{
	const char *what = "not a regular file";

	if (S_ISDIR(m)) {
		errbuf_printf(err, errlen, "%s: is a directory; give a raw image file or a "
		       "block device", path);
		return -EISDIR;
	}
	if (S_ISCHR(m))
		what = "a character device";
	else if (S_ISFIFO(m))
		what = "a FIFO";
	else if (S_ISSOCK(m))
		what = "a socket";
	errbuf_printf(err, errlen, "%s: %s, not a raw image; give a regular file or a "
	       "block device", path, what);
	return -EINVAL;
}

/* Explain a failed open(2); returns -e (or -EISDIR for a directory). */
static int open_error(const char *path, bool ro, bool direct, int e,
		      char *err, size_t errlen)
{
	struct stat st;

	switch (e) {
	case ENOENT:
		errbuf_printf(err, errlen, "%s: no such file; fix the path or create the image "
		       "first (e.g. truncate -s 1G %s)", path, path);
		break;
	case EACCES:
	case EPERM:
		if (ro)
			errbuf_printf(err, errlen, "%s: permission denied opening it read-only; "
			       "check its permissions", path);
		else
			errbuf_printf(err, errlen, "%s: permission denied opening it read-write; "
			       "check its permissions or use ro=on", path);
		break;
	case EROFS:
		errbuf_printf(err, errlen, "%s: on a read-only filesystem; use ro=on", path);
		break;
	case EISDIR:
		return type_error(path, S_IFDIR, err, errlen);
	default:
		/* Something that is no image at all fails in many ways (a socket
		 * with ENXIO, a directory opened read-only with O_DIRECT with
		 * EINVAL): say what it is rather than what open() said. */
		if (stat(path, &st) == 0 && !S_ISREG(st.st_mode) &&
		    !S_ISBLK(st.st_mode))
			return type_error(path, st.st_mode, err, errlen);
		if (e == EINVAL && direct)
			errbuf_printf(err, errlen, "%s: the filesystem does not support O_DIRECT; "
			       "use direct=off or move the image", path);
		else
			errbuf_printf(err, errlen, "%s: cannot open: %s", path, strerror(e));
		break;
	}
	return -e;
}

/* With O_DIRECT, a file's I/O alignment is that of the device under the
 * filesystem: use it when it is larger than a sector. */
static unsigned file_dio_align(int fd)
{
#ifdef STATX_DIOALIGN
	struct statx stx;

	if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
	    (stx.stx_mask & STATX_DIOALIGN) &&
	    stx.stx_dio_offset_align > BLK_SECTOR_SIZE &&
	    stx.stx_dio_offset_align <= 65536)
		return stx.stx_dio_offset_align;
#endif
	return BLK_SECTOR_SIZE;
}

/* Size and block size of the open image; 0 or -errno with err set. */
static int image_size(struct blk_image *img, const struct stat *st,
		      char *err, size_t errlen)
{
	int ssz = BLK_SECTOR_SIZE;
	int e;

	img->logical_block = BLK_SECTOR_SIZE;
	if (!img->is_blockdev) {
		img->size = (uint64_t)st->st_size;
		if (img->direct)
			img->logical_block = file_dio_align(img->fd);
		return 0;
	}
	if (ioctl(img->fd, BLKGETSIZE64, &img->size) < 0) {
		e = errno;
		errbuf_printf(err, errlen, "%s: cannot get the block device's size: %s",
		       img->path, strerror(e));
		return -e;
	}
	if (ioctl(img->fd, BLKSSZGET, &ssz) == 0 && ssz > BLK_SECTOR_SIZE &&
	    ssz <= 65536)
		img->logical_block = (unsigned)ssz;
	return 0;
}

/* Take the image lock; 0, -EBUSY or -errno with err set. */
static int image_lock(struct blk_image *img, char *err, size_t errlen)
{
	struct flock fl = {
		.l_type = img->ro ? F_RDLCK : F_WRLCK,
		.l_whence = SEEK_SET,
	};
	struct flock q = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int e;

	if (fcntl(img->fd, F_OFD_SETLK, &fl) == 0)
		return 0;
	e = errno;
	if (e == ENOLCK || e == EOPNOTSUPP) {
		log_debug("%s: not locked: the filesystem has no locks (%s)",
			  img->path, strerror(e));
		return 0;
	}
	if (e != EAGAIN && e != EACCES) {
		errbuf_printf(err, errlen, "%s: cannot lock: %s", img->path, strerror(e));
		return -e;
	}
	/* Who holds it? A writer excludes everyone; readers only writers. */
	if (fcntl(img->fd, F_OFD_GETLK, &q) == 0 && q.l_type == F_RDLCK)
		errbuf_printf(err, errlen, "%s: in use by another process or disk (open "
		       "read-only); use ro=on to share it or stop the other VM",
		       img->path);
	else
		errbuf_printf(err, errlen, "%s: in use by another process or disk (locked "
		       "for writing); stop the other VM first", img->path);
	return -EBUSY;
}

/* Check type and size, then lock; 0 or -errno with err set. */
static int image_check(struct blk_image *img, char *err, size_t errlen)
{
	struct stat st;
	int fl, ret, e;

	if (fstat(img->fd, &st) < 0) {
		e = errno;
		errbuf_printf(err, errlen, "%s: cannot stat: %s", img->path, strerror(e));
		return -e;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return type_error(img->path, st.st_mode, err, errlen);
	img->is_blockdev = S_ISBLK(st.st_mode);
	/* opened non-blocking only so that a FIFO could not hang us */
	fl = fcntl(img->fd, F_GETFL);
	if (fl < 0 || fcntl(img->fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		e = errno;
		errbuf_printf(err, errlen, "%s: fcntl: %s", img->path, strerror(e));
		return -e;
	}
	ret = image_size(img, &st, err, errlen);
	if (ret)
		return ret;
	if (img->size == 0) {
		errbuf_printf(err, errlen, "%s: empty image (0 bytes); give it a size first "
		       "(e.g. truncate -s 1G %s)", img->path, img->path);
		return -EINVAL;
	}
	/* QEMU rounds down; refusing hides nothing from the guest */
	if (img->size % BLK_SECTOR_SIZE) {
		errbuf_printf(err, errlen, "%s: size %llu is not a multiple of 512 bytes; "
		       "round it up with truncate -s %%512 %s", img->path,
		       (unsigned long long)img->size, img->path);
		return -EINVAL;
	}
	return image_lock(img, err, errlen);
}

/* Open, check and lock an image; see blk_image.h. */
int blk_image_open(struct blk_image *img, const char *path, bool ro, bool direct,
		   char *err, size_t errlen)
{
	int flags = (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
	int ret;

	memset(img, 0, sizeof(*img));
	img->fd = -1;
	if (!path || !*path) {
		errbuf_printf(err, errlen, "disk image: empty path");
		return -EINVAL;
	}
	img->path = strdup(path);
	if (!img->path) {
		errbuf_printf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	img->ro = ro;
	img->direct = direct;
	if (direct)
		flags |= O_DIRECT;
	img->fd = open(path, flags);
	if (img->fd < 0) {
		ret = open_error(path, ro, direct, errno, err, errlen);
		goto err;
	}
	ret = image_check(img, err, errlen);
	if (ret)
		goto err;
	return 0;

err:
	blk_image_close(img);
	return ret;
}

/* Close the image (dropping its lock) and clear the struct. */
void blk_image_close(struct blk_image *img)
{
	if (img->fd >= 0)
		close(img->fd);
	free(img->path);
	memset(img, 0, sizeof(*img));
	img->fd = -1;
}
