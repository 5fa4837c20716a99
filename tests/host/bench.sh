#!/bin/bash
# The benchmark's history and make bench-compare, on the host (no lab
# boot): history.py's bands, marks, graph and verdict on made-up runs
# (tests/host/bench_history.py), and bench-compare's one-line errors for
# a REV or BENCH_ROUNDS it cannot use, given before anything is built.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

cd "$TOP_DIR" || exit 1
python3 tests/host/bench_history.py

# compare_error NAME WANT ENV...: bench-compare with ENV fails with
# status 1 and one line on stderr that contains WANT
compare_error() {
	local name=$1 want=$2 err rc=0
	shift 2
	err=$(env -u REV -u BENCH_ROUNDS "$@" tests/bench/compare 2>&1 >/dev/null) || rc=$?
	if [ "$rc" = 1 ] && [ "$(printf '%s\n' "$err" | wc -l)" = 1 ] && [[ $err == *"$want"* ]]; then
		pass "$name"
	else
		fail "$name" "status $rc, stderr: $(printf '%s' "$err" | head -n 3 | tr '\n' ' ')"
	fi
}

first=$(git rev-list --max-parents=0 HEAD | tail -n 1)
compare_error bench-compare-no-rev "give the commit to compare with"
compare_error bench-compare-bad-rev "'no-such-commit' is not a commit" REV=no-such-commit
if [ "$(git rev-parse --is-shallow-repository)" = true ]; then
	skip bench-compare-too-old "a shallow clone has no commit older than make bench"
else
	compare_error bench-compare-too-old "has no tests/bench/guest.sh" REV="$first"
fi
compare_error bench-compare-rounds "not a number of rounds of 2 or more" REV=HEAD BENCH_ROUNDS=1

# make bench itself refuses one round, before it builds or boots anything
err=$(env BENCH_ROUNDS=1 timeout 20 tests/bench/run 2>&1 >/dev/null)
rc=$?
if [ "$rc" = 1 ] && [ "$(printf '%s\n' "$err" | wc -l)" = 1 ] &&
   [[ $err == *"not a number of rounds of 2 or more"* ]]; then
	pass bench-run-rounds
else
	fail bench-run-rounds "status $rc, stderr: $(printf '%s' "$err" | head -n 3 | tr '\n' ' ')"
fi
