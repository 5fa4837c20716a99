#!/bin/bash
# variants: default debug vanilla
# cmdline: swiotlb=512,force intel_iommu=off
# timeout: 1500
# The dynamic SWIOTLB end to end: booted with a 1 MiB pool and every DMA
# bounced, fio (4 KiB and 64 KiB, single and 4-way) on the NVMe disk and
# dma_map_benchmark (up to 256 KiB) run without "swiotlb buffer is full";
# the pools grow, a transient pool bridges the onset, and once the load
# has stopped for pool_idle_ms the dynamic pools are given back.  Checked
# in debugfs and in a perf record of the swiotlb:* events.  On vanilla
# 6.1 the same kind of load must overflow the 1 MiB pool.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib.sh"

D=/sys/kernel/debug/swiotlb
P=/sys/module/swiotlb/parameters
BOOT_SLABS=512
IDLE_MS=3000

# The largest value a debugfs file took while the load ran.
sample_peaks() {
	local n p pools=0 slabs=0
	while [ ! -e "$work/stop" ]; do
		read -r n <"$D/io_tlb_nslabs"
		read -r p <"$D/io_tlb_npools"
		((n > slabs)) && slabs=$n
		((p > pools)) && { pools=$p; cat "$D/io_tlb_pools" >"$work/pools-at-peak"; }
		sleep 0.1
	done
	echo "$slabs $pools" >"$work/peaks"
}

run_fio() {
	local name=$1 bs=$2 jobs=$3
	fio --name="$name" --filename="$LAB_NVME_DEV" --direct=1 --rw=randrw \
		--bs="$bs" --ioengine=libaio --iodepth=8 --numjobs="$jobs" \
		--size=256M --runtime=3 --time_based --group_reporting \
		--output="$work/fio-$name.txt" || echo "$name" >>"$work/fio-failed"
}

# Map 2 MiB in 256 KiB buffers and keep them for a second: twice the boot
# pool, so the pools must grow however fast or slow the kernel (the debug
# kernel's fio alone may never fill 1 MiB).
hold_twice_the_boot_pool() {
	load_iovaload && iovaload hold dev="$LAB_EDU_BDF" n=8 bytes=262144 &&
		sleep 1 && iovaload release ||
		echo "iovaload hold" >>"$work/fio-failed"
}

# The load, then the wait for the idle pools to go (inside perf record).
load_and_idle() {
	local sampler
	sample_peaks &
	sampler=$!
	hold_twice_the_boot_pool
	run_fio 4k-single 4k 1
	run_fio 64k-single 64k 1
	run_fio 4k-4way 4k 4
	run_fio 64k-4way 64k 4
	for g in 1 16 64; do
		"$BENCH" -t 4 -s 1 -g $g >"$work/bench-$g.txt" 2>&1 ||
			echo "dma_map_benchmark -g $g" >>"$work/fio-failed"
	done
	touch "$work/stop"
	wait "$sampler"
	wait_for 1 $((IDLE_MS / 1000 + 10)) cat "$D/io_tlb_npools" >"$work/npools-after"
}

# The load itself, run by perf record in test_load
if [ "${1:-}" = load-and-idle ]; then
	work=$2
	load_and_idle
	touch "$work/load-done"
	exit 0
fi

test_setup() {
	expect_eq swiotlb-e2e-boot-pool "$BOOT_SLABS" "$(cat "$D/io_tlb_nslabs")" "slots at boot (swiotlb=512)"
	echo "$IDLE_MS" >"$P/pool_idle_ms"
	# pools that boot-time I/O may have added go first
	expect_eq swiotlb-e2e-one-pool-before 1 "$(wait_for 1 15 cat "$D/io_tlb_npools")" "pools before the load"
	echo 0 >"$D/io_tlb_used_hiwater"
	perf list 'swiotlb:*' 2>/dev/null >"$work/list"
	local e missing=""
	for e in swiotlb_bounced swiotlb_map_fail swiotlb_slot_alloc \
		swiotlb_slot_release swiotlb_pool_add swiotlb_pool_remove \
		swiotlb_grow_fail; do
		grep -q "swiotlb:$e " "$work/list" || missing+=" $e"
	done
	expect_eq swiotlb-e2e-perf-list "" "$missing" "events missing from perf list"
}

