#!/bin/bash
# t_fs.t: virtio-fs through vhost-user (--fs HOSTDIR:TAG, nkvm starting
# QEMU's virtiofsd), seen from a real Linux guest, and --fs's error paths.
#   Without a boot: a missing virtiofsd binary, bad --fs values, a
#   virtiofsd that exits at once: exit 2, one line on stderr, nothing left
#   in $TMPDIR, no virtiofsd left running; nkvm killed with SIGKILL takes
#   its virtiofsd with it; a back end that never answers is given up on.
#   One boot: the guest mounts the tag, reads a host file, writes one the
#   host sees, makes a directory, renames and deletes files, reads a 4 MiB
#   host file and writes a 4 MiB file, checksummed on both sides. Then the
#   host kills virtiofsd while the guest keeps using the mount: nkvm must
#   stop with exit status 3 and one error line, leaving nothing behind.
# Needs root (QEMU's virtiofsd does). Prints TAP for prove; see
# lib-linux.sh.

# shellcheck disable=SC2016 # $(..) in the guest script is the guest's
# shellcheck source=tests/integ/lib-linux.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib-linux.sh"

VIRTIOFSD=/usr/lib/qemu/virtiofsd
if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP QEMU's virtiofsd needs root"
	exit 0
fi
if ! [ -x "$VIRTIOFSD" ]; then
	echo "1..0 # SKIP no $VIRTIOFSD (Debian package qemu-system-common)"
	exit 0
fi

planned=36
echo "1..$planned"

TD=$T/tmp	# nkvm's TMPDIR: must stay empty
D=$T/share	# the shared directory
mkdir -p "$TD" "$D"

# virtiofsd_of DIR: pids of the virtiofsd processes serving DIR.
virtiofsd_of() { pgrep -f -- "source=$1( |$)" || true; }

# --- error paths, no boot ----------------------------------------------
# bad NAME WANT_REGEX ARGS...: nkvm run ARGS exits 2 with exactly one
# "nkvm:" line on stderr matching WANT_REGEX, leaving $TD empty and no
# virtiofsd behind.
bad() {
	local name=$1 want=$2 rc lines
	shift 2
	TMPDIR=$TD "$NKVM" run --net none "$@" </dev/null >"$T/bad.out" 2>"$T/bad.err"
	rc=$?
	lines=$(wc -l <"$T/bad.err")
	if [ "$rc" -eq 2 ] && [ "$lines" -eq 1 ] && grep -Eq -- "^nkvm: .*$want" "$T/bad.err" &&
		[ -z "$(ls -A "$TD")" ] && [ -z "$(virtiofsd_of "$D")" ]; then
		ok 0 "$name: exit 2, one line"
	else
		ok 1 "$name: exit 2, one line"
		{ echo "exit $rc, $lines lines:"; cat "$T/bad.err"; ls -A "$TD"; } | diag
	fi
}

bad "missing virtiofsd binary" "virtiofsd /nonexistent/virtiofsd: No such file" \
	--fs "$D:x" --virtiofsd /nonexistent/virtiofsd
bad "no tag" "expected HOSTDIR:TAG" --fs "$D"
bad "empty tag" "expected HOSTDIR:TAG" --fs "$D:"
bad "tag of 37 characters" "1 to 36 characters" --fs "$D:$(printf 'a%.0s' {1..37})"
bad "missing directory" "--fs $T/nope: No such file" --fs "$T/nope:x"
bad "a file, not a directory" "not a directory" --fs "$T/bad.out:x"
bad "ro=on is refused (virtiofsd has no read-only mode)" "ro: not supported" --fs "$D:x,ro=on"
bad "bad cache mode" "cache='sometimes'" --fs "$D:x,cache=sometimes"
bad "unknown key" "unknown key 'foo'" --fs "$D:x,foo=1"
bad "the same tag twice" "tag 'x' used twice" --fs "$D:x" --fs "$D:x"
bad "socket= without a tag" "socket=PATH,tag=TAG" --fs "socket=$T/s"
bad "socket= that does not exist" "socket=$T/s: cannot connect" --fs "socket=$T/s,tag=x"
bad "a virtiofsd that exits at once" "exited with status 1 before it answered" \
	--fs "$D:x" --virtiofsd /bin/false

# nkvm killed with SIGKILL while it boots: PR_SET_PDEATHSIG ends virtiofsd.
mkdir -p "$T/k"
TMPDIR=$TD "$NKVM" run --net none --fs "$T/k:k" </dev/null >/dev/null 2>&1 &
kpid=$!
for ((i = 0; i < 100; i++)); do
	[ -n "$(virtiofsd_of "$T/k")" ] && break
	sleep 0.1
done
ok "$([ -n "$(virtiofsd_of "$T/k")" ]; echo $?)" "SIGKILL: virtiofsd started"
kill -KILL "$kpid"
wait "$kpid" 2>/dev/null
for ((i = 0; i < 50; i++)); do
	[ -z "$(virtiofsd_of "$T/k")" ] && break
	sleep 0.1
done
ok "$([ -z "$(virtiofsd_of "$T/k")" ]; echo $?)" "SIGKILL of nkvm: its virtiofsd is gone too"
ok "$([ -z "$(ls -A "$TD")" ]; echo $?)" "SIGKILL of nkvm: no socket or directory left in TMPDIR"

