#!/bin/bash
# The demo's second boot: every DMA bounced through a SWIOTLB that starts
# at 1 MiB, fio on the NVMe disk, and swiotlbstat watching the pools grow.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../guest/lib.sh"

SWIOTLBSTAT=$TOP_DIR/.output/swiotlbstat
D=/sys/kernel/debug/swiotlb
seconds=${DEMO_SECONDS:-30}

banner() {
	printf '\n\033[1m== %s\033[0m\n' "$*"
}

banner "bounce buffers: every DMA bounced, the pool starts at $(($(cat "$D/io_tlb_nslabs") * 2 / 1024)) MiB"
echo "swiotlb trace events:  $(ls /sys/kernel/tracing/events/swiotlb | grep -c swiotlb_)"
echo "tunables:              $(cd /sys/module/swiotlb/parameters && grep -H . * | tr '\n' ' ')"
echo "NVMe disk (fio load):  $LAB_NVME_BDF"

# fio from the third second until a few seconds after swiotlbstat's view
fio --name=demo --filename="$LAB_NVME_DEV" --direct=1 --rw=randrw --bs=64k \
	--ioengine=libaio --iodepth=8 --numjobs=4 --size=256M --time_based \
	--runtime=$((seconds + 6)) --startdelay=3 --group_reporting \
	--output=/dev/null >/dev/null 2>&1 &
loader=$!

banner "swiotlbstat --latency, one line a second for ${seconds}s, then its sizing advice"
"$SWIOTLBSTAT" --latency --advise 1 "$seconds"

banner "swiotlbstat --devices: who bounced, which way, in the last 2 s"
"$SWIOTLBSTAT" --devices 2 1

banner "swiotlbstat --pools: the pools the load made the kernel add"
"$SWIOTLBSTAT" --pools 1 1
wait $loader
banner "done: see README.md to run swiotlbstat on a real machine"
