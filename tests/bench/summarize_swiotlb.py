#!/usr/bin/env python3
"""The SWIOTLB part of make bench: turn the swiotlb-*.json files of the
lab boots into docs/bench/swiotlb.json and swiotlb.md (the table of seed
001 with paired confidence intervals, the pools each kernel added and
removed, the pool lookup cost and what swiotlbstat costs fio).

  summarize_swiotlb.py RAW_DIR DOCS_DIR QUICK
"""
import json
import math
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
BASE = "vanilla-64m"
WORKLOADS = ["small", "big", "2way", "4way"]

# Student's t, two-sided 95%, by degrees of freedom (1 to 30); beyond,
# the normal quantile.
T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262,
       2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101,
       2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052,
       2.048, 2.045, 2.042]


def interval(xs):
    """Mean of xs and its 95% confidence interval (t distribution), and
    whether the interval leaves 0 out; None below two values."""
    if len(xs) < 2:
        return None
    mean = statistics.mean(xs)
    t = T95[len(xs) - 2] if len(xs) - 1 <= len(T95) else 1.960
    half = t * statistics.stdev(xs) / math.sqrt(len(xs))
    return {"mean": mean, "low": mean - half, "high": mean + half,
            "n": len(xs), "measurable": not (mean - half <= 0 <= mean + half)}


def cv(xs):
    return statistics.stdev(xs) / statistics.mean(xs) if len(xs) > 1 else float("nan")


def load(raw):
    return load_by(raw, "swiotlb", "config")



def fio_summary(boots):
    """Per config and workload: every run's MiB/s, their mean and CV, and
    each boot's mean by round; per config: the pool memory at the peak and
    after idle, and the pools added and removed, per boot."""
    out = {}
    for config, _ in CONFIGS:
        runs = sorted(boots.get(config, []), key=lambda r: r["round"])
        if not runs:
            sys.exit("summarize_swiotlb: no results for %s" % config)
        c = {"workloads": {}, "rounds": [r["round"] for r in runs],
             "peak_bytes": max(r["peak_bytes"] for r in runs),
             "after_idle_bytes": max(r["after_idle_bytes"] for r in runs),
             "peak_bytes_per_boot": [r["peak_bytes"] for r in runs],
             "pools_per_boot": [r.get("pools") for r in runs]}
        for w in WORKLOADS:
            bw = [x for r in runs for x in r["bandwidth_mibs"][w]]
            c["workloads"][w] = {
                "mibs": bw, "mean": statistics.mean(bw), "cv": cv(bw),
                "boot_means": {str(r["round"]): statistics.mean(r["bandwidth_mibs"][w])
                               for r in runs}}
        c["shape"] = runs[0].get("workloads", {})
        out[config] = c
    return out


def paired_diffs(fio):
    """(b) and (c) against (a), per workload: the relative difference of
    the boot means of each round (boots of one round ran one after the
    other), and the 95% interval of their mean over the rounds."""
    out = {}
    base = fio[BASE]["workloads"]
    for config, _ in CONFIGS:
        if config == BASE:
            continue
        out[config] = {}
        for w in WORKLOADS:
            mine = fio[config]["workloads"][w]["boot_means"]
            rounds = sorted(set(mine) & set(base[w]["boot_means"]), key=int)
            diffs = [mine[r] / base[w]["boot_means"][r] - 1 for r in rounds]
            out[config][w] = {"per_round": diffs, "interval": interval(diffs)}
    return out


def lookup_summary(boots):
    """Per pool count: the median map and unmap ns over the rounds, and the
    map cost relative to 1 pool, taken within each boot."""
    runs = boots.get("lookup", [])
    if not runs:
        sys.exit("summarize_swiotlb: no results for lookup")
    rows = []
    for i in range(len(runs[0]["rows"])):
        rs = [r["rows"][i] for r in runs]
        ratios = [r["rows"][i]["map_ns"] / r["rows"][0]["map_ns"] for r in runs]
        rows.append({"pools": max(x["pools"] for x in rs),
                     "map_ns": statistics.median(x["map_ns"] for x in rs),
                     "unmap_ns": statistics.median(x["unmap_ns"] for x in rs),
                     "map_vs_1_per_boot": ratios,
                     "map_vs_1": statistics.median(ratios),
                     "unmap_vs_1": statistics.median(
                         r["rows"][i]["unmap_ns"] / r["rows"][0]["unmap_ns"] for r in runs),
                     # the first row with a dynamic pool: from there on
                     # the unmap finds its pool in the tree
                     "unmap_vs_2": statistics.median(
                         r["rows"][i]["unmap_ns"] / r["rows"][min(1, len(r["rows"]) - 1)]["unmap_ns"]
                         for r in runs),
                     "rounds": len(rs)})
    return rows


def side_cost(runs, side):
    """The cost of one side against fio alone: the ratio of the means,
    per boot, and per pair (the n-th runs of the two sides ran one right
    after the other) with its 95% interval"""
    without = [x for r in runs for x in r["bandwidth_mibs"]["without"]]
    mine = [x for r in runs for x in r["bandwidth_mibs"][side]]
    per_boot = [statistics.mean(r["bandwidth_mibs"]["without"]) /
                statistics.mean(r["bandwidth_mibs"][side]) for r in runs]
    per_pair = [a / b for a, b in zip(without, mine)]
    return {"mibs": mine, "ratio": statistics.mean(without) / statistics.mean(mine),
            "ratio_per_boot": per_boot, "ratio_per_pair": per_pair,
            "ratio_interval": interval(per_pair)}


def tool_cost_summary(boots):
    """fio's 4-way bandwidth without swiotlbstat, with its default view
    and with -L (every map timed), measured in alternation in the same
    boots: the ratio of the means (1.00: no cost, 1.05: fio 5% slower
    with the tool), overall, per boot and per pair."""
    runs = boots.get("toolcost", [])
    if not runs:
        sys.exit("summarize_swiotlb: no results for toolcost")
    out = side_cost(runs, "with")
    out["with_mibs"] = out.pop("mibs")
    out["mode"] = runs[0]["mode"]
    out["without_mibs"] = [x for r in runs for x in r["bandwidth_mibs"]["without"]]
    if all(r["bandwidth_mibs"].get("with_latency") for r in runs):
        out["latency"] = side_cost(runs, "with_latency")
    return out


def pct(x):
    return "n/a" if x != x else "%+.1f%%" % (100 * x)


def mib(b):
    return "%.1f MiB" % (b / 1048576.0)


def diff_text(d):
    """'+3.1% [-2.0%, +8.2%]', or the mean and 'no measurable
    difference' when the interval holds 0"""
    i = d["interval"]
    if i is None:
        return "%s (one round: no interval)" % pct(d["per_round"][0])
    text = "%s [%s, %s]" % (pct(i["mean"]), pct(i["low"]), pct(i["high"]))
    return text if i["measurable"] else text + " no measurable difference"


def pools_text(pools):
    """Pools a boot added and removed: 'dynamic +3 -3, transient +1 -1'"""
    if pools is None:
        return "(no events)"
    return ", ".join("%s +%d -%d" % (k, pools["added"][k], pools["removed"][k])
                     for k in ("dynamic", "transient"))


def fio_markdown(fio, diffs):
    rounds = len(fio[BASE]["rounds"])
    runs = len(fio[BASE]["workloads"]["small"]["mibs"]) // rounds
    lines = [
        "fio randrw with direct I/O on the lab's emulated NVMe disk, booted "
        "with `swiotlb=...,force intel_iommu=off`: %d rounds, each a boot of "
        "(a), (b) and (c) one after the other, %d run(s) per workload and "
        "boot. Every workload keeps 2 MiB in flight (block size x jobs x "
        "queue depth), twice (c)'s boot pool, so (c) must grow. *var* is "
        "the coefficient of variation over all runs of a kernel, as in "
        "seed 001. *diff* is the mean over the rounds of the relative "
        "difference in read+write bandwidth to (a) in the same round, "
        "with its 95%% confidence interval (t distribution over the "
        "rounds); where the interval holds 0 there is no measurable "
        "difference. These are TCG timings: only the ratios between "
        "columns mean something." % (rounds, runs), "",
        "| workload | (a) var | (b) var | (b) diff | (c) var | (c) diff |",
        "|---|---|---|---|---|---|"]
    for w in WORKLOADS:
        s = fio[BASE]["shape"].get(w)
        label = "%s: %s x %d jobs x depth %d" % (w, s["bs"], s["jobs"], s["iodepth"]) \
            if s else w
        a = fio[BASE]["workloads"][w]
        b = fio["patched-64m"]["workloads"][w]
        c = fio["patched-grow"]["workloads"][w]
        lines.append("| %s | %.2f%% | %.2f%% | %s | %.2f%% | %s |" % (
            label, 100 * a["cv"], 100 * b["cv"], diff_text(diffs["patched-64m"][w]),
            100 * c["cv"], diff_text(diffs["patched-grow"][w])))
    lines += ["", "Pool memory: the largest seen in any boot, at the peak "
              "(sampled every 0.1 s) and after 2 s idle at the end. Pools "
              "added and removed: counted from the swiotlb:swiotlb_pool_add "
              "and swiotlb_pool_remove events, per boot (round by round); "
              "vanilla has no such events.", "",
              "| kernel | pool memory at the peak | after 2 s idle | pools added and removed, per boot |",
              "|---|---|---|---|"]
    for config, label in CONFIGS:
        f = fio[config]
        lines.append("| %s | %s | %s | %s |" % (
            label, mib(f["peak_bytes"]), mib(f["after_idle_bytes"]),
            "; ".join(pools_text(p) for p in f["pools_per_boot"])))
    return lines


def lookup_markdown(lookup):
    last = lookup[-1]
    lines = ["", "## Pool lookup: map and unmap cost with many pools", "",
             "tests/iovaload holds 256 KiB mappings until the kernel has the "
             "given number of pools (a 4 MiB boot pool and 4 MiB dynamic "
             "pools, so that the rows differ in the number of pools only), "
             "then fills all of them but the last 256 KiB chunk of the last "
             "pool, and maps 64 buffers of 4 KiB (the whole chunk), then "
             "unmaps them, over and over. The map searches from the pool "
             "that last had room and skips full areas without their lock; "
             "the unmap finds its pool in the latched rbtree (with 1 pool the mapping is in the boot pool, which is checked before the tree). Each batch "
             "scans the held rest of the chunk's area once, in every row. "
             "Nanoseconds per call (TCG): the median over the batches of a "
             "boot, then over the rounds; *map vs 1 pool* is taken within "
             "each boot, then the median over the boots.", "",
             "| pools | map ns | unmap ns | map vs 1 pool | per boot | unmap vs 1 pool | unmap vs 2 pools |",
             "|---|---|---|---|---|---|---|"]
    for row in lookup:
        lines.append("| %d | %.0f | %.0f | %.2fx | %s | %.2fx | %.2fx |" % (
            row["pools"], row["map_ns"], row["unmap_ns"], row["map_vs_1"],
            ", ".join("%.2f" % x for x in row["map_vs_1_per_boot"]),
            row["unmap_vs_1"], row["unmap_vs_2"]))
    lines += ["", "Map with %d pools: %.2f times the cost with 1 pool (the "
              "target is at most 1.3)." % (last["pools"], last["map_vs_1"])]
    return lines


def band_text(c):
    i = c["ratio_interval"]
    return "" if i is None else \
        "; the mean of the %d pairs' ratios %.3f, 95%% interval %.3f to %.3f" % (
            i["n"], i["mean"], i["low"], i["high"])


def cost_markdown(cost):
    lat = cost.get("latency")
    lines = ["", "## What swiotlbstat costs", "",
             "fio (4 KiB randrw, 4 jobs, depth 128) on the patched kernel "
             "growing from 1 MiB, %d runs without swiotlbstat, %d with "
             "`swiotlbstat -j 1` running (mode %s: the trace events and "
             "swiotlb_bounced)%s, in alternation in the same boots. The "
             "cost ratio is the mean bandwidth without the tool over the "
             "mean with it: 1.00 means no cost; the target is at most 1.05 "
             "for the default view. This boot reads the TSC as real machines "
             "do (`clocksource=tsc tsc=reliable`): with TCG's default, the "
             "emulated HPET, each of -L's two timestamps per map costs "
             "microseconds." % (
                 len(cost["without_mibs"]), len(cost["with_mibs"]), cost["mode"],
                 "" if lat is None else " and %d with `swiotlbstat -L -j 1` "
                 "(fentry and fexit on the map function as well)" % len(lat["mibs"])),
             "", "| | MiB/s (mean) | var | cost ratio | per boot |",
             "|---|---|---|---|---|",
             "| without | %.1f | %.2f%% | | |" % (
                 statistics.mean(cost["without_mibs"]), 100 * cv(cost["without_mibs"])),
             "| with | %.1f | %.2f%% | %.3f | %s |" % (
                 statistics.mean(cost["with_mibs"]), 100 * cv(cost["with_mibs"]),
                 cost["ratio"], ", ".join("%.3f" % x for x in cost["ratio_per_boot"]))]
    if lat is not None:
        lines.append("| with -L | %.1f | %.2f%% | %.3f | %s |" % (
            statistics.mean(lat["mibs"]), 100 * cv(lat["mibs"]), lat["ratio"],
            ", ".join("%.3f" % x for x in lat["ratio_per_boot"])))
    lines += ["", "swiotlbstat's cost ratio: %.3f%s." % (cost["ratio"], band_text(cost))]
    if lat is not None:
        lines.append("With -L: %.3f%s." % (lat["ratio"], band_text(lat)))
    return lines


def markdown(fio, diffs, lookup, cost, quick):
    lines = doc_head("The dynamic SWIOTLB: fio with every byte bounced", quick)
    lines += fio_markdown(fio, diffs)
    lines += lookup_markdown(lookup)
    lines += cost_markdown(cost)
    return "\n".join(lines) + "\n"


def main():
    raw, docs, quick = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
    boots = load(raw)
    fio = fio_summary(boots)
    diffs = paired_diffs(fio)
    lookup = lookup_summary(boots)
    cost = tool_cost_summary(boots)
    commit = subprocess.run(["git", "describe", "--always", "--dirty"],
                            capture_output=True, text=True).stdout.strip()
    with open(os.path.join(docs, "swiotlb.json"), "w") as f:
        json.dump({"commit": commit, "quick": quick, "fio": fio,
                   "diff_to_a": diffs, "lookup": lookup,
                   "swiotlbstat_cost": cost}, f, indent=1)
    with open(os.path.join(docs, "swiotlb.md"), "w") as f:
        f.write(markdown(fio, diffs, lookup, cost, quick))


if __name__ == "__main__":
    main()
