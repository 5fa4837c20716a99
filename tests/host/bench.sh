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

# The SWIOTLB part's summary, from made-up boots whose answers are known:
# three rounds; (a) at 100 MiB/s in every round, (b) 10%, 12% and 8%
# faster (mean +10%, t(2) = 4.303, sd 2%: 95% interval +5.03% to
# +14.97%), (c) +1%, -1% and 0 (an interval around 0: no measurable
# difference); map 1000 ns with 1 pool and 1200, 1300, 1250 with 64 in
# the same boots (median 1.25x); fio 100 MiB/s without swiotlbstat, 80
# with it (ratio 1.25) and 50 with it timing maps (-L: ratio 2).
swiotlb_summary() {
	local raw=$out/swiotlb-raw docs=$out/swiotlb-docs
	mkdir -p "$raw" "$docs"
	python3 - "$raw" <<'PY'
import json, os, sys
shape = {"small": {"bs": "4k", "jobs": 1, "iodepth": 512},
         "big": {"bs": "64k", "jobs": 1, "iodepth": 32},
         "2way": {"bs": "4k", "jobs": 2, "iodepth": 256},
         "4way": {"bs": "4k", "jobs": 4, "iodepth": 128}}
speed = {"vanilla-64m": [100, 100, 100], "patched-64m": [110, 112, 108],
         "patched-grow": [101, 99, 100]}
pools = {"added": {"dynamic": 3, "transient": 1}, "removed": {"dynamic": 2, "transient": 1}}
def put(name, obj):
    json.dump(obj, open(os.path.join(sys.argv[1], name), "w"))
for rnd in (1, 2, 3):
    for config, s in speed.items():
        v = s[rnd - 1]
        put("swiotlb-%s-%d.json" % (config, rnd),
            {"config": config, "round": rnd, "workloads": shape,
             "bandwidth_mibs": {w: [v - 1, v + 1] for w in shape},
             "peak_bytes": (64 << 20) if "64m" in config else (5 << 20),
             "after_idle_bytes": (64 << 20) if "64m" in config else (1 << 20),
             "pools": None if config.startswith("vanilla") else pools})
    put("swiotlb-lookup-%d.json" % rnd,
        {"config": "lookup", "round": rnd,
         "rows": [{"pools": 1, "cycles": 100, "map_ns": 1000, "unmap_ns": 500},
                  {"pools": 64, "cycles": 100, "map_ns": [1200, 1300, 1250][rnd - 1],
                   "unmap_ns": 600}]})
    put("swiotlb-toolcost-%d.json" % rnd,
        {"config": "toolcost", "round": rnd, "mode": "tracepoint",
         "bandwidth_mibs": {"without": [100.0, 100.0], "with": [80.0, 80.0],
                            "with_latency": [50.0, 50.0]}})
PY
	python3 tests/bench/summarize_swiotlb.py "$raw" "$docs" 0 >/dev/null 2>"$out/swiotlb.err" || {
		fail summarize-swiotlb "$(head -c 300 "$out/swiotlb.err")"
		return
	}
	python3 - "$docs/swiotlb.json" <<'PY' >"$out/swiotlb.check"
import json, sys
j = json.load(open(sys.argv[1]))
b = j["diff_to_a"]["patched-64m"]["big"]["interval"]
c = j["diff_to_a"]["patched-grow"]["4way"]["interval"]
print("%.4f %.4f %.4f %s %s %.4f %.2f %.3f %.3f %d" % (
    b["mean"], b["low"], b["high"], b["measurable"], c["measurable"],
    c["mean"], j["lookup"][-1]["map_vs_1"], j["swiotlbstat_cost"]["ratio"],
    j["swiotlbstat_cost"]["latency"]["ratio"],
    j["fio"]["patched-grow"]["peak_bytes"] >> 20))
PY
	expect_eq summarize-swiotlb "0.1000 0.0503 0.1497 True False 0.0000 1.25 1.250 2.000 5" \
		"$(cat "$out/swiotlb.check")" \
		"(b)-(a) mean and 95% interval, which intervals leave 0 out, (c)-(a) mean, map 64/1 pools, swiotlbstat's ratio, with -L, (c)'s peak MiB"
	check summarize-swiotlb-text "swiotlb.md lacks the unmeasurable difference or the pools counted" \
		sh -c "grep -q 'no measurable difference' '$docs/swiotlb.md' &&
			grep -q 'dynamic +3 -2, transient +1 -1' '$docs/swiotlb.md'"
}
swiotlb_summary
