#!/bin/bash
# The Prometheus server of a real tool (swiotlbstat on this machine's
# kernel) stays responsive whatever its clients do: 503 and Retry-After
# before the first interval, a quick scrape beside a hundred idle
# connections, no busy loop once it has run out of fds, and SIGINT still
# ends it with status 0.  Needs root and `make`.  The clients are python3
# (curl need not be there) and connect to 127.0.0.1 only.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

cd "$TOP_DIR" || exit 1
TOOL=${TOOL:-.output/swiotlbstat}	# another build can be tested with TOOL=
TESTS="http-503-before-first-interval http-scrape-beside-idle-connections
	http-out-of-fds-no-spin http-sigint-exit"
IDLE=100	# more connections than the server has slots
BURST=60	# more than the fds left to the tool
FREE_FDS=3	# what the tool keeps below its lowered fd limit
out=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	rm -rf "$out"
}
trap cleanup EXIT

# usage: fail_all WHY: when the tool cannot be tested at all
fail_all() {
	local t
	for t in $TESTS; do
		fail "$t" "$*"
	done
}

cat >"$out/client.py" <<'EOF'
# client.py PORT wait | scrape | idle-scrape N | burst N
# scrape prints: STATUS MILLISECONDS RETRY-AFTER BODY-BYTES ("-": none)
import socket, sys, time

port = int(sys.argv[1])

def connect(timeout):
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)

def scrape():
    t0 = time.monotonic()
    data = b""
    try:
        with connect(10) as s:
            s.sendall(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            while chunk := s.recv(65536):
                data += chunk
    except OSError as e:
        return "%s %d - 0" % (type(e).__name__, (time.monotonic() - t0) * 1000)
    ms = (time.monotonic() - t0) * 1000
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode(errors="replace").split("\r\n")
    words = lines[0].split()
    retry = [l.split(":", 1)[1].strip() for l in lines[1:]
             if l.lower().startswith("retry-after:")]
    return "%s %d %s %d" % (words[1] if len(words) > 1 else "none", ms,
                            retry[0] if retry else "-", len(body))

def open_many(n, timeout):
    conns = []
    for _ in range(n):
        try:
            conns.append(connect(timeout))
        except OSError:
            pass
    return conns

cmd = sys.argv[2]
if cmd == "wait":
    for _ in range(150):
        try:
            connect(1).close()
            sys.exit(0)
        except OSError:
            time.sleep(0.1)
    sys.exit(1)
elif cmd == "scrape":
    print(scrape())
elif cmd == "idle-scrape":
    conns = open_many(int(sys.argv[3]), 5)
    print(len(conns), scrape())
elif cmd == "burst":
    conns = open_many(int(sys.argv[3]), 1)
    time.sleep(0.5)
    print(len(conns))
EOF
client() { timeout 60 python3 "$out/client.py" "$port" "$@"; }

# The lowest fd limit that leaves the process N fd numbers free, whatever
# it holds already (BPF objects, fds inherited from its parent)
limit_for() {
	local p=$1 n=$2 fd=0
	while ((n > 0 && fd < 65536)); do
		[ -e "/proc/$p/fd/$fd" ] || ((n--))
		((fd++))
	done
	echo "$fd"
}

# utime + stime of a process, in ms
cpu_ms() {
	awk -v hz="$(getconf CLK_TCK)" '{ print int(($14 + $15) * 1000 / hz) }' "/proc/$1/stat"
}

if [ ! -x "$TOOL" ]; then
	fail_all "$TOOL is missing (run make)"
	exit 0
fi
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# a long interval: the first one is not over during the 503 check
timeout 120 "$TOOL" -q -p "127.0.0.1:$port" 5 >"$out/stdout" 2>"$out/stderr" </dev/null &
pid=$!
if ! client wait; then
	fail_all "$TOOL does not listen on 127.0.0.1:$port: $(head -c 300 "$out/stderr" | tr '\n' '|')"
	exit 0
fi
tool=$(pgrep -P "$pid")	# the tool itself, not timeout

# Before the first interval: no metrics yet, come back in a while
read -r status ms retry bytes <<<"$(client scrape)"
echo "# first scrape: status $status after $ms ms, Retry-After '$retry', $bytes bytes"
check http-503-before-first-interval "status $status, Retry-After '$retry', $bytes bytes" \
	eval '[[ $status = 503 && $retry != - && $bytes -gt 0 ]]'

# After it: a scrape beside a hundred connections that never send a byte
for ((i = 0; i < 30; i++)); do
	read -r status ms retry bytes <<<"$(client scrape)"
	[ "$status" = 200 ] && break
	sleep 0.5
done
read -r opened status ms retry bytes <<<"$(client idle-scrape $IDLE)"
echo "# $opened idle connections open: status $status after $ms ms, $bytes bytes"
check http-scrape-beside-idle-connections "$opened idle connections, status $status after $ms ms, $bytes bytes" \
	eval '[[ $opened = "$IDLE" && $status = 200 && $bytes -gt 0 && $ms -lt 1000 ]]'

# Out of fds under a burst of connections; once they are gone, the tool
# sleeps again (a 5 s interval costs next to nothing) and still answers
limit=$(limit_for "$tool" $FREE_FDS)
prlimit --pid "$tool" --nofile="$limit:"
opened=$(client burst $BURST)
sleep 1
before=$(cpu_ms "$tool" 2>/dev/null)
sleep 2
after=$(cpu_ms "$tool" 2>/dev/null)
cpu=$((${after:-999999} - ${before:-0}))	# a tool that is gone fails too
read -r status ms retry bytes <<<"$(client scrape)"
echo "# fd limit $limit, $opened of $BURST connections in a burst, then $cpu ms of CPU in 2 s; a scrape: status $status after $ms ms"
check http-out-of-fds-no-spin "$cpu ms of CPU in 2 s idle (at most 200), then status $status" \
	eval '[[ $cpu -lt 200 && $status = 200 ]]'

# SIGINT ends it with status 0 (which timeout passes on)
kill -INT "$tool"
timeout 10 tail --pid="$pid" -f /dev/null
if kill -0 "$pid" 2>/dev/null; then
	fail http-sigint-exit "still running 10 s after SIGINT"
else
	wait "$pid"
	expect_eq http-sigint-exit 0 "$?" "exit status after SIGINT"
	pid=
fi
