#!/bin/bash
# blk.sh: nkvm's virtio-blk device model against raw fio (io_uring engine)
# on the same file.  A benchmark, not a test: it prints numbers, it judges
# none.
#
# usage: bench/blk.sh [-n RUNS] [-t SECS] [-s MIB] [-d DIR] [-D] [-w LIST] [-o DIR]
#   -n RUNS  runs per tool and workload (default 5)
#   -t SECS  seconds per run (default 10)
#   -s MIB   size of the test file (default 1024)
#   -d DIR   where the test file goes (default /var/tmp; tmpfs measures
#            memory copies, a disk-backed filesystem its page cache or,
#            with -D, the disk)
#   -D       O_DIRECT for both: fio --direct=1, the driver's image opened
#            with direct=true (blk_driver -d); default buffered (--direct=0)
#   -w LIST  workloads, comma-separated (default randread,randwrite,read,write)
#   -o DIR   also keep the raw results (one line per run) in DIR/raw.txt
# Environment: BLK_DRIVER (default build/bench/blk_driver, `make bench-blk`),
#   FIO (default fio), FIO_OPTS (extra fio options, e.g. --gtod_reduce=1).
#
# Why not fio in a guest: on a PVM host the guest kernel is emulated, so a
# guest-side fio measures the emulator.  bench/blk_driver plays the guest's
# virtio driver from the host against nkvm's real virtio-mmio, virtio-blk
# and io_uring code (see its header), in one thread.
#
# Workloads, queue depth 32 for both tools:
#   randread  4 KiB random reads     randwrite  4 KiB random writes
#   read      1 MiB sequential reads write      1 MiB sequential writes
# Random offsets are uniform over the whole file with repeats (fio:
# --norandommap; the driver: a fixed-seed PRNG).  fio runs as
#   fio --name=blk --filename=FILE --ioengine=io_uring --direct=0|1
#     --iodepth=32 --rw=RW --bs=BS --time_based --runtime=SECS
#     --invalidate=0 --norandommap --randrepeat=1 --iomem_align=4k
#     --output-format=terse
# and the driver as: blk_driver -m RW -b BS -q 32 -t SECS [-d] FILE.
# --iomem_align=4k: fio's default buffers (malloc) start 16 bytes into a
# page, and the kernel's copy into a misaligned buffer was 2.5x slower on
# the AMD EPYC dev machine (1 MiB buffered reads: 1.7 vs 4.5 GiB/s); the
# driver's buffers are page-aligned, as a guest's are.
#
# Caches: nothing drops them.  The file is created with fallocate, filled
# once from /dev/urandom and read once, so buffered runs of both tools find
# it in the page cache (fio gets --invalidate=0: its default would drop the
# file's cached pages before each run, which nkvm's driver does not).
# After every run `sync FILE` writes back what a write workload dirtied,
# outside the timing, so no run pays for its predecessor's writeback.
# Each round alternates which tool goes first (nkvm first in odd rounds).
#
# Per workload: median IOPS and MiB/s of each tool and nkvm/fio of the
# medians; "paired": the median over rounds of nkvm/fio within a round
# (both ran back to back, so it drifts less with the machine's load);
# CPU us per I/O: user+system time of the whole command (GNU
# time, so io_uring's worker threads and start-up are included; fio's own
# usr/sys figures leave out the io-wq workers) over IOPS x SECS.
# Needs bash, coreutils, util-linux (fallocate, findmnt), awk, fio and
# GNU time (Debian package "time").

set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
runs=5
secs=10
mib=1024
dir=/var/tmp
direct=0
workloads=randread,randwrite,read,write
keep=
while getopts "n:t:s:d:Dw:o:h" opt; do
	case $opt in
	n) runs=$OPTARG ;;
	t) secs=$OPTARG ;;
	s) mib=$OPTARG ;;
	d) dir=$OPTARG ;;
	D) direct=1 ;;
	w) workloads=$OPTARG ;;
	o) keep=$OPTARG ;;
	*) sed -n '2,/^$/s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
	esac
