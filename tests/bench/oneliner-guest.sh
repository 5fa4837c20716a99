#!/bin/bash
# The "oneliner" part of make bench, inside the lab on a Debian kernel
# image (tests/bench/run boots KERNEL_VARIANT=debian-*): what watching the
# IOVA allocator costs fio, compared as a user would compare it.  Four
# conditions, alternating in this one boot:
#   none      fio alone
#   bpftrace  fio with the one-liner  kprobe:alloc_iova_fast { @calls = count(); }
#   iovatop   fio with iovatop's default view (-b 1, the table in batch mode)
#   iovatop-full  fio with iovatop -j 1: JSON, every allocation and free
#             followed to its end (what the default view gives up)
# Each round runs all four, in an order rotated every round so that no
# condition always comes first.  After the rounds, one more fio run per
# tool with kernel.bpf_stats_enabled=1 gives each BPF program's calls and
# run time (not the probe's own entry cost, which bpf_stats leaves out);
# those runs are not in the IOPS.  A tool is started, found attached, then
# fio runs, then the tool is stopped with SIGINT; a tool that fails, does
# not attach or sees nothing of fio ends the script with an error, and
# nothing is written.  Writes $LAB_OUT/oneliner-<variant>-<round>.json.
# Timings are TCG timings: they only mean something as ratios between the
# conditions of the same boot.
#
#   BENCH_ROUND   which alternation round this boot is (file name, and
#                 where the rotation of the order starts)
#   BENCH_RUNS    rounds of the three conditions in this boot (default 5)
#   BENCH_QUICK=1 short runs (for trying the harness)
set -u
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=../guest/lib.sh
. "$(dirname "$0")/../guest/lib.sh"

round=${BENCH_ROUND:-1}
runs=${BENCH_RUNS:-5}
secs=5
if [ "${BENCH_QUICK:-0}" = 1 ]; then
	runs=${BENCH_RUNS:-2}
	secs=2
fi
# Seconds a tool may take to attach: under TCG, bpftrace loads LLVM and
# compiles its program, iovatop loads and verifies its BPF programs.
ATTACH_TIMEOUT=240
CONDITIONS=(none bpftrace iovatop iovatop-full)
TOOLS=(bpftrace iovatop iovatop-full)
ONELINER='kprobe:alloc_iova_fast { @calls = count(); }'
IOVATOP=$TOP_DIR/.output/iovatop
KPROBES=/sys/kernel/debug/kprobes/list
work=$(mktemp -d)
tool_pid=

die() {
	echo "oneliner-guest: error: $*" >&2
	exit 1
}

cleanup() {
	if [ -n "$tool_pid" ]; then
		kill -INT "$tool_pid" 2>/dev/null
		wait "$tool_pid" 2>/dev/null
	fi
	rm -rf "$work"
}
trap cleanup EXIT

# ---- fio ----

# One fio run: 4 KiB random reads with direct I/O; prints "IOPS IOS".
fio_once() {
	fio --name=oneliner --filename="$LAB_NVME_DEV" --direct=1 --rw=randread \
		--bs=4k --ioengine=libaio --iodepth=8 --numjobs=1 --size=256M \
		--runtime="$secs" --time_based --output-format=json \
		--output="$work/fio.json" >"$work/fio.err" 2>&1 ||
		die "fio failed: $(head -c 300 "$work/fio.err")"
	python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))["jobs"][0]
if j["error"] or j["read"]["total_ios"] <= 0:
    sys.exit("fio: error %d, %d I/Os" % (j["error"], j["read"]["total_ios"]))
print("%.1f %d" % (j["read"]["iops"], j["read"]["total_ios"]))' "$work/fio.json" ||
		die "cannot read fio's JSON output"
}

# ---- the tools ----

