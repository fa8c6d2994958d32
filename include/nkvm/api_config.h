/*
 * A Firecracker config file (`nkvm --config-file F`): the JSON layout of
 * Firecracker's, sections "boot-source" (required), "machine-config",
 * "drives", "network-interfaces", "vsock", "entropy", "logger", "metrics",
 * each decoded by the same code as the matching API request.
 */
#ifndef NKVM_API_CONFIG_H
#define NKVM_API_CONFIG_H

#include <stddef.h>

#include "nkvm/api_decode.h"

/* Decode text into s (from api_spec_init), l and m. 0, or -EINVAL with
 * one line in err naming the section and the field. */
int api_config_parse(const char *text, size_t len, struct vm_spec *s,
		     struct api_logger_cfg *l, struct api_metrics_cfg *m, char *err,
		     size_t errlen) __attribute__((warn_unused_result));

/* The same from a file (at most 1 MiB). */
int api_config_load(const char *path, struct vm_spec *s, struct api_logger_cfg *l,
		    struct api_metrics_cfg *m, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif
