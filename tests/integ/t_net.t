#!/bin/bash
# t_net.t: virtio-net seen from a real Linux guest (the default guest, whose
# init configures every ethN by DHCP before its ready marker).
#   U: default user-mode networking plus two hostfwd rules: the guest gets
#      10.0.2.15 by DHCP and fetches 1 MiB from an HTTP server on this
#      host's loopback (through 10.0.2.2); the host fetches 1 MB from the
#      guest's httpd (made with seq: /dev/urandom runs in the emulated
#      guest kernel, far too slow here) and sends it 1 MiB through the
#      forwarded ports; all checksummed. It pings 10.0.2.2 (answered by
#      libslirp itself) and this host's own address (through an ICMP
#      datagram socket: works only when net.ipv4.ping_group_range holds
#      nkvm's group; otherwise libslirp falls back to a probe of its own,
#      whose outcome depends on the host: reported, not checked, then).
#   T: in a network namespace this test creates (root only), three NICs: an
#      existing tap (eth0, 192.168.77.2/24, the namespace's side .1), a user
#      NIC (eth1, DHCP) and a tap nkvm creates itself (eth2). The guest and
#      the namespace ping each other and move 1 MiB over the tap; the guest
#      fetches through the user NIC too, and pings an address of the
#      namespace through it (the namespace allows ICMP datagram sockets,
#      so libslirp's real ICMP path is taken). After nkvm exits, the tap it
#      made is gone and the existing one is still there.
# Then, without booting: a tap name that is not a tap, and a hostfwd port in
# use, are refused (exit 2) leaving nothing behind.
# U and T boot in parallel. Prints TAP for prove; see lib-linux.sh.

# shellcheck disable=SC2016 # $(..) is for the guest
# shellcheck source=tests/integ/lib-linux.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib-linux.sh"

if ! command -v python3 >/dev/null || ! command -v curl >/dev/null; then
	echo "1..0 # SKIP python3 and curl are needed"
	exit 0
fi
netns=1
if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null || ! [ -c /dev/net/tun ]; then
	netns=0
fi

planned=31
echo "1..$planned"

NS=nkvm-t$$
PIDS=()		# helpers to kill at exit
BOOTS=()	# boot subshells: their timeout(1) children forward TERM to nkvm
cleanup() {
	local p
	for p in "${BOOTS[@]}"; do pkill -TERM -P "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	[ "$netns" -eq 1 ] && ip netns del "$NS" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' TERM INT HUP

# free_port: a TCP port on 127.0.0.1 nobody listens on now.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
md5() { md5sum <"$1" | cut -d' ' -f1; }
# send_to PORT FILE: write FILE to 127.0.0.1:PORT and close.
send_to() {
	python3 - "$1" "$2" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=120)
with open(sys.argv[2], "rb") as f:
    s.sendall(f.read())
s.close()
EOF
}

mkdir -p "$T/www" "$T/nswww"
head -c 1M /dev/urandom >"$T/www/blob"
head -c 1M /dev/urandom >"$T/up"
head -c 1M /dev/urandom >"$T/nswww/blob"
HTTP=$(free_port)
python3 -m http.server --bind 127.0.0.1 --directory "$T/www" "$HTTP" >/dev/null 2>&1 &
PIDS+=($!)
FWD_HTTP=$(free_port)
FWD_NC=$(free_port)
# a non-loopback address of this host, and whether this user may open
# ICMP datagram sockets (what libslirp forwards a guest's ping with)
HOST_IP=$(ip -4 -o addr show scope global 2>/dev/null | awk '{ sub("/.*", "", $4); print $4; exit }')
icmp_ok=0
python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP)' \
	2>/dev/null && icmp_ok=1

# --- U: user-mode networking --------------------------------------------
# The guest: fetch from the host, serve a file, take an upload, report.
boot U "" -m 256M \
	--net "user,hostfwd=tcp::$FWD_HTTP-:8080,hostfwd=tcp:127.0.0.1:$FWD_NC-10.0.2.15:8081" \
	-p "nkvm.cmd=\"wget -q -O /tmp/blob http://10.0.2.2:$HTTP/blob && md5sum /tmp/blob; ping -c 2 -W 5 10.0.2.2 >/dev/null && echo ping-gw-ok; ping -c 1 -W 5 ${HOST_IP:-10.0.2.2} >/dev/null && echo ping-host-ok || echo ping-host-none; mkdir /www; seq 1 170000 >/www/g; md5sum /www/g; httpd -p 8080 -h /www; echo guest-listening; nc -l -p 8081 >/tmp/up; md5sum /tmp/up; exit 6\"" &
