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
"$BENCH" -t 2 -s $((seconds + 5)) -g 1 >/dev/null 2>&1 &
bench=$!
(
	sleep 3
	while kill -0 $bench 2>/dev/null; do
		iovaload rotate n=2000 order=0
		iovaload rotate n=300 order=2
		sleep 2
	done
) &
rotor=$!

banner "iovatop, live for ${seconds}s (q or Ctrl-C in your terminal ends the lab early)"
sleep 1
"$IOVATOP" $live -n 12 1 "$seconds"

banner "iovatop --cpus: what each CPU's cache holds (the seed 003 picture)"
"$IOVATOP" -b --cpus -d private 1 1

banner "iovatop --classes for the edu device"
"$IOVATOP" -b --classes -d "$LAB_EDU_BDF" 1 1

kill $rotor $bench 2>/dev/null
wait 2>/dev/null
banner "the kernel's own view: perf stat -e 'iova:*' over one benchmark second"
perf stat -a -e 'iova:iova_rcache_alloc,iova:iova_rcache_free,iova:iova_tree_alloc,iova:iova_depot_push' \
	-- "$BENCH" -t 2 -s 1 -g 1 2>&1 | grep -E 'iova:|elapsed'
iovaload destroy
banner "done: see README.md to run iovatop on a real machine"
