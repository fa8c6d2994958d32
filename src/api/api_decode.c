/* Firecracker API request bodies into a vm_spec (see api_decode.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nkvm/api_decode.h"
#include "nkvm/api_json.h"
#include "nkvm/net_opts.h"
#include "nkvm/vm.h"

#define PATH_MAX_LEN 4096

void api_spec_init(struct vm_spec *s)
{
	vm_spec_init(s);
	s->mem = (uint64_t)API_DEFAULT_MEM_MIB << 20;
	s->dev.net_none = true;	/* Firecracker: no NIC unless one is PUT */
}

/* Firecracker's ids: alphanumeric and '_', at most 64 bytes. */
static int check_id(const char *id, const char *what, char *err, size_t errlen)
{
	size_t i, n = strlen(id);

	for (i = 0; i < n; i++)
		if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z') ||
		      (id[i] >= '0' && id[i] <= '9') || id[i] == '_'))
			break;
	if (n == 0 || n > VM_SPEC_ID_MAX || i < n) {
		errbuf_printf(err, errlen, "%s: 1 to %d characters of A-Z a-z 0-9 _",
			      what, VM_SPEC_ID_MAX);
		return -EINVAL;
	}
	return 0;
}

/* The id in the body must be the one in the path (Firecracker's rule). */
static int body_id(const json_t *j, const char *key, const char *path_id,
		   const char **id, char *err, size_t errlen)
{
	if (jget_str(j, key, true, VM_SPEC_ID_MAX, id, err, errlen) < 0)
		return -EINVAL;
	if (path_id && strcmp(path_id, *id)) {
		errbuf_printf(err, errlen, "The id from the path does not match the id from the body!");
		return -EINVAL;
	}
	return check_id(*id, key, err, errlen);
}

/* A host file the VM will open: checked now for a clear early 400. */
static int check_file(const char *what, const char *path, bool dev_ok, char *err,
		      size_t errlen)
{
	struct stat st;

	if (stat(path, &st) < 0 || access(path, R_OK) < 0) {
		errbuf_printf(err, errlen, "%s '%s': %s", what, path, strerror(errno));
		return -EINVAL;
	}
	if (!S_ISREG(st.st_mode) && !(dev_ok && S_ISBLK(st.st_mode))) {
		errbuf_printf(err, errlen, "%s '%s': not a regular file", what, path);
		return -EINVAL;
	}
	return 0;
}

