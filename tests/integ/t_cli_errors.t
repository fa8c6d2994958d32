#!/bin/bash
# t_cli_errors.t: nkvm's handling of bad command lines and bad kernels.
# No guest boots.  Each bad invocation must exit 2, print exactly one line
# on stderr starting with "nkvm:", nothing on stdout, and leave no file in
# its working directory or $TMPDIR.  --version and run --help exit 0.
# Prints TAP for prove.
#
# Environment: NKVM (default build/nkvm), NKVM_BUILD (default: the
# directory of $NKVM; tests/guests/hello.elf there is the valid kernel the
# option checks use).

set -u

NKVM=${NKVM:-build/nkvm}
NKVM_BUILD=${NKVM_BUILD:-$(dirname "$NKVM")}
GOOD_KERNEL=$NKVM_BUILD/tests/guests/hello.elf
CACHED_BZIMAGE=${NKVM_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/nkvm}/default/bzImage

if ! [ -x "$NKVM" ]; then
	echo "Bail out! no nkvm binary at $NKVM (run make)"
	exit 1
fi
NKVM=$(realpath "$NKVM")
[ -f "$GOOD_KERNEL" ] && GOOD_KERNEL=$(realpath "$GOOD_KERNEL")

T=$(mktemp -d "${TMPDIR:-/tmp}/nkvm-cli.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
IN=$T/in	# input files
WD=$T/cwd	# nkvm's working directory: must stay empty
TD=$T/tmp	# nkvm's TMPDIR: must stay empty
mkdir "$IN" "$WD" "$TD" || exit 1

. "$(dirname "${BASH_SOURCE[0]}")/lib-tap.sh"

# nkvm ARGS...: run nkvm in $WD with TMPDIR=$TD, no stdin; a guard of 30 s
# in case it boots something after all.  Sets rc; output in $T/out, $T/err.
nkvm() {
	(cd "$WD" && TMPDIR=$TD exec timeout -k 5 30 "$NKVM" "$@") \
		</dev/null >"$T/out" 2>"$T/err"
	rc=$?
}

# usage_error DESCRIPTION ARGS...: four checks of one bad invocation.
usage_error() {
	local desc=$1 lines left
	shift
	nkvm "$@"
	ok $((rc != 2)) "$desc: exit status 2 (got $rc)"
	lines=$(awk 'END { print NR }' "$T/err")
	[ "$lines" -eq 1 ] && head -n 1 "$T/err" | grep -q '^nkvm:'
	ok $? "$desc: one stderr line starting with 'nkvm:' (got $lines)"
	[ ! -s "$T/out" ]
	ok $? "$desc: nothing on stdout"
	left=$(cd "$T" && find cwd tmp -mindepth 1 | head -n 5 | tr '\n' ' ')
	[ -z "$left" ]
	ok $? "$desc: no files left behind${left:+ ($left)}"
	if [ "$rc" -ne 2 ] || [ "$lines" -ne 1 ] || [ -s "$T/out" ] ||
	   [ -n "$left" ]; then
		{
			echo "nkvm $*"
			echo "--- stdout:"
			head -c 1000 "$T/out"
			echo "--- stderr:"
			head -c 2000 "$T/err"
		} | diag
	fi
	rm -rf "${WD:?}"/* "${WD:?}"/.[!.]* "${TD:?}"/* "${TD:?}"/.[!.]*
}

# Bad kernels.
usage_error "missing kernel file" run -k "$IN/does-not-exist"
usage_error "directory as kernel" run -k "$IN"
: >"$IN/empty"
usage_error "empty kernel file" run -k "$IN/empty"
head -c 1024 /dev/urandom >"$IN/random"
usage_error "1 KiB of random bytes" run -k "$IN/random"

if [ -f "$CACHED_BZIMAGE" ]; then
	head -c 4096 "$CACHED_BZIMAGE" >"$IN/bzImage.4k"
	usage_error "bzImage truncated to 4 KiB" run -k "$IN/bzImage.4k"
else
	skip 4 "no $CACHED_BZIMAGE (make guest)"
fi

# A bzImage boot header (boot flag, "HdrS", protocol 2.15, 30 setup
# sectors) in a 4 KiB file: the setup code alone would need 15.5 KiB.
head -c 4096 /dev/zero >"$IN/fake-bzImage"
poke() { printf "$2" | dd of="$IN/fake-bzImage" bs=1 seek=$(($1)) \
	conv=notrunc status=none; }
poke 0x1f1 '\x1e'		# setup_sects
poke 0x1fe '\x55\xaa'		# boot_flag
poke 0x202 'HdrS'		# header magic
poke 0x206 '\x0f\x02'		# version 2.15
poke 0x211 '\x01'		# loadflags: LOADED_HIGH
usage_error "bzImage header, setup sectors past EOF" run -k "$IN/fake-bzImage"

# A well-formed 32-bit ELF (i386, one PT_LOAD at 1 MiB holding "hlt"):
# nkvm boots ELF64 only.
{
	printf '\x7fELF\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00'
	printf '\x02\x00\x03\x00\x01\x00\x00\x00'	# EXEC, EM_386, v1
	printf '\x54\x00\x10\x00'			# e_entry 0x100054
	printf '\x34\x00\x00\x00\x00\x00\x00\x00'	# e_phoff 52, e_shoff
	printf '\x00\x00\x00\x00\x34\x00\x20\x00'	# e_flags, ehsize, phentsize
	printf '\x01\x00\x28\x00\x00\x00\x00\x00'	# phnum 1, shentsize, ...
	printf '\x01\x00\x00\x00\x00\x00\x00\x00'	# PT_LOAD, p_offset 0
	printf '\x00\x00\x10\x00\x00\x00\x10\x00'	# p_vaddr, p_paddr
	printf '\x55\x00\x00\x00\x55\x00\x00\x00'	# p_filesz, p_memsz
	printf '\x05\x00\x00\x00\x00\x10\x00\x00'	# R+X, align 4 KiB
	printf '\xf4'					# hlt
} >"$IN/elf32"
usage_error "32-bit ELF" run -k "$IN/elf32"

# Bad command lines.
usage_error "unknown subcommand" no-such-subcommand
if [ -f "$GOOD_KERNEL" ]; then
	K=(-k "$GOOD_KERNEL")
	usage_error "unknown flag" run "${K[@]}" --no-such-flag
	usage_error "-k without an argument" run -k
	usage_error "-m abc" run "${K[@]}" -m abc
	usage_error "-m 1M (too small)" run "${K[@]}" -m 1M
	usage_error "-c 0" run "${K[@]}" -c 0
	usage_error "-c 1000" run "${K[@]}" -c 1000
	usage_error "--timeout -1" run "${K[@]}" --timeout -1
	usage_error "--console bogus" run "${K[@]}" --console bogus
	# disks: checked before /dev/kvm is opened, so these boot nothing
	usage_error "--disk missing file" run "${K[@]}" --disk "path=$IN/no-disk"
	grep -q "$IN/no-disk" "$T/err"
	ok $? "--disk missing file: the message names the file"
	usage_error "--disk directory" run "${K[@]}" --disk "$IN"
	usage_error "--disk empty file" run "${K[@]}" --disk "$IN/empty"
	head -c 1000 /dev/zero >"$IN/odd.img"
	usage_error "--disk size not a multiple of 512" run "${K[@]}" --disk "$IN/odd.img"
	truncate -s 1M "$IN/disk.img"
	usage_error "--disk unknown key" run "${K[@]}" --disk "path=$IN/disk.img,cache=none"
	usage_error "--disk ro=maybe" run "${K[@]}" --disk "path=$IN/disk.img,ro=maybe"
	usage_error "--disk serial too long" run "${K[@]}" \
		--disk "path=$IN/disk.img,serial=123456789012345678901"
	usage_error "--disk without a path" run "${K[@]}" --disk ro=on
	many=()
	for i in $(seq 17); do many+=(--disk "path=$IN/disk.img,ro=on"); done
	usage_error "17 disks" run "${K[@]}" "${many[@]}"
	# network options: parsed, and back ends made, before /dev/kvm
	usage_error "--net bogus" run "${K[@]}" --net bogus
	usage_error "--net user,hostfwd without '-'" run "${K[@]}" --net user,hostfwd=tcp::2222
	usage_error "--net user,hostfwd port 0" run "${K[@]}" --net user,hostfwd=tcp::0-:22
	usage_error "--net tap,ifname with '/'" run "${K[@]}" --net tap,ifname=a/b
	usage_error "--net user,mac multicast" run "${K[@]}" --net user,mac=01:00:5e:00:00:01
	usage_error "--net none with --net user" run "${K[@]}" --net none --net user
else
	skip 93 "no $GOOD_KERNEL (make guests)"
fi

# --version and run --help.
nkvm --version
ok $((rc != 0)) "--version: exit status 0 (got $rc)"
grep -q 'nkvm.*[0-9]\.[0-9]' "$T/out"
ok $? "--version: prints 'nkvm' and a version number on stdout"
nkvm run --help
ok $((rc != 0)) "run --help: exit status 0 (got $rc)"
cat "$T/out" "$T/err" >"$T/help"
missing=
for status in 0 1 2 3 124; do
	grep -qE "(^|[^0-9-])$status([^0-9]|$)" "$T/help" ||
		missing="$missing $status"
done
grep -qi 'exit' "$T/help" || missing="$missing 'exit'"
[ -z "$missing" ]
ok $? "run --help: lists the exit statuses${missing:+ (missing:$missing)}"
[ -z "$missing" ] || head -c 3000 "$T/help" | diag

tap_done
