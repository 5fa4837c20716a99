#!/bin/bash
# variants: default vanilla
# cmdline: swiotlb=512,force intel_iommu=off
# timeout: 900
# swiotlbstat against the kernel's own numbers, in a lab booted with a
# 1 MiB pool and every DMA bounced.
#
# Patched kernel (tracepoint mode): 2 MiB held through iovaload and fio on
# the NVMe disk, so the pools grow; while fio is paused, every line
# swiotlbstat printed agrees exactly with debugfs (total, used,
# high-water); pools added and removed match perf's record of the
# swiotlb:* events; the NVMe device's bounced bytes match fio's byte
# count within 1%; --advise recommends a size at or above the high-water
# mark and below the 64 MiB default.
#
# Vanilla 6.1 (fentry mode, the single pool of 6.1): 8 x 256 KiB held in
# the 1 MiB pool, so that some maps fail: total and used agree with
# debugfs, and each failure is counted with its size and device.
#
# Both: iovaload holds the lock of the first area while two other CPUs
# wait for it, ten times; swiotlbstat counts exactly ten area lock waits
# (only a queued waiter fires lock:contention_begin/end: the other spins
# on qspinlock's pending bit) of about the time the lock was held.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib.sh"

D=/sys/kernel/debug/swiotlb
P=/sys/module/swiotlb/parameters
TOOL=$TOP_DIR/.output/swiotlbstat
SUMMARY=$TOP_DIR/tests/guest/swiotlbstat_json.py
HOLD_N=8
HOLD_BYTES=262144
IDLE_MS=3000	# after the load; 0 (keep every pool) while it runs

# swiotlbstat as started by start_tool (lib.sh): the last line, then exit
stop_stat() {
	kill -INT "$TOOL_PID"
	wait "$TOOL_PID"
}

# key=value of the summary in FILE
value() {
	sed -n "s/^$1=//p" "$2"
}

# The debugfs numbers swiotlbstat must agree with, one line
debugfs_state() {
	local f out=""
	for f in "$@"; do
		out+="$(cat "$D/$f") "
	done
	echo "${out% }"
}

# Wait until nothing is mapped or unmapped (two equal reads of
# io_tlb_used 0.5 s apart), then keep still for three intervals of
# swiotlbstat and record the time and the debugfs state at both ends in
# $work/window: the lines printed in between must agree with debugfs.
quiet_window() {
	local a b
	for _ in $(seq 40); do
		a=$(cat "$D/io_tlb_used")
		sleep 0.5
		b=$(cat "$D/io_tlb_used")
		[ "$a" = "$b" ] && break
	done
	{
		date +%s.%N
		debugfs_state "$@"
		sleep 3.2
		debugfs_state "$@"
		date +%s.%N
	} >"$work/window"
}

test_hooks() {
	local want_mode=$1 want_layout=$2
	"$TOOL" --hooks >"$work/hooks" 2>&1
	expect_eq swiotlbstat-e2e-mode "mode: $want_mode" "$(grep -o '^mode: [a-z]*' "$work/hooks")" "--hooks"
	check swiotlbstat-e2e-found-mem "$(grep '^io_tlb_default_mem' "$work/hooks")" \
		grep -q "^io_tlb_default_mem: found through .*($want_layout layout)" "$work/hooks"
	# the line view: maps, unmaps and bounced bytes are numbers, not '-'
	# (once bounced bytes came only from an event this mode no longer uses)
	"$TOOL" -b 0.5 1 >"$work/line" 2>&1
	check swiotlbstat-e2e-line-counts "$(tail -n 2 "$work/line" | tr '\n' '|')" \
		awk 'END { exit !($7 ~ /^[0-9]/ && $8 ~ /^[0-9]/ && $10 ~ /^[0-9]/) }' "$work/line"
}

# The lines of the quiet window against debugfs at both of its ends
check_window() {
	local name=$1 summary=$2 keys=$3 before after got="" k
	before=$(sed -n 2p "$work/window")
	after=$(sed -n 3p "$work/window")
	for k in $keys; do
		got+="$(value "window_$k" "$summary") "
	done
	got=${got% }
	echo "# window: debugfs '$before' then '$after'; swiotlbstat ($keys) '$got' in $(value window_lines "$summary") lines"
	if [ "$before" != "$after" ]; then
		fail "$name" "debugfs changed in the quiet window ('$before', then '$after')"
	elif [ "$(value window_lines "$summary")" -lt 2 ]; then
		fail "$name" "only $(value window_lines "$summary") swiotlbstat lines in the quiet window"
	else
		expect_eq "$name" "$before" "$got" "$keys (debugfs, swiotlbstat)"
	fi
}

