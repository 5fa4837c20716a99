#!/usr/bin/env python3
"""The benchmark's history: each ratio of a make bench (or bench-compare)
run with its noise band, kept in docs/bench/history.csv, drawn over
commits in history.png, and the side-by-side verdict of bench-compare.

A ratio's noise band is the range of the values the rounds give on their
own (each round boots both kernels once, back to back): two boots of the
same kernels disagree by that much, so a change inside it is no change.

  history.py draw DOCS_DIR
  history.py compare RAW_DIR DOCS_DIR REV_NAME TREE_NAME QUICK
      RAW_DIR/vanilla, RAW_DIR/rev and RAW_DIR/tree hold the bench-*.json
      files of each side; prints the comparison and records both sides;
      exits with 1 when a ratio of the tree is above REV's noise band
"""
import csv
import datetime
import glob
import json
import os
import statistics
import subprocess
import sys

# The ratios kept over time: name, what it is, and how one set of runs
# (one round, or all of them) gives it.
METRICS = (
    ("latency", "patched/vanilla, map+unmap latency"),
    ("hot_path", "patched/vanilla, cache fast path"),
    ("iovatop_counters", "iovatop attached/not, patched (counters)"),
    ("iovatop_fentry", "iovatop attached/not, vanilla (fentry)"),
)
FIELDS = ("date", "commit", "source", "quick", "metric", "value", "lo", "hi")
# how many earlier points make the band a new point is held to
PREVIOUS = 3


def median(values):
    return statistics.median(values) if values else float("nan")


def load_by(raw, prefix, key, runs=None):
    """The PREFIX-*.json files of a lab run's output directory, as lists
    by the value of KEY in each (added to RUNS if given)."""
    runs = {} if runs is None else runs
    for path in sorted(glob.glob(os.path.join(raw, prefix + "-*.json"))):
        with open(path) as f:
            r = json.load(f)
        runs.setdefault(r[key], []).append(r)
    return runs


def doc_head(title, quick):
    """The first lines of a docs/bench page; a quick run says so."""
    lines = ["# " + title, ""]
    if quick:
        lines += ["**BENCH_QUICK=1: short runs, not for the record.**", ""]
    return lines


def load_runs(raw):
    """bench-*.json of one directory, by kernel variant."""
    return load_by(raw, "bench", "kernel", {"vanilla": [], "default": []})


def latency(runs, kind="plain"):
    """Median map+unmap latency (us) over the runs."""
    return median([m + u for r in runs for m, u in r["latency_us"][kind]])


def hot(runs, kind="plain"):
    """Median ns per alloc+free pair on the cache fast path."""
    return median([x for r in runs for x in r["hot_path_ns"][kind]])


def pair_ratios(runs, field, total):
    """(with iovatop) / (without) of each pair of runs measured back to
    back, so that drift of the machine cancels."""
    return [total(w) / total(p) for r in runs
            for p, w in zip(r[field]["plain"], r[field]["iovatop"]) if total(p) > 0]


def overhead(runs, field, total):
    """Median of pair_ratios()."""
    ratios = pair_ratios(runs, field, total)
    return median(ratios)


def metric(name, vanilla, patched):
    """One metric from the runs of the vanilla and the patched kernel."""
    if name == "latency":
        return latency(patched) / latency(vanilla)
    if name == "hot_path":
        return hot(patched) / hot(vanilla)
    if name == "iovatop_counters":
        return overhead(patched, "latency_us", sum)
    if name == "iovatop_fentry":
        return overhead(vanilla, "latency_us", sum)
    raise ValueError("no metric " + name)


def by_round(runs):
    return {r["round"]: r for r in runs}


def with_band(name, vanilla, patched):
    """(value over all rounds, lowest and highest value of one round)."""
    v, p = by_round(vanilla), by_round(patched)
    rounds = [metric(name, [v[r]], [p[r]]) for r in sorted(v) if r in p]
    rounds = [x for x in rounds if x == x]
    value = metric(name, vanilla, patched)
    if not rounds:
        return value, value, value
    return value, min(rounds), max(rounds)


