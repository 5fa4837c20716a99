#!/usr/bin/env python3
"""The oneliner part of make bench: turn the oneliner-*.json files of the
lab boots of Debian's kernel images into docs/bench/oneliner.json and
oneliner.md: what fio loses while a bpftrace one-liner or iovatop's
default view watches the IOVA allocator.

  summarize_oneliner.py RAW_DIR DOCS_DIR QUICK

Per image: the median IOPS of each condition over every run of every
boot; each tool's cost, the fraction of IOPS lost against fio alone
(1 - probed/unprobed of the medians, and the ratio unprobed/probed); its
band, the lowest and highest value that the rounds give on their own (a
round is the three conditions run side by side); and iovatop's cost over
the one-liner's, with the band of the rounds' quotients.
"""
import json
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from history import doc_head, load_by  # noqa: E402

CONDITIONS = ["none", "bpftrace", "iovatop", "iovatop-full"]
TOOLS = [("bpftrace", "bpftrace one-liner"), ("iovatop", "iovatop (default view)"),
         ("iovatop-full", "iovatop -j (every call followed)")]
NAMES = {"debian-6.1": "Debian 12 (bookworm)",
         "debian-backports": "Debian 12 backports"}


def load(raw):
    boots = load_by(raw, "oneliner", "variant")
    if not boots:
        sys.exit("summarize_oneliner: no oneliner-*.json in %s" % raw)
    return boots


def cv(xs):
    return statistics.stdev(xs) / statistics.mean(xs) if len(xs) > 1 else float("nan")


def band(xs):
    return [min(xs), max(xs)] if xs else [float("nan"), float("nan")]


def lost(unprobed, probed):
    """The fraction of IOPS lost: 0 no cost, 0.25 a quarter fewer I/Os"""
    return 1 - probed / unprobed


def image_summary(variant, boots):
    rounds = [run for b in boots for run in b["runs"]]
    for run in rounds:
        missing = [c for c in CONDITIONS if c not in run["iops"]]
        if missing:
            sys.exit("summarize_oneliner: %s round %s lacks %s" % (variant, run["run"], missing))
    iops = {c: [run["iops"][c] for run in rounds] for c in CONDITIONS}
    med = {c: statistics.median(iops[c]) for c in CONDITIONS}
    s = {"kernels": sorted({b["kernel"] for b in boots}),
         "boots": len(boots), "rounds": len(rounds),
         "cpus": sorted({b["cpus"] for b in boots}),
         "clocksource": sorted({b["clocksource"] for b in boots}),
         "fio": boots[0]["fio"],
         "oneliner": boots[0]["oneliner"],
         "bpftrace_version": boots[0]["bpftrace_version"],
         "iovatop_command": boots[0]["iovatop_command"],
         "iovatop_mode": sorted({b["iovatop_mode"] for b in boots}),
         "iovatop_hooks": boots[0]["iovatop_hooks"],
         "iops": iops, "median_iops": med,
         "unprobed_cv": cv(iops["none"]),
         "tools": {}}
    # the one-liner's own count: calls of alloc_iova_fast per fio I/O
    per_io = [run["bpftrace_calls"] / run["ios"]["bpftrace"] for run in rounds]
    s["bpftrace_calls_per_io"] = statistics.median(per_io)
    # how long each tool took to be attached (seconds, TCG): before fio
    s["attach_s_median"] = {t: statistics.median(run["attach_s"][t] for run in rounds)
                            for t, _ in TOOLS if all("attach_s" in run for run in rounds)}
    for tool, _ in TOOLS:
        per_round_ratio = [run["iops"]["none"] / run["iops"][tool] for run in rounds]
        per_round_lost = [lost(run["iops"]["none"], run["iops"][tool]) for run in rounds]
        s["tools"][tool] = {
            "ratio": med["none"] / med[tool],
            "lost": lost(med["none"], med[tool]),
            "ratio_per_round": per_round_ratio,
            "ratio_band": band(per_round_ratio),
            "lost_per_round": per_round_lost,
            "lost_band": band(per_round_lost),
        }
    # iovatop's cost over the one-liner's: from the medians, and per round
    # (a round whose one-liner lost nothing has no quotient)
    b, t = s["tools"]["bpftrace"], s["tools"]["iovatop"]
    quotients = [ti / bi for ti, bi in zip(t["lost_per_round"], b["lost_per_round"]) if bi > 0]
    s["iovatop_over_oneliner"] = {
        "quotient": t["lost"] / b["lost"] if b["lost"] > 0 else float("nan"),
        "per_round": quotients,
        "band": band(quotients),
        "rounds_without_quotient": len(rounds) - len(quotients),
    }
    s["bpf_stats"] = program_costs(boots)
    return s


