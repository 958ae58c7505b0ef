"""Shared helpers for zmproxy's integration tests: built tools, temp homes."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "support"))
from service_user import ensure_service_user  # noqa: E402
import sanitizer_reports  # noqa: E402,F401  (a sanitizer build's reports fail the test)

BIN_DIR = os.environ.get("ZMPROXY_BIN_DIR", "")
SOURCE_DIR = os.environ.get("ZMPROXY_SOURCE_DIR", "")


def tool(name):
    path = os.path.join(BIN_DIR, name)
    if not BIN_DIR or not os.access(path, os.X_OK):
        raise unittest.SkipTest(f"{name} not built (set ZMPROXY_BIN_DIR)")
    return path


class HomeTestCase(unittest.TestCase):
    """A test with a fresh runtime home in a temp dir, removed afterwards."""

    def setUp(self):
        # Started as root, the daemons become the service user: it must exist.
        ensure_service_user()
        self.home = tempfile.mkdtemp(prefix="zmproxy-it-")
        self.addCleanup(shutil.rmtree, self.home, True)

    def run_tool(self, name, *args, input=None, env=None):
        full_env = dict(os.environ)
        full_env["ZMPROXY_HOME"] = self.home
        if env:
            full_env.update(env)
        return subprocess.run([tool(name), *args], input=input, capture_output=True,
                              text=True, env=full_env, timeout=60)

    def zmconfigd_status(self):
        """zmconfigd's STATUS as a dict; {} while it does not answer."""
        from zmproxy_procs import control_socket
        try:
            return json.loads(control_socket(os.path.join(self.home, "run", "zmconfigd.sock"),
                                             "STATUS", timeout=10) or "{}")
        except (OSError, ValueError):
            return {}

    def start_zmconfigd(self, ready=lambda status: "renders" in status, what="its first render",
                        timeout=30.0):
        """zmconfigd on this home at log level debug, its output in
        log/zmconfigd.test.log, stopped by PID at cleanup; returns once its
        STATUS satisfies `ready` (a dict -> bool)."""
        from process import poll_until, stop_process
        log_path = os.path.join(self.home, "log", "zmconfigd.test.log")
        os.makedirs(os.path.dirname(log_path), exist_ok=True)
        log = open(log_path, "ab")
        self.addCleanup(log.close)
        proc = subprocess.Popen([tool("zmconfigd"), "--home", self.home, "--log-level", "debug"],
                                stdout=log, stderr=log, env=dict(os.environ, ZMPROXY_HOME=self.home))
        self.addCleanup(stop_process, proc, 10)

        def answered():
            if proc.poll() is not None:
                with open(log_path, errors="replace") as f:
                    raise AssertionError("zmconfigd exited: " + f.read())
            return ready(self.zmconfigd_status())
        try:
            poll_until(answered, timeout, 0.02)
        except TimeoutError:
            self.fail(f"zmconfigd: no {what} within {timeout} s")
        return proc
