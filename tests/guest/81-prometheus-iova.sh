#!/bin/bash
# variants: default
# timeout: 600
# dashboards/iova.json against a real Prometheus (Debian's package): it
# scrapes iovatop each second and evaluates dashboards/rules while
# dma_map_benchmark maps through the edu device's IOMMU domain and
# iovaload rotates IOVAs on its own; then every query of every panel
# returns data.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/prometheus_lib.sh"

PORT=9491
prom_require prometheus-iova-scrapes prometheus-iova-rules-loaded prometheus-iova-queries || exit 0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

load_iovaload || { fail prometheus-iova-queries "cannot load iovaload"; exit 0; }
iovaload create
prom_watch "$work" iovatop $PORT 1
prom_check_setup prometheus-iova "$work"

for _ in 1 2 3 4 5; do
	iovaload rotate n=300 order=0
	run_benchmark 2 2 >/dev/null
done
iovaload destroy
sleep 3		# the last scrapes of the load

prom_check_queries prometheus-iova-queries iova "$work"