def program_costs(boots):
    """Per tool and BPF program (bpf_stats, one fio run per tool and
    boot): calls per fio I/O and ns of run time per call, medians over
    the boots.  The probe's own entry and exit are not in run time."""
    seen = {}
    for b in boots:
        for tool, progs in b.get("bpf_stats", {}).items():
            for p in progs:
                seen.setdefault((tool, p["program"]), []).append(p)
    return [{"tool": tool, "program": prog,
             "calls_per_io": statistics.median(p["calls"] / p["fio_ios"] for p in ps),
             "ns_per_call": statistics.median(p["run_ns"] / p["calls"] for p in ps)}
            for (tool, prog), ps in sorted(seen.items())]


def pct(x):
    return "n/a" if x != x else "%.1f%%" % (100 * x)


def pct_band(b):
    return "n/a" if b[0] != b[0] else "%s .. %s" % (pct(b[0]), pct(b[1]))


def verdict(tool, noise):
    """Beyond the noise: every round lost IOPS, and more than fio alone
    varies (the coefficient of variation of its runs)"""
    lo, hi = tool["lost_band"]
    if lo > 0 and tool["lost"] > noise:
        return "a cost beyond the noise"
    if hi <= 0:
        return "no loss in any round"
    return "within the noise"


def no_nan(x):
    """NaN (one run: no variation) as null: json.dump would write NaN,
    which is not JSON"""
    if isinstance(x, float) and x != x:
        return None
    if isinstance(x, dict):
        return {k: no_nan(v) for k, v in x.items()}
    if isinstance(x, list):
        return [no_nan(v) for v in x]
    return x


