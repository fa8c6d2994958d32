/* The control API's state, routing and configuration endpoints (api.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "api_impl.h"
#include "nkvm/clock.h"
#include "nkvm/log.h"
#include "nkvm/vm.h"

#define MSG_AFTER_START "The requested operation is not supported after starting the microVM."
#define MSG_BEFORE_START "The requested operation is not supported before starting the microVM."

void api_fault(struct api_resp *r, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	json_t *j;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	j = json_pack("{s:s}", "fault_message", msg);
	r->status = 400;
	r->body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
}

void api_json(struct api_resp *r, json_t *j)
{
	r->body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!r->body)
		api_fault(r, "out of memory");
	else
		r->status = 200;
}

struct api *api_new(const char *name, struct vm_spec *spec, struct api_logger_cfg *logger,
		    struct api_metrics_cfg *metrics, char *err, size_t errlen)
{
	struct api *a = calloc(1, sizeof(*a));

	if (!a) {
		errbuf_printf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->cond, NULL);
	snprintf(a->name, sizeof(a->name), "%s", name);
	a->metrics_fd = -1;
	a->logger.level = LOG_INFO;
	a->spec = *spec;
	vm_spec_init(spec);
	a->start_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (a->start_efd < 0) {
		errbuf_printf(err, errlen, "eventfd: %s", strerror(errno));
		api_free(a);
		return NULL;
	}
	if ((logger && logger->log_path && api_logger_open(a, logger, err, errlen) < 0) ||
	    (metrics && metrics->metrics_path && api_metrics_open(a, metrics, err, errlen) < 0)) {
		api_free(a);
		return NULL;
	}
	return a;
}

void api_free(struct api *a)
{
	if (!a)
		return;
	api_sinks_close(a);
	if (a->start_efd >= 0)
		close(a->start_efd);
	vm_spec_free(&a->spec);
	pthread_cond_destroy(&a->cond);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

int api_start_fd(const struct api *a)
{
	return a->start_efd;
}

/* a->lock held */
static void ask_start(struct api *a)
{
	uint64_t one = 1;

	a->state = API_STARTING;
	if (write(a->start_efd, &one, sizeof(one)) < 0)
		log_err("API: cannot wake the main thread: %s", strerror(errno));
}

void api_request_start(struct api *a)
{
	pthread_mutex_lock(&a->lock);
	ask_start(a);
	pthread_mutex_unlock(&a->lock);
}

int api_take_start(struct api *a, struct vm_spec *out)
{
	uint64_t n;
	int r = -EAGAIN;

	if (read(a->start_efd, &n, sizeof(n)) < 0)
		n = 0;
	pthread_mutex_lock(&a->lock);
	if (a->state == API_STARTING)
		r = vm_spec_copy(out, &a->spec);
	pthread_mutex_unlock(&a->lock);
	return r;
}

bool api_was_started(struct api *a)
{
	bool s;

	pthread_mutex_lock(&a->lock);
	s = a->ever_started;
	pthread_mutex_unlock(&a->lock);
	return s;
}

void api_shutdown(struct api *a)
{
	pthread_mutex_lock(&a->lock);
	a->state = API_STOPPED;
	a->vm = NULL;
	a->rd = NULL;
	pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&a->lock);
}

static void hook_started(void *opaque, struct vm *vm, struct run_devices *rd, int status)
{
	struct api *a = opaque;

	pthread_mutex_lock(&a->lock);
	if (a->state == API_STARTING) {
		if (vm) {
			a->state = API_RUNNING;
			a->ever_started = true;
			a->vm = vm;
			a->rd = rd;
			a->start_ns = mono_ns();
		} else {
			/* the configuration stays: the client may fix it and retry */
			a->state = API_NOT_STARTED;
			snprintf(a->start_err, sizeof(a->start_err), "%s",
				 *log_last_error() ? log_last_error() : "the VM could not start");
		}
	}
	a->start_gen++;
	pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&a->lock);
}

static void hook_stopping(void *opaque, struct vm *vm)
{
	struct api *a = opaque;
	char err[128];

	pthread_mutex_lock(&a->lock);
	/* one last metrics line, as Firecracker writes at exit */
	if (a->metrics_fd >= 0 && api_metrics_flush(a, err, sizeof(err)) < 0)
		log_warn("metrics: %s", err);
	a->state = API_STOPPED;
	a->vm = NULL;
	a->rd = NULL;
	pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&a->lock);
}

struct vm_boot_hooks api_boot_hooks(struct api *a)
{
	return (struct vm_boot_hooks){ .started = hook_started, .stopping = hook_stopping,
				       .opaque = a };
}

static const char *state_name(struct api *a)
{
	if (a->state == API_RUNNING)
		return a->vm && vm_paused(a->vm) ? "Paused" : "Running";
	return "Not started";
}

