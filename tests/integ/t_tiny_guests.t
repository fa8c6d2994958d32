#!/bin/bash
# t_tiny_guests.t: boot each tiny test guest (tests/guests/*.S) under nkvm
# and check its exit status and what it printed.  Prints TAP for prove.
#
# Environment: NKVM (the binary, default build/nkvm), NKVM_BUILD (the build
# dir holding tests/guests/*.elf, default the directory of $NKVM).
# Skips everything when /dev/kvm cannot be opened read-write.

set -u

NKVM=${NKVM:-build/nkvm}
NKVM_BUILD=${NKVM_BUILD:-$(dirname "$NKVM")}
GUESTS=$NKVM_BUILD/tests/guests
GUARD=60	# --timeout for every boot: a hang fails, it does not block

if ! [ -c /dev/kvm ] || ! (exec 3<>/dev/kvm) 2>/dev/null; then
	echo "1..0 # SKIP /dev/kvm is missing or not usable by $(id -un)"
	exit 0
fi
if ! [ -x "$NKVM" ]; then
	echo "Bail out! no nkvm binary at $NKVM (run make)"
	exit 1
fi
for g in hello irq badport trivial triple halt hang reset blk badring; do
	if ! [ -f "$GUESTS/$g.elf" ]; then
		echo "Bail out! missing $GUESTS/$g.elf (run make guests)"
		exit 1
	fi
done