def measure(vanilla, patched):
    """Every metric with its band: {name: (value, lo, hi)}."""
    return {name: with_band(name, vanilla, patched) for name, _ in METRICS}


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def record(path, commit, source, quick, metrics, when=None):
    """Append one run's metrics to the history file."""
    new = not os.path.exists(path) or os.path.getsize(path) == 0
    with open(path, "a", newline="") as f:
        w = csv.writer(f)
        if new:
            w.writerow(FIELDS)
        for name, (value, lo, hi) in metrics.items():
            w.writerow([when or now(), commit, source, int(bool(quick)), name,
                        "%.4f" % value, "%.4f" % lo, "%.4f" % hi])


def read(path):
    """The history's runs in the order recorded: [{date, commit, source,
    quick, metrics: {name: (value, lo, hi)}}]."""
    runs = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if list(row) != list(FIELDS):
                raise ValueError("%s: not a history file (columns %s)" % (path, ",".join(row)))
            key = (row["date"], row["commit"], row["source"])
            if not runs or runs[-1]["key"] != key:
                runs.append({"key": key, "date": row["date"], "commit": row["commit"],
                             "source": row["source"], "quick": row["quick"] == "1",
                             "metrics": {}})
            runs[-1]["metrics"][row["metric"]] = tuple(
                float(row[k]) for k in ("value", "lo", "hi"))
    return runs


