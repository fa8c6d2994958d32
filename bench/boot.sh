#!/bin/bash
# boot.sh: run one VMM command once and report how long it took, for
# bench/run.sh.  Needs bash >= 5 (EPOCHREALTIME), coreutils, awk and, for
# the peak RSS, GNU time (/usr/bin/time, Debian package "time").
#
# usage: bench/boot.sh MARKER WORKDIR -- COMMAND [ARGS...]
#
# Starts COMMAND with stdin from /dev/null, stdout on a pipe that is read
# line by line here, stderr into WORKDIR/err, and prints one line:
#
#   rc=N marker_ms=X exit_ms=Y rss_kib=Z first_run_ms=W
#
#   marker_ms     from just before the fork to the first stdout line that
#                 contains MARKER (NA if none did)
#   exit_ms       from just before the fork to the command's exit
#   rss_kib       peak RSS of the command in KiB: GNU time's %M, i.e. the
#                 ru_maxrss that wait4() returns (NA without GNU time)
#   first_run_ms  nkvm -v's "first KVM_RUN after X ms" from stderr (NA if
#                 the line is not there)
#
# The command runs under "timeout -k 5 ${BOOT_TIMEOUT:-60}" (coreutils); a
# command that hangs reports rc=124.  GNU time wraps the timeout process;
# ru_maxrss is a maximum over the waited-for processes, so it is the VMM's.

set -u

if [ $# -lt 4 ] || [ "$3" != -- ]; then
	echo "usage: $0 MARKER WORKDIR -- COMMAND [ARGS...]" >&2
	exit 2
fi
marker=$1
wd=$2
shift 3
mkdir -p "$wd" || exit 2
rm -f "$wd/rss" "$wd/rc" "$wd/err" "$wd/t_exit" "$wd/t_marker"

GTIME=${GTIME:-/usr/bin/time}
guard=(timeout -k 5 "${BOOT_TIMEOUT:-60}")
if [ -x "$GTIME" ] && "$GTIME" -f %M -o /dev/null true 2>/dev/null; then
	wrap=("$GTIME" -f %M -o "$wd/rss")
else
	wrap=()
fi

t0=$EPOCHREALTIME
{
	"${wrap[@]}" "${guard[@]}" "$@" </dev/null 2>"$wd/err"
	echo $? >"$wd/rc"
	echo "$EPOCHREALTIME" >"$wd/t_exit"
} | {
	seen=
	while IFS= read -r line; do
		if [ -z "$seen" ] && [[ $line == *"$marker"* ]]; then
			seen=$EPOCHREALTIME
			echo "$seen" >"$wd/t_marker"
		fi
	done
}

ms() {		# ms FILE: milliseconds from t0 to the time stamp in FILE
	if [ -s "$1" ]; then
		awk -v a="$t0" '{ printf "%.3f", ($1 - a) * 1000 }' "$1"
	else
		echo NA
	fi
}

rss=NA
if [ -s "$wd/rss" ]; then
	# GNU time writes "Command exited with non-zero status N" first then.
	rss=$(awk '/^[0-9]+$/ { v = $1 } END { print (v == "" ? "NA" : v) }' \
		"$wd/rss")
fi
first=$(sed -n 's/.*first KVM_RUN after \([0-9.]*\) ms.*/\1/p' "$wd/err" |
	head -n 1)

echo "rc=$(cat "$wd/rc" 2>/dev/null || echo NA) marker_ms=$(ms "$wd/t_marker")" \
	"exit_ms=$(ms "$wd/t_exit") rss_kib=$rss first_run_ms=${first:-NA}"
