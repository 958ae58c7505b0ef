#!/usr/bin/env python3
"""How zmprov scales on the embedded FileStore.

usage: bench/prov_scale.py [--accounts N] [--runs R] [--lookupd] [BIN_DIR]

Builds a store with N accounts in a temp home (one domain, generated LDIF in
the exact form the FileStore writes), then reports the median wall time of
`zmprov gcf`, `zmprov ga` (first, middle and last account), `zmprov ma` and
`zmprov gaa | wc -l` over R runs. With --lookupd it also starts zmlookupd on
the store and reports what one store change costs it (the whole index is
rebuilt: the time its log line gives, and its peak RSS), an input of
docs/SCALING.md. A measurement, not a test: it asserts nothing about time.
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--lookupd", action="store_true",
                    help="also measure zmlookupd's index rebuild after a change")
    ap.add_argument("bin_dir", nargs="?", default="build/ci/bin")
    args = ap.parse_args()
    zmprov = os.path.join(os.path.abspath(args.bin_dir), "zmprov")
    home = tempfile.mkdtemp(prefix="zmproxy-bench-")
    env = dict(os.environ, ZMPROXY_HOME=home)
    try:
        def run(*a):
            r = subprocess.run([zmprov, *a], env=env, capture_output=True, text=True)
            if r.returncode != 0:
                raise SystemExit(f"zmprov {' '.join(a)} failed: {r.stderr}")
            return r.stdout

        run("cd", "example.com")
        run("ca", "seed@example.com", "pw", "zimbraMailHost", "mbox1.example.com")
        path = os.path.join(home, "data", "prov.ldif")
        with open(path, "a") as f:
            for i in range(args.accounts):
                f.write(f"dn: uid=user{i},ou=people,dc=example,dc=com\n"
                        "objectClass: inetOrgPerson\nobjectClass: zimbraAccount\n"
                        f"cn: user{i}\nsn: user{i}\nuid: user{i}\n"
                        "zimbraAccountStatus: active\n"
                        f"zimbraId: {uuid.uuid4()}\n"
                        f"zimbraMailDeliveryAddress: user{i}@example.com\n"
                        f"zimbraMailHost: mbox{i % 2 + 1}.example.com\n\n")
        size = os.path.getsize(path)
        print(f"store: {args.accounts} accounts, {size / 1e6:.1f} MB ({path})")

        def timed(label, *a):
            samples = []
            for _ in range(args.runs):
                t = time.perf_counter()
                run(*a)
                samples.append((time.perf_counter() - t) * 1000)
            print(f"  {label:<40} median {statistics.median(samples):7.1f} ms"
                  f"   min {min(samples):7.1f} ms")

        timed("zmprov gcf zimbraImapProxyBindPort", "gcf", "zimbraImapProxyBindPort")
        timed("zmprov ga user0@example.com", "ga", "user0@example.com")
        timed(f"zmprov ga user{args.accounts // 2}@example.com", "ga", f"user{args.accounts // 2}@example.com")
        timed("zmprov ga by zimbraId (search)", "ga", run("ga", "user7@example.com", "zimbraId").split()[-1])
        timed("zmprov ma (rewrites the store)", "ma", "user1@example.com", "zimbraMailHost", "mbox9.example.com")
        timed("zmprov gaa example.com", "gaa", "example.com")
        if args.lookupd:
            index_rebuilds(os.path.join(os.path.abspath(args.bin_dir), "zmlookupd"), home, env,
                           run, args.runs)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def index_rebuilds(zmlookupd, home, env, run, runs):
    """zmlookupd's index: loaded at start, rebuilt after each `zmprov ma`
    (its change feed); the build times from its log lines, its peak RSS."""
    log = os.path.join(home, "log", "lookupd-bench.log")
    os.makedirs(os.path.dirname(log), exist_ok=True)
    proc = subprocess.Popen([zmlookupd, "--home", home, "--listen", "127.0.0.1:0", "--log", log],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pattern = re.compile(r"index loaded \((.*?)\): (\d+) accounts.* in (\d+) ms")

    def loads():
        try:
            with open(log, errors="replace") as f:
                return pattern.findall(f.read())
        except FileNotFoundError:
            return []

    def wait_for(count):
        deadline = time.monotonic() + 120
        while len(loads()) < count:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"zmlookupd: no index loaded (log: {log})")
            time.sleep(0.05)  # a measurement's poll, not a test's synchronisation
        return loads()[count - 1]

    try:
        first = wait_for(1)
        print(f"  zmlookupd index at start ({first[1]} accounts)       {int(first[2]):7d} ms")
        samples = []
        for i in range(runs):
            run("ma", "user3@example.com", "zimbraMailHost", f"mbox{i % 2 + 1}.example.com")
            samples.append(int(wait_for(i + 2)[2]))
        print(f"  {'zmlookupd index rebuilt after one ma':<40} median {statistics.median(samples):7.1f} ms"
              f"   min {min(samples):7.1f} ms")
        with open(f"/proc/{proc.pid}/status") as f:
            hwm = next(line.split()[1] for line in f if line.startswith("VmHWM"))
        print(f"  zmlookupd peak RSS                              {int(hwm) / 1024:7.1f} MiB")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
