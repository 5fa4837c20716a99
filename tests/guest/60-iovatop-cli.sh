#!/bin/bash
# variants: default vanilla
# iovatop behaves like a serious tool: one-line errors and exit 2 for bad
# input, exit 1 without privileges, clean detach on SIGINT/SIGTERM and
# SIGKILL, two instances at once, quick start-up, Prometheus and textfile
# output that promtool accepts (the textfile removed at exit), every view,
# --version, --hooks with what is attached, and iova.stats switched back
# off by the last iovatop to stop.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib.sh"

IOVATOP=$TOP_DIR/.output/iovatop
work=$(mktemp -d)
mkfifo "$work/fifo"
trap 'pkill -KILL -f "$IOVATOP"; rm -rf "$work"' EXIT

# expect_usage NAME STATUS PATTERN ARGS...: one line on stderr, matching
expect_error() {
	local name=$1 want=$2 pattern=$3 rc lines
	shift 3
	timeout 20 "$IOVATOP" "$@" >"$work/out" 2>"$work/err" </dev/null
	rc=$?
	lines=$(wc -l <"$work/err")
	if [ "$rc" = "$want" ] && [ "$lines" = 1 ] && grep -q -- "$pattern" "$work/err"; then
		pass "$name"
	else
		fail "$name" "exit $rc (want $want), $lines stderr lines: $(head -c 200 "$work/err")"
	fi
}

test_bad_input() {
	expect_error iovatop-interval-zero 2 'interval must be a number of seconds' 0
	expect_error iovatop-interval-text 2 'interval must be a number of seconds' abc
	# decimal only, and no interval shorter than the loop can keep
	expect_error iovatop-interval-hex 2 "not '0x1'" 0x1
	expect_error iovatop-interval-exponent 2 "not '1e-9'" 1e-9
	expect_error iovatop-interval-below-floor 2 "from 0.1 to" 0.05
	expect_error iovatop-views-conflict 2 "--classes and --cpus cannot be combined" -c -C
	expect_error iovatop-option-in-group 2 "unknown option '-Z'" -bZ
	expect_error iovatop-quiet-alone 2 "--quiet needs --prometheus or --textfile" -q 1 1
	expect_error iovatop-quiet-json 2 "--quiet and --json cannot be combined" -q -j -p 127.0.0.1:9471 1 1
	expect_error iovatop-count-bad 2 'count must be a positive' 1 x
	expect_error iovatop-too-many-args 2 'too many arguments' 1 2 3
	expect_error iovatop-sort-unknown 2 "unknown sort key 'bogus'" -s bogus
	expect_error iovatop-option-unknown 2 "unknown option" --bogus
	expect_error iovatop-option-missing-arg 2 "needs an argument" --sort
	expect_error iovatop-rows-bad 2 "rows needs a positive" -n -3
	expect_error iovatop-prometheus-bad-address 2 "bad --prometheus address" -p nonsense
	expect_error iovatop-prometheus-bad-host 2 "bad address" -p no.such.host.invalid:9464
	expect_error iovatop-mode-unknown 2 "unknown mode" --mode=magic
	# a mode asked for by name does not fall back: one line, status 1
	[ "$KERNEL_VARIANT" != vanilla ] ||
		expect_error iovatop-mode-not-here 1 "mode tracepoint: this kernel has no iova" \
			--mode=tracepoint 1 1
	expect_error iovatop-textfile-unwritable 2 "textfile directory '/proc/no/such/dir'" \
		-t /proc/no/such/dir/iova.prom 1 1
	test_textfile_refused
	# a port in use (by another iovatop)
	"$IOVATOP" -q -p 127.0.0.1:9470 10 >/dev/null 2>&1 &
	local holder=$!
	sleep 1.5
	expect_error iovatop-port-in-use 2 "cannot listen on 127.0.0.1:9470" -p 127.0.0.1:9470 1 1
	# its first interval (10 s) is not over: no numbers yet, come back
	curl -s --max-time 15 -o /dev/null -D "$work/head503" -w '%{http_code}' \
		http://127.0.0.1:9470/metrics >"$work/code503"
	check iovatop-prometheus-503-before-first "$(cat "$work/code503"): $(tr -d '\r' <"$work/head503" | tr '\n' ' ')" \
		eval '[ "$(cat "$work/code503")" = 503 ] && grep -q "^Retry-After: 1" "$work/head503"'
	kill -INT $holder
	wait $holder
}

