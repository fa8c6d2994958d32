#!/bin/bash
# api.sh: the control API's costs (a benchmark, not a test: it prints
# numbers and judges none).  Medians (and min/max) of RUNS runs each of:
#   ready      `nkvm --api-sock S` from fork/exec until connect() on S
#              succeeds and until a first GET / is answered: wall ms, and
#              the CPU ms the process used by then (wait4 rusage after a
#              SIGKILL at that moment)
#   idle RSS   VmRSS/VmHWM of that idle process, and how much of it is the
#              libraries the API pulls in (from /proc/PID/smaps)
#   start      PUT /actions InstanceStart until the tiny guest's first
#              output ("nkvm-guest: ready", its first instructions) is read
#              on nkvm's stdout; and until the 204 arrives
#   link cost  `nkvm --version` (wall and CPU ms) and `nkvm run` of the
#              tiny guest (start -> marker), this nkvm against a BASE build
#              without the API
#              (libmicrohttpd pulls in gnutls and ~10 more libraries)
# usage: bench/api.sh [-n RUNS] [-b BASE_NKVM]
# Environment: NKVM (default build/nkvm), NKVM_BUILD, GUEST (default
# $NKVM_BUILD/tests/guests/trivial.elf).  Needs python3.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
runs=20
base=
while getopts "n:b:h" opt; do
	case $opt in
	n) runs=$OPTARG ;;
	b) base=$OPTARG ;;
	*) sed -n '2,/^set/s/^# \{0,1\}//p' "$0" | grep -v '^set' >&2; exit 2 ;;
	esac
done
NKVM=${NKVM:-$root/build/nkvm}
NKVM_BUILD=${NKVM_BUILD:-$(dirname "$NKVM")}
GUEST=${GUEST:-$NKVM_BUILD/tests/guests/trivial.elf}
[ -x "$NKVM" ] || { echo "api.sh: no nkvm at $NKVM (make)" >&2; exit 1; }
[ -f "$GUEST" ] || { echo "api.sh: no guest at $GUEST (make guests)" >&2; exit 1; }
echo "nkvm API benchmark, $runs runs, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "nkvm: $("$NKVM" --version) ($NKVM)"
[ -n "$base" ] && echo "base: $("$base" --version) ($base)"
exec python3 "$here/api_bench.py" "$NKVM" "$GUEST" "$runs" "$base"
