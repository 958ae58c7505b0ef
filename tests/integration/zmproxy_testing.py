"""Shared helpers for zmproxy's integration tests: built tools, temp homes."""
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
