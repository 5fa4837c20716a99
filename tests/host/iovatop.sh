#!/bin/bash
# Host-side tests of iovatop that need a lab boot of their own: on a
# machine without an IOMMU DMA domain (IOMMU off, or in passthrough),
# iovatop says exactly that in one line and exits 1; --hooks lists the
# modes and says why none can serve.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

cd "$TOP_DIR" || exit 1
scratch_out
WANT='iovatop: error: no IOMMU DMA domain on this machine (no IOMMU, or it is off or in passthrough): no IOVA allocator to show'

# usage: test_no_dma_domain NAME KERNEL_ARGUMENTS
test_no_dma_domain() {
	local name=$1 rc
	LAB_APPEND=$2 nice -n 10 tests/lab/run \
		'echo "groups=$(ls /sys/kernel/iommu_groups | wc -l) dma=$(cat /sys/kernel/iommu_groups/*/type 2>/dev/null | grep -c ^DMA)"; .output/iovatop -b 1 1 >"$LAB_OUT/out" 2>&1; echo "rc=$?"; sed "s/^/out: /" "$LAB_OUT/out"; .output/iovatop --hooks >"$LAB_OUT/hooks" 2>&1; echo "hooks_rc=$?"; sed "s/^/hooks: /" "$LAB_OUT/hooks"' \
		</dev/null 2>&1 | tr -d '\r' >"$out/log"
	rc=${PIPESTATUS[0]}
	if [ "$rc" != 0 ]; then
		fail "$name" "the lab run failed ($rc): $(tail -n 2 "$out/log" | tr '\n' ' ')"
		return
	fi
	echo "# $name: $(grep -E '^(groups|rc)=' "$out/log" | tr '\n' ' ')"
	check "$name-no-dma-group" "$(grep '^groups=' "$out/log")" grep -q ' dma=0$' "$out/log"
	expect_eq "$name-exit-1" "rc=1" "$(grep '^rc=' "$out/log")" "iovatop exit status"
	expect_eq "$name-one-line" "out: $WANT" "$(grep '^out: ' "$out/log")" "iovatop's output"
	# --hooks still lists the modes, each with why, and the machine's reason
	expect_eq "$name-hooks-exit-1" "hooks_rc=1" "$(grep '^hooks_rc=' "$out/log")" "--hooks exit status"
	check "$name-hooks-modes" "$(grep '^hooks: ' "$out/log" | tr '\n' '|')" \
		eval '[ "$(grep -cE "^hooks:   (counters|tracepoint|fentry) " "$out/log")" = 3 ] &&
		      grep -q "^hooks: this machine: no IOMMU DMA domain" "$out/log"'
}

# intremap=off too: under a loaded host, the timer check through an
# interrupt-remapped IO-APIC sometimes times out and panics the boot
test_no_dma_domain iovatop-iommu-off "intel_iommu=off intremap=off"
test_no_dma_domain iovatop-iommu-passthrough iommu.passthrough=1
