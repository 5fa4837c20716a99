#!/usr/bin/env python3
"""Turn the per-boot bench JSON files into results.json, README.md, the
data files of the graphs, and the run's ratios in history.csv (history.py
redraws history.png).

  summarize.py RAW_DIR DOCS_DIR QUICK
"""
import json
import os
import sys


# the measures history.py keeps over time, computed the same way here
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from history import hot, latency, load_runs as load, measure, median, now  # noqa: E402
from history import draw as draw_history, overhead as paired_overhead  # noqa: E402
from history import pair_ratios, record as record_history, tree_name  # noqa: E402


def per_round(v, p, value):
    """The patched/vanilla ratio of value() for each round on its own: how
    far two boots of the same pair of kernels disagree."""
    by_round = {r["round"]: r for r in v}
    return [value([r]) / value([by_round[r["round"]]])
            for r in p if r["round"] in by_round and value([by_round[r["round"]]]) > 0]


def between_boots(runs, value):
    """How far one kernel's boots disagree: the lowest and the highest
    per-boot value, and how much the highest is above the lowest."""
    per_boot = [value([r]) for r in runs]
    lo, hi = min(per_boot), max(per_boot)
    return {"boots": len(per_boot), "low": lo, "high": hi,
            "spread": hi / lo - 1 if lo > 0 else float("nan")}


def widest(runs, value):
    """between_boots() of the kernel whose boots disagree the most"""
    return max((dict(between_boots(runs[k], value), kernel=k)
                for k in ("vanilla", "default") if runs[k]),
               key=lambda b: b["spread"])


def cached(runs, when, field):
    return median([r["cached_after"][when][field] for r in runs])


def rotation(runs, field):
    return median([r["rotation"][field] for r in runs])


def rotation_overhead(runs):
    """Median over the boots of the rotation's time with iovatop attached
    over its time with nothing attached, in the same boot"""
    return median([r["rotation"]["ns_per_alloc_free_with_iovatop"] /
                   r["rotation"]["ns_per_alloc_free"] for r in runs])


def pair_band(runs, field, total):
    """The lowest and the highest (with iovatop) / (without) of the pairs
    whose median paired_overhead() is: the noise of that ratio."""
    ratios = pair_ratios(runs, field, total)
    return [min(ratios), max(ratios)] if ratios else [float("nan")] * 2


def summarize(runs):
    v, p = runs["vanilla"], runs["default"]
    s = {
        "latency_us": {
            "vanilla": latency(v, "plain"), "patched": latency(p, "plain"),
            "vanilla_with_iovatop": latency(v, "iovatop"),
            "patched_with_iovatop": latency(p, "iovatop"),
        },
        "hot_path_ns": {
            "vanilla": hot(v, "plain"), "patched": hot(p, "plain"),
            "vanilla_with_iovatop": hot(v, "iovatop"), "patched_with_iovatop": hot(p, "iovatop"),
        },
        "rotation": {k: {"vanilla": rotation(v, k), "patched": rotation(p, k)}
                     for k in ("free_path_tree_frees", "tree_frees", "misses", "ns_per_alloc_free",
                               "ns_per_alloc_free_with_iovatop")},
        "cached": {w: {k: {"vanilla": cached(v, w, k), "patched": cached(p, w, k)}
                       for k in ("cached_iovas", "magazine_bytes", "depot_magazines")}
                   for w in ("1s", "10s", "late")},
        "late_s": (v or p)[0]["late_s"],
        "between_boots": {
            "latency_us": widest(runs, lambda rs: latency(rs, "plain")),
            "hot_path_ns": widest(runs, lambda rs: hot(rs, "plain")),
            "latency_runs_per_boot": len((v or p)[0]["latency_us"]["plain"]),
        },
    }
    lat = s["latency_us"]
    hp = s["hot_path_ns"]
    s["ratios"] = {
        "patched_over_vanilla_hot_path": hp["patched"] / hp["vanilla"],
        "iovatop_overhead_hot_path_patched": paired_overhead(p, "hot_path_ns", float),
        "iovatop_overhead_hot_path_vanilla": paired_overhead(v, "hot_path_ns", float),
        "patched_over_vanilla_latency": lat["patched"] / lat["vanilla"],
        "iovatop_overhead_patched": paired_overhead(p, "latency_us", sum),
        "iovatop_overhead_vanilla": paired_overhead(v, "latency_us", sum),
        "iovatop_overhead_bands": {
            "patched": pair_band(p, "latency_us", sum),
            "vanilla": pair_band(v, "latency_us", sum),
            "hot_path_patched": pair_band(p, "hot_path_ns", float),
            "hot_path_vanilla": pair_band(v, "hot_path_ns", float),
        },
        "patched_over_vanilla_latency_per_round":
            per_round(v, p, lambda runs: latency(runs, "plain")),
        "patched_over_vanilla_hot_path_per_round":
            per_round(v, p, lambda runs: hot(runs, "plain")),
        "rotation_time_patched_over_vanilla":
            s["rotation"]["ns_per_alloc_free"]["patched"] /
            s["rotation"]["ns_per_alloc_free"]["vanilla"],
        "rotation_time_patched_over_vanilla_per_round":
            per_round(v, p, lambda runs: rotation(runs, "ns_per_alloc_free")),
        # the rotation twice in each boot, on fresh domains: plain, then
        # with iovatop counting it
        "iovatop_overhead_rotation_patched": rotation_overhead(p),
        "iovatop_overhead_rotation_vanilla": rotation_overhead(v),
    }
    return s


