/* Unit tests for --net SPEC parsing (net_opts.c), malformed input included. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "nkvm/net_opts.h"
#include "tap.h"

static const char *ip(struct in_addr a)
{
	static char buf[4][INET_ADDRSTRLEN];
	static int k;

	k = (k + 1) % 4;
	inet_ntop(AF_INET, &a, buf[k], sizeof(buf[k]));
	return buf[k];
}

static int parse(const char *spec, struct net_opts *o, char *err, size_t errlen)
{
	err[0] = '\0';
	return net_opts_parse(spec, o, err, errlen);
}

/* spec must fail, leave *o untouched, and name `part` in the message. */
static void bad(const char *spec, const char *part)
{
	struct net_opts o;
	char err[512];
	int r;

	memset(&o, 0xa5, sizeof(o));
	r = parse(spec, &o, err, sizeof(err));
	ok(r == -EINVAL && strstr(err, part) && !strchr(err, '\n') &&
	   ((const unsigned char *)&o)[0] == 0xa5 && o.nr_fwd == 0xa5a5a5a5,
	   "bad \"%s\" -> -EINVAL naming \"%s\"", spec, part);
	if (r != -EINVAL || !strstr(err, part))
		diag("  got r=%d err=\"%s\"", r, err);
}

static void test_kinds(void)
{
	struct net_opts o;
	char err[256];

	is_int(parse("user", &o, err, sizeof(err)), 0, "user");
	ok(o.kind == NET_USER && !o.mac_set && !o.restrict_ && o.nr_fwd == 0 &&
	   !o.ifname[0], "user: defaults");
	is_int(parse("tap", &o, err, sizeof(err)), 0, "tap");
	ok(o.kind == NET_TAP && !o.ifname[0] && !o.mac_set, "tap: no ifname");
	is_int(parse("none", &o, err, sizeof(err)), 0, "none");
	ok(o.kind == NET_NONE, "none: kind");
	is_int(parse("tap,ifname=tap0", &o, err, sizeof(err)), 0, "tap,ifname=tap0");
	is_str(o.ifname, "tap0", "ifname stored");
	is_int(parse("tap,ifname=abcdefghijklmno", &o, err, sizeof(err)), 0,
	       "15-character ifname");
	is_str(o.ifname, "abcdefghijklmno", "15-character ifname stored");
	is_int(parse("tap,ifname=br-lan.10_x,mac=02:00:00:00:00:01", &o, err,
		     sizeof(err)), 0, "tap with ifname and mac");
	ok(o.mac_set && o.mac[0] == 2 && o.mac[5] == 1, "tap mac stored");
	is_int(parse("user,restrict=on", &o, err, sizeof(err)), 0, "restrict=on");
	ok(o.restrict_, "restrict set");
	is_int(parse("user,restrict=off", &o, err, sizeof(err)), 0, "restrict=off");
	ok(!o.restrict_, "restrict clear");
	is_int(parse("user,mac=52:54:00:AB:cd:Ef", &o, err, sizeof(err)), 0,
	       "user mac, mixed case");
	ok(o.mac_set && !memcmp(o.mac, "\x52\x54\x00\xab\xcd\xef", 6), "mac bytes");
}

static void fwd_ok(const char *spec, bool udp, const char *haddr, unsigned hport,
		   const char *gaddr, unsigned gport)
{
	struct net_opts o;
	char err[256];
	int r = parse(spec, &o, err, sizeof(err));

	if (ok(r == 0 && o.kind == NET_USER && o.nr_fwd == 1 && o.fwd[0].udp == udp &&
	       !strcmp(ip(o.fwd[0].host_addr), haddr) && o.fwd[0].host_port == hport &&
	       !strcmp(ip(o.fwd[0].guest_addr), gaddr) && o.fwd[0].guest_port == gport,
	       "%s -> %s %s:%u -> %s:%u", spec, udp ? "udp" : "tcp", haddr, hport, gaddr,
	       gport))
		return;
	if (r)
		diag("  got r=%d err=\"%s\"", r, err);
	else if (o.nr_fwd == 1)
		diag("  got %s:%u -> %s:%u", ip(o.fwd[0].host_addr), o.fwd[0].host_port,
		     ip(o.fwd[0].guest_addr), o.fwd[0].guest_port);
}

