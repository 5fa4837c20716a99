#!/usr/bin/env python3
"""Tests of tests/bench/history.py (the bench history, its noise bands,
its graph and bench-compare's verdict) on bench runs made up here, with
numbers chosen so that every expected result is known exactly."""
import json
import os
import subprocess
import sys
import tempfile

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "bench"))
import history  # noqa: E402

failed = 0


def check(name, ok, why=""):
    global failed
    if ok:
        print("PASS " + name)
    else:
        failed += 1
        print("FAIL %s: %s" % (name, why))


def run(kernel, rnd, lat, lat_tool, hot, hot_tool, rot=100, rot_tool=100):
    """One boot's bench JSON: every map+unmap pair sums to lat (with
    iovatop: lat_tool), every fast path run takes hot (hot_tool) ns, the
    rotation rot ns per alloc+free (rot_tool)."""
    pair = lambda total: [total / 2, total / 2]
    return {
        "kernel": kernel, "round": rnd, "late_s": 70,
        "latency_us": {"plain": [pair(lat)] * 3, "iovatop": [pair(lat_tool)] * 3},
        "hot_path_ns": {"plain": [hot] * 3, "iovatop": [hot_tool] * 3},
        "rotation": {"free_path_tree_frees": 10, "tree_frees": 20, "misses": 30,
                     "ns_per_alloc_free": rot, "ns_per_alloc_free_with_iovatop": rot_tool,
                     "allocs": 1000, "n_per_cpu": 5000},
        "cached_after": {w: {"cached_iovas": 5, "magazine_bytes": 1024,
                             "depot_magazines": 1, "tree_nodes": 9}
                         for w in ("1s", "10s", "late")},
    }


def write_runs(d, runs):
    os.makedirs(d, exist_ok=True)
    for r in runs:
        with open(os.path.join(d, "bench-%s-%d.json" % (r["kernel"], r["round"])), "w") as f:
            json.dump(r, f)


def close(a, b):
    return abs(a - b) < 1e-9


# Two rounds: vanilla takes 2.0 us in both; the patched kernel 2.2 us in
# round 1 and 2.6 in round 2, so the ratios of the rounds are 1.1 and 1.3,
# and over all rounds the median of {2.2, 2.6} (2.4) over 2.0 is 1.2.
# The rotation: vanilla 100 ns per alloc+free, 1200 with iovatop (12x);
# patched 40 and 30 ns, 44 and 33 with iovatop (1.1x): patched/vanilla
# with nothing attached 0.35 (0.40 and 0.30 by round).
VANILLA = [run("vanilla", 1, 2.0, 4.0, 100, 300, 100, 1200),
           run("vanilla", 2, 2.0, 6.0, 100, 300, 100, 1200)]
PATCHED = [run("default", 1, 2.2, 2.2, 80, 80, 40, 44), run("default", 2, 2.6, 2.6, 60, 60, 30, 33)]


def test_band():
    m = history.measure(VANILLA, PATCHED)
    v, lo, hi = m["latency"]
    check("history-band-latency", close(v, 1.2) and close(lo, 1.1) and close(hi, 1.3),
          "latency %s, expected (1.2, 1.1, 1.3)" % (m["latency"],))
    v, lo, hi = m["hot_path"]
    check("history-band-hot-path", close(v, 0.7) and close(lo, 0.6) and close(hi, 0.8),
          "hot path %s, expected (0.7, 0.6, 0.8)" % (m["hot_path"],))
    v, lo, hi = m["iovatop_fentry"]
    check("history-band-iovatop", close(v, 2.5) and close(lo, 2.0) and close(hi, 3.0) and
          m["iovatop_counters"] == (1.0, 1.0, 1.0),
          "iovatop %s %s" % (m["iovatop_fentry"], m["iovatop_counters"]))


def test_round_trip(tmp):
    path = os.path.join(tmp, "h.csv")
    m = history.measure(VANILLA, PATCHED)
    history.record(path, "abc1234", "bench", False, m, "2026-01-01 00:00 UTC")
    history.record(path, "def5678+", "bench-compare", True, m, "2026-01-02 00:00 UTC")
    runs = history.read(path)
    ok = (len(runs) == 2 and runs[0]["commit"] == "abc1234" and not runs[0]["quick"] and
          runs[1]["quick"] and runs[1]["source"] == "bench-compare" and
          all(close(runs[0]["metrics"][k][i], round(m[k][i], 4))
              for k in m for i in range(3)))
    check("history-round-trip", ok, "read back %s" % runs)
    foreign = os.path.join(tmp, "old.csv")
    with open(foreign, "w") as f:
        f.write("date,commit,quick,patched_over_vanilla\n2026,abc,0,1.0\n")
    try:
        history.read(foreign)
        check("history-rejects-other-files", False, "a file of other columns was read")
    except ValueError as e:
        check("history-rejects-other-files", "not a history file" in str(e), str(e))


