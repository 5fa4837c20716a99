#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""dmascope-report: read a perf recording of the iova:* and swiotlb:* events.

    perf record -e 'iova:*' -e 'swiotlb:*' -a -o perf.data -- sleep 60
    perf script -i perf.data -s tools/dmascope-report.py [-- OPTIONS]

A recording taken on a machine in trouble, read later: per IOVA domain
what iovatop shows live (cache hits by source, misses, depot pushes and
pops, rbtree allocations and frees, magazines released and cache flushes
by reason), and for the bounce buffers what swiotlbstat shows (slots
taken and given back, pools added and removed by kind, map failures and
bounced bytes by device).  The events come from the dmascope kernel
patches, except swiotlb_bounced, which every kernel has.

Options (after --):
    --kv            key=value lines for programs instead of the tables
    --domain ADDR   only this IOVA domain (its iovad pointer, as printed)
"""
import collections
import sys

# __print_symbolic() tables, which perf hands over before the first event
symbols = collections.defaultdict(dict)


def define_symbolic_field(event_name, field_name):
    pass


def define_symbolic_value(event_name, field_name, value, field_str):
    symbols[(event_name, field_name)][int(value)] = field_str


def define_flag_field(event_name, field_name, delim):
    pass


def define_flag_value(event_name, field_name, value, field_str):
    pass


def symbol(event_name, field, value):
    return symbols[(event_name, field)].get(int(value), str(value))


def hex_addr(value):
    return "0x%x" % (value & (2 ** 64 - 1))


# The names of the kernel's enums as the events print them; every kernel
# of the series has some of them (patch 2 replaced depot_full with
# depot_trim).  With --kv each count is printed, 0 when never seen.
ALLOC_RESULTS = ("loaded", "prev", "depot", "miss", "bypass")
FREE_RESULTS = ("loaded", "prev", "new_mag", "depot_full", "no_mag", "bypass")
REASONS = ("depot_full", "depot_trim", "alloc_retry", "cpu_dead", "idle", "teardown")
ZERO_KEYS = (["alloc_" + r for r in ALLOC_RESULTS] + ["free_" + r for r in FREE_RESULTS] +
             ["%s_%s" % (what, r) for r in REASONS
              for what in ("release", "released", "flush", "flushed")] +
             ["depot_push", "depot_pop", "tree_alloc", "tree_alloc_failed", "tree_alloc_retried",
              "tree_visited", "tree_free"])


class Domain:
    def __init__(self):
        self.c = collections.Counter({k: 0 for k in ZERO_KEYS})
        self.devices = []
        self.depot_size = None
        self.nodes = None
        self.release_ns = 0


POOL_KINDS = ("default", "dynamic", "transient")
SWIOTLB_KEYS = (["slot_allocs", "slots_allocated", "crossed_areas", "slot_releases",
                 "slots_released", "map_failures", "map_failure_bytes", "grow_failures",
                 "bounced", "bounced_bytes", "pool_alloc_ns"] +
                ["pools_%s_%s" % (what, k) for k in POOL_KINDS for what in ("added", "removed")])

domains = collections.defaultdict(Domain)
swiotlb = collections.Counter({k: 0 for k in SWIOTLB_KEYS})
devices = collections.defaultdict(collections.Counter)
pools = collections.defaultdict(collections.Counter)
events_seen = collections.Counter()


def on_iova(name, event_name, f):
    d = domains[hex_addr(f["iovad"])]
    c = d.c
    if name == "iova_rcache_alloc":
        c["alloc_" + symbol(event_name, "result", f["result"])] += 1
    elif name == "iova_rcache_free":
        c["free_" + symbol(event_name, "result", f["result"])] += 1
    elif name in ("iova_depot_push", "iova_depot_pop"):
        c[name[len("iova_"):]] += 1
        d.depot_size = f["depot_size"]
    elif name == "iova_tree_alloc":
        c["tree_alloc"] += 1
        c["tree_alloc_failed"] += not f["ok"]
        c["tree_alloc_retried"] += bool(f["retried"])
        c["tree_visited"] += f["visited"]
        d.nodes = f["nodes"]
    elif name == "iova_tree_free":
        c["tree_free"] += 1
        d.nodes = f["nodes"]
    elif name == "iova_magazine_release":
        reason = symbol(event_name, "reason", f["reason"])
        c["release_" + reason] += 1
        c["released_" + reason] += f["count"]
        d.release_ns += f["lock_ns"]
    elif name == "iova_cache_flush":
        reason = symbol(event_name, "reason", f["reason"])
        c["flush_" + reason] += 1
        c["flushed_" + reason] += f["count"]
    elif name == "iova_domain_device":
        d.devices.append(f["device"])
    elif name == "iova_domain_destroy":
        c["destroyed"] += 1
        d.nodes = f["nodes"]


def count_device_event(f, what, bytes_key):
    """An event of a named device: counted for it and for all devices."""
    for c in (devices[f["dev_name"]], swiotlb):
        c[what] += 1
        c[bytes_key] += f["size"]


def on_swiotlb(name, event_name, f):
    if name == "swiotlb_slot_alloc":
        swiotlb["slot_allocs"] += 1
        swiotlb["slots_allocated"] += f["nslots"]
        swiotlb["crossed_areas"] += bool(f["crossed"])
        pools[hex_addr(f["pool"])]["allocs"] += 1
    elif name == "swiotlb_slot_release":
        swiotlb["slot_releases"] += 1
        swiotlb["slots_released"] += f["nslots"]
        pools[hex_addr(f["pool"])]["releases"] += 1
    elif name == "swiotlb_map_fail":
        count_device_event(f, "map_failures", "map_failure_bytes")
    elif name in ("swiotlb_pool_add", "swiotlb_pool_remove"):
        kind = symbol(event_name, "kind", f["kind"])
        what = "added" if name.endswith("add") else "removed"
        swiotlb["pools_%s_%s" % (what, kind)] += 1
        swiotlb["pool_slots_%s_%s" % (what, kind)] += f["nslabs"]
        if what == "added":
            swiotlb["pool_alloc_ns"] += f["alloc_ns"]
    elif name == "swiotlb_grow_fail":
        swiotlb["grow_failures"] += 1
    elif name == "swiotlb_bounced":
        count_device_event(f, "bounced", "bounced_bytes")


def trace_unhandled(event_name, context, fields, sample=None):
    system, _, name = event_name.partition("__")
    if system in ("iova", "swiotlb"):
        events_seen[system + ":" + name] += 1
    if system == "iova":
        on_iova(name, event_name, fields)
    elif system == "swiotlb":
        on_swiotlb(name, event_name, fields)


opts = {"kv": False, "domain": None}


def trace_begin():
    args = sys.argv[1:]
    while args:
        arg = args.pop(0)
        if arg == "--kv":
            opts["kv"] = True
        elif arg == "--domain" and args:
            addr = args.pop(0)
            try:
                opts["domain"] = hex_addr(int(addr, 16))
            except ValueError:
                sys.exit("dmascope-report: --domain: '%s' is not an address" % addr)
        else:
            sys.exit("dmascope-report: unknown option '%s' (expected --kv, --domain ADDR)" % arg)


def domain_sums(d):
    c = collections.Counter(d.c)
    c["alloc_hit"] = sum(c["alloc_" + r] for r in ("loaded", "prev", "depot"))
    c["free_cached"] = sum(c["free_" + r] for r in ("loaded", "prev", "new_mag"))
    if d.depot_size is not None:
        c["depot_size"] = d.depot_size
    return c


def print_kv(chosen):
    for addr, d in chosen:
        print("domain=%s" % addr)
        for key, value in sorted(domain_sums(d).items()):
            print("%s=%d" % (key, value))
    for key, value in sorted(swiotlb.items()):
        print("swiotlb_%s=%d" % (key, value))
    for name, dev in sorted(devices.items()):
        for key, value in sorted(dev.items()):
            print("device_%s_%s=%d" % (name, key, value))


def by_prefix(c, prefix, names=None):
    parts = ["%s %d" % (k[len(prefix):], v) for k, v in sorted(c.items())
             if k.startswith(prefix) and v and (names is None or k[len(prefix):] in names)]
    return ", ".join(parts) or "none"


def print_domain(addr, d):
    c = domain_sums(d)
    allocs = sum(c["alloc_" + r] for r in ALLOC_RESULTS)
    frees = sum(c["free_" + r] for r in FREE_RESULTS)
    print("IOVA domain %s%s" % (addr, " (%s)" % ", ".join(d.devices) if d.devices else ""))
    hit = " (%.1f%% hits)" % (100.0 * c["alloc_hit"] / allocs) if allocs else ""
    print("  cache allocs   %d%s: %s" % (allocs, hit, by_prefix(c, "alloc_", ALLOC_RESULTS)))
    print("  cache frees    %d: %s" % (frees, by_prefix(c, "free_", FREE_RESULTS)))
    print("  depot          %d pushes, %d pops%s" % (c["depot_push"], c["depot_pop"],
          ", %d magazines at the end" % d.depot_size if d.depot_size is not None else ""))
    print("  rbtree         %d allocs (%d failed, %d retried, %d nodes visited), %d frees%s"
          % (c["tree_alloc"], c["tree_alloc_failed"], c["tree_alloc_retried"],
             c["tree_visited"], c["tree_free"],
             ", %d nodes at the end" % d.nodes if d.nodes is not None else ""))
    print("  released       magazines: %s; IOVAs: %s; %.3f ms under the lock"
          % (by_prefix(c, "release_"), by_prefix(c, "released_"), d.release_ns / 1e6))
    print("  flushed        caches: %s; IOVAs: %s" % (by_prefix(c, "flush_"), by_prefix(c, "flushed_")))


def print_swiotlb():
    s = swiotlb
    print("Bounce buffers (swiotlb)")
    print("  slots          %d maps took %d slots (%d from another CPU's area); "
          "%d unmaps gave back %d" % (s["slot_allocs"], s["slots_allocated"], s["crossed_areas"],
                                       s["slot_releases"], s["slots_released"]))
    print("  pools added    %s (%.3f ms to allocate)"
          % (by_prefix(s, "pools_added_"), s["pool_alloc_ns"] / 1e6))
    print("  pools removed  %s" % by_prefix(s, "pools_removed_"))
    print("  failures       %d maps (%d bytes), %d pools that could not be added"
          % (s["map_failures"], s["map_failure_bytes"], s["grow_failures"]))
    print("  bounced        %d buffers, %d bytes" % (s["bounced"], s["bounced_bytes"]))
    for name, dev in sorted(devices.items()):
        print("  device %-16s %d bounced (%d bytes), %d failed maps (%d bytes)"
              % (name, dev["bounced"], dev["bounced_bytes"], dev["map_failures"],
                 dev["map_failure_bytes"]))


def trace_end():
    kv, only = opts["kv"], opts["domain"]
    chosen = sorted((a, d) for a, d in domains.items() if only is None or a == only)
    if only is not None and not chosen:
        sys.exit("dmascope-report: no iova:* event of domain %s in the recording" % only)
    if kv:
        print_kv(chosen)
        return
    if not events_seen:
        print("no iova:* or swiotlb:* events in the recording")
        return
    for addr, d in chosen:
        print_domain(addr, d)
    if any(e.startswith("swiotlb:") for e in events_seen):
        print_swiotlb()
    print("events: " + ", ".join("%s %d" % kv_ for kv_ in sorted(events_seen.items())))
