#!/usr/bin/env python3
"""How zmprov scales on the embedded FileStore.

usage: bench/prov_scale.py [--accounts N] [--runs R] [BIN_DIR]

Builds a store with N accounts in a temp home (one domain, generated LDIF in
the exact form the FileStore writes), then reports the median wall time of
`zmprov gcf`, `zmprov ga` (first, middle and last account), `zmprov ma` and
`zmprov gaa | wc -l` over R runs. A measurement, not a test: it asserts
nothing about time.
"""
import argparse
import os
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
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
