/* Tap network back end (see src/net/tap.c). */
#ifndef NKVM_NET_TAP_H
#define NKVM_NET_TAP_H

#include <stddef.h>

#include "nkvm/net_backend.h"
#include "nkvm/net_opts.h"

/*
 * Attach to tap o->ifname, or create one ("" or a name not in use: the
 * kernel removes it when nkvm exits), with IFF_VNET_HDR and IFF_NO_PI.
 * 0, or -errno with one line in err naming the tap and what to do
 * (permission, in use, not a tap, no /dev/net/tun).
 */
int net_tap_create(struct net_backend **out, const struct net_opts *o,
		   char *err, size_t errlen) __attribute__((warn_unused_result));

/* The interface name (the kernel's choice when none was given). */
const char *net_tap_ifname(const struct net_backend *be);

#endif
