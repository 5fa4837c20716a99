#!/bin/bash
# One kernel's part of make bench, inside the lab.  Writes
# $LAB_OUT/bench-<variant>-<round>.json.  Timings here are TCG timings:
# they only mean something as ratios to the other kernel's numbers from
# the same make bench run.
#   BENCH_ROUND   which alternation round this boot is (for the file name)
#   BENCH_QUICK=1 shorter runs (for trying the harness)
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../guest/lib.sh"

IOVATOP=$TOP_DIR/.output/iovatop
round=${BENCH_ROUND:-1}
maps=1024000	# a map+unmap run (a multiple of 64): about 3.5 s under TCG
reps=5
late=70
if [ "${BENCH_QUICK:-0}" = 1 ]; then
	maps=102400
	reps=1
	late=12
fi
out=$LAB_OUT/bench-$KERNEL_VARIANT-$round.json
json=$(mktemp)

# A number from a run that did not happen is worse than none: stop
bench_fail() {
	echo "bench: $*" >&2
	exit 1
}

# usage: start_measuring OUTPUT ARGS...: iovatop started, or the run stops
start_measuring() {
	start_iovatop "$@" ||
		bench_fail "iovatop did not start ($*): $(head -c 300 "$1.err")"
}

# usage: stop_measuring PID: iovatop stopped cleanly, or the run stops
stop_measuring() {
	kill -INT "$1"
	wait "$1" || bench_fail "iovatop exited with status $? (stderr: $(head -c 300 "$json".*.err 2>/dev/null))"
}

# The mean time of one map and of one unmap (us, to the ns) of 4 KiB on
# the edu device through the IOMMU: iovaload maps 64 buffers, unmaps
# them, and so on, and times each batch in the kernel.  dma_map_benchmark
# reports whole 100 ns units, too coarse for ratios of about 1 us.
bench_once() {
	local made map_ns unmap_ns
	iovaload reset || bench_fail "iovaload reset failed"
	iovaload cycle dev="$LAB_EDU_BDF" cpu=1 n=$maps bytes=4096 batch=64 ||
		bench_fail "iovaload cycle failed"
	made=$(iovaload_status maps)
	map_ns=$(iovaload_status map_ns)
	unmap_ns=$(iovaload_status unmap_ns)
	[[ $made = "$maps" && $map_ns =~ ^[1-9][0-9]*$ && $unmap_ns =~ ^[1-9][0-9]*$ ]] ||
		bench_fail "iovaload mapped $made of $maps buffers ('$map_ns' ns, '$unmap_ns' ns)"
	awk -v n="$made" -v m="$map_ns" -v u="$unmap_ns" \
		'BEGIN { printf "%.4f %.4f\n", m / n / 1000, u / n / 1000 }'
}

# iovatop starts (start_iovatop) and stops while the load is idle:
# attaching fentry programs while the benchmark hammers the function is
# what a user would do, but under TCG it once livelocked the guest.

# One benchmark run with iovatop attached (default view, 1 s interval)
bench_with_iovatop() {
	local pid
	start_measuring "$json.top" -b 1
	pid=$IOVATOP_PID
	bench_once
	stop_measuring $pid
}

# What the caches of the iovaload domain hold now (iovatop reads it exactly)
cache_state() {
	"$IOVATOP" -j 0.2 1 -d private | /usr/bin/python3 -c '
import json, sys
d = [d for d in json.load(sys.stdin)["domains"] if d["kind"] == "private"][0]
print(json.dumps({"cached_iovas": d["cached_iovas"], "depot_magazines": d["depot_magazines"],
                  "magazine_bytes": d["magazine_bytes"], "tree_nodes": d["tree"]["nodes"]}))'
}

# Seed 003's burst on the domain iovaload has now: N one-page IOVAs per
# CPU, allocated and freed on each CPU in turn.  Prints the time the
# kernel took (iovaload times the command) and the allocations iovaload
# made, its own count.
rotate_timed() {
	local n=$1 ns allocs
	iovaload reset || bench_fail "iovaload reset failed"
	iovaload rotate n="$n" order=0 || bench_fail "iovaload rotate failed"
	ns=$(iovaload_status last_ns)
	allocs=$(iovaload_status allocs)
	[[ $ns =~ ^[1-9][0-9]*$ && $allocs =~ ^[1-9][0-9]*$ ]] ||
		bench_fail "iovaload timed no rotation ('$ns' ns, '$allocs' allocations)"
	echo "$ns $allocs"
}

