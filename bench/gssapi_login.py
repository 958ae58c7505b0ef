#!/usr/bin/env python3
"""What a Kerberos (SASL GSSAPI) login costs at the proxy, beside a password
login.

usage: bench/gssapi_login.py [--logins N] [BIN_DIR]      (as root, like the tests)

Sets up what tests/integration/gssapi_login_test.py sets up on loopback (a
throwaway MIT KDC, a keytab, zmlookupd, Dovecot with a master user,
memcached, zmproxyd), then makes N IMAP logins each way, one after another,
each on its own connection and followed by LOGOUT: AUTHENTICATE GSSAPI
(SASL-IR; the ticket is fetched once, so the KDC is not in the loop) and
LOGIN with a password. Prints per login: the median and 99th percentile
wall time, the CPU (user + system) zmproxyd and zmlookupd spent, and the
whole machine's busy CPU, which includes this client's own Kerberos work. A
measurement, not a test: it asserts nothing about time.
"""
import argparse
import os
import socket
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def proc_cpu(pid):
    """Seconds of CPU (user + system) the process has used."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy():
    """Seconds of busy CPU on the whole machine, all cores."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--logins", type=int, default=300)
    ap.add_argument("bin_dir", nargs="?", default="build/ci/bin")
    args = ap.parse_args()
    if not 1 <= args.logins <= 10000:
        raise SystemExit("--logins must be 1..10000")
    os.environ["ZMPROXY_BIN_DIR"] = os.path.abspath(args.bin_dir)
    sys.path[:0] = [os.path.join(HERE, "..", "tests", "integration"),
                    os.path.join(HERE, "..", "tests", "support")]
    import gssapi_login_test as t
    from gss_sasl import imap_authenticate

    class Setup(t.GssapiLoginBase):
        def runTest(self):
            pass

    Setup.setUpClass()
    s = Setup()
    try:
        s.setUp()
        port = s.ports["imap"]
        lookupd_pid = s.lookupd.proc.pid
        proxy_pid = s.proxy.proc.pid

        def gssapi_login():
            with socket.create_connection(("127.0.0.1", port), timeout=30) as c, c.makefile("rb") as f:
                f.readline()
                lines = imap_authenticate(c, f, s.client("imap", s.alice))
                if not lines[-1].startswith("a1 OK"):
                    raise SystemExit(f"GSSAPI login failed: {lines}")
                c.sendall(b"a2 LOGOUT\r\n")
                while f.readline().startswith(b"*"):
                    pass

        def password_login():
            with socket.create_connection(("127.0.0.1", port), timeout=30) as c, c.makefile("rb") as f:
                f.readline()
                c.sendall(f'a1 LOGIN "bob@example.com" "{t.BOB_PW}"\r\n'.encode())
                line = f.readline()
                while line.startswith(b"*"):
                    line = f.readline()
                if not line.startswith(b"a1 OK"):
                    raise SystemExit(f"password login failed: {line!r}")
                c.sendall(b"a2 LOGOUT\r\n")
                while f.readline().startswith(b"*"):
                    pass

        print(f"{args.logins} IMAP logins each way, one at a time (ms per login)")
        print(f"{'login':<10} {'median':>8} {'p99':>8} {'zmproxyd cpu':>13} {'zmlookupd cpu':>14} {'machine cpu':>12}")
        deadline = time.monotonic() + 600
        for name, login in (("password", password_login), ("gssapi", gssapi_login)):
            login()  # warm: routes cached, ticket fetched
            walls = []
            cpu0 = (proc_cpu(proxy_pid), proc_cpu(lookupd_pid), machine_busy())
            for _ in range(args.logins):
                if time.monotonic() > deadline:
                    raise SystemExit("gave up after 600 s")
                t0 = time.perf_counter()
                login()
                walls.append((time.perf_counter() - t0) * 1000)
            cpu1 = (proc_cpu(proxy_pid), proc_cpu(lookupd_pid), machine_busy())
            per = [(b - a) * 1000 / args.logins for a, b in zip(cpu0, cpu1)]
            walls.sort()
            p99 = walls[min(len(walls) - 1, int(len(walls) * 0.99))]
            print(f"{name:<10} {statistics.median(walls):8.2f} {p99:8.2f} {per[0]:13.2f} {per[1]:14.2f} "
                  f"{per[2]:12.2f}")
    finally:
        s.doCleanups()
        Setup.doClassCleanups()


if __name__ == "__main__":
    main()
