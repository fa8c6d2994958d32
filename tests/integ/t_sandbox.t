#!/bin/bash
# t_sandbox.t: `nkvm sandbox -- CMD` with the default guest: the command's
# exit status, stdout and stderr kept apart byte for byte, stdin passed
# through (binary) up to its end, writes to the host's root staying in the
# VM, the caller's uid, gid and directory, a command killed by a signal,
# Ctrl-C on a terminal.  Three boots, in parallel (each costs minutes on a
# PVM host; see t_linux.t):
#   A: as the caller (root in CI), stdin a binary file: sh reads it with
#      cat, writes to the cwd and /etc, exits 7
#   B: as nobody (a private /dev/kvm node in a mount namespace when run
#      as root), stdin /dev/null: uid, gid, cwd, kills itself with SIGTERM
#   C: on a terminal (script(1) gives it a pty): Ctrl-C typed while the
#      command sleeps
# NKVM_SKIP_LINUX=1 skips them all.

# shellcheck source=tests/integ/lib-linux.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib-linux.sh"

planned=18
echo "1..$planned"

# sbx NAME STDIN [nkvm sandbox args...]: one sandbox, stdout in NAME.out,
# stderr in NAME.err, status in NAME.rc, seconds in NAME.secs.
sbx() {
	local name=$1 in=$2 start
	shift 2
	start=$EPOCHREALTIME
	# setsid: a scheduling group (autogroup) of its own for each boot;
	# three boots sharing the test's group got a third of its CPU share
	# each on a loaded host and ran into the guard
	setsid -w timeout "$OUTER" "$@" <"$in" >"$T/$name.out" 2>"$T/$name.err"
	echo $? >"$T/$name.rc"
	awk -v a="$start" -v b="$EPOCHREALTIME" \
		'BEGIN { printf "%.0f\n", b - a }' >"$T/$name.secs"
}
rc() { cat "$T/$1.rc"; }
not_in() { ! grep -q -- "$2" "$T/$1"; }
# skip_all BOOT WHY DESCRIPTION...: one skipped TAP line per description
skip_all() {
	local boot=$1 why=$2 d
	shift 2
	for d in "$@"; do
		ok 0 "$boot: $d" "SKIP $why"
	done
}
report() {
	echo "# sandbox $1: exit status $(rc "$1") after $(cat "$T/$1.secs")s"
}
show_sbx() {
	{
		echo "sandbox $1: exit status $(rc "$1")"
		echo "--- stdout:"; head -c 2000 "$T/$1.out" | cat -v | tail -n "$TAIL"
		echo "--- stderr:"; tail -n "$TAIL" "$T/$1.err"
	} | diag
}

# --- A: the caller, binary stdin, writes that must not reach the host
mkdir -p "$T/a"
# every byte value, 0xFF (the framing's escape), ^C, ^D, CR, long lines
{
	printf 'line one\nline two\r\n\004\003\377\377\000end\n'
	for i in $(seq 0 255); do printf "\\$(printf %03o "$i")"; done
	head -c 20000 /dev/zero | tr '\0' 'x'
	printf '\nlast line\n'
} >"$T/a.in"
marker=sbx-$$-$RANDOM
# Shell builtins where they do: every program started in the guest costs
# seconds there (its libraries come over 9p, each syscall is emulated).
# shellcheck disable=SC2016 # for the guest's shell
cmd_a='cat; echo out; echo err >&2; echo x >./'$marker' && echo y >/etc/'$marker' && read a <./'$marker' && read b </etc/'$marker' && echo "$a$b"; exit 7'
# -m 128M: less emulated page setup at boot than the default 256M
(cd "$T/a" && sbx A "$T/a.in" "$NKVM" sandbox -m 128M --timeout "$GUARD" -- sh -c "$cmd_a") &

# --- B: a non-root caller
mkdir -p "$T/b" "$T/bin"
chmod 755 "$T" "$T/b" "$T/bin"
why_b=""
cp "$NKVM" "$T/bin/nkvm" && cp -L "$CACHE/vmlinux" "$CACHE/initramfs.cpio" "$T/bin/" ||
	why_b="cannot copy nkvm and the guest to $T"
