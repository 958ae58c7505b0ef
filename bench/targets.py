"""The targets of issue 18, measured: bench/compare's closing table.

evaluate(results, lookup, prov) gives one row per target (target, measured,
status), where status is "met", "missed" or "not measured" (the scenario was
left out with --only, or a tool or script is missing). A missed target is a
measurement, never a failure; a scenario that errors is bench/compare's
failure, not this table's.

Ratios are zmproxyd's median over nginx's (or direct's), from one run;
the comparison is made on the ratio as printed (two decimals).

run_lookup() runs bench/lookup_bench.sh (zmlookupd under wrk; not edited
here) and run_prov() bench/prov_scale.py (zmprov on a 10,000-account store),
and parse their output.
"""
import os
import re
import statistics
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
PROV_ACCOUNTS = 10000

MET, MISSED, ABSENT = "met", "missed", "not measured"


def median(results, scen, target, field):
    vals = [r.get(field) for r in results.get((scen, target), []) if r.get(field) is not None]
    return statistics.median(vals) if vals else None


def _num(v, digits):
    return f"{v:,.{digits}f}"


def ratio_row(results, label, scen, field, op, bound, against="nginx", digits=1, unit=""):
    """A row comparing zmproxyd's median with `against`'s: met when the
    ratio (rounded to two decimals) is <= bound (op "<=") or >= bound (">=")."""
    z = median(results, scen, "zmproxyd", field)
    o = median(results, scen, against, field)
    if z is None or o is None or o <= 0:
        return (label, "–", ABSENT)
    r = round(z / o, 2)
    ok = r <= bound if op == "<=" else r >= bound
    return (label, f"{r:.2f}× ({_num(z, digits)} vs {_num(o, digits)}{unit})", MET if ok else MISSED)


def absolute_row(label, value, op, bound, digits, unit, note=""):
    if value is None:
        return (label, "–" + (f" ({note})" if note else ""), ABSENT)
    ok = value < bound if op == "<" else value >= bound
    text = f"{_num(value, digits)}{unit}" + (f" ({note})" if note else "")
    return (label, text, MET if ok else MISSED)


def evaluate(results, lookup=None, prov=None):
    """The target rows, in the issue's order."""
    lookup = lookup or {}
    prov = prov or {}
    rows = []
    for scen, what in (("login", "IMAP"), ("pop3", "POP3")):
        rows.append(ratio_row(results, f"CPU per 1,000 {what} sessions ≤ 0.5× nginx (per process)", scen,
                              "proxy_cpu_ms_per_1000", "<=", 0.5, digits=0, unit=" ms"))
        rows.append(ratio_row(results, f"CPU per 1,000 {what} sessions ≤ 0.9× nginx (whole server core)", scen,
                              "core_cpu_ms_per_1000", "<=", 0.9, digits=0, unit=" ms"))
    for scen, what in (("http1k", "HTTP 1 KiB"), ("http100k", "HTTP 100 KiB")):
        rows += [
            ratio_row(results, f"{what} req/s ≥ 1.1× nginx", scen, "req_per_s", ">=", 1.1, digits=0),
            ratio_row(results, f"{what} CPU per request ≤ 0.9× nginx (per process)", scen,
                      "proxy_cpu_ms_per_1000", "<=", 0.9, unit=" ms/1,000"),
            ratio_row(results, f"{what} CPU per request ≤ 0.9× nginx (whole server core)", scen,
                      "core_cpu_ms_per_1000", "<=", 0.9, unit=" ms/1,000"),
            ratio_row(results, f"{what} p99 ≤ nginx", scen, "p99_ms", "<=", 1.0, digits=2, unit=" ms"),
        ]
    rows += [
        ratio_row(results, "idle IMAPS RSS per connection ≤ 0.5× nginx", "idle-tls", "rss_kib_per_conn",
                  "<=", 0.5, digits=2, unit=" KiB"),
        ratio_row(results, "idle IMAP RSS per connection ≤ 0.3× nginx (plain)", "idle", "rss_kib_per_conn",
                  "<=", 0.3, digits=2, unit=" KiB"),
        ratio_row(results, "bulk FETCH ≥ 0.9× direct (plain)", "fetch", "mib_per_s", ">=", 0.9,
                  against="direct", digits=0, unit=" MiB/s"),
        ratio_row(results, "IMAPS bulk FETCH ≥ 1.5× nginx", "fetch-tls", "mib_per_s", ">=", 1.5,
                  digits=0, unit=" MiB/s"),
    ]
    floor = lookup.get("floor_req_per_s")
    note = f"Python floor {floor:,.0f}/s" if floor is not None else lookup.get("note", "")
    wrk_core = lookup.get("wrk_core_pct")
    rate = lookup.get("req_per_s")
    if wrk_core is not None and wrk_core >= 95 and rate is not None and rate < 100000:
        note += f"; wrk's own core {wrk_core:.0f}% busy: the load generator's limit"
    rows.append(absolute_row("zmlookupd ≥ 100k lookups/s (wrk -c50, one core)", lookup.get("req_per_s"),
                             ">=", 100000, 0, "/s", note))
    # What one core of zmlookupd can answer, whatever wrk's core manages:
    # lookups per second of zmlookupd's own CPU time.
    floor_cpu = lookup.get("floor_lookups_per_cpu_s")
    rows.append(absolute_row("zmlookupd ≥ 100k lookups per CPU-second (one core's capacity)",
                             lookup.get("lookups_per_cpu_s"), ">=", 100000, 0, "/CPU-s",
                             f"Python floor {floor_cpu:,.0f}/CPU-s" if floor_cpu is not None else ""))
    floor_p99 = lookup.get("floor_p99_ms")
    rows.append(absolute_row("zmlookupd p99 < 1 ms", lookup.get("p99_ms"), "<", 1.0, 2, " ms",
                             f"Python floor {floor_p99:.2f} ms" if floor_p99 is not None else ""))
    for cmd in ("gcf", "ga", "ma"):
        value, what = prov.get(cmd, (None, prov.get("note", "")))
        rows.append(absolute_row(f"zmprov {cmd} < 20 ms at {PROV_ACCOUNTS:,} accounts", value, "<", 20.0, 1,
                                 " ms", what))
    return rows


