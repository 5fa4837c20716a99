# Shell helpers shared by the lab scripts (sourced, not run).
# shellcheck shell=bash

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP_DIR=$(cd "$LAB_DIR/../.." && pwd)
DMASCOPE_CACHE=${DMASCOPE_CACHE:-$HOME/.cache/dmascope}
KERNEL_SOURCE_TARBALL=${KERNEL_SOURCE_TARBALL:-/usr/src/linux-source-6.1.tar.xz}

# One-line error on stderr, then exit.  The prefix names the script.
die() {
	printf '%s: error: %s\n' "${0##*/}" "$*" >&2
	exit 1
}

say() {
	printf '%s: %s\n' "${0##*/}" "$*" >&2
}

# Print seconds as 3m05s.
fmt_duration() {
	printf '%dm%02ds' $(($1 / 60)) $(($1 % 60))
}

# Kernel variants: what is merged on top of allnoconfig, and whether the
# patch series is applied.
check_variant() {
	case "$1" in
	default | debug | vanilla) ;;
	*) die "unknown KERNEL_VARIANT '$1' (expected default, debug or vanilla)" ;;
	esac
}

variant_fragments() {
	local c=$LAB_DIR/config
	case "$1" in
	default) echo "$c/lab.config $c/patched.config" ;;
	debug) echo "$c/lab.config $c/patched.config $c/debug.config" ;;
	vanilla) echo "$c/lab.config" ;;
	esac
}

variant_has_patches() {
	[ "$1" != vanilla ]
}

# The patches of kernel-patches/series, in order, one path per line.
# Blank lines and '#' comments are ignored, as quilt does.
series_patches() {
	local series=$TOP_DIR/kernel-patches/series line
	[ -f "$series" ] || return 0
	while IFS= read -r line || [ -n "$line" ]; do
		line=${line%%#*}
		line=${line//[[:space:]]/}
		[ -n "$line" ] && echo "$TOP_DIR/kernel-patches/$line"
	done <"$series"
}
