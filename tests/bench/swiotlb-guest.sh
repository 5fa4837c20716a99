#!/bin/bash
# The SWIOTLB part of make bench, inside the lab (tests/bench/run boots it
# with every DMA bounced and the IOMMU off).  Writes
# $LAB_OUT/swiotlb-<config>-<round>.json.  Timings are TCG timings: they
# only mean something as ratios to the other boots of the same run.
#
#   swiotlb-guest.sh fio CONFIG    fio on the NVMe disk: each workload of
#                                  the seed's table BENCH_RUNS times, the
#                                  pool memory at the peak and after idle
#   swiotlb-guest.sh lookup        map and unmap cost with 1, 2, 8 and
#                                  64 pools (tests/iovaload holds
#                                  mappings to make the pools)
#   swiotlb-guest.sh toolcost      fio with and without swiotlbstat
#   BENCH_ROUND   which alternation round this boot is (for the file name)
#   BENCH_QUICK=1 shorter runs (for trying the harness)
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../guest/lib.sh"

D=/sys/kernel/debug/swiotlb
P=/sys/module/swiotlb/parameters
round=${BENCH_ROUND:-1}
runs=${BENCH_RUNS:-3}
secs=8
cycles=20000
if [ "${BENCH_QUICK:-0}" = 1 ]; then
	runs=1
	secs=1
	cycles=2000
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

die() {
	echo "swiotlb-guest: $*" >&2
	exit 1
}

# ---- fio ----

# The seed's workloads: name, block size, parallel jobs, queue depth of
# each job.  Each keeps 2 MiB in flight (bs x jobs x depth), twice the
# growing kernel's 1 MiB boot pool, so that kernel (c) must grow in every
# one of them, as it did in the seed's runs (1 MiB grew to 5 MiB).
WORKLOADS="small:4k:1:512 big:64k:1:32 2way:4k:2:256 4way:4k:4:128"

# Read-write bandwidth of one fio run, in MiB/s
fio_once() {
	local bs=$1 jobs=$2 depth=$3
	fio --name=bench --filename="$LAB_NVME_DEV" --direct=1 --rw=randrw \
		--bs="$bs" --ioengine=libaio --iodepth="$depth" --numjobs="$jobs" \
		--size=256M --runtime="$secs" --time_based --group_reporting \
		--output-format=json --output="$work/fio.json" >/dev/null ||
		die "fio --bs=$bs --numjobs=$jobs --iodepth=$depth failed"
	python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))["jobs"][0]
print("%.3f" % ((j["read"]["bw"] + j["write"]["bw"]) / 1024.0))' "$work/fio.json"
}

# The largest io_tlb_nslabs seen until $work/stop appears
sample_peak() {
	local n peak=0
	while [ ! -e "$work/stop" ]; do
		read -r n <"$D/io_tlb_nslabs"
		((n > peak)) && peak=$n
		sleep 0.1
	done
	echo "$peak" >"$work/peak"
}

# Slots once idle pools had time to go (those kernels that give back)
slots_after_idle() {
	if [ -r "$D/io_tlb_npools" ]; then
		wait_for 1 30 cat "$D/io_tlb_npools" >/dev/null
	fi
	cat "$D/io_tlb_nslabs"
}

# Pools added and removed, counted from the swiotlb:swiotlb_pool_add and
# swiotlb_pool_remove events in a tracefs instance of the bench's own
# (kernels without them, vanilla, count nothing: "null" in the JSON).
POOL_TRACE=$TRACEFS/instances/swiotlb-bench

pool_trace_begin() {
	[ -d "$TRACEFS/events/swiotlb/swiotlb_pool_add" ] || return 0
	mkdir -p "$POOL_TRACE" || die "cannot make $POOL_TRACE"
	echo 4096 >"$POOL_TRACE/buffer_size_kb"
	echo 1 >"$POOL_TRACE/events/swiotlb/swiotlb_pool_add/enable"
	echo 1 >"$POOL_TRACE/events/swiotlb/swiotlb_pool_remove/enable"
}

