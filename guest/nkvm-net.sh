#!/bin/sh
# /etc/nkvm-net: run by nkvm-init before its ready marker when the guest
# has a network interface (not with nkvm.net=off on the kernel command
# line). Loopback up, then DHCP on each ethN: nkvm's user-mode networking
# answers at once; on a tap without a DHCP server udhcpc gives up after
# about three seconds and leaves the interface up without an address.
ip link set lo up
for dev in /sys/class/net/eth*; do
	[ -e "$dev" ] || continue
	ifc=${dev##*/}
	ip link set "$ifc" up
	if udhcpc -i "$ifc" -s /etc/udhcpc.script -q -n -f -t 3 -T 1 >/dev/null 2>&1; then
		echo "nkvm-init: $ifc $(ip -4 -o addr show dev "$ifc" | awk '{ print $4 }')"
	else
		echo "nkvm-init: $ifc: no DHCP answer"
	fi
done
