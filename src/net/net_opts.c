/*
 * --net SPEC parsing (see net_opts.h). Strict on purpose, like opts.c: a
 * typo is an error naming the bad part and the expected form, never a
 * silently different network. The output struct is written only on
 * success, so a fuzzer or a caller never sees half a configuration.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "nkvm/log.h"
#include "nkvm/net_opts.h"
#include "nkvm/opts.h"

#define RULE_FORM "tcp|udp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT"
#define SPEC_FORM "user[,hostfwd=RULE]...[,restrict=on|off][,mac=MAC], " \
		  "tap[,ifname=NAME][,mac=MAC] or none"
#define SPEC_MAX 2048   /* 16 rules of ~50 characters fit easily */
#define RULE_MAX 128

static const char *const kind_name[] = {
	[NET_USER] = "user", [NET_TAP] = "tap", [NET_NONE] = "none",
};

/* What each kind accepts, for "unknown key" messages. */
static const char *const kind_keys[] = {
	[NET_USER] = "hostfwd=, restrict=, mac=",
	[NET_TAP] = "ifname=, mac=",
	[NET_NONE] = "no options",
};

struct key_def {
	const char *name;
	unsigned kinds;          /* 1 << enum net_kind */
	const char *form;
};

static const struct key_def key_defs[] = {
	{ "hostfwd", 1u << NET_USER, "hostfwd=" RULE_FORM },
	{ "restrict", 1u << NET_USER, "restrict=on|off" },
	{ "mac", 1u << NET_USER | 1u << NET_TAP, "mac=52:54:00:12:34:56" },
	{ "ifname", 1u << NET_TAP, "ifname=NAME" },
};

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* NULL when s is a usable unicast MAC (stored in mac), else why not. */
static const char *mac_problem(const char *s, uint8_t mac[6])
{
	uint8_t m[6];
	int i, hi, lo;

	for (i = 0; i < 6; i++) {
		/* stops at the NUL: hex_digit('\0') fails before reading on */
		hi = hex_digit(s[3 * i]);
		lo = hi < 0 ? -1 : hex_digit(s[3 * i + 1]);
		if (lo < 0 || s[3 * i + 2] != (i < 5 ? ':' : '\0'))
			return "expected six hex pairs separated by ':'";
		m[i] = (uint8_t)(hi << 4 | lo);
	}
	if (m[0] & 1)
		return "a multicast address (bit 0 of the first byte is set)";
	if (!(m[0] | m[1] | m[2] | m[3] | m[4] | m[5]))
		return "the all-zero address";
	memcpy(mac, m, 6);
	return NULL;
}

/* "52:54:00:12:34:56" -> mac; unicast and non-zero only. */
int net_parse_mac(const char *s, uint8_t mac[6])
{
	if (!s)
		return -EINVAL;
	return mac_problem(s, mac) ? -EINVAL : 0;
}

/* "tcp:127.0.0.1:2222": what a bind error message names. */
void net_hostfwd_host_str(const struct net_hostfwd *f, char *buf, size_t len)
{
	char a[INET_ADDRSTRLEN];

	if (!inet_ntop(AF_INET, &f->host_addr, a, sizeof(a)))
		strcpy(a, "?");
	snprintf(buf, len, "%s:%s:%u", f->udp ? "udp" : "tcp", a, f->host_port);
}

/* Tap names: what the kernel takes, minus '%' templates and odd bytes. */
static const char *ifname_problem(const char *s)
{
	size_t len = strlen(s);
	const char *p;

	if (len >= NET_IFNAME_LEN)
		return "longer than 15 characters";
	if (!strcmp(s, ".") || !strcmp(s, ".."))
		return "not a valid interface name";
	for (p = s; *p; p++) {
		char c = *p;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return "only letters, digits, '.', '_' and '-' are allowed "
			       "(leave ifname out to let the kernel pick a name)";
	}
	return NULL;
}

/*
 * One side of a rule, "[ADDR]:PORT", in place. Empty ADDR -> def (network
 * order). NULL on success, else why not (naming the part in bad).
 */
static const char *endpoint_parse(char *s, uint32_t def, struct in_addr *addr,
				  uint16_t *port, const char **bad)
{
	char *colon = strrchr(s, ':');
	uint64_t v;

	*bad = s;
	if (!colon)
		return "missing ':' before the port";
	*colon = '\0';
	if (!*s) {
		addr->s_addr = def;
	} else if (inet_pton(AF_INET, s, addr) != 1) {
		return "not an IPv4 address";
	}
	*bad = colon + 1;
	if (opts_parse_uint(colon + 1, 1, 65535, &v) < 0)
		return "ports are numbers from 1 to 65535";
	*port = (uint16_t)v;
	return NULL;
}