# The textfile: a *.prom file in a directory, one writer, and a file of
# someone else's is never touched
test_textfile_refused() {
	local holder
	echo "precious" >"$work/victim.txt"
	expect_error iovatop-textfile-not-prom 2 "must be a \*.prom file" -t "$work/victim.txt" 0.2 2
	expect_eq iovatop-textfile-victim-kept precious "$(cat "$work/victim.txt")" "the file -t named"
	mkdir -p "$work/dir.prom"
	expect_error iovatop-textfile-directory 2 "not a regular file" -t "$work/dir.prom" 0.2 2
	"$IOVATOP" -q -t "$work/held.prom" 10 >/dev/null 2>&1 &
	holder=$!
	for _ in $(seq 100); do
		[ -e "$work/.held.prom.lock" ] && break
		sleep 0.1
	done
	expect_error iovatop-textfile-second-writer 2 "another process writes the textfile" \
		-q -t "$work/held.prom" 1 1
	kill -INT $holder
	wait $holder
	check iovatop-textfile-lock-removed "$(ls -a "$work" | grep lock)" [ ! -e "$work/.held.prom.lock" ]
}

test_unprivileged() {
	setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
		"$IOVATOP" 1 1 >"$work/out" 2>"$work/err"
	local rc=$?
	if [ "$rc" = 1 ] && [ "$(wc -l <"$work/err")" = 1 ] && grep -q 'needs root' "$work/err"; then
		pass iovatop-unprivileged
	else
		fail iovatop-unprivileged "exit $rc: $(cat "$work/err")"
	fi
}

test_help() {
	"$IOVATOP" --help >"$work/help" 2>&1
	expect_eq iovatop-help-exit 0 $? "--help exit status"
	check iovatop-help-complete "--help misses an option" \
		eval 'for o in --classes --cpus --domain --sort --rows --batch --json --prometheus --textfile --mode --hooks INTERVAL COUNT; do grep -q -- "$o" "$work/help" || exit 1; done'
	check iovatop-man-page "man page missing or malformed" \
		eval 'MANWIDTH=80 man -l "$TOP_DIR/tools/iovatop.8" 2>/dev/null | grep -q "dmascope_iova_allocs_total"'
	"$IOVATOP" --version >"$work/version" 2>&1
	expect_eq iovatop-version-exit 0 $? "--version exit status"
	check iovatop-version "--version printed: $(head -c 100 "$work/version")" \
		grep -qE '^iovatop \(dmascope\) [0-9a-f]+' "$work/version"
}

# --hooks tries the modes for real and says what is attached
test_hooks() {
	local want=fentry
	[ "$KERNEL_VARIANT" = vanilla ] || want=counters
	"$IOVATOP" --hooks >"$work/hooks" 2>&1
	expect_eq iovatop-hooks-exit 0 $? "--hooks exit status"
	check iovatop-hooks-mode "--hooks: $(head -c 200 "$work/hooks")" \
		grep -q "^mode: $want: " "$work/hooks"
	check iovatop-hooks-all-attached "--hooks: $(grep 'NOT ATTACHED' "$work/hooks")" \
		eval '! grep -q "NOT ATTACHED" "$work/hooks"'
	# every mode, and why it does or does not serve here
	check iovatop-hooks-modes "--hooks: $(sed -n '/^modes/,/^mode:/p' "$work/hooks" | tr '\n' '|')" \
		eval 'grep -q "^  $want  *in use$" "$work/hooks" &&
		      [ "$(grep -cE "^  (counters|tracepoint|fentry) +(in use|does not|applies)" "$work/hooks")" = 3 ]'
}

