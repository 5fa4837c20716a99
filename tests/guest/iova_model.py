#!/usr/bin/python3
"""What the IOVA magazine caches must do, and what the trace says they did.

  iova_model.py expect rotate --cpus C --n N [--depot-max M] [--keep K]
      print the counts the cache design implies for iovaload's "rotate"
      scenario (order-0 IOVAs, one CPU after the other), for the free
      burst, the deferred depot trim and the idle reclaim, as key=value
  iova_model.py count < trace
      count the iova:* events of a tracefs "trace" file, as key=value
  iova_model.py compare PREFIX EXPECTED ACTUAL [--ignore GLOB ...]
      one PASS/FAIL line per key of EXPECTED (files of key=value lines);
      a key that ACTUAL lacks is a FAIL, unless --ignore names it (what
      that source cannot know), and a value "blind" in ACTUAL is a SKIP
      (what the observer said it cannot see); an empty ACTUAL is a FAIL

The model follows the 6.1 algorithm of drivers/iommu/iova.c and the
dmascope patches: a free goes to the loaded magazine, else to prev after
a swap, else the full loaded magazine goes to the depot (or, in a full
fixed-size depot, back to the tree) and a new one is loaded; an
allocation takes from loaded, else prev after a swap, else a full depot
magazine, else it misses and the rbtree allocates.
"""
import argparse
import collections
import fnmatch
import re
import sys

MAG_SIZE = 127


class Caches:
    def __init__(self, cpus, depot_max=None):
        self.loaded = [0] * cpus
        self.prev = [0] * cpus
        self.depot = 0
        self.depot_max = depot_max      # None: unbounded (patched kernel)
        self.nodes = 0                  # IOVAs in the rbtree
        self.c = collections.Counter()

    def alloc(self, cpu):
        if self.loaded[cpu]:
            result = "loaded"
        elif self.prev[cpu]:
            self.loaded[cpu], self.prev[cpu] = self.prev[cpu], self.loaded[cpu]
            result = "prev"
        elif self.depot:
            self.depot -= 1
            self.c["depot_pop"] += 1
            self.loaded[cpu] = MAG_SIZE
            result = "depot"
        else:
            self.c["alloc_miss"] += 1
            self.c["tree_alloc"] += 1
            self.nodes += 1
            return
        self.loaded[cpu] -= 1
        self.c["alloc_" + result] += 1

    def free(self, cpu):
        if self.loaded[cpu] < MAG_SIZE:
            result = "loaded"
        elif self.prev[cpu] < MAG_SIZE:
            self.loaded[cpu], self.prev[cpu] = self.prev[cpu], self.loaded[cpu]
            result = "prev"
        elif self.depot_max is None or self.depot < self.depot_max:
            self.depot += 1
            self.c["depot_push"] += 1
            self.loaded[cpu] = 0
            result = "new_mag"
        else:
            self.release(MAG_SIZE, "depot_full")
            self.loaded[cpu] = 0
            result = "depot_full"
        self.loaded[cpu] += 1
        self.c["free_" + result] += 1

    def release(self, count, reason):
        self.c["release_" + reason] += 1
        self.c["released_" + reason] += count
        self.c["tree_free"] += count
        self.nodes -= count

    def trim(self, keep):
        while self.depot > keep:
            self.depot -= 1
            self.c["depot_pop"] += 1
            self.release(MAG_SIZE, "depot_trim")

    def reclaim_idle(self):
        for cpu in range(len(self.loaded)):
            count = self.loaded[cpu] + self.prev[cpu]
            for mag in (self.loaded[cpu], self.prev[cpu]):
                if mag:
                    self.release(mag, "idle")
            if count:
                self.c["flush_idle"] += 1
                self.c["flushed_idle"] += count
            self.loaded[cpu] = self.prev[cpu] = 0
        if self.depot:
            self.c["flush_idle"] += 1
            self.c["flushed_idle"] += self.depot * MAG_SIZE
            while self.depot:
                self.depot -= 1
                self.c["depot_pop"] += 1
                self.release(MAG_SIZE, "idle")

    def cached(self):
        return sum(self.loaded) + sum(self.prev) + self.depot * MAG_SIZE

    def state(self):
        """Counters since the last call, plus the state now."""
        out = dict(self.c)
        # what the fentry fallback can tell apart
        out["alloc_hit"] = sum(out.get("alloc_" + r, 0) for r in ("loaded", "prev", "depot"))
        out["free_cached"] = sum(out.get("free_" + r, 0) for r in ("loaded", "prev", "new_mag"))
        self.c = collections.Counter()
        out["depot_size"] = self.depot
        out["cached"] = self.cached()
        out["nodes"] = self.nodes
        for cpu in range(len(self.loaded)):
            out["cpu%d_cached" % cpu] = self.loaded[cpu] + self.prev[cpu]
        return out