def test_leaves_band():
    points = [(1.0, 0.95, 1.05), (1.02, 0.98, 1.06), (1.04, 1.01, 1.08),
              (1.2, 1.1, 1.3), (0.95, 0.9, 0.99)]
    got = [history.leaves_band(points, i) for i in range(len(points))]
    # the 4th misses [0.95, 1.08]; the 5th overlaps [0.98, 1.3]
    check("history-marks-leaving-band", got == [False, False, False, True, False],
          "marks %s" % got)
    got = history.leaves_band([(1.0, 1.0, 1.0), (1.01, 0.99, 1.03)], 1)
    check("history-band-of-both", got is False,
          "a point whose own band covers the one before was marked")


def test_order():
    order = {"aaaa111": 0, "bbbb222": 1, "cccc333": 2}
    runs = [{"commit": c} for c in ("cccc333", "zzzz999", "bbbb+", "aaaa", "bbbb")]
    got = [r["commit"] for r in history.sort_runs(runs, order)]
    check("history-order-over-commits", got == ["aaaa", "bbbb", "bbbb+", "cccc333", "zzzz999"],
          "order %s" % got)


def test_draw(tmp):
    docs = os.path.join(tmp, "draw")
    os.makedirs(docs)
    path = os.path.join(docs, "history.csv")
    for i, lat in enumerate((1.0, 1.01, 1.4)):
        m = {name: (1.0, 0.98, 1.02) for name, _ in history.METRICS}
        m["latency"] = (lat, lat - 0.02, lat + 0.02)
        history.record(path, "c%d" % i, "bench", False, m, "2026-01-0%d 00:00 UTC" % (i + 1))
    history.record(path, "quick", "bench", True, m, "2026-01-09 00:00 UTC")
    marks = history.draw(docs, top=tmp)
    png = os.path.join(docs, "history.png")
    with open(os.path.join(docs, "history-latency.dat")) as f:
        rows = [line.split() for line in f if not line.startswith("#")]
    check("history-draw-png", os.path.exists(png) and os.path.getsize(png) > 10000,
          "no history.png")
    check("history-draw-marks", [r[-1] for r in rows] == ["0", "0", "1"] and len(marks) == 1 and
          marks[0].startswith("c2: "), "rows %s, marks %s" % (rows, marks))


