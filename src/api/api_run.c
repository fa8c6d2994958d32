/* The API's operations on a running VM: pause, media change, keyboard,
 * statistics. Called with a->lock held, from the API server's thread;
 * nothing here waits for the guest (vm_pause waits for the vCPU threads
 * to leave KVM_RUN, bounded; a media change waits for host I/O). */
#include <errno.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "api_impl.h"
#include "nkvm/clock.h"
#include "nkvm/log.h"
#include "nkvm/vm.h"

void api_pause(struct api *a, bool pause, struct api_resp *r)
{
	if (!pause) {
		vm_resume(a->vm);
		log_info("API: VM resumed");
		r->status = 204;
		return;
	}
	if (vm_pause(a->vm) < 0) {
		/* the request stands: the vCPUs still running park soon */
		api_fault(r, "Pause: the vCPUs did not stop within 2 s (they will when they can)");
		return;
	}
	log_info("API: VM paused");
	r->status = 204;
}

void api_patch_drive(struct api *a, const char *id, const char *path, struct api_resp *r)
{
	struct run_devices *rd = a->rd;
	struct blk_image img = { .fd = -1 }, old;
	char err[512];
	int i, e;

	/* the API's drive_id, or the device's name ("blk0") for the disks
	 * `nkvm run --disk` made, which have no drive_id */
	for (i = 0; i < rd->nr_disks; i++)
		if (!strcmp(a->spec.disk_id[i], id) ||
		    (!a->spec.disk_id[i][0] && !strcmp(rd->blk_names[i], id)))
			break;
	if (i == rd->nr_disks || !rd->blk[i]) {
		api_fault(r, "drive '%s': no such drive", id);
		return;
	}
	if (blk_image_open(&img, path, rd->disk[i].ro, rd->disk[i].direct, err, sizeof(err)) < 0) {
		api_fault(r, "%s", err);
		return;
	}
	e = virtio_blk_swap(rd->blk[i], img.fd, img.size, img.logical_block);
	if (e < 0) {
		blk_image_close(&img);
		api_fault(r, "drive '%s': %s has another logical block size than the image it replaces",
			  id, path);
		return;
	}
	/* the device no longer uses the old image: close it (and its lock) */
	old = rd->image[i];
	rd->image[i] = img;
	blk_image_close(&old);
	if (vm_spec_set_str(&a->spec.dev.disk[i].path, path) < 0)
		log_warn("drive %s: out of memory recording its new path", id);
	log_info("API: drive %s now %s (%llu bytes)", id, path, (unsigned long long)img.size);
	r->status = 204;
}

void api_ctrl_alt_del(struct api *a, struct api_resp *r)
{
	int e = i8042_send_ctrl_alt_del(&a->vm->kbd);

	if (e == -ENODEV)
		api_fault(r, "the guest has no keyboard driver (SendCtrlAltDel needs i8042 + atkbd in the guest)");
	else if (e == -ENOSPC)
		api_fault(r, "SendCtrlAltDel: the guest is not reading its keyboard (keys already queued)");
	else if (e < 0)
		api_fault(r, "SendCtrlAltDel: %s", strerror(-e));
	else
		r->status = 204;
}

/* Counters of one device, read under its lock. */
static json_t *dev_blk(struct run_devices *rd, int i, const char *id)
{
	struct virtio_blk *b = rd->blk[i];
	json_t *o;

	pthread_mutex_lock(&b->dev.lock);
	o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "name", rd->blk_names[i],
		      "type", "block", "drive_id", id, "capacity_sectors", (json_int_t)b->lim.capacity,
		      "reads", (json_int_t)b->reads, "writes", (json_int_t)b->writes,
		      "flushes", (json_int_t)b->flushes, "read_bytes", (json_int_t)b->read_bytes,
		      "written_bytes", (json_int_t)b->written_bytes, "errors", (json_int_t)b->errors);
	pthread_mutex_unlock(&b->dev.lock);
	return o;
}

static json_t *dev_net(struct run_devices *rd, int i, const char *id)
{
	struct virtio_net *n = rd->nic[i];
	json_t *o;

	pthread_mutex_lock(&n->dev.lock);
	o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "name", rd->nic_names[i],
		      "type", "net", "iface_id", id, "rx_frames", (json_int_t)n->st.rx_frames,
		      "tx_frames", (json_int_t)n->st.tx_frames, "rx_bytes", (json_int_t)n->st.rx_bytes,
		      "tx_bytes", (json_int_t)n->st.tx_bytes, "rx_dropped", (json_int_t)n->st.rx_dropped,
		      "tx_dropped", (json_int_t)n->st.tx_dropped);
	pthread_mutex_unlock(&n->dev.lock);
	return o;
}

