/* --vsock option parsing and checks (see vsock_opts.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nkvm/log.h"
#include "nkvm/opts.h"
#include "nkvm/vsock_opts.h"

int vsock_opts_set(struct vsock_opts *o, uint64_t cid, const char *uds,
		   char *err, size_t errlen)
{
	if (cid < 3 || cid > VSOCK_MAX_CID) {
		errbuf_printf(err, errlen, "vsock guest cid %llu: must be from 3 to %llu",
			      (unsigned long long)cid, VSOCK_MAX_CID);
		return -EINVAL;
	}
	if (!uds || !*uds) {
		errbuf_printf(err, errlen, "vsock: no unix socket path (uds=PATH) given");
		return -EINVAL;
	}
	if (strlen(uds) > VSOCK_UDS_MAX) {
		errbuf_printf(err, errlen, "vsock uds path '%s': longer than %d bytes",
			      uds, VSOCK_UDS_MAX);
		return -EINVAL;
	}
	o->enabled = true;
	o->guest_cid = (uint32_t)cid;
	strcpy(o->uds_path, uds);
	return 0;
}

int vsock_opts_parse(const char *arg, struct vsock_opts *o, char *err,
		     size_t errlen)
{
	struct opts_kv kv[OPTS_KV_MAX];
	uint64_t cid = VSOCK_DEFAULT_CID;
	const char *uds = NULL;
	char *copy = strdup(arg);
	int n, i, r = 0;

	if (!copy)
		return -ENOMEM;
	n = opts_kv_split(copy, kv, OPTS_KV_MAX);
	if (n <= 0) {
		errbuf_printf(err, errlen, "--vsock '%s': expected cid=N,uds=PATH", arg);
		r = -EINVAL;
	}
	for (i = 0; i < n && !r; i++) {
		if (!kv[i].val || !*kv[i].val) {
			errbuf_printf(err, errlen, "--vsock %s: needs a value (cid=N,uds=PATH)",
				      kv[i].key);
			r = -EINVAL;
		} else if (!strcmp(kv[i].key, "cid")) {
			if (opts_parse_uint(kv[i].val, 0, UINT64_MAX, &cid) < 0) {
				errbuf_printf(err, errlen, "--vsock cid='%s': not a number",
					      kv[i].val);
				r = -EINVAL;
			}
		} else if (!strcmp(kv[i].key, "uds")) {
			uds = kv[i].val;
		} else {
			errbuf_printf(err, errlen, "--vsock: unknown key '%s' (cid, uds)",
				      kv[i].key);
			r = -EINVAL;
		}
	}
	if (!r)
		r = vsock_opts_set(o, cid, uds, err, errlen);
	free(copy);
	return r;
}
