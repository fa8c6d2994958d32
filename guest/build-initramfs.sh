#!/usr/bin/env bash
# Build nkvm's default initramfs: static nkvm-init as /init, Debian's
# busybox-static with the applets in applets.txt, /dev/console and a
# minimal /etc. Output: $NKVM_CACHE/initramfs-<hash>.cpio, an UNCOMPRESSED
# newc archive (decompressing in the guest is emulated, slow kernel work on
# a PVM host). /sbx/* are nkvm sandbox's mount points. The hash covers
# this script, nkvm-init.c, initcmd.h, sandbox_proto.h,
# mkcpio.c, applets.txt and busybox's package version, so unchanged inputs
# are never rebuilt. Prints the output path on stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${NKVM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nkvm}
busybox=/bin/busybox
cc=${CC:-cc}
# musl makes /init ~20 KiB instead of glibc's ~700 KiB; every byte of the
# initramfs is unpacked by the emulated guest kernel (seconds per MiB).
initcc=${INIT_CC:-$(command -v musl-gcc || echo "$cc")}

die() {
	echo "build-initramfs: $*" >&2
	exit 1
}

bbver=$(dpkg-query -W -f='${Status} ${Version}' busybox-static 2>/dev/null || true)
case "$bbver" in
"install ok installed "*) ;;
*) die "package busybox-static is not installed: run scripts/deps" ;;
esac
[ -x "$busybox" ] || die "$busybox missing (package busybox-static): run scripts/deps"

inputs=("$here/build-initramfs.sh" "$here/nkvm-init.c" "$here/initcmd.h" "$here/sandbox_proto.h" "$here/mkcpio.c" "$here/applets.txt"
	"$here/nkvm-net.sh" "$here/udhcpc.script" "$here/nkvm-vsock.c")
hash=$( (cat "${inputs[@]}"; echo "busybox-static $bbver init-cc ${initcc##*/}") | sha256sum | cut -c1-16)
out="$cache/initramfs-$hash.cpio"
if [ -f "$out" ]; then
	echo "$out"
	exit 0
fi

command -v "$cc" >/dev/null || die "no C compiler ($cc): run scripts/deps (package build-essential)"
mkdir -p "$cache"
work=$(mktemp -d "$cache/ibuild.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "build-initramfs: compiling nkvm-init and mkcpio" >&2
"$cc" -std=gnu11 -Wall -Wextra -Werror -O2 -o "$work/mkcpio" "$here/mkcpio.c"
case "$initcc" in
*musl-gcc) ;;
*) echo "build-initramfs: linking /init with $initcc, not musl-gcc: ~700 KiB bigger, slower boot (package musl-tools)" >&2 ;;
esac
"$initcc" -std=gnu11 -Wall -Wextra -Werror -static -Os -s -o "$work/init" "$here/nkvm-init.c" ||
	die "static link of nkvm-init failed (needs libc6-dev or musl-tools): run scripts/deps"
"$initcc" -std=gnu11 -Wall -Wextra -Werror -static -Os -s -o "$work/nkvm-vsock" "$here/nkvm-vsock.c" ||
	die "static link of nkvm-vsock failed (needs libc6-dev or musl-tools): run scripts/deps"
# A dynamic /init would need a loader the initramfs does not have.
for bin in "$work/init" "$work/nkvm-vsock" "$busybox"; do
	if readelf -l "$bin" | grep -q INTERP; then
		die "$bin is not statically linked"
	fi
done

cat >"$work/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$work/group" <<'EOF'
root:x:0:
tty:x:5:
nogroup:x:65534:
EOF
cat >"$work/hosts" <<'EOF'
127.0.0.1	localhost
::1	localhost
EOF

# Where busybox itself installs each applet (bin/, sbin/, usr/bin/ ...).
declare -A where
while IFS= read -r p; do
	where[${p##*/}]=$p
done < <("$busybox" --list-full)

{
	for d in dev:0755 proc:0555 sys:0555 tmp:1777 run:0755 root:0700 etc:0755 mnt:0755 \
		bin:0755 sbin:0755 usr:0755 usr/bin:0755 usr/sbin:0755 \
		sbx:0755 sbx/lower:0755 sbx/rw:0755 sbx/root:0755; do
		echo "dir /${d%%:*} ${d#*:} 0 0"
	done
	echo "nod /dev/console 0600 0 0 c 5 1"
	echo "file /init $work/init 0755 0 0"
	echo "file /bin/busybox $busybox 0755 0 0"
	echo "file /bin/nkvm-vsock $work/nkvm-vsock 0755 0 0"
	echo "file /etc/passwd $work/passwd 0644 0 0"
	echo "file /etc/group $work/group 0644 0 0"
	echo "file /etc/hosts $work/hosts 0644 0 0"
	echo "file /etc/nkvm-net $here/nkvm-net.sh 0755 0 0"
	echo "file /etc/udhcpc.script $here/udhcpc.script 0755 0 0"
	lineno=0
	while IFS= read -r a; do
		lineno=$((lineno + 1))
		a=${a%%#*}
		a=${a//[[:space:]]/}
		[ -n "$a" ] || continue
		p=${where[$a]:-}
		[ -n "$p" ] || die "applets.txt:$lineno: busybox has no applet '$a'"
		[ "$p" = bin/busybox ] || echo "slink /$p /bin/busybox 0777 0 0"
	done <"$here/applets.txt"
} >"$work/spec"

"$work/mkcpio" <"$work/spec" >"$work/initramfs.cpio"
mv "$work/initramfs.cpio" "$out"
echo "build-initramfs: wrote $out ($(($(stat -c %s "$out") / 1024)) KiB)" >&2
echo "$out"
