/*
 * Disk images for virtio-blk: a raw image file or a host block device,
 * opened, sized and locked before the guest starts.
 */
#ifndef NKVM_BLK_IMAGE_H
#define NKVM_BLK_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Image sizes are whole 512-byte sectors (virtio-blk's unit). */
#define BLK_SECTOR_SIZE 512

struct blk_image {
	int fd;                 /* -1 when closed */
	uint64_t size;          /* bytes, a multiple of BLK_SECTOR_SIZE */
	bool ro, direct, is_blockdev;
	/* Smallest I/O unit: 512, a block device's BLKSSZGET, or with O_DIRECT
	 * the file's direct-I/O offset alignment (statx) when larger. */
	unsigned logical_block;
	char *path;             /* a copy, for messages */
};

/*
 * Open `path` read-write (or read-only with ro), O_CLOEXEC, O_DIRECT with
 * direct, and lock it like QEMU's image locking: an open file description
 * lock on the whole file, F_WRLCK read-write or F_RDLCK read-only, so two
 * writers, or a writer and a reader, never share an image, in one process
 * or in two. A filesystem without locks (ENOLCK, EOPNOTSUPP) is used
 * unlocked. Refused, with one line in `err` naming the path and what to
 * do: missing, not permitted, read-only filesystem for rw, O_DIRECT not
 * supported, a directory or anything but a regular file or block device,
 * empty, a size that is not a multiple of 512 (refused rather than rounded
 * down, so no data at the end is silently hidden from the guest), or locked.
 * Returns 0 or -errno: -EBUSY when locked, -EINVAL for a bad type or size;
 * on error img->fd is -1 and nothing is left to close.
 */
int blk_image_open(struct blk_image *img, const char *path, bool ro, bool direct,
		   char *err, size_t errlen) __attribute__((warn_unused_result));

/* Close (releasing the lock) and clear; safe to call again. */
void blk_image_close(struct blk_image *img);

#endif
