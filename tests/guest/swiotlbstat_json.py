#!/usr/bin/python3
"""Sum swiotlbstat --json lines, as key=value lines for a test to check.

  swiotlbstat_json.py FILE [DEVICE [FROM TO]]

Counters are per interval in the JSON: they are summed over all lines.
DEVICE (a PCI address) adds that device's sums.  FROM and TO (seconds
since the epoch) add the pool state of the lines that ended between them,
as the distinct values seen ("4096" if all agree, "4096,4224" if not).
A last line {"advice": ...} adds its numbers.  Malformed input fails.
"""
import json
import sys

SUMMED = ("maps", "unmaps", "map_failures", "map_failure_bytes",
          "bounced", "bounced_bytes", "area_lock_waits", "area_lock_wait_ns")
DEVICE_SUMMED = ("maps", "unmaps", "bounced_bytes", "map_failures", "map_failure_bytes")
STATE = ("total_slots", "used_slots", "hiwater_slots")


SLOT = 2048            # IO_TLB_SIZE
SEGMENT = 128          # IO_TLB_SEGSIZE
PAGE = 4096


def slots(nbytes):
    return -(-nbytes // SLOT)


def expected_advice(ev):
    """The fixed swiotlb= of swiotlbstat(8)'s ADVICE, from the evidence:
    the peak, padded by a slot per mapping in flight (mappings from a
    page on start on an even slot), spread over segments that hold whole
    mappings of the largest size, one segment more, up to a power of
    two of at least 512 slots."""
    peak = ev["hiwater_slots"]
    if ev["map_failures"]:
        peak = (max(peak, ev["peak_total_slots"]) +
                slots(ev["largest_failure_bytes"]))
    largest = ev["largest_map_bytes"]
    per_map = slots(largest)
    if largest >= PAGE and per_map % 2:
        per_map += 1
    per_map = max(1, min(per_map, SEGMENT))
    usable = SEGMENT // per_map * per_map
    if largest >= PAGE:
        # the mean mapping: of the maps seen ending (fexit), else of the bounces
        maps, nbytes = ((ev["maps"], ev["map_bytes"]) if "map_bytes" in ev
                        else (ev["bounced"], ev["bounced_bytes"]))
        mean = max(1, slots(nbytes // maps) if maps else 1)
        peak += -(-peak // mean)
    want = (-(-peak // usable) + 1) * SEGMENT
    pool = 512
    while pool < want:
        pool *= 2
    return pool


def add_device(out, dev):
    for key in DEVICE_SUMMED:
        out["dev_" + key] = out.get("dev_" + key, 0) + dev[key]
    out["dev_mapped_bytes"] = (out.get("dev_mapped_bytes", 0) +
                               sum(dev.get("mapped_bytes", {}).values()))
    for key in ("largest_map_bytes", "largest_failure_bytes"):
        out["dev_" + key] = max(out.get("dev_" + key, 0), dev[key])
    out["dev_driver"] = dev["driver"] or "-"


def add_window(window, row):
    for key in STATE:
        window.setdefault(key, []).append(row.get(key, "absent"))


def main():
    path = sys.argv[1]
    device = sys.argv[2] if len(sys.argv) > 2 else None
    since, until = (map(float, sys.argv[3:5]) if len(sys.argv) > 4
                    else (None, None))
    out = {"lines": 0, "lost": 0}
    window = {}
    in_window = 0
    for line in open(path):
        row = json.loads(line)
        if "advice" in row:
            advice = row["advice"]
            out["advice_swiotlb"] = advice["swiotlb"]
            out["advice_hiwater"] = advice["evidence"]["hiwater_slots"]
            out["advice_expected"] = expected_advice(advice["evidence"])
            out["advice_trusted"] = int(advice["trusted"])
            out["advice_reasons"] = len(advice["untrusted_because"])
            continue
        out["lines"] += 1
        out["mode"] = row["mode"]
        out["lost"] = sum(row["lost"].values())  # cumulative
        out["lost_kinds"] = ",".join("%s:%d" % kv for kv in
                                     sorted(row["lost"].items()) if kv[1]) or "none"
        for key in SUMMED:
            if key in row:
                out[key] = out.get(key, 0) + row[key]
        for kind in ("dynamic", "transient"):
            for what in ("pools_added", "pools_removed"):
                if what in row:
                    name = "%s_%s" % (what, kind)
                    out[name] = out.get(name, 0) + row[what][kind]
        for dev in row["devices"]:
            if dev["device"] == device:
                add_device(out, dev)
        if since is not None and since <= float(row["time"]) <= until:
            in_window += 1
            add_window(window, row)
    if not out["lines"]:
        sys.exit("%s: no swiotlbstat lines" % path)
    out["window_lines"] = in_window
    for key, seen in window.items():
        out["window_" + key] = ",".join(str(v) for v in sorted(set(seen)))
    for key, value in out.items():
        print("%s=%s" % (key, value))


if __name__ == "__main__":
    main()