chmod -R a+rX "$T/bin"
# shellcheck disable=SC2016
cmd_b='while read -r k a b; do case $k in Uid:|Gid:) echo "$k$a";; esac; done </proc/self/status; echo "cwd=$PWD"; kill -TERM $$; echo not-killed'
run_b() {
	local nk=("$T/bin/nkvm" sandbox -k "$T/bin/vmlinux" -i "$T/bin/initramfs.cpio"
		-m 128M --timeout "$GUARD" -- sh -c "$cmd_b")
	cd "$T/b" || return
	if [ "$(id -u)" != 0 ]; then
		sbx B /dev/null "${nk[@]}"
		return
	fi
	# root: nobody gets a /dev/kvm of its own in a private mount namespace
	# (the host's node and its permissions stay as they are)
	sbx B /dev/null unshare --mount --propagation private sh -c '
		mkdir -p "$0/dev" && mount -t tmpfs -o mode=755 nkvm-t "$0/dev" &&
		mknod -m 600 "$0/dev/kvm" c 10 232 && chown nobody "$0/dev/kvm" &&
		mount --bind "$0/dev/kvm" /dev/kvm &&
		exec setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"' "$T" "${nk[@]}"
}
if [ -z "$why_b" ] && [ "$(id -u)" = 0 ] && ! command -v setpriv >/dev/null; then
	why_b="no setpriv(1) to become nobody"
fi
[ -n "$why_b" ] || run_b &

# --- C: a terminal; Ctrl-C once the command runs
why_c=""
command -v script >/dev/null || why_c="no script(1) for a pseudo-terminal"
run_c() {
	local fifo=$T/c.fifo
	mkfifo "$fifo"
	(
		exec 3>"$fifo"
		for ((i = 0; i < OUTER; i++)); do
			grep -q sbx-ready "$T/C.out" 2>/dev/null && break
			sleep 1
		done
		sleep 2
		printf '\003' >&3
		sleep 600	# keep the pty's input open until nkvm is gone
	) &
	local feeder=$!
	# shellcheck disable=SC2016
	sbx C "$fifo" script -qefc "$NKVM sandbox -m 128M --timeout $GUARD -- sh -c '[ -t 0 ] && [ -t 1 ] && echo tty-yes; echo sbx-ready; read x; echo not-interrupted'" /dev/null
	kill "$feeder" 2>/dev/null
	wait "$feeder" 2>/dev/null
}
[ -n "$why_c" ] || run_c &
wait

# A
report A
bad=0
check "A: exit status 7 (the command's)" test "$(rc A)" = 7
{ cat "$T/a.in"; printf 'out\nxy\n'; } >"$T/a.want"
check "A: stdout is stdin (binary, $(stat -c %s "$T/a.in") bytes) then the command's lines, exactly" \
	cmp -s "$T/A.out" "$T/a.want"
check "A: stderr is exactly 'err'" test "$(cat "$T/A.err")" = err
check "A: writes in the sandbox succeeded (the command read them back)" \
	grep -q '^xy$' "$T/A.out"
check "A: the file written in the cwd is not on the host" test ! -e "$T/a/$marker"
check "A: the file written in /etc is not on the host" test ! -e "/etc/$marker"
[ "$bad" -eq 0 ] || show_sbx A

# B
if [ -n "$why_b" ]; then
	skip_all B "$why_b" "exit status 143" "uid and gid" "cwd" "killed" "stderr empty"
else
	report B
	bad=0
	if [ "$(id -u)" = 0 ]; then
		uid=$(id -u nobody) gid=$(getent group nogroup | cut -d: -f3)
	else
		uid=$(id -u) gid=$(id -g)
	fi
	check "B: exit status 143 (128+SIGTERM)" test "$(rc B)" = 143
	check "B: uid $uid, gid $gid" sh -c 'grep -qx "Uid:$1" "$3" && grep -qx "Gid:$2" "$3"' - \
		"$uid" "$gid" "$T/B.out"
	check "B: cwd is the caller's ($T/b)" grep -q "cwd=$T/b\$" "$T/B.out"
	check "B: nothing ran past the signal" not_in B.out not-killed
	check "B: stderr empty" test ! -s "$T/B.err"
	[ "$bad" -eq 0 ] || show_sbx B
fi

# C
if [ -n "$why_c" ]; then
	skip_all C "$why_c" "exit status 130" "a tty" "interrupted" "no nkvm error"
else
	report C
	bad=0
	tr -d '\r' <"$T/C.out" >"$T/C.txt"
	check "C: exit status 130 (Ctrl-C: SIGINT)" test "$(rc C)" = 130
	check "C: stdin and stdout are a terminal in the guest" grep -qx tty-yes "$T/C.txt"
	check "C: the command was interrupted" not_in C.txt not-interrupted
	check "C: no nkvm error" not_in C.txt nkvm:
	[ "$bad" -eq 0 ] || show_sbx C
fi

# nkvm sandbox errors that need no boot
check "a command not in PATH: exit 127" sh -c \
	"'$NKVM' sandbox -- nkvm-no-such-command-$$ 2>/dev/null; test \$? = 127"
check "no command: usage error, exit 2" sh -c "'$NKVM' sandbox 2>/dev/null; test \$? = 2"
check "--env with a bad name: exit 2" sh -c "'$NKVM' sandbox --env 1X -- true 2>/dev/null; test \$? = 2"
[ "$n" -eq "$planned" ] || echo "# planned $planned, ran $n"
exit $((failed > 0))
