/* Devices from `nkvm run` options (see run_devices.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nkvm/log.h"
#include "nkvm/net_slirp.h"
#include "nkvm/net_tap.h"
#include "nkvm/opts.h"
#include "nkvm/run_devices.h"
#include "nkvm/vm.h"

static int disk_flag(const struct opts_kv *kv, bool *out, char *err, size_t errlen)
{
	int b = kv->val ? opts_parse_bool(kv->val) : -EINVAL;

	if (b < 0) {
		snprintf(err, errlen, "--disk %s='%s': expected on or off", kv->key,
			 kv->val ? kv->val : "");
		return -EINVAL;
	}
	*out = b;
	return 0;
}

static int disk_kv(struct disk_opts *d, const struct opts_kv *kv, char *err,
		   size_t errlen)
{
	if (!strcmp(kv->key, "ro"))
		return disk_flag(kv, &d->ro, err, errlen);
	if (!strcmp(kv->key, "direct"))
		return disk_flag(kv, &d->direct, err, errlen);
	if (!kv->val || !*kv->val) {
		snprintf(err, errlen, "--disk %s: needs a value", kv->key);
		return -EINVAL;
	}
	if (!strcmp(kv->key, "path")) {
		free(d->path);
		d->path = strdup(kv->val);
		return d->path ? 0 : -ENOMEM;
	}
	if (!strcmp(kv->key, "serial")) {
		if (strlen(kv->val) > VIRTIO_BLK_ID_BYTES) {
			snprintf(err, errlen, "--disk serial='%s': at most %d characters",
				 kv->val, VIRTIO_BLK_ID_BYTES);
			return -EINVAL;
		}
		strcpy(d->serial, kv->val);
		return 0;
	}
	snprintf(err, errlen, "--disk: unknown key '%s' (path, ro, direct, serial)", kv->key);
	return -EINVAL;
}

int rundev_parse_disk(struct run_devices *rd, const char *arg, char *err,
		      size_t errlen)
{
	struct opts_kv kv[OPTS_KV_MAX];
	struct disk_opts d = { 0 };
	char *copy;
	int n, i, r = 0;

	if (rd->nr_disks >= RUN_MAX_DISKS) {
		snprintf(err, errlen, "--disk: at most %d disks", RUN_MAX_DISKS);
		return -EINVAL;
	}
	copy = strdup(arg);
	if (!copy)
		return -ENOMEM;
	n = opts_kv_split(copy, kv, OPTS_KV_MAX);
	if (n < 0) {
		snprintf(err, errlen, "--disk '%s': malformed (expected path=FILE,ro=on,...)", arg);
		r = -EINVAL;
	}
	for (i = 0; i < n && !r; i++) {
		if (i == 0 && !kv[i].val) {	/* a bare FILE first */
			d.path = strdup(kv[i].key);
			r = d.path ? 0 : -ENOMEM;
		} else {
			r = disk_kv(&d, &kv[i], err, errlen);
		}
	}
	free(copy);
	if (!r && !d.path) {
		snprintf(err, errlen, "--disk '%s': no path= given", arg);
		r = -EINVAL;
	}
	if (r) {
		if (r == -ENOMEM)
			snprintf(err, errlen, "--disk: out of memory");
		free(d.path);
		return r;
	}
	rd->image[rd->nr_disks].fd = -1;	/* not open yet */
	rd->disk[rd->nr_disks++] = d;
	return 0;
}

int rundev_parse_net(struct run_devices *rd, const char *arg, char *err,
		      size_t errlen)
{
	struct net_opts o;
	int r = net_opts_parse(arg, &o, err, errlen);

	if (r < 0)
		return r;
	if (o.kind == NET_NONE) {
		rd->net_none = true;
		return 0;
	}
	if (rd->nr_nets >= RUN_MAX_NICS) {
		errbuf_printf(err, errlen, "--net: at most %d network interfaces", RUN_MAX_NICS);
		return -EINVAL;
	}
	rd->net[rd->nr_nets++] = o;
	return 0;
}