def format_table(rows):
    out = ["| target | measured | status |", "|---|---|---|"]
    out += [f"| {t} | {m} | {s} |" for t, m, s in rows]
    met = sum(1 for r in rows if r[2] == MET)
    missed = sum(1 for r in rows if r[2] == MISSED)
    out.append(f"\n{met} met, {missed} missed, {len(rows) - met - missed} not measured")
    return "\n".join(out)


# -- zmlookupd: bench/lookup_bench.sh ----------------------------------------

_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


_LOOKUP_ROW = re.compile(r"^\|\s*(floor|zmlookupd)\s*\|\s*([\d.]+)\s*\|\s*([\d.]+)\s*\|"
                         r"\s*([\d.]+)\s*\|\s*([\d.]+)\s*\|"
                         r"(?:\s*([\d.]+)\s*\|\s*([\d.]+)\s*\|\s*([\d.]+)\s*\|)?\s*$")


def parse_lookup(text):
    """zmlookupd's lookups/s and p99, and the Python floor's: from the median
    table bench/lookup_bench.sh ends with (| target | lookups/s | p50 ms |
    p99 ms | CPU-ms per 1,000 | and, since it reports them, lookups per
    CPU-second | server core % | wrk core % |), else from raw wrk output
    (Requests/sec and the 99% line; a header line naming a floor or Python
    starts the floor's section); the first figures of each."""
    out = {}
    for line in text.splitlines():
        m = _LOOKUP_ROW.match(line.strip())
        if m:
            prefix = "" if m.group(1) == "zmlookupd" else "floor_"
            out.setdefault(prefix + "req_per_s", float(m.group(2)))
            out.setdefault(prefix + "p99_ms", float(m.group(4)))
            out.setdefault(prefix + "cpu_ms_per_1000", float(m.group(5)))
            if m.group(6) is not None:
                out.setdefault(prefix + "lookups_per_cpu_s", float(m.group(6)))
                out.setdefault(prefix + "server_core_pct", float(m.group(7)))
                out.setdefault(prefix + "wrk_core_pct", float(m.group(8)))
    if "req_per_s" in out:
        return out
    who = "zmlookupd"
    for line in text.splitlines():
        low = line.lower()
        if "requests/sec" not in low and "%" not in low:
            if "floor" in low or "python" in low:
                who = "floor"
            elif "zmlookupd" in low and "cpu" not in low:
                who = "zmlookupd"
        prefix = "" if who == "zmlookupd" else "floor_"
        m = re.search(r"Requests/sec:\s+([\d.]+)", line)
        if m and prefix + "req_per_s" not in out:
            out[prefix + "req_per_s"] = float(m.group(1))
        m = re.match(r"\s*99(?:\.0+)?%\s+([\d.]+)(us|ms|s)\b", line)
        if m and prefix + "p99_ms" not in out:
            out[prefix + "p99_ms"] = float(m.group(1)) * _UNIT_MS[m.group(2)]
    return out


def run_lookup(bin_dir, seconds, timeout=600):
    """({figures}, error or None); figures carry a "note" when not run."""
    script = os.path.join(HERE, "lookup_bench.sh")
    if not os.path.exists(script):
        return {"note": "bench/lookup_bench.sh is missing"}, None
    r = subprocess.run(["sh", script, bin_dir, str(PROV_ACCOUNTS), str(int(seconds))],
                       capture_output=True, text=True, timeout=timeout)
    out = parse_lookup(r.stdout)
    if r.returncode != 0 or "req_per_s" not in out or "p99_ms" not in out:
        return out, (f"lookup: bench/lookup_bench.sh exited {r.returncode} without zmlookupd's "
                     f"Requests/sec and 99% lines: {r.stdout[-400:]}{r.stderr[-400:]}")
    out["output"] = r.stdout
    return out, None


# -- zmprov: bench/prov_scale.py ---------------------------------------------

def parse_prov(text):
    """{"gcf"|"ga"|"ma": (median ms, which line)} from prov_scale's lines
    `  zmprov <cmd> ...   median   N ms   min   M ms`; ga is the slowest of
    its lines (by name at the start and middle of the store, by zimbraId)."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"\s*(zmprov (\w+).*?)\s+median\s+([\d.]+)\s*ms", line)
        if not m:
            continue
        label, cmd, ms = m.group(1).strip(), m.group(2), float(m.group(3))
        if cmd in ("gcf", "ga", "ma") and (cmd not in out or ms > out[cmd][0]):
            out[cmd] = (ms, "slowest: " + label if cmd == "ga" else "")
    return out


def run_prov(bin_dir, runs, timeout=900):
    script = os.path.join(HERE, "prov_scale.py")
    if not os.path.exists(script):
        return {"note": "bench/prov_scale.py is missing"}, None
    r = subprocess.run(["python3", script, "--accounts", str(PROV_ACCOUNTS), "--runs", str(runs), bin_dir],
                       capture_output=True, text=True, timeout=timeout)
    out = parse_prov(r.stdout)
    if r.returncode != 0 or not all(k in out for k in ("gcf", "ga", "ma")):
        return out, (f"prov: bench/prov_scale.py exited {r.returncode} without gcf, ga and ma lines: "
                     f"{r.stdout[-400:]}{r.stderr[-400:]}")
    out["output"] = r.stdout
    return out, None