static json_t *devices(struct api *a)
{
	struct run_devices *rd = a->rd;
	json_t *l = json_array();
	int i;

	for (i = 0; l && rd && i < rd->nr_disks; i++)
		if (rd->blk[i])
			json_array_append_new(l, dev_blk(rd, i, a->spec.disk_id[i]));
	for (i = 0; l && rd && i < rd->nr_nets; i++)
		if (rd->nic[i])
			json_array_append_new(l, dev_net(rd, i, a->spec.nic_id[i]));
	for (i = 0; l && rd && i < rd->nr_shares; i++)
		if (rd->p9[i])
			json_array_append_new(l, json_pack("{s:s, s:s, s:s, s:I}", "name",
							   rd->p9_names[i], "type", "9p", "tag",
							   rd->share[i].tag, "requests",
							   (json_int_t)rd->p9[i]->requests));
	if (l && rd && rd->rng_dev)
		json_array_append_new(l, json_pack("{s:s, s:s, s:I}", "name", "rng", "type", "rng",
						   "bytes", (json_int_t)rd->rng_dev->bytes));
	if (l && rd && rd->con_dev)
		json_array_append_new(l, json_pack("{s:s, s:s, s:I, s:I}", "name", "console", "type",
						   "console", "rx_bytes", (json_int_t)rd->con_dev->rx_bytes,
						   "tx_bytes", (json_int_t)rd->con_dev->tx_bytes));
	return l;
}

static json_t *vcpus(struct api *a)
{
	json_t *l = json_array();
	int i;

	/* counters a vCPU thread bumps: read without a lock, as a snapshot */
	for (i = 0; l && a->vm && i < a->vm->ncpus; i++) {
		const struct vcpu_stats *s = &a->vm->vcpus[i].stats;

		json_array_append_new(l, json_pack("{s:i, s:I, s:I, s:I}", "id", i,
						   "exits", (json_int_t)__atomic_load_n(&s->exits, __ATOMIC_RELAXED),
						   "io", (json_int_t)__atomic_load_n(&s->io, __ATOMIC_RELAXED),
						   "mmio", (json_int_t)__atomic_load_n(&s->mmio, __ATOMIC_RELAXED)));
	}
	return l;
}

json_t *api_stat(struct api *a)
{
	const char *st = a->state != API_RUNNING ? "Not started" :
			 vm_paused(a->vm) ? "Paused" : "Running";
	double up = a->state == API_RUNNING ? (double)(mono_ns() - a->start_ns) / 1e9 : 0.0;

	return json_pack("{s:s, s:i, s:s, s:i, s:I, s:f, s:o, s:o}", "name", a->name,
			 "pid", (int)getpid(), "state", st, "vcpu_count", a->spec.cpus,
			 "mem_size_mib", (json_int_t)(a->spec.mem >> 20), "uptime_s", up,
			 "vcpus", vcpus(a), "devices", devices(a));
}

/* One metrics line, in Firecracker's layout where nkvm has the counter
 * (utc_timestamp_ms first; per-device groups "block_ID", "net_ID"). */
json_t *api_metrics_line(struct api *a)
{
	unsigned long exits = 0, io = 0, mmio = 0;
	struct timeval tv;
	json_t *o, *l;
	size_t i;
	int c;

	gettimeofday(&tv, NULL);
	o = json_pack("{s:I}", "utc_timestamp_ms",
		      (json_int_t)tv.tv_sec * 1000 + tv.tv_usec / 1000);
	if (!o)
		return NULL;
	if (a->metrics.emit_id)
		json_object_set_new(o, "id", json_string(a->name));
	if (a->metrics.properties)
		json_object_set(o, "properties", a->metrics.properties);
	for (c = 0; a->vm && c < a->vm->ncpus; c++) {
		exits += __atomic_load_n(&a->vm->vcpus[c].stats.exits, __ATOMIC_RELAXED);
		io += __atomic_load_n(&a->vm->vcpus[c].stats.io, __ATOMIC_RELAXED);
		mmio += __atomic_load_n(&a->vm->vcpus[c].stats.mmio, __ATOMIC_RELAXED);
	}
	json_object_set_new(o, "vcpu", json_pack("{s:I, s:I, s:I}", "exits", (json_int_t)exits,
						 "exit_io", (json_int_t)io, "exit_mmio",
						 (json_int_t)mmio));
	json_object_set_new(o, "metrics", json_pack("{s:I}", "dropped_lines",
						    (json_int_t)a->metrics_dropped));
	l = devices(a);
	for (i = 0; l && i < json_array_size(l); i++) {
		json_t *d = json_array_get(l, i);
		const char *type = json_string_value(json_object_get(d, "type"));
		const char *id = json_string_value(json_object_get(d, "drive_id")) ?:
				 json_string_value(json_object_get(d, "iface_id")) ?:
				 json_string_value(json_object_get(d, "name"));
		char key[VM_SPEC_ID_MAX + 16];

		snprintf(key, sizeof(key), "%s_%s", type, id);
		json_object_set(o, key, d);
	}
	json_decref(l);
	return o;
}