summarize() {
	python3 "$SUMMARY" "$work/stat.json" "$1" \
		"$(sed -n 1p "$work/window")" "$(sed -n 4p "$work/window")" >"$work/summary" \
		2>"$work/summary.err" || fail swiotlbstat-e2e-json "$(tail -n 1 "$work/summary.err")"
	sed 's/^/# /' "$work/summary" | tr '\n' ' '
	echo
}

# ---- the patched kernel ----

run_fio() {
	fio --name=stat --filename="$LAB_NVME_DEV" --direct=1 --rw=randrw \
		--bs=64k --ioengine=libaio --iodepth=8 --numjobs=4 --size=256M \
		--runtime=8 --time_based --group_reporting \
		--output-format=json --output="$work/fio.json" ||
		echo "fio" >>"$work/failed"
}

# Run by perf record (test_patched): the load, a quiet window while fio
# is paused, and the wait for the dynamic pools to be given back.
load() {
	load_iovaload && iovaload hold dev="$LAB_EDU_BDF" n=$HOLD_N bytes=$HOLD_BYTES ||
		echo "iovaload hold" >>"$work/failed"
	run_fio &
	sleep 3
	pkill -STOP -x fio
	quiet_window io_tlb_nslabs io_tlb_used io_tlb_used_hiwater
	pkill -CONT -x fio
	wait
	iovaload release
	echo "$IDLE_MS" >"$P/pool_idle_ms"
	wait_for 1 $((IDLE_MS / 1000 + 15)) cat "$D/io_tlb_npools" >"$work/npools-after"
}

if [ "${1:-}" = load ]; then
	work=$2
	load
	touch "$work/load-done"
	exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fio_bytes() {
	python3 -c '
import json, sys
job = json.load(open(sys.argv[1]))["jobs"][0]
print(job["read"]["io_bytes"] + job["write"]["io_bytes"])' "$work/fio.json"
}

# Pools added and removed, by kind, in perf's record
perf_pools() {
	perf script -i "$work/perf.data" 2>/dev/null >"$work/script"
	for what in add remove; do
		for kind in dynamic transient; do
			echo "perf_${what}_$kind=$(grep -c "swiotlb_pool_$what:.*kind=$kind" "$work/script")"
		done
	done >"$work/perf"
}

