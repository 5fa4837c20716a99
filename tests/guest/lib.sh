# Helpers for tests that run inside the lab guest (sourced after ../lib.sh).
# shellcheck shell=bash

TRACEFS=/sys/kernel/tracing
KDIR=${LAB_KERNEL_DIR:?not in the lab (LAB_KERNEL_DIR unset)}
BENCH=$KDIR/dma_map_benchmark

# Sum the hits of one function in the tracefs function profiler while
# running a command: an independent count of how often it was called.
# usage: count_calls FUNCTION COMMAND...
count_calls() {
	local fn=$1
	shift
	echo "$fn" >"$TRACEFS/set_ftrace_filter"
	echo 0 >"$TRACEFS/function_profile_enabled"
	echo 1 >"$TRACEFS/function_profile_enabled"
	"$@" >/dev/null
	echo 0 >"$TRACEFS/function_profile_enabled"
	awk -v fn="$fn" '$1 == fn { hits += $2 } END { print hits + 0 }' \
		"$TRACEFS"/trace_stat/function*
	echo >"$TRACEFS/set_ftrace_filter"
}

# dma_map_benchmark on the edu device: THREADS SECONDS
run_benchmark() {
	"$BENCH" -t "$1" -s "$2" -g 1
}

load_iovaload() {
	local ko="$KDIR/iovaload/iovaload.ko"
	[ -f "$ko" ] || { echo "iovaload.ko not built for this kernel ($ko)" >&2; return 1; }
	lsmod | grep -q '^iovaload' || insmod "$ko"
}

IOVALOAD=/sys/kernel/debug/iovaload

# iovaload COMMAND...: one command to the load generator
iovaload() {
	echo "$*" >"$IOVALOAD/control"
}

iovaload_status() {
	awk -v k="$1" '$1 == k { print $2 }' "$IOVALOAD/status"
}

IOVA_PARAMS=/sys/module/iova/parameters

# The depot and idle tunables a script changes: saved at its start, put
# back at its exit (restore_iova_params)
save_iova_params() {
	saved_delay=$(cat $IOVA_PARAMS/depot_delay_ms)
	saved_idle=$(cat $IOVA_PARAMS/idle_reclaim_ms)
	saved_keep=$(cat $IOVA_PARAMS/depot_keep)
}

restore_iova_params() {
	echo "$saved_delay" >$IOVA_PARAMS/depot_delay_ms
	echo "$saved_idle" >$IOVA_PARAMS/idle_reclaim_ms
	echo "$saved_keep" >$IOVA_PARAMS/depot_keep
}

