/* virtio-rng (entropy device, virtio 1.2 section 5.4): fills the guest's
 * buffers from the host's getrandom(). */
#ifndef NKVM_VIRTIO_RNG_H
#define NKVM_VIRTIO_RNG_H

#include "nkvm/virtio.h"

struct virtio_rng {
	struct virtio_dev dev;
	unsigned long bytes;     /* statistics: bytes handed to the guest */
};

/* Initialise the device (one queue). 0 or -errno. */
int virtio_rng_init(struct virtio_rng *rng, const struct gm *gm, const char *name)
	__attribute__((warn_unused_result));

#endif