test_patched() {
	local S=$work/summary fio hiwater
	# pools a test before may have left go first; then none goes until
	# the load is over, so that none goes in the quiet window
	echo "$IDLE_MS" >"$P/pool_idle_ms"
	wait_for 1 15 cat "$D/io_tlb_npools" >/dev/null
	echo 0 >"$P/pool_idle_ms"
	echo 0 >"$D/io_tlb_used_hiwater"
	test_hooks tracepoint "pool list"
	start_tool swiotlbstat "$work/stat.json" --json --advise 1 ||
		fail swiotlbstat-e2e-started "no line within 15 s: $(head -c 300 "$work/stat.json.err")"
	perf record -q -e swiotlb:swiotlb_pool_add -e swiotlb:swiotlb_pool_remove -a \
		-o "$work/perf.data" -- bash "$0" load "$work" >/dev/null 2>"$work/perf.err"
	stop_stat
	hiwater=$(cat "$D/io_tlb_used_hiwater")
	echo 60000 >"$P/pool_idle_ms"
	expect_eq swiotlbstat-e2e-load-ran ran "$(load_outcome "$work" failed)" "the load (perf: $(head -c 200 "$work/perf.err"))"
	summarize "$LAB_NVME_BDF"
	expect_eq swiotlbstat-e2e-nothing-lost 0 "$(value lost "$S")" "events lost (cumulative, last line; $(value lost_kinds "$S"))"
	check_window swiotlbstat-e2e-agrees-with-debugfs "$S" "total_slots used_slots hiwater_slots"
	check swiotlbstat-e2e-window-grown "total slots in the window: $(value window_total_slots "$S")" \
		test "$(value window_total_slots "$S")" -gt 512
	perf_pools
	sed 's/^/# /' "$work/perf" | tr '\n' ' '
	echo
	expect_range swiotlbstat-e2e-pools-added 1 64 "$(value pools_added_dynamic "$S")" "dynamic pools added"
	expect_eq swiotlbstat-e2e-perf-added "$(value perf_add_dynamic "$work/perf") $(value perf_add_transient "$work/perf")" \
		"$(value pools_added_dynamic "$S") $(value pools_added_transient "$S")" "dynamic and transient pools added (perf, swiotlbstat)"
	expect_eq swiotlbstat-e2e-perf-removed "$(value perf_remove_dynamic "$work/perf") $(value perf_remove_transient "$work/perf")" \
		"$(value pools_removed_dynamic "$S") $(value pools_removed_transient "$S")" "dynamic and transient pools removed (perf, swiotlbstat)"
	expect_eq swiotlbstat-e2e-all-given-back 1 "$(cat "$work/npools-after")" "pools after the idle time"
	expect_eq swiotlbstat-e2e-nvme-driver nvme "$(value dev_driver "$S")" "driver of $LAB_NVME_BDF"
	fio=$(fio_bytes)
	echo "# fio moved $fio bytes; swiotlbstat saw $(value dev_bounced_bytes "$S") bounced for $LAB_NVME_BDF"
	check swiotlbstat-e2e-nvme-bounced-bytes "fio moved $fio bytes, swiotlbstat saw $(value dev_bounced_bytes "$S") bounced" \
		python3 -c 'import sys; f, s = map(int, sys.argv[1:]); sys.exit(not (f > 0 and abs(s - f) <= f / 100))' \
		"$fio" "$(value dev_bounced_bytes "$S")"
	test_advice "$hiwater"
}

test_advice() {
	local hiwater=$1 S=$work/summary rec
	rec=$(value advice_swiotlb "$S")
	grep -A8 '"advice"' "$work/stat.json" | head -c 600
	echo
	expect_eq swiotlbstat-e2e-advice-evidence "$hiwater" "$(value advice_hiwater "$S")" "high-water slots behind the advice (debugfs, swiotlbstat)"
	expect_eq swiotlbstat-e2e-advice-value "$(value advice_expected "$S")" "${rec:-none}" \
		"recommended swiotlb= (slots), by swiotlbstat(8)'s rule from its evidence"
	check swiotlbstat-e2e-advice-says-short "trusted: $(value advice_trusted "$S"), reasons: $(value advice_reasons "$S")" \
		test "$(value advice_trusted "$S")" = 0 -a "$(value advice_reasons "$S")" -ge 1
}

# ---- vanilla 6.1 ----

test_vanilla() {
	local S=$work/summary failures before
	test_hooks fentry "6.1 single pool"
	load_iovaload || fail swiotlbstat-e2e-iovaload "cannot load iovaload"
	start_tool swiotlbstat "$work/stat.json" --json 1 ||
		fail swiotlbstat-e2e-started "no line within 15 s: $(head -c 300 "$work/stat.json.err")"
	before=$(iovaload_status map_failures)	# iovaload counts since it was loaded
	iovaload hold dev="$LAB_EDU_BDF" n=$HOLD_N bytes=$HOLD_BYTES
	failures=$(($(iovaload_status map_failures) - before))
	quiet_window io_tlb_nslabs io_tlb_used
	stop_stat
	iovaload release
	summarize "$LAB_EDU_BDF"
	expect_eq swiotlbstat-e2e-nothing-lost 0 "$(value lost "$S")" "events lost (cumulative, last line; $(value lost_kinds "$S"))"
	check_window swiotlbstat-e2e-agrees-with-debugfs "$S" "total_slots used_slots"
	expect_range swiotlbstat-e2e-vanilla-failures-provoked 1 $HOLD_N "$failures" "maps iovaload saw fail"
	expect_eq swiotlbstat-e2e-vanilla-failures "$failures $((failures * HOLD_BYTES))" \
		"$(value map_failures "$S") $(value map_failure_bytes "$S")" "failed maps and their bytes (iovaload, swiotlbstat)"
	expect_eq swiotlbstat-e2e-vanilla-device-failures "$failures $HOLD_BYTES $((HOLD_N - failures))" \
		"$(value dev_map_failures "$S") $(value dev_largest_failure_bytes "$S") $(value dev_maps "$S")" \
		"$LAB_EDU_BDF: failed maps, largest failure, maps"
}

