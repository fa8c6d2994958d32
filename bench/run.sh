#!/bin/bash
# run.sh: nkvm and QEMU side by side on the trivial test guest
# (tests/guests/trivial.S: prints "nkvm-guest: ready", then leaves through
# port 0x501).  A benchmark, not a test: it prints numbers, it judges none.
#
# usage: bench/run.sh [-n RUNS] [-k] [-o DIR]
#   -n RUNS  runs per VMM and metric (default 10, at least 3)
#   -k       keep going without QEMU even if it is installed
#   -o DIR   also keep the raw results (one line per run) in DIR/raw.txt
# Environment: NKVM (default build/nkvm), NKVM_BUILD (default: its dir),
#   GUEST (default $NKVM_BUILD/tests/guests/trivial.elf), QEMU (default
#   qemu-system-x86_64), GTIME (default /usr/bin/time).
#
# Each round runs, in this order: nkvm, QEMU, nkvm -v (the last only for
# nkvm's own "first KVM_RUN after X ms" debug line).  One unrecorded
# warm-up round comes first.  Metrics, all from the process's start:
#   start -> marker  the guest's "nkvm-guest: ready" line read on stdout
#   start -> exit    the VMM process has exited
#   peak RSS         GNU time %M (wait4's ru_maxrss), in MiB
#   first KVM_RUN    nkvm only, as nkvm -v reports it
# For each: median, min, max per VMM, and the ratio of the medians
# nkvm/QEMU.  QEMU runs as:
#   qemu-system-x86_64 -M microvm -accel kvm -nodefaults -no-user-config
#     -nographic -serial stdio -device isa-debug-exit,iobase=0x501,iosize=1
#     -m 128M -kernel trivial.elf
# and nkvm as: nkvm run -k trivial.elf -m 128M --net none --timeout 60
# (--net none: QEMU runs with -nodefaults, no NIC; nkvm would add its
# default user-mode NIC, a libslirp thread, otherwise).
# Needs bash >= 5, coreutils, awk, GNU time (Debian package "time").

set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
runs=10
no_qemu=0
keep=
while getopts "n:ko:h" opt; do
	case $opt in
	n) runs=$OPTARG ;;
	k) no_qemu=1 ;;
	o) keep=$OPTARG ;;
	*) sed -n '2,/^$/s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
	esac
done
if ! [[ $runs =~ ^[0-9]+$ ]] || [ "$runs" -lt 3 ]; then
	echo "run.sh: -n wants a number >= 3" >&2
	exit 2
fi

NKVM=${NKVM:-$root/build/nkvm}
NKVM_BUILD=${NKVM_BUILD:-$(dirname "$NKVM")}
GUEST=${GUEST:-$NKVM_BUILD/tests/guests/trivial.elf}
QEMU=${QEMU:-qemu-system-x86_64}
export GTIME=${GTIME:-/usr/bin/time}
MARKER="nkvm-guest: ready"

die() { echo "run.sh: $*" >&2; exit 1; }
[ -x "$NKVM" ] || die "no nkvm at $NKVM (make)"
[ -f "$GUEST" ] || die "no guest at $GUEST (make guests)"
[ -c /dev/kvm ] && (exec 3<>/dev/kvm) 2>/dev/null ||
	die "/dev/kvm is missing or not usable: nothing to measure"
[ -n "$BASH_VERSION" ] && [ "${BASH_VERSINFO[0]}" -ge 5 ] ||
	die "needs bash >= 5 (EPOCHREALTIME)"