static void test_hostfwd(void)
{
	struct net_opts o;
	char err[512], spec[1024], host[64];
	int i, n;

	fwd_ok("user,hostfwd=tcp:127.0.0.1:2222-:22", false, "127.0.0.1", 2222,
	       "10.0.2.15", 22);
	fwd_ok("user,hostfwd=udp::5353-:53", true, "127.0.0.1", 5353, "10.0.2.15", 53);
	fwd_ok("user,hostfwd=tcp::8080-10.0.2.15:80", false, "127.0.0.1", 8080,
	       "10.0.2.15", 80);
	fwd_ok("user,hostfwd=tcp:0.0.0.0:1-10.0.2.100:65535", false, "0.0.0.0", 1,
	       "10.0.2.100", 65535);
	fwd_ok("user,hostfwd=\"tcp:192.168.1.5:65535-10.0.2.1:1\"", false,
	       "192.168.1.5", 65535, "10.0.2.1", 1);

	is_int(parse("user,hostfwd=tcp::2222-:22,hostfwd=udp::2222-:22,restrict=on,"
		     "mac=52:54:00:12:34:57,hostfwd=tcp:10.1.1.1:2222-:23", &o, err,
		     sizeof(err)), 0, "three rules, restrict and mac");
	ok(o.nr_fwd == 3 && !o.fwd[0].udp && o.fwd[1].udp && o.fwd[2].guest_port == 23 &&
	   o.restrict_ && o.mac_set && o.mac[5] == 0x57, "three rules stored in order");
	net_hostfwd_host_str(&o.fwd[0], host, sizeof(host));
	is_str(host, "tcp:127.0.0.1:2222", "host_str tcp");
	net_hostfwd_host_str(&o.fwd[1], host, sizeof(host));
	is_str(host, "udp:127.0.0.1:2222", "host_str udp");

	n = snprintf(spec, sizeof(spec), "user");
	for (i = 0; i < NET_MAX_HOSTFWD; i++)
		n += snprintf(spec + n, sizeof(spec) - n, ",hostfwd=tcp::%d-:22", 1000 + i);
	is_int(parse(spec, &o, err, sizeof(err)), 0, "16 rules");
	is_int(o.nr_fwd, 16, "16 rules stored");
	snprintf(spec + n, sizeof(spec) - n, ",hostfwd=tcp::2000-:22");
	bad(spec, "at most 16");

	bad("user,hostfwd=sctp::1-:2", "'sctp'");
	bad("user,hostfwd=TCP::1-:2", "'TCP'");
	bad("user,hostfwd=:1-:2", "tcp or udp");
	bad("user,hostfwd=tcp", "missing ':' after the protocol");
	bad("user,hostfwd=tcp::2222:22", "missing '-'");
	bad("user,hostfwd=tcp::2222-:22-:23", "more than one '-'");
	bad("user,hostfwd=tcp:2222-:22", "missing ':' before the port");
	bad("user,hostfwd=tcp::2222-22", "'22': missing ':'");
	bad("user,hostfwd=tcp::0-:22", "'0': ports");
	bad("user,hostfwd=tcp::65536-:22", "'65536'");
	bad("user,hostfwd=tcp::abc-:22", "'abc'");
	bad("user,hostfwd=tcp::-:22", "ports are numbers");
	bad("user,hostfwd=tcp::22-:0", "'0'");
	bad("user,hostfwd=tcp::22-:", "ports are numbers");
	bad("user,hostfwd=tcp::+22-:22", "'+22'");
	bad("user,hostfwd=tcp::22 -:22", "'22 '");
	bad("user,hostfwd=tcp:1.2.3:22-:22", "'1.2.3': not an IPv4");
	bad("user,hostfwd=tcp:1.2.3.256:22-:22", "'1.2.3.256'");
	bad("user,hostfwd=tcp:localhost:22-:22", "'localhost'");
	bad("user,hostfwd=tcp:::1:22-:22", "'::1'");
	bad("user,hostfwd=tcp::22-10.0.3.15:22", "must be in 10.0.2.0/24");
	bad("user,hostfwd=tcp::22-10.0.2.2:22", "host (.2)");
	bad("user,hostfwd=tcp::22-10.0.2.3:22", "DNS (.3)");
	bad("user,hostfwd=tcp::22-10.0.2.255:22", "broadcast");
	bad("user,hostfwd=tcp::22-10.0.2.0:22", "network");
	bad("user,hostfwd=tcp::22-x:22", "'x': not an IPv4");
	bad("user,hostfwd=", "hostfwd needs a value");
	bad("user,hostfwd", "hostfwd needs a value");
	bad("user,hostfwd=tcp::2222-:22,hostfwd=tcp:127.0.0.1:2222-:23",
	    "already forwarded (tcp:127.0.0.1:2222)");
	bad("user,hostfwd=udp:0.0.0.0:53-:53,hostfwd=udp::53-:54", "already forwarded");
	bad("user,hostfwd=tcp::1-:1111111111111111111111111111111111111111111111111"
	    "111111111111111111111111111111111111111111111111111111111111111111111111"
	    "1111111111111111", "too long");
	/* the expected form is in every rule message */
	bad("user,hostfwd=tcp::0-:22", "tcp|udp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT");
}

