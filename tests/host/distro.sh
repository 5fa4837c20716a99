#!/bin/bash
# Host-side tests of the lab on a Debian kernel image: fetch it, boot it
# with the lab's devices, and check that it is the image's kernel, that
# the NVMe disk works behind the IOMMU, that it has BTF, and that forced
# bouncing through a small SWIOTLB works.  Test names begin with the variant.
#
#   tests/host/distro.sh VARIANT      debian-6.1 or debian-backports
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
. "$TOP_DIR/tests/lab/common.sh"

variant=${1:-}
distro_suite "$variant" >/dev/null ||
	die "usage: tests/host/distro.sh debian-6.1|debian-backports"
export KERNEL_VARIANT=$variant
cd "$TOP_DIR" || exit 1
scratch_out
t=$variant

# value KEY FILE: the value of a "key value" line of distro-probe's output
value() {
	sed -n "s/^$1 //p" "$2" | tr -d '\r' | head -n 1
}

# lab_probe NAME [LAB_APPEND]: boot the image, run distro-probe, keep its
# output in $out/NAME and the lab's exit status in $out/NAME.rc; say how
# long the boot and the probe took.  One vCPU: in about 1 of 12 boots of
# the 6.12 image with two, a vCPU ran a breakpoint that the kernel's code
# patching had already taken out again (an Oops: int3, QEMU's
# multi-threaded TCG); the probe needs no second CPU.
lab_probe() {
	local name=$1 start=$SECONDS rc
	LAB_CPUS=1 LAB_APPEND=${2:-} LAB_TIMEOUT=900 tests/lab/run tests/host/distro-probe \
		</dev/null >"$out/$name" 2>&1
	rc=$?
	echo "$rc" >"$out/$name.rc"
	echo "# $variant $name: lab exit status $rc after $((SECONDS - start))s"
	return "$rc"
}

test_fetch() {
	local dir
	if ! tests/lab/kernel >"$out/fetch" 2>&1 || ! dir=$(tests/lab/kernel --dir 2>>"$out/fetch"); then
		fail "$t-fetch" "$(tail -n 1 "$out/fetch")"
		return 1
	fi
	if [ -f "$dir/bzImage" ] && [ -f "$dir/initrd" ] && [ -f "$dir/package" ]; then
		pass "$t-fetch"
		echo "# $variant: $(cat "$dir/package")"
	else
		fail "$t-fetch" "$dir lacks bzImage, initrd or package"
		return 1
	fi
	# Asked again, with the suite read again: nothing to fetch.
	rm -f "$DMASCOPE_CACHE/distro/$variant/apt/updated"
	tests/lab/kernel >"$out/fetch" 2>&1
	check "$t-not-fetched-again" "$(tail -n 1 "$out/fetch")" \
		grep -q "kernel up to date: $(cat "$dir/package")" "$out/fetch"
}

# With the IOMMU on.
test_boot() {
	local dir pkg f=$out/iommu
	dir=$(tests/lab/kernel --dir)
	pkg=$(cut -d' ' -f1 "$dir/package")
	if [ "$(cat "$out/iommu.rc")" != 0 ]; then
		fail "$t-boots" "$(grep -E 'error' "$f" | tail -n 1)"
		return
	fi
	pass "$t-boots"
	expect_eq "$t-uname-is-image" "${pkg#linux-image-}" "$(value uname "$f")" "uname -r in the guest"
	expect_eq "$t-btf" yes "$(value btf "$f")" "/sys/kernel/btf/vmlinux exists"
	expect_eq "$t-iommu-enabled" 1 "$(value dmar "$f")" "'DMAR: IOMMU enabled' lines in dmesg"
	check "$t-nvme-translated" "NVMe IOMMU domain type: '$(value nvme_domain "$f")'" \
		grep -qE '^nvme_domain DMA(-FQ)?$' "$f"
	expect_eq "$t-nvme-direct-io" same "$(value dd_roundtrip "$f")" "4 MiB written and read back with direct I/O"
	check_fio "$t-fio" "$f"
	test_iovatop_bare "$f"
}

