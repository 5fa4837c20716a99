#!/bin/bash
# The Grafana dashboards and Prometheus alert rules in dashboards/, on the
# host (no lab boot): promtool checks the rules and runs their unit tests
# and parses every dashboard query; tests/dashboards/check.py holds each
# dashboard to the rules of dashboards/README.md and checks its metric
# names against the tool's source.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

cd "$TOP_DIR" || exit 1
scratch_out

# promtool is in tests/lab/packages, so make deps installs it: a missing
# one is a failure, not a reason to skip.
have_promtool() {
	command -v promtool >/dev/null && return 0
	fail "$1" "promtool not found (Debian package prometheus; make deps installs it)"
	return 1
}

# run_promtool NAME DIR ARGS...: PASS if promtool ARGS (run in DIR) succeeds
run_promtool() {
	local name=$1 dir=$2
	shift 2
	have_promtool "$name" || return
	if (cd "$dir" && promtool "$@") >"$out/promtool.log" 2>&1; then
		pass "$name"
	else
		fail "$name" "$(grep -v -e '^Checking' -e '^Unit Testing' -e '^$' "$out/promtool.log" |
			head -n 8 | tr -s ' \t\n' ' ')"
	fi
}

# Rules files: syntax and their unit tests (rule_files are relative to
# the test file, so promtool runs in its directory)
for rules in dashboards/rules/*.rules.yml; do
	[ -e "$rules" ] || { fail dashboards-rules-found "no dashboards/rules/*.rules.yml"; break; }
	name=$(basename "$rules" .rules.yml)
	run_promtool "promtool-check-rules-$name" . check rules "$rules"
	if [ -f "${rules%.yml}.test.yml" ]; then
		run_promtool "promtool-test-rules-$name" dashboards/rules test rules "$name.rules.test.yml"
	else
		fail "promtool-test-rules-$name" "no ${rules%.yml}.test.yml"
	fi
done

# The dashboards' rules; the checker also writes every query out for
# promtool to parse with Prometheus's own PromQL parser
python3 tests/dashboards/check.py --queries "$out"
for dash in dashboards/*.json; do
	[ -e "$dash" ] || break	# check.py reported it
	name=$(basename "$dash" .json)
	if [ -f "$out/$name.queries.yml" ]; then
		run_promtool "dashboard-$name-promql-parses" "$out" check rules "$name.queries.yml"
	else
		fail "dashboard-$name-promql-parses" "check.py wrote no queries (invalid JSON?)"
	fi
done