static void test_malformed(void)
{
	struct net_opts o;
	char err[512], big[4096];

	bad("", "empty value");
	is_int(net_opts_parse(NULL, &o, err, sizeof(err)), -EINVAL, "NULL spec");
	bad("slirp", "unknown kind 'slirp'");
	bad("User", "unknown kind 'User'");
	bad("user=1", "'user=1'");
	bad("mac=52:54:00:12:34:56", "the value starts with the kind");
	bad("user,", "trailing ','");
	bad("tap,", "trailing ','");
	bad(",user", "leading");
	bad("user,,restrict=on", "',,'");
	bad("user,=on", "without a key");
	bad("user,mac=\"52:54", "bad quote");
	bad("user,a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,r,s,t,u,v,w,x,y,z,A,B,C,D,E,F",
	    "too many elements");
	bad("user,foo=bar", "unknown key 'foo' (user takes hostfwd=, restrict=, mac=)");
	bad("user,ifname=tap0", "unexpected key 'ifname'");
	bad("tap,hostfwd=tcp::2222-:22", "unexpected key 'hostfwd' (tap takes ifname=, mac=)");
	bad("tap,restrict=on", "unexpected key 'restrict'");
	bad("none,mac=52:54:00:12:34:56", "none takes no options");
	bad("user,restrict", "restrict needs a value");
	bad("user,restrict=maybe", "restrict=maybe: expected on or off");
	bad("user,restrict=on,restrict=off", "restrict given twice");
	bad("user,mac=52:54:00:12:34:56,mac=52:54:00:12:34:57", "mac given twice");
	bad("tap,ifname=a,ifname=b", "ifname given twice");
	bad("user,mac=", "mac needs a value");
	bad("user,mac=53:54:00:12:34:56", "multicast");
	bad("user,mac=ff:ff:ff:ff:ff:ff", "multicast");
	bad("user,mac=00:00:00:00:00:00", "all-zero");
	bad("user,mac=52:54:00:12:34", "six hex pairs");
	bad("user,mac=52:54:00:12:34:56:78", "six hex pairs");
	bad("user,mac=52-54-00-12-34-56", "six hex pairs");
	bad("user,mac=52:54:00:12:34:5g", "six hex pairs");
	bad("user,mac=5:54:00:12:34:56", "six hex pairs");
	bad("user,mac=525400123456", "six hex pairs");
	bad("user,mac=52:54:00:12:34:56 ", "six hex pairs");
	bad("tap,ifname=abcdefghijklmnop", "longer than 15");
	bad("tap,ifname=a/b", "only letters");
	bad("tap,ifname=tap%d", "only letters");
	bad("tap,ifname=a b", "only letters");
	bad("tap,ifname=a:b", "only letters");
	bad("tap,ifname=..", "not a valid interface name");
	bad("tap,ifname=.", "not a valid interface name");
	bad("tap,ifname=", "ifname needs a value");

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "user,", 5);
	bad(big, "too long");

	/* a NULL error buffer is allowed */
	is_int(net_opts_parse("bogus", &o, NULL, 0), -EINVAL, "NULL err buffer");
	/* a short error buffer is truncated, not overrun */
	memset(err, 'x', sizeof(err));
	is_int(net_opts_parse("bogus", &o, err, 8), -EINVAL, "short err buffer");
	ok(strlen(err) == 7 && err[8] == 'x', "message truncated to the buffer");
}

static void test_mac_fn(void)
{
	uint8_t m[6] = { 1, 2, 3, 4, 5, 6 };

	is_int(net_parse_mac("52:54:00:12:34:56", m), 0, "net_parse_mac ok");
	ok(m[0] == 0x52 && m[5] == 0x56, "net_parse_mac bytes");
	is_int(net_parse_mac("01:00:5e:00:00:01", m), -EINVAL, "multicast refused");
	ok(m[0] == 0x52, "output untouched on error");
	is_int(net_parse_mac(NULL, m), -EINVAL, "NULL refused");
	is_int(net_parse_mac("", m), -EINVAL, "empty refused");
}

int main(void)
{
	test_kinds();
	test_hostfwd();
	test_malformed();
	test_mac_fn();
	return done_testing();
}
