#!/bin/bash
# t_api.t: the control API (Firecracker's REST API on a unix socket).
#   A (no Linux): every path and method of shared/spec/firecracker-api.yaml
#     against a waiting `nkvm --api-sock` (a listed status or a clean 400,
#     never a 5xx, a hang or a crash; malformed HTTP; a 100 kB body);
#     the control socket's life (mode 0600, stale socket reused, live one
#     refused, removed at exit); --version --compat firecracker; a config
#     file booting the tiny test guest; `nkvm run --name` serving the API
#     on the per-user socket (state, pause/resume, /nkvm/stat, pre-boot
#     rules) with a tiny guest that spins.
#   B (one Linux boot): the default guest configured and started through
#     the API only (curl), a command running in it; pause stops its clock-
#     driven output and resume continues it; PATCH /drives swaps the disk
#     (the guest sees the new size and data); metrics (a named pipe) get
#     JSON lines, the logger file gets lines.
# Environment: NKVM, NKVM_BUILD as the other tests.  Needs curl, python3
# with python3-yaml.
# shellcheck disable=SC2016
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
NKVM=${NKVM:-$ROOT/build/nkvm}
NKVM_BUILD=${NKVM_BUILD:-$(dirname "$NKVM")}
SPEC=${NKVM_FC_SPEC:-$ROOT/../shared/spec/firecracker-api.yaml}
[ -f "$SPEC" ] || SPEC=/work/shared/spec/firecracker-api.yaml
GUESTS=$NKVM_BUILD/tests/guests
CACHE=${NKVM_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/nkvm}/default
GUARD=1500

if ! [ -x "$NKVM" ]; then
	echo "Bail out! no nkvm binary at $NKVM (run make)"
	exit 1
fi
for tool in curl python3; do
	command -v $tool >/dev/null || { echo "1..0 # SKIP $tool missing"; exit 0; }
done
python3 -c 'import yaml' 2>/dev/null || { echo "1..0 # SKIP python3-yaml missing"; exit 0; }
[ -f "$SPEC" ] || { echo "1..0 # SKIP no Firecracker API description at $SPEC"; exit 0; }

T=$(mktemp -d "${TMPDIR:-/tmp}/nkvm-api.XXXXXX") || exit 1
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 143' TERM INT
# the per-user control sockets of this test's VMs live here
export XDG_RUNTIME_DIR=$T/run
mkdir -m 700 "$XDG_RUNTIME_DIR"

n=0
failed=0
ok() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - $2${3:+ # $3}"; else
		echo "not ok $n - $2"; failed=$((failed + 1)); fi
}
check() { local d=$1; shift; "$@"; ok $? "$d"; }
diag() { sed 's/^/# /' >&2; }

# api SOCK METHOD PATH [BODY]: print "STATUS BODY"
api() {
	local out
	out=$(curl -s -m 20 --unix-socket "$1" -X "$2" -w '\n%{http_code}' \
		${4:+-H 'Content-Type: application/json' -d "$4"} "http://localhost$3")
	printf '%s %s\n' "${out##*$'\n'}" "${out%$'\n'*}"
}
# expect DESC STATUS SOCK METHOD PATH [BODY]
expect() {
	local desc=$1 want=$2 got
	shift 2
	got=$(api "$@")
	[ "${got%% *}" = "$want" ]
	ok $? "$desc (HTTP ${got%% *})"
	[ "${got%% *}" = "$want" ] || echo "$got" | diag
}
# waitfor SECONDS COMMAND...: poll until COMMAND succeeds
waitfor() {
	local i lim=$(($1 * 10))
	shift
	for ((i = 0; i < lim; i++)); do "$@" && return 0; sleep 0.1; done
	return 1
}
alive() { kill -0 "$1" 2>/dev/null; }
# json SOCK PATH EXPR: evaluate python EXPR on the JSON j that GET PATH returns
json() {
	curl -s -m 20 --unix-socket "$1" "http://localhost$2" |
		python3 -c "import json,sys; j=json.load(sys.stdin); print($3)"
}

