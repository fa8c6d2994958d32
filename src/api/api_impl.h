/* Internal to src/api/: the API's state, shared by its files. */
#ifndef NKVM_API_IMPL_H
#define NKVM_API_IMPL_H

#include <jansson.h>
#include <pthread.h>

#include "nkvm/api.h"
#include "nkvm/ctl_dir.h"

struct vm;

enum api_state {
	API_NOT_STARTED,
	API_STARTING,     /* a start was asked for; the main thread boots */
	API_RUNNING,
	API_STOPPED,      /* the VM ended, or nkvm is exiting */
};

struct api {
	pthread_mutex_t lock;     /* everything below */
	pthread_cond_t cond;      /* state changes */
	char name[CTL_NAME_MAX + 1];
	enum api_state state;
	bool ever_started;
	unsigned start_gen;       /* bumped at each boot's outcome */
	char start_err[256];      /* why the last start failed */
	int start_efd;
	struct vm_spec spec;      /* as configured (booted from a copy) */
	struct api_logger_cfg logger;
	struct api_metrics_cfg metrics;
	int metrics_fd;           /* -1: none */
	unsigned long metrics_dropped;
	uint64_t start_ns;        /* when the vCPUs started */
	/* while RUNNING: the VM and the devices in use (the boot's copy) */
	struct vm *vm;
	struct run_devices *rd;
};

/* A 400 with {"fault_message": msg}. */
void api_fault(struct api_resp *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A 200 with j (taken). */
void api_json(struct api_resp *r, json_t *j);

/* api_run.c: operations on the running VM, a->lock held. */
void api_pause(struct api *a, bool pause, struct api_resp *r);
void api_patch_drive(struct api *a, const char *id, const char *path, struct api_resp *r);
void api_ctrl_alt_del(struct api *a, struct api_resp *r);
json_t *api_stat(struct api *a);
json_t *api_metrics_line(struct api *a);

/* api_sinks.c: the logger and metrics destinations, a->lock held. */
int api_logger_open(struct api *a, struct api_logger_cfg *l, char *err, size_t errlen);
int api_metrics_open(struct api *a, struct api_metrics_cfg *m, char *err, size_t errlen);
/* Write one metrics line; 0, or -errno with err set. */
int api_metrics_flush(struct api *a, char *err, size_t errlen);
void api_sinks_close(struct api *a);

#endif