int api_dec_boot_source(const json_t *j, const char *id, struct vm_spec *s, char *err,
			size_t errlen)
{
	static const char *const allowed[] = { "kernel_image_path", "initrd_path",
		"boot_args", "nkvm_default_args", NULL };
	const char *kernel, *initrd, *args;
	bool base = false;
	struct vm_spec n = { 0 };

	if (jobj_check(j, "boot-source", allowed, err, errlen) < 0 ||
	    jget_str(j, "kernel_image_path", true, PATH_MAX_LEN, &kernel, err, errlen) < 0 ||
	    jget_str(j, "initrd_path", false, PATH_MAX_LEN, &initrd, err, errlen) < 0 ||
	    jget_str(j, "boot_args", false, 4096, &args, err, errlen) < 0 ||
	    jget_bool(j, "nkvm_default_args", false, &base, NULL, err, errlen) < 0 ||
	    check_file("kernel_image_path", kernel, false, err, errlen) < 0 ||
	    (initrd && check_file("initrd_path", initrd, false, err, errlen) < 0))
		return -EINVAL;
	if (vm_spec_set_str(&n.kernel, kernel) || vm_spec_set_str(&n.initrd, initrd) ||
	    vm_spec_set_str(&n.boot_args, args)) {
		free(n.kernel);
		free(n.initrd);
		free(n.boot_args);
		errbuf_printf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	free(s->kernel);
	free(s->initrd);
	free(s->boot_args);
	s->kernel = n.kernel;
	s->initrd = n.initrd;
	s->boot_args = n.boot_args;
	s->base_and_args = base;
	return 0;
}

/* An enum-like string field nkvm supports one value of. */
static int only_value(const json_t *j, const char *key, const char *ok, char *err,
		      size_t errlen)
{
	const char *v;

	if (jget_str(j, key, false, 64, &v, err, errlen) < 0)
		return -EINVAL;
	if (v && strcmp(v, ok)) {
		errbuf_printf(err, errlen, "field '%s': only \"%s\" is supported by nkvm", key, ok);
		return -EINVAL;
	}
	return 0;
}

static int machine_config(const json_t *j, struct vm_spec *s, bool partial, char *err,
			  size_t errlen)
{
	static const char *const allowed[] = { "vcpu_count", "mem_size_mib", "smt",
		"cpu_template", "track_dirty_pages", "huge_pages", NULL };
	uint64_t cpus = (uint64_t)s->cpus, mib = s->mem >> 20;
	bool smt = false, dirty = false;

	if (jobj_check(j, "machine-config", allowed, err, errlen) < 0 ||
	    jget_uint(j, "vcpu_count", !partial, 1, VM_MAX_CPUS, &cpus, NULL, err, errlen) < 0 ||
	    jget_uint(j, "mem_size_mib", !partial, GM_MIN_SIZE >> 20, GM_MAX_SIZE >> 20, &mib,
		      NULL, err, errlen) < 0 ||
	    jget_bool(j, "smt", false, &smt, NULL, err, errlen) < 0 ||
	    jget_bool(j, "track_dirty_pages", false, &dirty, NULL, err, errlen) < 0 ||
	    only_value(j, "cpu_template", "None", err, errlen) < 0 ||
	    only_value(j, "huge_pages", "None", err, errlen) < 0)
		return -EINVAL;
	if (smt || dirty) {
		errbuf_printf(err, errlen, "field '%s': only false is supported by nkvm",
			      smt ? "smt" : "track_dirty_pages");
		return -EINVAL;
	}
	s->cpus = (int)cpus;
	/* rounded up to the 2 MiB granule guest memory uses */
	s->mem = ((mib << 20) + (2ULL << 20) - 1) & ~((2ULL << 20) - 1);
	return 0;
}

int api_dec_machine_config_put(const json_t *j, const char *id, struct vm_spec *s,
			       char *err, size_t errlen)
{
	return machine_config(j, s, false, err, errlen);
}

int api_dec_machine_config_patch(const json_t *j, const char *id, struct vm_spec *s,
				 char *err, size_t errlen)
{
	return machine_config(j, s, true, err, errlen);
}

static int find_id(char ids[][VM_SPEC_ID_MAX + 1], int n, const char *id)
{
	int i;

	for (i = 0; i < n; i++)
		if (!strcmp(ids[i], id))
			return i;
	return -1;
}

/* Remove disk i (its path freed), keeping the others in order. */
static void drop_disk(struct vm_spec *s, int i)
{
	struct run_devices *d = &s->dev;

	free(d->disk[i].path);
	memmove(&d->disk[i], &d->disk[i + 1], (d->nr_disks - i - 1) * sizeof(d->disk[0]));
	memmove(s->disk_id[i], s->disk_id[i + 1], (d->nr_disks - i - 1) * sizeof(s->disk_id[0]));
	d->nr_disks--;
	if (s->root_disk == i)
		s->root_disk = -1;
	else if (s->root_disk > i)
		s->root_disk--;
}

/* Insert at index at (0 for a root drive, so it is /dev/vda). */
static void insert_disk(struct vm_spec *s, int at, const struct disk_opts *o, const char *id)
{
	struct run_devices *d = &s->dev;

	memmove(&d->disk[at + 1], &d->disk[at], (d->nr_disks - at) * sizeof(d->disk[0]));
	memmove(s->disk_id[at + 1], s->disk_id[at], (d->nr_disks - at) * sizeof(s->disk_id[0]));
	d->disk[at] = *o;
	snprintf(s->disk_id[at], sizeof(s->disk_id[at]), "%s", id);
	d->image[d->nr_disks].fd = -1;
	d->nr_disks++;
	if (s->root_disk >= at)
		s->root_disk++;
}

/* Firecracker's root= parameter for a root drive: /dev/vda, or the
 * partition with partuuid, ro or rw as the drive is. */
static int update_root_args(struct vm_spec *s)
{
	char *a = NULL;

	if (s->root_disk >= 0 &&
	    asprintf(&a, "root=%s%s %s", s->root_partuuid ? "PARTUUID=" : "/dev/vda",
		     s->root_partuuid ? s->root_partuuid : "",
		     s->dev.disk[s->root_disk].ro ? "ro" : "rw") < 0)
		return -ENOMEM;
	free(s->root_args);
	s->root_args = a;
	return 0;
}

int api_dec_drive(const json_t *j, const char *id, struct vm_spec *s, char *err,
		  size_t errlen)
{
	static const char *const allowed[] = { "drive_id", "partuuid", "is_root_device",
		"cache_type", "is_read_only", "path_on_host", "rate_limiter", "io_engine",
		"socket", NULL };
	const char *path, *partuuid, *cache, *engine;
	struct disk_opts o = { 0 };
	bool root = false, root_present;
	char *uuid = NULL;
	int old, at;

	if (jobj_check(j, "drive", allowed, err, errlen) < 0 ||
	    body_id(j, "drive_id", id, &id, err, errlen) < 0 ||
	    jget_bool(j, "is_root_device", true, &root, &root_present, err, errlen) < 0 ||
	    jget_bool(j, "is_read_only", false, &o.ro, NULL, err, errlen) < 0 ||
	    jget_str(j, "partuuid", false, 64, &partuuid, err, errlen) < 0 ||
	    jget_str(j, "cache_type", false, 16, &cache, err, errlen) < 0 ||
	    jget_str(j, "io_engine", false, 16, &engine, err, errlen) < 0 ||
	    jcheck_no_limiter(j, "rate_limiter", err, errlen) < 0)
		return -EINVAL;
	if (json_object_get(j, "socket")) {
		errbuf_printf(err, errlen, "vhost-user block devices (field 'socket') are not supported by nkvm");
		return -EINVAL;
	}
	/* nkvm's disks are always write-back with real flushes, on io_uring
	 * where the host has it: both values of each are accepted */
	if ((cache && strcmp(cache, "Unsafe") && strcmp(cache, "Writeback")) ||
	    (engine && strcmp(engine, "Sync") && strcmp(engine, "Async"))) {
		errbuf_printf(err, errlen, "field '%s': expected %s", cache && strcmp(cache, "Unsafe") &&
			      strcmp(cache, "Writeback") ? "cache_type" : "io_engine",
			      cache && strcmp(cache, "Unsafe") && strcmp(cache, "Writeback") ?
			      "\"Unsafe\" or \"Writeback\"" : "\"Sync\" or \"Async\"");
		return -EINVAL;
	}
	if (jget_str(j, "path_on_host", true, PATH_MAX_LEN, &path, err, errlen) < 0 ||
	    check_file("path_on_host", path, true, err, errlen) < 0)
		return -EINVAL;
	old = find_id(s->disk_id, s->dev.nr_disks, id);
	if (root && s->root_disk >= 0 && s->root_disk != old) {
		errbuf_printf(err, errlen, "A root block device already exists!");
		return -EINVAL;
	}
	if (old < 0 && s->dev.nr_disks >= RUN_MAX_DISKS) {
		errbuf_printf(err, errlen, "at most %d drives", RUN_MAX_DISKS);
		return -EINVAL;
	}
	o.path = strdup(path);
	if (!o.path || (root && partuuid && !(uuid = strdup(partuuid)))) {
		free(o.path);
		errbuf_printf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (old >= 0)
		drop_disk(s, old);
	at = root ? 0 : s->dev.nr_disks;
	insert_disk(s, at, &o, id);
	if (root) {
		s->root_disk = 0;
		free(s->root_partuuid);
		s->root_partuuid = uuid;
	}
	if (update_root_args(s) < 0) {
		errbuf_printf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

int api_dec_partial_drive(const json_t *j, const char *id, const char **path,
			  char *err, size_t errlen)
{
	static const char *const allowed[] = { "drive_id", "path_on_host", "rate_limiter", NULL };

	if (jobj_check(j, "drive", allowed, err, errlen) < 0 ||
	    body_id(j, "drive_id", id, &id, err, errlen) < 0 ||
	    jcheck_no_limiter(j, "rate_limiter", err, errlen) < 0 ||
	    jget_str(j, "path_on_host", false, PATH_MAX_LEN, path, err, errlen) < 0 ||
	    (*path && check_file("path_on_host", *path, true, err, errlen) < 0))
		return -EINVAL;
	return 0;
}

int api_dec_net(const json_t *j, const char *id, struct vm_spec *s, char *err,
		size_t errlen)
{
	static const char *const allowed[] = { "iface_id", "host_dev_name", "guest_mac",
		"mtu", "rx_rate_limiter", "tx_rate_limiter", "nkvm_net", NULL };
	const char *dev, *mac, *spec;
	struct net_opts o = { .kind = NET_TAP };
	int i;

	if (jobj_check(j, "network interface", allowed, err, errlen) < 0 ||
	    body_id(j, "iface_id", id, &id, err, errlen) < 0 ||
	    jcheck_no_limiter(j, "rx_rate_limiter", err, errlen) < 0 ||
	    jcheck_no_limiter(j, "tx_rate_limiter", err, errlen) < 0 ||
	    jget_str(j, "nkvm_net", false, 4096, &spec, err, errlen) < 0 ||
	    jget_str(j, "host_dev_name", !spec, NET_IFNAME_LEN - 1, &dev, err, errlen) < 0 ||
	    jget_str(j, "guest_mac", false, 17, &mac, err, errlen) < 0)
		return -EINVAL;
	if (json_object_get(j, "mtu")) {
		errbuf_printf(err, errlen, "field 'mtu': not supported by nkvm (the guest uses its default MTU)");
		return -EINVAL;
	}
	if (spec && dev) {
		errbuf_printf(err, errlen, "give host_dev_name or nkvm_net, not both");
		return -EINVAL;
	}
	if (spec && net_opts_parse(spec, &o, err, errlen) < 0)
		return -EINVAL;
	if (o.kind == NET_NONE) {
		errbuf_printf(err, errlen, "nkvm_net: 'none' makes no interface");
		return -EINVAL;
	}
	if (dev) {
		if (!*dev) {
			errbuf_printf(err, errlen, "field 'host_dev_name': empty");
			return -EINVAL;
		}
		strcpy(o.ifname, dev);
	}
	if (mac) {
		if (net_parse_mac(mac, o.mac) < 0) {
			errbuf_printf(err, errlen, "field 'guest_mac': '%s' is not a unicast MAC like 06:00:AC:10:00:02", mac);
			return -EINVAL;
		}
		o.mac_set = true;
	}
	i = find_id(s->nic_id, s->dev.nr_nets, id);
	if (i < 0) {
		if (s->dev.nr_nets >= RUN_MAX_NICS) {
			errbuf_printf(err, errlen, "at most %d network interfaces", RUN_MAX_NICS);
			return -EINVAL;
		}
		i = s->dev.nr_nets++;
		snprintf(s->nic_id[i], sizeof(s->nic_id[i]), "%s", id);
	}
	s->dev.net[i] = o;
	s->dev.net_none = false;
	return 0;
}

int api_dec_vsock(const json_t *j, const char *id, struct vm_spec *s, char *err,
		  size_t errlen)
{
	static const char *const allowed[] = { "guest_cid", "uds_path", "vsock_id", NULL };
	const char *uds, *vid;
	uint64_t cid;
	char *c;

	if (jobj_check(j, "vsock", allowed, err, errlen) < 0 ||
	    jget_uint(j, "guest_cid", true, 3, UINT32_MAX - 1, &cid, NULL, err, errlen) < 0 ||
	    jget_str(j, "uds_path", true, 107, &uds, err, errlen) < 0 ||
	    jget_str(j, "vsock_id", false, VM_SPEC_ID_MAX, &vid, err, errlen) < 0)
		return -EINVAL;
	if (!*uds) {
		errbuf_printf(err, errlen, "field 'uds_path': empty");
		return -EINVAL;
	}
	c = strdup(uds);
	if (!c)
		return -ENOMEM;
	free(s->vsock.uds_path);
	s->vsock.uds_path = c;
	s->vsock.guest_cid = (uint32_t)cid;
	s->vsock.set = true;
	return 0;
}

int api_dec_entropy(const json_t *j, const char *id, struct vm_spec *s, char *err,
		    size_t errlen)
{
	static const char *const allowed[] = { "rate_limiter", NULL };

	if (jobj_check(j, "entropy", allowed, err, errlen) < 0 ||
	    jcheck_no_limiter(j, "rate_limiter", err, errlen) < 0)
		return -EINVAL;
	s->dev.rng = true;
	return 0;
}

int api_dec_logger(const json_t *j, struct api_logger_cfg *l, char *err, size_t errlen)
{
	static const char *const allowed[] = { "log_path", "level", "show_level",
		"show_log_origin", "module", NULL };
	static const struct { const char *name; enum log_level lvl; } levels[] = {
		{ "Error", LOG_ERR }, { "Warning", LOG_WARN }, { "Warn", LOG_WARN },
		{ "Info", LOG_INFO }, { "Debug", LOG_DEBUG }, { "Trace", LOG_DEBUG },
	};
	struct api_logger_cfg n = { .level = LOG_INFO };
	const char *path, *level, *module;
	size_t i;

	if (jobj_check(j, "logger", allowed, err, errlen) < 0 ||
	    jget_str(j, "log_path", false, PATH_MAX_LEN, &path, err, errlen) < 0 ||
	    jget_str(j, "level", false, 16, &level, err, errlen) < 0 ||
	    jget_str(j, "module", false, 256, &module, err, errlen) < 0 ||
	    jget_bool(j, "show_level", false, &n.show_level, NULL, err, errlen) < 0 ||
	    jget_bool(j, "show_log_origin", false, &n.show_origin, NULL, err, errlen) < 0)
		return -EINVAL;
	for (i = 0; level && i < sizeof(levels) / sizeof(levels[0]); i++)
		if (!strcasecmp(level, levels[i].name))
			break;
	if (level && i == sizeof(levels) / sizeof(levels[0])) {
		errbuf_printf(err, errlen, "field 'level': expected Error, Warning, Info, Debug or Trace");
		return -EINVAL;
	}
	if (level)
		n.level = levels[i].lvl;
	if (path && !(n.log_path = strdup(path)))
		return -ENOMEM;
	api_logger_cfg_free(l);
	*l = n;
	return 0;
}

int api_dec_metrics(const json_t *j, struct api_metrics_cfg *m, char *err, size_t errlen)
{
	static const char *const allowed[] = { "metrics_path", "emit_id", "properties", NULL };
	struct api_metrics_cfg n = { 0 };
	const json_t *props = json_object_get(j, "properties"), *v;
	const char *path, *key;

	if (jobj_check(j, "metrics", allowed, err, errlen) < 0 ||
	    jget_str(j, "metrics_path", true, PATH_MAX_LEN, &path, err, errlen) < 0 ||
	    jget_bool(j, "emit_id", false, &n.emit_id, NULL, err, errlen) < 0)
		return -EINVAL;
	if (props && !json_is_null(props)) {
		if (!json_is_object(props) || json_object_size(props) > 64) {
			errbuf_printf(err, errlen, "field 'properties': expected an object of at most 64 strings");
			return -EINVAL;
		}
		json_object_foreach((json_t *)props, key, v) {
			if (!json_is_string(v)) {
				errbuf_printf(err, errlen, "field 'properties': '%.64s' is not a string", key);
				return -EINVAL;
			}
		}
		n.properties = json_deep_copy(props);
	}
	n.metrics_path = strdup(path);
	if (!n.metrics_path) {
		json_decref(n.properties);
		return -ENOMEM;
	}
	api_metrics_cfg_free(m);
	*m = n;
	return 0;
}

int api_dec_action(const json_t *j, enum api_action *a, char *err, size_t errlen)
{
	static const char *const allowed[] = { "action_type", NULL };
	const char *t;

	if (jobj_check(j, "action", allowed, err, errlen) < 0 ||
	    jget_str(j, "action_type", true, 32, &t, err, errlen) < 0)
		return -EINVAL;
	if (!strcmp(t, "InstanceStart"))
		*a = API_INSTANCE_START;
	else if (!strcmp(t, "SendCtrlAltDel"))
		*a = API_SEND_CTRL_ALT_DEL;
	else if (!strcmp(t, "FlushMetrics"))
		*a = API_FLUSH_METRICS;
	else {
		errbuf_printf(err, errlen, "field 'action_type': expected InstanceStart, SendCtrlAltDel or FlushMetrics");
		return -EINVAL;
	}
	return 0;
}

int api_dec_vm_state(const json_t *j, bool *pause, char *err, size_t errlen)
{
	static const char *const allowed[] = { "state", NULL };
	const char *st;

	if (jobj_check(j, "vm", allowed, err, errlen) < 0 ||
	    jget_str(j, "state", true, 16, &st, err, errlen) < 0)
		return -EINVAL;
	if (strcmp(st, "Paused") && strcmp(st, "Resumed")) {
		errbuf_printf(err, errlen, "field 'state': expected Paused or Resumed");
		return -EINVAL;
	}
	*pause = !strcmp(st, "Paused");
	return 0;
}

void api_logger_cfg_free(struct api_logger_cfg *l)
{
	free(l->log_path);
	memset(l, 0, sizeof(*l));
	l->level = LOG_INFO;
}

void api_metrics_cfg_free(struct api_metrics_cfg *m)
{
	free(m->metrics_path);
	json_decref(m->properties);
	memset(m, 0, sizeof(*m));
}

json_t *api_enc_machine_config(const struct vm_spec *s)
{
	return json_pack("{s:i, s:I, s:b, s:b, s:s}", "vcpu_count", s->cpus,
			 "mem_size_mib", (json_int_t)(s->mem >> 20), "smt", 0,
			 "track_dirty_pages", 0, "huge_pages", "None");
}

static json_t *enc_drives(const struct vm_spec *s)
{
	json_t *a = json_array();
	int i;

	for (i = 0; a && i < s->dev.nr_disks; i++) {
		const struct disk_opts *d = &s->dev.disk[i];
		json_t *o = json_pack("{s:s, s:s*, s:b, s:b, s:s, s:s}",
				      "drive_id", s->disk_id[i],
				      "partuuid", i == s->root_disk ? s->root_partuuid : NULL,
				      "is_root_device", i == s->root_disk, "is_read_only", d->ro,
				      "path_on_host", d->path ? d->path : "", "cache_type", "Writeback");

		json_array_append_new(a, o);
	}
	return a;
}

static json_t *enc_nets(const struct vm_spec *s)
{
	json_t *a = json_array();
	int i;

	for (i = 0; a && i < s->dev.nr_nets; i++) {
		const struct net_opts *n = &s->dev.net[i];
		char mac[18] = "";
		json_t *o;

		if (n->mac_set)
			snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", n->mac[0],
				 n->mac[1], n->mac[2], n->mac[3], n->mac[4], n->mac[5]);
		o = json_pack("{s:s, s:s, s:s*}", "iface_id", s->nic_id[i],
			      "host_dev_name", n->kind == NET_TAP ? n->ifname : "",
			      "guest_mac", mac[0] ? mac : NULL);
		if (o && n->kind == NET_USER)
			json_object_set_new(o, "nkvm_net", json_string("user"));
		json_array_append_new(a, o);
	}
	return a;
}

json_t *api_enc_vm_config(const struct vm_spec *s, const struct api_logger_cfg *l,
			  const struct api_metrics_cfg *m)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	if (s->kernel)
		json_object_set_new(o, "boot-source",
				    json_pack("{s:s, s:s*, s:s*}", "kernel_image_path", s->kernel,
					      "initrd_path", s->initrd, "boot_args", s->boot_args));
	json_object_set_new(o, "machine-config", api_enc_machine_config(s));
	json_object_set_new(o, "drives", enc_drives(s));
	json_object_set_new(o, "network-interfaces", enc_nets(s));
	if (s->vsock.set)
		json_object_set_new(o, "vsock", json_pack("{s:I, s:s}", "guest_cid",
							  (json_int_t)s->vsock.guest_cid,
							  "uds_path", s->vsock.uds_path));
	if (s->dev.rng)
		json_object_set_new(o, "entropy", json_object());
	if (l && l->log_path)
		json_object_set_new(o, "logger", json_pack("{s:s}", "log_path", l->log_path));
	if (m && m->metrics_path)
		json_object_set_new(o, "metrics", json_pack("{s:s}", "metrics_path", m->metrics_path));
	return o;
}