# ---------------------------------------------------------------- part A
S=$T/walk.sock
"$NKVM" --api-sock "$S" --id walker </dev/null >"$T/walk.out" 2>"$T/walk.err" &
P=$!
pids+=("$P")
check "nkvm --api-sock: the socket appears" waitfor 10 test -S "$S"
check "  its mode is 0600" test "$(stat -c %a "$S")" = 600
check "  GET / is Firecracker's InstanceInfo, not started" \
	test "$(json "$S" / 'j["id"], j["state"], j["app_name"]')" = "walker Not started nkvm"
while read -r verdict rest; do
	ok $([ "$verdict" = PASS ]; echo $?) "spec walk: $rest"
done < <(python3 "$ROOT/tests/integ/api_walk.py" "$SPEC" "$S" 2>&1 | sed 's/^Traceback/FAIL traceback/')
check "  nkvm is still running after the walk" alive "$P"
expect "  PUT /machine-config" 204 "$S" PUT /machine-config '{"vcpu_count":2,"mem_size_mib":256}'
check "  GET /machine-config shows it" \
	test "$(json "$S" /machine-config 'j["vcpu_count"], j["mem_size_mib"]')" = "2 256"
expect "  InstanceStart without a kernel: 400" 400 "$S" PUT /actions '{"action_type":"InstanceStart"}'
expect "  PUT /boot-source with a kernel that is not one" 204 "$S" PUT /boot-source \
	"{\"kernel_image_path\":\"$T/walk.err\"}"
: >"$T/notakernel"; echo junk >"$T/notakernel"
expect "  PUT /boot-source (junk file)" 204 "$S" PUT /boot-source "{\"kernel_image_path\":\"$T/notakernel\"}"
got=$(api "$S" PUT /actions '{"action_type":"InstanceStart"}')
ok $([[ $got == 400*"not a Linux kernel"* ]]; echo $?) "  InstanceStart of a non-kernel: 400 naming the problem"
check "  ... and nkvm waits for a better configuration" alive "$P"
expect "  PATCH /vm before start: 400" 400 "$S" PATCH /vm '{"state":"Paused"}'
kill -TERM "$P"
wait "$P"
rc=$?
ok $((rc != 143)) "SIGTERM while waiting: exit status 143 (got $rc)"
check "  the socket is removed" test ! -e "$S"

# a socket left by a dead nkvm is reused; a live one is refused
python3 -c "import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])" "$S"
"$NKVM" --api-sock "$S" </dev/null >/dev/null 2>"$T/stale.err" &
P=$!
pids+=("$P")
check "stale socket: taken over" waitfor 10 sh -c "curl -s -m 5 --unix-socket '$S' http://localhost/ | grep -q Not"
"$NKVM" --api-sock "$S" </dev/null >/dev/null 2>"$T/inuse.err"
rc=$?
ok $((rc != 2)) "live socket: a second nkvm exits 2 (got $rc)"
check "  saying the name is in use, in one line" \
	sh -c "grep -q 'name in use' '$T/inuse.err' && [ \$(wc -l <'$T/inuse.err') = 1 ]"
check "  the first one still answers" sh -c "curl -s -m 5 --unix-socket '$S' http://localhost/ | grep -q Not"
kill -INT "$P"; wait "$P"
echo x >"$T/file"
"$NKVM" --api-sock "$T/file" </dev/null >/dev/null 2>"$T/file.err"
ok $(($? != 2)) "--api-sock on a regular file: exit 2, the file kept"
check "  the file is untouched" test "$(cat "$T/file")" = x
"$NKVM" --no-api </dev/null >/dev/null 2>"$T/noapi.err"
ok $(($? != 2)) "--no-api without --config-file: exit 2"

