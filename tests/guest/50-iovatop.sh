#!/bin/bash
# variants: default vanilla
# iovatop against known load.  On the patched kernel it uses the iova:*
# events, on vanilla the fentry fallback; the cache state (IOVAs per CPU,
# depot magazines, tree nodes) is read the same way on both and must be
# exact on both.  Compared fields:
#   both      allocations, hits, misses, frees kept in the caches, frees
#             that went to the rbtree, rbtree allocations and frees,
#             IOVAs cached per CPU and in total, depot magazines, nodes
#   patched   also hits by source (loaded, prev, depot), frees by place,
#             depot pushes and pops
#   vanilla   also frees that hit the full depot (the seed 003 cliff),
#             reached with N=5000, and the IOVAs they gave back
# and, on both, the waits for each of the domain's locks (rbtree, depot,
# CPU cache) while iovaload holds it: their exact number and time.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib.sh"

IOVATOP=$TOP_DIR/.output/iovatop
# On vanilla, N must pass the fixed depot's 32 magazines plus two per CPU
# (32 x 127 + 254 = 4318) so that frees hit the full depot (the cliff).
N=${ROTATE_N:-3000}
[ "$KERNEL_VARIANT" = vanilla ] && N=${ROTATE_N:-5000}
CPUS=$(nproc)
work=$(mktemp -d)
model() { /usr/bin/python3 "$TESTS_DIR/guest/iova_model.py" "$@"; }
patched() { [ "$KERNEL_VARIANT" != vanilla ]; }

