/* User-mode networking back end on libslirp (see src/net/slirp.c). */
#ifndef NKVM_NET_SLIRP_H
#define NKVM_NET_SLIRP_H

#include <stddef.h>

#include "nkvm/net_backend.h"
#include "nkvm/net_opts.h"

/*
 * A user-mode network (QEMU's 10.0.2.0/24: gateway 10.0.2.2, DNS 10.0.2.3,
 * the guest gets 10.0.2.15 by DHCP) with o's hostfwd rules bound now, so a
 * port in use fails here. No thread runs until ops->start(). 0, or -errno
 * with one line in err ("hostfwd tcp:127.0.0.1:2222: address already in
 * use"); nothing is left open on failure.
 */
int net_slirp_create(struct net_backend **out, const struct net_opts *o,
		     char *err, size_t errlen) __attribute__((warn_unused_result));

/* Counters for tests and stats; read them after destroy()'s join or racy. */
struct net_slirp_stats {
	unsigned long tx_frames;      /* handed to slirp_input */
	unsigned long tx_dropped;     /* send() refused: queue full / bad frame */
	unsigned long rx_frames;      /* taken by deliver() */
	unsigned long rx_dropped;     /* backlog full or deliver() refused */
	unsigned long rx_backlogged;  /* kept after deliver() said -EAGAIN */
};

/* A snapshot of the counters (approximate while the thread runs). */
void net_slirp_get_stats(const struct net_backend *be, struct net_slirp_stats *s);

#endif
