/*
 * `nkvm run --net SPEC`: one network interface per option. Pure parser, no
 * I/O (fuzzed). SPEC is one of
 *
 *   user[,hostfwd=RULE]...[,restrict=on|off][,mac=MAC]
 *   tap[,ifname=NAME][,mac=MAC]
 *   none
 *
 * RULE is QEMU's `tcp|udp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT`. Unlike
 * QEMU, an empty HOSTADDR means 127.0.0.1, so a forwarded guest port is
 * reachable from this host only unless the user writes 0.0.0.0 (or another
 * address) on purpose. An empty GUESTADDR means the guest's DHCP address
 * 10.0.2.15. The user network is QEMU's default one (see NET_USER_*).
 */
#ifndef NKVM_NET_OPTS_H
#define NKVM_NET_OPTS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NET_MAX_HOSTFWD 16
#define NET_IFNAME_LEN 16        /* IFNAMSIZ, NUL included */

/* The user-mode network, host byte order (QEMU's -netdev user defaults). */
#define NET_USER_NETWORK    0x0a000200u  /* 10.0.2.0 */
#define NET_USER_NETMASK    0xffffff00u  /* /24 */
#define NET_USER_HOST       0x0a000202u  /* 10.0.2.2: gateway, the host */
#define NET_USER_DNS        0x0a000203u  /* 10.0.2.3 */
#define NET_USER_DHCP_START 0x0a00020fu  /* 10.0.2.15: the guest */

enum net_kind { NET_USER, NET_TAP, NET_NONE };

/* One forwarded port; addresses in network byte order, ports in host. */
struct net_hostfwd {
	bool udp;
	struct in_addr host_addr, guest_addr;
	uint16_t host_port, guest_port;
};

struct net_opts {
	enum net_kind kind;
	uint8_t mac[6];
	bool mac_set;                    /* else the caller picks one */
	char ifname[NET_IFNAME_LEN];     /* tap: "" = let the kernel name it */
	bool restrict_;                  /* user: guest reaches only hostfwds */
	struct net_hostfwd fwd[NET_MAX_HOSTFWD];
	unsigned nr_fwd;
};

/*
 * Parse one --net SPEC into *o (written only on success; fields not given
 * are zero/false/""). Returns 0, or -EINVAL with one line in err naming
 * the bad part and the expected form.
 */
int net_opts_parse(const char *spec, struct net_opts *o, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* "tcp:127.0.0.1:2222" (the host side of a rule) into buf, for messages. */
void net_hostfwd_host_str(const struct net_hostfwd *f, char *buf, size_t len);

/* Parse "52:54:00:12:34:56": six hex pairs with ':', neither multicast
 * nor all-zero. 0 or -EINVAL; mac is written only on success. */
int net_parse_mac(const char *s, uint8_t mac[6]) __attribute__((warn_unused_result));

#endif