def table(s, quick, when):
    c, r, lat, q = s["cached"], s["rotation"], s["latency_us"], s["ratios"]
    bands = q["iovatop_overhead_bands"]
    bl, bh = s["between_boots"]["latency_us"], s["between_boots"]["hot_path_ns"]
    late = s["late_s"]
    rows = [
        ("IOVAs returned to the rbtree on the free path (seed 003 burst)",
         r["free_path_tree_frees"]["vanilla"], r["free_path_tree_frees"]["patched"]),
        ("IOVAs returned to the rbtree in the burst, deferred trim included",
         r["tree_frees"]["vanilla"], r["tree_frees"]["patched"]),
        ("rbtree allocations (cache misses) in the burst",
         r["misses"]["vanilla"], r["misses"]["patched"]),
        ("IOVAs still cached 1 s after the load", c["1s"]["cached_iovas"]["vanilla"],
         c["1s"]["cached_iovas"]["patched"]),
        ("IOVAs still cached 10 s after the load", c["10s"]["cached_iovas"]["vanilla"],
         c["10s"]["cached_iovas"]["patched"]),
        ("IOVAs still cached %d s after the load" % late, c["late"]["cached_iovas"]["vanilla"],
         c["late"]["cached_iovas"]["patched"]),
        ("magazine memory 10 s after (KiB)", c["10s"]["magazine_bytes"]["vanilla"] / 1024,
         c["10s"]["magazine_bytes"]["patched"] / 1024),
        ("map+unmap of 4 KiB through the IOMMU (us, TCG)", lat["vanilla"], lat["patched"]),
        ("cache fast path, ns per alloc+free (TCG)", s["hot_path_ns"]["vanilla"],
         s["hot_path_ns"]["patched"]),
    ]
    out = ["# Benchmarks", "",
           "Made by `make bench` on %s%s. Lab: QEMU TCG, 4 vCPUs, emulated Intel IOMMU;"
           % (when, " (BENCH_QUICK: short runs, not for the record)" if quick else ""),
           "the vanilla and the patched kernel were booted in alternation and every",
           "number is a median over the rounds. Timings are TCG timings: only their",
           "ratios mean something. iovatop's cost is the median of ratios of runs",
           "made back to back with and without it, with the lowest and the highest",
           "of those ratios. Map+unmap: iovaload maps 4 KiB on the edu device through",
           "the IOMMU, 64 buffers at a time, then unmaps them, and times each batch in",
           "the kernel (the TSC clock); the mean per map and per unmap, to the ns.",
           "Raw numbers: results.json; how: tests/bench/.", "",
           "Between boots, the TCG timings of one kernel moved by up to %.0f%% in this"
           % (100 * bl["spread"]),
           "run (%d boots of the %s kernel, %d map+unmap runs each: %.3f to"
           % (bl["boots"], kernel_name(bl["kernel"]), s["between_boots"]["latency_runs_per_boot"],
              bl["low"]),
           "%.3f us map+unmap, the median of each boot), and the cache fast path by"
           % bl["high"],
           "up to %.0f%% (%s kernel: %.0f to %.0f ns per alloc+free). A patched/vanilla"
           % (100 * bh["spread"], kernel_name(bh["kernel"]), bh["low"], bh["high"]),
           "ratio closer to 1 than that is no measurable cost. The ratio of each round",
           "on its own is in brackets.", "",
           "| | vanilla 6.1 | patched |", "|---|---:|---:|"]
    for name, a, b in rows:
        out.append("| %s | %s | %s |" % (name, fmt(a), fmt(b)))
    out += ["", "| ratio | value |", "|---|---:|",
            "| patched / vanilla, map+unmap latency, tracing off | %.3f (%s) |"
            % (q["patched_over_vanilla_latency"],
               rounds(q["patched_over_vanilla_latency_per_round"])),
            "| patched / vanilla, cache fast path, tracing off | %.3f (%s) |"
            % (q["patched_over_vanilla_hot_path"],
               rounds(q["patched_over_vanilla_hot_path_per_round"])),
            "| patched / vanilla, time per alloc+free in the rotation, nothing attached | %.3f (%s) |"
            % (q["rotation_time_patched_over_vanilla"],
               rounds(q["rotation_time_patched_over_vanilla_per_round"])),
            "| iovatop attached / not, rotation, patched (counters) | %.3f |"
            % q["iovatop_overhead_rotation_patched"],
            "| iovatop attached / not, rotation, vanilla (fentry) | %.3f |"
            % q["iovatop_overhead_rotation_vanilla"],
            "| iovatop attached / not, map+unmap, patched (counters) | %.3f (%s) |"
            % (q["iovatop_overhead_patched"], band(bands["patched"])),
            "| iovatop attached / not, map+unmap, vanilla (fentry) | %.3f (%s) |"
            % (q["iovatop_overhead_vanilla"], band(bands["vanilla"])),
            "| iovatop attached / not, cache fast path, patched (counters) | %.3f (%s) |"
            % (q["iovatop_overhead_hot_path_patched"], band(bands["hot_path_patched"])),
            "| iovatop attached / not, cache fast path, vanilla (fentry) | %.3f (%s) |"
            % (q["iovatop_overhead_hot_path_vanilla"], band(bands["hot_path_vanilla"])),
            "", "![cached IOVAs after the load](cache.png)", "",
            "![latency ratios](latency.png)", "",
            "![ratios over time](history.png)", ""]
    return "\n".join(out)