# Print the counts as JSON: {"added": {KIND: N}, "removed": {KIND: N}}
pool_trace_end() {
	local lost
	if [ ! -d "$POOL_TRACE" ]; then
		echo null
		return
	fi
	echo 0 >"$POOL_TRACE/tracing_on"
	lost=$(trace_overruns "$POOL_TRACE")
	[ "$lost" = 0 ] || die "$lost pool events lost to a full trace buffer"
	awk '
	/ swiotlb_pool_(add|remove):/ {
		op = $0 ~ /swiotlb_pool_add:/ ? "added" : "removed"
		match($0, /kind=[a-z]+/)
		n[op, substr($0, RSTART + 5, RLENGTH - 5)]++
	}
	END {
		printf "{\"added\": {\"dynamic\": %d, \"transient\": %d}, ", n["added", "dynamic"], n["added", "transient"]
		printf "\"removed\": {\"dynamic\": %d, \"transient\": %d}}\n", n["removed", "dynamic"], n["removed", "transient"]
	}' "$POOL_TRACE/trace"
	rmdir "$POOL_TRACE"
}

bench_fio() {
	local config=$1 out=$LAB_OUT/swiotlb-$1-$round.json
	local w name bs jobs depth r sampler pools
	[ -n "${LAB_NVME_DEV:-}" ] || die "no NVMe disk in this lab"
	[ -r "$D/io_tlb_nslabs" ] || die "no $D/io_tlb_nslabs"
	: >"$work/bw"
	pool_trace_begin
	sample_peak &
	sampler=$!
	for r in $(seq "$runs"); do
		for w in $WORKLOADS; do
			IFS=: read -r name bs jobs depth <<<"$w"
			echo "$name $r $(fio_once "$bs" "$jobs" "$depth")" | tee -a "$work/bw"
		done
	done
	touch "$work/stop"
	wait $sampler
	slots_after_idle >"$work/after_idle"
	pool_trace_end >"$work/pools" || exit 1
	pools=$(cat "$work/pools")
	python3 - "$work/bw" "$config" "$round" "$(cat "$work/peak")" \
		"$(cat "$work/after_idle")" "$pools" "$WORKLOADS" >"$out" <<'PY'
import json, sys
bw = {}
for line in open(sys.argv[1]):
    name, _, mibs = line.split()
    bw.setdefault(name, []).append(float(mibs))
slot = 2048
workloads = {}
for w in sys.argv[7].split():
    name, bs, jobs, depth = w.split(":")
    workloads[name] = {"bs": bs, "jobs": int(jobs), "iodepth": int(depth)}
print(json.dumps({"config": sys.argv[2], "round": int(sys.argv[3]),
                  "bandwidth_mibs": bw, "workloads": workloads,
                  "peak_bytes": int(sys.argv[4]) * slot,
                  "after_idle_bytes": int(sys.argv[5]) * slot,
                  "pools": json.loads(sys.argv[6])}))
PY
	echo "# $config: peak $(($(cat "$work/peak") * 2 / 1024)) MiB, pools $pools"
}

# ---- lookup cost ----

SEGMENT=262144		# the largest mapping: 128 slots of 2 KiB

# iovaload (tests/guest/lib.sh), dying on a failed command
iovaload_or_die() {
	iovaload "$@" || die "iovaload: '$*' failed"
}

# Pools that stay when their mappings are released (not the transient)
staying_pools() {
	tail -n +2 "$D/io_tlb_pools" | grep -vc '^transient'
}

# Free 256 KiB chunks in all pools (slots are taken in chunks here);
# io_tlb_used counts the slots of transient pools, io_tlb_nslabs not.
free_chunks() {
	local total=$(($(cat "$D/io_tlb_nslabs") + $(cat "$D/io_tlb_transient_nslabs")))
	echo $(((total - $(cat "$D/io_tlb_used")) / 128))
}

# Fill what there is and map one chunk more, which starts the growth
# worker; each round adds one dynamic pool (of the size of all pools so
# far, 4 MiB at most: with the bench's 4 MiB boot pool, 4 MiB each),
# until $1 pools stay.
grow_to() {
	local want=$1 have end
	while have=$(staying_pools) && [ "$have" -lt "$want" ]; do
		iovaload_or_die hold dev="$LAB_EDU_BDF" n=$(($(free_chunks) + 1)) bytes=$SEGMENT
		end=$((SECONDS + 10))
		while [ "$(staying_pools)" = "$have" ]; do
			[ $SECONDS -lt $end ] || die "no pool added in 10 s (at $have pools)"
			sleep 0.1
		done
	done
	iovaload_or_die release
	sleep 0.2	# transient pools leave after an RCU grace period
}