# wait_attached NAME CHECK: until CHECK succeeds, while the tool runs;
# sets $attach_s to the seconds that took
wait_attached() {
	local name=$1 check=$2 start=$SECONDS end=$((SECONDS + ATTACH_TIMEOUT))
	until "$check"; do
		if ! kill -0 "$tool_pid" 2>/dev/null; then
			wait "$tool_pid"
			local rc=$?
			tool_pid=
			die "$name ended (status $rc) before it was attached: $(tool_output "$name")"
		fi
		[ $SECONDS -lt $end ] || die "$name not attached after ${ATTACH_TIMEOUT}s: $(tool_output "$name")"
		sleep 0.2
	done
	attach_s=$((SECONDS - start))
}

# The first lines of what a tool wrote, for an error message
tool_output() {
	head -c 300 "$work/$1.out" "$work/$1.err" 2>/dev/null | tr '\n' ' '
}

# stop_tool NAME: SIGINT, and the tool must exit with status 0
stop_tool() {
	local rc
	kill -INT "$tool_pid" || die "$1 was gone before it was stopped: $(tool_output "$1")"
	wait "$tool_pid"
	rc=$?
	tool_pid=
	[ "$rc" = 0 ] || die "$1 exited with status $rc: $(tool_output "$1")"
}

# The one-liner is attached when it said so ("Attaching 1 probe...": on
# stdout with bpftrace 0.17, on stderr with others) and the kernel lists
# its kprobe on alloc_iova_fast, enabled.
bpftrace_attached() {
	grep -qs '^Attaching 1 probe' "$work/bpftrace.out" "$work/bpftrace.err" &&
		awk '$3 ~ /^alloc_iova_fast\+/ && !/DISABLED/ { found = 1 } END { exit !found }' "$KPROBES"
}

start_bpftrace() {
	bpftrace -e "$ONELINER" >"$work/bpftrace.out" 2>"$work/bpftrace.err" &
	tool_pid=$!
	wait_attached bpftrace bpftrace_attached
}

# After SIGINT the one-liner prints "@calls: N": it must have counted.
# Sets $extra to "ATTACH_S N".
stop_bpftrace() {
	local calls
	stop_tool bpftrace
	calls=$(sed -n 's/^@calls: \([0-9][0-9]*\)$/\1/p' "$work/bpftrace.out")
	if ! [[ $calls =~ ^[0-9]+$ ]] || ((calls == 0)); then
		die "the one-liner counted no call of alloc_iova_fast: $(tool_output bpftrace)"
	fi
	extra="$attach_s $calls"
}

# iovatop is attached when its first table is out (after its interval)
iovatop_attached() {
	grep -q ' mode [a-z]' "$work/iovatop.out"
}

# Its tables go to a file in tmpfs (not /dev/null): they say when it is
# attached and what it saw.
start_iovatop_view() {
	"$IOVATOP" -b 1 >"$work/iovatop.out" 2>"$work/iovatop.err" &
	tool_pid=$!
	wait_attached iovatop iovatop_attached
}

# The full hooks: JSON lines, attached once the first is out
iovatop_full_attached() {
	[ -s "$work/iovatop-full.out" ]
}

start_iovatop_full() {
	"$IOVATOP" -j 1 >"$work/iovatop-full.out" 2>"$work/iovatop-full.err" &
	tool_pid=$!
	wait_attached iovatop-full iovatop_full_attached
}

# It must have counted fio's allocations on the NVMe disk.  Sets $extra
# to "ATTACH_S MODE ALLOCS_PER_S" (the largest interval's rate).
stop_iovatop_full() {
	local res
	stop_tool iovatop-full
	res=$(python3 - "$work/iovatop-full.out" "${LAB_NVME_BDF:-none}" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
rates = [d["allocs"] / r["interval_s"] for r in rows for d in r["domains"]
         if d["device"].startswith(sys.argv[2]) and r["interval_s"] > 0]
modes = {r["mode"] for r in rows}
if len(modes) != 1 or not rates or max(rates) <= 0:
    sys.exit("modes %s, NVMe allocation rates %s" % (sorted(modes), rates[:3]))
print("%s %.0f" % (modes.pop(), max(rates)))
PY
) || die "iovatop -j showed no allocation of the NVMe disk: $res"
	extra="$attach_s $res"
}

