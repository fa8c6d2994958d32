/*
 * virtio-9p (virtio 1.2 section 5.? "9P transport", Linux's trans=virtio):
 * one request queue; each chain carries one 9P2000.L request (readable)
 * and room for its reply (writable). The file server is p9.h's: this file
 * only moves messages between the ring and it.
 */
#ifndef NKVM_VIRTIO_9P_H
#define NKVM_VIRTIO_9P_H

#include <stdbool.h>
#include <stdint.h>

#include "nkvm/virtio.h"

#define VIRTIO_ID_9P         9
#define VIRTIO_9P_F_MOUNT_TAG 0
#define VIRTIO_9P_TAG_MAX    64

struct p9_server;

struct virtio_9p {
	struct virtio_dev dev;
	struct p9_server *srv;
	uint8_t config[2 + VIRTIO_9P_TAG_MAX];  /* le16 tag_len, tag */
	uint8_t *req, *resp;                    /* one message each */
	uint32_t buf_size;
	bool dev_ready;                         /* virtio_dev_init done */
	unsigned long requests, malformed;
};

/*
 * Share host directory `root` under mount tag `tag` (1..64 bytes), read-
 * only when ro. gm may be NULL here and set in dev.gm before the device is
 * placed in the VM (shares are opened before the VM exists, so a bad
 * directory is reported early). 0, or -errno with one line in err.
 */
int virtio_9p_init(struct virtio_9p *p, const struct gm *gm, const char *name,
		   const char *root, const char *tag, bool ro, char *err,
		   size_t errlen) __attribute__((warn_unused_result));

/* Release the server and buffers (after the transport's reset). */
void virtio_9p_destroy(struct virtio_9p *p);

#endif