def tree_name(top="."):
    """HEAD's short hash, with a + when tracked files differ from it."""
    git = ["git", "-C", top]
    head = subprocess.run(git + ["rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    if not head:
        return "unknown"
    dirty = subprocess.run(git + ["status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return head + ("+" if dirty else "")


def commit_order(top="."):
    """Position of each commit of HEAD's history, oldest first, by short
    and full hash."""
    out = subprocess.run(["git", "-C", top, "rev-list", "--reverse", "HEAD"],
                         capture_output=True, text=True).stdout.split()
    return {c: i for i, c in enumerate(out)}


def position(commit, order):
    base = commit.rstrip("+")
    for full, i in order.items():
        if base and full.startswith(base):
            # a dirty tree comes after its commit
            return i + (0.5 if commit.endswith("+") else 0)
    return len(order)


def sort_runs(runs, order):
    """Over commits: in the order of HEAD's history, a commit's runs in the
    order recorded; commits HEAD does not have last."""
    indexed = list(enumerate(runs))
    indexed.sort(key=lambda ir: (position(ir[1]["commit"], order), ir[0]))
    return [r for _, r in indexed]


def leaves_band(points, i):
    """Whether point i's band (the range of its rounds) misses the band the
    PREVIOUS points before it span together (lowest lo to highest hi): a
    change larger than the noise on both sides."""
    before = points[max(0, i - PREVIOUS):i]
    if not before:
        return False
    envelope = (None, min(p[1] for p in before), max(p[2] for p in before))
    return not overlap(points[i], envelope)


def draw(docs, top="."):
    """history-<metric>.dat for every metric and history.png; returns the
    points that leave the band of the ones before, as text lines."""
    path = os.path.join(docs, "history.csv")
    runs = [r for r in sort_runs(read(path), commit_order(top)) if not r["quick"]]
    marks = []
    most = 1
    for name, title in METRICS:
        points = [r["metrics"][name] for r in runs if name in r["metrics"]]
        labels = [r["commit"] for r in runs if name in r["metrics"]]
        most = max(most, len(points))
        with open(os.path.join(docs, "history-%s.dat" % name), "w") as f:
            f.write("# x commit value lo hi left_band\n")
            for i, (p, label) in enumerate(zip(points, labels)):
                out = leaves_band(points, i)
                f.write('%d "%s" %.4f %.4f %.4f %d\n' % (i, label, p[0], p[1], p[2], out))
                if out:
                    marks.append("%s: %s %.3f, its rounds outside the band of the %d points before" %
                                 (label, title, p[0], min(i, PREVIOUS)))
    gp = os.path.join(os.path.dirname(os.path.abspath(__file__)), "history.gp")
    subprocess.run(["gnuplot", "-e", "n=%d" % most, gp], cwd=docs, check=True)
    return marks


def side_by_side(vanilla_rev, rev, vanilla, tree, name):
    """The tree's value over the commit's for one thing both measured, each
    over the vanilla kernel measured by its own side's harness (two bench
    scripts may time map+unmap differently), per round and over all
    rounds: (value, lo, hi)."""
    get = {"latency": latency, "hot_path": hot}[name]
    vr, r, v, t = by_round(vanilla_rev), by_round(rev), by_round(vanilla), by_round(tree)
    rounds = [(get([t[k]]) / get([v[k]])) / (get([r[k]]) / get([vr[k]]))
              for k in sorted(r) if k in t and k in v and k in vr]
    value = (get(tree) / get(vanilla)) / (get(rev) / get(vanilla_rev))
    return value, min(rounds), max(rounds)


def overlap(a, b):
    return a[1] <= b[2] and b[1] <= a[2]


def compare(raw, docs, rev_name, tree_name, quick, top="."):
    """Each side measured against vanilla boots of its own bench script and
    tools (raw/vanilla-rev: REV's, raw/vanilla: the tree's); prints the
    table and records both in the history."""
    vanilla = load_runs(os.path.join(raw, "vanilla"))["vanilla"]
    vanilla_rev = load_runs(os.path.join(raw, "vanilla-rev"))["vanilla"]
    rev = load_runs(os.path.join(raw, "rev"))["default"]
    tree = load_runs(os.path.join(raw, "tree"))["default"]
    if not vanilla or not vanilla_rev or not rev or not tree:
        sys.exit("bench-compare: a side has no runs (vanilla %d and %d, %s %d, %s %d)" %
                 (len(vanilla_rev), len(vanilla), rev_name, len(rev), tree_name, len(tree)))
    a, b = measure(vanilla_rev, rev), measure(vanilla, tree)
    lines = ["%-44s %22s %22s  %s" % ("ratio (band of the rounds)", rev_name, tree_name,
                                      "verdict")]
    slower, faster = [], []
    for name, title in METRICS:
        side = band_side(a[name], b[name])
        if side > 0:
            slower.append(title)
        elif side < 0:
            faster.append(title)
        lines.append("%-44s %22s %22s  %s" % (title, band_text(a[name]), band_text(b[name]),
                                              SIDE_TEXT[side]))
    for name, title in (("latency", "map+unmap latency"), ("hot_path", "cache fast path")):
        v = side_by_side(vanilla_rev, rev, vanilla, tree, name)
        lines.append("%s / %s, %s: %s" % (tree_name, rev_name, title, band_text(v)))
    when = now()
    path = os.path.join(docs, "history.csv")
    record(path, rev_name, "bench-compare", quick, a, when)
    record(path, tree_name, "bench-compare", quick, b, when)
    # every ratio kept is a cost (higher is slower): one that left REV's
    # band upwards makes the tree the slower one
    if slower:
        lines.append("verdict: %s is the slower one, above %s's noise band in: %s" %
                     (tree_name, rev_name, "; ".join(slower)))
    elif faster:
        lines.append("verdict: %s is the slower one, %s below its noise band in: %s" %
                     (rev_name, tree_name, "; ".join(faster)))
    else:
        lines.append("verdict: no difference beyond %s's noise band" % rev_name)
    return lines, not slower


SIDE_TEXT = {1: "higher, beyond the base's noise band",
             -1: "lower, beyond the base's noise band",
             0: "same within the base's noise band"}


def band_side(base, other):
    """Where OTHER's value lies against BASE's band (the range of BASE's
    rounds): 1 above, -1 below, 0 inside (no change this run can show)."""
    if other[0] > base[2]:
        return 1
    if other[0] < base[1]:
        return -1
    return 0


def band_text(v):
    return "%.3f [%.3f-%.3f]" % v


def main(argv):
    if len(argv) == 3 and argv[1] == "draw":
        for line in draw(argv[2]):
            print("history: " + line)
        return 0
    if len(argv) == 7 and argv[1] == "compare":
        lines, same = compare(argv[2], argv[3], argv[4], argv[5], argv[6] == "1")
        for line in lines:
            print(line)
        for line in draw(argv[3]):
            print("history: " + line)
        return 0 if same else 1
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