# A BPF program on the same events as tp_btf (tests/tpbtf), attached
# around perf's record: it must see the same events.
start_tp_btf() {
	"$TOP_DIR/.output/tests/swiotlb_tp" >"$work/tp" 2>"$work/tp.err" &
	TP_PID=$!
	wait_for attached 10 head -n 1 "$work/tp" >/dev/null
}

test_load() {
	local failures0 full slabs pools
	failures0=$(cat "$D/io_tlb_map_failures")
	dmesg -c >/dev/null
	start_tp_btf
	# perf starts the load (this script, see the end) once it records
	perf record -q -e swiotlb:swiotlb_pool_add -e swiotlb:swiotlb_pool_remove \
		-e swiotlb:swiotlb_map_fail -e swiotlb:swiotlb_grow_fail -a \
		-o "$work/perf.data" -- bash "$0" load-and-idle "$work" \
		>/dev/null 2>"$work/perf.err"
	kill -INT "$TP_PID"
	wait "$TP_PID"
	expect_eq swiotlb-e2e-load-ran ran "$(load_outcome "$work" fio-failed)" "the load (perf: $(head -c 200 "$work/perf.err"))"
	full=$(dmesg | grep -c 'swiotlb buffer is full')
	expect_eq swiotlb-e2e-never-full 0 "$full" "'swiotlb buffer is full' messages"
	expect_eq swiotlb-e2e-no-map-failures "$failures0" "$(cat "$D/io_tlb_map_failures")" "io_tlb_map_failures"
	read -r slabs pools <"$work/peaks"
	expect_range swiotlb-e2e-pools-grew 2 64 "$pools" "peak pools (boot + dynamic)"
	expect_range swiotlb-e2e-peak-slots $((BOOT_SLABS + 512)) 65536 "$slabs" "peak io_tlb_nslabs"
	check swiotlb-e2e-listing-shows-dynamic "no dynamic pool in io_tlb_pools at the peak" \
		grep -q '^dynamic ' "$work/pools-at-peak"
	expect_range swiotlb-e2e-hiwater $((BOOT_SLABS + 1)) 65536 "$(cat "$D/io_tlb_used_hiwater")" "io_tlb_used_hiwater"
	echo "peak: $pools pools, $slabs slots ($((slabs * 2 / 1024)) MiB)"
}

test_given_back() {
	local adds_dyn adds_tr rm_dyn rm_tr
	expect_eq swiotlb-e2e-pools-given-back 1 "$(cat "$work/npools-after")" "pools ${IDLE_MS} ms after the load"
	expect_eq swiotlb-e2e-slots-given-back "$BOOT_SLABS" "$(cat "$D/io_tlb_nslabs")" "io_tlb_nslabs after the idle time"
	expect_eq swiotlb-e2e-no-transient-left 0 "$(cat "$D/io_tlb_transient_nslabs")" "io_tlb_transient_nslabs"
	expect_eq swiotlb-e2e-nothing-used 0 "$(cat "$D/io_tlb_used")" "io_tlb_used after the load"
	check swiotlb-e2e-listing-default-only "io_tlb_pools: $(tail -n +2 "$D/io_tlb_pools" | cut -c1-20 | tr '\n' ' ')" \
		eval '[ "$(tail -n +2 "$D/io_tlb_pools" | cut -d" " -f1)" = default ]'
	perf script -i "$work/perf.data" 2>/dev/null >"$work/script"
	adds_dyn=$(grep -c 'swiotlb_pool_add:.*kind=dynamic' "$work/script")
	adds_tr=$(grep -c 'swiotlb_pool_add:.*kind=transient.*reason=onset' "$work/script")
	rm_dyn=$(grep -c 'swiotlb_pool_remove:.*kind=dynamic' "$work/script")
	rm_tr=$(grep -c 'swiotlb_pool_remove:.*kind=transient' "$work/script")
	expect_range swiotlb-e2e-perf-growth 1 64 "$adds_dyn" "dynamic pools added (perf)"
	expect_range swiotlb-e2e-perf-transient-at-onset 1 100000 "$adds_tr" "transient pools added (perf)"
	expect_eq swiotlb-e2e-perf-dynamic-removed "$adds_dyn" "$rm_dyn" "dynamic pools removed (perf)"
	expect_eq swiotlb-e2e-perf-transient-removed "$adds_tr" "$rm_tr" "transient pools removed (perf)"
	expect_eq swiotlb-e2e-perf-no-map-fail 0 "$(grep -c 'swiotlb_map_fail:' "$work/script")" "map failures (perf)"
	echo "perf: $adds_dyn dynamic and $adds_tr transient pools added, $rm_dyn and $rm_tr removed"
	test_tp_btf
	grep -m 3 'swiotlb_pool_add:.*kind=dynamic' "$work/script" | sed 's/^ *//'
}

