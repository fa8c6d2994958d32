/*
 * `nkvm run --fs`: virtio-fs devices served by vhost-user back ends.
 *
 *   --fs HOSTDIR:TAG[,cache=auto|always|none]  nkvm starts a virtiofsd
 *   --fs socket=PATH,tag=TAG                   a back end already listening
 *   --virtiofsd PATH                           the virtiofsd binary to start
 *
 * Order, as for the other devices: parse each option (runfs_parse), start
 * or connect to every back end and do the vhost-user handshake before
 * /dev/kvm is opened (runfs_open: a back end that does not come up is a
 * usage error), place the devices once the VM exists (runfs_attach), and
 * stop everything after the VM is destroyed (runfs_free).
 */
#ifndef NKVM_RUN_FS_H
#define NKVM_RUN_FS_H

#include <stdbool.h>
#include <stddef.h>

#include "nkvm/virtio_fs.h"
#include "nkvm/virtiofsd.h"

#define RUN_MAX_FS 4

struct run_fs {
	const char *virtiofsd;       /* --virtiofsd; NULL: VIRTIOFSD_DEFAULT */
	struct fs_opts {
		char *dir;               /* malloc'd; NULL for socket= */
		char *socket;            /* malloc'd; NULL for HOSTDIR */
		char tag[VIRTIO_FS_TAG_MAX + 1];
		char cache[8];           /* virtiofsd's cache=, "auto" by default */
	} fs[RUN_MAX_FS];
	int nr;
	/* created by runfs_open / runfs_attach */
	struct virtiofsd proc[RUN_MAX_FS];
	struct virtio_fs *dev[RUN_MAX_FS];
	char names[RUN_MAX_FS][16];
};

/* Parse one --fs value into the next device. 0, or -EINVAL with err set. */
int runfs_parse(struct run_fs *rf, const char *arg, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Start (or connect to) every back end and do the handshake. 0, or -1
 * after one error line; what was started is stopped by runfs_free. */
int runfs_open(struct run_fs *rf) __attribute__((warn_unused_result));

struct vm;

/* Place the devices in the VM and give the back ends guest RAM; a back
 * end that dies later stops the VM with exit status 3. 0 or a negative
 * EXIT_*. */
int runfs_attach(struct run_fs *rf, struct vm *vm)
	__attribute__((warn_unused_result));

/* Close the connections, stop the virtiofsd children (idempotent). */
void runfs_free(struct run_fs *rf);

#endif