def rotate(cpus, n, depot_max, keep):
    caches = Caches(cpus, depot_max)
    for cpu in range(cpus):
        for _ in range(n):
            caches.alloc(cpu)
        for _ in range(n):
            caches.free(cpu)
    phases = {"burst": caches.state()}
    caches.trim(keep)
    phases["trim"] = caches.state()
    caches.reclaim_idle()
    phases["idle"] = caches.state()
    return phases


# All counters a phase reports, so that a missing event counts as zero.
KEYS = ["alloc_loaded", "alloc_prev", "alloc_depot", "alloc_miss",
        "free_loaded", "free_prev", "free_new_mag", "free_depot_full",
        "depot_push", "depot_pop", "tree_alloc", "tree_free",
        "release_depot_full", "released_depot_full", "release_depot_trim", "released_depot_trim", "release_idle",
        "released_idle", "flush_idle", "flushed_idle"]

EVENT = re.compile(r"\s(iova_\w+): (.*)$")


def count_trace(lines):
    c = collections.Counter({k: 0 for k in KEYS})
    depot_size = None
    for line in lines:
        m = EVENT.search(line)
        if not m:
            continue
        event, rest = m.groups()
        f = dict(kv.split("=", 1) for kv in rest.split() if "=" in kv)
        if event == "iova_rcache_alloc":
            c["alloc_" + f["result"]] += 1
        elif event == "iova_rcache_free":
            c["free_" + f["result"]] += 1
        elif event in ("iova_depot_push", "iova_depot_pop"):
            c[event[5:]] += 1
            depot_size = int(f["depot_size"])
        elif event == "iova_tree_alloc":
            c["tree_alloc"] += 1
        elif event == "iova_tree_free":
            c["tree_free"] += 1
        elif event == "iova_magazine_release":
            c["release_" + f["reason"]] += 1
            c["released_" + f["reason"]] += int(f["count"])
        elif event == "iova_cache_flush":
            c["flush_" + f["reason"]] += 1
            c["flushed_" + f["reason"]] += int(f["count"])
    if depot_size is not None:
        c["depot_size"] = depot_size
    c["alloc_hit"] = sum(c["alloc_" + r] for r in ("loaded", "prev", "depot"))
    c["free_cached"] = sum(c["free_" + r] for r in ("loaded", "prev", "new_mag"))
    return c


def read_kv(path):
    out = {}
    with open(path) as f:
        for line in f:
            if "=" in line:
                k, v = line.strip().split("=", 1)
                out[k] = v
    return out


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("expect")
    e.add_argument("scenario", choices=["rotate"])
    e.add_argument("--cpus", type=int, required=True)
    e.add_argument("--n", type=int, required=True)
    e.add_argument("--depot-max", type=int, default=None)
    e.add_argument("--keep", type=int, default=None)
    e.add_argument("--phase", choices=["burst", "trim", "idle"], required=True)
    sub.add_parser("count")
    c = sub.add_parser("compare")
    c.add_argument("prefix")
    c.add_argument("expected")
    c.add_argument("actual")
    c.add_argument("--ignore", nargs="*", default=[])
    a = ap.parse_args()

    if a.cmd == "expect":
        keep = a.cpus if a.keep is None or a.keep < 0 else a.keep
        phase = rotate(a.cpus, a.n, a.depot_max, keep)[a.phase]
        for k in KEYS + ["alloc_hit", "free_cached", "depot_size", "cached", "nodes"]:
            print("%s=%d" % (k, phase.get(k, 0)))
        for k in sorted(phase):
            if k.startswith("cpu"):
                print("%s=%d" % (k, phase[k]))
    elif a.cmd == "count":
        for k, v in sorted(count_trace(sys.stdin).items()):
            print("%s=%d" % (k, v))
    else:
        return compare(a.prefix, read_kv(a.expected), read_kv(a.actual), a.ignore)


def compare(prefix, want, got, ignore):
    if not want or not got:
        print("FAIL %s: nothing to compare (%d expected, %d actual values)"
              % (prefix, len(want), len(got)))
        return 1
    failed = 0
    for k, v in want.items():
        if any(fnmatch.fnmatchcase(k, g) for g in ignore):
            continue
        name = "%s-%s" % (prefix, k.replace("_", "-"))
        if k not in got:
            print("FAIL %s: missing from the actual values" % name)
            failed += 1
        elif got[k] == "blind":
            print("SKIP %s: the observer cannot see this in its mode" % name)
        elif got[k] == v:
            print("PASS " + name)
        else:
            print("FAIL %s: expected %s, got %s" % (name, v, got[k]))
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
