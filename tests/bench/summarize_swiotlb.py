#!/usr/bin/env python3
"""The SWIOTLB part of make bench: turn the swiotlb-*.json files of the
lab boots into docs/bench/swiotlb.json and swiotlb.md (the table of seed
001 and the pool lookup cost).

  summarize_swiotlb.py RAW_DIR DOCS_DIR QUICK
"""
import json
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from history import doc_head, load_by  # noqa: E402

CONFIGS = [
    ("vanilla-64m", "(a) vanilla 6.1, fixed 64 MiB"),
    ("patched-64m", "(b) patched, fixed 64 MiB"),
    ("patched-grow", "(c) patched, growing from 1 MiB"),
]
WORKLOADS = [
    ("small", "4 KiB, 1 job"),
    ("big", "64 KiB, 1 job"),
    ("2way", "4 KiB, 2 jobs"),
    ("4way", "4 KiB, 4 jobs"),
]


def load(raw):
    return load_by(raw, "swiotlb", "config")


def fio_summary(boots):
    """Per config and workload: every run's MiB/s, their mean and CV;
    per config: the largest peak and after-idle pool memory."""
    out = {}
    for config, _ in CONFIGS:
        runs = boots.get(config, [])
        if not runs:
            sys.exit("summarize_swiotlb: no results for %s" % config)
        c = {"workloads": {},
             "peak_bytes": max(r["peak_bytes"] for r in runs),
             "after_idle_bytes": max(r["after_idle_bytes"] for r in runs)}
        for w, _ in WORKLOADS:
            bw = [x for r in runs for x in r["bandwidth_mibs"][w]]
            mean = statistics.mean(bw)
            cv = statistics.stdev(bw) / mean if len(bw) > 1 else float("nan")
            c["workloads"][w] = {"mibs": bw, "mean": mean, "cv": cv}
        out[config] = c
    base = out["vanilla-64m"]["workloads"]
    for config, _ in CONFIGS[1:]:
        for w, _ in WORKLOADS:
            cw = out[config]["workloads"][w]
            cw["diff_to_a"] = cw["mean"] / base[w]["mean"] - 1
    return out


def lookup_summary(boots):
    """Median map and unmap ns per pool count over the rounds."""
    by_target = {}
    for r in boots.get("lookup", []):
        for i, row in enumerate(r["rows"]):
            by_target.setdefault(i, []).append(row)
    rows = []
    for i in sorted(by_target):
        rs = by_target[i]
        rows.append({"pools": max(x["pools"] for x in rs),
                     "map_ns": statistics.median(x["map_ns"] for x in rs),
                     "unmap_ns": statistics.median(x["unmap_ns"] for x in rs),
                     "rounds": len(rs)})
    # the first row is the boot pool alone (no tree lookup at all); the
    # second the first with a dynamic pool: the base of the lookup's cost
    for row in rows:
        row["unmap_vs_1"] = row["unmap_ns"] / rows[0]["unmap_ns"]
        row["unmap_vs_2"] = row["unmap_ns"] / rows[min(1, len(rows) - 1)]["unmap_ns"]
    return rows


def tool_cost_summary(boots):
    """fio's 4-way bandwidth without and with swiotlbstat running, measured
    in alternation in the same boots: the ratio of the means (1.00: no cost,
    1.05: fio 5% slower with the tool), overall and per boot."""
    runs = boots.get("toolcost", [])
    if not runs:
        sys.exit("summarize_swiotlb: no results for toolcost")
    without = [x for r in runs for x in r["bandwidth_mibs"]["without"]]
    with_tool = [x for r in runs for x in r["bandwidth_mibs"]["with"]]
    per_boot = [statistics.mean(r["bandwidth_mibs"]["without"]) /
                statistics.mean(r["bandwidth_mibs"]["with"]) for r in runs]
    return {"mode": runs[0]["mode"], "without_mibs": without,
            "with_mibs": with_tool,
            "ratio": statistics.mean(without) / statistics.mean(with_tool),
            "ratio_per_boot": per_boot}


def pct(x):
    return "n/a" if x != x else "%+.1f%%" % (100 * x)


def mib(b):
    return "%.1f MiB" % (b / 1048576.0)