# versions
check "--version --compat firecracker: Kata's parser reads 'Firecracker vX.Y.Z'" \
	sh -c "'$NKVM' --version --compat firecracker | head -1 | grep -Eq '^Firecracker v[0-9]+\.[0-9]+\.[0-9]+$'"
check "NKVM_COMPAT=firecracker does the same" \
	sh -c "NKVM_COMPAT=firecracker '$NKVM' --version | head -1 | grep -q '^Firecracker v'"
check "plain --version is nkvm's" sh -c "'$NKVM' --version | grep -q '^nkvm '"

# a config file booting the tiny guest, without and with the API
if [ -f "$GUESTS/trivial.elf" ] && [ -c /dev/kvm ]; then
	cat >"$T/vm.json" <<JSON
{"boot-source": {"kernel_image_path": "$GUESTS/trivial.elf"},
 "machine-config": {"vcpu_count": 1, "mem_size_mib": 128}}
JSON
	timeout 60 "$NKVM" --config-file "$T/vm.json" --no-api </dev/null >"$T/cf.out" 2>"$T/cf.err"
	rc=$?
	ok $((rc != 0)) "--config-file --no-api boots the tiny guest, exit 0 (got $rc)"
	check "  its console shows the guest's marker" grep -q 'nkvm-guest: ready' "$T/cf.out"
	ls "$XDG_RUNTIME_DIR/nkvm" 2>/dev/null | grep -q . && ok 1 "  no control socket made" ||
		ok 0 "  no control socket made"
	echo '{"boot-source": {"kernel_image_path": 5}}' >"$T/bad.json"
	"$NKVM" --config-file "$T/bad.json" </dev/null >/dev/null 2>"$T/bad.err"
	ok $(($? != 2)) "bad config file: exit 2"
	check "  one line naming the section and field" \
		sh -c "grep -q 'boot-source.*kernel_image_path' '$T/bad.err' && [ \$(wc -l <'$T/bad.err') = 1 ]"

	# nkvm run --name: the API on the per-user socket, with a guest that spins
	"$NKVM" run -k "$GUESTS/hang.elf" --name spinner --timeout 120 </dev/null >"$T/spin.out" 2>"$T/spin.err" &
	P=$!
	pids+=("$P")
	R=$XDG_RUNTIME_DIR/nkvm/spinner.sock
	check "nkvm run --name: control socket in \$XDG_RUNTIME_DIR/nkvm" waitfor 20 test -S "$R"
	check "  state Running" waitfor 10 sh -c "curl -s --unix-socket '$R' http://localhost/ | grep -q '\"Running\"'"
	"$NKVM" run -k "$GUESTS/hang.elf" --name spinner </dev/null >/dev/null 2>"$T/dup.err"
	ok $(($? != 2)) "  a second nkvm run --name spinner: exit 2"
	check "  /nkvm/stat: name, pid, one vCPU that has exited" \
		test "$(json "$R" /nkvm/stat 'j["name"], j["pid"] == '"$P"', j["vcpu_count"], len(j["vcpus"]), j["vcpus"][0]["exits"] > 0')" = "spinner True 1 1 True"
	check "  /nkvm/stat lists the default NIC" \
		test "$(json "$R" /nkvm/stat '[d["type"] for d in j["devices"]]')" = "['net']"
	expect "  PATCH /vm Paused" 204 "$R" PATCH /vm '{"state":"Paused"}'
	check "  state Paused" test "$(json "$R" / 'j["state"]')" = Paused
	e1=$(json "$R" /nkvm/stat 'j["vcpus"][0]["exits"]'); sleep 1
	e2=$(json "$R" /nkvm/stat 'j["vcpus"][0]["exits"]')
	check "  paused vCPU exits no more ($e1 = $e2)" test "$e1" = "$e2"
	expect "  PATCH /vm Resumed" 204 "$R" PATCH /vm '{"state":"Resumed"}'
	check "  state Running again" test "$(json "$R" / 'j["state"]')" = Running
	expect "  pre-boot PUT /machine-config after start: 400" 400 "$R" PUT /machine-config '{"vcpu_count":1,"mem_size_mib":128}'
	got=$(api "$R" PUT /actions '{"action_type":"SendCtrlAltDel"}')
	ok $([[ $got == 400*keyboard* || $got == 204* ]]; echo $?) "  SendCtrlAltDel: 204, or 400 naming the missing keyboard"
	expect "  FlushMetrics without metrics: 400" 400 "$R" PUT /actions '{"action_type":"FlushMetrics"}'
	kill -TERM "$P"; wait "$P"
	rc=$?
	ok $((rc != 143)) "  SIGTERM: exit 143 (got $rc)"
	check "  the socket is removed" test ! -e "$R"