# A -d that matches no domain now: a warning, and the tool runs on
test_domain_unmatched() {
	"$IOVATOP" -b -d no-such-device 0.2 1 >"$work/out" 2>"$work/err"
	expect_eq iovatop-domain-unmatched-exit 0 $? "exit status"
	check iovatop-domain-unmatched-warns "stderr: $(head -c 200 "$work/err")" \
		grep -q "warning: --domain 'no-such-device' matches no domain present now" "$work/err"
	"$IOVATOP" -b -d "$LAB_EDU_BDF" 0.2 1 >"$work/out" 2>"$work/err"
	check iovatop-domain-matched-quiet "stderr: $(head -c 200 "$work/err")" \
		eval '! grep -q "matches no domain" "$work/err"'
}

iovatop_links() {
	bpftool link show 2>/dev/null | grep -cE 'tracing|raw_tracepoint'
}

# What iovatop changed that outlives its file descriptors, as one line:
# the iova.stats switch, its textfile and lock file, anything pinned
iovatop_traces() {
	local stats=none
	[ -r "$IOVA_PARAMS/stats" ] && stats=$(cat "$IOVA_PARAMS/stats")
	echo "stats=$stats textfile=$(ls -A "$work/sigdir" | tr '\n' ,)" \
		"pinned=$(find /sys/fs/bpf -mindepth 1 2>/dev/null | wc -l)"
}

test_signals() {
	local base pid sig before
	base=$(iovatop_links)
	mkdir -p "$work/sigdir"
	[ ! -w "$IOVA_PARAMS/stats" ] || echo 0 >"$IOVA_PARAMS/stats"
	before=$(iovatop_traces)
	for sig in INT TERM HUP; do
		# attached once it reported (a fixed sleep raced a slow start-up)
		start_iovatop "$work/sig" -j -t "$work/sigdir/iova.prom" 0.2
		pid=$IOVATOP_PID
		check "iovatop-attached-before-$sig" "no links while running" [ "$(iovatop_links)" -gt "$base" ]
		# the kernel drops links with the process's fds, whatever the
		# tool does: what the tool promises is the rest
		check "iovatop-sig$sig-traces-while-running" "$(iovatop_traces)" \
			[ "$(iovatop_traces)" != "$before" ]
		kill -$sig $pid
		wait $pid
		expect_eq "iovatop-sig$sig-exit-0" 0 $? "exit status after SIG$sig"
		expect_eq "iovatop-sig$sig-no-links-left" "$base" "$(iovatop_links)" "BPF links after SIG$sig"
		expect_eq "iovatop-sig$sig-nothing-left" "$before" "$(iovatop_traces)" \
			"iova.stats, textfile and lock, pinned objects after SIG$sig"
	done
	start_iovatop "$work/sig" -j 0.2
	pid=$IOVATOP_PID
	kill -KILL $pid
	wait $pid 2>/dev/null
	sleep 0.5
	expect_eq iovatop-sigkill-no-links-left "$base" "$(iovatop_links)" "BPF links after SIGKILL"
}

# Attaching and detaching patch the code of the functions they hook, and
# under TCG doing that while another vCPU runs the code has livelocked the
# guest: every iovatop here starts and stops while the benchmark is idle.
test_two_instances() {
	local a b ra rb
	start_iovatop "$work/a" -j 0.3
	a=$IOVATOP_PID
	start_iovatop "$work/b" -j 0.3
	b=$IOVATOP_PID
	run_benchmark 1 1 >/dev/null
	sleep 0.4
	kill -INT $a $b
	wait $a
	ra=$?
	wait $b
	rb=$?
	check iovatop-two-instances "exit $ra/$rb, lines $(wc -l <"$work/a")/$(wc -l <"$work/b")" \
		eval '[ $ra = 0 ] && [ $rb = 0 ] && [ "$(wc -l <"$work/a")" -ge 3 ] && [ "$(wc -l <"$work/b")" -ge 3 ]'
}

