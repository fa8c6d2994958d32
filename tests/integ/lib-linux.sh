# lib-linux.sh: shared by the integration tests that boot the default
# Linux guest (t_linux.t, t_blk.t): configuration, the skip rules, TAP
# helpers, and boot(), which runs one guest with its console captured.
# Sourced, not run; the sourcing test prints its own plan afterwards.
# shellcheck shell=bash disable=SC2016,SC2094,SC2317,SC2034

set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NKVM=${NKVM:-$ROOT/build/nkvm}
CACHE=${NKVM_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/nkvm}/default
GUARD=1500	# nkvm --timeout for every boot
OUTER=1600	# outer timeout(1), in case nkvm's own guard fails
TAIL=30		# console lines shown on failure

if [ "${NKVM_SKIP_LINUX:-0}" = 1 ]; then
	echo "1..0 # SKIP NKVM_SKIP_LINUX=1"
	exit 0
fi
if ! [ -c /dev/kvm ] || ! (exec 3<>/dev/kvm) 2>/dev/null; then
	echo "1..0 # SKIP /dev/kvm is missing or not usable by $(id -un)"
	exit 0
fi
for f in vmlinux bzImage initramfs.cpio; do
	if ! [ -f "$CACHE/$f" ]; then
		echo "1..0 # SKIP default guest not built: no $CACHE/$f (run guest/build.sh)"
		exit 0
	fi
done
if ! [ -x "$NKVM" ]; then
	echo "Bail out! no nkvm binary at $NKVM (run make)"
	exit 1
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/nkvm-linux.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT

n=0
failed=0
bad=0	# set when a check of the current boot fails

# ok STATUS DESCRIPTION [DIRECTIVE]: one TAP line.
ok() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2${3:+ # $3}"
	else
		echo "not ok $n - $2"
		failed=$((failed + 1))
		bad=1
	fi
}
# check DESCRIPTION COMMAND...: one TAP line from the command's status.
check() {
	local desc=$1
	shift
	"$@"
	ok $? "$desc"
}
diag() { sed 's/^/# /' >&2; }

# waitready OUT DONE: wait until OUT shows "nkvm-init: ready" and then a
# shell prompt (a last line ending in "# "), or until DONE exists (nkvm has
# exited) or the guard expires.  Fails unless ready was seen.
waitready() {
	local out=$1 done=$2 i
	for ((i = 0; i < OUTER; i++)); do
		grep -q 'nkvm-init: ready' "$out" 2>/dev/null && break
		[ -e "$done" ] && return 1
		sleep 1
	done
	[ "$i" -lt "$OUTER" ] || return 1
	# The prompt is only a hint that the shell reads the console now;
	# input sent earlier is kept by the tty anyway, so give up quietly.
	for ((i = 0; i < 60; i++)); do
		tr -d '\r' <"$out" | awk '/nkvm-init: ready/ { f = 1; next }
			f && /# $/ { p = 1 } END { exit !p }' && break
		[ -e "$done" ] && return 1
		sleep 1
	done
	return 0
}

# wait_console NAME REGEX: wait until boot NAME's console has a line
# matching the extended REGEX (returns 0), or the boot has ended or the
# guard expired (returns 1).
wait_console() {
	local i
	for ((i = 0; i < OUTER; i++)); do
		[ -f "$T/$1.out" ] && tr -d '\r' <"$T/$1.out" | grep -Eq -- "$2" &&
			return 0
		[ -e "$T/$1.rc" ] && return 1
		sleep 1
	done
	return 1
}

# feed OUT DONE INPUT: the guest's stdin for the interactive boots.  Sends
# INPUT once the guest is ready, then keeps the pipe open until nkvm exits
# (DONE exists), so that the shell never sees EOF (nkvm-init would power
# off on its own when the shell ends, hiding a broken poweroff/reboot).
feed() {
	local out=$1 done=$2 input=$3 i
	waitready "$out" "$done" && printf '%s\n' "$input"
	for ((i = 0; i < OUTER; i++)); do
		[ -e "$done" ] || ! [ -d "$T" ] && break
		sleep 1
	done
}