/* The guest side must be a guest of 10.0.2.0/24, not slirp's own hosts. */
static bool guest_addr_ok(struct in_addr a)
{
	uint32_t h = ntohl(a.s_addr), low = h & ~NET_USER_NETMASK;

	return (h & NET_USER_NETMASK) == NET_USER_NETWORK && low != 0 &&
	       low != 255 && h != NET_USER_HOST && h != NET_USER_DNS;
}

static int rule_parse(const char *rule, struct net_hostfwd *f, char *err,
		      size_t errlen)
{
	char buf[RULE_MAX], *host, *guest, *p;
	const char *why, *bad = rule;

	if (strlen(rule) >= sizeof(buf)) {
		why = "too long";
		goto fail;
	}
	strcpy(buf, rule);
	memset(f, 0, sizeof(*f));
	p = strchr(buf, ':');
	if (!p) {
		why = "missing ':' after the protocol";
		goto fail;
	}
	*p = '\0';
	if (!strcmp(buf, "tcp") || !strcmp(buf, "udp")) {
		f->udp = buf[0] == 'u';
	} else {
		why = "the protocol is tcp or udp";
		bad = buf;
		goto fail;
	}
	host = p + 1;
	p = strchr(host, '-');
	if (!p) {
		why = "missing '-' between the host and the guest side";
		goto fail;
	}
	*p = '\0';
	guest = p + 1;
	if (strchr(guest, '-')) {
		why = "more than one '-'";
		goto fail;
	}
	why = endpoint_parse(host, htonl(INADDR_LOOPBACK), &f->host_addr,
			     &f->host_port, &bad);
	if (why)
		goto fail;
	why = endpoint_parse(guest, htonl(NET_USER_DHCP_START), &f->guest_addr,
			     &f->guest_port, &bad);
	if (why)
		goto fail;
	if (!guest_addr_ok(f->guest_addr)) {
		why = "the guest address must be in 10.0.2.0/24 and not the "
		      "network, broadcast, host (.2) or DNS (.3) address";
		bad = guest;
		goto fail;
	}
	return 0;
fail:
	if (bad == rule)
		errbuf_printf(err, errlen, "--net: hostfwd=%s: %s (expected %s)",
			      rule, why, RULE_FORM);
	else
		errbuf_printf(err, errlen, "--net: hostfwd=%s: '%s': %s (expected %s)",
			      rule, bad, why, RULE_FORM);
	return -EINVAL;
}

/* Two rules that would bind the same host socket: the second would fail
 * (tcp) or silently share the port (udp, SO_REUSEADDR in libslirp). */
static bool rules_clash(const struct net_hostfwd *a, const struct net_hostfwd *b)
{
	return a->udp == b->udp && a->host_port == b->host_port &&
	       (a->host_addr.s_addr == b->host_addr.s_addr ||
		a->host_addr.s_addr == htonl(INADDR_ANY) ||
		b->host_addr.s_addr == htonl(INADDR_ANY));
}

static int add_rule(struct net_opts *n, const char *rule, char *err, size_t errlen)
{
	struct net_hostfwd f;
	char host[48];
	unsigned i;

	if (n->nr_fwd >= NET_MAX_HOSTFWD) {
		errbuf_printf(err, errlen, "--net: hostfwd=%s: at most %d hostfwd rules "
			      "per interface", rule, NET_MAX_HOSTFWD);
		return -EINVAL;
	}
	if (rule_parse(rule, &f, err, errlen) < 0)
		return -EINVAL;
	for (i = 0; i < n->nr_fwd; i++) {
		if (rules_clash(&f, &n->fwd[i])) {
			net_hostfwd_host_str(&n->fwd[i], host, sizeof(host));
			errbuf_printf(err, errlen, "--net: hostfwd=%s: the host port is "
				      "already forwarded (%s)", rule, host);
			return -EINVAL;
		}
	}
	n->fwd[n->nr_fwd++] = f;
	return 0;
}

/* Why opts_kv_split refused spec, for the message. */
static const char *split_problem(const char *spec)
{
	size_t len = strlen(spec);
	int elems = 1;
	const char *p;

	if (strchr(spec, '"'))
		return "a bad quote (a quoted value is key=\"...\" with no other quote)";
	if (spec[0] == ',' || spec[len - 1] == ',' || strstr(spec, ",,"))
		return "an empty element (a leading or trailing ',' or ',,')";
	for (p = spec; *p; p++)
		elems += *p == ',';
	if (elems > OPTS_KV_MAX)
		return "too many elements";
	return "an element without a key ('=value')";
}

