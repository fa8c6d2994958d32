/* `nkvm run --fs`: parse, start the back ends, attach (see run_fs.h). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "nkvm/log.h"
#include "nkvm/opts.h"
#include "nkvm/run_fs.h"
#include "nkvm/vm.h"

static int set_str(char **dst, const char *val, const char *key, char *err,
		   size_t errlen)
{
	if (!val || !*val) {
		errbuf_printf(err, errlen, "--fs %s: needs a value", key);
		return -EINVAL;
	}
	free(*dst);
	*dst = strdup(val);
	return *dst ? 0 : -ENOMEM;
}

static int fs_kv(struct fs_opts *o, const struct opts_kv *kv, char *err,
		 size_t errlen)
{
	if (!strcmp(kv->key, "socket"))
		return set_str(&o->socket, kv->val, "socket", err, errlen);
	if (!strcmp(kv->key, "tag")) {
		if (!kv->val || !*kv->val || strlen(kv->val) > VIRTIO_FS_TAG_MAX || o->tag[0]) {
			errbuf_printf(err, errlen, "--fs tag='%s': one tag of 1 to %d characters",
				      kv->val ? kv->val : "", VIRTIO_FS_TAG_MAX);
			return -EINVAL;
		}
		strcpy(o->tag, kv->val);
		return 0;
	}
	if (!strcmp(kv->key, "cache")) {
		if (!kv->val || (strcmp(kv->val, "auto") && strcmp(kv->val, "always") &&
				 strcmp(kv->val, "none"))) {
			errbuf_printf(err, errlen, "--fs cache='%s': auto, always or none",
				      kv->val ? kv->val : "");
			return -EINVAL;
		}
		strcpy(o->cache, kv->val);
		return 0;
	}
	if (!strcmp(kv->key, "ro")) {
		errbuf_printf(err, errlen, "--fs ro: not supported (QEMU 7.2's virtiofsd has "
			      "no read-only mode); use --share HOSTDIR:TAG,ro=on");
		return -EINVAL;
	}
	errbuf_printf(err, errlen, "--fs: unknown key '%s' (socket, tag, cache)", kv->key);
	return -EINVAL;
}

/* HOSTDIR:TAG (the last ':' splits them) into o. */
static int fs_dir_tag(struct fs_opts *o, char *s, char *err, size_t errlen)
{
	char *colon = strrchr(s, ':');

	if (!colon || colon == s || !colon[1] || strlen(colon + 1) > VIRTIO_FS_TAG_MAX) {
		errbuf_printf(err, errlen, "--fs '%s': expected HOSTDIR:TAG (a tag of 1 to %d "
			      "characters) or socket=PATH,tag=TAG", s, VIRTIO_FS_TAG_MAX);
		return -EINVAL;
	}
	*colon = '\0';
	strcpy(o->tag, colon + 1);
	if (strchr(s, ',')) {
		errbuf_printf(err, errlen, "--fs '%s': virtiofsd cannot take a directory "
			      "name with ','", s);
		return -EINVAL;
	}
	return set_str(&o->dir, s, "HOSTDIR", err, errlen);
}

static int fs_check(const struct run_fs *rf, const struct fs_opts *o,
		    const char *arg, char *err, size_t errlen)
{
	int i;

	if (!o->dir == !o->socket || !o->tag[0]) {
		errbuf_printf(err, errlen, "--fs '%s': expected HOSTDIR:TAG[,cache=MODE] or "
			      "socket=PATH,tag=TAG", arg);
		return -EINVAL;
	}
	if (o->socket && o->cache[0]) {
		errbuf_printf(err, errlen, "--fs '%s': cache= is for the virtiofsd nkvm "
			      "starts, not for socket=", arg);
		return -EINVAL;
	}
	for (i = 0; i < rf->nr; i++) {
		if (!strcmp(rf->fs[i].tag, o->tag)) {
			errbuf_printf(err, errlen, "--fs: tag '%s' used twice", o->tag);
			return -EINVAL;
		}
	}
	return 0;
}

int runfs_parse(struct run_fs *rf, const char *arg, char *err, size_t errlen)
{
	struct opts_kv kv[OPTS_KV_MAX];
	struct fs_opts o = { 0 };
	char *copy;
	int n, i = 0, r = 0;

	if (rf->nr >= RUN_MAX_FS) {
		errbuf_printf(err, errlen, "--fs: at most %d", RUN_MAX_FS);
		return -EINVAL;
	}
	copy = strdup(arg);
	if (!copy)
		return -ENOMEM;
	n = opts_kv_split(copy, kv, OPTS_KV_MAX);
	if (n <= 0) {
		errbuf_printf(err, errlen, "--fs '%s': malformed", arg);
		r = -EINVAL;
	} else if (!kv[0].val) {
		r = fs_dir_tag(&o, kv[0].key, err, errlen);
		i = 1;
	}
	for (; i < n && !r; i++)
		r = fs_kv(&o, &kv[i], err, errlen);
	if (!r)
		r = fs_check(rf, &o, arg, err, errlen);
	free(copy);
	if (r) {
		if (r == -ENOMEM)
			errbuf_printf(err, errlen, "--fs: out of memory");
		free(o.dir);
		free(o.socket);
		return r;
	}
	if (!o.cache[0])
		strcpy(o.cache, "auto");
	rf->fs[rf->nr++] = o;
	return 0;
}

/* Connect to a back end's listening socket; connect waits at most
 * timeout_ms for a full backlog (SO_SNDTIMEO bounds it). */
