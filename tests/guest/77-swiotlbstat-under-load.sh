#!/bin/bash
# variants: default
# cmdline: swiotlb=512,force intel_iommu=off
# swiotlbstat attached and detached while dma_map_benchmark bounces every
# map through the 1 MiB pool on every vCPU but one, in each mode: it
# starts, reports the load and exits 0, and the load and the kernel carry
# on.  The fentry mode only where QEMU runs the vCPUs on one host thread
# (see 62-iovatop-under-load.sh).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/under_load.sh"

under_load swiotlbstat tracepoint bounced
