#!/bin/bash
# t_vsock.t: virtio-vsock seen from a real Linux guest, one boot (V).
# The guest joins two vsock connections in a loop through two FIFOs (not a
# shell pipe, whose subshell would keep the write end and hide the EOF):
#   A, host-initiated: a host client on nkvm's unix socket sends
#      "CONNECT 5000\n" to the guest's `nkvm-vsock listen 5000`;
#   B, guest-initiated: `nkvm-vsock connect 2 6000` reaches the host server
#      on "<uds>_6000" (vsock-host.py).
# What the host sends over A comes out of B on the host and the other way
# round, several MiB each way on both connections at once, checksummed;
# both half-closes travel the loop. Then: a guest connect to a port with
# no host socket fails with ECONNRESET, and host clients asking for a
# port nobody listens on, sending a bad or over-long handshake line are
# closed without "OK". After nkvm exits its socket file is gone.
# Without booting: bad --vsock values and a socket path in use (exit 2).
# NKVM_VSOCK_MIB (default 4) sets the size each way.
# shellcheck disable=SC2016,SC2317 # $? is for the guest; cleanup runs from trap
# shellcheck source=tests/integ/lib-linux.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib-linux.sh"

if ! command -v python3 >/dev/null; then
	echo "1..0 # SKIP python3 is needed"
	exit 0
fi
MIB=${NKVM_VSOCK_MIB:-4}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

planned=23
echo "1..$planned"

PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' TERM INT HUP

UDS=$T/v.sock
python3 "$HERE/vsock-host.py" "$UDS" "$T/V.out" "$MIB" >"$T/host.txt" 2>"$T/host.err" &
host=$!
PIDS+=("$host")
sleep 1	# the host server binds <uds>_6000 before the guest can connect

boot V "" -m 256M --net none --vsock "cid=3,uds=$UDS" \
	-p 'nkvm.cmd="mkfifo /tmp/f /tmp/g; nkvm-vsock listen 5000 </tmp/f >/tmp/g & L=$!; nkvm-vsock connect 2 6000 >/tmp/f </tmp/g & C=$!; echo vsock-listening; nkvm-vsock connect 2 7777 </dev/null; echo refused-rc=$?; wait $L; echo listen-rc=$?; wait $C; echo connect-rc=$?; nkvm-vsock listen 5001 </dev/null >/dev/null; echo last-rc=$?; exit 7"'
wait "$host"
sed 's/^/# host: /' "$T/host.err" >&2

start V 7
n_host=$(grep -c '^ok \|^not ok ' "$T/host.txt")
grep '^#' "$T/host.txt"
while IFS= read -r line; do
	case "$line" in
	"ok "*) ok 0 "boot V: ${line#ok }" ;;
	"not ok "*) ok 1 "boot V: ${line#not ok }" ;;
	esac
done <"$T/host.txt"
# the host helper makes 7 checks; missing ones (it stopped early) fail
for ((i = n_host; i < 7; i++)); do ok 1 "boot V: host check $((i + 1)) did not run"; done
check "boot V: guest's listen 5000 ended with status 0" has V '^listen-rc=0$'
check "boot V: guest's connect 2 6000 ended with status 0" has V '^connect-rc=0$'
check "boot V: guest connect to a port with no host socket: connection reset" \
	has V '^nkvm-vsock: connect: Connection (reset by peer|refused)$'
check "boot V: ... and exit status 1" has V '^refused-rc=1$'
check "boot V: guest's last listen ended with status 0" has V '^last-rc=0$'
ok "$([ ! -e "$UDS" ]; echo $?)" "boot V: nkvm removed its socket file"
finish V 7

# Errors: no boot -------------------------------------------------------
err() { # err NAME ARGS...: run nkvm with ARGS, keep stderr in NAME.err
	local name=$1
	shift
	"$NKVM" run "$@" </dev/null >/dev/null 2>"$T/$name.err"
}
err e1 --vsock cid=2,uds="$T/e1.sock"
ok $(($? != 2)) "--vsock cid=2: exit status 2"
check "--vsock cid=2: one line naming the cid" grep -q '^nkvm: .*cid 2' "$T/e1.err"
err e2 --vsock cid=3
ok $(($? != 2)) "--vsock without uds=: exit status 2"
err e3 --vsock uds="$T/no/such/dir/v.sock"
ok $(($? != 2)) "--vsock uds in a missing directory: exit status 2"
python3 -c 'import socket, sys, time; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(); time.sleep(60)' "$T/busy.sock" &
PIDS+=("$!")
for ((i = 0; i < 50; i++)); do [ -S "$T/busy.sock" ] && break; sleep 0.1; done
err e4 --vsock uds="$T/busy.sock"
rc=$?
ok $((rc != 2)) "--vsock uds on a socket in use: exit status 2"
check "... one line naming the path" grep -q "^nkvm: .*busy.sock.*in use" "$T/e4.err"

[ "$n" -eq "$planned" ] || echo "# planned $planned tests, ran $n"
exit $((failed > 0))