# What the tp_btf program counted against perf's record of the same time
test_tp_btf() {
	local adds=0 add_slabs=0 add_pool_slabs=0 removes=0 remove_slabs=0 remove_pool_slabs=0 kv
	check swiotlb-e2e-tp-btf-attached "swiotlb_tp: $(head -c 200 "$work/tp.err") $(head -n 1 "$work/tp")" \
		grep -qx attached "$work/tp"
	for kv in $(tail -n 1 "$work/tp"); do
		case "$kv" in
		adds=* | add_slabs=* | add_pool_slabs=* | removes=* | remove_slabs=* | remove_pool_slabs=*)
			eval "${kv%%=*}=\${kv#*=}" ;;
		esac
	done
	expect_eq swiotlb-e2e-tp-btf-adds "$(grep -c 'swiotlb_pool_add:' "$work/script")" "$adds" "pools added (BPF vs perf)"
	expect_eq swiotlb-e2e-tp-btf-removes "$(grep -c 'swiotlb_pool_remove:' "$work/script")" "$removes" "pools removed (BPF vs perf)"
	check swiotlb-e2e-tp-btf-pool-pointer "slots added: $add_slabs (argument) vs $add_pool_slabs (pool->nslabs); removed: $remove_slabs vs $remove_pool_slabs" \
		eval '[ "$add_slabs" -gt 0 ] && [ "$add_slabs" = "$add_pool_slabs" ] && [ "$remove_slabs" = "$remove_pool_slabs" ]'
}

test_hiwater_reset() {
	check swiotlb-e2e-hiwater-rejects-nonzero "writing 5 to io_tlb_used_hiwater succeeded" \
		eval '! (echo 5 >"$D/io_tlb_used_hiwater") 2>/dev/null'
	echo 0 >"$D/io_tlb_used_hiwater"
	expect_eq swiotlb-e2e-hiwater-reset 0 "$(cat "$D/io_tlb_used_hiwater")" "io_tlb_used_hiwater after writing 0"
}

# The same load on vanilla 6.1, whose one pool stays at 1 MiB, must run
# out of slots: else the load is too light for the patched kernel's pass
# to mean anything.
test_vanilla_overflows() {
	local full
	dmesg -c >/dev/null
	load_iovaload && iovaload hold dev="$LAB_EDU_BDF" n=8 bytes=262144
	expect_range swiotlb-e2e-vanilla-hold-fails 4 8 "$(iovaload_status map_failures)" \
		"failed maps of 8 x 256 KiB held in the 1 MiB pool"
	iovaload release
	run_fio 64k-4way 64k 4
	"$BENCH" -t 4 -s 1 -g 64 >"$work/bench-64.txt" 2>&1
	full=$(dmesg | grep -c 'swiotlb buffer is full')
	expect_range swiotlb-e2e-vanilla-overflows 1 1000000 "$full" \
		"'swiotlb buffer is full' messages with the fixed 1 MiB pool"
	expect_eq swiotlb-e2e-vanilla-no-npools "" "$(ls "$D"/io_tlb_npools 2>/dev/null)" \
		"debugfs of the dynamic SWIOTLB on vanilla"
}

if [ "$KERNEL_VARIANT" = vanilla ]; then
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
	expect_eq swiotlb-e2e-boot-pool "$BOOT_SLABS" "$(cat "$D/io_tlb_nslabs")" "slots at boot (swiotlb=512)"
	test_vanilla_overflows
	exit 0
fi
if [ ! -r "$D/io_tlb_npools" ]; then
	fail swiotlb-e2e "no $D/io_tlb_npools: kernel without CONFIG_SWIOTLB_DYNAMIC?"
	exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

test_setup
test_load
test_given_back
test_hiwater_reset
echo 60000 >"$P/pool_idle_ms"