# iovatop as copied to a host: from a root without libbpf, libelf or
# zlib, in fentry mode, it counts at least one IOVA allocation of the
# NVMe disk's domain for each of fio's I/Os
test_iovatop_bare() {
	local f=$1 allocs ios
	echo "# $variant bare root: $(value bare_root "$f")"
	expect_eq "$t-bare-root-no-bpf-libs" 0 "$(value bare_bpf_libs "$f")" \
		"libbpf, libelf or libz files in the root the tools run from"
	allocs=$(value iovatop_nvme_allocs "$f")
	ios=$(value fio_ios "$f")
	echo "# $variant iovatop: mode $(value iovatop_mode "$f"), $allocs allocations in the NVMe domain for $ios fio I/Os"
	check "$t-iovatop-bare-root" "exit $(value iovatop_status "$f"), mode $(value iovatop_mode "$f"); $(value iovatop_stderr "$f")" \
		eval '[ "$(value iovatop_status "$f")" = 0 ] && [ "$(value iovatop_mode "$f")" = fentry ]'
	if [[ $allocs =~ ^[0-9]+$ ]] && [[ $ios =~ ^[0-9]+$ ]] && ((ios > 0 && allocs >= ios)); then
		pass "$t-iovatop-counts-nvme"
	else
		fail "$t-iovatop-counts-nvme" "$allocs allocations in the NVMe domain for $ios fio I/Os"
	fi
}

# fio with its defaults (SysV shared memory) wrote and verified 16 MiB.
check_fio() {
	local name=$1 f=$2 why
	why="fio exit status $(value fio_status "$f"), wrote $(value fio_written "$f"),"
	why+=" verified $(value fio_verified "$f"), errors $(value fio_errors "$f");"
	why+=" $(value fio_stderr "$f")"
	if [ "$(value fio_status "$f")" = 0 ] && [ "$(value fio_written "$f")" = 16777216 ] &&
		[ "$(value fio_verified "$f")" = 16777216 ] && [ "$(value fio_errors "$f")" = 0 ]; then
		pass "$name"
	else
		fail "$name" "$why"
	fi
}

# Every DMA bounced through a 1 MiB SWIOTLB, no IOMMU: debugfs shows the
# pool of the command line, and each of fio's I/Os was bounced at least
# once (the swiotlb_bounced event of the NVMe device).
test_forced_bouncing() {
	local f=$out/bounce ios bounced
	if [ "$(cat "$out/bounce.rc")" != 0 ]; then
		fail "$t-swiotlb-forced-boots" "$(grep -E 'error' "$f" | tail -n 1)"
		return
	fi
	pass "$t-swiotlb-forced-boots"
	expect_eq "$t-swiotlb-nslabs" 512 "$(value swiotlb_nslabs "$f")" \
		"/sys/kernel/debug/swiotlb/io_tlb_nslabs"
	expect_eq "$t-swiotlb-direct-io" same "$(value dd_roundtrip "$f")" \
		"4 MiB written and read back through bounce buffers"
	check_fio "$t-swiotlb-fio" "$f"
	ios=$(value fio_ios "$f")
	bounced=$(value bounced "$f")
	echo "# $variant bounce: $bounced swiotlb_bounced events of the NVMe device for $ios fio I/Os"
	if [[ $ios =~ ^[0-9]+$ ]] && [[ $bounced =~ ^[0-9]+$ ]] && ((ios > 0 && bounced >= ios)); then
		pass "$t-swiotlb-bounces-nvme"
	else
		fail "$t-swiotlb-bounces-nvme" "$bounced swiotlb_bounced events of the NVMe device for $ios fio I/Os"
	fi
}

