#!/bin/bash
# t_9p.t: a virtio-9p share seen from a real Linux guest (the default
# guest), one boot, checked from the host:
#   - file operations: mkdir, create, write, read, rename, symlink, hard
#     link, unlink, rmdir, and what the host sees of each;
#   - a 100 MiB file of random bytes copied by the guest from the share to
#     the share (9p read and write paths), checksummed on the host;
#   - escape attempts: `..` past the mount, symlinks on the share pointing
#     outside it (relative, absolute, to /etc), and a directory the host
#     moves out of the share while the guest's shell sits in it: the
#     guest never reads the host's secret next to the share, and keeps no
#     more than the moved directory's own subtree.
# Prints TAP for prove; see lib-linux.sh.

# shellcheck disable=SC2016 # $(..) is for the guest
# shellcheck source=tests/integ/lib-linux.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib-linux.sh"

planned=16
echo "1..$planned"

S=$T/share
mkdir -p "$S/sub" "$T/away"
echo "host-secret-$$-outside" >"$T/outside-secret"
head -c 100M /dev/urandom >"$S/big"
big_md5=$(md5sum <"$S/big" | cut -d' ' -f1)
ln -s ../outside-secret "$S/esc-rel"
ln -s "$T/outside-secret" "$S/esc-abs"
ln -s /etc "$S/etclink"
echo in-sub-file >"$S/sub/file"

# move_sub: once the guest's shell sits in /mnt/sub, move that directory
# out of the share on the host, then tell the guest through a flag file.
move_sub() {
	wait_console C '^in-sub$' || return
	mv "$S/sub" "$T/away/sub" && : >"$S/moved-flag"
}

# No double quotes in the guest script: it travels in nkvm.cmd="...".
guest='mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288 s /mnt || exit 3; cd /mnt;
mkdir d1 && echo one >d1/f && mv d1/f d1/g && ln -s g d1/sym && ln d1/g d1/hard && echo gone >d1/rmme && rm d1/rmme && mkdir d2 && rmdir d2 && echo ops-done;
echo sym=$(cat d1/sym) link=$(readlink d1/sym);
cat /mnt/../outside-secret /mnt/../../outside-secret /mnt/esc-rel /mnt/esc-abs 2>/dev/null; echo etc: $(ls /mnt/etclink/);
cd /mnt/sub && echo in-sub && i=0 && while [ ! -e /mnt/moved-flag ] && [ $i -lt 600 ]; do sleep 1; i=$((i+1)); done;
echo after-move: $(ls -a ..); cat ../outside-secret ../../outside-secret 2>/dev/null; cat file 2>/dev/null; echo x >escaped 2>/dev/null; cd /;
dd if=/mnt/big of=/mnt/big2 bs=1M 2>/dev/null && echo copy-done; exit 5'

echo "# booting C (a 9p share: file operations, 100 MiB copy, escape attempts)"
boot C "" -m 256M --net none --share "$S:s" -p "nkvm.cmd=\"${guest//$'\n'/ }\"" &
move_sub &
wait

start C 5
check "boot C: mkdir, create, rename, symlink, link, unlink, rmdir in the guest" \
	has C '^ops-done$'
check "boot C: the guest reads through its own symlink" has C '^sym=one link=g$'
ok "$([ "$(cat "$S/d1/g" 2>/dev/null)" = one ] && [ "$(readlink "$S/d1/sym")" = g ] &&
	[ "$(stat -c %i "$S/d1/g")" = "$(stat -c %i "$S/d1/hard" 2>/dev/null)" ]; echo $?)" \
	"boot C: the host sees the renamed file, the symlink and the hard link"
ok "$([ ! -e "$S/d1/f" ] && [ ! -e "$S/d1/rmme" ] && [ ! -e "$S/d2" ]; echo $?)" \
	"boot C: what the guest renamed, unlinked and removed is gone on the host"
check "boot C: the guest copied a 100 MiB file through the share" has C '^copy-done$'
ok "$([ "$(md5sum <"$S/big2" 2>/dev/null | cut -d' ' -f1)" = "$big_md5" ]; echo $?)" \
	"boot C: the host's checksum of the guest's copy matches the original"
check "boot C: the guest never read the host's secret outside the share" \
	lacks C "host-secret-$$"
check "boot C: the /etc symlink on the share shows the guest's /etc, not the host's" \
	lacks C '^etc: .*(debian_version|os-release)'
check "boot C: the guest's shell was in the directory the host moved away" \
	has C '^in-sub$'
check "boot C: after the move, the guest's .. is still the share root" \
	has C '^after-move: .*big'
# The guest keeps what its directory fid reached (see src/fs/p9_path.c):
# the moved directory's own subtree, nothing above it.
ok "$([ ! -e "$T/away/escaped" ] && [ ! -e "$T/escaped" ]; echo $?)" \
	"boot C: nothing the guest wrote landed above the moved-away directory"
ok "$([ "$(ls "$T" | grep -vcE '^(C\.[a-z]+|away|outside-secret|share)$')" = 0 ]; echo $?)" \
	"boot C: nothing appeared next to the share"
finish C 5

[ "$n" -eq "$planned" ] || echo "# planned $planned tests, ran $n"
exit $((failed > 0))
