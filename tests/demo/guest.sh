#!/bin/bash
# The demo inside the lab: a DMA load on the edu device and on a private
# domain, and iovatop watching it live.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../guest/lib.sh"

IOVATOP=$TOP_DIR/.output/iovatop
seconds=${DEMO_SECONDS:-30}
# ttyS1 is a terminal even when the host's output is not
live=-b
[ "$LAB_TTY" = 1 ] && live=

banner() {
	printf '\n\033[1m== %s\033[0m\n' "$*"
}

banner "the lab kernel: $(uname -r), $(nproc) CPUs, IOMMU: $(dmesg | grep -o 'DMAR: IOMMU enabled' | head -n 1)"
echo "iova trace events:     $(ls /sys/kernel/tracing/events/iova | grep -c iova_)"
echo "tunables:              $(cd /sys/module/iova/parameters && grep -H . * | tr '\n' ' ')"
echo "edu device (DMA load): $LAB_EDU_BDF, driven by dma_map_benchmark"

load_iovaload
iovaload create
# The load: dma_map_benchmark maps and unmaps through the edu device's
# domain; iovaload moves a burst from CPU to CPU (seed 003) on its own.
# It starts after iovatop attached and ends before iovatop detaches:
# attaching patches the code of the hooked functions, and under TCG doing
# that while another vCPU runs the code has livelocked the guest.
load() {
	sleep 3
	"$BENCH" -t 2 -s $((seconds > 8 ? seconds - 5 : 1)) -g 1 >/dev/null 2>&1 &
	local bench=$!
	sleep 2
	while kill -0 $bench 2>/dev/null; do
		iovaload rotate n=2000 order=0
		iovaload rotate n=300 order=2
		sleep 2
	done
	wait $bench
}
load &
loader=$!

banner "iovatop, live for ${seconds}s (q or Ctrl-C in your terminal ends the lab early)"
"$IOVATOP" $live -n 12 1 "$seconds"
wait $loader

banner "iovatop --cpus: what each CPU's cache holds now (the seed 003 picture)"
"$IOVATOP" -b --cpus -d private 1 1

banner "iovatop --classes for the edu device: what its caches hold per size"
"$IOVATOP" -b --classes -d "$LAB_EDU_BDF" 1 1

banner "the kernel's own view: perf stat -e 'iova:*' over one benchmark second"
perf stat -a -e 'iova:iova_rcache_alloc,iova:iova_rcache_free,iova:iova_tree_alloc,iova:iova_depot_push' \
	-- "$BENCH" -t 2 -s 1 -g 1 2>&1 | grep -E 'iova:|elapsed'
iovaload destroy
banner "next: the same kernel with bounce buffers (swiotlbstat)"
