#!/bin/bash
# swiotlbstat on the machine's own kernel (no lab): bad input, --hooks,
# the line output, JSON and its agreement with debugfs where the kernel
# has the files, SIGINT, Prometheus.  Needs root and `make`.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

cd "$TOP_DIR" || exit 1
TOOL=.output/swiotlbstat
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

if [ ! -x "$TOOL" ]; then
	fail swiotlbstat-built "$TOOL is missing (run make)"
	exit 0
fi

# usage: test_bad NAME ARGS...: one line "swiotlbstat: error: ..." and status 2
test_bad() {
	local name=$1 rc
	shift
	timeout 10 "$TOOL" "$@" >"$out/stdout" 2>"$out/stderr" </dev/null
	rc=$?
	if [ "$rc" = 2 ] && [ "$(wc -l <"$out/stderr")" = 1 ] &&
	   grep -q '^swiotlbstat: error: ' "$out/stderr" && [ ! -s "$out/stdout" ]; then
		pass "$name"
	else
		fail "$name" "status $rc, stderr '$(head -c 200 "$out/stderr" | tr '\n' '|')'"
	fi
}

test_bad swiotlbstat-bad-option -x
test_bad swiotlbstat-bad-interval-zero 0
test_bad swiotlbstat-bad-interval-text abc
test_bad swiotlbstat-bad-count 1 0
test_bad swiotlbstat-too-many-args 1 2 3
test_bad swiotlbstat-bad-mode -m nope
test_bad swiotlbstat-two-views --pools --devices
test_bad swiotlbstat-bad-advise-after-zero --advise-after 0
test_bad swiotlbstat-bad-advise-after-text --advise-after=soon

timeout 10 "$TOOL" --version >"$out/version" 2>&1
check swiotlbstat-version "$(cat "$out/version")" grep -q '^swiotlbstat (dmascope) ' "$out/version"

# --hooks: a mode, its hooks, and where io_tlb_default_mem came from
timeout 60 "$TOOL" --hooks >"$out/hooks" 2>"$out/hooks.err" </dev/null
rc=$?
echo "# hooks: $(grep -E '^(mode|io_tlb_default_mem):' "$out/hooks" | tr '\n' ' ')"
expect_eq swiotlbstat-hooks-exit 0 "$rc" "--hooks exit status"
check swiotlbstat-hooks-mode "no mode line" grep -q '^mode: ' "$out/hooks"
check swiotlbstat-hooks-mem "no io_tlb_default_mem line" grep -q '^io_tlb_default_mem: ' "$out/hooks"

# the line view: a header, then one line of 15 columns per interval
timeout 60 "$TOOL" 1 3 >"$out/lines" 2>"$out/lines.err" </dev/null
rc=$?
sed 's/^/# /' "$out/lines"
expect_eq swiotlbstat-lines-exit 0 "$rc" "exit status of 'swiotlbstat 1 3'"
expect_eq swiotlbstat-lines-header 1 "$(grep -c '^ *TIME ' "$out/lines")" "header lines"
expect_eq swiotlbstat-lines-rows 3 "$(awk '/^[0-9][0-9]:[0-9][0-9]:[0-9][0-9] / && NF == 15' "$out/lines" | wc -l)" \
	"lines of 15 columns"

# JSON lines, checked against debugfs when the kernel has its files
timeout 60 "$TOOL" --json 1 2 >"$out/json" 2>/dev/null </dev/null
rc=$?
expect_eq swiotlbstat-json-exit 0 "$rc" "exit status of --json 1 2"
check swiotlbstat-json-valid "not two JSON objects with a mode" python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 2 and all(r["mode"] and "lost" in r for r in rows)
' "$out/json"

debugfs_read() {
	if [ -d /sys/kernel/debug/swiotlb ] && [ -e /sys/kernel/debug/swiotlb/io_tlb_nslabs ]; then
		cat /sys/kernel/debug/swiotlb/io_tlb_nslabs /sys/kernel/debug/swiotlb/io_tlb_used
	else
		# a private mount: the host's mounts stay as they are
		unshare -m sh -c 'mount -t debugfs none /sys/kernel/debug 2>/dev/null &&
			cat /sys/kernel/debug/swiotlb/io_tlb_nslabs /sys/kernel/debug/swiotlb/io_tlb_used' 2>/dev/null
	fi
}

json_slots=$(python3 -c '
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])][-1]
print(r.get("total_slots", "-"), r.get("used_slots", "-"))
' "$out/json")
debugfs=$(debugfs_read | tr '\n' ' ' | sed 's/ $//')
echo "# json total/used slots: $json_slots; debugfs io_tlb_nslabs/io_tlb_used: ${debugfs:-none}"
if [ -z "$debugfs" ]; then
	skip swiotlbstat-json-debugfs "no swiotlb files in debugfs (no pool, or no debugfs)"
