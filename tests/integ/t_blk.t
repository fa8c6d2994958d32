#!/bin/bash
# t_blk.t: virtio-blk, virtio-rng and virtio-console seen from a real Linux
# guest (the default guest), checked from the host after the VM exits.
#   A: three disks and --rng, nkvm.cmd: an ext4 image made on the host (the
#      guest writes a file and runs fstrim after deleting a 16 MiB file the
#      host put there), a read-only disk (contents, ro flag, refused write),
#      a blank disk the guest formats itself (busybox mke2fs: ext2), the
#      disk serial, /dev/hwrng.
#   B: --console virtio: an interactive shell on hvc0; two 9p shares (the
#      guest reads and writes one, and is refused writing to the ro=on
#      one); the guest writes to a raw disk with fsync and is then stopped
#      with SIGTERM: the data must be in the image. While B runs, a second
#      nkvm must refuse its disk.
# Both boot in parallel. Prints TAP for prove; see lib-linux.sh.

# shellcheck disable=SC2016 # $((..)) and $(..) are for the guest
# shellcheck source=tests/integ/lib-linux.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib-linux.sh"

for tool in mkfs.ext4 debugfs e2fsck md5sum; do
	if ! command -v "$tool" >/dev/null; then
		echo "1..0 # SKIP $tool not installed (e2fsprogs, coreutils)"
		exit 0
	fi
done

planned=30
echo "1..$planned"

# --- images -----------------------------------------------------------
# A's vda: ext4 made here, with a 16 MiB file of random data to delete
# and trim in the guest; blocks are counted before and after.
head -c 16M /dev/urandom >"$T/big"
truncate -s 64M "$T/a-root.img"
mkfs.ext4 -q -F -E nodiscard "$T/a-root.img"
debugfs -w -R "write $T/big big" "$T/a-root.img" >/dev/null 2>&1
blocks_before=$(stat -c %b "$T/a-root.img")
# A's vdb: read-only, random contents
head -c 8M /dev/urandom >"$T/a-ro.img"
ro_md5=$(md5sum <"$T/a-ro.img" | cut -d' ' -f1)
# A's vdc: blank, the guest formats it
truncate -s 32M "$T/a-blank.img"
# B's vda: raw, the guest writes a marker with fsync
truncate -s 16M "$T/b-raw.img"
# B's shares: one read-write, one read-only (nkvm refuses writes)
mkdir -p "$T/share/sub" "$T/roshare"
echo host-says-hello >"$T/share/hello"
echo read-only-data >"$T/roshare/ro-file"

# fsck_clean IMAGE: e2fsck -f finds nothing to fix (its chatter not shown).
fsck_clean() { e2fsck -fn "$1" >/dev/null 2>&1; }

# kill_when NAME REGEX: once the console of boot NAME has a line matching
# REGEX, try a second nkvm on B's disk (must be refused), then SIGTERM the
# boot (its nkvm and the timeout(1) around it, found by the image path).
kill_when() {
	wait_console "$1" "$2" || return
	"$NKVM" run --disk "path=$T/b-raw.img" </dev/null >"$T/lock.out" 2>&1
	echo $? >"$T/lock.rc"
	pkill -TERM -f "disk path=$T/b-raw.img,serial" || true
}

echo "# booting A (3 disks, --rng) and B (--console virtio, SIGTERM) in parallel"
boot A "" -m 256M --rng \
	--disk "path=$T/a-root.img,serial=nkvm-serial-A" \
	--disk "path=$T/a-ro.img,ro=on" \
	--disk "path=$T/a-blank.img" \
	-p 'nkvm.cmd="echo serial=$(cat /sys/block/vda/serial); echo ro=$(cat /sys/block/vdb/ro); md5sum /dev/vdb; dd if=/dev/zero of=/dev/vdb bs=512 count=1 conv=fsync 2>/dev/null && echo ro-write-accepted || echo ro-write-refused; mount /dev/vda /mnt && dd if=/dev/hwrng of=/mnt/rand bs=4096 count=16 2>/dev/null && md5sum /mnt/rand && rm /mnt/big && sync && fstrim /mnt && echo trimmed; umount /mnt; mke2fs -q /dev/vdc && mount /dev/vdc /mnt && echo guest-made > /mnt/g && umount /mnt && echo mkfs-done; exit 9"' &
