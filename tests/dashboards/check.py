#!/usr/bin/env python3
"""Hold the Grafana dashboards and the alert rules in dashboards/ to the
project's rules (dashboards/README.md), without Grafana: Debian does not
package it.

For each dashboards/NAME.json it prints one line per rule:
    PASS dashboard-NAME-RULE
    FAIL dashboard-NAME-RULE: why
and for each dashboards/rules/NAME.rules.yml two more (rules-NAME-metrics,
rules-NAME-tests).  Every metric name must be one that the dashboard's tool
exports, read from the tool's C source, so that renaming a metric in the
tool makes this fail.  With --queries DIR it also writes every query of
dashboard NAME to DIR/NAME.queries.yml as recording rules, for
`promtool check rules` to parse with Prometheus's own parser.

Python 3 standard library only.  Exit status 1 if anything failed.
"""
import argparse
import glob
import json
import os
import re
import sys

# Each dashboard: the tool whose metrics it shows (tools/TOOL.c) and the
# template variables it must offer besides "datasource" and "instance".
# A dashboard that is not listed here fails: nothing is skipped silently.
DASHBOARDS = {
    "iova": ("iovatop", ["domain"]),
    "swiotlb": ("swiotlbstat", ["device", "kind"]),
}

# The Grafana unit ids the dashboards may use (from Grafana's
# valueFormats categories); "suffix:"/"prefix:" custom units are allowed.
UNITS = {"none", "short", "percent", "percentunit", "bytes", "decbytes",
         "ns", "µs", "ms", "s", "ops", "cps", "reqps", "iops", "Bps",
         "binBps", "bool"}

RATE_FUNCTIONS = ("rate", "irate", "increase")

# Words of PromQL that look like metric names but are not
PROMQL_WORDS = {"and", "or", "unless", "by", "without", "on", "ignoring",
                "group_left", "group_right", "offset", "bool", "inf", "nan",
                "atan2", "start", "end"}

IDENT = r"[a-zA-Z_:][a-zA-Z0-9_:]*"


# ---- the metrics a tool exports, read from its source ----

def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def histogram_names(text, pos):
    """A histogram family is written as NAME_bucket, _sum and _count: the
    family's type string sits in the same call or table row as its name."""
    end = min([i for i in (text.find(";", pos), text.find("}", pos)) if i >= 0] or [len(text)])
    return '"histogram"' in text[pos:end]


def exported_metrics(top, tool):
    """Metric names of tools/TOOL.c, or raise ValueError saying why not.

    Names come from three places: PREFIX("suffix") macros defined as
    "dmascope_x_" name, literal "dmascope_..." strings, and the health
    families that tools/lib/loop.c names with the tool's metric_prefix."""
    src_path = os.path.join(top, "tools", tool + ".c")
    if not os.path.exists(src_path):
        raise ValueError("tools/%s.c does not exist: no metric list to check against" % tool)
    src = read(src_path)
    prefix = re.search(r'\.metric_prefix\s*=\s*"(dmascope_[a-z0-9_]+_)"', src)
    if not prefix:
        raise ValueError("tools/%s.c sets no .metric_prefix" % tool)
    prefix = prefix.group(1)

    found = []  # (name, text it was found in, position)
    for macro, mprefix in re.findall(r'#define\s+(\w+)\(\w+\)\s+"(dmascope_[a-z0-9_]*)"\s+\w+', src):
        for m in re.finditer(r'\b%s\("([a-z0-9_]+)"\)' % macro, src):
            found.append((mprefix + m.group(1), src, m.start()))
    for m in re.finditer(r'"(dmascope_[a-z0-9_]*[a-z0-9])"', src):
        found.append((m.group(1), src, m.start()))
    loop = read(os.path.join(top, "tools", "lib", "loop.c"))
    for m in re.finditer(r'metric_name\(\w+,\s*sizeof\(\w+\),\s*"([a-z0-9_]+)"\)', loop):
        found.append((prefix + m.group(1), loop, m.start()))

    names = set()
    for name, text, pos in found:
        names.add(name)
        if histogram_names(text, pos):
            names.update(name + s for s in ("_bucket", "_sum", "_count"))
    if not names:
        raise ValueError("found no metric names in tools/%s.c" % tool)
    return names