int rundev_parse_share(struct run_devices *rd, const char *arg, char *err,
		       size_t errlen)
{
	struct opts_kv kv[OPTS_KV_MAX];
	struct share_opts sh = { 0 };
	char *copy, *colon;
	int n, i, r = 0;

	if (rd->nr_shares >= RUN_MAX_SHARES) {
		errbuf_printf(err, errlen, "--share: at most %d shares", RUN_MAX_SHARES);
		return -EINVAL;
	}
	copy = strdup(arg);
	if (!copy)
		return -ENOMEM;
	n = opts_kv_split(copy, kv, OPTS_KV_MAX);
	colon = n > 0 && !kv[0].val ? strrchr(kv[0].key, ':') : NULL;
	if (!colon || colon == kv[0].key || !colon[1] ||
	    strlen(colon + 1) > VIRTIO_9P_TAG_MAX) {
		errbuf_printf(err, errlen, "--share '%s': expected HOSTDIR:TAG[,ro=on] "
			      "(a tag of 1 to %d characters)", arg, VIRTIO_9P_TAG_MAX);
		r = -EINVAL;
		goto out;
	}
	*colon = '\0';
	strcpy(sh.tag, colon + 1);
	for (i = 1; i < n && !r; i++) {
		if (!strcmp(kv[i].key, "ro")) {
			int b = kv[i].val ? opts_parse_bool(kv[i].val) : -EINVAL;

			if (b < 0) {
				errbuf_printf(err, errlen, "--share ro='%s': expected on or off",
					      kv[i].val ? kv[i].val : "");
				r = -EINVAL;
			}
			sh.ro = b > 0;
		} else {
			errbuf_printf(err, errlen, "--share: unknown key '%s' (only ro)", kv[i].key);
			r = -EINVAL;
		}
	}
	for (i = 0; i < rd->nr_shares && !r; i++) {
		if (!strcmp(rd->share[i].tag, sh.tag)) {
			errbuf_printf(err, errlen, "--share: tag '%s' used twice", sh.tag);
			r = -EINVAL;
		}
	}
	if (!r) {
		sh.path = strdup(kv[0].key);
		r = sh.path ? 0 : -ENOMEM;
	}
	if (!r)
		rd->share[rd->nr_shares++] = sh;
out:
	free(copy);
	return r;
}

/* Shares are opened before /dev/kvm: a missing directory is a usage error. */
static int open_shares(struct run_devices *rd)
{
	char err[512];
	int i, r;

	for (i = 0; i < rd->nr_shares; i++) {
		snprintf(rd->p9_names[i], sizeof(rd->p9_names[i]), "9p%d", i);
		rd->p9[i] = calloc(1, sizeof(*rd->p9[i]));
		if (!rd->p9[i]) {
			log_err("--share: out of memory");
			return -1;
		}
		/* guest memory comes later (rundev_attach sets it) */
		r = virtio_9p_init(rd->p9[i], NULL, rd->p9_names[i], rd->share[i].path,
				   rd->share[i].tag, rd->share[i].ro, err, sizeof(err));
		if (r < 0) {
			free(rd->p9[i]);
			rd->p9[i] = NULL;
			log_err("--share %s: %s", rd->share[i].path, err);
			return -1;
		}
	}
	return 0;
}

/* Back ends are made before /dev/kvm is opened: a tap that cannot be
 * opened or a forwarded port in use is the user's to fix (exit 2). */