def markdown(images, quick):
    first = next(iter(images.values()))
    f = first["fio"]
    lines = doc_head("What watching the IOVA allocator costs fio on Debian's kernels", quick)
    lines += [
        "**These are TCG timings** (QEMU without KVM, an emulated NVMe disk "
        "behind an emulated Intel IOMMU). The IOPS say nothing about real "
        "hardware; only the ratios of runs made side by side in one boot "
        "mean something.", "",
        "fio reads 4 KiB at random from `$LAB_NVME_DEV` (direct I/O, %s, "
        "iodepth %d, %d job, %d s per run) under four conditions: nothing "
        "attached; the bpftrace one-liner `bpftrace -e '%s'`; iovatop's "
        "default view, `%s` (the table in batch mode, written to a file in "
        "the guest's tmpfs, as a user would send it to /dev/null); and "
        "`iovatop -j 1`, whose JSON follows every allocation and free to its "
        "end (what the default view gives up to cost less). Each tool "
        "is started and found attached (bpftrace's \"Attaching 1 probe...\" "
        "and its kprobe listed as enabled; iovatop's first table) before fio "
        "starts, and stopped with SIGINT after; the one-liner must have "
        "counted calls and iovatop must have shown the disk's allocations, "
        "or the run fails. A round runs the four conditions back to back, "
        "in an order rotated every round; every boot of an image runs "
        "several rounds, and the image is booted once per make bench round, "
        "with `clocksource=tsc tsc=reliable`: the clock real machines read "
        "(under TCG the kernel would fall back to the emulated HPET, where "
        "iovatop's timestamp per allocation would cost microseconds)." % (
            f["ioengine"], f["iodepth"], f["numjobs"], f["seconds"],
            first["oneliner"], first["iovatop_command"]), "",
        "*IOPS lost* is 1 - (median IOPS with the tool) / (median IOPS "
        "without); *slowdown* the ratio of the medians, without / with. "
        "Their band is the lowest and the highest value of single rounds; "
        "*var* is the coefficient of variation of the runs without any tool, "
        "the noise of fio alone. A cost smaller than that noise is not "
        "measured.", ""]
    for variant, s in images.items():
        m, b, t = s["median_iops"], s["tools"]["bpftrace"], s["tools"]["iovatop"]
        q = s["iovatop_over_oneliner"]
        lines += ["## %s: %s" % (NAMES.get(variant, variant), ", ".join(s["kernels"])), "",
                  "%d boot%s, %d rounds; %s vCPU%s; clock %s; iovatop mode %s; "
                  "%s. The one-liner counted %.2f calls of alloc_iova_fast per "
                  "fio I/O (median of its runs).%s" % (
                      s["boots"], "" if s["boots"] == 1 else "s", s["rounds"],
                      "/".join(str(c) for c in s["cpus"]), "" if s["cpus"] == [1] else "s",
                      "/".join(s["clocksource"]), "/".join(s["iovatop_mode"]),
                      s["bpftrace_version"], s["bpftrace_calls_per_io"],
                      " Before fio started, the one-liner took %.0f s to be "
                      "attached and iovatop %.0f s to print its first table "
                      "(medians, TCG)." % (s["attach_s_median"]["bpftrace"],
                                           s["attach_s_median"]["iovatop"])
                      if s["attach_s_median"] else ""), "",
                  "| condition | median IOPS | IOPS lost | band (rounds) | slowdown | band (rounds) | |",
                  "|---|---:|---:|---|---:|---|---|",
                  "| nothing attached | %.0f | - | var %s | 1.000 | | |" % (
                      m["none"], pct(s["unprobed_cv"]))]
        for tool, label in TOOLS:
            x = s["tools"][tool]
            lines.append("| %s | %.0f | %s | %s | %.3f | %.3f .. %.3f | %s |" % (
                label, m[tool], pct(x["lost"]), pct_band(x["lost_band"]), x["ratio"],
                x["ratio_band"][0], x["ratio_band"][1], verdict(x, s["unprobed_cv"])))
        qt = "%.2f" % q["quotient"] if b["lost"] > 0 else "n/a"
        if q["per_round"]:
            qb = "per round %.2f .. %.2f (median %.2f)" % (
                q["band"][0], q["band"][1], statistics.median(q["per_round"]))
        else:
            qb = "no round has one"
        skipped = q["rounds_without_quotient"]
        if skipped:
            qb += "; %d round%s without a quotient: the one-liner lost nothing there" % (
                skipped, "" if skipped == 1 else "s")
        caveat = ""
        if verdict(b, s["unprobed_cv"]) != "a cost beyond the noise":
            caveat = (" The one-liner's cost is within the noise here: this "
                      "quotient divides by noise and says little.")
        lines += ["", "iovatop's cost over the one-liner's (IOPS lost with iovatop / "
                  "IOPS lost with the one-liner): **%s**, %s.%s" % (qt, qb, caveat), "",
                  "iovatop's hooks (`iovatop --hooks`, under \"mode:\"):", ""]
        lines += ["    " + h for h in s["iovatop_hooks"]]
        lines.append("")
        if s["bpf_stats"]:
            lines += ["Each BPF program's run time (kernel.bpf_stats_enabled=1, one "
                      "more fio run per tool, not in the IOPS above; the probe's "
                      "own entry and exit, the trampoline or the kprobe, are not "
                      "counted in it):", "",
                      "| tool | program | calls per fio I/O | ns per call |",
                      "|---|---|---:|---:|"]
            lines += ["| %s | %s | %.2f | %.0f |" % (c["tool"], c["program"],
                                                    c["calls_per_io"], c["ns_per_call"])
                      for c in s["bpf_stats"]]
            lines.append("")
    lines += ["Raw numbers: oneliner.json; how: tests/bench/oneliner-guest.sh.", ""]
    return "\n".join(lines)


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: summarize_oneliner.py RAW_DIR DOCS_DIR QUICK")
    raw, docs, quick = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
    boots = load(raw)
    order = ["debian-6.1", "debian-backports"]
    images = {v: image_summary(v, boots[v])
              for v in sorted(boots, key=lambda v: (order.index(v) if v in order else 9, v))}
    commit = subprocess.run(["git", "describe", "--always", "--dirty"],
                            capture_output=True, text=True).stdout.strip()
    with open(os.path.join(docs, "oneliner.json"), "w") as f:
        json.dump(no_nan({"commit": commit, "quick": quick, "images": images,
                          "boots": boots}), f, indent=1)
    with open(os.path.join(docs, "oneliner.md"), "w") as f:
        f.write(markdown(images, quick))


if __name__ == "__main__":
    main()
