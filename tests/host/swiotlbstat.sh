#!/bin/bash
# swiotlbstat on the machine's own kernel (no lab): bad input, --hooks,
# the line output, JSON and its agreement with debugfs where the kernel
# has the files, SIGINT, Prometheus.  Needs root and `make`.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

cd "$TOP_DIR" || exit 1
TOOL=.output/swiotlbstat
scratch_out

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

# Intervals: plain decimals, no shorter than the loop can keep; options
# that cannot work together; the error names the option that is wrong
test_bad swiotlbstat-bad-interval-hex 0x1
test_bad swiotlbstat-bad-interval-exponent -b 1e-9
test_bad swiotlbstat-bad-interval-below-floor 0.05
test_bad swiotlbstat-quiet-alone -q 1 1
test_bad swiotlbstat-quiet-json -q -j -t "$out/q.prom" 1 1
timeout 10 "$TOOL" -bZ >/dev/null 2>"$out/stderr" </dev/null
expect_eq swiotlbstat-option-in-group "swiotlbstat: error: unknown option '-Z' (see --help)" \
	"$(cat "$out/stderr")" "the error for -bZ"

# The textfile: only a *.prom file in an existing directory, never a file
# of someone else's, one writer at a time
echo precious >"$out/victim.txt"
test_bad swiotlbstat-textfile-not-prom -q -t "$out/victim.txt" 0.2 3
expect_eq swiotlbstat-textfile-victim-kept precious "$(cat "$out/victim.txt")" "the file -t named"
mkdir "$out/dir.prom"
test_bad swiotlbstat-textfile-directory -q -t "$out/dir.prom" 0.2 3
test_bad swiotlbstat-textfile-no-directory -q -t "$out/no/such/m.prom" 0.2 3

"$TOOL" -q -t "$out/m.prom" 0.2 >/dev/null 2>&1 </dev/null &
pid=$!
wait_nonempty "$out/m.prom"
test_bad swiotlbstat-textfile-second-writer -q -t "$out/m.prom" 0.2 3
check swiotlbstat-textfile-second-kept-first "the first writer's file is gone" [ -s "$out/m.prom" ]
# SIGHUP (the terminal closed) ends the tool as SIGTERM does
kill -HUP "$pid"
wait "$pid"
expect_eq swiotlbstat-sighup-exit 0 "$?" "exit status after SIGHUP"
check swiotlbstat-sighup-textfile-gone "left: $(ls -a "$out" | grep -E 'm\.prom' | tr '\n' ' ')" \
	eval '[ -z "$(ls -a "$out" | grep -E "m\.prom")" ]'

# A textfile the tool never wrote (stopped before its first interval) is
# not its to remove
echo "old 1" >"$out/old.prom"
"$TOOL" -q -t "$out/old.prom" 30 >/dev/null 2>&1 </dev/null &
pid=$!
sleep 2
kill -TERM "$pid"
wait "$pid"
expect_eq swiotlbstat-textfile-unwritten-kept "old 1" "$(cat "$out/old.prom" 2>&1)" "a file it never wrote"

# | head: a closed stdout is a clean end
"$TOOL" 0.2 20 2>/dev/null </dev/null | head -n 2 >/dev/null
expect_eq swiotlbstat-sigpipe-exit 0 "${PIPESTATUS[0]}" "exit status when head stops reading"

# --hooks: every mode, and why it does or does not serve here
timeout 60 "$TOOL" --hooks >"$out/modes" 2>/dev/null </dev/null
check swiotlbstat-hooks-modes "$(sed -n '/^modes/,/^mode:/p' "$out/modes" | tr '\n' '|')" \
	eval '[ "$(grep -cE "^  (tracepoint|fentry|bounced) +(in use|does not|applies|not tried)" "$out/modes")" = 3 ] &&
	      [ "$(grep -c " in use$" "$out/modes")" = 1 ]'

# What a mode cannot see is absent, not 0; a hook detached after its work
# is reported so.  The bounced mode sees no maps.
"$TOOL" -m bounced -q -t "$out/b.prom" 0.2 >/dev/null 2>&1 </dev/null &
pid=$!
sleep 1.5
wait_nonempty "$out/b.prom" && cp "$out/b.prom" "$out/b.seen"
"$TOOL" -m bounced -j 0.2 2 >"$out/b.json" 2>/dev/null </dev/null
kill -INT "$pid"
wait "$pid"
check swiotlbstat-blind-absent "$(grep -E '^dmascope_swiotlb_(device_)?(maps|map_failures|unmaps)_total' "$out/b.seen" | head -n 2)" \
	eval '[ -s "$out/b.seen" ] && ! grep -qE "^dmascope_swiotlb_(device_)?(maps|map_failures|unmaps|mapped_bytes|device_mapped_bytes)_total" "$out/b.seen"'
check swiotlbstat-blind-family-kept "no bounced_total" grep -q '^dmascope_swiotlb_bounced_total ' "$out/b.seen"
why=$(python3 - "$out/b.json" "$out/b.seen" <<'PY'
import json, re, sys
row = [json.loads(l) for l in open(sys.argv[1])][-1]
prom = open(sys.argv[2]).read()
attached = set(re.findall(r'^dmascope_swiotlb_hook_attached\{hook="([^"]*)"\} 1$', prom, re.M))
done = set(re.findall(r'^dmascope_swiotlb_hook_done\{hook="([^"]*)"\} 1$', prom, re.M))
bad = []
for name in row["hooks_done"]:
    if row["hooks"].get(name):
        bad.append("JSON says %s is attached and done" % name)
bad += ["%s attached and done in the metrics" % h for h in attached & done]
if row.get("total_slots") is not None and not done:
    bad.append("io_tlb_default_mem found, yet no hook reported done")
print("; ".join(bad) or "ok")
PY
)
check swiotlbstat-hooks-done-detached "$why" [ "$why" = ok ]

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
		in_private_mounts 'mount -t debugfs none /sys/kernel/debug 2>/dev/null &&
			cat /sys/kernel/debug/swiotlb/io_tlb_nslabs /sys/kernel/debug/swiotlb/io_tlb_used' \
			/sys/kernel/debug 2>/dev/null
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
