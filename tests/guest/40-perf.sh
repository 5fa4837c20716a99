#!/bin/bash
# variants: default
# perf sees the iova:* events and records them with readable fields
# during a dma_map_benchmark run.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib.sh"

events="iova_cache_flush iova_depot_pop iova_depot_push iova_domain_destroy
iova_domain_device iova_domain_init iova_magazine_release iova_rcache_alloc
iova_rcache_free iova_tree_alloc iova_tree_free"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

perf list 'iova:*' 2>&1 >"$work/list"
missing=""
for e in $events; do
	grep -q "iova:$e " "$work/list" || missing+=" $e"
done
expect_eq perf-list-iova-events "" "$missing" "events missing from perf list"

perf record -q -e 'iova:*' -a -o "$work/perf.data" -- "$BENCH" -t 2 -s 1 -g 1 >/dev/null 2>"$work/record.err"
perf script -i "$work/perf.data" 2>/dev/null >"$work/script"
allocs=$(grep -c 'iova:iova_rcache_alloc:' "$work/script")
frees=$(grep -c 'iova:iova_rcache_free:' "$work/script")
expect_range perf-record-rcache-alloc 1000 100000000 "$allocs" "iova_rcache_alloc samples"
expect_range perf-record-rcache-free 1000 100000000 "$frees" "iova_rcache_free samples"
# The benchmark maps one page at a time: size 1, order 0, a known result,
# and a real (unhashed) domain pointer.
bad=$(grep 'iova:iova_rcache_alloc:' "$work/script" |
	grep -cvE 'iovad=0xff[0-9a-f]{14} size=1 order=0 cpu=[0-9]+ result=(loaded|prev|depot|miss)$')
expect_eq perf-record-fields-sensible 0 "$bad" "iova_rcache_alloc lines with unexpected fields, like: $(grep -m 1 'iova:iova_rcache_alloc:' "$work/script")"
hits=$(grep 'iova:iova_rcache_alloc:' "$work/script" | grep -c 'result=loaded')
expect_range perf-record-mostly-hits $((allocs * 9 / 10)) "$allocs" "$hits" "loaded-magazine hits"
