# Attaching a tool while a load runs (sourced by *-under-load.sh).
# shellcheck shell=bash

UL_WORK=$(mktemp -d)
trap 'touch "$UL_WORK/stop"; wait; rm -rf "$UL_WORK"' EXIT

# start_load COMMAND...: run COMMAND again and again in the background
# until stop_load; each run's failure is written down
start_load() {
	(
		while [ ! -e "$UL_WORK/stop" ]; do
			"$@" >"$UL_WORK/load.out" 2>&1 || echo "$* failed: $(tail -n 1 "$UL_WORK/load.out")" >>"$UL_WORK/load-failed"
			echo run >>"$UL_WORK/load-runs"
		done
	) &
	UL_LOAD_PID=$!
	sleep 1
}

# stop_load TEST: the load ends within a minute, with no run failed
stop_load() {
	local end=$((SECONDS + 60))
	touch "$UL_WORK/stop"
	while kill -0 "$UL_LOAD_PID" 2>/dev/null && [ $SECONDS -lt $end ]; do
		sleep 0.5
	done
	if kill -0 "$UL_LOAD_PID" 2>/dev/null; then
		fail "$1" "the load did not end within 60 s"
	elif [ -s "$UL_WORK/load-failed" ]; then
		fail "$1" "$(head -n 2 "$UL_WORK/load-failed" | tr '\n' ' ')"
	else
		expect_range "$1" 2 1000000 "$(wc -l <"$UL_WORK/load-runs")" "runs of the load"
	fi
}

# attach_under_load TOOL MODE KEY: TOOL -m MODE, two JSON lines half a
# second apart, exits 0 within two minutes and saw the load (the sum of
# KEY over its lines, and its domains for iovatop, is not 0)
attach_under_load() {
	local tool=$1 mode=$2 key=$3 t=$1-under-load-$2 rc lines seen
	timeout 120 "$TOP_DIR/.output/$tool" -m "$mode" -j 0.5 2 >"$UL_WORK/out" 2>"$UL_WORK/err"
	rc=$?
	lines=$(wc -l <"$UL_WORK/out")
	seen=$(python3 - "$UL_WORK/out" "$key" <<'PY'
import json, sys
total = 0
for line in open(sys.argv[1]):
    snap = json.loads(line)
    for obj in snap.get("domains", [snap]):
        total += obj.get(sys.argv[2], 0)
print(total)
PY
)
	echo "# $tool -m $mode under load: exit $rc, $lines lines, $key $seen"
	if [ "$rc" != 0 ] || [ "$lines" != 2 ]; then
		fail "$t" "exit $rc (want 0), $lines lines (want 2): $(head -c 200 "$UL_WORK/err")"
	else
		check "$t" "it saw no $key" [ "${seen:-0}" -gt 0 ]
	fi
}

# under_load TOOL MODE...: each MODE under dma_map_benchmark on every vCPU
# but one, then fentry too where QEMU runs all vCPUs on one host thread
under_load() {
	local tool=$1 mode key
	shift
	need_benchmark "$tool-under-load" || return 0
	grep -qw labtcg=single /proc/cmdline && set -- "$@" fentry
	start_load run_benchmark $(($(nproc) - 1)) 2
	for mode in "$@"; do
		case $tool/$mode in
		iovatop/*) key=allocs ;;
		swiotlbstat/bounced) key=bounced ;;
		*) key=maps ;;
		esac
		attach_under_load "$tool" "$mode" "$key"
	done
	stop_load "$tool-under-load-load-finished"
}