# From exec to attached and reporting: the first line of a 100 ms interval.
# (Leaving takes longer: detaching fentry programs waits for RCU.)
test_startup_time() {
	local start now ms=99999 pid
	# bash builtins only: forking date or sleep would cost more than iovatop
	start=${EPOCHREALTIME/./}
	"$IOVATOP" -j 0.1 >"$work/first" 2>&1 &
	pid=$!
	for _ in $(seq 2000); do
		if [ -s "$work/first" ]; then
			now=${EPOCHREALTIME/./}
			ms=$(((now - start) / 1000))
			break
		fi
		read -r -t 0.005 <>"$work/fifo" 2>/dev/null
	done
	kill -INT $pid
	wait $pid
	echo "# iovatop start-up to its first report (100 ms interval): ${ms} ms"
	# A liveness bound, not a benchmark: under TCG start-up takes 0.5 to
	# 1.3 s on a quiet host and longer on a busy one.
	expect_range iovatop-startup-under-5s 0 5000 "$ms" "start-up (ms)"
}

# The families that say the same thing two ways must agree in one scrape,
# for every domain: the bytes the CPUs' caches hold, per CPU, with the
# IOVAs they hold per size class (2^order granules each); the rbtree
# inserts measured with the rbtree allocations (each one is measured); the
# deepest insert with the mean depth.
check_prometheus_consistent() {
	local why
	why=$(/usr/bin/python3 - "$1" "$(getconf PAGESIZE)" <<'PY'
import collections, re, sys
path, granule = sys.argv[1], int(sys.argv[2])
series = collections.defaultdict(dict)
for line in open(path):
    m = re.match(r'^dmascope_iova_(\w+)\{([^}]*)\} (\S+)$', line)
    if m:
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
        series[m.group(1)][tuple(sorted(labels.items()))] = float(m.group(3))
def per_domain(name, pick=lambda l: True, weight=lambda l: 1):
    out = collections.Counter()
    for key, v in series[name].items():
        l = dict(key)
        if pick(l):
            out[l["domain"]] += v * weight(l)
    return out
cpu_bytes = per_domain("cpu_cached_bytes")
class_bytes = per_domain("cached_iovas", lambda l: l["where"] == "cpus",
                         lambda l: granule << int(l["order"]))
allocs, measured = per_domain("tree_allocs_total"), per_domain("tree_inserts_measured_total")
depth, deepest = per_domain("tree_insert_depth_total"), per_domain("tree_depth_max")
bad = []
if not cpu_bytes or not allocs:
    bad.append("no cpu_cached_bytes or tree_allocs_total series")
for d in sorted(set(cpu_bytes) | set(class_bytes)):
    if cpu_bytes[d] != class_bytes[d]:
        bad.append("%s: cpu_cached_bytes %d, cached_iovas by order %d" % (d, cpu_bytes[d], class_bytes[d]))
for d in sorted(allocs):
    if measured[d] != allocs[d]:
        bad.append("%s: %d inserts measured of %d tree allocs" % (d, measured[d], allocs[d]))
    if measured[d] and not depth[d] / measured[d] <= deepest[d]:
        bad.append("%s: mean depth %.2f, deepest %d" % (d, depth[d] / measured[d], deepest[d]))
print("; ".join(bad) or "ok")
PY
)
	check iovatop-prometheus-consistent "${why:-the check did not run}" [ "$why" = ok ]
}

