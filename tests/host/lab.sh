#!/bin/bash
# Host-side tests of the lab itself: exit statuses, timeouts, kernel
# problems, the kernel cache, and the errors of the build scripts.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

cd "$TOP_DIR" || exit 1
scratch_out

test_exit_status() {
	make -s lab CMD=true </dev/null >"$out/log" 2>&1
	expect_eq lab-true-exits-0 0 $? "make lab CMD=true exit status"
	make -s lab CMD=false </dev/null >"$out/log" 2>&1
	local rc=$?
	check lab-false-fails "make lab CMD=false exited $rc" [ "$rc" != 0 ]
	tests/lab/run 'exit 3' </dev/null >"$out/log" 2>&1
	expect_eq lab-run-returns-cmd-status 3 $? "tests/lab/run 'exit 3' exit status"
}

# and that the patched kernel's KUnit suites ran only if asked (LAB_KUNIT)
test_guest_sees_tree() {
	local got
	got=$(tests/lab/run 'pwd; test -w "$LAB_OUT" && echo writable-out
		ls /sys/kernel/debug/kunit | wc -l' </dev/null 2>/dev/null | tr -d '\r')
	expect_eq lab-guest-cwd-and-out "$TOP_DIR writable-out" "$(echo $got | cut -d' ' -f1-2)" \
		"guest cwd and LAB_OUT"
	expect_eq lab-kunit-off-by-default 0 "$(echo $got | cut -d' ' -f3)" \
		"KUnit suites that ran at boot without LAB_KUNIT=1"
}

test_timeout() {
	local start=$SECONDS rc
	LAB_TIMEOUT=30 make -s lab CMD='sleep 10000' </dev/null >"$out/timeout" 2>&1
	rc=$?
	local took=$((SECONDS - start))
	if [ "$rc" != 0 ] && ((took < 75)) && grep -q 'timed out after 30s' "$out/timeout"; then
		pass lab-timeout
	else
		fail lab-timeout "exit $rc after ${took}s; output: $(tail -n 1 "$out/timeout")"
	fi
}

# A kernel warning with panic_on_warn, and a sysrq crash: both must end
# the run with an error that shows the kernel's own lines.
test_kernel_problems() {
	LAB_APPEND=panic_on_warn=1 tests/lab/run \
		'echo WARNING > /sys/kernel/debug/provoke-crash/DIRECT; sleep 5' \
		</dev/null >"$out/log" 2>&1
	local rc=$?
	if [ "$rc" = 125 ] && grep -q 'Kernel panic' "$out/log" &&
		grep -q 'kernel reported a problem' "$out/log"; then
		pass lab-panic-on-warn-detected
	else
		fail lab-panic-on-warn-detected "exit $rc; output: $(tail -n 2 "$out/log" | tr '\n' ' ')"
	fi
	tests/lab/run 'echo c > /proc/sysrq-trigger; sleep 5' </dev/null >"$out/log" 2>&1
	rc=$?
	if [ "$rc" = 125 ] && grep -q 'sysrq' "$out/log"; then
		pass lab-sysrq-crash-detected
	else
		fail lab-sysrq-crash-detected "exit $rc; output: $(tail -n 2 "$out/log" | tr '\n' ' ')"
	fi
	# A warning without panic_on_warn: the command succeeds, the run must not.
	tests/lab/run 'echo WARNING > /sys/kernel/debug/provoke-crash/DIRECT' </dev/null >"$out/log" 2>&1
	expect_eq lab-warning-fails-run 125 $? "exit status after a kernel WARNING"
}

# The kernel under test is the one just built from the current inputs.
test_kernel_is_current() {
	local want got
	want=$(sed -n 's/^#define UTS_VERSION "\(.*\)"/\1/p' \
		"$(tests/lab/kernel --dir)/linux/include/generated/utsversion.h")
	got=$(tests/lab/run 'uname -v' </dev/null 2>/dev/null | tr -d '\r')
	expect_eq lab-boots-current-kernel "$want" "$got" "uname -v in the guest"
}

# Copy the inputs of the kernel build to a scratch tree to change them.
scratch_tree() {
	rm -rf "$out/tree"
	mkdir -p "$out/tree/tests"
	cp -r kernel-patches "$out/tree/"
	cp -r tests/lab "$out/tree/tests/"
}

scratch_hash() {
	"$out/tree/tests/lab/kernel" --hash
}

test_kernel_cache() {
	local base first
	scratch_tree
	base=$(scratch_hash)
	expect_eq kernel-hash-stable "$base" "$(scratch_hash)" "hash of unchanged inputs"
	check kernel-hash-matches-tree "the scratch copy hashes differently from the tree" \
		[ "$base" = "$(tests/lab/kernel --hash)" ]

	echo '# a comment' >>"$out/tree/tests/lab/config/lab.config"
	check kernel-rebuilds-on-config-change "hash unchanged after a config change" \
		[ "$base" != "$(scratch_hash)" ]

	scratch_tree
	first=$out/tree/kernel-patches/$(head -n 1 kernel-patches/series)
	sed -i '0,/^Subject: /s//Subject: reworded /' "$first"
	check kernel-not-rebuilt-on-message-change "hash changed with the commit message only" \
		[ "$base" = "$(scratch_hash)" ]
	sed -i '0,/^+\t/s/^+\t\(.*\)$/+\t\1 /' "$first"
	check kernel-rebuilds-on-patch-change "hash unchanged after a change to a patch's code" \
		[ "$base" != "$(scratch_hash)" ]

	# Nothing changed: the build is a no-op that says so.
	tests/lab/kernel >"$out/log" 2>&1
	check kernel-not-rebuilt-when-unchanged "make kernel did not report 'up to date'" \
		grep -q 'kernel up to date' "$out/log"
}

test_bad_patch() {
	local rc lines
	scratch_tree
	printf -- '--- a/Makefile\n+++ b/Makefile\n@@ -1,1 +1,1 @@\n-no such line\n+x\n' \
		>"$out/tree/kernel-patches/9999-broken.patch"
	echo 9999-broken.patch >>"$out/tree/kernel-patches/series"
	DMASCOPE_CACHE=$out/cache "$out/tree/tests/lab/kernel" >"$out/log" 2>&1
	rc=$?
	lines=$(grep -c 'error:' "$out/log")
	if [ "$rc" != 0 ] && [ "$lines" = 1 ] && grep -q '9999-broken.patch does not apply' "$out/log"; then
		pass kernel-bad-patch-error
	else
		fail kernel-bad-patch-error "exit $rc; output: $(tail -n 1 "$out/log")"
	fi
	rm -rf "$out/cache"
}

test_missing_package() {
	local rc
	DEPS_EXTRA=dmascope-no-such-package tests/lab/deps >"$out/log" 2>&1
	rc=$?
	if [ "$rc" != 0 ] && [ "$(grep -c 'error:' "$out/log")" = 1 ] &&
		grep -q 'could not install dmascope-no-such-package' "$out/log"; then
		pass deps-missing-package-error
	else
		fail deps-missing-package-error "exit $rc; output: $(tail -n 1 "$out/log")"
	fi
}

test_bad_settings() {
	LAB_CPUS=abc tests/lab/run true >"$out/log" 2>&1
	local rc=$?
	check lab-bad-cpus-error "LAB_CPUS=abc: exit $rc, $(cat "$out/log")" \
		grep -q "LAB_CPUS must be a number" "$out/log"
	LAB_TCG_THREAD=abc tests/lab/run true >"$out/log" 2>&1
	check lab-bad-tcg-thread-error "LAB_TCG_THREAD=abc: $(cat "$out/log")" \
		grep -q "LAB_TCG_THREAD must be multi or single, not 'abc'" "$out/log"
	LAB_KUNIT=yes tests/lab/run true >"$out/log" 2>&1
	check lab-bad-kunit-error "LAB_KUNIT=yes: $(cat "$out/log")" \
		grep -q "LAB_KUNIT must be 0 or 1, not 'yes'" "$out/log"
	KERNEL_VARIANT=nosuch tests/lab/run true >"$out/log" 2>&1
	check lab-bad-variant-error "KERNEL_VARIANT=nosuch: $(cat "$out/log")" \
		grep -q "unknown KERNEL_VARIANT 'nosuch'" "$out/log"
	# a stage name that make check does not know runs nothing, so it
	# must not end in a count that looks like a pass
	CHECK_ONLY="unit nosuch" tests/check >"$out/log" 2>&1
	rc=$?
	check check-bad-stage-error "CHECK_ONLY=nosuch: exit $rc, $(cat "$out/log")" \
		eval '[ "$rc" != 0 ] && [ "$(wc -l <"$out/log")" = 1 ] &&
			grep -q "no stage .nosuch." "$out/log"'
}

# A PATH that has every program of this machine but one.
path_without() {
	local bin=$out/bin-without-$1 f
	rm -rf "$bin"
	mkdir -p "$bin"
	for f in /usr/local/sbin/* /usr/local/bin/* /usr/sbin/* /usr/bin/*; do
		[ "${f##*/}" = "$1" ] || ln -sf "$f" "$bin/${f##*/}"
	done
	echo "$bin"
}

# A program that a build step needs is missing: the build says so in one
# line, naming the program and its package, before it starts (the check
# up front) and from a step's log (when a step still meets one).
test_missing_program() {
	local bin rc
	bin=$(path_without rsync)
	DMASCOPE_CACHE=$out/cache PATH=$bin tests/lab/kernel >"$out/log" 2>&1
	rc=$?
	if [ "$rc" != 0 ] && [ "$(grep -c 'error:' "$out/log")" = 1 ] &&
		grep -q 'rsync not found (install the Debian package rsync' "$out/log" &&
		[ ! -d "$out/cache/kernels/default-$(tests/lab/kernel --hash)/linux" ]; then
		pass kernel-missing-program-named-before-build
	else
		fail kernel-missing-program-named-before-build "exit $rc; output: $(tail -n 2 "$out/log")"
	fi
	# the benchmark step's own failure, as a fresh machine met it
	PATH=$bin bash -c 'set -euo pipefail; . tests/lab/common.sh
		run_step "make headers_install" "$1" sh -c "echo installing; rsync -a /x /y"' \
		step "$out/step.log" >"$out/log" 2>&1
	rc=$?
	if [ "$rc" != 0 ] && grep -q "^step: error: step 'make headers_install' failed (log: $out/step.log): rsync not found (install the Debian package rsync" "$out/log" &&
		grep -q '^    installing' "$out/log"; then
		pass lab-step-names-missing-program
	else
		fail lab-step-names-missing-program "exit $rc; output: $(tail -n 2 "$out/log")"
	fi
	# any other failing command under set -e: named, with its line
	bash -c 'set -euo pipefail; . tests/lab/common.sh; true; false' unexpected >"$out/log" 2>&1
	rc=$?
	if [ "$rc" = 1 ] && grep -qx "unexpected: error: line 1: 'false' failed with status 1" "$out/log"; then
		pass lab-script-failure-named
	else
		fail lab-script-failure-named "exit $rc; output: $(cat "$out/log")"
	fi
}

# make lab typed in a terminal: script(1) gives it a pseudo-terminal.  It
# must neither stop (QEMU in a background process group gets SIGTTOU)
# nor lose the command's output or status (make reports it as "Error 7";
# the guest's command sees its own terminal).
test_lab_in_terminal() {
	local rc
	timeout 600 script -qefc "make -s lab CMD='echo guest-\$((6 * 7)); tty; exit 7'" \
		"$out/typescript" </dev/null >/dev/null 2>&1
	rc=$?
	tr -d '\r' <"$out/typescript" >"$out/terminal"
	if [ "$rc" = 2 ] && grep -qx 'guest-42' "$out/terminal" &&
		grep -qx '/dev/ttyS1' "$out/terminal" && grep -q 'lab\] Error 7' "$out/terminal"; then
		pass lab-in-terminal
	else
		fail lab-in-terminal "exit $rc (124: it hung); output: $(tail -n 3 "$out/terminal" | tr '\n' ' ')"
	fi
}

# Ctrl-C in a terminal stops the guest at once and leaves no QEMU behind.
test_lab_ctrl_c() {
	local marker=dmascope_ctrl_c_test=$$ rc start=$SECONDS ts=$out/ctrl-c
	: >"$ts"
	{
		for _ in $(seq 300); do
			grep -q 'guest-42-started' "$ts" && break
			sleep 1
		done
		printf '\003'
		for _ in $(seq 60); do
			pgrep -f "$marker" >/dev/null || break
			sleep 1
		done
	} | LAB_APPEND=$marker timeout 600 script -qefc \
		"make -s lab CMD='echo guest-\$((6 * 7))-started; sleep 1000'" "$ts" >/dev/null 2>&1
	rc=$?
	if pgrep -f "$marker" >/dev/null; then
		fail lab-ctrl-c-stops-guest "QEMU still runs after Ctrl-C"
		pkill -KILL -f "$marker"
	elif [ "$rc" = 124 ] || ! grep -q 'interrupted: the guest was stopped' "$ts"; then
		fail lab-ctrl-c-stops-guest "exit $rc after $((SECONDS - start))s; output: $(tail -n 2 "$ts" | tr -d '\r')"
	else
		pass lab-ctrl-c-stops-guest
	fi
}

the_others() {
	test_exit_status
	test_lab_in_terminal
	test_lab_ctrl_c
	test_missing_program
	test_guest_sees_tree
	test_kernel_is_current
	test_kernel_problems
	test_kernel_cache
	test_bad_patch
	test_missing_package
	test_bad_settings
}

# the timeout's guest idles for 30 s: the other tests run meanwhile
side_by_side test_timeout the_others