done
die() { echo "blk.sh: $*" >&2; exit 1; }
for v in "$runs" "$secs" "$mib"; do
	[[ $v =~ ^[1-9][0-9]*$ ]] || die "-n, -t and -s want positive integers"
done

BLK_DRIVER=${BLK_DRIVER:-$root/build/bench/blk_driver}
FIO=${FIO:-fio}
GTIME=${GTIME:-/usr/bin/time}
read -r -a fio_extra <<<"${FIO_OPTS:-}"
[ -x "$BLK_DRIVER" ] || die "no driver at $BLK_DRIVER (make bench-blk)"
command -v "$FIO" >/dev/null || die "$FIO not found (scripts/deps installs fio)"
[ -d "$dir" ] || die "no directory $dir"
"$GTIME" -f %U -o /dev/null true 2>/dev/null || die "no GNU time at $GTIME (apt install time)"

T=$(mktemp -d "${TMPDIR:-/tmp}/nkvm-blk.XXXXXX") || exit 1
file=$dir/nkvm-blk-bench.$$.img
trap 'rm -rf "$T"; rm -f "$file"' EXIT
RAW=$T/raw.txt
: >"$RAW"

# --- the test file -----------------------------------------------------------
fs=$(findmnt -n -o FSTYPE -T "$dir")
fallocate -l "${mib}M" "$file" || die "fallocate ${mib}M in $dir failed"
dd if=/dev/urandom of="$file" bs=1M count="$mib" conv=notrunc,fsync status=none ||
	die "filling $file failed"
cat "$file" >/dev/null
if [ "$direct" -eq 1 ] &&
	! dd if="$file" of=/dev/null bs=4096 count=1 iflag=direct status=none 2>/dev/null; then
	die "O_DIRECT does not work on $dir ($fs)"
fi

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
echo "nkvm virtio-blk benchmark: $runs runs x ${secs}s per tool and workload, QD 32, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "host:   $(uname -sr), ${cpu:-unknown CPU}, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "file:   $file, ${mib} MiB, filesystem $fs$([ "$fs" = tmpfs ] && echo ' (memory: no disk involved)')"
echo "mode:   $([ "$direct" -eq 1 ] && echo 'O_DIRECT (--direct=1, blk_driver -d)' || echo 'buffered (--direct=0), file in the page cache')"
echo "fio:    $("$FIO" --version)${FIO_OPTS:+, extra options: $FIO_OPTS}"
echo "driver: $BLK_DRIVER"
echo

# --- the runs ---------------------------------------------------------------
# record TOOL RW ROUND IOPS MIBPS: appends "TOOL RW ROUND iops=X mibps=Y
# us_per_io=Z" to RAW, Z from the GNU time output in $T/time.
record() {
	awk -v t="$1" -v w="$2" -v r="$3" -v iops="$4" -v mib="$5" -v s="$secs" '
		END { printf "%s %s %s iops=%s mibps=%s us_per_io=%.2f\n", t, w, r,
			iops, mib, (iops > 0 ? ($1 + $2) / (iops * s) * 1e6 : 0) }' \
		"$T/time" >>"$RAW"
}
# nkvm_run RW BS ROUND / fio_run RW BS ROUND: one run each.
nkvm_run() {
	local out dflag=()
	[ "$direct" -eq 1 ] && dflag=(-d)
	out=$("$GTIME" -f "%U %S" -o "$T/time" \
		"$BLK_DRIVER" -m "$1" -b "$2" -q 32 -t "$secs" "${dflag[@]}" "$file") ||
		die "blk_driver -m $1 failed"
	[[ $out == *engine=io_uring* ]] || die "the driver did not get io_uring: $out"
	record nkvm "$1" "$3" "$(grep -o 'iops=[0-9.]*' <<<"$out" | cut -d= -f2)" \
		"$(grep -o 'mibps=[0-9.]*' <<<"$out" | cut -d= -f2)"
}
fio_run() {
	local out
	out=$("$GTIME" -f "%U %S" -o "$T/time" \
		"$FIO" --name=blk --filename="$file" --ioengine=io_uring \
		--direct="$direct" --iodepth=32 --rw="$1" --bs="$2" --time_based \
		--runtime="$secs" --invalidate=0 --norandommap --randrepeat=1 \
		--iomem_align=4k "${fio_extra[@]}" --output-format=terse \
		--terse-version=3) || die "fio --rw=$1 failed"
	# terse v3: read KiB/s;IOPS are fields 7;8, write 48;49
	record fio "$1" "$3" "$(awk -F';' -v w="$1" '{ print w ~ /write/ ? $49 : $8 }' <<<"$out")" \
		"$(awk -F';' -v w="$1" '{ printf "%.1f", (w ~ /write/ ? $48 : $7) / 1024 }' <<<"$out")"
}