# swiotlbstat on the image's kernel, run from a root without libbpf,
# libelf or zlib: the fallback (no swiotlb:* events of the dmascope
# patches) finds the pool, agrees with debugfs, and counts
# every byte fio wrote and verified (32 MiB) as bounced for the NVMe disk.
test_swiotlbstat() {
	local f=$out/bounce state bytes want debugfs
	expect_eq "$t-swiotlbstat-fentry" fentry "$(value stat_mode "$f")" "swiotlbstat --hooks mode"
	echo "# $variant swiotlbstat: $(value stat_mem "$f")"
	state="$(value stat_quiet_window_total_slots "$f") $(value stat_quiet_window_used_slots "$f")"
	debugfs=$(value stat_debugfs_before "$f")
	# before 6.4 the kernel keeps no high-water mark: swiotlbstat samples its own
	if [ "${debugfs##* }" = none ]; then
		debugfs=${debugfs% none}
	else
		state+=" $(value stat_quiet_window_hiwater_slots "$f")"
	fi
	echo "# $variant swiotlbstat (total used hiwater): $state in $(value stat_quiet_window_lines "$f") lines; debugfs: $(value stat_debugfs_before "$f"), then $(value stat_debugfs_after "$f")"
	if [ "$(value stat_debugfs_before "$f")" != "$(value stat_debugfs_after "$f")" ]; then
		fail "$t-swiotlbstat-debugfs" "debugfs changed while nothing ran"
	elif [ "$(value stat_quiet_window_lines "$f")" != 3 ]; then
		fail "$t-swiotlbstat-debugfs" "$(value stat_quiet_window_lines "$f") of 3 lines; $(value stat_stderr "$f")"
	else
		expect_eq "$t-swiotlbstat-debugfs" "$debugfs" "$state" \
			"total, used and high-water slots (debugfs, swiotlbstat)"
	fi
	bytes=$(value stat_load_dev_bounced_bytes "$f")
	want=$(($(value fio_written "$f") + $(value fio_verified "$f")))
	echo "# $variant swiotlbstat: $bytes bytes bounced for the NVMe disk, fio moved $want"
	check "$t-swiotlbstat-bounced-bytes" "swiotlbstat $bytes bytes, fio $want" \
		python3 -c 'import sys; s, f = map(int, sys.argv[1:]); sys.exit(not (f > 0 and abs(s - f) <= f / 100))' \
		"${bytes:-0}" "$want"
	expect_eq "$t-swiotlbstat-nothing-lost" 0 "$(value stat_load_lost "$f")" "events lost"
	# attached; the lab's VM takes spinlocks without the events (see swiotlbstat(8))
	expect_eq "$t-swiotlbstat-lock-hook" 1 "$(value stat_lock_hook "$f")" \
		"lock:contention_begin/end attached (--hooks)"
}

# The mirror cannot be reached: the image fetched before is used, and
# said so; with nothing fetched before, one line names the problem.
test_offline() {
	local dir cache=$out/cache rc
	dir=$(tests/lab/kernel --dir) || return
	mkdir -p "$cache/distro/$variant"
	ln -s "$dir" "$cache/distro/$variant/current"
	printf 'Acquire::http::Proxy "http://127.0.0.1:9/";\nAcquire::https::Proxy "http://127.0.0.1:9/";\nAcquire::Retries "0";\n' \
		>"$out/offline.conf"
	APT_CONFIG=$out/offline.conf DMASCOPE_CACHE=$cache tests/lab/distro --update >"$out/offline" 2>&1
	rc=$?
	if [ "$rc" = 0 ] && grep -q 'warning: cannot read .*using the image fetched before' "$out/offline" &&
		[ "$(DMASCOPE_CACHE=$cache tests/lab/distro --dir 2>&1)" = "$dir" ]; then
		pass "$t-offline-uses-cache"
	else
		fail "$t-offline-uses-cache" "exit $rc; output: $(tail -n 1 "$out/offline")"
	fi
	rm -rf "$cache"
	APT_CONFIG=$out/offline.conf DMASCOPE_CACHE=$cache tests/lab/distro >"$out/offline" 2>&1
	rc=$?
	if [ "$rc" != 0 ] && [ "$(grep -c 'error:' "$out/offline")" = 1 ] &&
		grep -q "distro: error: cannot read $(distro_suite "$variant") from" "$out/offline"; then
		pass "$t-offline-empty-cache-error"
	else
		fail "$t-offline-empty-cache-error" "exit $rc; output: $(tail -n 1 "$out/offline")"
	fi
}

# The two boots, each of one vCPU, side by side: with the IOMMU on (the
# lab's default command line), and without it, every DMA bounced through
# a 1 MiB SWIOTLB.
probe_iommu() { lab_probe iommu; }
probe_bounce() { lab_probe bounce 'swiotlb=512,force intel_iommu=off'; }

if test_fetch; then
	test_offline
	side_by_side probe_iommu probe_bounce
	test_boot
	test_forced_bouncing
	test_swiotlbstat
else
	for name in not-fetched-again offline-uses-cache offline-empty-cache-error boots uname-is-image btf \
		iommu-enabled nvme-translated nvme-direct-io fio swiotlb-forced-boots \
		swiotlb-nslabs swiotlb-direct-io swiotlb-fio swiotlb-bounces-nvme swiotlbstat-fentry \
		swiotlbstat-debugfs swiotlbstat-bounced-bytes swiotlbstat-nothing-lost \
		swiotlbstat-lock-hook; do
		skip "$t-$name" "no $variant image"
	done
fi
