#!/usr/bin/python3
"""Run every query of a Grafana dashboard through Prometheus's HTTP API.

  prometheus_queries.py URL DASHBOARD.json [EMPTY-BY-DESIGN ...]

Grafana's variables are replaced as a user who picked "All" would see
them ($__rate_interval by 10s: four scrapes of one second and more).
Prints one line per query: "data N" (N series), "empty" or "error ...",
with the panel's title; then "FAILED n" with the number of queries that
failed (an error, or empty where the panel is not named among
EMPTY-BY-DESIGN, a title each).
"""
import json
import sys
import urllib.parse
import urllib.request

VARIABLES = {"$__rate_interval": "10s", "$instance": ".*", "$domain": ".*",
             "$device": ".*", "$kind": ".*"}


def queries(dashboard):
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = target.get("expr")
            if expr:
                yield panel["title"], target["refId"], expr


def run(url, expr):
    for name, value in VARIABLES.items():
        expr = expr.replace(name, value)
    q = urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen("%s/api/v1/query?%s" % (url, q), timeout=10) as r:
            answer = json.load(r)
    except Exception as e:  # the HTTP error's body says what Prometheus disliked
        body = e.read().decode(errors="replace")[:200] if hasattr(e, "read") else ""
        return "error %s %s" % (e, body)
    if answer.get("status") != "success":
        return "error %s" % answer.get("error")
    n = len(answer["data"]["result"])
    return "data %d" % n if n else "empty"


def main():
    url, path = sys.argv[1:3]
    empty_ok = set(sys.argv[3:])
    failed = 0
    for title, ref, expr in queries(json.load(open(path))):
        got = run(url, expr)
        bad = got.startswith("error") or (got == "empty" and title not in empty_ok)
        failed += bad
        print("%s %s/%s: %s%s" % ("BAD" if bad else "ok ", title, ref, got,
                                 " (empty by design)" if got == "empty" and not bad else ""))
    print("FAILED %d" % failed)


if __name__ == "__main__":
    main()
