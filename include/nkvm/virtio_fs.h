/*
 * virtio-fs (virtio 1.2 section 5.11) served by a vhost-user back end
 * (virtiofsd): nkvm owns the transport (registers, config space, the
 * status machine) and hands the rings over; the back end reads guest RAM
 * itself and answers the FUSE requests.
 *
 * Queues: 0 is the high-priority queue, 1 the one request queue. Kicks:
 * the transport's kick eventfd of each queue (a KVM_IOEVENTFD) goes to
 * the back end as its SET_VRING_KICK fd, so a guest kick wakes virtiofsd
 * without nkvm. Interrupts: each queue gets a call eventfd that nkvm's
 * event loop watches; when the back end signals it, nkvm sets the
 * used-buffer bit in InterruptStatus and raises the device's irqfd (the
 * guest's virtio-mmio handler reads InterruptStatus before it looks at
 * the rings, so the bit must be set before the interrupt is injected).
 *
 * Lifecycle: DRIVER_OK programs the back end (features, rings); a device
 * reset stops the rings (GET_VRING_BASE), after which the driver may set
 * the device up again. A back end that goes away (EOF, error, timeout, a
 * malformed reply) cannot complete the guest's requests in flight: the
 * device reports it once through on_dead (nkvm stops the VM).
 */
#ifndef NKVM_VIRTIO_FS_H
#define NKVM_VIRTIO_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nkvm/log.h"
#include "nkvm/vhost_user.h"
#include "nkvm/virtio.h"

#define VIRTIO_ID_FS        26
#define VIRTIO_FS_TAG_MAX   36
#define VIRTIO_FS_QUEUES    2	/* hiprio + one request queue */
#define VIRTIO_FS_QUEUE_MAX 1024
/* config space: tag[36], le32 num_request_queues */
#define VIRTIO_FS_CONFIG_SIZE (VIRTIO_FS_TAG_MAX + 4)
/* How long nkvm waits for any one answer from the back end. */
#define VIRTIO_FS_TIMEOUT_MS 10000

struct evl;
struct gm;

struct virtio_fs {
	struct virtio_dev dev;
	struct vhu vhu;
	uint8_t config[VIRTIO_FS_CONFIG_SIZE];
	struct virtio_fs_call {
		struct virtio_fs *fs;
		int fd;                 /* eventfd the back end signals */
	} call[VIRTIO_FS_QUEUES];
	int watch_fd;                   /* a dup of the socket, for hangups */
	bool started[VIRTIO_FS_QUEUES]; /* ring handed to the back end */
	struct evl *evl;                /* where call_fd and the socket are watched */
	bool dev_ready;                 /* virtio_dev_init done */
	bool dead;                      /* on_dead was called */
	char tag[VIRTIO_FS_TAG_MAX + 1];
	/* told once when the back end is gone (any thread, device lock held) */
	void (*on_dead)(void *opaque, struct virtio_fs *f, const char *why);
	void *dead_opaque;
	unsigned long calls;            /* interrupts forwarded */
	struct log_ratelimit rl;        /* for what the guest can repeat */
};

/*
 * Set the device up over connected vhost-user socket `sock` (taken over,
 * closed on error): the handshake (features, protocol features, owner)
 * and the config space with `tag` (1..36 bytes). The guest is offered what
 * both the back end and nkvm's transport support. 0, or -errno with one
 * line in err.
 */
int virtio_fs_init(struct virtio_fs *f, const char *name, const char *tag,
		   int sock, int timeout_ms, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * Once the VM exists and the transport is in place (vm_add_virtio): send
 * the guest RAM table, create the call eventfds and watch them and the
 * socket in evl. 0, or -errno with err set.
 */
int virtio_fs_connect(struct virtio_fs *f, const struct gm *gm,
		      struct evl *evl, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Close the connection and the eventfds and take them out of the event
 * loop (after the transport's reset; the loop may be destroyed already,
 * but its struct must still exist). */
void virtio_fs_destroy(struct virtio_fs *f);

#endif