patched && saved_keep=$(cat $IOVA_PARAMS/depot_keep)
cleanup() {
	pkill -INT -f "$IOVATOP" 2>/dev/null
	wait 2>/dev/null
	if patched; then
		echo 100 >$IOVA_PARAMS/depot_delay_ms
		echo 60000 >$IOVA_PARAMS/idle_reclaim_ms
		echo "$saved_keep" >$IOVA_PARAMS/depot_keep
	fi
	iovaload destroy 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

# Start iovatop in the background and wait until it reported once.
stop_iovatop() {
	kill -INT "$1" 2>/dev/null
	wait "$1"
}

model_args() {
	echo "--cpus $CPUS --n $N"
	patched || echo "--depot-max 32"
}

# watch_rotation TEST OUT IOVATOP-ARGS...: iovatop (JSON every 0.5 s)
# watches seed 003's rotation from before the domain exists, with the
# deferred work held off; its sums for the domain in OUT.got, the model's
# burst in OUT.want, iovaload's count of its frees in ROTATION_FREES.
# Fails TEST and returns 1 if iovatop did not start.
watch_rotation() {
	local t=$1 out=$2 pid name
	shift 2
	if patched; then
		echo 600000 >$IOVA_PARAMS/depot_delay_ms
		echo 0 >$IOVA_PARAMS/idle_reclaim_ms
		echo -1 >$IOVA_PARAMS/depot_keep
	fi
	start_iovatop "$out.json" -j 0.5 -d private "$@" || {
		fail "$t" "iovatop did not start: $(cat "$out.json.err")"
		return 1
	}
	pid=$IOVATOP_PID
	ROTATION_FREES=$(iovaload_status frees)
	iovaload create
	iovaload rotate n="$N" order=0
	ROTATION_FREES=$(($(iovaload_status frees) - ROTATION_FREES))
	sleep 1.2
	stop_iovatop "$pid"
	expect_eq "$t-exit" 0 $? "iovatop exit status after SIGINT"
	name=$(/usr/bin/python3 -c 'import json,sys
for l in sys.stdin:
    for d in json.loads(l)["domains"]:
        if d["allocs"]: print(d["name"]); sys.exit()' <"$out.json")
	/usr/bin/python3 "$TESTS_DIR/guest/iovatop_json.py" "$name" <"$out.json" >"$out.got"
	# shellcheck disable=SC2046
	model expect rotate $(model_args) --phase burst >"$out.want"
	expect_eq "$t-allocs" $((N * CPUS)) \
		"$(awk -F= '$1 == "allocs" { print $2 }' "$out.got")" "allocations of $name"
}

# Seed 003: iovatop watches the rotation from before the domain exists.
# usage: test_rotation MODE
test_rotation() {
	local mode=$1 t=iovatop-rotation-$1
	watch_rotation "$t" "$work/rot" --mode="$mode" || return
	# the load generator's own count: an oracle that is not the model
	expect_eq "$t-frees-counted" "$ROTATION_FREES" \
		"$(awk -F= '$1 == "frees" { print $2 }' "$work/rot.got")" "frees (iovaload, iovatop)"
	if ! patched; then
		expect_range "$t-reaches-depot-cliff" 1 $((N * CPUS)) \
			"$(awk -F= '$1 == "free_depot_full" { print $2 }' "$work/rot.want")" \
			"frees into the full depot that the model predicts for N=$N"
	fi
	model compare "$t" "$work/rot.want" "$work/rot.got"
	if patched; then
		test_deferred "$mode" trim
		test_deferred "$mode" idle
		echo "$saved_keep" >$IOVA_PARAMS/depot_keep
	fi
	iovaload destroy
}

# One key of iovatop's sums so far for a domain, from its JSON lines
json_sum() {
	/usr/bin/python3 "$TESTS_DIR/guest/iovatop_json.py" "$2" <"$1" 2>/dev/null |
		awk -F= -v k="$3" '$1 == k { print $2 }'
}

# After the burst, the deferred work, watched by an iovatop of its own:
# the trim (depot_delay_ms short) gives the depot's excess back, the idle
# reclaim (idle_reclaim_ms short) all that is still cached.  The model
# says how many magazines and IOVAs go back, none of them zero, and the
# state after; iovatop must count exactly that.
# usage: test_deferred MODE PHASE
test_deferred() {
	local mode=$1 phase=$2 t=iovatop-$2-$1 pid key want name
	# shellcheck disable=SC2046
	model expect rotate $(model_args) --phase "$phase" >"$work/$phase.want"
	start_iovatop "$work/$phase.json" -j 0.5 -d private --mode="$mode" || {
		fail "$t" "iovatop did not start: $(cat "$work/$phase.json.err")"
		return
	}
	pid=$IOVATOP_PID
	# made before this iovatop started: named for no owner
	name=$(/usr/bin/python3 -c 'import json, sys
print([d["name"] for d in json.loads(sys.stdin.readline())["domains"] if d["kind"] == "private"][0])' \
		<"$work/$phase.json" 2>/dev/null)
	if [ "$phase" = trim ]; then
		key=released_depot_trim
		echo 20 >$IOVA_PARAMS/depot_delay_ms
	else
		key=flushed_idle
		echo 1000 >$IOVA_PARAMS/idle_reclaim_ms
	fi
	want=$(awk -F= -v k="$key" '$1 == k { print $2 }' "$work/$phase.want")
	wait_for "$want" 60 json_sum "$work/$phase.json" "$name" "$key" >/dev/null
	sleep 1	# two more intervals: nothing else may come
	stop_iovatop "$pid"
	check "$t-gives-back" "the model gives back '$want' IOVAs ($key)" [ "${want:-0}" -gt 0 ]
	/usr/bin/python3 "$TESTS_DIR/guest/iovatop_json.py" "$name" <"$work/$phase.json" >"$work/$phase.got"
	model compare "$t" "$work/$phase.want" "$work/$phase.got"
	# back to the burst's settings for what follows
	echo 600000 >$IOVA_PARAMS/depot_delay_ms
	echo 0 >$IOVA_PARAMS/idle_reclaim_ms
}

# The light fentry hooks (-L, what the table views attach): one fentry
# per allocation, the misses taken from the rbtree allocations of the
# same size.  Allocations, hits, misses, the rbtree and the caches must
# be what the model says; frees, depot operations, releases and flushes
# are not seen at all (absent from the JSON), and -v says which hooks the
# view attached.
test_light() {
	local t=iovatop-light
	watch_rotation "$t" "$work/light" -L -v --mode=fentry || return
	check "$t-hooks" "$(grep -E 'alloc_iova_fast|free_iova_fast' "$work/light.json.err")" \
		eval 'grep -qE "^  fentry/alloc_iova_fast +allocations" "$work/light.json.err" &&
		      grep -qE "^  fentry\+fexit/alloc_iova_fast .*\(not needed by this output\)" "$work/light.json.err" &&
		      grep -qE "^  fentry\+fexit/free_iova_fast .*\(not needed by this output\)" "$work/light.json.err"'
	check "$t-frees-absent" "$(grep -E '^free_(cached|depot_full)=' "$work/light.got" | tr '\n' ' ')" \
		eval 'grep -q "^free_cached=blind$" "$work/light.got" && grep -q "^free_depot_full=blind$" "$work/light.got"'
	model compare "$t" "$work/light.want" "$work/light.got" --ignore alloc_loaded \
		alloc_prev alloc_depot 'free_*' 'depot_p*' 'release*' 'flush*'
	patched && echo "$saved_keep" >$IOVA_PARAMS/depot_keep
	iovaload destroy
}

# Caches filled before iovatop started are read exactly too.
test_cache_state_at_start() {
	local name
	"$IOVATOP" -j 0.2 1 -d private >"$work/start.json" 2>&1
	name=$(/usr/bin/python3 -c 'import json,sys
print(json.loads(sys.stdin.readline())["domains"][0]["name"])' <"$work/start.json" 2>/dev/null)
	/usr/bin/python3 "$TESTS_DIR/guest/iovatop_json.py" "$name" <"$work/start.json" |
		grep -E '^(cached|depot_size|nodes|cpu[0-9]+_cached)=' >"$work/start.got"
	# shellcheck disable=SC2046
	model expect rotate $(model_args) --phase burst |
		grep -E '^(cached|depot_size|nodes|cpu[0-9]+_cached)=' >"$work/start.want"
	check iovatop-state-at-start-found "no private domain in: $(head -c 300 "$work/start.json")" \
		[ -s "$work/start.got" ]
	model compare iovatop-state-at-start "$work/start.want" "$work/start.got"
}

# During dma_map_benchmark: the edu device's domain is named by its PCI
# address, nearly every allocation hits the caches, and the allocations
# iovatop counts agree with the function profiler's count of
# alloc_iova_fast() calls over the same benchmark (all domains).
test_benchmark() {
	local pid calls counted
	start_iovatop "$work/bench.json" -j 1 || {
		fail iovatop-benchmark "iovatop did not start: $(cat "$work/bench.json.err")"
		return
	}
	pid=$IOVATOP_PID
	calls=$(count_calls alloc_iova_fast run_benchmark 2 3)
	stop_iovatop "$pid"
	counted=$(/usr/bin/python3 -c 'import json,sys
print(sum(d["allocs"] for l in sys.stdin for d in json.loads(l)["domains"]))' <"$work/bench.json")
	expect_range iovatop-benchmark-count-agrees $((calls * 99 / 100)) $((calls * 101 / 100)) \
		"$counted" "iovatop allocations vs $calls alloc_iova_fast calls"
	/usr/bin/python3 - "$LAB_EDU_BDF" "$work/bench.json" >"$work/bench.check" <<'PY'
import json, sys
bdf, path = sys.argv[1], sys.argv[2]
busy = [d for l in open(path) for d in json.loads(l)["domains"]
        if d["device"] == bdf and d["allocs"] > 10000]
print("named", len(busy) > 0)
# over the whole run: one interval under TCG on a loaded host can miss more
allocs = sum(d["allocs"] for d in busy)
print("hit_ratio", sum(d["hits"] for d in busy) / allocs if allocs else 0)
print("driver", busy[0]["driver"] if busy else "-")
PY
	expect_eq iovatop-benchmark-domain-named "named True" "$(sed -n 1p "$work/bench.check")" \
		"a busy domain named $LAB_EDU_BDF"
	expect_eq iovatop-benchmark-driver "driver dma_map_benchmark" "$(sed -n 3p "$work/bench.check")"
	check iovatop-benchmark-hit-ratio "$(sed -n 2p "$work/bench.check") (want > 0.99)" \
		awk '$1 == "hit_ratio" { exit !($2 > 0.99) }' "$work/bench.check"
}

# No lock waits on an idle system.  Then iovaload holds each of its
# domain's locks in turn (the rbtree's, the depot's of the smallest size
# class, the first CPU's cache lock of that class) while two other CPUs
# wait for it: one of the two queues, so each round is exactly one
# lock:contention_begin/end pair, of about the time iovaload held it.
# iovatop must count the rounds on that lock and on no other, and their
# wait within half to twice the hold time iovaload measured.
test_lock_contention() {
	local kind rounds=4 hold_us=20000 held hold_ns got
	"$IOVATOP" -j 0.5 2 >"$work/idle.json" 2>&1
	got=$(/usr/bin/python3 -c 'import json,sys
print(sum(v for l in sys.stdin for d in json.loads(l)["domains"] for v in d["lock_wait_ns"].values()))' <"$work/idle.json")
	expect_eq iovatop-idle-no-lock-wait 0 "$got" "lock wait on an idle system (ns)"

	for kind in rbtree depot cpu; do
		start_iovatop "$work/lock-$kind.json" -j 0.5 -d private ||
			{ fail "iovatop-contention-$kind-count" "iovatop did not start"; continue; }
		held=$(iovaload_status contended)
		hold_ns=$(iovaload_status contend_hold_ns)
		iovaload contend lock=$kind rounds=$rounds hold_us=$hold_us ||
			fail "iovatop-contention-$kind-load" "iovaload contend lock=$kind failed"
		held=$(($(iovaload_status contended) - held))
		hold_ns=$(($(iovaload_status contend_hold_ns) - hold_ns))
		sleep 0.6	# one more line
		stop_iovatop "$IOVATOP_PID"
		/usr/bin/python3 - "$work/lock-$kind.json" "$kind" >"$work/lock-$kind.sum" <<'PY'
import json, sys
kinds = ("rbtree", "depot", "cpu")
count = dict.fromkeys(kinds, 0)
wait = dict.fromkeys(kinds, 0)
for line in open(sys.argv[1]):
    for d in json.loads(line)["domains"]:
        for k in kinds:
            count[k] += d["lock_contentions"][k]
            wait[k] += d["lock_wait_ns"][k]
print(" ".join("%s=%d" % (k, count[k]) for k in kinds))
print(wait[sys.argv[2]])
PY
		echo "# $kind lock: iovaload $held rounds held $hold_ns ns; iovatop $(sed -n 1p "$work/lock-$kind.sum"), waited $(sed -n 2p "$work/lock-$kind.sum") ns"
		local want="rbtree=0 depot=0 cpu=0"
		want=${want/$kind=0/$kind=$rounds}
		expect_eq "iovatop-contention-$kind-count" "$rounds $want" \
			"$held $(sed -n 1p "$work/lock-$kind.sum")" "rounds of iovaload, contentions by lock"
		expect_range "iovatop-contention-$kind-wait" $((hold_ns / 2)) $((hold_ns * 2)) \
			"$(sed -n 2p "$work/lock-$kind.sum")" \
			"ns waited for the $kind lock (half to twice the $hold_ns ns it was held)"
	done
}

load_iovaload || { fail iovatop-setup "cannot load iovaload"; exit 0; }
if patched; then
	test_rotation tracepoint
	test_rotation counters
else
	test_rotation fentry
fi
test_light
iovaload create
iovaload rotate n="$N" order=0
test_cache_state_at_start
iovaload destroy
test_benchmark
iovaload create
test_lock_contention
