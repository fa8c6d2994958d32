#!/usr/bin/env bash
# Build nkvm's default guest (kernel + initramfs) and point
# $NKVM_CACHE/default/{vmlinux,bzImage,initramfs.cpio} at it. Both parts
# are cached by a hash of their inputs, so a second run with nothing
# changed builds nothing. Prints the default directory on stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${NKVM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nkvm}
export NKVM_CACHE=$cache

die() {
	echo "guest/build.sh: $*" >&2
	exit 1
}

# What build-kernel.sh and build-initramfs.sh need, checked up front so a
# missing one is a clear line here rather than a make error minutes in.
need=(build-essential bc flex bison libelf-dev libssl-dev xz-utils linux-source-6.1 busybox-static)
have=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "${need[@]}" 2>/dev/null | awk '$1 == "ii" { print $2 }' || true)
missing=()
for p in "${need[@]}"; do
	grep -qx "$p" <<<"$have" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] || die "missing packages: ${missing[*]}: run scripts/deps"

mkdir -p "$cache"
# Two builds at once would race on the same cache entries.
exec 9>"$cache/.build.lock"
flock 9

kdir=$("$here/build-kernel.sh")
initrd=$("$here/build-initramfs.sh")
if [ ! -f "$kdir/vmlinux" ] || [ ! -f "$kdir/bzImage" ] || [ ! -f "$initrd" ]; then
	die "build produced no $kdir/{vmlinux,bzImage} or $initrd"
fi

# $cache/default is a symlink to a directory named after its contents: a
# symlink can be swapped atomically with rename(2), a full directory can
# not, so a reader never sees a half-updated set.
id=$(echo "${kdir##*/} ${initrd##*/}" | sha256sum | cut -c1-16)
target="default.$id"
if [ "$(readlink "$cache/default" 2>/dev/null)" = "$target" ] &&
	[ -e "$cache/default/vmlinux" ] && [ -e "$cache/default/bzImage" ] &&
	[ -e "$cache/default/initramfs.cpio" ]; then
	echo "$cache/default"
	exit 0
fi
tmp=$(mktemp -d "$cache/.default.XXXXXX")
trap 'rm -rf "$tmp" "$cache/.default.lnk.$$"' EXIT
# Relative links, so the cache directory can be moved or shared.
ln -s "../${kdir##*/}/vmlinux" "$tmp/vmlinux"
ln -s "../${kdir##*/}/bzImage" "$tmp/bzImage"
ln -s "../${initrd##*/}" "$tmp/initramfs.cpio"
chmod 755 "$tmp"
rm -rf "${cache:?}/$target"
mv -T "$tmp" "$cache/$target"
# A real directory left by an older layout cannot be renamed over.
if [ -d "$cache/default" ] && [ ! -L "$cache/default" ]; then
	rm -rf "${cache:?}/default"
fi
ln -s "$target" "$cache/.default.lnk.$$"
mv -T "$cache/.default.lnk.$$" "$cache/default"
for old in "$cache"/default.*; do
	[ "$old" = "$cache/$target" ] || rm -rf "$old"
done
echo "guest/build.sh: default guest: ${kdir##*/} + ${initrd##*/}" >&2
echo "$cache/default"