def kernel_name(variant):
    return "patched" if variant == "default" else variant


def band(lo_hi):
    return "pairs %.3f .. %.3f" % tuple(lo_hi)


def rounds(ratios):
    return ", ".join("%.2f" % x for x in ratios)


def fmt(x):
    return "%.0f" % x if abs(x) >= 100 or x == int(x) else "%.2f" % x


def main():
    raw, docs, quick = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
    runs = load(raw)
    if not runs["vanilla"] or not runs["default"]:
        sys.exit("summarize: missing runs of one kernel")
    s = summarize(runs)
    when = now()
    commit = tree_name()
    with open(os.path.join(docs, "results.json"), "w") as f:
        json.dump({"date": when, "commit": commit, "quick": quick, "summary": s,
                   "runs": runs}, f, indent=1)
    with open(os.path.join(docs, "README.md"), "w") as f:
        f.write(table(s, quick, when))
    c = s["cached"]
    with open(os.path.join(docs, "cache.dat"), "w") as f:
        f.write("# when vanilla patched\n")
        for w, label in (("1s", "1 s"), ("10s", "10 s"), ("late", "%d s" % s["late_s"])):
            f.write('"%s" %d %d\n' % (label, c[w]["cached_iovas"]["vanilla"],
                                      c[w]["cached_iovas"]["patched"]))
    q = s["ratios"]
    with open(os.path.join(docs, "latency.dat"), "w") as f:
        f.write("# what ratio\n")
        f.write('"patched/vanilla" %.4f\n' % q["patched_over_vanilla_latency"])
        f.write('"fast path patched/vanilla" %.4f\n' % q["patched_over_vanilla_hot_path"])
        f.write('"iovatop (counters)" %.4f\n' % q["iovatop_overhead_patched"])
        f.write('"iovatop (fentry)" %.4f\n' % q["iovatop_overhead_vanilla"])
    record_history(os.path.join(docs, "history.csv"), commit, "bench", quick,
                   measure(runs["vanilla"], runs["default"]), when)
    for line in draw_history(docs):
        print("history: " + line)

if __name__ == "__main__":
    main()
