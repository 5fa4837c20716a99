#!/bin/bash
# variants: default vanilla
# iovatop started and stopped while dma_map_benchmark keeps every vCPU
# busy mapping, which is when users start it.  Attaching and detaching
# patch the code of the hooked functions (fentry trampolines, static
# keys) while other vCPUs run it.  An earlier lab once hung here (an RCU
# stall with the benchmark at alloc_iova_fast+0); on QEMU 7.2 multi-
# threaded TCG with 4 vCPUs it was not seen again in 12 tries with 2 and
# 4 benchmark threads, on the patched (counters, fentry) and the vanilla
# (fentry) kernel.  This test keeps it that way.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib.sh"

IOVATOP=$TOP_DIR/.output/iovatop
work=$(mktemp -d)
trap 'pkill -KILL -f "$IOVATOP"; wait; rm -rf "$work"' EXIT

# usage: attach_under_load NAME MODE: iovatop starts while the benchmark
# runs on every CPU, in 5-second rounds until iovatop has stopped, and
# runs 3 one-second intervals.  With every vCPU busy in the kernel,
# iovatop itself takes 10 to 60 s to start under TCG.
attach_under_load() {
	local t=iovatop-attach-under-load-$1 load rc allocs start=$SECONDS
	(while :; do run_benchmark "$(nproc)" 5 >>"$work/bench" 2>&1; done) &
	load=$!
	sleep 3
	timeout 300 "$IOVATOP" --mode="$2" -j 1 3 >"$work/$1.json" 2>"$work/$1.err"
	rc=$?
	echo "# $1: iovatop ran from 3 s to $((SECONDS - start)) s of the load"
	kill "$load"
	wait "$load"
	sleep 6 # the round that was running
	expect_eq "$t-exit" 0 "$rc" "iovatop exit status (124: it hung): $(head -c 200 "$work/$1.err")"
	check "$t-bench-ran" "no benchmark round finished: $(tail -n 2 "$work/bench")" \
		grep -q 'average map latency' "$work/bench"
	allocs=$(/usr/bin/python3 -c 'import json,sys
print(sum(d["allocs"] for l in sys.stdin for d in json.loads(l)["domains"]
          if d["device"] == sys.argv[1]))' "$LAB_EDU_BDF" <"$work/$1.json" 2>/dev/null)
	check "$t-saw-load" "allocations seen on $LAB_EDU_BDF: '$allocs'" [ "${allocs:-0}" -gt 1000 ]
	rm -f "$work/bench"
}

if [ "$KERNEL_VARIANT" = vanilla ]; then
	attach_under_load fentry fentry
else
	attach_under_load counters counters
	attach_under_load fentry fentry
fi