test_prometheus() {
	local pid
	"$IOVATOP" -q -p 127.0.0.1:9464 -t "$work/iova.prom" 0.5 >"$work/prom.out" 2>&1 &
	pid=$!
	# the first textfile says it is attached and reading
	wait_nonempty "$work/iova.prom"
	# scraped while the load runs, then once more after it
	run_benchmark 1 2 >/dev/null &
	for i in 1 2 3 4; do
		sleep 0.6
		curl -s -o "$work/metrics.$i" http://127.0.0.1:9464/metrics
	done
	wait $!
	sleep 1
	curl -s -o "$work/metrics" -w '%{http_code}' http://127.0.0.1:9464/metrics >"$work/code"
	curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9464/ >"$work/code404"
	curl -s -o /dev/null -D "$work/head405" -w '%{http_code}' -X POST \
		http://127.0.0.1:9464/metrics >"$work/code405"
	cp "$work/iova.prom" "$work/iova.prom.seen"
	kill -INT $pid
	wait $pid
	expect_eq iovatop-prometheus-http-200 200 "$(cat "$work/code")"
	expect_eq iovatop-prometheus-http-404 404 "$(cat "$work/code404")"
	expect_eq iovatop-prometheus-http-405 405 "$(cat "$work/code405")"
	check iovatop-prometheus-405-allow "$(tr -d '\r' <"$work/head405")" \
		grep -q '^Allow: GET' "$work/head405"
	# every delta of the run was taken from a counter that only grew
	check iovatop-prometheus-no-counter-resets "$(grep 'kind="counter_resets"' "$work/metrics")" \
		grep -q '^dmascope_iova_lost_total{kind="counter_resets"} 0$' "$work/metrics"
	local grew
	grew=$(/usr/bin/python3 "$TESTS_DIR/guest/prometheus_monotonic.py" "$work"/metrics.[1-4] \
		"$work/metrics")
	check iovatop-prometheus-counters-never-decrease "$grew" [ "${grew#ok:}" != "$grew" ]
	check iovatop-prometheus-hook-attached "no hook_attached metric" \
		grep -qE '^dmascope_iova_hook_attached\{hook="syscall/snapshot.*"\} 1$' "$work/metrics"
	check iovatop-prometheus-has-allocs "no edu allocations in /metrics" \
		grep -qE "^dmascope_iova_allocs_total\{domain=\"group[0-9]+\",device=\"$LAB_EDU_BDF\",order=\"0\",result=\"(loaded|hit)\"\} [1-9]" "$work/metrics"
	check_prometheus_consistent "$work/metrics"
	# only the results the mode tells apart: the counters mode has no "hit"
	# of unknown source and no fentry free result; fentry (vanilla) has no
	# hit sources and no magazine outcomes
	local blind='hit|cached|tree'
	[ "$KERNEL_VARIANT" != vanilla ] || blind='loaded|prev|depot|new_mag|no_mag'
	check iovatop-prometheus-no-blind-results "$(grep -m1 -E "result=\"($blind)\"" "$work/metrics")" \
		eval '! grep -qE "result=\"($blind)\"" "$work/metrics"'

	check iovatop-prometheus-promtool "$(promtool check metrics <"$work/metrics" 2>&1 | head -n 3)" \
		eval 'promtool check metrics <"$work/metrics" >/dev/null 2>&1'
	check iovatop-textfile-promtool "$(promtool check metrics <"$work/iova.prom.seen" 2>&1 | head -n 3)" \
		eval '[ -s "$work/iova.prom.seen" ] && promtool check metrics <"$work/iova.prom.seen" >/dev/null 2>&1'
	check iovatop-textfile-removed-at-exit "the textfile is still there" [ ! -e "$work/iova.prom" ]
	check iovatop-textfile-no-temp-left "temporary files left" \
		eval '[ -z "$(ls "$work" | grep "iova.prom.*tmp")" ]'
	check iovatop-quiet-prints-nothing "prints with -q: $(head -c 100 "$work/prom.out")" \
		[ ! -s "$work/prom.out" ]
}

