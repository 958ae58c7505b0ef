#!/usr/bin/env python3
"""bench/compare's own checks, without starting a server (ctest
bench.compare_selftest): the /proc/stat parser and the whole-core figure, the
output parsers of bench/lookup_bench.sh and bench/prov_scale.py, the target
table's statuses, and the comparison table's new rows. Seconds, no load."""
import importlib.machinery
import importlib.util
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import core_cpu  # noqa: E402
import http_nginx  # noqa: E402
import targets  # noqa: E402


def load_compare():
    loader = importlib.machinery.SourceFileLoader("bench_compare", os.path.join(HERE, "compare"))
    spec = importlib.util.spec_from_loader("bench_compare", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


PROC_STAT = """cpu  4975689 0 1206509 3052320 20555 0 96501 13511 0 0
cpu0 2478806 1 677599 1453625 6560 2 63059 4924 7 0
cpu1 2496883 0 528909 1598695 13995 0 33441 8587 0 0
intr 123 0 0
ctxt 99
"""

WRK_LOOKUP = """zmlookupd at 127.0.0.1:40000, 10000 accounts; wrk -t1 -c50 -d10s (keep-alive)
    Latency     1.59ms    1.20ms  40.00ms   95.00%
  Latency Distribution
     50%    1.30ms
     99%    3.60ms
  307000 requests in 10.00s, 90.00MB read
Requests/sec:  30700.00
zmlookupd CPU: 9990 ms over the run
python floor handler at 127.0.0.1:40001; wrk -t1 -c50 -d10s
     50%    1.40ms
     99%  812.00us
Requests/sec:  29900.50
"""

PROV = """store: 10000 accounts, 3.2 MB (/tmp/x/data/prov.ldif)
  zmprov gcf zimbraImapProxyBindPort       median    36.2 ms   min    35.0 ms
  zmprov ga user0@example.com              median    12.0 ms   min    11.0 ms
  zmprov ga user5000@example.com           median    19.5 ms   min    19.0 ms
  zmprov ga by zimbraId (search)           median    21.0 ms   min    20.0 ms
  zmprov ma (rewrites the store)           median    18.0 ms   min    17.0 ms
  zmprov gaa example.com                   median    40.0 ms   min    39.0 ms
"""


class CoreCpu(unittest.TestCase):
    def test_busy_columns_of_the_named_cpu(self):
        cols = core_cpu.parse_cpu_line(PROC_STAT, 0)
        self.assertEqual(cols["user"], 2478806)
        self.assertEqual(cols["idle"], 1453625)
        self.assertEqual(cols["guest"], 7)
        busy_ticks = 2478806 + 1 + 677599 + 2 + 63059 + 4924  # not idle, iowait or guest
        self.assertAlmostEqual(core_cpu.busy_ms(cols), busy_ticks * 1000.0 / core_cpu.CLK_TCK)

    def test_short_line_and_missing_cpu(self):
        cols = core_cpu.parse_cpu_line("cpu3 10 0 5 100 0 0 1\n", 3)  # no steal, guest columns
        self.assertEqual(cols["steal"], 0)
        self.assertAlmostEqual(core_cpu.busy_ms(cols), 16 * 1000.0 / core_cpu.CLK_TCK)
        with self.assertRaises(KeyError):
            core_cpu.parse_cpu_line(PROC_STAT, 2)
        with self.assertRaises(KeyError):  # "cpu" (all CPUs) is not cpu0's line
            core_cpu.parse_cpu_line("cpu  1 2 3 4\n", 0)

    def test_others_pinned(self):
        p = subprocess.Popen(["sleep", "30"], preexec_fn=lambda: os.sched_setaffinity(0, {0}))
        try:
            self.assertIn(p.pid, core_cpu.others_pinned_to(0))
            self.assertEqual(core_cpu.others_pinned_to(0)[p.pid], "sleep 30")
            self.assertNotIn(p.pid, core_cpu.others_pinned_to(0, mine=[p.pid]))
        finally:
            p.kill()
            p.wait()

    def test_this_machine(self):
        a = core_cpu.core_busy_ms(0)
        b = core_cpu.core_busy_ms(0)
        self.assertGreater(a, 0)
        self.assertGreaterEqual(b, a)


class Parsers(unittest.TestCase):
    def test_lookup_output(self):
        out = targets.parse_lookup(WRK_LOOKUP)
        self.assertEqual(out["req_per_s"], 30700.0)
        self.assertAlmostEqual(out["p99_ms"], 3.6)
        self.assertEqual(out["floor_req_per_s"], 29900.5)
        self.assertAlmostEqual(out["floor_p99_ms"], 0.812)
        only = targets.parse_lookup(WRK_LOOKUP.split("python floor")[0])
        self.assertNotIn("floor_req_per_s", only)

    def test_lookup_table(self):
        # What bench/lookup_bench.sh prints at its end: the medians of its rounds.
        out = targets.parse_lookup(
            "round 3 zmlookupd: 69675 lookups/s, p50 0.70 ms, p99 1.15 ms, 14.3 CPU-ms per 1,000\n\n"
            "| target | lookups/s | p50 ms | p99 ms | CPU-ms per 1,000 |\n|---|---|---|---|---|\n"
            "| floor | 69968 | 0.71 | 1.43 | 14.2 |\n| zmlookupd | 72540 | 0.68 | 1.43 | 13.6 |\n")
        self.assertEqual(out["req_per_s"], 72540.0)
        self.assertAlmostEqual(out["p99_ms"], 1.43)
        self.assertAlmostEqual(out["cpu_ms_per_1000"], 13.6)
        self.assertEqual(out["floor_req_per_s"], 69968.0)
        self.assertNotIn("lookups_per_cpu_s", out)  # the table before those columns

    def test_lookup_table_with_cpu_columns(self):
        # The table since it reports what the load generator's core did.
        out = targets.parse_lookup(
            "| target | lookups/s | p50 ms | p99 ms | CPU-ms per 1,000 | lookups per CPU-second |"
            " server core % | wrk core % |\n|---|---|---|---|---|---|---|---|\n"
            "| floor | 68410 | 0.71 | 1.71 | 14.6 | 68493 | 99 | 97 |\n"
            "| zmlookupd | 71200 | 0.66 | 1.25 | 7.1 | 140845 | 51 | 98 |\n"
            "zmlookupd: wrk's core was full (median 98%) before the server's (51%): ...\n")
        self.assertEqual(out["req_per_s"], 71200.0)
        self.assertAlmostEqual(out["p99_ms"], 1.25)
        self.assertAlmostEqual(out["cpu_ms_per_1000"], 7.1)
        self.assertEqual(out["lookups_per_cpu_s"], 140845.0)
        self.assertEqual(out["server_core_pct"], 51.0)
        self.assertEqual(out["wrk_core_pct"], 98.0)
        self.assertEqual(out["floor_lookups_per_cpu_s"], 68493.0)

    def test_prov_output(self):
        out = targets.parse_prov(PROV)
        self.assertEqual(out["gcf"][0], 36.2)
        self.assertEqual(out["ga"][0], 21.0)  # the slowest ga
        self.assertIn("zimbraId", out["ga"][1])
        self.assertEqual(out["ma"][0], 18.0)
        self.assertNotIn("gaa", out)


def runs(**by_target):
    return {t: [v] if isinstance(v, dict) else v for t, v in by_target.items()}


class Targets(unittest.TestCase):
    def results(self):
        r = {}
        for scen, per in {
            "login": runs(nginx={"proxy_cpu_ms_per_1000": 400, "core_cpu_ms_per_1000": 6000},
                          zmproxyd={"proxy_cpu_ms_per_1000": 200, "core_cpu_ms_per_1000": 5500}),
            "http1k": runs(nginx={"req_per_s": 1000, "proxy_cpu_ms_per_1000": 20, "core_cpu_ms_per_1000": 50,
                                  "p99_ms": 2.0},
                           zmproxyd=[{"req_per_s": 1200, "proxy_cpu_ms_per_1000": 17, "core_cpu_ms_per_1000": 45,
                                      "p99_ms": 2.1},
                                     {"req_per_s": 1100, "proxy_cpu_ms_per_1000": 19, "core_cpu_ms_per_1000": 60,
                                      "p99_ms": 1.0},
                                     {"req_per_s": 900, "proxy_cpu_ms_per_1000": 18, "core_cpu_ms_per_1000": 46,
                                      "p99_ms": 1.9}]),
            "fetch": runs(direct={"mib_per_s": 1000}, nginx={"mib_per_s": 100}, zmproxyd={"mib_per_s": 905}),
        }.items():
            for target, values in per.items():
                r[(scen, target)] = values
        return r

    def test_statuses(self):
        rows = {t: (m, s) for t, m, s in targets.evaluate(
            self.results(), {"req_per_s": 120000.0, "p99_ms": 1.5},
            {"gcf": (36.2, ""), "ga": (21.0, "slowest"), "ma": (5.0, "")})}
        met, missed, absent = targets.MET, targets.MISSED, targets.ABSENT
        self.assertEqual(rows["CPU per 1,000 IMAP sessions ≤ 0.5× nginx (per process)"][1], met)  # 0.50 exactly
        self.assertEqual(rows["CPU per 1,000 IMAP sessions ≤ 0.9× nginx (whole server core)"][1], missed)
        self.assertEqual(rows["CPU per 1,000 POP3 sessions ≤ 0.5× nginx (per process)"][1], absent)
        # medians of three runs: 1,100 req/s, 18 ms, 46 ms, 1.9 ms
        self.assertEqual(rows["HTTP 1 KiB req/s ≥ 1.1× nginx"], ("1.10× (1,100 vs 1,000)", met))
        self.assertEqual(rows["HTTP 1 KiB CPU per request ≤ 0.9× nginx (per process)"][1], met)
        self.assertEqual(rows["HTTP 1 KiB CPU per request ≤ 0.9× nginx (whole server core)"][1], missed)
        self.assertEqual(rows["HTTP 1 KiB p99 ≤ nginx"][1], met)
        self.assertEqual(rows["bulk FETCH ≥ 0.9× direct (plain)"][1], met)
        self.assertEqual(rows["IMAPS bulk FETCH ≥ 1.5× nginx"][1], absent)
        self.assertEqual(rows["zmlookupd ≥ 100k lookups/s (wrk -c50, one core)"][1], met)
        self.assertEqual(rows["zmlookupd p99 < 1 ms"][1], missed)
        self.assertEqual(rows["zmlookupd ≥ 100k lookups per CPU-second (one core's capacity)"][1], absent)
        self.assertEqual(rows["zmprov gcf < 20 ms at 10,000 accounts"], ("36.2 ms", missed))
        self.assertEqual(rows["zmprov ga < 20 ms at 10,000 accounts"][1], missed)
        self.assertEqual(rows["zmprov ma < 20 ms at 10,000 accounts"][1], met)
        text = targets.format_table(targets.evaluate(self.results()))
        self.assertIn("| target | measured | status |", text)
        self.assertIn("not measured", text)

    def test_lookup_capacity_and_a_full_wrk_core(self):
        rows = {t: (m, s) for t, m, s in targets.evaluate(
            {}, {"req_per_s": 68000.0, "p99_ms": 0.9, "lookups_per_cpu_s": 140845.0, "wrk_core_pct": 98.0,
                 "floor_req_per_s": 67000.0, "floor_lookups_per_cpu_s": 68493.0})}
        rate = rows["zmlookupd ≥ 100k lookups/s (wrk -c50, one core)"]
        self.assertEqual(rate[1], targets.MISSED)
        self.assertIn("wrk's own core 98% busy", rate[0])
        self.assertEqual(rows["zmlookupd ≥ 100k lookups per CPU-second (one core's capacity)"],
                         ("140,845/CPU-s (Python floor 68,493/CPU-s)", targets.MET))

    def test_not_run_scripts_are_not_measured(self):
        rows = targets.evaluate({}, {"note": "bench/lookup_bench.sh is missing"}, {"note": "missing"})
        self.assertTrue(all(s == targets.ABSENT for _, _, s in rows))
        self.assertIn("lookup_bench.sh is missing", dict((t, m) for t, m, _ in rows)[
            "zmlookupd ≥ 100k lookups/s (wrk -c50, one core)"])


class Table(unittest.TestCase):
    def test_core_rows_beside_the_proxy_rows(self):
        compare = load_compare()
        res = {("http1k", "direct"): [{"req_per_s": 3000, "core_cpu_ms_per_1000": 10.0,
                                       "core_rest_cpu_ms_per_1000": 1.0}],
               ("http1k", "nginx"): [{"req_per_s": 1000, "proxy_cpu_ms_per_1000": 20.0,
                                      "core_cpu_ms_per_1000": 40.0, "core_rest_cpu_ms_per_1000": 2.0}],
               ("http1k", "zmproxyd"): [{"req_per_s": 1100, "proxy_cpu_ms_per_1000": 10.0,
                                         "core_cpu_ms_per_1000": 30.0, "core_rest_cpu_ms_per_1000": 3.0}]}
        lines = compare.table(res).splitlines()
        core = [x for x in lines if x.startswith("| HTTP 1 KiB whole server core (CPU 0) CPU-ms")]
        self.assertEqual(core, ["| HTTP 1 KiB whole server core (CPU 0) CPU-ms per 1,000 requests | 10.0 | "
                                "40.0 | 30.0 | 0.75 | 3.00 |"])
        proxy = [i for i, x in enumerate(lines) if x.startswith("| HTTP 1 KiB proxy CPU-ms")]
        self.assertEqual(lines[proxy[0] + 1], core[0])  # beside it
        self.assertFalse(any(x.startswith("| IMAP") for x in lines))  # scenarios not run: no rows

    def test_account_core(self):
        compare = load_compare()
        b = compare.Bench.__new__(compare.Bench)  # no set-up: only the arithmetic
        b.core_sample = lambda: (1500.0, 900.0, {7: 130.0, 8: 20.0})  # 8 started during the run
        out = b.account_core({}, (1000.0, 600.0, {7: 100.0, 9: 50.0}), 2000)  # 9 ended
        self.assertEqual(out["core_cpu_ms_per_1000"], 250.0)
        self.assertEqual(out["core_rest_cpu_ms_per_1000"], 100.0)
        self.assertEqual(out["core_others_pinned_cpu_ms_per_1000"], 25.0)
        self.assertIn("load1", out)


class NginxTuning(unittest.TestCase):
    """The proxies' configurations as bench/compare writes them: tuned, and
    accepted by `nginx -t`."""

    def check(self, ngx):
        try:
            ngx.port = 1
            conf = ngx.write_config()
            with open(conf) as f:
                text = f.read()
            if os.access(http_nginx.NGINX, os.X_OK):
                r = subprocess.run([http_nginx.NGINX, "-t", "-c", conf, "-p", ngx.dir],
                                   capture_output=True, text=True, timeout=30)
                self.assertEqual(r.returncode, 0, r.stderr)
            return text
        finally:
            ngx.stop()

    def test_plain_proxy(self):
        text = self.check(http_nginx.proxy(2))
        for want in ("keepalive_requests 1000000;", "keepalive 128;", "proxy_http_version 1.1;",
                     'proxy_set_header Connection "";', "buffer=32k flush=1s;", "tcp_nodelay on;",
                     "worker_processes 1;"):
            self.assertIn(want, text)
        self.assertEqual(text.count("keepalive_requests 1000000;"), 2)  # clients and upstream

    def test_h2_proxy(self):
        with tempfile.TemporaryDirectory() as d:
            cert, key = os.path.join(d, "c.pem"), os.path.join(d, "k.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                            "-nodes", "-days", "1", "-subj", "/CN=t", "-keyout", key, "-out", cert],
                           check=True, capture_output=True, timeout=60)
            text = self.check(http_nginx.h2_proxy(2, cert, key))
        for want in ("ssl http2;", "ssl_protocols TLSv1.2 TLSv1.3;", "ssl_session_cache shared:SSL:10m;",
                     "keepalive_requests 1000000;", "buffer=32k flush=1s;"):
            self.assertIn(want, text)


if __name__ == "__main__":
    unittest.main(verbosity=1)
