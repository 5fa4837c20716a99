#!/bin/bash
# variants: default
# cmdline: swiotlb=512,force intel_iommu=off
# timeout: 600
# dashboards/swiotlb.json against a real Prometheus (Debian's package):
# it scrapes swiotlbstat each second and evaluates dashboards/rules while
# fio bounces through the growing pools; then every query of every panel
# returns data (a panel empty by design is named, with why), and two maps
# too large for any pool (512 KiB, above the 256 KiB segment) make
# SwiotlbMapFailures fire.  (81-prometheus-iova.sh does the same for
# iovatop, which needs the IOMMU this boot turns off.)
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/prometheus_lib.sh"

PORT=9492
prom_require prometheus-scrapes prometheus-rules-loaded prometheus-swiotlb-queries prometheus-alert-map-failures || exit 0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

load_iovaload || { fail prometheus-alert-map-failures "cannot load iovaload"; exit 0; }
# -L: the latency and direction panels have data
prom_watch "$work" swiotlbstat $PORT -L 1
prom_check_setup prometheus "$work"

fio --name=prom --filename="$LAB_NVME_DEV" --direct=1 --rw=randread --bs=64k \
	--ioengine=libaio --iodepth=4 --numjobs=2 --size=64M --runtime=15 --time_based \
	--output=/dev/null
failures=$(iovaload_status map_failures)
iovaload map dev="$LAB_EDU_BDF" cpu=0 n=2 bytes=524288
failures=$(($(iovaload_status map_failures) - failures))
sleep 3		# the last scrapes of the load

# "Hooks not attached" lists the hooks that are not: none here
prom_check_queries prometheus-swiotlb-queries swiotlb "$work" "Hooks not attached"

map_failures_firing() {
	prom_firing | tr ' ' '\n' | grep -x SwiotlbMapFailures
}
got=$(wait_for SwiotlbMapFailures 20 map_failures_firing)
echo "# iovaload: $failures maps failed; firing: $(prom_firing)"
expect_eq prometheus-alert-map-failures "2 SwiotlbMapFailures" "$failures $got" \
	"maps of 512 KiB that failed, and the alert they fire"