bootU=$!
BOOTS+=($!)
(
	wait_console U '^guest-listening$' || exit 0
	curl -s -o "$T/from-guest" "http://127.0.0.1:$FWD_HTTP/g"
	send_to "$FWD_NC" "$T/up"
) &
PIDS+=($!)

# --- T: tap and user NICs in a network namespace -----------------------
if [ "$netns" -eq 1 ] && ip netns add "$NS" 2>/dev/null; then
	nse() { ip netns exec "$NS" "$@"; }
	nse ip link set lo up
	nse ip tuntap add dev nkt0 mode tap vnet_hdr
	nse ip addr add 192.168.77.1/24 dev nkt0
	nse ip link set nkt0 up
	# reached through the user NIC: libslirp pings it with an ICMP
	# datagram socket, which this namespace allows
	nse ip addr add 192.168.78.1/32 dev lo
	nse sysctl -qw net.ipv4.ping_group_range="0 2147483647"
	NS_HTTP=$(free_port)
	# not through nse: $! must be the server itself (ip netns exec execs
	# it), not a subshell whose kill would leave the server running
	ip netns exec "$NS" python3 -m http.server --bind 0.0.0.0 --directory "$T/nswww" \
		"$NS_HTTP" >/dev/null 2>&1 &
	PIDS+=($!)
	# boot() runs nkvm through $NKVM: wrap it to enter the namespace
	cat >"$T/nkvm-ns" <<EOF
#!/bin/sh
exec ip netns exec $NS "$NKVM" "\$@"
EOF
	chmod +x "$T/nkvm-ns"
	(
		NKVM=$T/nkvm-ns
		boot T "" -m 256M --net tap,ifname=nkt0 --net user --net tap \
			-p "nkvm.cmd=\"ip addr add 192.168.77.2/24 dev eth0; ping -c 2 -W 5 192.168.77.1 >/dev/null && echo ping-ok; wget -q -O /tmp/a http://192.168.77.1:$NS_HTTP/blob && md5sum /tmp/a; wget -q -O /tmp/b http://10.0.2.2:$NS_HTTP/blob && md5sum /tmp/b; ping -c 2 -W 5 192.168.78.1 >/dev/null && echo ping-user-ok; echo nics: \$(ls /sys/class/net); echo guest-pinged-wait; sleep 600\""
	) &
	bootT=$!
	BOOTS+=($!)
	(
		wait_console T '^guest-pinged-wait$' || exit 0
		# busybox: iputils ping is not installed everywhere
		nse busybox ping -c 2 -W 5 192.168.77.2 >/dev/null 2>&1
		echo $? >"$T/ping.rc"
		nse ip -o link show >"$T/links-during"
		pkill -INT -f "net tap,ifname=nkt0 --net user --net tap" || true
	) &
	PIDS+=($!)
else
	netns=0
fi

wait "$bootU"
[ "$netns" -eq 1 ] && wait "$bootT"

# U ---------------------------------------------------------------------
start U 6
check "boot U: the guest got 10.0.2.15 by DHCP" has U '^nkvm-init: eth0 10\.0\.2\.15/24$'
check "boot U: the guest fetched 1 MiB from the host's loopback intact" \
	has U "^$(md5 "$T/www/blob")  /tmp/blob\$"
guest_md5=$(tr -d '\r' <"$T/U.out" | awk '$2 == "/www/g" { print $1 }')
ok "$([ -n "$guest_md5" ] && [ -f "$T/from-guest" ] && [ "$(md5 "$T/from-guest")" = "$guest_md5" ]; echo $?)" \
	"boot U: the host fetched 1 MB from the guest's httpd through hostfwd intact"
check "boot U: 1 MiB sent through the second hostfwd rule arrived intact" \
	has U "^$(md5 "$T/up")  /tmp/up\$"