# ---- PromQL, lexically (Grafana variables make it not quite PromQL) ----

def strip_strings(expr):
    """The expression with every quoted string emptied, or None if a
    string is not terminated."""
    out, i = [], 0
    while i < len(expr):
        c = expr[i]
        if c in "\"'`":
            j = i + 1
            while j < len(expr) and expr[j] != c:
                j += 2 if expr[j] == "\\" and c != "`" else 1
            if j >= len(expr):
                return None
            out.append(c + c)
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def balance_error(expr):
    """Why the brackets of expr do not balance, or None."""
    bare = strip_strings(expr)
    if bare is None:
        return "a quoted string is not terminated"
    pairs = {")": "(", "]": "[", "}": "{"}
    stack = []
    for i, c in enumerate(bare):
        if c in "([{":
            stack.append(c)
        elif c in pairs:
            if not stack or stack.pop() != pairs[c]:
                return "unmatched '%s' at character %d" % (c, i + 1)
    if stack:
        return "'%s' never closed" % stack[-1]
    return None


def call_arguments(bare, open_paren):
    """The text between the parenthesis at open_paren and its match."""
    depth = 0
    for i in range(open_paren, len(bare)):
        depth += {"(": 1, ")": -1}.get(bare[i], 0)
        if depth == 0:
            return bare[open_paren + 1:i]
    return bare[open_paren + 1:]


def rate_interval_errors(expr):
    """Each rate()/irate()/increase() whose range is not $__rate_interval."""
    bare = strip_strings(expr) or expr
    errors = []
    for m in re.finditer(r"(?<![\w:])(%s)\s*\(" % "|".join(RATE_FUNCTIONS), bare):
        ranges = re.findall(r"\[([^\]]*)\]", call_arguments(bare, m.end() - 1))
        if not ranges:
            errors.append("%s() without a range" % m.group(1))
        for r in ranges:
            if r.strip() != "$__rate_interval":
                errors.append("%s() over [%s], not [$__rate_interval]" % (m.group(1), r))
    return errors


def metric_names(expr):
    """The metric names an expression selects: identifiers that are not
    functions, keywords, label names or template variables."""
    bare = strip_strings(expr)
    if bare is None:
        return set()
    bare = re.sub(r"\{[^{}]*\}", "{}", bare)        # label matchers
    bare = re.sub(r"\[[^\]]*\]", "[]", bare)        # ranges
    # grouping lists go, so that "sum by (x) (" reads as a call of sum
    bare = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", bare)
    names = set()
    for m in re.finditer(r"(?<![\w:$.{])(%s)" % IDENT, bare):
        word = m.group(1)
        rest = bare[m.end():].lstrip()
        if rest.startswith("(") or word.lower() in PROMQL_WORDS:
            continue
        names.add(word)
    return names


def variable_selector(query):
    """The series selector of label_values(SELECTOR, label), and label."""
    m = re.match(r"\s*label_values\(\s*(.*),\s*(%s)\s*\)\s*$" % IDENT, query, re.S)
    return (m.group(1), m.group(2)) if m else (None, None)


def as_promql(expr):
    """Grafana variables replaced so that Prometheus can parse the query."""
    expr = expr.replace("$__rate_interval", "5m")
    return re.sub(r"\$\{?\w+\}?", ".*", expr)


# ---- the dashboard ----

def panels_of(dash):
    """Every panel, rows' nested panels included."""
    for p in dash.get("panels", []):
        yield p
        for q in p.get("panels", []):
            yield q


def is_row(p):
    return p.get("type") == "row"


