#!/usr/bin/python3
"""Sum iovatop --json lines for one domain, as key=value lines that
iova_model.py compare can check against the model.

  iovatop_json.py DOMAIN_NAME < iovatop.ndjson

Counters are per interval in the JSON: they are summed over all lines.
The cache state (cached IOVAs per CPU, depot) is taken from the last line.
"""
import json
import sys

# What the fentry fallback cannot see: the rcache internals are inlined.
FENTRY_BLIND = {"alloc_loaded", "alloc_prev", "alloc_depot", "free_loaded",
                "free_prev", "free_new_mag", "depot_push", "depot_pop"}

# The reasons the model knows for magazines going back to the rbtree.
RECLAIM_REASONS = ("depot_full", "depot_trim", "idle")


def main():
    name = sys.argv[1]
    total = {}
    last = None
    lines = 0
    mode = None
    for line in sys.stdin:
        snap = json.loads(line)
        mode = snap["mode"]
        lines += 1
        for d in snap["domains"]:
            if d["name"] != name:
                continue
            last = d
            a, f = d["alloc_results"], d["free_results"]
            add = {
                "allocs": d["allocs"],
                "alloc_loaded": a["loaded"], "alloc_prev": a["prev"],
                "alloc_depot": a["depot"], "alloc_miss": a["miss"],
                "alloc_hit": a["loaded"] + a["prev"] + a["depot"] + a["hit"],
                "free_loaded": f["loaded"], "free_prev": f["prev"],
                "free_new_mag": f["new_mag"], "free_depot_full": f["depot_full"],
                "free_cached": f["loaded"] + f["prev"] + f["new_mag"] + f["cached"],
                "depot_push": d["depot_pushes"], "depot_pop": d["depot_pops"],
                "tree_alloc": d["tree"]["allocs"], "tree_free": d["tree"]["frees"],
            }
            for reason in RECLAIM_REASONS:
                add["release_" + reason] = d["magazines_released"][reason]
                add["released_" + reason] = d["iovas_released"][reason]
                add["flush_" + reason] = d["flushes"][reason]
                add["flushed_" + reason] = d["iovas_flushed"][reason]
            for k, v in add.items():
                total[k] = total.get(k, 0) + v
    print("json_lines=%d" % lines)
    if last is None:
        return 1
    for k, v in sorted(total.items()):
        if mode == "fentry" and k in FENTRY_BLIND:
            print("%s=blind" % k)
        else:
            print("%s=%d" % (k, v))
    print("cached=%d" % last["cached_iovas"])
    print("depot_size=%d" % last["depot_magazines"])
    print("nodes=%d" % last["tree"]["nodes"])
    for c in last["cpus"]:
        print("cpu%d_cached=%d" % (c["cpu"], c["cached_iovas"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
