#!/bin/bash
# variants: default debug vanilla
# Every load generator scenario runs, does what it says, and (on the debug
# kernel) provokes no lockdep or KASAN report; bad commands are refused.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib.sh"

CPUS=$(nproc)
last=$((CPUS - 1))

status_is() {
	local name=$1
	shift
	local want got=""
	for want in "$@"; do
		got+="${want%%=*}=$(iovaload_status "${want%%=*}") "
	done
	expect_eq "$name" "$* " "$got" "iovaload status"
}

refused() {
	local name=$1 want=$2
	shift 2
	if echo "$*" >"$IOVALOAD/control" 2>"$work/err"; then
		fail "$name" "'$*' was accepted"
	else
		check "$name" "'$*': $(cat "$work/err")" grep -q "$want" "$work/err"
	fi
}

work=$(mktemp -d)
trap 'iovaload destroy 2>/dev/null; rm -rf "$work"' EXIT
load_iovaload || { fail iovaload-scenarios "cannot load iovaload"; exit 0; }

refused iovaload-needs-domain "No such device" alloc cpu=0 n=1
iovaload create
refused iovaload-second-domain "busy" create
refused iovaload-unknown-command "Invalid argument" explode
refused iovaload-unknown-key "Invalid argument" alloc cpu=0 n=1 colour=red
refused iovaload-bad-cpu "Invalid argument" alloc cpu=4096 n=1
refused iovaload-bad-size "Invalid argument" alloc cpu=0 n=1 size=0

iovaload reset
iovaload alloc cpu=0 n=1000 order=0
iovaload free cpu=$last how=lifo
status_is iovaload-alloc-free-lifo allocs=1000 frees=1000 held=0 alloc_failures=0

iovaload reset
iovaload alloc cpu=$last n=1000 order=1
iovaload free cpu=0 how=alternate
status_is iovaload-free-alternate allocs=1000 frees=500 held=500
iovaload free cpu=0
status_is iovaload-free-rest frees=1000 held=0

iovaload reset
iovaload mixed cpu=$last n=50
status_is iovaload-mixed-sizes allocs=500 frees=500 held=0 alloc_failures=0

iovaload reset
iovaload rotate n=300 order=3 rounds=2
status_is iovaload-rotate allocs=$((300 * 2 * CPUS)) frees=$((300 * 2 * CPUS))

iovaload reset
iovaload concurrent n=400 order=2 rounds=3
status_is iovaload-concurrent allocs=$((400 * 3 * CPUS)) frees=$((400 * 3 * CPUS)) alloc_failures=0

# 32-bit pressure: only 512 pages below 4 GiB, 200 of them cached by
# CPU 0.  CPU 1 fills the rest from the rbtree (312); its next allocation
# fails, alloc_iova_fast() flushes every CPU's cache and retries, which
# gives CPU 0's 200 back: all 512 are held when the failure after that
# ends the fill.  Without the flush giving them back, 312 would be.
iovaload destroy
iovaload create start_pfn=$((0x100000 - 512))
iovaload reset
iovaload alloc cpu=0 n=200 limit=32
iovaload free cpu=0
iovaload fill cpu=1 limit=32
status_is iovaload-fill-32bit allocs=713 alloc_failures=1 held=512
iovaload destroy
status_is iovaload-destroyed domain=0x0 held=0

iovaload reset
iovaload map dev="$LAB_EDU_BDF" cpu=0 n=200 bytes=8192
status_is iovaload-dma-map maps=200 map_failures=0 unmaps=200
