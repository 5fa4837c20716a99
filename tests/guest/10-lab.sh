#!/bin/bash
# variants: default debug vanilla
# The lab itself: the right kernel, an active IOMMU that translates the
# DMA of an emulated device, and the devices the other tests use.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib.sh"

test_variant() {
	local has=no
	[ -d "$TRACEFS/events/iova" ] && has=yes
	case "$KERNEL_VARIANT" in
	vanilla) expect_eq lab-kernel-is-vanilla no "$has" "iova trace events present" ;;
	*) expect_eq lab-kernel-is-patched yes "$has" "iova trace events present" ;;
	esac
}

test_iommu_active() {
	check lab-iommu-enabled "no DMAR in dmesg / no dmar0" \
		eval 'dmesg | grep -q "DMAR: IOMMU enabled" && [ -e /sys/class/iommu/dmar0 ]'
	local group type
	group=$(readlink -f "/sys/bus/pci/devices/$LAB_EDU_BDF/iommu_group")
	type=$(cat "$group/type" 2>/dev/null)
	expect_eq lab-edu-domain-is-lazy-dma DMA-FQ "$type" "edu device's domain type"
	check lab-nvme-present "no NVMe disk at $LAB_NVME_DEV" [ -b "${LAB_NVME_DEV:-/nonexistent}" ]
}

# The edu device's DMA goes through iommu-dma: the benchmark's mappings
# call alloc_iova_fast(), counted by the function profiler.
test_dma_translated() {
	local calls
	check lab-benchmark-bound "edu device not bound to dma_map_benchmark" \
		[ "$(basename "$(readlink "/sys/bus/pci/devices/$LAB_EDU_BDF/driver")")" = dma_map_benchmark ]
	calls=$(count_calls alloc_iova_fast run_benchmark 1 1)
	expect_range lab-dma-goes-through-iova 1000 100000000 "$calls" "alloc_iova_fast calls during a 1 s benchmark"
}

test_variant
test_iommu_active
test_dma_translated
