#!/bin/bash
# variants: default debug
# The KUnit suite of the IOVA patches ran at boot: one result per case,
# and exactly the cases the series defines.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib.sh"

report_kunit iova_rcache iova_test_ kunit-iova-rcache-ran
