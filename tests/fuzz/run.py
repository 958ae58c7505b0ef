#!/usr/bin/env python3
"""Build the libFuzzer targets and run each for a while: `make fuzz`.

Configures a build directory with -DZMPROXY_FUZZ=ON (unless it is already),
builds every fuzzer, runs each for --seconds on a scratch copy of its corpus
(tests/fuzz/corpus/<unit>) with its dictionary (tests/fuzz/dict/<unit>.dict)
when there is one, and prints one table: executions, exec/s, coverage (cov:
and ft: of libFuzzer's last status line) and crashes. Exit status 1 when a
target crashed (each artifact named), 2 when one could not be built or run.

  tests/fuzz/run.py [--seconds N] [--build-dir build/fuzz] [--no-build] [unit...]
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import time

SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FUZZ_DIR = os.path.join(SOURCE, "tests", "fuzz")
ARTIFACT_PREFIXES = ("crash-", "leak-", "timeout-", "oom-", "slow-unit-")


def configure_and_build(build_dir, jobs):
    if not os.path.exists(os.path.join(build_dir, "build.ninja")):
        subprocess.run(["cmake", "-S", SOURCE, "-B", build_dir, "-G", "Ninja",
                        "-DCMAKE_BUILD_TYPE=RelWithDebInfo", "-DZMPROXY_FUZZ=ON"], check=True)
    else:
        subprocess.run(["cmake", "-DZMPROXY_FUZZ=ON", build_dir], check=True,
                       stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", build_dir, "--target", "fuzzers", "-j", str(jobs)],
                   check=True)


def read_units(build_dir):
    listing = os.path.join(build_dir, "tests", "fuzz", "fuzz_units.txt")
    if not os.path.exists(listing):
        sys.exit(f"fuzz: {listing} is missing; configure {build_dir} with -DZMPROXY_FUZZ=ON "
                 "(make fuzz does)")
    units = []
    with open(listing, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                name, binary = line.split(maxsplit=1)
                units.append((name, binary.strip()))
    return units


def parse_stats(log):
    """executions, exec/s, cov, ft from libFuzzer's output (-print_final_stats=1)."""
    def last(pattern):
        found = re.findall(pattern, log, re.MULTILINE)
        return found[-1] if found else None
    execs = last(r"^stat::number_of_executed_units:\s*(\d+)")
    speed = last(r"^stat::average_exec_per_sec:\s*(\d+)")
    status = re.findall(r"^#(\d+)\s+\S+\s+cov: (\d+) ft: (\d+)", log, re.MULTILINE)
    cov = status[-1][1] if status else None
    ft = status[-1][2] if status else None
    if execs is None and status:
        execs = status[-1][0]
    return execs, speed, cov, ft


def run_unit(name, binary, seconds, work_root):
    work = os.path.join(work_root, name)
    corpus = os.path.join(work, "corpus")
    artifacts = os.path.join(work, "artifacts")
    shutil.rmtree(artifacts, ignore_errors=True)
    os.makedirs(artifacts)
    os.makedirs(corpus, exist_ok=True)
    seeds = os.path.join(FUZZ_DIR, "corpus", name)
    if os.path.isdir(seeds):
        shutil.copytree(seeds, corpus, dirs_exist_ok=True)
    cmd = [binary, f"-max_total_time={seconds}", "-print_final_stats=1", "-max_len=4096",
           "-timeout=20", "-rss_limit_mb=2048", f"-artifact_prefix={artifacts}/"]
    dictionary = os.path.join(FUZZ_DIR, "dict", f"{name}.dict")
    if os.path.exists(dictionary):
        cmd.append(f"-dict={dictionary}")
    cmd.append(corpus)
    log_path = os.path.join(work, "fuzz.log")
    print(f"fuzz: {name} for {seconds} s (log {os.path.relpath(log_path, SOURCE)})", flush=True)
    started = time.monotonic()
    with open(log_path, "w", encoding="utf-8", errors="replace") as log:
        rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=work).returncode
    with open(log_path, encoding="utf-8", errors="replace") as log:
        text = log.read()
    found = sorted(os.path.join(artifacts, f) for f in os.listdir(artifacts)
                   if f.startswith(ARTIFACT_PREFIXES))
    execs, speed, cov, ft = parse_stats(text)
    if speed is None and execs is not None:
        speed = str(int(int(execs) / max(time.monotonic() - started, 1)))
    return {"unit": name, "binary": binary, "rc": rc, "execs": execs, "speed": speed, "cov": cov, "ft": ft,
            "artifacts": found, "log": log_path}


def print_table(rows):
    header = ("target", "executions", "exec/s", "cov", "ft", "crashes")
    lines = [header]
    for r in rows:
        lines.append((r["unit"], r["execs"] or "?", r["speed"] or "?", r["cov"] or "?",
                      r["ft"] or "?", str(len(r["artifacts"]))))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for i, line in enumerate(lines):
        print("  ".join(cell.ljust(w) if c == 0 else cell.rjust(w)
                        for c, (cell, w) in enumerate(zip(line, widths))))
        if i == 0:
            print("  ".join("-" * w for w in widths))


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=60, help="per target (default 60)")
    parser.add_argument("--build-dir", default=os.path.join(SOURCE, "build", "fuzz"))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--no-build", action="store_true", help="run what is built")
    parser.add_argument("units", nargs="*", help="only these (default: every unit)")
    args = parser.parse_args()
    build_dir = os.path.abspath(args.build_dir)
    if not args.no_build:
        configure_and_build(build_dir, args.jobs)
    units = read_units(build_dir)
    unknown = set(args.units) - {name for name, _ in units}
    if unknown:
        sys.exit(f"fuzz: no such unit: {', '.join(sorted(unknown))}; "
                 f"the units: {', '.join(name for name, _ in units)}")
    if args.units:
        units = [(n, b) for n, b in units if n in args.units]
    work_root = os.path.join(build_dir, "tests", "fuzz", "fuzz-work")
    rows = []
    for name, binary in units:
        if not os.access(binary, os.X_OK):
            sys.exit(f"fuzz: {binary} is not built; run without --no-build")
        rows.append(run_unit(name, binary, args.seconds, work_root))
    print()
    print_table(rows)
    failed = False
    for r in rows:
        for artifact in r["artifacts"]:
            print(f"fuzz: {r['unit']} crashed: {artifact} (log {r['log']}); reproduce with "
                  f"{r['binary']} {artifact}", file=sys.stderr)
            failed = True
        if r["rc"] != 0 and not r["artifacts"]:
            print(f"fuzz: {r['unit']} exited with status {r['rc']} and no artifact; see {r['log']}",
                  file=sys.stderr)
            return 2
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