def data_panels(dash):
    """The panels that show data: every panel but the rows."""
    return (p for p in panels_of(dash) if not is_row(p))


def panel_name(p):
    return "panel %r" % (p.get("title") or "id %s" % p.get("id"))


def queries(p):
    return [t.get("expr", "") for t in p.get("targets", [])]


def variable_query(v):
    q = v.get("query", "")
    return q.get("query", "") if isinstance(q, dict) else q


def is_our_datasource(ds):
    return (isinstance(ds, dict) and ds.get("type") == "prometheus"
            and ds.get("uid") in ("${datasource}", "$datasource"))


def check_identity(dash, name, ctx):
    errors = []
    for key in ("uid", "title"):
        if not isinstance(dash.get(key), str) or not dash[key].strip():
            errors.append("no %s" % key)
    if len(dash.get("uid") or "") > 40:
        errors.append("uid longer than Grafana's 40 characters")
    ids = [p.get("id") for p in panels_of(dash)]
    dup = sorted({i for i in ids if ids.count(i) > 1}, key=str)
    if dup:
        errors.append("panel ids used twice: %s" % dup)
    if not list(data_panels(dash)):
        errors.append("no panels")
    return errors


def check_variables(dash, name, ctx):
    if name not in DASHBOARDS:
        return ["dashboards/%s.json is not in DASHBOARDS of tests/dashboards/check.py "
                "(which tool, which variables)" % name]
    want = ["instance"] + DASHBOARDS[name][1]
    found = {v.get("name"): v for v in dash.get("templating", {}).get("list", [])}
    errors = []
    ds = found.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        errors.append("no variable 'datasource' of type datasource for prometheus")
    for var in want:
        v = found.get(var)
        selector, label = variable_selector(variable_query(v or {}))
        if not v or v.get("type") != "query":
            errors.append("no query variable '%s'" % var)
        elif not selector or label != var or not metric_names(selector):
            errors.append("variable '%s' is not label_values(METRIC{...}, %s)" % (var, var))
    # a variable no query uses filters nothing; every query can filter by
    # instance, because Prometheus adds that label to every series
    everything = " ".join(e for p in panels_of(dash) for e in queries(p))
    for var in want:
        if "$" + var not in everything and "${%s}" % var not in everything:
            errors.append("no panel query uses $%s" % var)
    for p in panels_of(dash):
        for e in queries(p):
            if "$instance" not in e:
                errors.append("%s: a query does not filter by $instance" % panel_name(p))
    return errors


def check_titles(dash, name, ctx):
    return ["panel id %s has no title" % p.get("id")
            for p in panels_of(dash) if not str(p.get("title", "")).strip()]


def check_descriptions(dash, name, ctx):
    errors = []
    for p in data_panels(dash):
        d = str(p.get("description", ""))
        # what a bad value looks like, and what to do about it
        for part in ("Bad:", "What to do:"):
            if part.lower() not in d.lower():
                errors.append("%s: description lacks '%s'" % (panel_name(p), part))
    return errors


def check_units(dash, name, ctx):
    errors = []
    for p in data_panels(dash):
        unit = p.get("fieldConfig", {}).get("defaults", {}).get("unit")
        if not unit:
            errors.append("%s: no fieldConfig.defaults.unit" % panel_name(p))
        elif unit not in UNITS and not re.match(r"(suffix|prefix):\S", unit):
            errors.append("%s: unknown unit '%s'" % (panel_name(p), unit))
    return errors


def check_datasource(dash, name, ctx):
    errors = []
    for p in data_panels(dash):
        if not is_our_datasource(p.get("datasource")):
            errors.append("%s: datasource is not prometheus ${datasource}" % panel_name(p))
        for t in p.get("targets", []):
            if "datasource" in t and not is_our_datasource(t["datasource"]):
                errors.append("%s: target %s has another datasource" %
                              (panel_name(p), t.get("refId")))
    for v in dash.get("templating", {}).get("list", []):
        if v.get("type") == "query" and not is_our_datasource(v.get("datasource")):
            errors.append("variable '%s': datasource is not ${datasource}" % v.get("name"))
    return errors


