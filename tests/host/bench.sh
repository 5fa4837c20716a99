#!/bin/bash
# The benchmark's history and make bench-compare, on the host (no lab
# boot): history.py's bands, marks, graph and verdict on made-up runs
# (tests/host/bench_history.py), and bench-compare's one-line errors for
# a REV or BENCH_ROUNDS it cannot use, given before anything is built.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

cd "$TOP_DIR" || exit 1
scratch_out
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

# The oneliner part's summary, from made-up boots whose costs are known:
# fio alone 1000 IOPS, 950 with the one-liner (5% lost), 900 with iovatop
# (10% lost), 800 with iovatop -j (20%): iovatop costs twice the
# one-liner, in every round; a program run 1000 times in 500 I/Os for
# 250 us is 2 calls per I/O, 250 ns each.
oneliner_summary() {
	local raw=$out/oneliner-raw docs=$out/oneliner-docs
	mkdir -p "$raw" "$docs"
	python3 - "$raw" <<'PY'
import json, os, sys
runs = [{"run": i, "order": ["none", "bpftrace", "iovatop", "iovatop-full"],
         "iops": {"none": 1000.0, "bpftrace": 950.0, "iovatop": 900.0,
                  "iovatop-full": 800.0},
         "ios": {"none": 5000, "bpftrace": 4750, "iovatop": 4500, "iovatop-full": 4000},
         "attach_s": {"bpftrace": 3, "iovatop": 2, "iovatop-full": 2},
         "bpftrace_calls": 4750, "iovatop_mode": "fentry",
         "iovatop_nvme_allocs_per_s_max": 900.0}
        for i in (1, 2, 3)]
stats = {"iovatop": [{"program": "fentry_alloc_co", "calls": 1000, "run_ns": 250000,
                      "fio_ios": 500}]}
for rnd in (1, 2):
    json.dump({"variant": "debian-6.1", "round": rnd, "kernel": "6.1.0-test",
               "cpus": 4, "clocksource": "tsc",
               "fio": {"rw": "randread", "bs": "4k", "iodepth": 8, "ioengine": "libaio",
                       "direct": 1, "numjobs": 1, "seconds": 5},
               "oneliner": "kprobe:alloc_iova_fast { @calls = count(); }",
               "iovatop_command": "iovatop -b 1", "bpftrace_version": "bpftrace v0",
               "iovatop_mode": "fentry", "iovatop_hooks": ["fentry/alloc_iova_fast"],
               "bpf_stats": stats,
               "iops": {c: [r["iops"][c] for r in runs] for c in runs[0]["iops"]},
               "runs": runs},
              open(os.path.join(sys.argv[1], "oneliner-debian-6.1-%d.json" % rnd), "w"))
PY
	python3 tests/bench/summarize_oneliner.py "$raw" "$docs" 0 >/dev/null 2>"$out/oneliner.err" || {
		fail summarize-oneliner "$(head -c 300 "$out/oneliner.err")"
		return
	}
	python3 - "$docs/oneliner.json" <<'PY' >"$out/oneliner.check"
import json, sys
i = json.load(open(sys.argv[1]))["images"]["debian-6.1"]
p = i["bpf_stats"][0]
print("%.4f %.4f %.4f %.4f %.1f %.0f" % (
    i["tools"]["bpftrace"]["lost"], i["tools"]["iovatop"]["lost"],
    i["iovatop_over_oneliner"]["quotient"], i["tools"]["iovatop-full"]["lost"],
    p["calls_per_io"], p["ns_per_call"]))
PY
	expect_eq summarize-oneliner "0.0500 0.1000 2.0000 0.2000 2.0 250" "$(cat "$out/oneliner.check")" \
		"IOPS lost with the one-liner, iovatop, their quotient, iovatop -j; a program's calls per I/O and ns per call"
}
oneliner_summary
