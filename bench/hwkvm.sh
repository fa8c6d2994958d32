#!/bin/bash
# hwkvm.sh: measurements for a host with hardware KVM (VMX/SVM), where the
# guest kernel runs at native speed. Boots the default Linux guest a few
# times and reports wall time from process start to the ready marker and to
# exit, plus the trivial-guest benchmark (bench/run.sh). A benchmark, not a
# test. usage: bench/hwkvm.sh GUESTDIR [RUNS]   (GUESTDIR has vmlinux,
# bzImage, initramfs.cpio)
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
nkvm=${NKVM:-$root/build/nkvm}
dir=$1
runs=${2:-5}
echo "== host"
uname -r
grep -m1 'model name' /proc/cpuinfo
echo "vmx/svm cpus: $(grep -cE 'vmx|svm' /proc/cpuinfo)"
ls -l /dev/kvm
ls -d /sys/module/kvm_intel /sys/module/kvm_amd /sys/module/kvm_pvm 2>/dev/null
command -v qemu-system-x86_64 || echo "no qemu-system-x86_64 on this host"

now() { date +%s%N; }

boot_once() { # kernel extra-args...
	local k=$1; shift
	local t0 t1 t2 out
	out=$(mktemp)
	t0=$(now)
	"$nkvm" run -k "$k" -i "$dir/initramfs.cpio" --timeout 120 "$@" \
		-p 'nkvm.cmd="exit 0"' </dev/null >"$out" 2>&1 &
	local pid=$!
	while ! grep -q 'nkvm-init: ready' "$out" 2>/dev/null; do
		kill -0 $pid 2>/dev/null || break
		sleep 0.002
	done
	t1=$(now)
	wait $pid
	local rc=$?
	t2=$(now)
	echo "$(( (t1 - t0) / 1000000 )) $(( (t2 - t0) / 1000000 )) $rc"
	rm -f "$out"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

for kind in vmlinux bzImage; do
	for cpus in 1 2; do
		res=$(for i in $(seq "$runs"); do boot_once "$dir/$kind" -c $cpus -m 256M; done)
		echo "== Linux $kind -c $cpus -m 256M, $runs runs (ms): start->ready, start->exit, rc"
		echo "$res"
		echo "median start->ready $(echo "$res" | awk '{print $1}' | median) ms, start->exit $(echo "$res" | awk '{print $2}' | median) ms"
	done
done
echo "== trivial guest"
NKVM=$nkvm "$here/run.sh" -n 10 -k