# Record the iova:* events of one domain in tracefs: all of them, or only
# the EVENTs named.  usage: trace_begin DOMAIN [EVENT...]
trace_begin() {
	local e
	echo 0 >"$TRACEFS/tracing_on"
	echo 0 >"$TRACEFS/events/enable"
	echo 32768 >"$TRACEFS/buffer_size_kb"
	echo "iovad == $1" >"$TRACEFS/events/iova/filter"
	shift
	if [ $# = 0 ]; then
		echo 1 >"$TRACEFS/events/iova/enable"
	else
		for e in "$@"; do
			echo 1 >"$TRACEFS/events/iova/$e/enable"
		done
	fi
	echo >"$TRACEFS/trace"
	echo 1 >"$TRACEFS/tracing_on"
}

trace_end() {
	echo 0 >"$TRACEFS/events/iova/enable"
	echo 0 >"$TRACEFS/events/iova/filter"
	echo 1408 >"$TRACEFS/buffer_size_kb"
}

# Events lost to a full buffer would make every count wrong.
# usage: trace_overruns [TRACEFS_INSTANCE_DIR]
trace_overruns() {
	cat "${1:-$TRACEFS}"/per_cpu/cpu*/stats | awk '/^overrun:/ { n += $2 } END { print n + 0 }'
}

# Move what was traced so far to FILE and clear the buffer.
trace_take() {
	cat "$TRACEFS/trace" >"$1"
	echo >"$TRACEFS/trace"
}

# Wait until COMMAND prints WANT, up to SECONDS; print what it printed last.
wait_for() {
	local want=$1 seconds=$2 got
	shift 2
	local end=$((SECONDS + seconds))
	while :; do
		got=$("$@")
		[ "$got" = "$want" ] || [ $SECONDS -ge $end ] && break
		sleep 0.2
	done
	echo "$got"
}

# What became of a load run in the background (by perf record): "ran"
# when it touched DIR/load-done at its end and listed no failed
# command in DIR/FAILED; else what went wrong.  A load that never started
# or died half way leaves no load-done.
# usage: load_outcome DIR FAILED
load_outcome() {
	if [ ! -e "$1/load-done" ]; then
		echo "the load did not run to its end"
	elif [ -s "$1/$2" ]; then
		echo "failed: $(tr '\n' ' ' <"$1/$2")"
	else
		echo ran
	fi
}

# Start a dmascope tool in the background and wait until it reported
# once, i.e. it is attached and reading.  Its pid is then in $TOOL_PID,
# its stderr in OUTPUT.err.  Fails when it did not report within 15 s.
# usage: start_tool TOOL OUTPUT ARGS...
start_tool() {
	local tool=$1 out=$2
	shift 2
	"$TOP_DIR/.output/$tool" "$@" >"$out" 2>"$out.err" &
	TOOL_PID=$!
	for _ in $(seq 150); do
		[ -s "$out" ] && return 0
		sleep 0.1
	done
	return 1
}

# start_tool iovatop, its pid in $IOVATOP_PID.  usage: start_iovatop OUTPUT ARGS...
start_iovatop() {
	start_tool iovatop "$@"
	local rc=$?
	IOVATOP_PID=$TOOL_PID
	return $rc
}

# Debian's kernel images (KERNEL_VARIANT=debian-*) lack dma_map_benchmark,
# and the edu device stays unbound there.  A test that needs it skips:
#   need_benchmark TEST-NAME || return 0
need_benchmark() {
	[ -x "$BENCH" ] && [ -d /sys/bus/pci/drivers/dma_map_benchmark ] && return 0
	skip "$1" "no dma_map_benchmark in the $KERNEL_VARIANT kernel"
	return 1
}

# One PASS/FAIL/SKIP line per case of a KUnit suite that ran at boot, and
# a check that every case the series defines (its KUNIT_CASE lines in
# kernel-patches/) reported.
# usage: report_kunit SUITE CASE_PREFIX TEST_NAME_OF_THE_COUNT
report_kunit() {
	local suite=$1 prefix=$2 ran=$3 results status num rest name cases=0 defined
	results=${KUNIT_DIR:-/sys/kernel/debug/kunit}/$suite/results
	if [ ! -r "$results" ]; then
		fail "$ran" "no KUnit results at $results"
		return
	fi
	while read -r status num rest; do
		case "$status" in
		ok | not) ;;
		*) continue ;;
		esac
		[ "$status" = not ] && { num=$(echo "$rest" | awk '{print $1}'); rest=${rest#* }; }
		name=$(echo "$rest" | sed -e 's/^- //' -e 's/ *#.*//')
		[[ $name == "$prefix"* ]] || continue
		cases=$((cases + 1))
		if [[ $rest == *"# SKIP"* ]]; then
			skip "kunit-$name" "${rest#*# SKIP}"
		elif [ "$status" = ok ]; then
			pass "kunit-$name"
		else
			fail "kunit-$name" "$(grep -B8 "not ok $num - $name" "$results" | grep -i 'expected\|assert' | head -n 2 | tr '\n' ' ')"
		fi
	done < <(sed 's/^[[:space:]]*//' "$results")
	defined=$(grep -ho "KUNIT_CASE($prefix[a-z0-9_]*" "$TOP_DIR"/kernel-patches/*.patch | sort -u | wc -l)
	expect_eq "$ran" "$defined" "$cases" "KUnit cases reported (KUNIT_CASE lines in kernel-patches/)"
}
