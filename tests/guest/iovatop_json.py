#!/usr/bin/python3
"""Sum iovatop --json lines for one domain, as key=value lines that
iova_model.py compare can check against the model.

  iovatop_json.py DOMAIN_NAME < iovatop.ndjson

Counters are per interval in the JSON: they are summed over all lines.
The cache state (cached IOVAs per CPU, depot) is taken from the last line.
What iovatop's mode cannot see is absent from its JSON: such a key is
printed as "blind", which the comparison reports as a SKIP.
"""
import json
import sys

# The reasons the model knows for magazines going back to the rbtree.
RECLAIM_REASONS = ("depot_full", "depot_trim", "idle")


def some(obj, *keys):
    """The sum of the keys the JSON has, None if it has none of them"""
    present = [obj[k] for k in keys if k in obj]
    return sum(present) if present else None


def counts(d):
    """One interval's numbers of a domain; None: not seen in this mode"""
    a, f = d["alloc_results"], d["free_results"]
    add = {
        "allocs": d["allocs"], "frees": d.get("frees"),
        "alloc_loaded": a.get("loaded"), "alloc_prev": a.get("prev"),
        "alloc_depot": a.get("depot"), "alloc_miss": a.get("miss"),
        "alloc_hit": some(a, "loaded", "prev", "depot", "hit"),
        "free_loaded": f.get("loaded"), "free_prev": f.get("prev"),
        "free_new_mag": f.get("new_mag"), "free_depot_full": f.get("depot_full"),
        "free_cached": some(f, "loaded", "prev", "new_mag", "cached"),
        "depot_push": d.get("depot_pushes"), "depot_pop": d.get("depot_pops"),
        "tree_alloc": d["tree"]["allocs"], "tree_free": d["tree"]["frees"],
    }
    for reason in RECLAIM_REASONS:
        add["release_" + reason] = d["magazines_released"].get(reason)
        add["released_" + reason] = d["iovas_released"].get(reason)
        add["flush_" + reason] = d["flushes"].get(reason)
        add["flushed_" + reason] = d["iovas_flushed"].get(reason)
    return add


def main():
    name = sys.argv[1]
    total = {}
    last = None
    lines = 0
    for line in sys.stdin:
        snap = json.loads(line)
        lines += 1
        for d in snap["domains"]:
            if d["name"] != name:
                continue
            last = d
            for k, v in counts(d).items():
                if v is None or total.get(k, 0) is None:
                    total[k] = None
                else:
                    total[k] = total.get(k, 0) + v
    print("json_lines=%d" % lines)
    if last is None:
        return 1
    for k, v in sorted(total.items()):
        print("%s=%s" % (k, "blind" if v is None else v))
    print("cached=%s" % last.get("cached_iovas"))
    print("depot_size=%s" % last.get("depot_magazines"))
    print("nodes=%s" % last["tree"].get("nodes"))
    for c in last["cpus"]:
        print("cpu%d_cached=%d" % (c["cpu"], c["cached_iovas"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
