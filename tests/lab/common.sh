# Shell helpers shared by the lab scripts (sourced, not run).
# shellcheck shell=bash

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP_DIR=$(cd "$LAB_DIR/../.." && pwd)
DMASCOPE_CACHE=${DMASCOPE_CACHE:-$HOME/.cache/dmascope}
KERNEL_SOURCE_TARBALL=${KERNEL_SOURCE_TARBALL:-/usr/src/linux-source-6.1.tar.xz}

# The prefix of every message: the script's name, or the name a script
# sets before sourcing this file (several scripts are called "run").
script_name=${script_name:-${0##*/}}

# One-line error on stderr, then exit.
die() {
	printf '%s: error: %s\n' "$script_name" "$*" >&2
	exit 1
}

say() {
	printf '%s: %s\n' "$script_name" "$*" >&2
}

# The Debian package that provides command $1, from tests/lab/packages
# (each line: package, then the commands the scripts use from it).
package_of() {
	awk -v cmd="$1" '{ sub(/#.*/, "") }
		{ for (i = 2; i <= NF; i++) if ($i == cmd) { print $1; exit } }' \
		"$LAB_DIR/packages"
}

# Name the missing program and its package; $1 is what needed it.
die_not_found() {
	local pkg
	pkg=$(package_of "$2")
	die "$1: $2 not found (install the Debian package ${pkg:-that provides it}: make deps)"
}

# require WHAT CMD...: fail at once, before any long step, when a program
# that WHAT needs is missing.
require() {
	local what=$1 cmd
	shift
	for cmd in "$@"; do
		command -v "$cmd" >/dev/null 2>&1 || die_not_found "$what" "$cmd"
	done
}

# run_step NAME LOG CMD...: run CMD with its output appended to LOG, and
# report a failure with step_failed.
run_step() {
	local name=$1 log=$2 rc=0
	shift 2
	"$@" >>"$log" 2>&1 || rc=$?
	[ "$rc" = 0 ] || step_failed "$name" "$log" "$rc"
}

# step_failed NAME LOG STATUS: the last lines of LOG, then one line that
# names the step, the log, and the missing program when the log says that
# one was not found.
step_failed() {
	local name=$1 log=$2 rc=$3 missing
	tail -n 15 "$log" | sed 's/^/    /' >&2
	missing=$(sed -n -E -e 's/.*(^|[ :])([A-Za-z0-9_.+-]+): (command )?not found$/\2/p' \
		-e 's/^make(\[[0-9]+\])?: ([A-Za-z0-9_.+-]+): No such file or directory$/\2/p' \
		"$log" | tail -n 1)
	[ -n "$missing" ] && die_not_found "step '$name' failed (log: $log)" "$missing"
	die "step '$name' failed with status $rc (log: $log)"
}

# With set -e, a failing command would end a script without a word.  Every
# such script that sources this file says which command failed, and where.
# (Scripts without set -e check their commands themselves.)
on_error() {
	local rc=$1 line=$2 cmd=$3 prog
	prog=${cmd%% *}
	if [ "$rc" = 127 ] && ! command -v "$prog" >/dev/null 2>&1; then
		die_not_found "line $line" "$prog"
	fi
	die "line $line: '$cmd' failed with status $rc"
}
if [[ $- == *e* ]]; then
	set -E
	trap 'on_error $? $LINENO "$BASH_COMMAND"' ERR
fi

# The Debian mirror that this machine's apt uses for bookworm's main
# component (empty when apt knows none).
host_mirror() {
	apt-cache policy 2>/dev/null |
		awk '$3 == "bookworm/main" && $4 == "amd64" { print $2; exit }'
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
	debian-6.1 | debian-backports) ;;
	*) die "unknown KERNEL_VARIANT '$1' (expected default, debug, vanilla, debian-6.1 or debian-backports)" ;;
	esac
}

# Distribution kernels (tests/lab/distro): Debian's own kernel images,
# fetched rather than built.  Print the Debian suite of variant $1; fail
# for the lab's own kernels.
distro_suite() {
	case "$1" in
	debian-6.1) echo bookworm ;;
	debian-backports) echo bookworm-backports ;;
	*) return 1 ;;
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

# The code of a patch: what it changes, without its commit message (which
# builds nothing).
patch_code() {
	sed -n '/^diff --git /,$p' "$1"
}

# ccache for a kernel build whose trees are under $1 (paths are hashed
# relative to it, so a tree moved or copied there still hits).
use_ccache() {
	export CCACHE_DIR=$DMASCOPE_CACHE/ccache CCACHE_BASEDIR=$1
	export CCACHE_NOHASHDIR=1 CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-10G}
}
