#!/bin/bash
# variants: default debug
# Seed 003 through the load generator: on each CPU in turn allocate N
# one-page IOVAs and free them.  The iova:* trace events must show exactly
# the cache hits, misses, depot pushes and pops, and rbtree frees that the
# cache design implies (tests/guest/iova_model.py), in three phases:
#   burst  no IOVA goes back to the rbtree on the free path;
#   trim   the deferred work gives back the depot's excess magazines;
#   idle   idle reclaim gives back everything still cached.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib.sh"

N=${ROTATE_N:-5000}
[ "$KERNEL_VARIANT" = debug ] && N=${ROTATE_N:-1500}
CPUS=$(nproc)
work=$(mktemp -d)
model() { /usr/bin/python3 "$TESTS_DIR/guest/iova_model.py" "$@"; }

expect() {
	model expect rotate --cpus "$CPUS" --n "$N" --phase "$1" >"$work/$1.want"
}

compare_phase() {
	local phase=$1
	model count <"$work/$phase.trace" >"$work/$phase.got"
	# the trace tells events, not the state of the caches
	model compare "rotate-$phase" "$work/$phase.want" "$work/$phase.got" \
		--ignore cached nodes 'cpu*_cached'
}

# Cheap counts of the trace so far, to wait for the deferred work.
trimmed_magazines() {
	grep -c 'iova_magazine_release:.*reason=depot_trim' "$TRACEFS/trace"
}

idle_flushed_iovas() {
	awk '/iova_cache_flush:.*reason=idle/ { split($0, a, "count="); n += a[2] + 0 }
	     END { print n + 0 }' "$TRACEFS/trace"
}

save_iova_params
restore() {
	restore_iova_params
	trace_end
	rm -rf "$work"
}
trap restore EXIT

load_iovaload || { fail rotate-setup "cannot load iovaload"; exit 0; }
echo 600000 >$IOVA_PARAMS/depot_delay_ms
echo 0 >$IOVA_PARAMS/idle_reclaim_ms
echo -1 >$IOVA_PARAMS/depot_keep
iovaload create
domain=$(iovaload_status domain)
trace_begin "$domain"

# Phase 1: the free burst.
iovaload rotate n="$N" order=0
expect_eq rotate-loadgen-allocs $((N * CPUS)) "$(iovaload_status allocs)" "iovaload allocations"
expect_eq rotate-loadgen-frees $((N * CPUS)) "$(iovaload_status frees)" "iovaload frees"
echo "# burst done after ${SECONDS}s"
trace_take "$work/burst.trace"
expect burst
compare_phase burst

# Phase 2: the deferred trim, one magazine per depot_delay_ms.
expect trim
want=$(awk -F= '$1 == "release_depot_trim" { print $2 }' "$work/trim.want")
echo 20 >$IOVA_PARAMS/depot_delay_ms
got=$(wait_for "$want" 60 trimmed_magazines)
sleep 0.5
echo "# trim done after ${SECONDS}s"
trace_take "$work/trim.trace"
compare_phase trim

# Phase 3: idle reclaim of everything still cached.
expect idle
echo 1000 >$IOVA_PARAMS/idle_reclaim_ms
want=$(awk -F= '$1 == "flushed_idle" { print $2 }' "$work/idle.want")
got=$(wait_for "$want" 30 idle_flushed_iovas)
sleep 0.5
echo "# idle done after ${SECONDS}s"
trace_take "$work/idle.trace"
compare_phase idle

expect_eq rotate-trace-no-overrun 0 "$(trace_overruns)" "events lost by tracefs"
iovaload destroy