# tools/dmascope-report.py on a perf recording of a growth: 2 MiB held
# in 8 maps of 256 KiB (128 slots each) through a 1 MiB pool, then given
# back; the idle time is long, so the dynamic pools stay.
test_report_growth() {
	local before held R=$work/report.kv dev=$LAB_EDU_BDF
	echo 60000 >"$P/pool_idle_ms"
	before=$(cat "$D/io_tlb_npools")
	perf record -q -m 512 -e 'swiotlb:*' -a -o "$work/grow.data" -- sh -c "
		echo 'hold dev=$dev n=8 bytes=262144' >$IOVALOAD/control &&
		cat $D/io_tlb_npools >$work/npools-held &&
		echo release >$IOVALOAD/control" >/dev/null 2>"$work/grow.err" ||
		fail swiotlbstat-e2e-report-growth "iovaload hold or release failed: $(head -c 200 "$work/grow.err")"
	held=$(cat "$work/npools-held")
	perf script -i "$work/grow.data" -s "$TOP_DIR/tools/dmascope-report.py" -- --kv \
		>"$R" 2>"$work/grow.report.err"
	sed -n 's/^swiotlb_//p; /^device_/p' "$R" | tr '\n' ' ' | sed 's/^/# /'
	echo
	expect_eq swiotlbstat-e2e-report-slots "8 1024 8 1024 0" \
		"$(value swiotlb_slot_allocs "$R") $(value swiotlb_slots_allocated "$R") $(value swiotlb_slot_releases "$R") $(value swiotlb_slots_released "$R") $(value swiotlb_map_failures "$R")" \
		"maps, slots taken, unmaps, slots given back, failures (8 maps of 128 slots)"
	expect_eq swiotlbstat-e2e-report-bounced "8 2097152" \
		"$(value "device_${dev}_bounced" "$R") $(value "device_${dev}_bounced_bytes" "$R")" \
		"buffers and bytes bounced for $dev"
	expect_eq swiotlbstat-e2e-report-pools "$((held - before)) 0 $(value swiotlb_pools_added_transient "$R")" \
		"$(value swiotlb_pools_added_dynamic "$R") $(value swiotlb_pools_removed_dynamic "$R") $(value swiotlb_pools_removed_transient "$R")" \
		"dynamic pools added (debugfs: $before pools, then $held), removed; transient pools removed (as many as added)"
}

# ---- both: the area lock wait ----

test_area_lock() {
	local rounds=10 hold_us=20000 S=$work/lock-summary done hold_ns waited
	load_iovaload || { fail swiotlbstat-e2e-lock-waits "cannot load iovaload"; return; }
	# the first line comes after the first snapshot: the area locks are known
	start_tool swiotlbstat "$work/lock.json" --json 1 ||
		fail swiotlbstat-e2e-lock-started "no line within 15 s: $(head -c 300 "$work/lock.json.err")"
	done=$(iovaload_status contended)
	hold_ns=$(iovaload_status contend_hold_ns)
	iovaload contend dev="$LAB_EDU_BDF" rounds=$rounds hold_us=$hold_us ||
		fail swiotlbstat-e2e-lock-waits "iovaload contend failed"
	done=$(($(iovaload_status contended) - done))
	hold_ns=$(($(iovaload_status contend_hold_ns) - hold_ns))
	sleep 1.5	# one more line
	stop_stat
	python3 "$SUMMARY" "$work/lock.json" >"$S" 2>"$S.err" ||
		fail swiotlbstat-e2e-json "$(tail -n 1 "$S.err")"
	waited=$(value area_lock_wait_ns "$S")
	echo "# iovaload: $done rounds, lock held $hold_ns ns; swiotlbstat: $(value area_lock_waits "$S") waits, $waited ns"
	expect_eq swiotlbstat-e2e-lock-waits "$rounds $rounds" "$done $(value area_lock_waits "$S")" \
		"area lock waits (rounds of iovaload, swiotlbstat)"
	expect_range swiotlbstat-e2e-lock-wait-time $((hold_ns / 2)) $((hold_ns * 2)) "${waited:-none}" \
		"ns waited for the area lock (half to twice the $hold_ns ns it was held)"
}