elif [ "$json_slots" = "- -" ]; then
	skip swiotlbstat-json-debugfs "io_tlb_default_mem not found on this kernel"
else
	expect_eq swiotlbstat-json-debugfs "$debugfs" "$json_slots" "total and used slots"
fi

# --advise-after: the lines of that long, then the advice, and exit 0;
# the recommendation is never below the kernel's 1 MiB minimum
start=$(date +%s%N)
timeout 30 "$TOOL" --advise-after 1.5 0.5 >"$out/advice" 2>"$out/advice.err" </dev/null
rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
sed -n '/advice after/,$p' "$out/advice" | sed 's/^/# /'
expect_eq swiotlbstat-advise-exit 0 "$rc" "exit status of --advise-after 1.5 0.5"
expect_eq swiotlbstat-advise-lines 3 "$(awk '/^[0-9][0-9]:[0-9][0-9]:[0-9][0-9] / && NF == 15' "$out/advice" | wc -l)" \
	"lines before the advice (1.5 s at 0.5 s)"
check swiotlbstat-advise-recommends "took $ms ms; $(grep -m1 'swiotlb=' "$out/advice")" \
	eval 'grep -Eq "^  swiotlb=(5[1-9][0-9]|[6-9][0-9]{2}|[0-9]{4,}) " "$out/advice" && [ "$ms" -lt 10000 ]'
check swiotlbstat-advise-untrusted "no 'not to be trusted' line after 1.5 s" \
	grep -q 'not to be trusted yet: observed for less than a minute' "$out/advice"

# SIGINT: the last interval, then exit 0 at once
"$TOOL" 10 >"$out/int" 2>/dev/null </dev/null &
pid=$!
sleep 3
start=$(date +%s%N)
kill -INT "$pid"
wait "$pid"
rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
expect_eq swiotlbstat-sigint-exit 0 "$rc" "exit status after SIGINT"
check swiotlbstat-sigint-fast "took $ms ms" test "$ms" -lt 2000
expect_eq swiotlbstat-sigint-line 1 "$(awk '/^[0-9][0-9]:[0-9][0-9]:[0-9][0-9] / && NF == 15' "$out/int" | wc -l)" \
	"lines printed for the interrupted interval"

# Prometheus: the metrics parse and name the mode
port=$((20000 + RANDOM % 20000))
timeout 30 "$TOOL" -q -p "127.0.0.1:$port" 1 4 >/dev/null 2>&1 </dev/null &
pid=$!
sleep 2.5
curl -s "http://127.0.0.1:$port/metrics" >"$out/metrics"
wait "$pid"
check swiotlbstat-prometheus-info "no dmascope_swiotlb_info" \
	grep -q '^dmascope_swiotlb_info{mode="' "$out/metrics"
if command -v promtool >/dev/null; then
	check swiotlbstat-prometheus-valid "promtool: $(promtool check metrics <"$out/metrics" 2>&1 | head -n 2 | tr '\n' ' ')" \
		sh -c "promtool check metrics <'$out/metrics' >/dev/null 2>&1"
else
	skip swiotlbstat-prometheus-valid "no promtool"
fi

# tools/dmascope-report.py on a recording of this machine, which has no
# dmascope events: it says so; a bad option is one line and exit 1
REPORT=tools/dmascope-report.py
if perf record -q -o "$out/perf.data" -e sched:sched_switch -a -- sleep 0.2 >/dev/null 2>&1; then
	perf script -i "$out/perf.data" -s "$REPORT" >"$out/report" 2>&1
	expect_eq report-no-events "no iova:* or swiotlb:* events in the recording" \
		"$(cat "$out/report")" "the report of a recording without the events"
	perf script -i "$out/perf.data" -s "$REPORT" -- --bogus >"$out/report" 2>&1
	rc=$?
	expect_eq report-bad-option "1 dmascope-report: unknown option '--bogus' (expected --kv, --domain ADDR)" \
		"$rc $(cat "$out/report")" "exit status and message"
	perf script -i "$out/perf.data" -s "$REPORT" -- --kv --domain 0x1234 >"$out/report" 2>&1
	rc=$?
	expect_eq report-no-domain "1 dmascope-report: no iova:* event of domain 0x1234 in the recording" \
		"$rc $(cat "$out/report")" "exit status and message for a domain not recorded"
else
	for t in report-no-events report-bad-option report-no-domain; do
		skip "$t" "perf cannot record here"
	done
fi