# Fill every pool but the last chunk of the last one, so that each map
# of the cycle goes to the pool the search reaches last; then time it.
# A batch of 64 maps of 4 KiB takes the whole chunk (128 slots), so every
# batch starts where the last one ended and scans the rest of the area
# (the slots of the other chunks, all held) once: the same slot scan in
# every row, whatever the chunk's place in its area.
lookup_once() {
	local pools=$1 chunks
	grow_to "$pools"
	chunks=$(($(cat "$D/io_tlb_nslabs") / 128))
	iovaload_or_die hold dev="$LAB_EDU_BDF" n=$((chunks - 1)) bytes=$SEGMENT
	iovaload_or_die reset
	iovaload_or_die cycle dev="$LAB_EDU_BDF" cpu=0 n=$cycles bytes=4096 batch=64
	[ "$(iovaload_status map_failures)" = 0 ] || die "maps failed with $pools pools"
	echo "$(staying_pools) $(iovaload_status maps) $(iovaload_status cycle_map_median_ns) $(iovaload_status cycle_unmap_median_ns)"
	iovaload_or_die release
}

bench_lookup() {
	local out=$LAB_OUT/swiotlb-lookup-$round.json p
	[ -n "${LAB_EDU_BDF:-}" ] || die "no edu device in this lab"
	[ -r "$D/io_tlb_npools" ] || die "no $D/io_tlb_npools (not the dynamic SWIOTLB)"
	load_iovaload || die "cannot load iovaload.ko"
	echo 0 >"$P/pool_idle_ms"	# keep every pool
	: >"$work/lookup"
	# 1: the boot pool alone, checked before any lookup; 2 to 64: the
	# mappings are in a dynamic pool, found in the address tree
	for p in 1 2 8 64; do
		lookup_once $p >>"$work/lookup"
	done
	cat "$work/lookup"
	rmmod iovaload
	python3 - "$work/lookup" "$round" >"$out" <<'PY'
import json, sys
rows = []
for line in open(sys.argv[1]):
    pools, maps, map_ns, unmap_ns = map(int, line.split())
    rows.append({"pools": pools, "cycles": maps,
                 "map_ns": map_ns, "unmap_ns": unmap_ns})
print(json.dumps({"config": "lookup", "round": int(sys.argv[2]), "rows": rows}))
PY
}

# ---- swiotlbstat's own cost ----

# fio running with swiotlbstat's default view, with its one that times
# every map (-L), or alone
fio_with() {
	local tool=$TOP_DIR/.output/swiotlbstat pid
	"$tool" -j "$@" 1 >"$work/stat.json" 2>"$work/stat.err" &
	pid=$!
	wait_for 1 15 sh -c "test -s '$work/stat.json' && echo 1" >/dev/null
	fio_once 4k 4 128
	kill -INT "$pid"
	wait "$pid" || die "swiotlbstat $* failed: $(head -c 200 "$work/stat.err")"
}

# fio's 4-way workload (the busiest map path) without swiotlbstat, with
# it and with it timing maps (-L), in triples whose order alternates, so
# that drift in the guest weighs on each side alike: the n-th line of
# each side are one triple.
bench_tool_cost() {
	local out=$LAB_OUT/swiotlb-toolcost-$round.json r side order mibs
	local tool=$TOP_DIR/.output/swiotlbstat
	[ -x "$tool" ] || die "no $tool (make)"
	: >"$work/cost"
	# not recorded: the first run after boot grows the pool from 1 MiB
	fio_once 4k 4 128 >/dev/null
	for r in $(seq $((runs * 2))); do
		order="without with with_latency"
		((r % 2)) || order="with_latency with without"
		for side in $order; do
			case $side in
			without) mibs=$(fio_once 4k 4 128) ;;
			with) mibs=$(fio_with) ;;
			with_latency) mibs=$(fio_with -L) ;;
			esac || exit 1
			echo "$side $mibs" >>"$work/cost"
		done
	done
	cat "$work/cost"
	python3 - "$work/cost" "$round" "$(sed -n 's/^mode: \([a-z]*\).*/\1/p' <("$tool" --hooks))" \
		>"$out" <<'PY'
import json, sys
bw = {"without": [], "with": [], "with_latency": []}
for line in open(sys.argv[1]):
    side, mibs = line.split()
    bw[side].append(float(mibs))
print(json.dumps({"config": "toolcost", "round": int(sys.argv[2]),
                  "mode": sys.argv[3], "bandwidth_mibs": bw}))
PY
}

case "${1:-}" in
fio) [ -n "${2:-}" ] || die "usage: swiotlb-guest.sh fio CONFIG"; bench_fio "$2" ;;
lookup) bench_lookup ;;
toolcost) bench_tool_cost ;;
*) die "usage: swiotlb-guest.sh fio CONFIG | lookup | toolcost" ;;
esac