def check_rate_interval(dash, name, ctx):
    return ["%s: %s" % (panel_name(p), e)
            for p in panels_of(dash) for q in queries(p) for e in rate_interval_errors(q)]


def check_promql_syntax(dash, name, ctx):
    errors = []
    for p in data_panels(dash):
        if not queries(p) or not all(q.strip() for q in queries(p)):
            errors.append("%s: a target without a query" % panel_name(p))
        for q in queries(p):
            why = balance_error(q)
            if why:
                errors.append("%s: %s" % (panel_name(p), why))
    for v in dash.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            why = balance_error(variable_query(v))
            if why:
                errors.append("variable '%s': %s" % (v.get("name"), why))
    return errors


def metrics_of(what, name, ctx):
    """The metrics the tool of dashboard NAME exports, or an error list."""
    if name not in DASHBOARDS:
        return None, ["%s: '%s' is not in DASHBOARDS of tests/dashboards/check.py" % (what, name)]
    try:
        return exported_metrics(ctx["top"], DASHBOARDS[name][0]), None
    except (ValueError, OSError) as e:
        return None, [str(e)]


def check_metrics(dash, name, ctx):
    exported, errors = metrics_of("dashboards/%s.json" % name, name, ctx)
    if errors:
        return errors
    tool = DASHBOARDS[name][0]
    errors = []
    used = [(panel_name(p), q) for p in panels_of(dash) for q in queries(p)]
    used += [("variable '%s'" % v.get("name"), variable_selector(variable_query(v))[0] or "")
             for v in dash.get("templating", {}).get("list", []) if v.get("type") == "query"]
    for where, q in used:
        for m in sorted(metric_names(q) - exported):
            errors.append("%s: %s is not exported by tools/%s.c" % (where, m, tool))
    if not any(metric_names(q) for _, q in used):
        errors.append("no query selects a metric")
    return errors


RULES = [
    ("identity", check_identity),
    ("variables", check_variables),
    ("titles", check_titles),
    ("descriptions", check_descriptions),
    ("units", check_units),
    ("datasource", check_datasource),
    ("rate-interval", check_rate_interval),
    ("promql-syntax", check_promql_syntax),
    ("metrics", check_metrics),
]


def report(test, errors):
    """One line for one test; at most five reasons, then how many more."""
    if not errors:
        print("PASS %s" % test)
        return True
    more = " (and %d more)" % (len(errors) - 5) if len(errors) > 5 else ""
    print("FAIL %s: %s%s" % (test, "; ".join(errors[:5]), more))
    return False


def write_queries(dash, path):
    """Every query as a recording rule, in JSON (which is YAML too)."""
    rules = []
    for p in panels_of(dash):
        for i, q in enumerate(queries(p)):
            rules.append({"record": "dashboard:panel%s:%s" % (p.get("id"), "abcdefgh"[i % 8]),
                          "expr": as_promql(q)})
    for v in dash.get("templating", {}).get("list", []):
        selector = variable_selector(variable_query(v))[0] if v.get("type") == "query" else None
        if selector:
            rules.append({"record": "dashboard:variable:%s" % v.get("name"),
                          "expr": as_promql(selector)})
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"groups": [{"name": "dashboard-queries", "rules": rules}]}, f, indent=1)


def check_dashboard(path, ctx):
    name = os.path.basename(path)[:-len(".json")]
    test = "dashboard-%s-" % name
    path = os.path.relpath(path, ctx["top"])    # for the messages
    try:
        text = read(os.path.join(ctx["top"], path))
        dash = json.loads(text)
        if not isinstance(dash, dict):
            raise ValueError("the top level is not an object")
    except (ValueError, OSError) as e:
        report(test + "json", ["%s: %s" % (path, e)])
        for rule, _ in RULES:
            report(test + rule, ["not checked: %s is not valid JSON" % path])
        return False
    ok = report(test + "json", [])
    for rule, fn in RULES:
        ok &= report(test + rule, fn(dash, name, ctx))
    if ctx["queries"]:
        write_queries(dash, os.path.join(ctx["queries"], name + ".queries.yml"))
    return ok