static int open_nets(struct run_devices *rd)
{
	char err[512];
	int i, r;

	if (rd->net_none && rd->nr_nets) {
		log_err("--net none together with other --net options: use one or the other");
		return -1;
	}
	if (!rd->net_none && !rd->nr_nets) {
		/* the default: one user-mode NIC, like `lkvm run` or QEMU */
		rd->net[0] = (struct net_opts){ .kind = NET_USER };
		rd->nr_nets = 1;
	}
	for (i = 0; i < rd->nr_nets; i++) {
		struct net_opts *o = &rd->net[i];

		if (o->kind == NET_TAP)
			r = net_tap_create(&rd->net_be[i], o, err, sizeof(err));
		else
			r = net_slirp_create(&rd->net_be[i], o, err, sizeof(err));
		if (r < 0) {
			log_err("--net %s: %s", o->kind == NET_TAP ? "tap" : "user", err);
			return -1;
		}
		if (!o->mac_set) {
			/* QEMU's default, one up per NIC: stable across runs */
			static const uint8_t base[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

			memcpy(o->mac, base, 6);
			o->mac[5] = (uint8_t)(base[5] + i);
		}
	}
	return 0;
}

/* The vsock listener is made before /dev/kvm: a path in use is a usage
 * error. */
static int open_vsock(struct run_devices *rd)
{
	char err[512];

	if (!rd->vsock.enabled)
		return 0;
	rd->vsock_dev = calloc(1, sizeof(*rd->vsock_dev));
	if (!rd->vsock_dev ||
	    virtio_vsock_init(rd->vsock_dev, NULL, "vsock", &rd->vsock, err, sizeof(err)) < 0) {
		log_err("--vsock: %s", rd->vsock_dev ? err : "out of memory");
		free(rd->vsock_dev);
		rd->vsock_dev = NULL;
		return -1;
	}
	return 0;
}

int rundev_open(struct run_devices *rd)
{
	char err[512];
	int i;

	for (i = 0; i < rd->nr_disks; i++) {
		struct disk_opts *d = &rd->disk[i];

		if (blk_image_open(&rd->image[i], d->path, d->ro, d->direct,
				   err, sizeof(err)) < 0) {
			log_err("%s", err);
			return -1;
		}
	}
	if (open_shares(rd) < 0 || runfs_open(&rd->fs) < 0 || open_vsock(rd) < 0)
		return -1;
	return open_nets(rd);
}

static int attach_nic(struct run_devices *rd, struct vm *vm, int i)
{
	int r;

	snprintf(rd->nic_names[i], sizeof(rd->nic_names[i]), "net%d", i);
	rd->nic[i] = calloc(1, sizeof(*rd->nic[i]));
	if (!rd->nic[i])
		return -EXIT_HOST;
	r = virtio_net_init(rd->nic[i], &vm->gm, rd->nic_names[i], rd->net[i].mac,
			    rd->net_be[i]);
	if (r < 0) {
		free(rd->nic[i]);
		rd->nic[i] = NULL;
		log_err("%s: %s", rd->nic_names[i], strerror(-r));
		return -EXIT_HOST;
	}
	rd->net_be[i] = NULL;	/* the NIC owns it now */
	r = vm_add_virtio(vm, &rd->nic[i]->dev);
	if (r < 0)
		return r;
	r = virtio_net_start(rd->nic[i], &vm->evl);
	if (r < 0) {
		log_err("%s: cannot start its %s back end: %s", rd->nic_names[i],
			rd->nic[i]->be->kind, strerror(-r));
		return -EXIT_HOST;
	}
	return 0;
}

static int attach_disk(struct run_devices *rd, struct vm *vm, int i)
{
	struct blk_image *img = &rd->image[i];
	struct virtio_blk_opts o = {
		.path = rd->disk[i].path,
		.ro = rd->disk[i].ro,
		.direct = rd->disk[i].direct,
		.serial = rd->disk[i].serial[0] ? rd->disk[i].serial : NULL,
		.io_kind = BLK_IO_AUTO,
	};
	int r;

	snprintf(rd->blk_names[i], sizeof(rd->blk_names[i]), "blk%d", i);
	rd->blk[i] = calloc(1, sizeof(*rd->blk[i]));
	if (!rd->blk[i])
		return -ENOMEM;
	r = virtio_blk_init(rd->blk[i], &vm->gm, &vm->evl, rd->blk_names[i],
			    img->fd, img->size, img->logical_block, &o);
	if (r < 0) {
		free(rd->blk[i]);
		rd->blk[i] = NULL;
		log_err("disk %s: %s", o.path, strerror(-r));
		return -EXIT_HOST;
	}
	return vm_add_virtio(vm, &rd->blk[i]->dev);
}

int rundev_attach(struct run_devices *rd, struct vm *vm)
{
	int i, r;

	for (i = 0; i < rd->nr_disks; i++) {
		r = attach_disk(rd, vm, i);
		if (r < 0)
			return r == -ENOMEM ? -EXIT_HOST : r;
	}
	for (i = 0; i < rd->nr_nets; i++) {
		r = attach_nic(rd, vm, i);
		if (r < 0)
			return r;
	}
	for (i = 0; i < rd->nr_shares; i++) {
		rd->p9[i]->dev.gm = &vm->gm;
		r = vm_add_virtio(vm, &rd->p9[i]->dev);
		if (r < 0)
			return r;
	}
	r = runfs_attach(&rd->fs, vm);
	if (r < 0)
		return r;
	if (rd->rng) {
		rd->rng_dev = calloc(1, sizeof(*rd->rng_dev));
		if (!rd->rng_dev || virtio_rng_init(rd->rng_dev, &vm->gm, "rng") < 0) {
			free(rd->rng_dev);
			rd->rng_dev = NULL;
			log_err("rng: cannot create the device");
			return -EXIT_HOST;
		}
		r = vm_add_virtio(vm, &rd->rng_dev->dev);
		if (r < 0)
			return r;
	}
	if (rd->virtio_console) {
		rd->con_dev = calloc(1, sizeof(*rd->con_dev));
		if (!rd->con_dev ||
		    virtio_console_init(rd->con_dev, &vm->gm, "console",
					rd->console_out_fd > 0 ? rd->console_out_fd :
					vm->cfg.console_out_fd, vm->console_efd) < 0) {
			free(rd->con_dev);
			rd->con_dev = NULL;
			log_err("console: cannot create the device");
			return -EXIT_HOST;
		}
		r = vm_add_virtio(vm, &rd->con_dev->dev);
		if (r < 0)
			return r;
		vm->con_push = virtio_console_input;
		vm->con_opaque = rd->con_dev;
	}
	if (rd->vsock_dev) {
		rd->vsock_dev->dev.gm = &vm->gm;
		r = vm_add_virtio(vm, &rd->vsock_dev->dev);
		if (r < 0)
			return r;
		if (virtio_vsock_start(rd->vsock_dev, &vm->evl) < 0) {
			log_err("vsock: cannot join the event loop");
			return -EXIT_HOST;
		}
	}
	return 0;
}

void rundev_free(struct run_devices *rd)
{
	int i;

	for (i = 0; i < rd->nr_disks; i++) {
		if (rd->blk[i]) {
			virtio_blk_destroy(rd->blk[i]);
			free(rd->blk[i]);
			rd->blk[i] = NULL;
		}
		blk_image_close(&rd->image[i]);
		free(rd->disk[i].path);
		rd->disk[i].path = NULL;
	}
	rd->nr_disks = 0;
	for (i = 0; i < rd->nr_nets; i++) {
		if (rd->nic[i]) {
			virtio_net_destroy(rd->nic[i]);
			free(rd->nic[i]);
			rd->nic[i] = NULL;
		}
		if (rd->net_be[i]) {
			rd->net_be[i]->ops->destroy(rd->net_be[i]);
			rd->net_be[i] = NULL;
		}
	}
	rd->nr_nets = 0;
	for (i = 0; i < rd->nr_shares; i++) {
		if (rd->p9[i]) {
			virtio_9p_destroy(rd->p9[i]);
			free(rd->p9[i]);
			rd->p9[i] = NULL;
		}
		free(rd->share[i].path);
		rd->share[i].path = NULL;
	}
	rd->nr_shares = 0;
	runfs_free(&rd->fs);
	if (rd->rng_dev) {
		virtio_dev_destroy(&rd->rng_dev->dev);
		free(rd->rng_dev);
		rd->rng_dev = NULL;
	}
	if (rd->con_dev) {
		virtio_dev_destroy(&rd->con_dev->dev);
		free(rd->con_dev);
		rd->con_dev = NULL;
	}
	if (rd->vsock_dev) {
		virtio_vsock_destroy(rd->vsock_dev);
		free(rd->vsock_dev);
		rd->vsock_dev = NULL;
	}
}
