#!/bin/bash
# variants: default
# iovatop attached and detached while dma_map_benchmark maps and unmaps
# through the edu device's IOMMU domain on every vCPU but one, in each
# mode: it starts, reports the load and exits 0, and the load and the
# kernel carry on (a hang or a kernel warning fails the stage).  The
# fentry mode only where QEMU runs the vCPUs on one host thread
# (LAB_TCG_THREAD=single, from tests/host/lab.sh): QEMU 7.2's
# multi-threaded TCG hangs the guest there (see tests/README).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/under_load.sh"

under_load iovatop counters tracepoint