T=$(mktemp -d "${TMPDIR:-/tmp}/nkvm-bench.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
RAW=$T/raw.txt
: >"$RAW"

nkvm_cmd=("$NKVM" run -k "$GUEST" -m 128M --net none --timeout 60)
qemu_cmd=("$QEMU" -M microvm -accel kvm -nodefaults -no-user-config
	-nographic -serial stdio -device isa-debug-exit,iobase=0x501,iosize=1
	-m 128M -kernel "$GUEST")

# one NAME WANT_RC CMD...: one boot; appends "NAME ok|bad key=val..." to RAW.
one() {
	local name=$1 want=$2 line verdict=ok
	shift 2
	line=$("$here/boot.sh" "$MARKER" "$T/work" -- "$@")
	[[ $line == "rc=$want "* ]] || verdict=bad
	[[ $line == *"marker_ms=NA"* ]] && verdict=bad
	echo "$name $verdict $line" >>"$RAW"
	if [ "$verdict" = bad ]; then
		echo "run.sh: $name run failed (want rc=$want): $line" >&2
		head -c 600 "$T/work/err" | sed 's/^/run.sh:   stderr: /' >&2
	fi
}

# --- the host -----------------------------------------------------------
kvm=unknown
for m in kvm_pvm kvm_intel kvm_amd; do
	[ -d /sys/module/$m ] && { kvm=$m; break; }
done
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
echo "nkvm benchmark: trivial guest, $runs runs per VMM, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "host:  $(uname -sr), ${cpu:-unknown CPU}, $(nproc) CPUs, KVM module $kvm"
echo "nkvm:  $("$NKVM" --version 2>&1 | head -n 1) ($NKVM)"
echo "guest: $GUEST ($(stat -c %s "$GUEST") bytes)"
if "$GTIME" -f %M -o /dev/null true 2>/dev/null; then
	echo "RSS:   GNU time -f %M ($GTIME): ru_maxrss of the VMM from wait4()"
else
	echo "RSS:   not measured: GNU time not found at $GTIME (apt install time)"
fi

# --- can QEMU run the guest here? ---------------------------------------
have_qemu=0
if [ "$no_qemu" -eq 1 ]; then
	echo "qemu:  skipped (-k)"
elif ! command -v "$QEMU" >/dev/null; then
	echo "qemu:  $QEMU not found: measuring nkvm alone"
else
	echo "qemu:  $("$QEMU" --version | head -n 1)"
	# isa-debug-exit turns the guest's OUT 0 into exit status (0<<1)|1.
	probe=$("$here/boot.sh" "$MARKER" "$T/work" -- "${qemu_cmd[@]}")
	if [[ $probe == "rc=1 "* ]] && [[ $probe != *"marker_ms=NA"* ]]; then
		have_qemu=1
	else
		echo "qemu:  CANNOT run the trivial guest on this host ($probe):"
		head -c 600 "$T/work/err" | sed 's/^/         /'
		echo "qemu:  measuring nkvm alone"
	fi
fi
echo

# --- the runs ------------------------------------------------------------
# Warm-up round (page cache, lazy module state); not recorded.
"$here/boot.sh" "$MARKER" "$T/work" -- "${nkvm_cmd[@]}" >/dev/null
[ "$have_qemu" -eq 1 ] &&
	"$here/boot.sh" "$MARKER" "$T/work" -- "${qemu_cmd[@]}" >/dev/null

for ((i = 1; i <= runs; i++)); do
	one nkvm 0 "${nkvm_cmd[@]}"
	[ "$have_qemu" -eq 1 ] && one qemu 1 "${qemu_cmd[@]}"
	one nkvm-v 0 "${nkvm_cmd[@]}" -v
done

# --- the summary ------------------------------------------------------------
# values NAME KEY [DIV]: the values of KEY over NAME's good runs, one a line.
values() {
	awk -v n="$1" -v k="$2" -v d="${3:-1}" '
		$1 == n && $2 == "ok" {
			for (i = 3; i <= NF; i++) {
				split($i, kv, "=")
				if (kv[1] == k && kv[2] != "NA")
					printf "%.3f\n", kv[2] / d
			}
		}' "$RAW"
}
# stats: "count median min max" of the numbers on stdin ("0 NA NA NA").
stats() {
	sort -g | awk '
		{ v[NR] = $1 }
		END {
			if (NR == 0) { print "0 NA NA NA"; exit }
			m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%d %.3f %.3f %.3f\n", NR, m, v[1], v[NR]
		}'
}
fmt="%-22s %5s %10s %10s %10s   %5s %10s %10s %10s   %9s\n"
row() {		# row LABEL NKVM-NAME KEY [DIV]
	local ratio an am amin amax bn bm bmin bmax
	read -r an am amin amax < <(values "$2" "$3" "${4:-1}" | stats)
	if [ "$have_qemu" -eq 1 ] && [ "$3" != first_run_ms ]; then
		read -r bn bm bmin bmax < <(values qemu "$3" "${4:-1}" | stats)
	else
		bn=- bm=- bmin=- bmax=-
	fi
	ratio=$(awk -v a="$am" -v b="$bm" 'BEGIN {
		if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0)
			printf "%.3f", a / b
		else
			print "-" }')
	printf "$fmt" "$1" "$an" "$am" "$amin" "$amax" "$bn" "$bm" "$bmin" \
		"$bmax" "$ratio"
}

printf "$fmt" "" "nkvm" "" "" "" "QEMU" "" "" "" "nkvm/QEMU"
printf "$fmt" "metric" "runs" "median" "min" "max" "runs" "median" "min" \
	"max" "(medians)"
row "start -> marker (ms)" nkvm marker_ms
row "start -> exit (ms)" nkvm exit_ms
row "peak RSS (MiB)" nkvm rss_kib 1024
row "first KVM_RUN (ms)" nkvm-v first_run_ms

bad=$(awk '$2 == "bad"' "$RAW" | wc -l)
[ "$bad" -eq 0 ] || echo "($bad failed runs left out, see the messages above)"
[ -n "$(values nkvm-v first_run_ms)" ] ||
	echo "(nkvm -v printed no 'first KVM_RUN after X ms' line)"
echo "first KVM_RUN: from runs with -v, which also print debug lines;" \
	"the other nkvm rows are from runs without -v."

if [ -n "$keep" ]; then
	mkdir -p "$keep" && cp "$RAW" "$keep/raw.txt" &&
		echo "raw results: $keep/raw.txt"
fi