# ---- the alert rules (YAML, read line by line: no YAML parser in the
# standard library; a file this cannot read fails, it is not skipped) ----

def check_rules_metrics(path, name, ctx):
    exported, errors = metrics_of(path, name, ctx)
    if errors:
        return errors
    tool = DASHBOARDS[name][0]
    errors = []
    for f in (path, path[:-len(".yml")] + ".test.yml"):
        if not os.path.exists(f):
            continue
        prefix = "dmascope_" + name + "_"
        for m in sorted(set(re.findall(r"\b%s[a-z0-9_]+" % prefix, read(f))) - exported):
            errors.append("%s: %s is not exported by tools/%s.c" % (os.path.basename(f), m, tool))
    return errors


def check_rules_tests(path, name, ctx):
    """Every alert has a test where it fires and one where it does not."""
    test_path = path[:-len(".yml")] + ".test.yml"
    alerts = re.findall(r"^\s*-\s*alert:\s*(\S+)", read(path), re.M)
    if not alerts:
        return ["%s defines no alert" % os.path.basename(path)]
    if not os.path.exists(test_path):
        return ["no %s" % os.path.basename(test_path)]
    fires, silent = set(), set()
    lines = read(test_path).splitlines()
    alert = None
    for i, line in enumerate(lines):
        m = re.match(r"\s*-?\s*alertname:\s*(\S+)", line)
        if m:
            alert = m.group(1)
        m = re.match(r"(\s*)exp_alerts:\s*(.*)$", line)
        if m and alert:
            if m.group(2).strip() == "[]":
                silent.add(alert)
            elif i + 1 < len(lines) and re.match(r"\s*-\s*exp_labels:", lines[i + 1]):
                fires.add(alert)
    errors = []
    for a in alerts:
        if a not in fires:
            errors.append("%s: no test where it fires" % a)
        if a not in silent:
            errors.append("%s: no test where it stays silent (exp_alerts: [])" % a)
    return errors


def check_rules_file(path, ctx):
    name = os.path.basename(path)[:-len(".rules.yml")]
    ok = report("rules-%s-metrics" % name, check_rules_metrics(path, name, ctx))
    ok &= report("rules-%s-tests" % name, check_rules_tests(path, name, ctx))
    return ok


def main():
    ap = argparse.ArgumentParser(description="Check dashboards/*.json and dashboards/rules/.")
    ap.add_argument("--top", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."),
                    help="the source tree (default: this checkout)")
    ap.add_argument("--queries", metavar="DIR",
                    help="write each dashboard's queries to DIR/NAME.queries.yml")
    ap.add_argument("files", nargs="*",
                    help="dashboards/*.json and rules/*.rules.yml (default: all under --top)")
    args = ap.parse_args()
    args.top = os.path.normpath(args.top)
    ctx = {"top": args.top, "queries": args.queries}
    files = args.files or (sorted(glob.glob(os.path.join(args.top, "dashboards", "*.json"))) +
                           sorted(glob.glob(os.path.join(args.top, "dashboards", "rules",
                                                         "*.rules.yml"))))
    if not any(f.endswith(".json") for f in files):
        print("FAIL dashboards-found: no dashboards/*.json")
        return 1
    ok = True
    for f in files:
        if f.endswith(".json"):
            ok &= check_dashboard(f, ctx)
        elif f.endswith(".rules.yml"):
            ok &= check_rules_file(f, ctx)
        else:
            print("FAIL dashboards-arguments: %s is neither NAME.json nor NAME.rules.yml" % f)
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
