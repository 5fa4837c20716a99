# Helpers of the guest tests that run a real Prometheus (Debian's
# package) against the tools' /metrics (sourced after lib.sh).
# shellcheck shell=bash

PROM=127.0.0.1:9490
QUERIES=$TOP_DIR/tests/guest/prometheus_queries.py

# prom_require TEST...: without Debian's prometheus, each TEST fails
prom_require() {
	command -v prometheus >/dev/null && return 0
	for t in "$@"; do
		fail "$t" "no prometheus in the lab (tests/lab/packages lists it)"
	done
	return 1
}

# prom_watch WORKDIR TOOL PORT [ARGS...]: the tool exports on PORT and
# Prometheus scrapes it; both end with the test (TOOL_PID, PROM_PID)
prom_watch() {
	local work=$1 tool=$2 port=$3
	shift 3
	"$TOP_DIR/.output/$tool" -q -p "127.0.0.1:$port" "$@" >"$work/$tool.out" 2>&1 &
	TOOL_PID=$!
	prom_start "$work" "$tool" "$port"
	trap 'kill "$TOOL_PID" "$PROM_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
}

# prom_start WORKDIR JOB PORT: scrape JOB at 127.0.0.1:PORT each second
# and evaluate dashboards/rules; its pid is in PROM_PID.
prom_start() {
	local work=$1 job=$2 port=$3
	cat >"$work/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $TOP_DIR/dashboards/rules/iova.rules.yml
  - $TOP_DIR/dashboards/rules/swiotlb.rules.yml
scrape_configs:
  - job_name: $job
    static_configs: [{targets: ["127.0.0.1:$port"]}]
YAML
	prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/data" \
		--web.listen-address="$PROM" >"$work/prometheus.log" 2>&1 &
	PROM_PID=$!
}

# prom_api PATH: a GET of Prometheus's HTTP API
prom_api() {
	curl -s --max-time 10 "http://$PROM/api/v1/$1"
}

prom_targets_up() {
	prom_api targets | python3 -c '
import json, sys
try:
    t = json.load(sys.stdin)["data"]["activeTargets"]
except ValueError:
    t = []          # not listening yet
print(sum(x["health"] == "up" for x in t))' 2>/dev/null
}

# prom_check_setup PREFIX WORKDIR: the target is up (a tool loading its BPF
# programs in a busy lab can take a minute) and every rule loaded
prom_check_setup() {
	local prefix=$1 work=$2 rules want
	expect_eq "$prefix-scrapes" 1 "$(wait_for 1 180 prom_targets_up)" \
		"targets up: $(tail -n 1 "$work/prometheus.log" | head -c 200)"
	rules=$(prom_api rules | python3 -c '
import json, sys
print(sum(len(g["rules"]) for g in json.load(sys.stdin)["data"]["groups"]))')
	want=$(cat "$TOP_DIR"/dashboards/rules/*.rules.yml | grep -c -- '- alert:')
	expect_eq "$prefix-rules-loaded" "$want" "$rules" \
		"alert rules Prometheus evaluates (as many as dashboards/rules has)"
}

# prom_check_queries TEST DASHBOARD WORKDIR [EMPTY-BY-DESIGN-TITLE...]
prom_check_queries() {
	local name=$1 dash=$2 work=$3 n
	shift 3
	python3 "$QUERIES" "http://$PROM" "$TOP_DIR/dashboards/$dash.json" "$@" >"$work/$dash.queries"
	sed 's/^/# /' "$work/$dash.queries"
	n=$(grep -c -E '^(ok|BAD)' "$work/$dash.queries")
	expect_eq "$name" "FAILED 0" "$(tail -n 1 "$work/$dash.queries")" \
		"queries of dashboards/$dash.json ($n) with no data or an error: $(grep -m 2 '^BAD' "$work/$dash.queries" | tr '\n' ' ')"
}

# prom_value QUERY: the value of an instant query with one result, as an
# integer, or what came back instead ("none", "2 series")
prom_value() {
	curl -s --max-time 10 -G "http://$PROM/api/v1/query" --data-urlencode "query=$1" |
		python3 -c '
import json, sys
try:
    r = json.load(sys.stdin)["data"]["result"]
except ValueError:
    r = None
if not r:
    print("none")
elif len(r) > 1:
    print("%d series" % len(r))
else:
    print(int(float(r[0]["value"][1])))'
}

# The names of the alerts firing now, or "none"
prom_firing() {
	prom_api alerts | python3 -c '
import json, sys
a = json.load(sys.stdin)["data"]["alerts"]
print(" ".join(sorted(x["labels"]["alertname"] for x in a if x["state"] == "firing")) or "none")'
}
