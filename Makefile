# dmascope: see README.md.
#
#   make            build the BPF programs and the tools
#   make demo       build everything, boot the lab, show the tools live
#   make check      unit tests and every lab test; ends with "N passed, ..."
#   make bench      benchmarks: results and graphs under docs/bench/
#                   [BENCH_ROUNDS=2] [BENCH_PARTS="iova swiotlb oneliner"] [BENCH_QUICK=1]
#   make bench-compare REV=<commit> [BENCH_ROUNDS=3]
#                   the IOVA benchmark on REV and on the working tree side
#                   by side: ratios, noise bands, verdict; both go into
#                   docs/bench/history.csv (graph: history.png)
#   make deps       install the Debian packages (root)
#   make kernel     build the lab kernel [KERNEL_VARIANT=default|debug|vanilla]
#                   or fetch a Debian image [KERNEL_VARIANT=debian-6.1|debian-backports]
#   make lab CMD='...' [KERNEL_VARIANT=] [LAB_CPUS=] [LAB_MEM=] [LAB_TIMEOUT=]
#                   [LAB_APPEND=]      run CMD as root in the lab kernel
#   make fresh-check   the README's commands on a fresh Debian 12 root
#                   (debootstrap), as a new user runs them (root; not in CI)
#   make install    [PREFIX=/usr/local] [DESTDIR=] the tools, man pages,
#                   dashboards and systemd units
#   make deb        dmascope-tools_VERSION_amd64.deb in .output/
#   make kernel-deb the patched kernel as Debian packages in .output/kernel-deb/
#                   [KERNEL_CONFIG=/boot/config-...: from that config]
#   make clean      remove the tools' build output (not the kernel cache)

# Settings given on the command line reach the scripts through the
# environment; these are the ones they read.  CMD is a shell command:
# make must not expand the $ in it ($LAB_EDU_BDF, $(tty), ...).
ifdef CMD
override CMD := $(value CMD)
endif
export KERNEL_VARIANT LAB_CPUS LAB_MEM LAB_TIMEOUT LAB_APPEND LAB_KEEP CMD DMASCOPE_CACHE KERNEL_CONFIG
export FRESH_STEPS FRESH_REBUILD FRESH_KEEP FRESH_MIRROR
export BENCH_ROUNDS BENCH_QUICK BENCH_PARTS REV

.PHONY: all test-progs deps kernel module lab check demo bench bench-compare fresh-check clean \
	install deb kernel-deb

OUTPUT := .output
TOOLS := iovatop swiotlbstat
CC ?= gcc
CLANG ?= clang
BPFTOOL ?= bpftool
ARCH_INCLUDE := /usr/include/$(shell $(CC) -dumpmachine 2>/dev/null)
# Truncating names to their columns and buffers is intended.
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo unknown)
CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wno-format-truncation -Wno-missing-field-initializers -I$(OUTPUT) -Ibpf -Itools/lib \
	-DDMASCOPE_VERSION='"$(VERSION)"'
