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

# tools/dmascope-report.py reads a perf recording later: iovaload's
# rotation (seed 003) on its own domain, N one-page IOVAs on each CPU in
# turn, must come out as the counts the cache design implies
# (iova_model.py), as they do from tracefs in 20-iova-rotation.sh.
report_rotation() {
	local n=1000 domain params=/sys/module/iova/parameters
	local saved_delay saved_idle saved_keep
	load_iovaload || { fail perf-report-rotate "cannot load iovaload"; return; }
	saved_delay=$(cat $params/depot_delay_ms)
	saved_idle=$(cat $params/idle_reclaim_ms)
	saved_keep=$(cat $params/depot_keep)
	# no trim and no idle reclaim during the burst: the model's burst phase
	echo 600000 >$params/depot_delay_ms
	echo 0 >$params/idle_reclaim_ms
	echo -1 >$params/depot_keep
	iovaload create
	domain=$(iovaload_status domain)
	perf record -q -m 1024 -e 'iova:*' -a -o "$work/rotate.data" -- \
		sh -c "echo 'rotate n=$n order=0' >$IOVALOAD/control" >/dev/null 2>"$work/rotate.err"
	iovaload destroy
	echo "$saved_delay" >$params/depot_delay_ms
	echo "$saved_idle" >$params/idle_reclaim_ms
	echo "$saved_keep" >$params/depot_keep
	perf script -i "$work/rotate.data" -s "$TOP_DIR/tools/dmascope-report.py" -- --kv --domain "$domain" \
		>"$work/rotate.got" 2>"$work/rotate.report.err"
	expect_eq perf-report-rotate-recorded "" "$(grep -i -E 'lost|error' "$work/rotate.err" | head -n 1)" \
		"perf record's complaints (lost events would spoil every count)"
	python3 "$TESTS_DIR/guest/iova_model.py" expect rotate --cpus "$(nproc)" --n $n --phase burst \
		>"$work/rotate.want"
	python3 "$TESTS_DIR/guest/iova_model.py" compare perf-report-rotate "$work/rotate.want" \
		"$work/rotate.got" --ignore cached nodes 'cpu*_cached'
	perf script -i "$work/rotate.data" -s "$TOP_DIR/tools/dmascope-report.py" >"$work/rotate.table" 2>&1
	sed -n "/IOVA domain $domain/,/flushed/p" "$work/rotate.table" | sed 's/^/# /'
	check perf-report-table "the table names the domain and its hit ratio" \
		grep -qE "^  cache allocs +$((n * $(nproc))) \([0-9.]+% hits\)" "$work/rotate.table"
}

# perf trace shows the events as a person reads them: ten allocations on
# CPU 0 of iovaload's domain, ten lines with every field by name and the
# result as a word.
trace_lines() {
	local domain
	load_iovaload || { fail perf-trace-readable "cannot load iovaload"; return; }
	iovaload create
	domain=$(iovaload_status domain)
	# perf's own beautifier prints enums as numbers and leaves out fields
	# that are 0; libtraceevent prints them as the event's format says
	perf trace -a --no-syscalls --libtraceevent_print -e 'iova:iova_rcache_alloc' -o "$work/trace" -- \
		sh -c "echo 'alloc cpu=0 n=10 order=0' >$IOVALOAD/control" >/dev/null 2>"$work/trace.err"
	iovaload free cpu=0
	iovaload destroy
	sed -n 1,2p "$work/trace" | sed 's/^/# /'
	expect_eq perf-trace-readable 10 \
		"$(grep -cE "iova:iova_rcache_alloc.*iovad=${domain} size=1 order=0 cpu=0 result=(miss|loaded|prev|depot)" "$work/trace")" \
		"perf trace lines of the ten allocations ($(head -c 200 "$work/trace.err"))"
}

report_rotation
trace_lines