static int connect_socket(const char *path, int timeout_ms, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		errbuf_printf(err, errlen, "socket path longer than %zu bytes",
			      sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		if (fd >= 0)
			close(fd);
		errbuf_printf(err, errlen, "cannot connect: %s", strerror(-r));
		return r;
	}
	return fd;
}

/* Checks before starting virtiofsd, each with the fix in the message. */
static int check_virtiofsd(const struct run_fs *rf, const struct fs_opts *o,
			   const char *binary, char *err, size_t errlen)
{
	struct stat st;

	if (access(binary, X_OK) < 0) {
		errbuf_printf(err, errlen, "virtiofsd %s: %s (install QEMU's virtiofsd, "
			      "Debian package qemu-system-common, or give --virtiofsd PATH)",
			      binary, strerror(errno));
		return -1;
	}
	if (!rf->virtiofsd && geteuid() != 0) {
		errbuf_printf(err, errlen, "QEMU's virtiofsd needs root (it sandboxes itself "
			      "in namespaces): run nkvm as root, or start a vhost-user-fs back "
			      "end yourself and use --fs socket=PATH,tag=TAG");
		return -1;
	}
	if (stat(o->dir, &st) < 0) {
		errbuf_printf(err, errlen, "%s", strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		errbuf_printf(err, errlen, "not a directory");
		return -1;
	}
	return 0;
}

/* The vhost-user connection for device i: a new virtiofsd's, or the
 * socket's. fd, or -1 with err set. */
static int open_backend(struct run_fs *rf, int i, char *err, size_t errlen)
{
	struct fs_opts *o = &rf->fs[i];
	const char *binary = rf->virtiofsd ? rf->virtiofsd : VIRTIOFSD_DEFAULT;
	char abs[PATH_MAX];
	int fd;

	if (o->socket)
		return connect_socket(o->socket, VIRTIO_FS_TIMEOUT_MS, err, errlen);
	if (check_virtiofsd(rf, o, binary, err, errlen) < 0)
		return -1;
	if (!realpath(o->dir, abs)) {
		errbuf_printf(err, errlen, "%s", strerror(errno));
		return -1;
	}
	fd = virtiofsd_spawn(&rf->proc[i], binary, abs, o->cache, err, errlen);
	return fd < 0 ? -1 : fd;
}

int runfs_open(struct run_fs *rf)
{
	char err[512], why[128];
	int i, fd;

	for (i = 0; i < rf->nr; i++) {
		struct fs_opts *o = &rf->fs[i];
		char what[PATH_MAX + 8];

		snprintf(what, sizeof(what), "%s%s", o->socket ? "socket=" : "",
			 o->socket ? o->socket : o->dir);

		snprintf(rf->names[i], sizeof(rf->names[i]), "fs%d", i);
		err[0] = '\0';
		fd = open_backend(rf, i, err, sizeof(err));
		if (fd < 0) {
			log_err("--fs %s: %s", what, err);
			return -1;
		}
		rf->dev[i] = calloc(1, sizeof(*rf->dev[i]));
		if (!rf->dev[i]) {
			close(fd);
			log_err("--fs: out of memory");
			return -1;
		}
		if (virtio_fs_init(rf->dev[i], rf->names[i], o->tag, fd,
				   VIRTIO_FS_TIMEOUT_MS, err, sizeof(err)) == 0)
			continue;
		free(rf->dev[i]);
		rf->dev[i] = NULL;
		if (o->socket) {
			log_err("--fs %s: %s", what, err);
		} else {
			virtiofsd_describe_exit(&rf->proc[i], 1000, why, sizeof(why));
			log_err("--fs %s: %s before it answered (%s)", what, why, err);
		}
		return -1;
	}
	return 0;
}

/* The back end went away while the guest ran: its FUSE requests in flight
 * can never complete, so the VM stops rather than hang. */
static void on_dead(void *opaque, struct virtio_fs *f, const char *why)
{
	struct vm *vm = opaque;

	log_err("--fs %s: %s; the guest's file requests cannot complete: stopping "
		"the VM (exit status %d)", f->tag, why, EXIT_HOST);
	vm_request_stop(vm, VM_STOP_CRASH, EXIT_HOST);
}

int runfs_attach(struct run_fs *rf, struct vm *vm)
{
	char err[256];
	int i, r;

	for (i = 0; i < rf->nr; i++) {
		struct virtio_fs *f = rf->dev[i];

		f->on_dead = on_dead;
		f->dead_opaque = vm;
		r = virtio_fs_connect(f, &vm->gm, &vm->evl, err, sizeof(err));
		if (r < 0) {
			log_err("--fs %s: %s", f->tag, err);
			return -EXIT_HOST;
		}
		r = vm_add_virtio(vm, &f->dev);
		if (r < 0)
			return r;
	}
	return 0;
}

void runfs_free(struct run_fs *rf)
{
	int i;

	for (i = 0; i < rf->nr; i++) {
		/* virtiofsd first: it exits quietly on SIGTERM, but complains
		 * when its connection goes first */
		virtiofsd_stop(&rf->proc[i]);
		if (rf->dev[i]) {
			virtio_fs_destroy(rf->dev[i]);
			free(rf->dev[i]);
			rf->dev[i] = NULL;
		}
		free(rf->fs[i].dir);
		free(rf->fs[i].socket);
		rf->fs[i].dir = rf->fs[i].socket = NULL;
	}
	rf->nr = 0;
}
