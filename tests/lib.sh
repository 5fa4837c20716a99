# Test helpers shared by host-side and guest-side test scripts (sourced).
# shellcheck shell=bash
#
# A test reports one line on stdout: "PASS name", "FAIL name: why" or
# "SKIP name: why".  tests/check counts those lines.

TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP_DIR=$(cd "$TESTS_DIR/.." && pwd)

# A host script's scratch directory, $out, removed when the script exits.
scratch_out() {
	out=$(mktemp -d)
	trap 'rm -rf "$out"' EXIT
}

# in_private_mounts SCRIPT ARGS...: sh -c SCRIPT sh ARGS in a mount
# namespace whose mounts do not propagate back.  unshare makes / private,
# which it cannot do where / is not a mount point (a chroot, such as the
# root of make fresh-check): there the mount that holds $1 is made
# private instead, before SCRIPT mounts anything.
in_private_mounts() {
	local script=$1
	shift
	if unshare -m true 2>/dev/null; then
		unshare -m sh -c "$script" sh "$@"
	else
		unshare -m --propagation unchanged sh -c \
			"mount --make-rprivate \"\$(findmnt -no TARGET -T \"\$1\")\" && {
$script
}" sh "$@"
	fi
}

# side_by_side COMMAND...: run each command (a word: a function or a
# program without arguments) at the same time, each with its output in a
# file of its own, then print those outputs in the order given.  Returns
# the exit status of the first command, in that order, that failed.  For
# lab boots of one vCPU, which leave the other host core idle: two of
# them take the time of one.
side_by_side() {
	local cmd i rc status=0 outs=() pids=()
	for cmd in "$@"; do
		outs+=("$(mktemp)")
		"$cmd" >"${outs[-1]}" 2>&1 &
		pids+=($!)
	done
	for i in "${!pids[@]}"; do
		wait "${pids[i]}"
		rc=$?
		[ "$status" != 0 ] || status=$rc
		cat "${outs[i]}"
		rm -f "${outs[i]}"
	done
	return "$status"
}

pass() { echo "PASS $1"; }
fail() {
	local name=$1
	shift
	echo "FAIL $name: $*"
}
skip() {
	local name=$1
	shift
	echo "SKIP $name: $*"
}

# check NAME WHY COMMAND...: PASS when COMMAND succeeds, else FAIL with WHY.
check() {
	local name=$1 why=$2
	shift 2
	if "$@"; then pass "$name"; else fail "$name" "$why"; fi
}

# expect_eq NAME WANT GOT [what]
expect_eq() {
	if [ "$2" = "$3" ]; then
		pass "$1"
	else
		fail "$1" "${4:-value}: expected '$2', got '$3'"
	fi
}

# expect_range NAME LOW HIGH GOT [what]: LOW <= GOT <= HIGH (integers)
expect_range() {
	if [[ $4 =~ ^-?[0-9]+$ ]] && (($2 <= $4 && $4 <= $3)); then
		pass "$1"
	else
		fail "$1" "${5:-value}: expected $2..$3, got '$4'"
	fi
}

# wait_nonempty FILE: up to 30 s for a tool's first output in FILE
wait_nonempty() {
	for _ in $(seq 300); do
		[ -s "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