check "boot U: the guest pings 10.0.2.2 (libslirp answers)" has U '^ping-gw-ok$'
if [ -z "$HOST_IP" ]; then
	ok 0 "boot U: ping to this host # SKIP no non-loopback IPv4 address"
elif [ "$icmp_ok" -eq 1 ]; then
	check "boot U: the guest pings $HOST_IP (an ICMP datagram socket)" has U '^ping-host-ok$'
else
	# Without ICMP datagram sockets libslirp falls back on its own (a UDP
	# probe; whether an answer comes back depends on the host), so there
	# is nothing to assert; the namespace boot (T) tests the real path.
	ok 0 "boot U: ping to $HOST_IP # SKIP ICMP datagram sockets not allowed here (ping_group_range $(tr '\t' ' ' </proc/sys/net/ipv4/ping_group_range)); libslirp's fallback: $(tr -d '\r' <"$T/U.out" | grep -m1 -oE '^ping-host-(ok|none)$' || echo no-answer-line)"
fi
finish U 6
python3 -c 'import socket, sys; s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1])))' "$FWD_HTTP" 2>/dev/null
ok $? "boot U: the forwarded port is free again after nkvm exits"

# T ---------------------------------------------------------------------
if [ "$netns" -eq 1 ]; then
	start T 130
	check "boot T: the guest has three NICs" has T '^nics: eth0 eth1 eth2 lo( sit0)?$'
	check "boot T: the guest pings the namespace over the tap" has T '^ping-ok$'
	ok "$(cat "$T/ping.rc" 2>/dev/null || echo 1)" "boot T: the namespace pings the guest over the tap"
	check "boot T: 1 MiB over the tap intact" has T "^$(md5 "$T/nswww/blob")  /tmp/a\$"
	check "boot T: 1 MiB over the user NIC (second NIC) intact" has T "^$(md5 "$T/nswww/blob")  /tmp/b\$"
	check "boot T: the user NIC got its address by DHCP" has T '^nkvm-init: eth1 10\.0\.2\.15/24$'
	check "boot T: the guest pings the namespace through the user NIC (ICMP socket)" has T '^ping-user-ok$'
	ntaps=$(grep -c ': tap[0-9]*:' "$T/links-during" 2>/dev/null)
	ok $((ntaps != 1)) "boot T: nkvm created one tap while running (found ${ntaps:-0})"
	ok "$(ip netns exec "$NS" ip -o link show | grep -q ': tap[0-9]*:'; echo $((!$?)))" \
		"boot T: the tap nkvm created is gone after it exits"
	ip netns exec "$NS" ip link show nkt0 >/dev/null 2>&1
	ok $? "boot T: the existing tap is left in place"
	finish T 130
else
	for i in $(seq 14); do ok 0 "boot T # SKIP needs root, ip and /dev/net/tun"; done
fi

# Errors: no boot, nothing left behind ---------------------------------
"$NKVM" run --net tap,ifname=lo </dev/null >"$T/e1.out" 2>"$T/e1.err"
ok $(($? != 2)) "--net tap,ifname=lo (not a tap): exit status 2"
check "--net tap,ifname=lo: one line naming the tap" grep -q '^nkvm:.*tap lo' "$T/e1.err"
"$NKVM" run --net "user,hostfwd=tcp::$HTTP-:80" </dev/null >"$T/e2.out" 2>"$T/e2.err"
ok $(($? != 2)) "hostfwd on a port in use: exit status 2"
check "hostfwd on a port in use: the message names the rule" grep -q "$HTTP" "$T/e2.err"
if [ "$netns" -eq 1 ]; then
	ip netns exec "$NS" "$NKVM" run --net tap --net tap,ifname=lo </dev/null >/dev/null 2>&1
	ok $(($? != 2)) "a failing second tap: exit status 2"
	ok "$(ip netns exec "$NS" ip -o link show | grep -q ': tap[0-9]*:'; echo $((!$?)))" \
		"a failing second tap: the first one nkvm created is removed"
else
	ok 0 "# SKIP needs root"
	ok 0 "# SKIP needs root"
fi

[ "$n" -eq "$planned" ] || echo "# planned $planned tests, ran $n"
exit $((failed > 0))
