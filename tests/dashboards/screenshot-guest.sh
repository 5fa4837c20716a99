#!/bin/bash
# The lab half of tests/dashboards/screenshot: one tool exporting under a
# load that changes every phase, scraped each second by Debian's
# Prometheus, whose data directory is copied to $LAB_OUT/MODE/data for
# the host to serve and photograph (Prometheus needs mmap, which the 9p
# file system of $LAB_OUT does not offer: it runs in a local directory).
#   screenshot-guest.sh iova      iovatop; dma_map_benchmark, then seed
#                                 003's bursts rotated over the CPUs
#   screenshot-guest.sh swiotlb   swiotlbstat; fio light, heavy, then idle
#                                 (boot with swiotlb=512,force)
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../guest/lib.sh"
. "$(dirname "$0")/../guest/prometheus_lib.sh"

mode=${1:-}
port=9493
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
case $mode in
iova) tool=iovatop ;;
swiotlb) tool=swiotlbstat ;;
*)
	echo "screenshot-guest.sh: unknown mode '$mode' (iova, swiotlb)" >&2
	exit 2
	;;
esac

# swiotlbstat -L: the latency and direction panels have data
opts=""
[ "$tool" = iovatop ] || opts=-L
"$TOP_DIR/.output/$tool" -q $opts -p "127.0.0.1:$port" 1 >"$work/$tool.out" 2>&1 &
tool_pid=$!
prom_start "$work" "$tool" "$port"
[ "$(wait_for 1 180 prom_targets_up)" = 1 ] || {
	echo "screenshot-guest.sh: Prometheus does not scrape $tool: $(tail -n 2 "$work/$tool.out")" >&2
	exit 1
}
sleep 10	# a flat start

if [ "$mode" = iova ]; then
	load_iovaload || exit 1
	iovaload create
	run_benchmark 2 30 >/dev/null
	sleep 10
	for _ in $(seq 6); do
		iovaload rotate n=2000 order=0
		sleep 4
	done
	iovaload destroy
else
	fio_phase() {
		fio --name=shot --filename="$LAB_NVME_DEV" --direct=1 --rw=randrw --bs=64k \
			--ioengine=libaio --iodepth="$1" --numjobs="$2" --size=128M \
			--runtime="$3" --time_based --eta=never --output=/dev/null
	}
	fio_phase 2 1 25
	fio_phase 16 4 25
fi
sleep 20	# what is left after the load: caches aged, pools given back

kill -INT "$tool_pid"
kill -TERM "$PROM_PID"
wait
mkdir -p "$LAB_OUT/$mode"
cp -r "$work/data" "$LAB_OUT/$mode/data"
echo "# screenshot-guest.sh: $mode data in $LAB_OUT/$mode/data"