/* InstanceStart: hand the spec to the main thread, wait for the outcome. */
static void instance_start(struct api *a, struct api_resp *r)
{
	unsigned gen;

	if (a->state != API_NOT_STARTED) {
		api_fault(r, MSG_AFTER_START);
		return;
	}
	if (!a->spec.kernel) {
		api_fault(r, "Cannot start microvm without kernel configuration.");
		return;
	}
	log_info("API: InstanceStart");
	gen = a->start_gen;
	ask_start(a);
	while (a->start_gen == gen && a->state == API_STARTING)
		pthread_cond_wait(&a->cond, &a->lock);
	if (a->state == API_RUNNING)
		r->status = 204;
	else if (a->state == API_STOPPED && a->ever_started)
		r->status = 204;	/* it ran and already stopped */
	else
		api_fault(r, "InstanceStart failed: %s",
			  a->state == API_STOPPED ? "nkvm is exiting" : a->start_err);
}

static void action(struct api *a, const json_t *j, struct api_resp *r)
{
	enum api_action act;
	char err[256];

	if (api_dec_action(j, &act, err, sizeof(err)) < 0) {
		api_fault(r, "%s", err);
		return;
	}
	switch (act) {
	case API_INSTANCE_START:
		instance_start(a, r);
		break;
	case API_SEND_CTRL_ALT_DEL:
		if (a->state != API_RUNNING)
			api_fault(r, MSG_BEFORE_START);
		else
			api_ctrl_alt_del(a, r);
		break;
	case API_FLUSH_METRICS:
		if (a->metrics_fd < 0)
			api_fault(r, "The metrics system is not initialized. Configure it with PUT /metrics.");
		else if (api_metrics_flush(a, err, sizeof(err)) < 0)
			api_fault(r, "FlushMetrics: %s", err);
		else
			r->status = 204;
		break;
	}
}

/* A pre-boot PUT: decode into the spec (whole body or nothing). */
static void preboot(struct api *a, const json_t *j, const char *id, struct api_resp *r,
		    api_spec_dec_fn dec)
{
	char err[512];

	if (a->state != API_NOT_STARTED)
		api_fault(r, MSG_AFTER_START);
	else if (dec(j, id, &a->spec, err, sizeof(err)) < 0)
		api_fault(r, "%s", err);
	else
		r->status = 204;
}

static void put_logger(struct api *a, const json_t *j, struct api_resp *r)
{
	struct api_logger_cfg l = { 0 };
	char err[512];

	if (a->state != API_NOT_STARTED)
		api_fault(r, MSG_AFTER_START);
	else if (api_dec_logger(j, &l, err, sizeof(err)) < 0 ||
		 api_logger_open(a, &l, err, sizeof(err)) < 0)
		api_fault(r, "%s", err);
	else
		r->status = 204;
	api_logger_cfg_free(&l);
}

static void put_metrics(struct api *a, const json_t *j, struct api_resp *r)
{
	struct api_metrics_cfg m = { 0 };
	char err[512];

	if (a->state != API_NOT_STARTED)
		api_fault(r, MSG_AFTER_START);
	else if (api_dec_metrics(j, &m, err, sizeof(err)) < 0 ||
		 api_metrics_open(a, &m, err, sizeof(err)) < 0)
		api_fault(r, "%s", err);
	else
		r->status = 204;
	api_metrics_cfg_free(&m);
}

static void patch_drive(struct api *a, const json_t *j, const char *id, struct api_resp *r)
{
	const char *path;
	char err[512];

	if (a->state != API_RUNNING)
		api_fault(r, MSG_BEFORE_START);
	else if (api_dec_partial_drive(j, id, &path, err, sizeof(err)) < 0)
		api_fault(r, "%s", err);
	else if (!path)
		r->status = 204;	/* nothing to change */
	else
		api_patch_drive(a, id, path, r);
}

static void patch_vm(struct api *a, const json_t *j, struct api_resp *r)
{
	char err[256];
	bool pause;

	if (a->state != API_RUNNING)
		api_fault(r, MSG_BEFORE_START);
	else if (api_dec_vm_state(j, &pause, err, sizeof(err)) < 0)
		api_fault(r, "%s", err);
	else
		api_pause(a, pause, r);
}

/* Paths of the Firecracker API nkvm does not implement: a clean 400. */
static bool unsupported(const char *path)
{
	static const char *const prefixes[] = { "/balloon", "/cpu-config", "/pmem/", "/mmds",
		"/serial", "/hotplug/", "/snapshot/", NULL };
	size_t i, n;

	for (i = 0; prefixes[i]; i++) {
		n = strlen(prefixes[i]);
		if (!strncmp(path, prefixes[i], n) &&
		    (prefixes[i][n - 1] == '/' || !path[n] || path[n] == '/'))
			return true;
	}
	return false;
}

/* "/drives/ID" -> "ID" (no further '/'), else NULL. */
static const char *sub_id(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);

	if (strncmp(path, prefix, n) || !path[n] || strchr(path + n, '/'))
		return NULL;
	return path + n;
}

static bool is(const char *m, const char *want)
{
	return !strcmp(m, want);
}

