/*
 * virtio-console with one port (virtio 1.2 section 5.3), no multiport: the
 * guest's hvc0. Output goes to an fd (the terminal); input is pushed in by
 * the run loop, like the UART's, so the same Ctrl-A escape handling and
 * flow control apply.
 */
#ifndef NKVM_VIRTIO_CONSOLE_H
#define NKVM_VIRTIO_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#include "nkvm/virtio.h"

#define VIRTIO_CONSOLE_RXQ 0
#define VIRTIO_CONSOLE_TXQ 1

struct virtio_console {
	struct virtio_dev dev;
	int out_fd;        /* where the guest's output goes */
	int room_efd;      /* signalled when the guest posts receive buffers */
	unsigned long rx_bytes, tx_bytes, tx_errors;
};

/* Initialise: output to out_fd, room_efd (an eventfd, or -1) signalled
 * whenever the driver adds receive buffers. 0 or -errno. */
int virtio_console_init(struct virtio_console *c, const struct gm *gm,
			const char *name, int out_fd, int room_efd)
	__attribute__((warn_unused_result));

/* Give the guest up to len bytes of input. Returns how many it took (0
 * when it has no receive buffer posted; room_efd fires when it does). */
size_t virtio_console_input(void *opaque, const uint8_t *buf, size_t len);

#endif
