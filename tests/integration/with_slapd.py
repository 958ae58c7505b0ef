#!/usr/bin/env python3
"""Run a program against a private slapd: `with_slapd.py PROGRAM ARGS...`

Starts tests/support/slapd.py's Slapd, exports ZMPROXY_TEST_LDAP_URL,
ZMPROXY_TEST_LDAP_BIND_DN and ZMPROXY_TEST_LDAP_PASSWORD, runs the program,
stops slapd (also when the program fails or is interrupted) and exits with
the program's exit code. When slapd is not installed it says so and exits 77
without running the program, which CTest reports as a skip.
"""
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "support"))
from slapd import Slapd  # noqa: E402


def main():
    if len(sys.argv) < 2:
        print("usage: with_slapd.py PROGRAM [ARGS...]", file=sys.stderr)
        return 2
    try:
        server = Slapd()
    except unittest.SkipTest as e:
        print(f"with_slapd.py: skipped: {e}", file=sys.stderr)
        return 77  # CTest's SKIP_RETURN_CODE: reported as skipped, not passed
    with server:
        env = dict(os.environ)
        env["ZMPROXY_TEST_LDAP_URL"] = server.url
        env["ZMPROXY_TEST_LDAP_BIND_DN"] = server.bind_dn
        env["ZMPROXY_TEST_LDAP_PASSWORD"] = server.password
        print(f"with_slapd.py: slapd at {server.url} (data in {server.directory})",
              file=sys.stderr, flush=True)
        try:
            return subprocess.run(sys.argv[1:], env=env).returncode
        except KeyboardInterrupt:
            return 130
        except OSError as e:
            print(f"with_slapd.py: cannot run {sys.argv[1]}: {e.strerror}", file=sys.stderr)
            return 127


if __name__ == "__main__":
    rc = main()
    # A program killed by a signal has a negative return code; report it shell-style.
    sys.exit(128 - rc if rc < 0 else rc)
