#!/usr/bin/env bash
# Build nkvm's default guest kernel from Debian's linux-source-6.1 package.
# Output: $NKVM_CACHE/kernel-<hash>/{vmlinux,bzImage,config}; the hash covers
# the config fragment, this script and the source tarball, so an unchanged
# input set is never rebuilt. Prints the output directory on stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${NKVM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nkvm}
src_tar=$(ls /usr/src/linux-source-6.1.tar.xz 2>/dev/null || true)
if [ -z "$src_tar" ]; then
	echo "build-kernel: /usr/src/linux-source-6.1.tar.xz missing: run scripts/deps (package linux-source-6.1)" >&2
	exit 1
fi
hash=$( (cat "$here/kernel.config" "$here/build-kernel.sh"; stat -c '%s %Y' "$src_tar") | sha256sum | cut -c1-16)
out="$cache/kernel-$hash"
if [ -f "$out/vmlinux" ] && [ -f "$out/bzImage" ]; then
	echo "$out"
	exit 0
fi
mkdir -p "$cache"
work=$(mktemp -d "$cache/kbuild.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "build-kernel: unpacking $src_tar" >&2
tar -C "$work" -xf "$src_tar"
ksrc=$(echo "$work"/linux-source-6.1)
jobs=$(nproc)
echo "build-kernel: configuring (tinyconfig + guest/kernel.config)" >&2
make -s -C "$ksrc" ARCH=x86_64 tinyconfig >&2
"$ksrc/scripts/kconfig/merge_config.sh" -m -O "$ksrc" "$ksrc/.config" "$here/kernel.config" >/dev/null
make -s -C "$ksrc" ARCH=x86_64 olddefconfig >&2
# Report fragment options that did not stick (a typo or a missing dependency).
missing=0
while IFS= read -r line; do
	case "$line" in CONFIG_*=y) grep -qx "$line" "$ksrc/.config" || { echo "build-kernel: warning: $line not set" >&2; missing=1; } ;; esac
done < "$here/kernel.config"
echo "build-kernel: compiling with $jobs jobs (takes several minutes)" >&2
make -s -C "$ksrc" ARCH=x86_64 -j"$jobs" vmlinux bzImage >&2
tmp="$out.tmp.$$"
mkdir -p "$tmp"
cp "$ksrc/vmlinux" "$tmp/vmlinux"
cp "$ksrc/arch/x86/boot/bzImage" "$tmp/bzImage"
cp "$ksrc/.config" "$tmp/config"
strip --strip-debug "$tmp/vmlinux" 2>/dev/null || true
rm -rf "$out"
mv "$tmp" "$out"
echo "$out"
