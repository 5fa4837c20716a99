#!/bin/bash
# Shipping: make install puts every file where a packager expects it;
# the tools carry libbpf, libelf and zlib inside and run from a root that
# has none of them (here, on this machine's own kernel); both systemd
# units pass systemd-analyze verify; make deb builds a package lintian
# finds no error in, which dpkg installs and whose tools answer.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

cd "$TOP_DIR" || exit 1
scratch_out
dest=$out/dest
TOOLS="iovatop swiotlbstat"

make -s install DESTDIR="$dest" PREFIX=/usr >"$out/install.log" 2>&1
expect_eq install-exit 0 $? "make install DESTDIR=... PREFIX=/usr: $(tail -n 2 "$out/install.log")"
(cd "$dest" && find . -type f | sed 's|^\./||' | sort) >"$out/files"
cat >"$out/want" <<'EOF'
usr/lib/systemd/system/iovatop-exporter.service
usr/lib/systemd/system/swiotlbstat-exporter.service
usr/sbin/iovatop
usr/sbin/swiotlbstat
usr/share/dmascope/dashboards/README.md
usr/share/dmascope/dashboards/iova.json
usr/share/dmascope/dashboards/provisioning/dashboards/dmascope.yaml
usr/share/dmascope/dashboards/provisioning/datasources/dmascope.yaml
usr/share/dmascope/dashboards/rules/iova.rules.test.yml
usr/share/dmascope/dashboards/rules/iova.rules.yml
usr/share/dmascope/dashboards/rules/swiotlb.rules.test.yml
usr/share/dmascope/dashboards/rules/swiotlb.rules.yml
usr/share/dmascope/dashboards/swiotlb.json
usr/share/dmascope/dmascope-report.py
usr/share/man/man8/iovatop.8.gz
usr/share/man/man8/swiotlbstat.8.gz
EOF
check install-files "$(diff "$out/want" "$out/files" | grep '^[<>]' | tr '\n' ' ')" \
	cmp -s "$out/want" "$out/files"
check install-man-pages "man cannot read the installed pages" eval '
	for t in $TOOLS; do
		MANWIDTH=80 man -l "$dest/usr/share/man/man8/$t.8.gz" 2>/dev/null | grep -q "^NAME" || exit 1
	done'
make -s install DESTDIR="$out/local" >/dev/null 2>&1
check install-prefix-default "PREFIX=/usr/local: $(cd "$out/local" 2>/dev/null && find . -name iovatop\* | tr '\n' ' ')" \
	eval '[ -x "$out/local/usr/local/sbin/iovatop" ] &&
	      grep -q "^ExecStart=/usr/local/sbin/iovatop " "$out/local/etc/systemd/system/iovatop-exporter.service"'

# libbpf, libelf and zlib are inside: only libc and the loader remain
for t in $TOOLS; do
	check "install-$t-self-contained" "ldd: $(ldd "$dest/usr/sbin/$t" | grep -E 'libbpf|libelf|libz' | tr '\n' ' ')" \
		eval '! ldd "$dest/usr/sbin/$t" | grep -qE "libbpf|libelf|libz"'
done

