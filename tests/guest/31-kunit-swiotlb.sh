#!/bin/bash
# variants: default debug
# The KUnit suite of the dynamic SWIOTLB ran at boot: one result per case,
# and exactly the cases the suite has.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib.sh"

suite=swiotlb_dynamic
want=8
results=/sys/kernel/debug/kunit/$suite/results
if [ ! -r "$results" ]; then
	fail kunit-$suite "no KUnit results at $results"
	exit 0
fi
cases=0
while read -r status num rest; do
	case "$status" in
	ok | not) ;;
	*) continue ;;
	esac
	[ "$status" = not ] && { num=$(echo "$rest" | awk '{print $1}'); rest=${rest#* }; }
	name=$(echo "$rest" | sed -e 's/^- //' -e 's/ *#.*//')
	[[ $name == swiotlb_test_* ]] || continue
	cases=$((cases + 1))
	if [[ $rest == *"# SKIP"* ]]; then
		skip "kunit-$name" "${rest#*# SKIP}"
	elif [ "$status" = ok ]; then
		pass "kunit-$name"
	else
		fail "kunit-$name" "$(grep -B8 "not ok $num - $name" "$results" | grep -i 'expected\|assert\|Expected' | head -n 2 | tr '\n' ' ')"
	fi
done < <(sed 's/^[[:space:]]*//' "$results")
expect_eq kunit-$suite-ran "$want" "$cases" "KUnit cases reported"