# A burst shorter than an interval: 2 x 256 KiB (128 slots each) held and
# given back between two reads.  The high-water followed through the maps
# and unmaps has it; the reads at the intervals never see it.  Patched
# kernel: the kernel's own high-water, reset first, is the one reported,
# and the slots are not followed (no events_hiwater_slots), but with -P
# each pool's are; vanilla 6.1 (no high-water in the kernel): the one
# followed is the one reported.
test_events_hiwater() {
	local before want got
	load_iovaload || { fail swiotlbstat-e2e-burst-hiwater "cannot load iovaload"; return; }
	before=$(cat "$D/io_tlb_used")
	[ ! -w "$D/io_tlb_used_hiwater" ] || echo 0 >"$D/io_tlb_used_hiwater"
	start_tool swiotlbstat "$work/burst.json" --json --pools 4 ||
		fail swiotlbstat-e2e-burst-started "no line within 15 s: $(head -c 300 "$work/burst.json.err")"
	iovaload hold dev="$LAB_EDU_BDF" n=2 bytes=$HOLD_BYTES
	iovaload release
	sleep 4.5	# past the next read
	stop_stat
	want=$((before + 2 * HOLD_BYTES / 2048))
	got=$(python3 -c '
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])][-1]
print(r.get("events_hiwater_slots", "none"), r.get("hiwater_slots", "none"), r.get("hiwater_source", "none"), r.get("used_slots", "none"))
' "$work/burst.json")
	echo "# burst of 256 slots from $before in use: events, high-water, source, used at the last read: $got"
	if [ -r "$D/io_tlb_used_hiwater" ]; then
		expect_eq swiotlbstat-e2e-burst-hiwater "none $(cat "$D/io_tlb_used_hiwater") kernel" \
			"$(echo "$got" | awk '{ print $1, $2, $3 }')" "high-water from the events (not followed), reported, source"
		# the burst went through the boot pool, which it found with room
		expect_eq swiotlbstat-e2e-pool-hiwater $((2 * HOLD_BYTES / 2048)) "$(python3 -c '
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])][-1]
p = [p for p in r["pool_list"] if p["kind"] == "default"][0]
print(p["hiwater_slots"] - p["used_slots"] if "hiwater_slots" in p else "none")
' "$work/burst.json")" "the boot pool's high-water less its use at the end"
	else
		expect_eq swiotlbstat-e2e-burst-hiwater "$want $want events" \
			"$(echo "$got" | awk '{ print $1, $2, $3 }')" "high-water from the events, reported, source"
	fi
	expect_eq swiotlbstat-e2e-burst-gone "$before" "$(echo "$got" | awk '{ print $4 }')" \
		"slots in use at the read after the burst"
	[ -r "$D/io_tlb_used_hiwater" ] || test_sampled_advice
}

# The bounced mode sees no unmaps: where the kernel keeps no high-water
# either, the advice rests on reads at the intervals and says that it is
# a lower bound
test_sampled_advice() {
	local got
	timeout 60 "$TOOL" -m bounced --json --advise-after 1 0.5 >"$work/sampled.json" 2>/dev/null
	got=$(python3 -c '
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])][-1]["advice"]
print(a["evidence"]["hiwater_source"], a["trusted"],
      any("a lower bound" in why for why in a["untrusted_because"]))
' "$work/sampled.json" 2>&1)
	expect_eq swiotlbstat-e2e-sampled-advice-lower-bound "sampled False True" "$got" \
		"bounced mode's advice: high-water source, trusted, says 'a lower bound'"
	# and the device counters it cannot see are absent, not 0, beside the
	# bounced bytes it can
	start_tool swiotlbstat "$work/bounced.json" -m bounced --json 0.5 ||
		fail swiotlbstat-e2e-bounced-started "no line within 15 s: $(head -c 300 "$work/bounced.json.err")"
	iovaload map dev="$LAB_EDU_BDF" cpu=0 n=20 bytes=8192
	sleep 1.2
	stop_stat
	got=$(python3 -c '
import json, sys
devs = [d for l in open(sys.argv[1]) for d in json.loads(l)["devices"] if d["device"] == sys.argv[2]]
blind = sorted({k for d in devs for k in d} & {"maps", "unmaps", "map_failures", "mapped_bytes"})
print(sum(d.get("bounced_bytes", 0) for d in devs), ",".join(blind) or "none",
      max(d.get("largest_map_bytes", 0) for d in devs))
' "$work/bounced.json" "$LAB_EDU_BDF" 2>&1)
	expect_eq swiotlbstat-e2e-bounced-blind-absent "$((20 * 8192)) none 8192" "$got" \
		"bounced mode, $LAB_EDU_BDF: bytes bounced, device keys it cannot see, largest mapping"
}