/* The body a PUT/PATCH needs, or a 400. */
static json_t *parse_body(const char *body, size_t len, struct api_resp *r)
{
	json_error_t e;
	json_t *j;

	if (!body || !len) {
		api_fault(r, "The request body is empty: this request needs a JSON object.");
		return NULL;
	}
	j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &e);
	if (!j)
		api_fault(r, "Invalid JSON body: %s at line %d column %d", e.text, e.line, e.column);
	return j;
}

static void route_get(struct api *a, const char *path, struct api_resp *r)
{
	if (!strcmp(path, "/"))
		api_json(r, json_pack("{s:s, s:s, s:s, s:s}", "id", a->name, "state",
				      state_name(a), "vmm_version", NKVM_VERSION, "app_name", "nkvm"));
	else if (!strcmp(path, "/version"))
		api_json(r, json_pack("{s:s}", "firecracker_version", NKVM_VERSION));
	else if (!strcmp(path, "/machine-config"))
		api_json(r, api_enc_machine_config(&a->spec));
	else if (!strcmp(path, "/vm/config"))
		api_json(r, api_enc_vm_config(&a->spec, &a->logger, &a->metrics));
	else if (!strcmp(path, "/nkvm/stat"))
		api_json(r, api_stat(a));
	else
		r->status = 0;
}

static void route_body(struct api *a, const char *m, const char *path, const json_t *j,
		       struct api_resp *r)
{
	const char *id;

	if (is(m, "PUT") && !strcmp(path, "/actions"))
		action(a, j, r);
	else if (is(m, "PUT") && !strcmp(path, "/boot-source"))
		preboot(a, j, NULL, r, api_dec_boot_source);
	else if (is(m, "PUT") && !strcmp(path, "/machine-config"))
		preboot(a, j, NULL, r, api_dec_machine_config_put);
	else if (is(m, "PATCH") && !strcmp(path, "/machine-config"))
		preboot(a, j, NULL, r, api_dec_machine_config_patch);
	else if (is(m, "PUT") && (id = sub_id(path, "/drives/")))
		preboot(a, j, id, r, api_dec_drive);
	else if (is(m, "PATCH") && (id = sub_id(path, "/drives/")))
		patch_drive(a, j, id, r);
	else if (is(m, "PUT") && (id = sub_id(path, "/network-interfaces/")))
		preboot(a, j, id, r, api_dec_net);
	else if (is(m, "PUT") && !strcmp(path, "/vsock"))
		preboot(a, j, NULL, r, api_dec_vsock);
	else if (is(m, "PUT") && !strcmp(path, "/entropy"))
		preboot(a, j, NULL, r, api_dec_entropy);
	else if (is(m, "PUT") && !strcmp(path, "/logger"))
		put_logger(a, j, r);
	else if (is(m, "PUT") && !strcmp(path, "/metrics"))
		put_metrics(a, j, r);
	else if (is(m, "PATCH") && !strcmp(path, "/vm"))
		patch_vm(a, j, r);
	else
		r->status = 0;
}

/* Requests with a body and a route; 0 in r->status when no route. */
static bool has_body_route(const char *m, const char *path)
{
	return (is(m, "PUT") && (!strcmp(path, "/actions") || !strcmp(path, "/boot-source") ||
				 !strcmp(path, "/machine-config") || sub_id(path, "/drives/") ||
				 sub_id(path, "/network-interfaces/") || !strcmp(path, "/vsock") ||
				 !strcmp(path, "/entropy") || !strcmp(path, "/logger") ||
				 !strcmp(path, "/metrics"))) ||
	       (is(m, "PATCH") && (!strcmp(path, "/machine-config") || sub_id(path, "/drives/") ||
				   !strcmp(path, "/vm")));
}

void api_handle(struct api *a, const char *method, const char *url, const char *body,
		size_t len, struct api_resp *r)
{
	char path[256];
	size_t n = strcspn(url, "?#");
	json_t *j;

	r->status = 0;
	r->body = NULL;
	if (n >= sizeof(path) || url[0] != '/') {
		api_fault(r, "Invalid request path.");
		return;
	}
	memcpy(path, url, n);
	path[n] = '\0';
	if (n > 1 && path[n - 1] == '/')
		path[n - 1] = '\0';	/* "/drives/" is "/drives" */
	pthread_mutex_lock(&a->lock);
	if (is(method, "GET")) {
		route_get(a, path, r);
	} else if (has_body_route(method, path)) {
		j = parse_body(body, len, r);
		if (j)
			route_body(a, method, path, j, r);
		json_decref(j);
	}
	pthread_mutex_unlock(&a->lock);
	if (r->status)
		return;
	if (unsupported(path))
		api_fault(r, "%s %s: not supported by nkvm", method, path);
	else if (is(method, "PATCH") && sub_id(path, "/network-interfaces/"))
		api_fault(r, "PATCH %s: not supported by nkvm (it only updates rate limiters, which nkvm has not)",
			  path);
	else
		api_fault(r, "Invalid request method and/or path: %s %s.", method, path);
}
