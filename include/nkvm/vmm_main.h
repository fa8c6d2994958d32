/*
 * The life of an nkvm process around one VM: its control socket and API
 * server, waiting for InstanceStart (nkvm --api-sock) or starting at once
 * (nkvm run, nkvm --config-file), the boot (vm_boot.h), and cleaning up on
 * every exit path.
 */
#ifndef NKVM_VMM_MAIN_H
#define NKVM_VMM_MAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "nkvm/api_decode.h"
#include "nkvm/vm_spec.h"

struct vmm_opts {
	const char *name;         /* --name / --id; NULL: "vm-PID" */
	const char *api_sock;     /* NULL: the per-user control socket */
	bool no_api;              /* no control socket at all */
	bool wait_start;          /* boot on InstanceStart, not at once */
	/* a config file's logger and metrics sections (may be NULL) */
	struct api_logger_cfg *logger;
	struct api_metrics_cfg *metrics;
};

/* Serve the API and boot *spec (moved in). Returns nkvm's exit status. */
int vmm_main(struct vm_spec *spec, const struct vmm_opts *o, uint64_t t0);

#endif
