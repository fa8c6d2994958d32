#!/bin/bash
# t_linux.t: boot real Linux guests (the default guest built by
# guest/build.sh) under nkvm and check what the guest sees: vCPU count,
# RAM size, the nkvm.cmd exit status, the interactive console, poweroff and
# reboot.  Prints TAP for prove.
#
# Boots are slow on a PVM host (DESIGN.md section 5: the guest kernel is
# emulated, 1-3 minutes per boot, one full core each; struct-page setup
# grows with -m, and extra vCPUs contend for the host's cores), so there
# are only four, each checks several things, they run two at a time, and
# each has a generous hang guard (nkvm --timeout plus an outer timeout) and
# no speed assertion.
#   A: vmlinux, 2 vCPUs, 1G, nkvm.cmd (stdin /dev/null): exit status 7
#   C: vmlinux, 1 vCPU, 128M, interactive shell, reboot
#   B: bzImage + initrd, 1 vCPU, 256M, interactive shell fed through a pipe,
#      poweroff
#   D: vmlinux, 1 vCPU, 5G (RAM above the 4 GiB hole), nkvm.cmd
#   E: vmlinux, 4 vCPUs, 256M, nkvm.cmd, booted ALONE: with more vCPUs
#      than host cores the emulated guest kernel spins on locks held by
#      descheduled vCPUs (no paravirtual spinlocks under nopv). Alone on an
#      idle 2-core PVM host it took 116 s; sharing the cores with two other
#      boots it took over 15 minutes with RCU stall warnings.
# NKVM_SKIP_LINUX=1 skips them all (the sanitizer pass of .ci/run).
#
# Environment: NKVM (the binary, default build/nkvm under the repository
# root), NKVM_CACHE (default ${XDG_CACHE_HOME:-~/.cache}/nkvm; the guest is
# its default/ directory).  Skips everything when /dev/kvm is not usable or
# the default guest is not built.

# shellcheck disable=SC2016 # $((..)) is for the guest
# shellcheck source=tests/integ/lib-linux.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib-linux.sh"

planned=29
echo "1..$planned"
echo "# booting A (vmlinux, -c 2 -m 1G) and C (vmlinux, -c 1 -m 128M) in parallel"
boot A "" -c 2 -m 1G \
	-p 'nkvm.cmd="grep -c ^processor /proc/cpuinfo; grep MemTotal /proc/meminfo; exit 7"' &
boot C 'grep MemTotal /proc/meminfo; reboot' -c 1 -m 128M &
wait

# A: nkvm.cmd and its exit status, 2 vCPUs, 1 GiB.  A line that is exactly
# a number is grep -c's answer.
start A 7
check "boot A: console shows nkvm: exit 7" has A '^nkvm: exit 7$'
check "boot A: guest sees 2 processors" has A '^2$'
check "boot A: MemTotal within 5% of 1 GiB" memtotal_ok A 1048576 0.95
finish A 7

# C: small guest, reboot.  The kernel's fixed costs (its image, page
# structures, early allocations) are a larger share of 128 MiB, so accept
# 15% less here instead of 5%: the default guest's 6.1 kernel reported
# "Memory: 111028K/130680K available (... 19396K reserved ...)" and then
# MemTotal 117460 kB, 89.6% of 128 MiB, with nkvm's e820 exact.
start C 0
check "boot C: MemTotal within 15% of 128 MiB" memtotal_ok C 131072 0.85
finish C 0

echo "# booting B (bzImage, -c 1 -m 256M) and D (vmlinux, -c 1 -m 5G) in parallel"
boot B 'echo marker-$((6*7)); grep -c ^processor /proc/cpuinfo; poweroff' \
	-k "$CACHE/bzImage" -i "$CACHE/initramfs.cpio" -c 1 -m 256M &
boot D "" -c 1 -m 5G -p 'nkvm.cmd="grep MemTotal /proc/meminfo; exit 5"' &
wait

# B: bzImage + initrd, interactive shell on a pipe, poweroff, 1 vCPU.
# The tty echoes the typed command line, so only a line that is exactly
# marker-42 proves the guest's shell evaluated $((6*7)).
start B 0
check "boot B: the guest's shell printed marker-42" has B '^marker-42$'
check "boot B: guest sees 1 processor" has B '^1$'
finish B 0

# D: 5 GiB: 3 GiB below the PCI hole, 2 GiB above 4 GiB.
start D 5
check "boot D: console shows nkvm: exit 5" has D '^nkvm: exit 5$'
check "boot D: MemTotal within 5% of 5 GiB" memtotal_ok D 5242880 0.95
finish D 5

echo "# booting E (vmlinux, -c 4 -m 256M) alone"
boot E "" -c 4 -m 256M -p 'nkvm.cmd="grep -c ^processor /proc/cpuinfo; exit 4"'
start E 4
check "boot E: guest sees 4 processors" has E '^4$'
finish E 4

[ "$n" -eq "$planned" ] || echo "# planned $planned tests, ran $n"
exit $((failed > 0))
