#!/bin/bash
# variants: default debug
# The KUnit suite of the patch series ran at boot: one result per case.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib.sh"

results=/sys/kernel/debug/kunit/iova_rcache/results
if [ ! -r "$results" ]; then
	fail kunit-iova-rcache "no KUnit results at $results"
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
	[[ $name == iova_test_* ]] || continue
	cases=$((cases + 1))
	if [[ $rest == *"# SKIP"* ]]; then
		skip "kunit-$name" "${rest#*# SKIP}"
	elif [ "$status" = ok ]; then
		pass "kunit-$name"
	else
		fail "kunit-$name" "$(grep -B5 "not ok $num - $name" "$results" | grep -i 'expected\|assert' | head -n 2 | tr '\n' ' ')"
	fi
done < <(sed 's/^[[:space:]]*//' "$results")
# Every case that the series defines must have reported.
defined=$(grep -ho 'KUNIT_CASE(iova_test_[a-z0-9_]*' "$TOP_DIR"/kernel-patches/*.patch | sort -u | wc -l)
expect_eq kunit-iova-rcache-ran "$defined" "$cases" "KUnit cases reported (KUNIT_CASE lines in kernel-patches/)"