# Seed 003: rotate a burst of N IOVAs over all CPUs, first on a fresh
# domain with nothing attached (the kernel's own time), then on another
# fresh domain while iovatop counts what went back to the rbtree on the
# free path (its counts, and the time with it attached: iovatop's cost);
# then watch that domain's caches age.
rotation() {
	local n=5000 pid t0 plain counted
	load_iovaload
	iovaload create
	expect_counters_off
	plain=$(rotate_timed $n) || exit 1
	iovaload destroy
	iovaload create
	start_measuring "$json.rot" -j 0.5 -d private
	pid=$IOVATOP_PID
	counted=$(rotate_timed $n) || exit 1
	t0=$SECONDS
	sleep 0.5
	stop_measuring $pid
	/usr/bin/python3 - "$json.rot" $n $plain $counted <<'PY' >"$json.rotation"
import json, sys
path, n = sys.argv[1], int(sys.argv[2])
plain_ns, plain_allocs, ns, load_allocs = map(int, sys.argv[3:7])
free_path = tree_frees = allocs = misses = 0
for line in open(path):
    for d in json.loads(line)["domains"]:
        if d["kind"] != "private":
            continue
        # on the free path: a full depot's magazine, or no new magazine
        # (each kernel's outcomes: vanilla has no no_mag)
        fr = d["free_results"]
        free_path += (d["iovas_released"]["depot_full"] + fr.get("no_mag", 0) +
                      fr.get("tree", 0))
        tree_frees += d["tree"]["frees"]
        allocs += d["allocs"]
        misses += d["misses"]
if allocs != load_allocs:
    sys.exit("bench: iovatop counted %d allocations, iovaload made %d" % (allocs, load_allocs))
print(json.dumps({"n_per_cpu": n, "allocs": allocs, "misses": misses,
                  "free_path_tree_frees": free_path, "tree_frees": tree_frees,
                  "ns_per_alloc_free": plain_ns / plain_allocs,
                  "ns_per_alloc_free_with_iovatop": ns / load_allocs}))
PY
	[ -s "$json.rotation" ] || bench_fail "no rotation summary"
	sleep $((1 - (SECONDS - t0) > 0 ? 1 - (SECONDS - t0) : 0))
	cache_state >"$json.at1"
	sleep 9
	cache_state >"$json.at10"
	sleep $((late - 10))
	cache_state >"$json.late"
	iovaload destroy
}

# "Not attached" means the patches' counters are off too: the last
# iovatop to stop must have turned iova.stats off again.
expect_counters_off() {
	[ ! -e "$IOVA_PARAMS/stats" ] || [ "$(cat "$IOVA_PARAMS/stats")" = 0 ] || {
		echo "bench: iova.stats is still on after iovatop stopped" >&2
		exit 1
	}
}

echo "# bench on $KERNEL_VARIANT (round $round): rotation and cache ageing"
rotation

# The cache fast path alone: every CPU at once allocates and frees 100
# one-page IOVAs, 3000 times; all but the first round hit the caches.
# iovaload times the command in the kernel: ns per alloc+free pair.
hot_once() {
	local ns
	iovaload concurrent n=100 order=0 rounds=3000 || bench_fail "iovaload concurrent failed"
	ns=$(iovaload_status last_ns)
	[[ $ns =~ ^[1-9][0-9]*$ ]] || bench_fail "iovaload timed no concurrent run ('$ns')"
	echo "$ns / 300000" | bc -l
}

hot_with_iovatop() {
	local pid
	start_measuring "$json.top" -b 1
	pid=$IOVATOP_PID
	hot_once
	stop_measuring $pid
}

echo "# bench on $KERNEL_VARIANT: the cache fast path without and with iovatop"
iovaload create
iovaload concurrent n=100 order=0 rounds=10
: >"$json.hot"
: >"$json.hotwith"
for i in $(seq "$reps"); do
	expect_counters_off
	hot_once >>"$json.hot"
	hot_with_iovatop >>"$json.hotwith"
done
iovaload destroy

echo "# bench on $KERNEL_VARIANT: map and unmap without and with iovatop"
# interleaved, so that drift of this shared machine hits both alike
: >"$json.plain"
: >"$json.with"
for i in $(seq "$reps"); do
	expect_counters_off
	bench_once >>"$json.plain"
	bench_with_iovatop >>"$json.with"
done
plain=$(cat "$json.plain" "$json.with" | tr '\n' ' ')
/usr/bin/python3 - "$plain" "$reps" "$KERNEL_VARIANT" "$round" "$late" \
	"$json.rotation" "$json.at1" "$json.at10" "$json.late" "$json.hot" "$json.hotwith" <<'PY' >"$out"
import json, sys
vals, reps = sys.argv[1].split(), int(sys.argv[2])
pairs = [(float(vals[i]), float(vals[i + 1])) for i in range(0, len(vals), 2)]
load = lambda p: json.load(open(p))
print(json.dumps({
    "kernel": sys.argv[3], "round": int(sys.argv[4]), "late_s": int(sys.argv[5]),
    "latency_us": {"plain": pairs[:reps], "iovatop": pairs[reps:]},
    "hot_path_ns": {"plain": [float(x) for x in open(sys.argv[10]).read().split()],
                    "iovatop": [float(x) for x in open(sys.argv[11]).read().split()]},
    "rotation": load(sys.argv[6]),
    "cached_after": {"1s": load(sys.argv[7]), "10s": load(sys.argv[8]),
                     "late": load(sys.argv[9])},
}, indent=1))
PY
echo "# wrote $out"
rm -f "$json"*