# One iovatop prints JSON and serves /metrics at once: for iovaload's
# domain, born while it watched, the allocations and frees of its JSON
# lines add up to the Prometheus counters read once the load is over,
# and both to what iovaload counted itself.
test_prometheus_matches_json() {
	local pid got
	load_iovaload || { fail iovatop-prometheus-matches-json "cannot load iovaload"; return; }
	"$IOVATOP" -j -p 127.0.0.1:9465 0.3 >"$work/pj.json" 2>"$work/pj.err" &
	pid=$!
	wait_nonempty "$work/pj.json"
	iovaload reset
	iovaload create
	iovaload rotate n=300 order=0
	sleep 1	# intervals with nothing more
	curl -s -o "$work/pj.metrics" http://127.0.0.1:9465/metrics
	sleep 0.7
	kill -INT $pid
	wait $pid
	got=$(/usr/bin/python3 - "$work/pj.json" "$work/pj.metrics" <<'PY'
import collections, json, re, sys
json_sum = collections.Counter()
for line in open(sys.argv[1]):
    for d in json.loads(line)["domains"]:
        if d["kind"] == "private":
            json_sum["allocs", d["name"]] += d["allocs"]
            json_sum["frees", d["name"]] += d["frees"]
prom_sum = collections.Counter()
for line in open(sys.argv[2]):
    m = re.match(r'^dmascope_iova_(allocs|frees)_total\{domain="(private\d+)"[^}]*\} (\S+)$', line)
    if m:
        prom_sum[m.group(1), m.group(2)] += float(m.group(3))
names = sorted({n for _, n in json_sum} | {n for _, n in prom_sum})
print(" ".join("%s:json=%d,%d:prometheus=%d,%d" % (
    n, json_sum["allocs", n], json_sum["frees", n], prom_sum["allocs", n], prom_sum["frees", n])
    for n in names) or "no private domain")
PY
)
	iovaload destroy
	local want allocs frees
	allocs=$(iovaload_status allocs)
	frees=$(iovaload_status frees)
	want=$(sed -E "s/^(private[0-9]+):.*/\1/" <<<"$got"):json=$allocs,$frees:prometheus=$allocs,$frees
	echo "# iovaload $allocs allocations, $frees frees; iovatop $got"
	expect_eq iovatop-prometheus-matches-json "$want" "$got" \
		"allocations and frees of iovaload's domain: JSON lines summed, Prometheus"
}

# fentry cannot see where a hit came from, depot operations or walks:
# those series are absent, not 0
test_fentry_blind_absent() {
	local pid
	rm -f "$work/fentry.prom"
	"$IOVATOP" -m fentry -q -t "$work/fentry.prom" 0.3 >/dev/null 2>"$work/fentry.err" &
	pid=$!
	wait_nonempty "$work/fentry.prom"
	run_benchmark 1 1 >/dev/null
	sleep 1
	cp "$work/fentry.prom" "$work/fentry.seen" 2>/dev/null
	kill -HUP $pid
	wait $pid
	expect_eq iovatop-fentry-sighup-exit 0 $? "exit status after SIGHUP"
	check iovatop-fentry-textfile-removed "still there after SIGHUP" [ ! -e "$work/fentry.prom" ]
	check iovatop-fentry-has-hits "no result=\"hit\" samples: $(grep -m2 allocs_total "$work/fentry.seen")" \
		grep -qE "^dmascope_iova_allocs_total\{.*result=\"hit\"\} [1-9]" "$work/fentry.seen"
	check iovatop-fentry-no-hit-sources "$(grep -m1 -E 'result="(loaded|prev|depot)"' "$work/fentry.seen")" \
		eval '! grep -qE "result=\"(loaded|prev|depot)\"" "$work/fentry.seen"'
	check iovatop-fentry-no-depot-ops "$(grep -m1 '^dmascope_iova_depot_operations_total{' "$work/fentry.seen")" \
		eval '! grep -q "^dmascope_iova_depot_operations_total{" "$work/fentry.seen"'
	check iovatop-fentry-no-walks "$(grep -m1 '^dmascope_iova_tree_walk_nodes_total{' "$work/fentry.seen")" \
		eval '! grep -q "^dmascope_iova_tree_walk_nodes_total{" "$work/fentry.seen"'
}

