/*
 * Configuration of the virtio-vsock device, filled by `nkvm run --vsock
 * cid=N,uds=PATH` (vsock_opts_parse) or by an API call
 * (`PUT /vsock {"guest_cid": N, "uds_path": "PATH"}`: vsock_opts_set).
 * Pure, no I/O: unit-tested and fuzzable.
 */
#ifndef NKVM_VSOCK_OPTS_H
#define NKVM_VSOCK_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VSOCK_HOST_CID    2
#define VSOCK_DEFAULT_CID 3
/* CIDs 0-2 are reserved, 0xffffffff is VMADDR_CID_ANY. */
#define VSOCK_MAX_CID     0xfffffffeULL
/*
 * Longest uds_path: a guest connect to host port P goes to "PATH_P", which
 * must fit sockaddr_un.sun_path (108 bytes with the NUL) for any 32-bit P.
 */
#define VSOCK_UDS_MAX     96

struct vsock_opts {
	bool enabled;
	uint32_t guest_cid;
	char uds_path[VSOCK_UDS_MAX + 1];
};

/*
 * Check and store a configuration: cid in [3, 0xfffffffe], uds a non-empty
 * path of at most VSOCK_UDS_MAX bytes. 0 with o filled and enabled, or
 * -EINVAL with one line in err naming the field.
 */
int vsock_opts_set(struct vsock_opts *o, uint64_t cid, const char *uds,
		   char *err, size_t errlen) __attribute__((warn_unused_result));

/*
 * Parse a --vsock value "cid=N,uds=PATH" (cid optional, default 3; uds
 * required). 0, or -EINVAL with err set (o unchanged).
 */
int vsock_opts_parse(const char *arg, struct vsock_opts *o, char *err,
		     size_t errlen) __attribute__((warn_unused_result));

#endif