# boot NAME INPUT [nkvm run options...]: boot a guest with its console in
# $T/NAME.out (and NAME.txt, CRs stripped), stderr in NAME.err, the exit
# status in NAME.rc and the seconds it took in NAME.secs.  Empty INPUT:
# stdin is /dev/null; otherwise INPUT is typed once the guest is ready.
boot() {
	local name=$1 input=$2 start rc fd feeder
	shift 2
	local out=$T/$name.out err=$T/$name.err done=$T/$name.done
	start=$EPOCHREALTIME
	if [ -z "$input" ]; then
		timeout "$OUTER" "$NKVM" run --timeout "$GUARD" "$@" \
			</dev/null >"$out" 2>"$err"
		rc=$?
	else
		: >"$out"
		# Opened here, not on nkvm's command line, so that the feeder
		# is this shell's child and can be waited for.
		exec {fd}< <(feed "$out" "$done" "$input")
		feeder=$!
		timeout "$OUTER" "$NKVM" run --timeout "$GUARD" "$@" \
			<&"$fd" >"$out" 2>"$err"
		rc=$?
		exec {fd}<&-
		: >"$done"
		wait "$feeder"	# it sees DONE within a second
	fi
	echo "$rc" >"$T/$name.rc"
	awk -v a="$start" -v b="$EPOCHREALTIME" \
		'BEGIN { printf "%.0f\n", b - a }' >"$T/$name.secs"
	tr -d '\r' <"$out" >"$T/$name.txt"
}

# show NAME: the boot's status, console tail and stderr as TAP diagnostics.
show() {
	local name=$1
	{
		echo "boot $name: exit status $(cat "$T/$name.rc") after $(cat "$T/$name.secs")s"
		echo "--- last $TAIL console lines:"
		tail -n "$TAIL" "$T/$name.txt"
		echo "--- stderr (last $TAIL lines):"
		tail -n "$TAIL" "$T/$name.err"
	} | diag
}

# has NAME REGEX: the console has a line matching the extended REGEX.
has() { grep -Eq -- "$2" "$T/$1.txt"; }
# lacks NAME REGEX: it has none.
lacks() { ! grep -Eq -- "$2" "$T/$1.txt"; }
# clean NAME: nkvm's stderr has no line with "error" in any case.
clean() { ! grep -qi error "$T/$1.err"; }

# memtotal_ok NAME SIZE_KB MIN_FRACTION: the guest's MemTotal is at most
# SIZE_KB and at least MIN_FRACTION of it (the kernel keeps some for its
# own code, data and page structures).
memtotal_ok() {
	local kb
	kb=$(awk '/^MemTotal:/ { v = $2 } END { print v + 0 }' "$T/$1.txt")
	echo "# boot $1: MemTotal $kb kB of $2 kB"
	awk -v v="$kb" -v s="$2" -v f="$3" 'BEGIN { exit !(v >= f * s && v <= s) }'
}

# start NAME EXPECTED_RC: the checks every boot starts with.
start() {
	local name=$1 want=$2 rc
	rc=$(cat "$T/$name.rc")
	echo "# boot $name: exit status $rc after $(cat "$T/$name.secs")s"
	ok $((rc != want)) "boot $name: nkvm exits with status $want"
	check "boot $name: console shows nkvm-init: ready" \
		has "$name" 'nkvm-init: ready'
}

# finish NAME EXPECTED_RC: the checks every boot ends with, then the
# diagnostics if any check of this boot failed.
finish() {
	local name=$1 want=$2
	check "boot $name: no Kernel panic on the console" \
		lacks "$name" 'Kernel panic'
	if [ "$(cat "$T/$name.rc")" -eq "$want" ]; then
		check "boot $name: no error on nkvm's stderr" clean "$name"
	else
		ok 0 "boot $name: no error on nkvm's stderr" \
			"SKIP the boot failed"
	fi
	[ "$bad" -eq 0 ] || show "$name"
	bad=0
}