def cost_markdown(cost):
    def cv(xs):
        return statistics.stdev(xs) / statistics.mean(xs) if len(xs) > 1 else float("nan")
    return ["", "## What swiotlbstat costs", "",
            "fio (4 KiB randrw, 4 jobs) on the patched kernel growing from "
            "1 MiB, %d runs without and %d with `swiotlbstat -j 1` running "
            "(mode %s), in alternation in the same boots. The cost ratio "
            "is the mean bandwidth without the tool over the mean with it: "
            "1.00 means no cost; the target is at most 1.05. This boot "
            "reads the TSC as real machines do (`clocksource=tsc "
            "tsc=reliable`): with TCG's default, the emulated HPET, each "
            "of the tool's two timestamps per map costs microseconds." % (
                len(cost["without_mibs"]), len(cost["with_mibs"]), cost["mode"]), "",
            "| | without | with | cost ratio |", "|---|---|---|---|",
            "| MiB/s (mean) | %.1f | %.1f | %.3f |" % (
                statistics.mean(cost["without_mibs"]),
                statistics.mean(cost["with_mibs"]), cost["ratio"]),
            "| var | %.2f%% | %.2f%% | per boot: %s |" % (
                100 * cv(cost["without_mibs"]), 100 * cv(cost["with_mibs"]),
                ", ".join("%.3f" % x for x in cost["ratio_per_boot"]))]


def markdown(fio, lookup, cost, quick):
    runs = len(fio["vanilla-64m"]["workloads"]["small"]["mibs"])
    lines = doc_head("The dynamic SWIOTLB: fio with every byte bounced", quick)
    lines += [
        "fio randrw with direct I/O on the lab's emulated NVMe disk, booted "
        "with `swiotlb=...,force intel_iommu=off`; %d runs per cell, boots "
        "of the three kernels in alternation. As in seed 001: *var* is the "
        "coefficient of variation over the runs, *diff* the difference of "
        "the mean read+write bandwidth to (a). These are TCG timings: "
        "only the ratios between columns mean something." % runs, "",
        "| workload | (a) var | (b) var | (b) diff | (c) var | (c) diff |",
        "|---|---|---|---|---|---|"]
    for w, label in WORKLOADS:
        a = fio["vanilla-64m"]["workloads"][w]
        b = fio["patched-64m"]["workloads"][w]
        c = fio["patched-grow"]["workloads"][w]
        lines.append("| %s | %.2f%% | %.2f%% | %s | %.2f%% | %s |" % (
            label, 100 * a["cv"], 100 * b["cv"], pct(b["diff_to_a"]),
            100 * c["cv"], pct(c["diff_to_a"])))
    lines += ["", "| kernel | pool memory at the peak | after 2 s idle |",
              "|---|---|---|"]
    for config, label in CONFIGS:
        lines.append("| %s | %s | %s |" % (label, mib(fio[config]["peak_bytes"]),
                                         mib(fio[config]["after_idle_bytes"])))
    lines += ["", "## Pool lookup: map and unmap cost with many pools", "",
              "tests/iovaload holds 256 KiB mappings until the kernel has "
              "the given number of pools, then fills all of them but the "
              "last chunk of the last pool, and maps 32 buffers of 4 KiB, "
              "then unmaps them, over and over. The unmap finds its pool in the latched "
              "rbtree; the map still tries the pools in order, so its cost "
              "grows with the pool count. With 1 pool the mapping is in the "
              "boot pool, which is checked before the tree; from 2 pools on "
              "it is in a dynamic pool (tree lookup, idle-time bookkeeping). "
              "Nanoseconds per call (TCG): the median over the batches of a "
              "boot, then over the rounds.", "",
              "| pools | map ns | unmap ns | unmap vs 1 pool | unmap vs 2 pools |",
              "|---|---|---|---|---|"]
    for row in lookup:
        lines.append("| %d | %.0f | %.0f | %.2fx | %.2fx |" % (
            row["pools"], row["map_ns"], row["unmap_ns"], row["unmap_vs_1"],
            row["unmap_vs_2"]))
    lines += cost_markdown(cost)
    return "\n".join(lines) + "\n"


def main():
    raw, docs, quick = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
    boots = load(raw)
    fio = fio_summary(boots)
    lookup = lookup_summary(boots)
    cost = tool_cost_summary(boots)
    commit = subprocess.run(["git", "describe", "--always", "--dirty"],
                            capture_output=True, text=True).stdout.strip()
    with open(os.path.join(docs, "swiotlb.json"), "w") as f:
        json.dump({"commit": commit, "quick": quick, "fio": fio,
                   "lookup": lookup, "swiotlbstat_cost": cost}, f, indent=1)
    with open(os.path.join(docs, "swiotlb.md"), "w") as f:
        f.write(markdown(fio, lookup, cost, quick))


if __name__ == "__main__":
    main()
