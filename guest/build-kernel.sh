#!/usr/bin/env bash
# Build nkvm's default guest kernel from Debian's linux-source-6.1 package.
# Output: $NKVM_CACHE/kernel-<hash>/{vmlinux,bzImage,config}; the hash covers
# the config fragment, this script and the source tarball, so an unchanged
# input set is never rebuilt. The unpacked source tree is kept in
# $NKVM_CACHE/src so a changed fragment rebuilds incrementally.
# Prints the output directory on stdout; progress goes to stderr.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${NKVM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nkvm}
src_tar=/usr/src/linux-source-6.1.tar.xz
if [ ! -r "$src_tar" ]; then
	echo "build-kernel: $src_tar missing: run scripts/deps (package linux-source-6.1)" >&2
	exit 1
fi
tar_id=$(stat -c '%s-%Y' "$src_tar")
hash=$( (cat "$here/kernel.config" "$here/build-kernel.sh"; echo "$tar_id") | sha256sum | cut -c1-16)
out="$cache/kernel-$hash"
if [ -f "$out/vmlinux" ] && [ -f "$out/bzImage" ]; then
	echo "$out"
	exit 0
fi
mkdir -p "$cache/src"
ksrc="$cache/src/linux-source-6.1"
if [ "$(cat "$cache/src/tarball-id" 2>/dev/null)" != "$tar_id" ] || [ ! -f "$ksrc/Makefile" ]; then
	echo "build-kernel: unpacking $src_tar" >&2
	rm -rf "$ksrc" "$cache/src/tarball-id"
	tar -C "$cache/src" -xf "$src_tar"
	echo "$tar_id" > "$cache/src/tarball-id"
fi
jobs=$(nproc)
echo "build-kernel: configuring (tinyconfig + guest/kernel.config)" >&2
make -s -C "$ksrc" ARCH=x86_64 tinyconfig >&2
"$ksrc/scripts/kconfig/merge_config.sh" -m -O "$ksrc" "$ksrc/.config" "$here/kernel.config" >/dev/null
make -s -C "$ksrc" ARCH=x86_64 olddefconfig >&2
# Report fragment options that did not stick (a typo or a missing dependency).
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=y) grep -qx "$line" "$ksrc/.config" || echo "build-kernel: warning: $line not set" >&2 ;;
	CONFIG_*=n) ! grep -q "^${line%=n}=" "$ksrc/.config" || echo "build-kernel: warning: $line still set" >&2 ;;
	esac
done < "$here/kernel.config"
echo "build-kernel: compiling with $jobs jobs (about 8 minutes on 2 cores the first time)" >&2
make -s -C "$ksrc" ARCH=x86_64 -j"$jobs" vmlinux bzImage >&2
tmp="$out.tmp.$$"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp"
cp "$ksrc/arch/x86/boot/bzImage" "$tmp/bzImage"
cp "$ksrc/.config" "$tmp/config"
# no debug info: nkvm reads the whole file, and it is 10x smaller
objcopy --strip-debug "$ksrc/vmlinux" "$tmp/vmlinux"
cp "$ksrc/System.map" "$tmp/System.map"
rm -rf "$out"
mv "$tmp" "$out"
echo "$out"