# A back end that takes the connection and never answers (a stopped
# virtiofsd): nkvm gives up at its 10 s deadline.
"$VIRTIOFSD" --socket-path="$T/stuck.sock" -o source="$T/k" -o log_level=err \
	</dev/null 2>/dev/null &
spid=$!
for ((i = 0; i < 100; i++)); do
	[ -S "$T/stuck.sock" ] && break
	sleep 0.1
done
kill -STOP "$spid"
bad "a back end that never answers" "socket=$T/stuck.sock: .*no answer in time" \
	--fs "socket=$T/stuck.sock,tag=x"
kill -KILL "$spid"
wait "$spid" 2>/dev/null

# --- the boot -----------------------------------------------------------
echo from-the-host >"$D/host.txt"
echo to-rename >"$D/old-name"
echo to-delete >"$D/doomed"
head -c 4M /dev/urandom >"$D/big-host"
host_big=$(sha256sum <"$D/big-host" | cut -d' ' -f1)
# The guest's part: one result line each, then it keeps using the mount
# until the host kills virtiofsd.
cat >"$D/check.sh" <<'EOF'
r() { if [ "$1" = 0 ]; then echo "R $2 ok"; else echo "R $2 fail"; fi; }
grep -q '^data /mnt virtiofs' /proc/mounts; r $? mounted
[ "$(cat /mnt/host.txt)" = from-the-host ]; r $? read
echo from-the-guest >/mnt/guest.txt; r $? write
mkdir /mnt/newdir; r $? mkdir
mv /mnt/old-name /mnt/newdir/new-name; r $? rename
rm /mnt/doomed; r $? unlink
[ ! -e /mnt/doomed ] && [ -f /mnt/newdir/new-name ]; r $? guest-view
echo "H $(sha256sum /mnt/big-host)"
# 4 MiB made in user space (a /dev/urandom read runs the guest kernel's
# ChaCha20, emulated on a PVM host: minutes)
awk 'BEGIN { srand(); for (i = 0; i < 65536; i++)
	printf "%08x%055d\n", int(rand() * 4294967295), i }' >/tmp/g
echo "G $(sha256sum /tmp/g)"
cp /tmp/g /mnt/big-guest && sync; r $? big-write
echo "nkvm-fs: checks done"
while :; do ls /mnt >/dev/null; sleep 1; done
EOF

TMPDIR=$TD boot fs 'mount -t virtiofs data /mnt && sh /mnt/check.sh' \
	--net none --fs "$D:data" &
bootpid=$!
if wait_console fs 'nkvm-fs: checks done'; then
	sleep 2	# the guest is in its loop over the mount
	# shellcheck disable=SC2046 # one pid per word
	kill -KILL $(virtiofsd_of "$D") 2>/dev/null
fi
wait "$bootpid"

rc=$(cat "$T/fs.rc")
echo "# boot fs: exit status $rc after $(cat "$T/fs.secs")s"
check "boot fs: console shows nkvm-init: ready" has fs 'nkvm-init: ready'
for c in mounted read write mkdir rename unlink guest-view big-write; do
	check "boot fs: guest check $c" has fs "^R $c ok$"
done
ok "$([ "$(cat "$D/guest.txt" 2>/dev/null)" = from-the-guest ]; echo $?)" \
	"boot fs: the file the guest wrote is on the host"
ok "$([ -d "$D/newdir" ] && [ "$(cat "$D/newdir/new-name" 2>/dev/null)" = to-rename ] &&
	! [ -e "$D/old-name" ]; echo $?)" "boot fs: mkdir and rename seen on the host"
ok "$([ ! -e "$D/doomed" ]; echo $?)" "boot fs: unlink seen on the host"
guest_read=$(sed -n 's/^H \([0-9a-f]*\) .*/\1/p' "$T/fs.txt")
ok "$([ -n "$guest_read" ] && [ "$guest_read" = "$host_big" ]; echo $?)" \
	"boot fs: a 4 MiB host file reads back with the same sha256 in the guest"
guest_sum=$(sed -n 's/^G \([0-9a-f]*\) .*/\1/p' "$T/fs.txt")
host_sum=$(sha256sum <"$D/big-guest" 2>/dev/null | cut -d' ' -f1)
ok "$([ -n "$guest_sum" ] && [ "$guest_sum" = "$host_sum" ]; echo $?)" \
	"boot fs: a 4 MiB file the guest wrote has the same sha256 on the host"
ok "$((rc != 3))" "virtiofsd killed while the guest uses the mount: nkvm exits 3"
ok "$([ "$(grep -c '^nkvm: ' "$T/fs.err")" = 1 ] &&
	grep -q '^nkvm: --fs data: the vhost-user back end closed its connection.*stopping the VM (exit status 3)$' "$T/fs.err"
	echo $?)" "  with one error line naming the tag"
ok "$([ -z "$(virtiofsd_of "$D")" ]; echo $?)" "  no virtiofsd left running"
ok "$([ -z "$(ls -A "$TD")" ]; echo $?)" "  nothing left in TMPDIR"
check "boot fs: no Kernel panic on the console" lacks fs 'Kernel panic'
[ "$bad" -eq 0 ] || show fs

[ "$n" -eq "$planned" ] || echo "# planned $planned, ran $n"
exit $((failed > 0))