# A root with the two tools, libc and the loader and nothing else, this
# machine's /sys and /proc bound in a private mount namespace: swiotlbstat
# loads its BPF programs and reports, iovatop answers
root=$out/root
tests/lab/bare-root "$root" "$dest"/usr/sbin/*
echo "# the root: $(cd "$root" && find . -type f | sort | tr '\n' ' ')"
in_private_mounts '
	mount --bind /sys "$1/sys" && mount --bind /proc "$1/proc" &&
	mount -t debugfs none "$1/sys/kernel/debug" 2>/dev/null
	chroot "$1" /sbin/swiotlbstat -j 0.2 2 >"$2/chroot.json" 2>"$2/chroot.err"
	echo $? >"$2/chroot.rc"
	chroot "$1" /sbin/iovatop --version >"$2/chroot.version" 2>&1' "$root" "$out"
check install-no-libbpf-in-root "the root has $(cd "$root" && find . -name 'lib*' | grep -E 'bpf|elf|libz' | tr '\n' ' ')" \
	eval '! (cd "$root" && find . -name "lib*" | grep -qE "bpf|elf|libz")'
check install-runs-without-libbpf "exit $(cat "$out/chroot.rc"), $(wc -l <"$out/chroot.json") lines; $(head -c 200 "$out/chroot.err")" \
	eval '[ "$(cat "$out/chroot.rc")" = 0 ] && [ "$(wc -l <"$out/chroot.json")" = 2 ] &&
	      python3 -c "import json,sys; [json.loads(l)[\"mode\"] for l in open(sys.argv[1])]" "$out/chroot.json"'
check install-iovatop-answers-without-libbpf "$(cat "$out/chroot.version")" \
	grep -q '^iovatop (dmascope) ' "$out/chroot.version"

# The units, as installed: verify needs the targets they name and their
# man pages, which the private root gets from this machine and the install
units=$dest/usr/lib/systemd/system
cp -n /usr/lib/systemd/system/*.target "$units/" 2>/dev/null
for u in iovatop-exporter swiotlbstat-exporter; do
	MANPATH=$dest/usr/share/man systemd-analyze verify --root="$dest" "$u.service" \
		>"$out/verify" 2>&1
	rc=$?
	check "install-unit-$u-verify" "exit $rc: $(head -n 3 "$out/verify" | tr '\n' ' ')" \
		eval '[ $rc = 0 ] && [ ! -s "$out/verify" ]'
	# the sandbox: no CAP_SYS_ADMIN, a read-only system, restarted on failure
	check "install-unit-$u-sandbox" "$(grep -E '^(CapabilityBoundingSet|ProtectSystem|Restart)=' "$units/$u.service" | tr '\n' ' ')" \
		eval 'grep -q "^CapabilityBoundingSet=CAP_BPF CAP_PERFMON" "$units/$u.service" &&
		      ! grep -q "CAP_SYS_ADMIN" "$units/$u.service" &&
		      grep -q "^ProtectSystem=strict" "$units/$u.service" &&
		      grep -q "^Restart=on-failure" "$units/$u.service"'
done

# make deb: lintian finds no error or warning; dpkg installs it and the
# tools answer from /usr/sbin (not done where a dmascope-tools is
# installed already: that one is the administrator's)
deb=$(make -s deb 2>"$out/deb.err" | tail -n 1)
check install-deb-built "make deb: $deb $(head -c 200 "$out/deb.err")" \
	eval '[ -f "$deb" ] && [[ $(basename "$deb") == dmascope-tools_*_amd64.deb ]]'
if [ -f "$deb" ]; then
	lintian --tag-display-limit 0 "$deb" >"$out/lintian" 2>/dev/null
	check install-deb-lintian "$(grep -E '^[EW]: ' "$out/lintian" | head -n 3 | tr '\n' ' ')" \
		eval '! grep -qE "^[EW]: " "$out/lintian"'
	if dpkg-query -W -f='${Status}' dmascope-tools 2>/dev/null | grep -q 'ok installed'; then
		skip install-deb-dpkg "dmascope-tools is installed on this machine already"
	else
		dpkg -i "$deb" >"$out/dpkg" 2>&1
		rc=$?
		/usr/sbin/iovatop --version >"$out/version" 2>&1
		/usr/sbin/swiotlbstat --version >>"$out/version" 2>&1
		dpkg --purge dmascope-tools >>"$out/dpkg" 2>&1
		check install-deb-dpkg "dpkg -i: exit $rc; $(tail -n 2 "$out/dpkg" | tr '\n' ' '); $(tr '\n' ' ' <"$out/version")" \
			eval '[ $rc = 0 ] && [ "$(grep -c "(dmascope) " "$out/version")" = 2 ] &&
			      [ ! -e /usr/sbin/iovatop ]'
	fi
else
	skip install-deb-lintian "no package was built"
	skip install-deb-dpkg "no package was built"
fi
