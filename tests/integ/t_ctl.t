#!/bin/bash
# t_ctl.t: nkvm list/pause/resume/stat/stop on real VMs.  Prints TAP.
#
# Part 1 needs no VM: usage errors (exit 2, one line on stderr), an empty
# list, a stale socket removed by list and reported as gone by pause.
# Part 2 runs the tiny ticker guest (tests/guests/ticker.S: prints a count
# ten times a second, has no keyboard driver) as `nkvm run --name`, and
# checks that list shows it with its pid, pause stops the count, resume
# restarts it, stat shows its counters, stop ends it (Ctrl-Alt-Del is
# refused: SIGTERM) and its socket is gone; stop --force; a SIGKILLed VM's
# socket is reported as gone and removed by list.  Part 2 is skipped when
# `nkvm run --help` has no --name (a build without the control API).
#
# Everything runs with a private XDG_RUNTIME_DIR: other users' and other
# tests' VMs are never seen or touched.
#
# Environment: NKVM (default build/nkvm), NKVM_BUILD (default: the
# directory of $NKVM, holding tests/guests/ticker.elf).

set -u

NKVM=${NKVM:-build/nkvm}
NKVM_BUILD=${NKVM_BUILD:-$(dirname "$NKVM")}
TICKER=$NKVM_BUILD/tests/guests/ticker.elf
GUARD=120	# --timeout of every VM: a hang fails, it does not block

if ! [ -x "$NKVM" ]; then
	echo "Bail out! no nkvm binary at $NKVM (run make)"
	exit 1
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/nkvm-ctl.XXXXXX") || exit 1
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup EXIT
export XDG_RUNTIME_DIR=$T/xdg
mkdir -m 700 "$XDG_RUNTIME_DIR" || exit 1
SOCKS=$XDG_RUNTIME_DIR/nkvm

. "$(dirname "${BASH_SOURCE[0]}")/lib-tap.sh"

# ctl ARGS...: run nkvm ARGS with a hang guard; rc, $T/out, $T/err.
ctl() {
	timeout -k 5 60 "$NKVM" "$@" </dev/null >"$T/out" 2>"$T/err"
	rc=$?
}
# usage_error DESCRIPTION ARGS...: exit 2, one line on stderr, no stdout.
usage_error() {
	local desc=$1
	shift
	ctl "$@"
	ok $(( rc != 2 || $(wc -l <"$T/err") != 1 || $(wc -c <"$T/out") != 0 )) \
		"nkvm $*: $desc (exit $rc, one line on stderr)"
	[ "$rc" -eq 2 ] || diag <"$T/err"
}

# --- part 1: no VM needed ---
ctl list
ok $(( rc != 0 )) "list with no VMs: exit 0"
ok $(( $(wc -l <"$T/out") != 1 )) "list with no VMs: the header only"
usage_error "no name" pause
usage_error "bad name" pause 'bad/name'
usage_error "name starting with a dot" resume .x
usage_error "unknown VM" stat nosuch
usage_error "unknown VM" stop nosuch --force
usage_error "bad --timeout" stop x --timeout 0
usage_error "unknown option" list --bogus
for c in list pause resume stat stop; do
	ctl "$c" --help
	ok $(( rc != 0 )) "$c --help: exit 0"
	grep -q "exit status" "$T/out"
	ok $? "$c --help documents the exit statuses"
done

# A socket nobody listens on: what an nkvm killed with SIGKILL leaves.
mkdir -m 700 "$SOCKS"
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' \
	"$SOCKS/dead.sock"
usage_error "stale socket" pause dead
grep -q "is gone" "$T/err"
ok $? "pause of a dead VM says it is gone"
ctl list
ok $(( rc != 0 )) "list with a stale socket: exit 0"
ok $(( $(grep -c dead "$T/out") != 0 )) "the stale socket is not listed"
[ ! -e "$SOCKS/dead.sock" ]
ok $? "list removed the stale socket"

# --- part 2: real VMs ---
if ! "$NKVM" run --help 2>&1 | grep -q -- '--name'; then
	skip 1 "control API not in this build (nkvm run --help has no --name)"
	tap_done
fi
if ! [ -c /dev/kvm ] || ! (exec 3<>/dev/kvm) 2>/dev/null; then
	skip 1 "/dev/kvm is missing or not usable by $(id -un)"
	tap_done
fi
if ! [ -f "$TICKER" ]; then
	echo "Bail out! missing $TICKER (run make guests)"
	exit 1
fi

