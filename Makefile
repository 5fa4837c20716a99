# dmascope: see README.md.
#
#   make            build the BPF programs and the tools
#   make demo       build everything, boot the lab, show the tools live
#   make check      unit tests and every lab test; ends with "N passed, ..."
#   make bench      benchmarks: results and graphs under docs/bench/
#   make deps       install the Debian packages (root)
#   make kernel     build the lab kernel [KERNEL_VARIANT=default|debug|vanilla]
#   make lab CMD='...' [KERNEL_VARIANT=] [LAB_CPUS=] [LAB_MEM=] [LAB_TIMEOUT=]
#                   [LAB_APPEND=]      run CMD as root in the lab kernel
#   make clean      remove the tools' build output (not the kernel cache)

# Settings given on the command line reach the scripts through the
# environment; these are the ones they read.
export KERNEL_VARIANT LAB_CPUS LAB_MEM LAB_TIMEOUT LAB_APPEND LAB_KEEP CMD DMASCOPE_CACHE

.PHONY: all deps kernel module lab check demo bench clean

all:

deps:
	@tests/lab/deps

kernel: deps
	@tests/lab/kernel

module: kernel
	@tests/lab/module >/dev/null

lab: all module
	@test -n "$$CMD" || { echo "make lab: error: no command (usage: make lab CMD='...')" >&2; exit 2; }
	@tests/lab/run "$$CMD"

check: deps
	@tests/check

demo: deps
	@tests/demo

bench: deps
	@tests/bench/run

clean:
	rm -rf .output