# Two devices taking turns on one CPU: each CPU keeps the counters of the
# device it saw last and adds them to that device's entry when another
# comes (the NVMe disk completes its reads in interrupts, on any CPU).
# Per device, maps, unmaps and bytes are exact: 5 x 20 maps of 8 KiB on
# the edu device, 5 x 10 direct reads of 64 KiB on the disk, all on CPU 0.
# Patched kernel: the same again with -L, which times the maps and counts
# the bytes by direction; without it, neither is there.
test_device_turns() {
	local S=$work/turns-summary opts=$1 i edu nvme
	load_iovaload || { fail swiotlbstat-e2e-device-turns "cannot load iovaload"; return; }
	start_tool swiotlbstat "$work/turns.json" --json -p 127.0.0.1:9482 $opts 0.5 ||
		fail swiotlbstat-e2e-turns-started "no line within 15 s: $(head -c 300 "$work/turns.json.err")"
	for i in 1 2 3 4 5; do
		iovaload map dev="$LAB_EDU_BDF" cpu=0 n=20 bytes=8192
		taskset -c 0 dd if="$LAB_NVME_DEV" of=/dev/null iflag=direct bs=64k count=10 \
			skip=$((i * 10)) status=none
		sleep 0.5	# a line, and /metrics, since the last turn
		curl -s -o "$work/turns.metrics.$i" http://127.0.0.1:9482/metrics
	done
	sleep 1.2	# one more line
	stop_stat
	local grew
	grew=$(python3 "$TESTS_DIR/guest/prometheus_monotonic.py" "$work"/turns.metrics.[1-5])
	check "swiotlbstat-e2e-counters-never-decrease$opts" "$grew" [ "${grew#ok:}" != "$grew" ]
	python3 "$SUMMARY" "$work/turns.json" "$LAB_EDU_BDF" >"$S.edu" 2>"$S.err" &&
		python3 "$SUMMARY" "$work/turns.json" "$LAB_NVME_BDF" >"$S.nvme" 2>>"$S.err" ||
		fail swiotlbstat-e2e-json "$(tail -n 1 "$S.err")"
	edu="$(value dev_maps "$S.edu") $(value dev_unmaps "$S.edu") $(value dev_bounced_bytes "$S.edu")"
	nvme="$(value dev_bounced_bytes "$S.nvme") $(($(value dev_maps "$S.nvme") - $(value dev_unmaps "$S.nvme")))"
	echo "# swiotlbstat $opts: edu maps, unmaps, bytes: $edu; nvme bytes, maps - unmaps: $nvme"
	expect_eq "swiotlbstat-e2e-device-turns$opts" "100 100 $((100 * 8192)) $((50 * 65536)) 0" \
		"$edu $nvme" "edu maps, unmaps, bounced bytes; nvme bounced bytes, maps less unmaps"
	expect_eq "swiotlbstat-e2e-turns-nothing-lost$opts" 0 "$(value lost "$S.edu")" \
		"events lost ($(value lost_kinds "$S.edu"))"
	if [ "$KERNEL_VARIANT" != vanilla ]; then
		expect_eq "swiotlbstat-e2e-turns-latency$opts" \
			"$([ "$opts" = -L ] && echo "$((100 * 8192)) True" || echo "0 False")" \
			"$(value dev_mapped_bytes "$S.edu") $(grep -q map_latency_p50_ns "$work/turns.json" && echo True || echo False)" \
			"edu bytes mapped by direction (summed), map latency in the JSON"
	fi
}

if [ "$KERNEL_VARIANT" = vanilla ]; then
	test_vanilla
	test_events_hiwater
	test_device_turns ""
else
	test_patched
	test_report_growth
	test_events_hiwater
	test_device_turns ""
	test_device_turns -L
fi
test_area_lock
