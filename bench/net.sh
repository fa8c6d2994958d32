#!/bin/bash
# net.sh: nkvm's virtio-net device on the tap back end against a raw tap,
# at the same frame sizes, from the host.  A benchmark, not a test: it
# prints numbers, it judges none.
#
# usage: bench/net.sh [-n RUNS] [-t SECS] [-c CASES] [-k N] [-q SIZE] [-z BYTES] [-o DIR]
#   -n RUNS   rounds, nkvm and raw alternating (default 5)
#   -t SECS   seconds per run and side (default 3)
#   -c CASES  comma-separated, from tx1500,tx64k,rx1500,rx64k,rxq1500,rxq64k
#             (default: all)
#   -k N      transmit: chains the driver posts per kick (default 128)
#   -q SIZE   entries per queue, 256 or 1024 (default 256; 1024 needs a
#             device built to offer it)
#   -z BYTES  the device's receive copybreak (default: its own; 0: every
#             frame read straight into the guest's buffers)
#   -o DIR    also keep the per-run lines in DIR/raw.txt
# Environment: B (build directory, default build): the script runs
#   `make B=$B bench-net` and then $B/bench/net_driver; NET_DRIVER=PATH
#   runs that driver instead, without building.
#
# Why not iperf in a guest: on a PVM host the guest kernel is emulated,
# so a guest-side iperf measures the emulator.  bench/net_driver plays
# the guest's virtio-net driver from the host against nkvm's real
# virtio-mmio, virtio-net and tap code, in a network namespace of its own
# (root needed; the host's interfaces are not touched), and does the same
# transfers on a raw tap fd for the limit: see the head of
# bench/net_driver.c for what each case sends, what is timed and what is
# checked.  In short:
#   tx*   guest -> tap: nkvm's device writev()s each chain to its tap;
#         raw: writev() of the same header + frame to a tap.  The kernel
#         drops the frames right after the tap (not for this host).
#   rx*   tap -> guest: an AF_PACKET socket injects frames into the tap;
#         nkvm's back end read()s them and fills the guest's receive
#         buffers; raw: read() from a tap.  rx: injector thread and reader
#         run together; rxq: frames are queued first and only the reader
#         is timed (its capacity, less noisy on a small machine).
#   1500: 1514-byte Ethernet frames (1500-byte UDP/IPv4 packets);
#   64k:  64294-byte TCP/IPv4 frames as one TSO frame (NEEDS_CSUM +
#         GSO_TCPV4, 44 x 1460 bytes of payload).
# Needs bash, make, a C compiler, root, /dev/net/tun.

set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
runs=5
secs=3
cases=
kick=
qsize=
cbreak=
keep=
while getopts "n:t:c:k:q:z:o:h" opt; do
	case $opt in
	n) runs=$OPTARG ;;
	t) secs=$OPTARG ;;
	c) cases=$OPTARG ;;
	k) kick=$OPTARG ;;
	q) qsize=$OPTARG ;;
	z) cbreak=$OPTARG ;;
	o) keep=$OPTARG ;;
	*) sed -n '2,/^$/s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
	esac
done
die() { echo "net.sh: $*" >&2; exit 1; }
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "-n wants a positive integer"
[[ $secs =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "-t wants a number of seconds"
[ "$(id -u)" -eq 0 ] || die "root needed (a network namespace and taps)"
[ -c /dev/net/tun ] || die "no /dev/net/tun (modprobe tun)"

B=${B:-build}
if [ -n "${NET_DRIVER:-}" ]; then
	drv=$NET_DRIVER
else
	make -C "$root" B="$B" bench-net >/dev/null || die "make B=$B bench-net failed"
	drv=$root/$B/bench/net_driver
fi
[ -x "$drv" ] || die "no driver at $drv"

T=$(mktemp -d "${TMPDIR:-/tmp}/nkvm-net.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT

args=(-v -n "$runs" -t "$secs")
[ -n "$cases" ] && args+=(-c "$cases")
[ -n "$kick" ] && args+=(-k "$kick")
[ -n "$qsize" ] && args+=(-q "$qsize")
[ -n "$cbreak" ] && args+=(-z "$cbreak")

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
echo "nkvm virtio-net + tap vs raw tap: $runs rounds x ${secs}s per side and case, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "host:   $(uname -sr), ${cpu:-unknown CPU}, $(nproc) CPUs"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "driver: $drv ${args[*]}"
"$drv" "${args[@]}" >"$T/out" || die "net_driver failed"
grep -v '^run ' "$T/out"
echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)"

if [ -n "$keep" ]; then
	mkdir -p "$keep" && grep '^run ' "$T/out" >"$keep/raw.txt" &&
		echo "per-run results: $keep/raw.txt"
fi
