#!/usr/bin/env python3
"""Successive scrapes of one /metrics, in the order they were taken: no
counter goes backwards.  Every sample of a counter family, and of a
histogram (_bucket, _count, _sum), is at least what it was in the scrape
before, when that scrape had the series.  Prints "ok: N series grew" or
the first one that went back, and exits 1 then, or when no counter grew
at all (the scrapes saw no load: the check would prove nothing).

  prometheus_monotonic.py SCRAPE...
"""
import re
import sys


def counters(path):
    """{series: value} of the counter and histogram samples of a scrape"""
    kinds, out = {}, {}
    for line in open(path):
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            kinds[name] = kind
        elif line.strip() and not line.startswith("#"):
            series, value = line.rstrip("\n").rsplit(" ", 1)
            name = re.match(r"[^{]+", series).group(0)
            family = re.sub(r"_(bucket|count|sum)$", "", name)
            if kinds.get(name) == "counter" or kinds.get(family) == "histogram":
                out[series] = float(value)
    return out


def main(paths):
    scrapes = [counters(p) for p in paths]
    for i in range(1, len(scrapes)):
        for series, value in sorted(scrapes[i].items()):
            before = scrapes[i - 1].get(series)
            if before is not None and value < before:
                print("%s went back from %g to %g between scrapes %d and %d" %
                      (series, before, value, i, i + 1))
                return 1
    grew = [s for s, v in scrapes[-1].items() if v > scrapes[0].get(s, v)]
    if not grew:
        print("no counter grew in %d scrapes" % len(scrapes))
        return 1
    print("ok: %d series grew over %d scrapes, none went back" % (len(grew), len(scrapes)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