# The NVMe disk's largest ALLOC/s in the tables: iovatop must have seen
# fio's allocations.  Sets $extra to "ATTACH_S MODE ALLOCS_PER_S".
stop_iovatop_view() {
	local mode allocs
	stop_tool iovatop
	mode=$(sed -n 's/.* mode \([a-z]*\) .*/\1/p' "$work/iovatop.out" | sort -u | tr '\n' ' ')
	mode=${mode% }
	allocs=$(awk -v bdf="${LAB_NVME_BDF:-none}" '
		$1 == "ID" && $2 == "DEVICE" { for (i = 1; i <= NF; i++) if ($i == "ALLOC/s") col = i; next }
		col && $2 == bdf && $col + 0 > max { max = $col + 0 }
		END { print max + 0 }' "$work/iovatop.out")
	[[ $mode =~ ^[a-z]+$ ]] || die "iovatop's tables name no single mode: '$mode'"
	((allocs > 0)) ||
		die "iovatop showed no allocation of the NVMe disk ($LAB_NVME_BDF): $(tail -c 300 "$work/iovatop.out")"
	extra="$attach_s $mode $allocs"
}

# ---- one round ----

# run_condition RUN CONDITION POSITION: one fio run under CONDITION, a
# line in $work/runs:  RUN CONDITION POSITION IOPS IOS [ATTACH_S EXTRA...]
# (the tools are started and stopped in this shell: wait needs its child)
run_condition() {
	local run=$1 cond=$2 pos=$3 res
	extra=
	case "$cond" in
	none) res=$(fio_once) || exit 1 ;;
	bpftrace)
		start_bpftrace
		res=$(fio_once) || exit 1
		stop_bpftrace
		;;
	iovatop)
		start_iovatop_view
		res=$(fio_once) || exit 1
		stop_iovatop_view
		;;
	iovatop-full)
		start_iovatop_full
		res=$(fio_once) || exit 1
		stop_iovatop_full
		;;
	esac
	echo "$run $cond $pos $res $extra" | tee -a "$work/runs"
}

[ -b "${LAB_NVME_DEV:-}" ] || die "no NVMe disk in this lab"
[ -x "$IOVATOP" ] || die "no $IOVATOP (make)"
command -v bpftrace >/dev/null || die "bpftrace not found (Debian package bpftrace)"
command -v fio >/dev/null || die "fio not found (Debian package fio)"
[ -r "$KPROBES" ] || die "no $KPROBES: cannot tell that the one-liner is attached"

bpftrace --version >"$work/bpftrace.version" 2>&1 || die "bpftrace --version failed"
"$IOVATOP" --hooks >"$work/hooks" 2>&1 || die "iovatop --hooks failed: $(head -c 300 "$work/hooks")"
hooks_mode=$(sed -n 's/^mode: \([a-z]*\):.*/\1/p' "$work/hooks")
[ -n "$hooks_mode" ] || die "iovatop --hooks names no mode: $(head -c 300 "$work/hooks")"
# the hooks: the lines under "mode:", up to "unavailable:"
sed -n '/^mode: /,/^unavailable:/p' "$work/hooks" | sed '1d;$d' | sed 's/^ *//' >"$work/hook-lines"
echo "# $(uname -r): iovatop --hooks mode $hooks_mode; $(head -n 1 "$work/bpftrace.version")"

# one fio run not counted: the first pays for fio's start over 9p
fio_once >/dev/null || exit 1
: >"$work/runs"
for run in $(seq "$runs"); do
	for pos in 0 1 2 3; do
		run_condition "$run" "${CONDITIONS[$(((round - 1 + run - 1 + pos) % 4))]}" "$pos" || exit 1
	done
done

# bpf_stats: each program's calls and run time over one fio run per tool,
# read while the tool still runs; "TOOL NAME CALLS RUN_NS IOS" lines
bpf_stats_pass() {
	local tool=$1 ios
	case "$tool" in
	bpftrace) start_bpftrace ;;
	iovatop) start_iovatop_view ;;
	iovatop-full) start_iovatop_full ;;
	esac
	bpftool prog show --json >"$work/progs.before" || die "bpftool prog show failed"
	ios=$(fio_once | cut -d' ' -f2) || exit 1
	bpftool prog show --json >"$work/progs.after" || die "bpftool prog show failed"
	python3 - "$work/progs.before" "$work/progs.after" "$tool" "$ios" <<'PY' >>"$work/stats" ||
