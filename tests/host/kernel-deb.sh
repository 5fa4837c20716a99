#!/bin/bash
# make kernel-deb: the patched kernel as Debian packages, built by the
# kernel's bindeb-pkg with the lab's configuration; the image it packages
# boots in the lab and is the patched kernel.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
. "$TOP_DIR/tests/lab/common.sh"

cd "$TOP_DIR" || exit 1
scratch_out
debs=.output/kernel-deb

test_bad_config() {
	local rc
	KERNEL_CONFIG=/no/such/config dist/kernel-deb "$out" >"$out/log" 2>&1
	rc=$?
	check kernel-deb-bad-config-error "exit $rc: $(cat "$out/log")" \
		eval '[ "$rc" != 0 ] && [ "$(wc -l <"$out/log")" = 1 ] &&
			grep -q "KERNEL_CONFIG: no such file ./no/such/config." "$out/log"'
}

test_build() {
	local image version rc
	make -s kernel-deb >"$out/build" 2>&1
	rc=$?
	if [ "$rc" != 0 ]; then
		fail kernel-deb-builds "exit $rc: $(tail -n 3 "$out/build" | tr '\n' ' ')"
		return
	fi
	pass kernel-deb-builds
	image=$(ls "$debs"/linux-image-*-dmascope_*_amd64.deb 2>/dev/null | grep -v -- -dbg_ | head -n 1)
	check kernel-deb-packages "$(ls "$debs" | tr '\n' ' ')" \
		eval '[ -n "$image" ] && ls "$debs"/linux-headers-*-dmascope_*_amd64.deb "$debs"/linux-libc-dev_*_amd64.deb >/dev/null 2>&1'
	[ -n "$image" ] || return
	version=$(dpkg-deb -f "$image" Package | sed 's/^linux-image-//')
	echo "# $(basename "$image"): kernel $version"
	dpkg-deb -x "$image" "$out/root"
	check kernel-deb-image-contents "$(cd "$out/root" && find boot lib -maxdepth 2 | tr '\n' ' ')" \
		eval '[ -f "$out/root/boot/vmlinuz-$version" ] && [ -d "$out/root/lib/modules/$version" ]'
	# the packaged image boots, is the version packaged, and has the
	# series' trace events
	LAB_BZIMAGE=$out/root/boot/vmlinuz-$version LAB_TIMEOUT=300 tests/lab/run \
		'uname -r; ls /sys/kernel/tracing/events/iova /sys/kernel/tracing/events/swiotlb | grep -c _' \
		</dev/null >"$out/boot" 2>&1
	rc=$?
	tr -d '\r' <"$out/boot" | tail -n 2 >"$out/seen"
	check kernel-deb-boots-patched "exit $rc; $(tr '\n' ' ' <"$out/seen")" \
		eval '[ "$rc" = 0 ] && [ "$(head -n 1 "$out/seen")" = "$version" ] &&
			[ "$(tail -n 1 "$out/seen")" -ge 10 ]'
}

test_bad_config
test_build
