# lib-tap.sh: TAP helpers for the integration tests that count their own
# checks (t_cli_errors.t, t_ctl.t). Sourced, not run.
# shellcheck shell=bash

n=0
failed=0

# ok STATUS DESCRIPTION: one TAP line, "ok" when STATUS is 0.
ok() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=$((failed + 1))
	fi
}
# skip COUNT REASON: COUNT skipped checks.
skip() {
	local i
	for ((i = 0; i < $1; i++)); do
		n=$((n + 1))
		echo "ok $n # SKIP $2"
	done
}
diag() { sed 's/^/# /' >&2; }
# tap_done: the plan, and the exit status prove expects.
tap_done() {
	echo "1..$n"
	exit $((failed > 0))
}
