#!/bin/bash
# fs.sh: sequential throughput of one large file through virtio-fs (--fs,
# nkvm starting QEMU's virtiofsd) and through virtio-9p (--share) of the
# same host directory, in one boot of the default guest.  A benchmark, not
# a test: it prints numbers, it judges none.  Needs root (virtiofsd does).
#
# usage: bench/fs.sh [-s MIB] [-d DIR] [-m MEM]
#   -s MIB  file size (default 64)
#   -d DIR  where the shared directory goes (default /var/tmp)
#   -m MEM  guest RAM (default 256M; drop_caches empties the guest page
#           cache before each read)
# Environment: NKVM (default build/nkvm).
#
# In the guest (busybox dd, 1 MiB blocks), for each mount in turn:
#   write: dd if=/dev/zero of=MNT/w.TAG bs=1M count=MIB conv=fsync
#   read:  echo 3 >/proc/sys/vm/drop_caches;
#          dd if=MNT/r.host of=/dev/null bs=1M      (a file the host made)
# virtio-fs is mounted `mount -t virtiofs vfs /v` (virtiofsd -o cache=auto),
# 9p `mount -t 9p -o trans=virtio,version=9p2000.L p9 /p` (nkvm's
# defaults); the kernel's msize is printed.  The host file is in the
# host's page cache for both reads.  Times come from the guest's clock
# (/proc/uptime before and after each dd: this busybox's dd prints no
# timing line).
#
# On a PVM host the guest kernel is emulated (DESIGN.md section 5): FUSE
# and 9p both run their request paths in the guest kernel, so these
# numbers say more about the emulator than about the back ends.

set -u
NKVM=${NKVM:-build/nkvm}
MIB=64
DIR=/var/tmp
MEM=256M
while getopts s:d:m: o; do
	case $o in
	s) MIB=$OPTARG ;;
	d) DIR=$OPTARG ;;
	m) MEM=$OPTARG ;;
	*) sed -n '5,11p' "$0"; exit 2 ;;
	esac
done

W=$(mktemp -d "$DIR/nkvm-bench-fs.XXXXXX") || exit 1
trap 'rm -rf "$W"' EXIT
head -c "${MIB}M" /dev/urandom >"$W/r.host"
cat "$W/r.host" >/dev/null
cat >"$W/run.sh" <<EOF
mkdir -p /p
mount -t 9p -o trans=virtio,version=9p2000.L p9 /p || echo "9p mount failed"
grep -E ' (/v|/p) ' /proc/mounts
# busybox dd prints no timing line here: time each with /proc/uptime
t() { cut -d' ' -f1 /proc/uptime; }
rate() { awk -v a=\$1 -v b=\$2 'BEGIN { printf "%.1f s, %.2f MiB/s", b - a, $MIB / (b - a) }'; }
for m in /v /p; do
	a=\$(t); dd if=/dev/zero of=\$m/w.\${m#/} bs=1M count=$MIB conv=fsync 2>/dev/null; b=\$(t)
	echo "== \$m write $MIB MiB: \$(rate \$a \$b)"
	echo 3 >/proc/sys/vm/drop_caches
	a=\$(t); dd if=\$m/r.host of=/dev/null bs=1M 2>/dev/null; b=\$(t)
	echo "== \$m read $MIB MiB: \$(rate \$a \$b)"
done
EOF
echo "# $(date -u +%FT%TZ) $(uname -r) $(nproc) CPUs, load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $MIB MiB file in $DIR, guest RAM $MEM"
"$NKVM" run -m "$MEM" --net none --timeout 3000 --fs "$W:vfs" --share "$W:p9" \
	-p 'nkvm.cmd="mkdir -p /v && mount -t virtiofs vfs /v && sh /v/run.sh"' \
	</dev/null 2>&1 | tr -d '\r' | grep -E '^(==|[0-9]+ bytes|.* /[vp] |9p|nkvm: )'
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