IFS=, read -r -a wl <<<"$workloads"
for w in "${wl[@]}"; do
	case $w in
	randread | randwrite) bs=4k ;;
	read | write) bs=1m ;;
	*) die "unknown workload $w" ;;
	esac
	for ((i = 1; i <= runs; i++)); do
		if ((i % 2)); then
			nkvm_run "$w" "$bs" "$i"; sync "$file"
			fio_run "$w" "$bs" "$i"; sync "$file"
		else
			fio_run "$w" "$bs" "$i"; sync "$file"
			nkvm_run "$w" "$bs" "$i"; sync "$file"
		fi
	done
	echo "  $w: done" >&2
done

# --- the summary ------------------------------------------------------------
# med TOOL RW KEY: median of KEY over TOOL's RW runs.
med() {
	awk -v t="$1" -v w="$2" -v k="$3" '$1 == t && $2 == w {
		for (i = 4; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) print kv[2] }
	}' "$RAW" | sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "NA"; exit }
		printf "%.1f\n", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "-" }'; }
# paired RW: median over rounds of nkvm's IOPS / fio's IOPS in that round
# (steadier than the ratio of medians when the machine's load drifts).
paired() {
	awk -v w="$1" '$2 == w {
		split($4, kv, "="); v[$1, $3] = kv[2]; r[$3] = 1
	} END {
		for (i in r) if (v["fio", i] > 0) print v["nkvm", i] / v["fio", i]
	}' "$RAW" | sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "-"; exit }
		printf "%.3f\n", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo "| workload | nkvm IOPS | fio IOPS | nkvm/fio IOPS | nkvm MiB/s | fio MiB/s | nkvm/fio MiB/s | paired nkvm/fio | CPU us/IO nkvm | CPU us/IO fio |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for w in "${wl[@]}"; do
	case $w in randread | randwrite) label="4 KiB $w" ;; *) label="1 MiB $w" ;; esac
	ni=$(med nkvm "$w" iops); fi=$(med fio "$w" iops)
	nm=$(med nkvm "$w" mibps); fm=$(med fio "$w" mibps)
	printf "| %s | %.0f | %.0f | **%s** | %s | %s | **%s** | %s | %s | %s |\n" "$label" \
		"$ni" "$fi" "$(ratio "$ni" "$fi")" "$nm" "$fm" "$(ratio "$nm" "$fm")" \
		"$(paired "$w")" "$(med nkvm "$w" us_per_io)" "$(med fio "$w" us_per_io)"
done
echo "(medians of $runs runs each; paired: median of the per-round IOPS ratios;"
echo " CPU us/IO: user+system time of the command per I/O)"

if [ -n "$keep" ]; then
	mkdir -p "$keep" && cp "$RAW" "$keep/raw.txt" && echo "raw results: $keep/raw.txt"
fi
