#!/bin/bash
# variants: default debug
# The KUnit suite of the dynamic SWIOTLB ran at boot: one result per case,
# and exactly the cases the series defines.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib.sh"

report_kunit swiotlb_dynamic swiotlb_test_ kunit-swiotlb_dynamic-ran
