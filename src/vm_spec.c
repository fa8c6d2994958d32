/* The one description of a VM to boot (see vm_spec.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nkvm/vm_spec.h"

void vm_spec_init(struct vm_spec *s)
{
	int i;

	memset(s, 0, sizeof(*s));
	s->mem = VM_SPEC_DEFAULT_MEM;
	s->cpus = 1;
	s->root_disk = -1;
	s->uart_out_fd = STDOUT_FILENO;
	for (i = 0; i < RUN_MAX_DISKS; i++)
		s->dev.image[i].fd = -1;
}

void vm_spec_free(struct vm_spec *s)
{
	int i;

	free(s->kernel);
	free(s->initrd);
	free(s->boot_args);
	free(s->root_args);
	free(s->params);
	free(s->root_partuuid);
	free(s->vsock.uds_path);
	free(s->kernel_console);
	free(s->nkvm_params);
	free(s->initrd_extra);
	for (i = 0; i < s->dev.nr_disks; i++)
		free(s->dev.disk[i].path);
	for (i = 0; i < s->dev.nr_shares; i++)
		free(s->dev.share[i].path);
	for (i = 0; i < s->dev.fs.nr; i++) {
		free(s->dev.fs.fs[i].dir);
		free(s->dev.fs.fs[i].socket);
	}
	vm_spec_init(s);
}

int vm_spec_set_str(char **slot, const char *s)
{
	char *c = NULL;

	if (s && !(c = strdup(s)))
		return -ENOMEM;
	free(*slot);
	*slot = c;
	return 0;
}

int vm_spec_set_initrd_extra(struct vm_spec *s, const void *data, size_t len)
{
	uint8_t *c = NULL;

	if (len && !(c = malloc(len)))
		return -ENOMEM;
	if (len)
		memcpy(c, data, len);
	free(s->initrd_extra);
	s->initrd_extra = c;
	s->initrd_extra_size = len;
	return 0;
}

int vm_spec_copy(struct vm_spec *dst, const struct vm_spec *src)
{
	const struct run_devices *sd = &src->dev;
	struct run_devices *dd;
	int i, r = 0;

	vm_spec_init(dst);
	/* the options are plain data but for the strings, copied below;
	 * nothing opened is copied */
	dst->mem = src->mem;
	dst->cpus = src->cpus;
	dst->timeout_s = src->timeout_s;
	dst->verbose = src->verbose;
	dst->base_and_args = src->base_and_args;
	dst->root_disk = src->root_disk;
	dst->vsock.set = src->vsock.set;
	dst->vsock.guest_cid = src->vsock.guest_cid;
	dst->uart_out_fd = src->uart_out_fd;
	dst->console_framed = src->console_framed;
	dst->console_gated = src->console_gated;
	dst->stop_reason = src->stop_reason;
	memcpy(dst->disk_id, src->disk_id, sizeof(dst->disk_id));
	memcpy(dst->nic_id, src->nic_id, sizeof(dst->nic_id));
	dd = &dst->dev;
	memcpy(dd->disk, sd->disk, sizeof(dd->disk));
	memcpy(dd->net, sd->net, sizeof(dd->net));
	memcpy(dd->share, sd->share, sizeof(dd->share));
	dd->nr_nets = sd->nr_nets;
	dd->net_none = sd->net_none;
	dd->rng = sd->rng;
	dd->virtio_console = sd->virtio_console;
	dd->console_out_fd = sd->console_out_fd;
	dd->vsock = sd->vsock;
	/* --fs: the options only (tag, cache; strings below), nothing started */
	dd->fs.virtiofsd = sd->fs.virtiofsd;
	for (i = 0; i < sd->fs.nr; i++) {
		memcpy(dd->fs.fs[i].tag, sd->fs.fs[i].tag, sizeof(dd->fs.fs[i].tag));
		memcpy(dd->fs.fs[i].cache, sd->fs.fs[i].cache, sizeof(dd->fs.fs[i].cache));
	}
	for (i = 0; i < RUN_MAX_DISKS; i++)
		dd->disk[i].path = NULL;
	for (i = 0; i < RUN_MAX_SHARES; i++)
		dd->share[i].path = NULL;
	for (i = 0; i < sd->nr_disks && !r; i++, dd->nr_disks++)
		r = vm_spec_set_str(&dd->disk[i].path, sd->disk[i].path);
	for (i = 0; i < sd->nr_shares && !r; i++, dd->nr_shares++)
		r = vm_spec_set_str(&dd->share[i].path, sd->share[i].path);
	for (i = 0; i < sd->fs.nr && !r; i++, dd->fs.nr++)
		r = vm_spec_set_str(&dd->fs.fs[i].dir, sd->fs.fs[i].dir) ?:
		    vm_spec_set_str(&dd->fs.fs[i].socket, sd->fs.fs[i].socket);
	if (!r)
		r = vm_spec_set_str(&dst->kernel, src->kernel) ?:
		    vm_spec_set_str(&dst->initrd, src->initrd) ?:
		    vm_spec_set_str(&dst->boot_args, src->boot_args) ?:
		    vm_spec_set_str(&dst->root_args, src->root_args) ?:
		    vm_spec_set_str(&dst->params, src->params) ?:
		    vm_spec_set_str(&dst->root_partuuid, src->root_partuuid) ?:
		    vm_spec_set_str(&dst->vsock.uds_path, src->vsock.uds_path) ?:
		    vm_spec_set_str(&dst->kernel_console, src->kernel_console) ?:
		    vm_spec_set_str(&dst->nkvm_params, src->nkvm_params) ?:
		    vm_spec_set_initrd_extra(dst, src->initrd_extra, src->initrd_extra_size);
	if (r)
		vm_spec_free(dst);
	return r;
}

char *vm_spec_default_guest_file(const char *file)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	char *p = NULL;
	int r;

	if (xdg && *xdg)
		r = asprintf(&p, "%s/nkvm/default/%s", xdg, file);
	else
		r = asprintf(&p, "%s/.cache/nkvm/default/%s", home ? home : "/", file);
	return r < 0 ? NULL : p;
}

/* Append " part" (nothing for NULL or ""). */
static int add(char **s, const char *part)
{
	char *n;

	if (!part || !*part)
		return 0;
	if (asprintf(&n, "%s%s%s", *s, **s ? " " : "", part) < 0)
		return -ENOMEM;
	free(*s);
	*s = n;
	return 0;
}

char *vm_spec_cmdline(const struct vm_spec *s, const char *pvm, const char *virtio)
{
	char *c = strdup(""), *base = NULL;

	if (!c)
		return NULL;
	if (!s->boot_args || s->base_and_args) {
		if (asprintf(&base, "console=%s %s", s->kernel_console ? s->kernel_console :
			     s->dev.virtio_console ? "hvc0" : "ttyS0", VM_SPEC_BASE_CMDLINE) < 0)
			base = NULL;
		if (!base || add(&c, base) < 0)
			goto fail;
	}
	if (add(&c, s->boot_args) < 0 || add(&c, pvm) < 0 || add(&c, virtio) < 0 ||
	    add(&c, s->root_args) < 0 || add(&c, s->nkvm_params) < 0 ||
	    add(&c, s->params) < 0)
		goto fail;
	free(base);
	return c;
fail:
	free(base);
	free(c);
	return NULL;
}