test_views() {
	local v
	# fresh cache contents: the kernel empties idle caches after a minute
	# (idle_reclaim_ms), and a class without any has no row in --classes
	run_benchmark 1 1 >/dev/null
	for v in "" --classes --cpus; do
		"$IOVATOP" -b $v 0.3 2 >"$work/view" 2>&1
		check "iovatop-view${v:-default}" "$(head -c 200 "$work/view")" \
			eval 'grep -q "^iovatop " "$work/view" && grep -q "$LAB_EDU_BDF" "$work/view"'
		# the footer appears only when something was lost
		check "iovatop-view${v:-default}-nothing-lost" "$(grep "^lost: " "$work/view")" \
			eval '! grep -q "^lost: " "$work/view"'
	done
}
stats_param() { cat "$IOVA_PARAMS/stats"; }

# iova.stats is on while an iovatop runs and back off when the last one
# stops; a value the administrator set is left alone.
test_stats_switch() {
	local a b
	if [ ! -w "$IOVA_PARAMS/stats" ]; then
		# only the patched kernel has the counters
		if [ "$KERNEL_VARIANT" = vanilla ]; then
			skip iovatop-stats-switch "the vanilla kernel has no iova.stats"
		else
			fail iovatop-stats-switch "$IOVA_PARAMS/stats is missing on the $KERNEL_VARIANT kernel"
		fi
		return
	fi
	echo 0 >"$IOVA_PARAMS/stats"
	"$IOVATOP" -j 0.2 2 >/dev/null 2>&1
	expect_eq iovatop-stats-off-after-one-run 0 "$(stats_param)" "iova.stats after iovatop"
	start_iovatop "$work/a" -j 0.2
	a=$IOVATOP_PID
	start_iovatop "$work/b" -j 0.2
	b=$IOVATOP_PID
	expect_eq iovatop-stats-on-while-running 1 "$(stats_param)" "iova.stats while two run"
	kill -INT $a
	wait $a
	expect_eq iovatop-stats-on-for-the-other 1 "$(stats_param)" "iova.stats after the first stopped"
	kill -INT $b
	wait $b
	expect_eq iovatop-stats-off-after-the-last 0 "$(stats_param)" "iova.stats after both stopped"
	start_iovatop "$work/a" -j 0.2
	kill -KILL $IOVATOP_PID
	wait $IOVATOP_PID 2>/dev/null
	expect_eq iovatop-stats-on-after-sigkill 1 "$(stats_param)" "iova.stats after SIGKILL"
	"$IOVATOP" -j 0.2 1 >/dev/null 2>&1
	expect_eq iovatop-stats-off-after-the-next 0 "$(stats_param)" "iova.stats after the next run"
	echo 1 >"$IOVA_PARAMS/stats"
	"$IOVATOP" -j 0.2 1 >/dev/null 2>&1
	expect_eq iovatop-stats-admin-value-kept 1 "$(stats_param)" "iova.stats set by hand"
	echo 0 >"$IOVA_PARAMS/stats"
	# the terminal closed: SIGHUP undoes all that SIGTERM does
	"$IOVATOP" -q -t "$work/hup.prom" 0.2 >/dev/null 2>&1 &
	a=$!
	wait_nonempty "$work/hup.prom"
	expect_eq iovatop-stats-on-before-sighup 1 "$(stats_param)" "iova.stats while running"
	kill -HUP $a
	wait $a
	expect_eq iovatop-sighup-clean-exit 0 $? "exit status after SIGHUP"
	expect_eq iovatop-stats-off-after-sighup 0 "$(stats_param)" "iova.stats after SIGHUP"
	check iovatop-sighup-textfile-gone "$(ls -a "$work" | grep hup)" \
		eval '[ ! -e "$work/hup.prom" ] && [ ! -e "$work/.hup.prom.lock" ]'
}

test_bad_input
test_unprivileged
test_help
test_hooks
test_signals
test_two_instances
test_startup_time
test_prometheus
test_prometheus_matches_json
test_fentry_blind_absent
test_domain_unmatched
test_views
test_stats_switch