def test_compare(tmp):
    raw = os.path.join(tmp, "raw")
    docs = os.path.join(tmp, "cmp")
    os.makedirs(docs)
    write_runs(os.path.join(raw, "vanilla"), VANILLA)
    write_runs(os.path.join(raw, "vanilla-rev"), VANILLA)
    write_runs(os.path.join(raw, "rev"), PATCHED)
    # the tree: 50% slower map+unmap than REV, the same fast path
    slower = [run("default", 1, 3.3, 3.3, 80, 80), run("default", 2, 3.9, 3.9, 60, 60)]
    write_runs(os.path.join(raw, "tree"), slower)
    lines, same = history.compare(raw, docs, "rev1", "tree2", False, top=tmp)
    text = "\n".join(lines)
    lat = [line for line in lines if line.startswith("patched/vanilla, map+unmap")]
    hot = [line for line in lines if line.startswith("patched/vanilla, cache fast")]
    check("compare-beyond-noise", len(lat) == 1 and
          lat[0].endswith("higher, beyond the base's noise band"), text)
    check("compare-within-noise", len(hot) == 1 and
          hot[0].endswith("same within the base's noise band"), text)
    check("compare-verdict-slower", not same and lines[-1] ==
          "verdict: tree2 is the slower one, above rev1's noise band in: "
          "patched/vanilla, map+unmap latency", text)
    side = [line for line in lines if line.startswith("tree2 / rev1, map+unmap")]
    check("compare-side-by-side", len(side) == 1 and "1.500 [1.500-1.500]" in side[0], text)
    # the other way round: REV is the slower one, and that is no failure
    docs2 = os.path.join(tmp, "cmp2")
    os.makedirs(docs2)
    swapped = os.path.join(tmp, "raw2")
    write_runs(os.path.join(swapped, "vanilla"), VANILLA)
    write_runs(os.path.join(swapped, "vanilla-rev"), VANILLA)
    write_runs(os.path.join(swapped, "rev"), slower)
    write_runs(os.path.join(swapped, "tree"), PATCHED)
    lines2, same2 = history.compare(swapped, docs2, "rev1", "tree2", False, top=tmp)
    check("compare-verdict-rev-slower", same2 and lines2[-1] ==
          "verdict: rev1 is the slower one, tree2 below its noise band in: "
          "patched/vanilla, map+unmap latency", "\n".join(lines2))
    os.makedirs(os.path.join(tmp, "cmp3"))
    p = subprocess.run([sys.executable, os.path.join(TOP, "tests/bench/history.py"), "compare",
                        raw, os.path.join(tmp, "cmp3"), "rev1", "tree2", "0"],
                       capture_output=True, text=True, cwd=tmp)
    check("compare-exit-slower", p.returncode == 1 and "verdict: tree2 is the slower" in p.stdout,
          "exit %d: %s" % (p.returncode, (p.stdout + p.stderr)[-300:]))
    runs = history.read(os.path.join(docs, "history.csv"))
    check("compare-records-both", [r["commit"] for r in runs] == ["rev1", "tree2"] and
          close(runs[1]["metrics"]["latency"][0], 1.8), "history %s" % runs)
    # REV's harness times everything twice as long (another clock, another
    # load) on its own vanilla boots: its ratios, and so the verdict, are
    # those of a REV the same as the tree
    twice = lambda runs: [run(r["kernel"], r["round"], 2 * sum(r["latency_us"]["plain"][0]),
                              2 * sum(r["latency_us"]["iovatop"][0]),
                              2 * r["hot_path_ns"]["plain"][0], 2 * r["hot_path_ns"]["iovatop"][0])
                          for r in runs]
    own = os.path.join(tmp, "raw-own")
    write_runs(os.path.join(own, "vanilla"), VANILLA)
    write_runs(os.path.join(own, "vanilla-rev"), twice(VANILLA))
    write_runs(os.path.join(own, "rev"), twice(PATCHED))
    write_runs(os.path.join(own, "tree"), PATCHED)
    os.makedirs(os.path.join(tmp, "cmp4"))
    lines4, same4 = history.compare(own, os.path.join(tmp, "cmp4"), "rev1", "tree2", False,
                                    top=tmp)
    side = [line for line in lines4 if line.startswith("tree2 / rev1, map+unmap")]
    fentry = [line for line in lines4 if line.startswith("iovatop attached/not, vanilla")]
    check("compare-own-vanilla", same4 and len(side) == 1 and "1.000 [1.000-1.000]" in side[0] and
          len(fentry) == 1 and " - " not in fentry[0] and
          lines4[-1] == "verdict: no difference beyond rev1's noise band", "\n".join(lines4))


def test_summarize(tmp):
    raw = os.path.join(tmp, "sraw")
    docs = os.path.join(tmp, "sdocs")
    os.makedirs(docs)
    write_runs(raw, VANILLA + PATCHED)
    p = subprocess.run([sys.executable, os.path.join(TOP, "tests/bench/summarize.py"), raw, docs,
                        "0"], capture_output=True, text=True, cwd=TOP)
    runs = history.read(os.path.join(docs, "history.csv")) if p.returncode == 0 else []
    check("summarize-records-history", len(runs) == 1 and
          close(runs[0]["metrics"]["latency"][1], 1.1) and runs[0]["source"] == "bench",
          p.stderr.strip()[-300:] or str(runs))
    # the spread between boots is this run's: the patched kernel's two
    # boots, 2.2 and 2.6 us (18%), and 80 and 60 ns on the fast path (33%)
    text = open(os.path.join(docs, "README.md")).read() if p.returncode == 0 else ""
    flat = " ".join(text.split())
    want = ["moved by up to 18% in this run (2 boots of the patched kernel, 3 "
            "map+unmap runs each: 2.200 to 2.600 us",
            "the cache fast path by up to 33% (patched kernel: 60 to 80 ns"]
    check("summarize-text-from-data", all(w in flat for w in want),
          "README.md says: %s" % flat[flat.find("Between"):][:300])
    want = ["rotation, nothing attached | 0.350 (0.40, 0.30) |",
            "rotation, patched (counters) | 1.100 |", "rotation, vanilla (fentry) | 12.000 |"]
    check("summarize-rotation-apart", all(w in flat for w in want),
          "README.md says: %s" % flat[flat.find("| ratio"):][:600])
    # iovatop's cost with its noise: vanilla's pairs are 4/2 and 6/2 us
    want = ["map+unmap, vanilla (fentry) | 2.500 (pairs 2.000 .. 3.000) |",
            "cache fast path, vanilla (fentry) | 3.000 (pairs 3.000 .. 3.000) |"]
    check("summarize-cost-band", all(w in flat for w in want),
          "README.md says: %s" % flat[flat.find("| ratio"):][:900])


def main():
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["git", "init", "-q", tmp], check=True)
        test_band()
        test_round_trip(tmp)
        test_leaves_band()
        test_order()
        test_draw(tmp)
        test_compare(tmp)
        test_summarize(tmp)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