ticks() { grep -c 'nkvm-guest: tick' "$T/$1.out"; }
# start NAME: boot the ticker as NAME; sets pid; waits for its socket and
# its first tick (hang guard 30 s).
start() {
	"$NKVM" run -k "$TICKER" --name "$1" --timeout "$GUARD" \
		</dev/null >"$T/$1.out" 2>"$T/$1.err" &
	pid=$!
	pids+=("$pid")
	for _ in $(seq 300); do
		[ -S "$SOCKS/$1.sock" ] && [ "$(ticks "$1")" -gt 0 ] && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	diag <"$T/$1.err"
	return 1
}
# wait_exit PID: its exit status, after at most 20 s (then SIGKILL: 137).
wait_exit() {
	for _ in $(seq 200); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null
	wait "$1"
}

# ended_by_sigterm NAME PID: it exits 143 (nkvm's status for SIGTERM),
# and its socket is gone.
ended_by_sigterm() {
	wait_exit "$2"
	rc=$?
	ok $(( rc != 143 )) "$1 ended by SIGTERM (exit status $rc)"
	[ ! -e "$SOCKS/$1.sock" ]
	ok $? "$1's socket is gone"
}

start tick1
ok $? "ticker runs as tick1, its socket is there"
p1=$pid

ctl list
ok $(( rc != 0 )) "list: exit 0"
awk -v p="$p1" '$1 == "tick1" && $2 == p && $3 == 1 && $5 == "Running" { f = 1 }
	END { exit !f }' "$T/out"
ok $? "list: tick1, its pid, 1 vCPU, Running"
[ "$failed" -eq 0 ] || diag <"$T/out"
ctl list --json
python3 -c 'import json, sys
v = json.load(open(sys.argv[1]))
sys.exit(not (len(v) == 1 and v[0]["name"] == "tick1" and v[0]["pid"] == int(sys.argv[2])))' \
	"$T/out" "$p1"
ok $? "list --json: tick1 with its pid"

ctl pause tick1
ok $(( rc != 0 )) "pause tick1: exit 0"
sleep 0.3
c1=$(ticks tick1)
sleep 1.5
c2=$(ticks tick1)
ok $(( c1 != c2 )) "paused: no tick in 1.5 s ($c1 -> $c2)"
ctl list
awk '$1 == "tick1" && $5 == "Paused" { f = 1 } END { exit !f }' "$T/out"
ok $? "list: tick1 Paused"

ctl stat tick1
ok $(( rc != 0 )) "stat tick1: exit 0"
grep -q "^state: *Paused" "$T/out"
ok $? "stat: state Paused"
grep -Eq "^ *vcpu 0:.* exits=[1-9]" "$T/out"
ok $? "stat: vCPU 0 has exits"
[ "$failed" -eq 0 ] || diag <"$T/out"
ctl stat tick1 --json
python3 -c 'import json, sys
s = json.load(open(sys.argv[1]))
sys.exit(not (s["vcpus"][0]["exits"] > 0 and s["mem_size_mib"] == 256))' "$T/out"
ok $? "stat --json: exits > 0, 256 MiB"

ctl resume tick1
ok $(( rc != 0 )) "resume tick1: exit 0"
for _ in $(seq 100); do
	[ "$(ticks tick1)" -gt "$c2" ] && break
	sleep 0.1
done
ok $(( $(ticks tick1) <= c2 )) "resumed: ticking again ($c2 -> $(ticks tick1))"

ctl stop tick1
ok $(( rc != 0 )) "stop tick1: exit 0"
grep -q SIGTERM "$T/err"
ok $? "stop: no keyboard driver in the ticker, so SIGTERM"
ok $(( $(wc -l <"$T/err") != 1 )) "stop: said so in one line"
[ "$failed" -eq 0 ] || diag <"$T/err"
ended_by_sigterm tick1 "$p1"

start tick2
ok $? "second ticker runs as tick2"
p2=$pid
ctl stop --force tick2
ok $(( rc != 0 )) "stop --force tick2: exit 0"
ended_by_sigterm tick2 "$p2"

start tick3
ok $? "third ticker runs as tick3"
kill -KILL "$pid"
wait "$pid" 2>/dev/null
usage_error "SIGKILLed VM" pause tick3
grep -q "is gone" "$T/err"
ok $? "pause tick3: gone"
ctl list
ok $(( $(grep -c tick3 "$T/out") != 0 )) "list does not show tick3"
[ ! -e "$SOCKS/tick3.sock" ]
ok $? "list removed tick3's stale socket"

tap_done