BPF_CFLAGS := -g -O2 -Wall -Werror -target bpf -D__TARGET_ARCH_x86 -I$(ARCH_INCLUDE) -Ibpf
# libbpf, libelf and zlib linked in: one file that runs on any x86-64 host
# with BTF and glibc, whatever libbpf it has or lacks (CO-RE's point)
LDLIBS := -Wl,-Bstatic -lbpf -lelf -lz -Wl,-Bdynamic -lm
LIB_SRCS := $(wildcard tools/lib/*.c)
LIB_OBJS := $(patsubst tools/lib/%.c,$(OUTPUT)/lib/%.o,$(LIB_SRCS))

all: $(addprefix $(OUTPUT)/,$(TOOLS))

$(OUTPUT) $(OUTPUT)/lib:
	@mkdir -p $@

$(OUTPUT)/%.bpf.o: bpf/%.bpf.c bpf/%.h bpf/kernel_types.h bpf/dmascope.bpf.h | $(OUTPUT)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(BPFTOOL) gen skeleton $< > $@.tmp && mv $@.tmp $@

$(OUTPUT)/lib/%.o: tools/lib/%.c tools/lib/*.h | $(OUTPUT)/lib
	$(CC) $(CFLAGS) -c $< -o $@

$(OUTPUT)/libdmascope.a: $(LIB_OBJS)
	rm -f $@ && $(AR) rcs $@ $^

$(OUTPUT)/%.o: tools/%.c $(OUTPUT)/%.skel.h bpf/%.h tools/lib/*.h
	$(CC) $(CFLAGS) -c $< -o $@

# relinked when the Makefile changes: LDLIBS decides what is linked in
$(OUTPUT)/%: $(OUTPUT)/%.o $(OUTPUT)/libdmascope.a Makefile
	$(CC) $(CFLAGS) $(filter-out Makefile,$^) $(LDLIBS) -o $@

# Programs only the tests use (tests/tpbtf: a tp_btf consumer of the
# swiotlb:* events); tests/check builds them.
TEST_PROGS := $(OUTPUT)/tests/swiotlb_tp

test-progs: $(TEST_PROGS)

$(OUTPUT)/tests:
	@mkdir -p $@

$(OUTPUT)/tests/%.bpf.o: tests/tpbtf/%.bpf.c bpf/kernel_types.h | $(OUTPUT)/tests
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUTPUT)/tests/%: tests/tpbtf/%.c $(OUTPUT)/tests/%.skel.h
	$(CC) $(CFLAGS) -I$(OUTPUT)/tests $< $(LDLIBS) -o $@

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
	@tests/demo/run

bench: deps
	@tests/bench/run

bench-compare: deps
	@tests/bench/compare

fresh-check: deps
	@tests/fresh/run

# ---- installing ----

PREFIX ?= /usr/local
SBINDIR = $(PREFIX)/sbin
MANDIR = $(PREFIX)/share/man/man8
DATADIR = $(PREFIX)/share/dmascope
# systemd looks for units of the system under /usr/lib, of the admin under /etc
ifeq ($(PREFIX),/usr)
UNITDIR = /usr/lib/systemd/system
else
UNITDIR = /etc/systemd/system
endif

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR) $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(DATADIR)/dashboards/rules \
		$(DESTDIR)$(DATADIR)/dashboards/provisioning/dashboards \
		$(DESTDIR)$(DATADIR)/dashboards/provisioning/datasources
	install -m 0755 $(addprefix $(OUTPUT)/,$(TOOLS)) $(DESTDIR)$(SBINDIR)/
	for t in $(TOOLS); do gzip -9n <tools/$$t.8 >$(DESTDIR)$(MANDIR)/$$t.8.gz; done
	chmod 0644 $(DESTDIR)$(MANDIR)/*.8.gz
	install -m 0644 dashboards/*.json dashboards/README.md $(DESTDIR)$(DATADIR)/dashboards/
	install -m 0644 dashboards/rules/*.yml $(DESTDIR)$(DATADIR)/dashboards/rules/
	for d in dashboards datasources; do \
		install -m 0644 dashboards/provisioning/$$d/*.yaml \
			$(DESTDIR)$(DATADIR)/dashboards/provisioning/$$d/; \
	done
	# run by perf script -s, not on its own
	install -m 0644 tools/dmascope-report.py $(DESTDIR)$(DATADIR)/
	for u in dist/systemd/*.service.in; do \
		sed 's|@SBINDIR@|$(SBINDIR)|g' $$u >$(DESTDIR)$(UNITDIR)/$$(basename $$u .in); \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$$(basename $$u .in); \
	done

deb: all
	@dist/mkdeb $(OUTPUT) '$(VERSION)'

kernel-deb: deps
	@dist/kernel-deb $(OUTPUT)

clean:
	rm -rf .output
