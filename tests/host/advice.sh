#!/bin/bash
# swiotlbstat --advise, replayed: boot with a large fixed pool and every
# DMA bounced, run a load under --advise-after; boot again with the
# advised swiotlb= and run the same load: no map may fail ("swiotlb
# buffer is full" in the kernel's log); boot with a quarter of it: maps
# must fail, so that the load really needed the size.  Two loads: many
# small mappings in flight, and few of 66 slots (one to a segment).
#
#   tests/host/advice.sh VARIANT      vanilla, debian-6.1 or debian-backports
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
. "$TOP_DIR/tests/lab/common.sh"

variant=${1:-}
check_variant "$variant"
export KERNEL_VARIANT=$variant
cd "$TOP_DIR" || exit 1
scratch_out
LARGE_POOL=32768	# 64 MiB, the kernel's default

value() {
	sed -n "s/^$1 //p" "$2" | tr -d '\r' | head -n 1
}

# boot NAME SLOTS LOAD MODE: one boot, its output in $out/NAME.  One vCPU,
# as the Debian images need (tests/host/distro.sh), and one area.  The
# disk completes 400 I/Os a second: on an unthrottled one a quiet host's
# vCPU can see the disk complete most reads of a batch before fio submits
# the last (5 of 16 in flight seen, where another run reached 16), so the
# peak the advice saw would be the timing's, not the load's.
boot() {
	local name=$1 slots=$2 load=$3 mode=$4 rc
	LAB_NVME_IOPS=400 LAB_CPUS=1 LAB_TIMEOUT=600 \
		LAB_APPEND="swiotlb=$slots,force intel_iommu=off" \
		tests/lab/run tests/host/advice-load "$load" "$mode" </dev/null >"$out/$name" 2>&1
	rc=$?
	[ "$rc" = 0 ] || echo "# $name: lab exit status $rc: $(tail -n 2 "$out/$name" | tr '\n' ' ')"
	return "$rc"
}

# The load ran: fio without error, and the pool of the command line.
load_ran() {
	[ "$(value fio_status "$1")" = 0 ] && [ "$(value nslabs "$1")" = "$2" ]
}

replay() {
	local load=$1 t=advice-$variant-$1 f advised quarter
	f=$out/$load-advise
	if ! boot "$load-advise" $LARGE_POOL "$load" advise || ! load_ran "$f" $LARGE_POOL ||
		[ "$(value tool_status "$f")" != 0 ]; then
		fail "$t-advised" "$(grep -E 'error|fio_status|tool_' "$f" | head -n 3 | tr '\n' ' ')"
		return
	fi
	advised=$(value advice "$f")
	if ! [[ $advised =~ ^[0-9]+$ ]] || [ "$(value buffer_full "$f")" != 0 ]; then
		fail "$t-advised" "advice '$advised', $(value buffer_full "$f") 'buffer is full' lines"
		return
	fi
	pass "$t-advised"
	quarter=$((advised / 4))
	boot "$load-advised" "$advised" "$load" replay
	boot "$load-quarter" "$quarter" "$load" replay
	echo "# $variant $load: advised swiotlb=$advised (high-water $(value advice_hiwater "$f") slots," \
		"$(value advice_source "$f"), largest map $(value advice_largest "$f") bytes," \
		"$(value fio_ios "$f") I/Os); replayed: $(value buffer_full "$out/$load-advised") failure lines" \
		"at $advised, $(value buffer_full "$out/$load-quarter") at $quarter"
	check "$t-holds" "$(value buffer_full "$out/$load-advised") 'buffer is full' lines with swiotlb=$advised" \
		eval 'load_ran "$out/$load-advised" "$advised" && [ "$(value buffer_full "$out/$load-advised")" = 0 ]'
	check "$t-quarter-fails" "$(value buffer_full "$out/$load-quarter") 'buffer is full' lines with swiotlb=$quarter" \
		eval 'load_ran "$out/$load-quarter" "$quarter" && [ "$(value buffer_full "$out/$load-quarter")" -gt 0 ]'
}

# Each load's three boots take one vCPU: the two loads run side by side.
replay_small() { replay small; }
replay_large() { replay large; }
side_by_side replay_small replay_large
