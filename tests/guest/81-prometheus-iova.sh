#!/bin/bash
# variants: default
# timeout: 600
# dashboards/iova.json against a real Prometheus (Debian's package): it
# scrapes iovatop each second and evaluates dashboards/rules while
# dma_map_benchmark maps through the edu device's IOMMU domain and
# iovaload rotates IOVAs on its own; then every query of every panel
# returns data, and Prometheus holds exactly the allocations and frees
# iovaload counted itself on its domain (created while iovatop watched).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/prometheus_lib.sh"

PORT=9491
prom_require prometheus-iova-scrapes prometheus-iova-rules-loaded prometheus-iova-queries \
	prometheus-iova-allocs-exact prometheus-iova-frees-exact || exit 0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# In Prometheus, the private domain's sum of FAMILY equals iovaload's KEY
# (its series catch up within a scrape or two)
check_iovaload_count() {
	local name=$1 family=$2 key=$3 want
	want=$(iovaload_status "$key")
	expect_eq "$name" "$want" \
		"$(wait_for "$want" 20 prom_value "sum($family{domain=~\"private.*\"})")" \
		"sum($family) of iovaload's domain in Prometheus, iovaload's $key"
}

load_iovaload || { fail prometheus-iova-queries "cannot load iovaload"; exit 0; }
prom_watch "$work" iovatop $PORT 1
prom_check_setup prometheus-iova "$work"
iovaload reset
iovaload create

for _ in 1 2 3 4 5; do
	iovaload rotate n=300 order=0
	run_benchmark 2 2 >/dev/null
done
check_iovaload_count prometheus-iova-allocs-exact dmascope_iova_allocs_total allocs
check_iovaload_count prometheus-iova-frees-exact dmascope_iova_frees_total frees
iovaload destroy
sleep 3		# the last scrapes of the load

prom_check_queries prometheus-iova-queries iova "$work"