else
	for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do ok 0 "tiny guests" "SKIP no KVM or tests/guests not built"; done
fi

# ---------------------------------------------------------------- part B
if [ "${NKVM_SKIP_LINUX:-0}" = 1 ] || ! [ -f "$CACHE/vmlinux" ] || ! [ -c /dev/kvm ]; then
	echo "1..$n"
	echo "# Linux part skipped (NKVM_SKIP_LINUX, no default guest or no KVM)"
	exit $((failed > 0))
fi

S=$T/linux.sock
truncate -s 1M "$T/disk1.img"; printf AAAAAAAA | dd of="$T/disk1.img" conv=notrunc 2>/dev/null
truncate -s 2M "$T/disk2.img"; printf BBBBBBBB | dd of="$T/disk2.img" conv=notrunc 2>/dev/null
mkfifo "$T/metrics.fifo"
: >"$T/log.txt"
cat "$T/metrics.fifo" >"$T/metrics.txt" &
pids+=("$!")
timeout $((GUARD + 100)) "$NKVM" --api-sock "$S" --id apilinux </dev/null >"$T/linux.out" 2>"$T/linux.err" &
P=$!
pids+=("$P")
waitfor 10 test -S "$S"
CMD='while true; do echo 3 > /proc/sys/vm/drop_caches; echo tick $(date +%s) size=$(cat /sys/block/vda/size) data=$(head -c 8 /dev/vda); sleep 1; done'
expect "B: PUT /logger" 204 "$S" PUT /logger "{\"log_path\":\"$T/log.txt\",\"level\":\"Info\",\"show_level\":true}"
expect "B: PUT /metrics (a named pipe)" 204 "$S" PUT /metrics "{\"metrics_path\":\"$T/metrics.fifo\"}"
expect "B: PUT /boot-source" 204 "$S" PUT /boot-source \
	"{\"kernel_image_path\":\"$CACHE/vmlinux\",\"initrd_path\":\"$CACHE/initramfs.cpio\",\"nkvm_default_args\":true,\"boot_args\":\"nkvm.net=off nkvm.cmd=\\\"$CMD\\\"\"}"
expect "B: PUT /machine-config" 204 "$S" PUT /machine-config '{"vcpu_count":1,"mem_size_mib":256}'
expect "B: PUT /drives/data" 204 "$S" PUT /drives/data \
	"{\"drive_id\":\"data\",\"path_on_host\":\"$T/disk1.img\",\"is_root_device\":false,\"is_read_only\":true}"
expect "B: PUT /entropy" 204 "$S" PUT /entropy '{}'
expect "B: InstanceStart" 204 "$S" PUT /actions '{"action_type":"InstanceStart"}'
check "B: state Running" test "$(json "$S" / 'j["state"]')" = Running
ticks() { tr -d '\r' <"$T/linux.out" | grep -c '^tick '; }
check "B: the guest reaches nkvm-init: ready" waitfor $GUARD grep -q 'nkvm-init: ready' "$T/linux.out"
check "B: the command runs (tick lines, vda of 2048 sectors with AAAAAAAA)" \
	waitfor 300 sh -c "tr -d '\r' <'$T/linux.out' | grep -q '^tick .* size=2048 data=AAAAAAAA'"