T=$(mktemp -d "${TMPDIR:-/tmp}/nkvm-tiny.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT

n=0
failed=0
bad=0
# check DESCRIPTION COMMAND...: one TAP line from the command's status.
check() {
	local desc=$1
	shift
	n=$((n + 1))
	if "$@"; then
		echo "ok $n - $desc"
		return 0
	fi
	echo "not ok $n - $desc"
	failed=$((failed + 1))
	bad=1
	return 1
}
diag() { sed 's/^/# /' >&2; }
no_notes() { ! grep -q 'nkvm-guest: \(unexpected\|survived\|lint0\)' "$1"; }
in_range() { awk -v s="$1" -v a="$2" -v b="$3" 'BEGIN { exit !(s >= a && s < b) }'; }

# boot NAME [nkvm run options...]: run guest NAME; sets rc, out, err, secs.
boot() {
	local name=$1 start guard=(--timeout "$GUARD")
	shift
	[[ " $* " == *" --timeout "* ]] && guard=()
	out=$T/$name.out
	err=$T/$name.err
	start=$EPOCHREALTIME
	"$NKVM" run -k "$GUESTS/$name.elf" "${guard[@]}" "$@" \
		</dev/null >"$out" 2>"$err"
	rc=$?
	secs=$(awk -v a="$start" -v b="$EPOCHREALTIME" \
		'BEGIN { printf "%.2f", b - a }')
	tr -d '\r' <"$out" >"$out.txt"
	bad=0
}

# show: dump the last boot's status and output as TAP diagnostics.
show() {
	{
		echo "exit status $rc after ${secs}s"
		echo "--- stdout:"
		head -c 2000 "$out"
		echo "--- stderr:"
		head -c 4000 "$err"
	} | diag
}

# expect_boot NAME STATUS MARKER [options...]: three checks per boot.
expect_boot() {
	local name=$1 want=$2 marker=$3
	shift 3
	boot "$name" "$@"
	check "$name${*:+ $*}: exit status $want (got $rc, ${secs}s)" \
		test "$rc" -eq "$want"
	check "$name${*:+ $*}: stdout has '$marker'" grep -qxF "$marker" "$out.txt"
	check "$name${*:+ $*}: no unexpected-vector/survived/lint0 notes" \
		no_notes "$out.txt"
	[ "$bad" -eq 0 ] || show
}

# Serial output polled on LSR.THRE, exit port 0x501.
expect_boot hello 42 "nkvm-guest: hello"
# The same with two vCPUs and less RAM: the AP must not get in the way.
expect_boot hello 42 "nkvm-guest: hello" -c 2 -m 128M

# PIC (remapped to 0x20) + LAPIC LINT0 ExtINT + 16550 THRE interrupt on
# IRQ 4, taken from sti; hlt.  "lint0 not extint" would mean nkvm did not
# program LINT0 on vCPU 0.
expect_boot irq 43 "nkvm-guest: irq"

# Unclaimed port and MMIO: writes dropped, reads all ones.
expect_boot badport 44 "nkvm-guest: unhandled ok"

# The benchmark guest: the exit port with value 0 ends it with status 0.
expect_boot trivial 0 "nkvm-guest: ready"

# i8042 reset (Linux's reboot=k): exit 0, no crash dump, the exit port
# (46) after it is never reached.
expect_boot reset 0 "nkvm-guest: reset"
check "reset: no register dump on stderr" sh -c "! grep -q RIP '$err'"

# Triple fault: exit 1 and a register dump naming the shutdown on stderr.
boot triple
check "triple: exit status 1 (got $rc, ${secs}s)" test "$rc" -eq 1
check "triple: the guest ran up to the fault" \
	grep -qxF "nkvm-guest: triple fault next" "$out.txt"
check "triple: stderr mentions the shutdown / triple fault" \
	grep -qiE 'shutdown|triple' "$err"
check "triple: stderr has a register dump (rip, cr0)" \
	grep -qiE '\b[re]?ip\b.*[0-9a-f]{4}' "$err"
[ "$bad" -eq 0 ] || show

# halt: hlt with interrupts off never wakes up: nkvm must see that the
# guest is halted for good and end it with status 0, well before the guard.
expect_boot halt 0 "nkvm-guest: halt"

# blk: a polling virtio-blk driver on two disks, rw then ro (windows
# 0xd0000000 and 0xd0001000).  The images repeat a 16-byte line; the guest
# checks the rw disk's sector 1, overwrites it with "nkvm-sector1-XX\n"
# (XX = 00..1f), flushes, reads it back, reads past the end (IOERR), asks
# for the serial (GET_ID); on the ro disk it reads sector 0 and a write must
# fail.  Exit 64; any other status names the failing step (see blk.S).
yes nkvm-rw-disk-ok | head -c 65536 >"$T/rw.img"
yes nkvm-ro-disk-ok | head -c 65536 >"$T/ro.img"
cp "$T/rw.img" "$T/rw.orig"
cp "$T/ro.img" "$T/ro.orig"
printf 'nkvm-sector1-%02x\n' $(seq 0 31) >"$T/sector1"
boot blk --disk "path=$T/rw.img,serial=tiny-serial" --disk "path=$T/ro.img,ro=on"
check "blk: exit status 64 (got $rc, ${secs}s)" test "$rc" -eq 64
check "blk: stdout has 'nkvm-guest: blk ok'" \
	grep -qxF "nkvm-guest: blk ok" "$out.txt"
check "blk: the rw image's sector 1 holds what the guest wrote" \
	cmp -s -n 512 -i 512:0 "$T/rw.img" "$T/sector1"
check "blk: the rest of the rw image is unchanged" \
	sh -c "cmp -s -n 512 '$T/rw.img' '$T/rw.orig' && cmp -s -i 1024 '$T/rw.img' '$T/rw.orig'"
check "blk: the ro image is byte-identical" cmp -s "$T/ro.img" "$T/ro.orig"
check "blk: no device warnings on stderr (the driver broke no rule)" \
	sh -c "! grep -q 'warning: blk' '$err'"
[ "$bad" -eq 0 ] || show

# badring: a hostile driver posts a self-looping descriptor, a buffer far
# outside RAM, and an avail index too far ahead; each time the device must
# set NEEDS_RESET with a config interrupt, and work again after a reset.
# nkvm must survive all three: the exit status is the guest's (0x41).
cp "$T/rw.orig" "$T/bad.img"
boot badring --disk "path=$T/bad.img"
check "badring: exit status 65 (got $rc, ${secs}s)" test "$rc" -eq 65
check "badring: stdout has 'nkvm-guest: badring ok'" \
	grep -qxF "nkvm-guest: badring ok" "$out.txt"
check "badring: stderr has the device's 'needs reset' warning" \
	grep -q 'blk0: .*device needs reset' "$err"
check "badring: no register dump on stderr" sh -c "! grep -q RIP '$err'"
check "badring: the image is unchanged" cmp -s "$T/bad.img" "$T/rw.orig"
[ "$bad" -eq 0 ] || show

# hang: spins for ever.  --timeout must end it with 124 ...
boot hang --timeout 2
check "hang --timeout 2: exit status 124 (got $rc)" test "$rc" -eq 124
check "hang --timeout 2: ended after about 2 s (${secs}s)" \
	in_range "$secs" 1.5 20
[ "$bad" -eq 0 ] || show

# ... and SIGTERM must end it with 128 + 15, once the guest has run.
bad=0
out=$T/term.out
err=$T/term.err
"$NKVM" run -k "$GUESTS/hang.elf" --timeout "$GUARD" \
	</dev/null >"$out" 2>"$err" &
pid=$!
for _ in $(seq 300); do
	grep -q "nkvm-guest: hang" "$out" && break
	sleep 0.1
done
check "hang: the guest printed its marker before SIGTERM" \
	grep -q "nkvm-guest: hang" "$out"
start=$EPOCHREALTIME
kill -TERM "$pid" 2>/dev/null
# Give nkvm 20 s to go, then make sure it is gone.
for _ in $(seq 200); do
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
wait "$pid"
rc=$?
secs=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
check "hang + SIGTERM: exit status 143 (got $rc, ${secs}s after the signal)" \
	test "$rc" -eq 143
[ "$bad" -eq 0 ] || show

echo "1..$n"
exit $((failed > 0))
