#!/bin/bash
# The kernel patch series: every patch is checkpatch --strict clean, has a
# real commit message, is listed in the series, every prefix of the
# series builds and boots, and the KUnit tests leave the fast path alone.
#   PATCHES_BISECT=0   skip the build-and-boot of each prefix
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
. "$TOP_DIR/tests/lab/common.sh"

cd "$TOP_DIR" || exit 1
scratch_out
mapfile -t patches < <(series_patches)

test_series_complete() {
	local listed on_disk
	listed=$(printf '%s\n' "${patches[@]##*/}" | sort)
	on_disk=$(cd kernel-patches && ls -1 -- *.patch | sort)
	expect_eq series-lists-every-patch "$on_disk" "$listed" "patches in kernel-patches/ vs series"
}

# checkpatch from the vanilla lab tree, run from inside it so it finds the
# kernel's spelling list and MAINTAINERS; python3 from Debian for its
# SPDX check.
test_checkpatch() {
	local tree p name
	tree=$(KERNEL_VARIANT=vanilla tests/lab/kernel --dir)/linux || {
		fail checkpatch "no vanilla kernel tree to take checkpatch.pl from"
		return
	}
	for p in "${patches[@]}"; do
		name=checkpatch-${p##*/}
		(cd "$tree" && PATH=/usr/bin:$PATH scripts/checkpatch.pl --strict \
			--ignore MISSING_SIGN_OFF,FILE_PATH_CHANGES "$p") >"$out/cp" 2>&1
		if ! grep -q 'total: 0 errors, 0 warnings, 0 checks' "$out/cp"; then
			fail "$name" "$(grep -m 3 -E '^(ERROR|WARNING|CHECK)|total' "$out/cp" | tr '\n' ' ')"
		else
			pass "$name"
		fi
	done
}

# What, why and the measured effect need more than a subject line; and
# the project signs nothing in a person's name.
test_commit_messages() {
	local p body
	for p in "${patches[@]}"; do
		body=$(sed -n '/^$/,/^---$/p' "$p" | grep -vc '^\(---\)\?$')
		if ((body < 8)); then
			fail "message-${p##*/}" "commit message has only $body lines of text"
		elif grep -qiE '^(Signed-off-by|Reviewed-by|Acked-by|Tested-by):' "$p"; then
			fail "message-${p##*/}" "carries a person's tag"
		else
			pass "message-${p##*/}"
		fi
	done
}

# Each prefix of the series builds and boots (the full series is the
# default lab kernel, tested by the lab suites).
test_each_patch_builds_and_boots() {
	local k n=${#patches[@]} rc
	if [ "${PATCHES_BISECT:-1}" = 0 ]; then
		skip series-bisect "PATCHES_BISECT=0"
		return
	fi
	for ((k = 1; k < n; k++)); do
		if ! KERNEL_PATCHES_UPTO=$k tests/lab/kernel >"$out/build" 2>&1; then
			fail "series-builds-upto-$k" "$(grep 'error' "$out/build" | head -n 2 | tr '\n' ' ')"
			continue
		fi
		pass "series-builds-upto-$k"
		KERNEL_PATCHES_UPTO=$k LAB_TIMEOUT=300 LAB_KUNIT=1 tests/lab/run \
			'cat /sys/kernel/tracing/events/iova/iova_rcache_alloc/id >/dev/null' \
			</dev/null >"$out/boot" 2>&1
		rc=$?
		check "series-boots-upto-$k" "$(tail -n 2 "$out/boot" | tr '\n' ' ')" [ "$rc" = 0 ]
	done
}

# The instructions of one function in an object file, addresses left out
fast_path_code() {
	objdump -d --no-show-raw-insn "$1" |
		awk -v f="<$2>:" '$2 == f { on = 1; next } on && /^$/ { exit } on' |
		sed -E 's/^ *[0-9a-f]+:\s*//; s/[0-9a-f]+ <[^>]*>/ADDR/g'
}

# Built-in KUnit tests must not change how the fast path compiles: the
# full series with and without CONFIG_IOMMU_IOVA_KUNIT_TEST gives the same
# alloc_iova_fast() and free_iova_fast() (once they did not, and cost 15%).
test_fast_path_without_tests() {
	local n=${#patches[@]} with without f
	if [ "${PATCHES_BISECT:-1}" = 0 ]; then
		skip fast-path-same-without-kunit "PATCHES_BISECT=0"
		return
	fi
	with=$(tests/lab/kernel --dir)/linux/drivers/iommu/iova.o
	if ! KERNEL_PATCHES_UPTO=$n KERNEL_IOVA_KUNIT=0 tests/lab/kernel >"$out/build" 2>&1; then
		fail fast-path-same-without-kunit "the series without KUnit does not build"
		return
	fi
	without=$(KERNEL_PATCHES_UPTO=$n KERNEL_IOVA_KUNIT=0 tests/lab/kernel --dir)/linux/drivers/iommu/iova.o
	for f in alloc_iova_fast free_iova_fast; do
		fast_path_code "$with" $f >"$out/with"
		fast_path_code "$without" $f >"$out/without"
		check "fast-path-same-without-kunit-$f" \
			"$(diff "$out/with" "$out/without" | wc -l) lines differ ($(wc -l <"$out/with") instructions)" \
			eval '[ -s "$out/with" ] && cmp -s "$out/with" "$out/without"'
	done
}

test_series_complete
test_checkpatch
test_commit_messages
test_each_patch_builds_and_boots
test_fast_path_without_tests