import json, sys
before = {p["id"]: p for p in json.load(open(sys.argv[1]))}
for p in json.load(open(sys.argv[2])):
    b = before.get(p["id"], {})
    calls = p.get("run_cnt", 0) - b.get("run_cnt", 0)
    if calls > 0:
        print(sys.argv[3], p.get("name", "?"), calls,
              p.get("run_time_ns", 0) - b.get("run_time_ns", 0), sys.argv[4])
PY
		die "cannot read bpftool's output"
	stop_tool "$tool"
}
: >"$work/stats"
echo 1 >/proc/sys/kernel/bpf_stats_enabled || die "cannot enable kernel.bpf_stats_enabled"
for tool in "${TOOLS[@]}"; do
	bpf_stats_pass "$tool"
done
echo 0 >/proc/sys/kernel/bpf_stats_enabled
cat "$work/stats"

out=$LAB_OUT/oneliner-$KERNEL_VARIANT-$round.json
python3 - "$work/runs" "$work/hook-lines" "$work/bpftrace.version" "$hooks_mode" "$work/stats" \
	"$KERNEL_VARIANT" "$round" "$(uname -r)" "$(nproc)" "$secs" "$ONELINER" \
	"$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)" \
	>"$work/out.json" <<'PY' || die "cannot write the results"
import json, sys
(runs_file, hooks_file, version_file, hooks_mode, stats_file, variant, rnd, kernel,
 cpus, secs, oneliner, clock) = sys.argv[1:]
runs = {}
iops = {"none": [], "bpftrace": [], "iovatop": [], "iovatop-full": []}
bpf_stats = {}
for line in open(stats_file):
    tool, name, calls, run_ns, ios = line.split()
    bpf_stats.setdefault(tool, []).append(
        {"program": name, "calls": int(calls), "run_ns": int(run_ns), "fio_ios": int(ios)})
modes = set()
for line in open(runs_file):
    f = line.split()
    run, cond, pos, rate, ios = int(f[0]), f[1], int(f[2]), float(f[3]), int(f[4])
    r = runs.setdefault(run, {"run": run, "order": [], "iops": {}, "ios": {}})
    r["order"].append(cond)
    r["iops"][cond] = rate
    r["ios"][cond] = ios
    iops[cond].append(rate)
    if cond != "none":
        r.setdefault("attach_s", {})[cond] = int(f[5])
    if cond == "bpftrace":
        r["bpftrace_calls"] = int(f[6])
    elif cond in ("iovatop", "iovatop-full"):
        key = cond.replace("-", "_")
        r[key + "_mode"] = f[6]
        r[key + "_nvme_allocs_per_s_max"] = float(f[7])
        modes.add(f[6])
if len(modes) != 1 or hooks_mode not in modes:
    sys.exit("iovatop ran in mode(s) %s, --hooks said %s" % (sorted(modes), hooks_mode))
print(json.dumps({
    "variant": variant, "round": int(rnd), "kernel": kernel, "cpus": int(cpus),
    "clocksource": clock,
    "fio": {"rw": "randread", "bs": "4k", "iodepth": 8, "ioengine": "libaio",
            "direct": 1, "numjobs": 1, "seconds": int(secs)},
    "oneliner": oneliner,
    "iovatop_command": "iovatop -b 1",
    "iovatop_full_command": "iovatop -j 1",
    "bpf_stats": bpf_stats,
    "bpftrace_version": open(version_file).read().strip(),
    "iovatop_mode": hooks_mode,
    "iovatop_hooks": [l.rstrip("\n") for l in open(hooks_file) if l.strip()],
    "iops": iops,
    "runs": [runs[k] for k in sorted(runs)]}, indent=1))
PY
cp "$work/out.json" "$out" || die "cannot write $out"
echo "# $out"