check "B: nkvm_default_args: the guest's command line starts with nkvm's own" \
	grep -q 'Command line: console=ttyS0 reboot=k panic=-1 pci=off .* nkvm.net=off nkvm.cmd=' "$T/linux.out"
expect "B: PATCH /vm Paused" 204 "$S" PATCH /vm '{"state":"Paused"}'
sleep 2
t1=$(ticks); sleep 5; t2=$(ticks)
check "B: paused: no tick in 5 s ($t1 -> $t2)" test "$t1" = "$t2"
check "B: GET / says Paused" test "$(json "$S" / 'j["state"]')" = Paused
expect "B: PATCH /vm Resumed" 204 "$S" PATCH /vm '{"state":"Resumed"}'
# a function, so waitfor counts the lines anew on every try
more_ticks() { [ "$(ticks)" -gt "$1" ]; }
check "B: resumed: ticks again" waitfor 120 more_ticks "$t2"
expect "B: PATCH /drives/data to a 2 MiB image" 204 "$S" PATCH /drives/data \
	"{\"drive_id\":\"data\",\"path_on_host\":\"$T/disk2.img\"}"
check "B: the guest sees the new size and data (4096 sectors, BBBBBBBB)" \
	waitfor 300 sh -c "tr -d '\r' <'$T/linux.out' | grep -q '^tick .* size=4096 data=BBBBBBBB'"
check "B: /vm/config shows the new path" \
	test "$(json "$S" /vm/config 'j["drives"][0]["path_on_host"]')" = "$T/disk2.img"
check "B: /nkvm/stat: blk0 with reads, net none, rng" \
	test "$(json "$S" /nkvm/stat '[(d["name"], d["type"]) for d in j["devices"]], j["devices"][0]["reads"] > 0')" = "[('blk0', 'block'), ('rng', 'rng')] True"
expect "B: FlushMetrics" 204 "$S" PUT /actions '{"action_type":"FlushMetrics"}'
expect "B: pre-boot PUT /drives after start: 400" 400 "$S" PUT /drives/x \
	"{\"drive_id\":\"x\",\"path_on_host\":\"$T/disk1.img\",\"is_root_device\":false}"
got=$(api "$S" PUT /actions '{"action_type":"SendCtrlAltDel"}')
if [[ $got == 204* ]]; then
	ok 0 "B: SendCtrlAltDel accepted (keyboard present): the guest reboots"
	waitfor 300 sh -c "! kill -0 $P 2>/dev/null"
else
	ok $([[ $got == 400*keyboard* ]]; echo $?) "B: SendCtrlAltDel: 400 naming the missing keyboard"
	kill -TERM "$P"
fi
wait "$P"
rc=$?
ok $((rc != 0 && rc != 143)) "B: nkvm ended (exit $rc)"
check "B: the socket is removed" test ! -e "$S"
sleep 0.5
check "B: metrics: at least two lines, each a JSON object with utc_timestamp_ms and block_data" \
	python3 -c "
import json,sys
ls=[l for l in open('$T/metrics.txt') if l.strip()]
assert len(ls) >= 2, ls
for l in ls:
    j=json.loads(l); assert 'utc_timestamp_ms' in j and 'block_data' in j, l"
check "B: logger: Firecracker-style lines, with the pause" \
	grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+ \[apilinux:main:INFO\] API: VM paused' "$T/log.txt"
if [ "$failed" -gt 0 ]; then
	{ echo "--- console tail"; tr -d '\r' <"$T/linux.out" | tail -20; echo "--- stderr"; tail -20 "$T/linux.err"
	  echo "--- metrics"; head -3 "$T/metrics.txt"; echo "--- log"; head -5 "$T/log.txt"; } | diag
fi
echo "1..$n"
exit $((failed > 0))
