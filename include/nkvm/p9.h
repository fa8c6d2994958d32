/*
 * A 9P2000.L file server (what Linux's v9fs speaks with trans=virtio), pure
 * userspace: one complete request message in, one complete reply out. The
 * virtio-9p device moves whole messages between the guest's ring and
 * p9_handle(); nothing here knows about virtio or guest memory.
 *
 * Security model (details at the top of src/fs/p9_ops.c):
 * - The guest is hostile. Every name is one validated path component
 *   resolved with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
 *   RESOLVE_NO_MAGICLINKS) relative to a directory fd the guest already
 *   holds; symlinks are never followed on the host (the guest reads and
 *   follows them itself); ".." at the share root stays at the root and
 *   elsewhere is checked to lead back to the root.
 * - The server acts with nkvm's own uid and capabilities: files the guest
 *   creates belong to that uid, guest root can do no more than the host
 *   user can. Only when nkvm runs as root are the guest's gid on create and
 *   its uid/gid in setattr applied (chown); otherwise chown to another user
 *   fails with EPERM, as it would for that user. Tmknod of FIFOs, sockets
 *   and devices needs nkvm to run as root (EPERM otherwise). As root the
 *   guest can create set-id files and (mknod) device nodes in the share:
 *   do not share, as root, a directory that untrusted host users can
 *   reach. The server itself never opens a device node, FIFO or socket
 *   for the guest.
 * - ro: every modifying request is refused with EROFS by the server, not
 *   only by the guest's mount options.
 *
 * Not thread-safe: the caller serializes calls on one server (the device
 * lock). Fids share the O_PATH fds of what they name (a clone costs none, a
 * walk one per new object) and add one fd once opened; p9_server_create
 * raises RLIMIT_NOFILE's soft limit to the hard limit so a guest's dentry
 * cache does not run out of fds early (past it, requests get EMFILE).
 */
#ifndef NKVM_P9_H
#define NKVM_P9_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Smallest msize (and reply buffer) the server works with. */
#define P9_MIN_MSIZE	4096u
/* Largest msize it offers: 512 KiB of payload plus the Twrite/Rread header. */
#define P9_MAX_MSIZE	(512u * 1024u + 24u)
/* At most this many fids at once; more get Rlerror(ENFILE). */
#define P9_MAX_FIDS	65536u

struct p9_server;

/*
 * Creates a server exporting the host directory `root` (opened
 * O_PATH|O_DIRECTORY; a symlink in `root` itself is followed, it is the
 * host's choice). ro refuses every modification with EROFS. Returns 0, or
 * -errno with a message in err (e.g. the directory is missing, or the host
 * kernel lacks openat2).
 */
int p9_server_create(struct p9_server **out, const char *root, bool ro,
		     char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Closes every fid and frees the server; NULL is fine. */
void p9_server_destroy(struct p9_server *s);

/* Drops every fid and forgets the negotiated msize (device reset). */
void p9_server_reset(struct p9_server *s);

/*
 * Handles one complete request message (size[4] type[1] tag[2] body) and
 * writes one complete reply into resp, returning its length. The reply is
 * bounded by resp_cap and, once negotiated, by msize. A malformed,
 * truncated or lying request (size field != req_len, a string or count
 * past the end, trailing bytes) gets Rlerror(EPROTO), an unknown type
 * Rlerror(EOPNOTSUPP), with the request's tag when req_len >= 7 (else tag
 * 0xffff); nothing is read past req_len. Every request but Tversion is
 * refused (EPROTO) until a Tversion succeeded; Tversion offers at most
 * P9_MAX_MSIZE, refuses less than P9_MIN_MSIZE (EINVAL), answers "unknown"
 * to anything but "9P2000.L", and drops every fid. Returns 0 only when
 * resp_cap is below 11 bytes (not even an Rlerror fits).
 */
size_t p9_handle(struct p9_server *s, const uint8_t *req, size_t req_len,
		 uint8_t *resp, size_t resp_cap);

/* The largest message the server sends or expects: P9_MAX_MSIZE until a
 * Tversion negotiates (and after a reset), then the negotiated msize.
 * A device sizes its buffers with it right after p9_server_create. */
uint32_t p9_server_msize(const struct p9_server *s);

#endif
