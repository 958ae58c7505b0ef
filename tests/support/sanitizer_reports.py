"""Sanitizer reports written by the processes a test starts (issue 20).

In a sanitizer build, tests/CMakeLists.txt puts ZMPROXY_SANITIZED=1 in every
test's environment. Importing this module then (once per test process):

- makes a report directory of this test process, writable by the service
  user the daemons drop to, and points ASan, UBSan and LSan at it with
  log_path=<dir>/report, so every daemon and tool the test starts (they
  inherit the environment) writes report.<pid> there instead of into a log
  file nobody reads;
- wraps unittest.TestCase.run: a report that appeared during a test fails
  that test, with the report's text;
- at exit, a report no test claimed (written by a daemon that a class
  fixture stopped) is printed and the process exits 1.

Outside a sanitizer build it does nothing.
"""
import atexit
import os
import shutil
import sys
import tempfile
import unittest

ENABLED = os.environ.get("ZMPROXY_SANITIZED") == "1"
_directory = None
_claimed = set()


def _add_option(variable, option):
    current = os.environ.get(variable, "")
    os.environ[variable] = f"{current}:{option}" if current else option


def reports():
    """The report files written so far, oldest first."""
    if _directory is None:
        return []
    names = [os.path.join(_directory, n) for n in os.listdir(_directory)]
    return sorted((p for p in names if os.path.isfile(p)), key=os.path.getmtime)


def _unclaimed():
    return [p for p in reports() if p not in _claimed]


def _text(paths):
    parts = []
    for path in paths:
        with open(path, errors="replace") as f:
            parts.append(f"--- {os.path.basename(path)}\n{f.read()}")
        _claimed.add(path)
    return "\n".join(parts)


def _install():
    global _directory
    _directory = tempfile.mkdtemp(prefix="zmproxy-sanitizer-")
    # The daemons write as the service user after dropping root.
    os.chmod(_directory, 0o1777)
    report = os.path.join(_directory, "report")
    for variable in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        _add_option(variable, f"log_path={report}")

    original_run = unittest.TestCase.run

    def run(self, result=None):
        before = set(reports())
        outcome = original_run(self, result)
        found = [p for p in reports() if p not in before and p not in _claimed]
        if found and result is not None:
            try:
                raise AssertionError("a process this test started wrote a sanitizer report:\n"
                                     + _text(found))
            except AssertionError:
                result.addFailure(self, sys.exc_info())
        return outcome

    unittest.TestCase.run = run
    atexit.register(_at_exit)


def _at_exit():
    left = _unclaimed()
    if left:
        sys.stderr.write("FAILED: a process this test file started wrote a sanitizer report:\n")
        sys.stderr.write(_text(left) + "\n")
        sys.stderr.flush()
        os._exit(1)
    shutil.rmtree(_directory, ignore_errors=True)


if ENABLED and _directory is None:
    _install()