boot B 'cat /sys/class/tty/console/active; M="mount -t 9p -o trans=virtio,version=9p2000.L"; $M rw /mnt && cat /mnt/hello && echo guest-wrote >/mnt/sub/out && ls /mnt/sub; mkdir /r; $M ro /r && cat /r/ro-file && { echo x >/r/new 2>/dev/null && echo ro-write-accepted || echo ro-write-refused; }; echo persist-$((6*7)) | dd of=/dev/vda conv=fsync 2>/dev/null; echo written-$((6*7)); sleep 1000' \
	-m 128M --console virtio --disk "path=$T/b-raw.img,serial=b" \
	--share "$T/share:rw" --share "$T/roshare:ro,ro=on" &
kill_when B '^written-42$' &
wait

# A ---------------------------------------------------------------------
start A 9
check "boot A: the disk serial reaches the guest" has A '^serial=nkvm-serial-A$'
check "boot A: vdb is read-only in the guest" has A '^ro=1$'
check "boot A: the guest reads the read-only disk's exact bytes" has A "^$ro_md5  /dev/vdb\$"
check "boot A: a write to the read-only disk is refused" has A '^ro-write-refused$'
ok "$([ "$(md5sum <"$T/a-ro.img" | cut -d' ' -f1)" = "$ro_md5" ]; echo $?)" \
	"boot A: the read-only image is unchanged"
check "boot A: e2fsck -f finds the guest-written ext4 image clean" \
	fsck_clean "$T/a-root.img"
debugfs -R "dump /rand $T/rand" "$T/a-root.img" >/dev/null 2>&1
rand_md5=$( [ -s "$T/rand" ] && md5sum <"$T/rand" | cut -d' ' -f1)
check "boot A: the host reads the file the guest wrote (hwrng bytes, same md5)" \
	has A "^${rand_md5:-none}  /mnt/rand\$"
check "boot A: fstrim ran in the guest" has A '^trimmed$'
blocks_after=$(stat -c %b "$T/a-root.img")
echo "# boot A: image blocks before $blocks_before, after $blocks_after (512-byte units)"
# 16 MiB deleted and trimmed = 32768 blocks; the guest's new 64 KiB file
# and metadata are far less than half of that
ok "$((blocks_after > blocks_before - 16384))" \
	"boot A: fstrim made the image file sparser (discard punched holes)"
check "boot A: the guest formatted and wrote the blank disk" has A '^mkfs-done$'
check "boot A: e2fsck -f finds the guest-made file system clean" \
	fsck_clean "$T/a-blank.img"
ok "$([ "$(debugfs -R 'cat /g' "$T/a-blank.img" 2>/dev/null)" = guest-made ]; echo $?)" \
	"boot A: the host reads the guest's file on the guest-made file system"
finish A 9

# B ---------------------------------------------------------------------
start B 143
check "boot B: the guest's console is hvc0" has B '^hvc0$'
check "boot B: the shell on hvc0 ran the typed commands" has B '^written-42$'
check "boot B: the guest reads a host file through the 9p share" has B '^host-says-hello$'
ok "$([ "$(cat "$T/share/sub/out" 2>/dev/null)" = guest-wrote ]; echo $?)" \
	"boot B: a file the guest wrote on the share is on the host"
check "boot B: the guest reads the read-only share" has B '^read-only-data$'
check "boot B: nkvm refuses a write to the read-only share" has B '^ro-write-refused$'
ok "$([ "$(ls "$T/roshare")" = ro-file ]; echo $?)" \
	"boot B: the read-only share's directory is unchanged"
ok "$([ "$(head -c 11 "$T/b-raw.img")" = persist-42 ]; echo $?)" \
	"boot B: data synced in the guest is in the image after SIGTERM"
ok "$([ "$(cat "$T/lock.rc" 2>/dev/null)" = 2 ]; echo $?)" \
	"a second nkvm on a disk in use exits 2"
check "the refusal names the image and says it is in use" \
	grep -q "b-raw.img.*in use" "$T/lock.out"
[ "$bad" -eq 0 ] || { echo "second nkvm:"; cat "$T/lock.out"; } | diag
finish B 143

[ "$n" -eq "$planned" ] || echo "# planned $planned tests, ran $n"
exit $((failed > 0))