static const struct key_def *key_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(key_defs) / sizeof(key_defs[0]); i++)
		if (!strcmp(key_defs[i].name, name))
			return &key_defs[i];
	return NULL;
}

static int kind_parse(const struct opts_kv *kv, enum net_kind *kind, char *err,
		      size_t errlen)
{
	unsigned i;

	if (kv->val) {
		errbuf_printf(err, errlen, "--net: '%s=%s': the value starts with the kind "
			      "alone (expected %s)", kv->key, kv->val, SPEC_FORM);
		return -EINVAL;
	}
	for (i = 0; i < sizeof(kind_name) / sizeof(kind_name[0]); i++) {
		if (!strcmp(kv->key, kind_name[i])) {
			*kind = (enum net_kind)i;
			return 0;
		}
	}
	errbuf_printf(err, errlen, "--net: unknown kind '%s' (expected %s)", kv->key,
		      SPEC_FORM);
	return -EINVAL;
}

/* One key=value after the kind; *seen tracks the keys given once. */
static int key_parse(struct net_opts *n, const struct opts_kv *kv, unsigned *seen,
		     char *err, size_t errlen)
{
	const char *kn = kind_name[n->kind], *why;
	const struct key_def *k = key_find(kv->key);
	unsigned bit;
	int b;

	if (!k || !(k->kinds & 1u << n->kind)) {
		errbuf_printf(err, errlen, "--net %s: %s key '%s' (%s takes %s)", kn,
			      k ? "unexpected" : "unknown", kv->key, kn, kind_keys[n->kind]);
		return -EINVAL;
	}
	if (!kv->val || !*kv->val) {
		errbuf_printf(err, errlen, "--net %s: %s needs a value (%s)", kn, k->name,
			      k->form);
		return -EINVAL;
	}
	if (!strcmp(k->name, "hostfwd"))
		return add_rule(n, kv->val, err, errlen);
	bit = 1u << (unsigned)(k - key_defs);
	if (*seen & bit) {
		errbuf_printf(err, errlen, "--net %s: %s given twice", kn, k->name);
		return -EINVAL;
	}
	*seen |= bit;
	if (!strcmp(k->name, "restrict")) {
		b = opts_parse_bool(kv->val);
		if (b < 0) {
			errbuf_printf(err, errlen, "--net %s: restrict=%s: expected on or off",
				      kn, kv->val);
			return -EINVAL;
		}
		n->restrict_ = b;
		return 0;
	}
	if (!strcmp(k->name, "mac")) {
		why = mac_problem(kv->val, n->mac);
		if (why) {
			errbuf_printf(err, errlen, "--net %s: mac=%s: %s (expected %s)", kn,
				      kv->val, why, k->form);
			return -EINVAL;
		}
		n->mac_set = true;
		return 0;
	}
	/* ifname */
	why = ifname_problem(kv->val);
	if (why) {
		errbuf_printf(err, errlen, "--net tap: ifname=%s: %s", kv->val, why);
		return -EINVAL;
	}
	strcpy(n->ifname, kv->val);
	return 0;
}

/*
 * Parse one --net value. The first element is the kind (no value); then
 * the kind's keys, hostfwd repeatable, the others at most once.
 */
int net_opts_parse(const char *spec, struct net_opts *o, char *err, size_t errlen)
{
	struct opts_kv kv[OPTS_KV_MAX];
	char buf[SPEC_MAX];
	struct net_opts n;
	unsigned seen = 0;
	int nkv, i;

	memset(&n, 0, sizeof(n));
	if (!spec || !*spec) {
		errbuf_printf(err, errlen, "--net: empty value (expected %s)", SPEC_FORM);
		return -EINVAL;
	}
	if (strlen(spec) >= sizeof(buf)) {
		errbuf_printf(err, errlen, "--net: value too long (at most %d characters)",
			      SPEC_MAX - 1);
		return -EINVAL;
	}
	strcpy(buf, spec);
	nkv = opts_kv_split(buf, kv, OPTS_KV_MAX);
	if (nkv <= 0) {
		errbuf_printf(err, errlen, "--net '%s': malformed: %s (expected %s)", spec,
			      split_problem(spec), SPEC_FORM);
		return -EINVAL;
	}
	if (kind_parse(&kv[0], &n.kind, err, errlen) < 0)
		return -EINVAL;
	for (i = 1; i < nkv; i++)
		if (key_parse(&n, &kv[i], &seen, err, errlen) < 0)
			return -EINVAL;
	*o = n;
	return 0;
}
