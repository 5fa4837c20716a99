#!/bin/bash
# variants: default debug
# The depot trim runs under a steady load, not only once the load stops.
# A burst on CPU 0 leaves 15 magazines in the depot (depot_keep 2); then,
# for 12 s, CPU 0 allocates 381 IOVAs (its two magazines and one from the
# depot) and frees them (which pushes one back): a pop and a push about
# every 120 ms on the default kernel under TCG, more often than
# depot_delay_ms (250 here).  Every depot change
# is counted from the iova:* events of the domain: the depot's size at
# the end is its pushes less its pops, and the trim must have given back
# all but depot_keep (plus one push it may not have seen yet).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib.sh"

MAG=127
BURST=15
KEEP=2
LOAD_SECONDS=12
work=$(mktemp -d)

save_iova_params
restore() {
	restore_iova_params
	trace_end
	iovaload destroy 2>/dev/null
	rm -rf "$work"
}
trap restore EXIT

# "pushes pops trims" in the trace taken to FILE
depot_counts() {
	awk '/ iova_depot_push:/ { push++ }
	     / iova_depot_pop:/ { pop++ }
	     / iova_magazine_release:.*reason=depot_trim/ { trim++ }
	     END { print push + 0, pop + 0, trim + 0 }' "$1"
}

load_iovaload || { fail iova-trim-load "cannot load iovaload"; exit 0; }
echo 600000 >$IOVA_PARAMS/depot_delay_ms
echo 0 >$IOVA_PARAMS/idle_reclaim_ms
echo $KEEP >$IOVA_PARAMS/depot_keep
iovaload create
# the domain's depot events only: pushes, pops, magazines trimmed
trace_begin "$(iovaload_status domain)" iova_depot_push iova_depot_pop iova_magazine_release

# The burst: CPU 0's two magazines, then BURST more into the depot
iovaload alloc cpu=0 n=$(((2 + BURST) * MAG))
iovaload free cpu=0
trace_take "$work/burst"
expect_eq iova-trim-load-burst "$BURST 0 0" "$(depot_counts "$work/burst")" \
	"depot pushes, pops and trimmed magazines after the burst"

# The steady load; the trim the burst armed (600 s) is brought forward
# by the first push after depot_delay_ms is lowered.
echo 250 >$IOVA_PARAMS/depot_delay_ms
steps=0
end=$((SECONDS + LOAD_SECONDS))
while [ $SECONDS -lt $end ]; do
	iovaload alloc cpu=0 n=$((3 * MAG)) || break
	iovaload free cpu=0 || break
	steps=$((steps + 1))
	sleep 0.05
done
trace_take "$work/load"
read -r push pop trim < <(depot_counts "$work/load")
echo "# $steps steps in $LOAD_SECONDS s: $push pushes, $pop pops, $trim magazines trimmed"
expect_eq iova-trim-load-pushes "$steps" "$push" "depot pushes, one per step"
expect_eq iova-trim-load-pops "$((steps + trim))" "$pop" \
	"depot pops: one per step and one per trimmed magazine"
depot=$((BURST + push - pop))
check iova-trim-load-trimmed "the depot holds $depot magazines after $trim trims (depot_keep $KEEP)" \
	[ "$depot" -le $((KEEP + 1)) ]
expect_eq iova-trim-load-no-overrun 0 "$(trace_overruns)" "events lost by tracefs"
