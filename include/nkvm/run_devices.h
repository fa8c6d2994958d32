/*
 * The devices `nkvm run` adds from its options: disks (--disk), network
 * interfaces (--net), shared directories (--share, virtio-9p), the entropy
 * device (--rng) and the virtio console (--console virtio). They are placed in that order: disks first, so
 * /dev/vda is always the first --disk.
 *
 * Order: parse each option (rundev_parse_disk), open the images before
 * /dev/kvm (rundev_open: a bad disk is a usage error), attach them once
 * the VM exists (rundev_attach), free after the VM is destroyed.
 */
#ifndef NKVM_RUN_DEVICES_H
#define NKVM_RUN_DEVICES_H

#include <stdbool.h>
#include <stddef.h>

#include "nkvm/blk_image.h"
#include "nkvm/net_opts.h"
#include "nkvm/run_fs.h"
#include "nkvm/virtio_9p.h"
#include "nkvm/virtio_blk.h"
#include "nkvm/virtio_console.h"
#include "nkvm/virtio_net.h"
#include "nkvm/virtio_rng.h"
#include "nkvm/virtio_vsock.h"
#include "nkvm/vsock_opts.h"

#define RUN_MAX_DISKS 16
#define RUN_MAX_NICS 8
#define RUN_MAX_SHARES 8

struct disk_opts {
	char *path;              /* malloc'd */
	bool ro, direct;
	char serial[VIRTIO_BLK_ID_BYTES + 1];
};

struct run_devices {
	struct disk_opts disk[RUN_MAX_DISKS];
	int nr_disks;
	struct net_opts net[RUN_MAX_NICS];
	int nr_nets;
	bool net_none;           /* --net none: no NIC at all */
	struct share_opts {
		char *path;          /* malloc'd */
		char tag[VIRTIO_9P_TAG_MAX + 1];
		bool ro;
	} share[RUN_MAX_SHARES];
	int nr_shares;
	struct run_fs fs;        /* --fs: virtio-fs over vhost-user */
	bool rng;
	bool virtio_console;     /* the guest's console is hvc0 */
	struct vsock_opts vsock; /* --vsock */
	/* where hvc0's output goes when > 0 (`nkvm sandbox`: stdout, while
	 * the UART has stderr); otherwise the VM's console fd */
	int console_out_fd;
	/* created by rundev_open / rundev_attach */
	struct blk_image image[RUN_MAX_DISKS];
	struct virtio_blk *blk[RUN_MAX_DISKS];
	char blk_names[RUN_MAX_DISKS][16];
	struct net_backend *net_be[RUN_MAX_NICS];
	struct virtio_net *nic[RUN_MAX_NICS];
	char nic_names[RUN_MAX_NICS][16];
	struct virtio_9p *p9[RUN_MAX_SHARES];
	char p9_names[RUN_MAX_SHARES][16];
	struct virtio_rng *rng_dev;
	struct virtio_console *con_dev;
	struct virtio_vsock *vsock_dev;  /* listening from rundev_open on */
};

/*
 * Parse a --disk value "path=FILE[,ro=on][,direct=on][,serial=S]" (or a
 * bare FILE first) into the next disk. 0, or -EINVAL with a message in err.
 */
int rundev_parse_disk(struct run_devices *rd, const char *arg, char *err,
		      size_t errlen) __attribute__((warn_unused_result));

/* Parse a --net value (see net_opts.h). 0, or -EINVAL with err set. */
int rundev_parse_net(struct run_devices *rd, const char *arg, char *err,
		     size_t errlen) __attribute__((warn_unused_result));

/* Parse a --share value "PATH:TAG[,ro=on]" (the last ':' splits path and
 * tag). 0, or -EINVAL with err set. */
int rundev_parse_share(struct run_devices *rd, const char *arg, char *err,
		       size_t errlen) __attribute__((warn_unused_result));

/* Open and lock every disk image, create every network back end (one
 * user-mode NIC when no --net was given). 0, or -1 after one error line. */
int rundev_open(struct run_devices *rd) __attribute__((warn_unused_result));

struct vm;

/* Create the devices and place them in the VM. 0 or a negative EXIT_*. */
int rundev_attach(struct run_devices *rd, struct vm *vm)
	__attribute__((warn_unused_result));

/* Free the device models and close the images (after vm_destroy). */
void rundev_free(struct run_devices *rd);

#endif
