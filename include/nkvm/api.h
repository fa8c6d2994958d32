/*
 * The control API: Firecracker's REST API (paths, methods, JSON fields,
 * status codes, {"fault_message": ...} errors) plus nkvm's extensions
 * (GET /nkvm/stat). This is the transport-free part: api_handle() takes a
 * method, a path and a body and returns a status and a JSON body, so it
 * is unit-tested without sockets; api_server.h puts it on a unix socket.
 *
 * Threads: api_handle() runs on the API server's thread; the VM is booted
 * by the main thread (vmm_main.c), which asks api_take_start() for the
 * spec once InstanceStart (or `nkvm run`) asks for a start, and tells the
 * API how the boot went through api_boot_hooks(). One mutex guards the
 * API's state; nothing here is taken by a vCPU thread, and no call made
 * under it waits for the guest.
 */
#ifndef NKVM_API_H
#define NKVM_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nkvm/api_decode.h"
#include "nkvm/vm_boot.h"
#include "nkvm/vm_spec.h"

/* Largest request body the server accepts (413 beyond). */
#define API_BODY_MAX (64 * 1024)
/* What Kata's firecracker back end and other Firecracker clients see as
 * the version (GET /version, `nkvm --version --compat firecracker`). */
#define API_FC_COMPAT_VERSION "1.7.0"

struct api;

struct api_resp {
	unsigned status;          /* 200, 204, 400 */
	char *body;               /* malloc'd JSON, NULL for 204 */
};

/*
 * An API for VM `name` described by *spec (moved in: *spec is left empty)
 * with the logger and metrics settings of a config file (moved in too;
 * may be NULL). Opens their files: NULL with one line in err on failure.
 */
struct api *api_new(const char *name, struct vm_spec *spec, struct api_logger_cfg *logger,
		    struct api_metrics_cfg *metrics, char *err, size_t errlen);
void api_free(struct api *a);

/* Serve one request (any thread). url may carry a query string. */
void api_handle(struct api *a, const char *method, const char *url, const char *body,
		size_t len, struct api_resp *r);

/* An eventfd that becomes readable when a start is requested. */
int api_start_fd(const struct api *a);

/* Ask for a start now (nkvm run, a config file): as InstanceStart would,
 * without waiting for the result. */
void api_request_start(struct api *a);

/* Main thread, after api_start_fd fired: a copy of the spec to boot.
 * 0, -EAGAIN (no start requested) or -ENOMEM. */
int api_take_start(struct api *a, struct vm_spec *out) __attribute__((warn_unused_result));

/* The hooks vm_boot() reports to. */
struct vm_boot_hooks api_boot_hooks(struct api *a);

/* True once a boot reached the vCPUs. */
bool api_was_started(struct api *a);

/* No more starts; wakes a request waiting for one (before the server
 * stops, so its thread can finish). */
void api_shutdown(struct api *a);

#endif
