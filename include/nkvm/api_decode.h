/*
 * Request bodies of the Firecracker API (and the sections of its config
 * file, which has the same layout) decoded into a struct vm_spec or the
 * API's own settings. Pure: no sockets, no VM; each decoder either applies
 * the whole body or changes nothing and writes one line into err (the
 * 400's fault_message). Unit-tested with malformed input for every schema.
 */
#ifndef NKVM_API_DECODE_H
#define NKVM_API_DECODE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "nkvm/log.h"
#include "nkvm/vm_spec.h"

/* Firecracker's defaults for a VM configured through the API. */
#define API_DEFAULT_MEM_MIB 128

/* PUT /logger */
struct api_logger_cfg {
	char *log_path;           /* malloc'd, NULL: level only */
	enum log_level level;
	bool show_level, show_origin;
};

/* PUT /metrics */
struct api_metrics_cfg {
	char *metrics_path;       /* malloc'd */
	bool emit_id;
	json_t *properties;       /* an object of strings, or NULL */
};

enum api_action { API_INSTANCE_START, API_SEND_CTRL_ALT_DEL, API_FLUSH_METRICS };

/* A spec as the API starts it: Firecracker's 128 MiB, one vCPU, no NIC. */
void api_spec_init(struct vm_spec *s);

/*
 * The decoders into a spec share one signature (api_spec_dec_fn), so the
 * API's router and the config file call them alike; `id` is the {id} of
 * the path, NULL where there is none (the config file's entries and the
 * requests without one).
 */
typedef int (*api_spec_dec_fn)(const json_t *j, const char *id, struct vm_spec *s,
			       char *err, size_t errlen);

/* PUT /boot-source (BootSource; extension: "nkvm_default_args": true puts
 * nkvm's default command line in front of boot_args). */
int api_dec_boot_source(const json_t *j, const char *id, struct vm_spec *s, char *err,
			size_t errlen) __attribute__((warn_unused_result));

/* PUT /machine-config (both fields required) and PATCH (any subset). */
int api_dec_machine_config_put(const json_t *j, const char *id, struct vm_spec *s,
			       char *err, size_t errlen) __attribute__((warn_unused_result));
int api_dec_machine_config_patch(const json_t *j, const char *id, struct vm_spec *s,
				 char *err, size_t errlen) __attribute__((warn_unused_result));

/* PUT /drives/{id}: add or replace drive `id` (NULL: take drive_id from
 * the body, as a config file's "drives" entries do). */
int api_dec_drive(const json_t *j, const char *id, struct vm_spec *s, char *err,
		  size_t errlen) __attribute__((warn_unused_result));

/* PATCH /drives/{id}: *path the new path_on_host (pointing into j; NULL
 * when the body changes nothing). */
int api_dec_partial_drive(const json_t *j, const char *id, const char **path,
			  char *err, size_t errlen) __attribute__((warn_unused_result));

/* PUT /network-interfaces/{id} (id NULL as for drives). Extension:
 * "nkvm_net": "user[,hostfwd=...]" or "tap[,ifname=...]" (nkvm run --net's
 * syntax) instead of host_dev_name. */
int api_dec_net(const json_t *j, const char *id, struct vm_spec *s, char *err,
		size_t errlen) __attribute__((warn_unused_result));

int api_dec_vsock(const json_t *j, const char *id, struct vm_spec *s, char *err,
		  size_t errlen) __attribute__((warn_unused_result));
int api_dec_entropy(const json_t *j, const char *id, struct vm_spec *s, char *err,
		    size_t errlen) __attribute__((warn_unused_result));
int api_dec_logger(const json_t *j, struct api_logger_cfg *l, char *err, size_t errlen)
	__attribute__((warn_unused_result));
int api_dec_metrics(const json_t *j, struct api_metrics_cfg *m, char *err, size_t errlen)
	__attribute__((warn_unused_result));
int api_dec_action(const json_t *j, enum api_action *a, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* PATCH /vm: *pause true for "Paused", false for "Resumed". */
int api_dec_vm_state(const json_t *j, bool *pause, char *err, size_t errlen)
	__attribute__((warn_unused_result));

void api_logger_cfg_free(struct api_logger_cfg *l);
void api_metrics_cfg_free(struct api_metrics_cfg *m);

/* GET /machine-config's body. */
json_t *api_enc_machine_config(const struct vm_spec *s);
/* GET /vm/config's body (FullVmConfiguration). */
json_t *api_enc_vm_config(const struct vm_spec *s, const struct api_logger_cfg *l,
			  const struct api_metrics_cfg *m);

#endif
