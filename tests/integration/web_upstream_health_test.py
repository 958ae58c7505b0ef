"""Passive web-upstream health and error pages end to end (issue 17): a real
zmproxyd in front of two mailbox web servers (tests/support/web_backend.py)
and zmlookupd; one server is killed and started again on its port.

What decides is what the servers say they served (GET /_seen) and the
proxy's log, never how long something took: a killed server is left out
after http.max_fails failures and requests go to the other one; started
again, it gets nothing while http.fail_timeout lasts and requests again once
it is over; a 502 goes to http.error_handler_url with err and up, or is the
built-in page with the configured header."""
import json
import os
import socket
import subprocess
import sys
import time
import unittest
import urllib.parse

from web_proxy_test import WebProxyBase

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "support"))
from zmproxy_procs import WebBackend  # noqa: E402

STATIC = "/static/x.js"  # no user, no token: IP hash over http.upstreams


class RestartableBackend(WebBackend):
    """A WebBackend that can be started again on the port it had."""

    def start_on(self, port, timeout=10.0):
        script = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "support",
                              "web_backend.py")
        self.proc = subprocess.Popen([sys.executable, script, self.name, self.address, str(port)],
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            self.stop()
            raise RuntimeError(f"web backend {self.name} did not start again on port {port}")
        self.port = int(line.split()[1])
        self.server = f"{self.address}:{self.port}"
        return self


def poll(condition, what, timeout=20.0):
    """Waits for condition() to be true (checked every 50 ms); fails naming `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def dead_address(host):
    """A socket bound on `host` that does not listen (connections to it are
    refused) and its host:port; the caller closes it."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((host, 0))
    return s, f"{host}:{s.getsockname()[1]}"


class HealthBase(WebProxyBase):
    """Backends per test (one is killed), so the class-wide ones of
    WebProxyBase are not used."""

    @classmethod
    def setUpClass(cls):
        pass

    @classmethod
    def tearDownClass(cls):
        pass

    def setUp(self):
        self.b1 = RestartableBackend("mbox1", "127.0.0.2").start()
        self.addCleanup(lambda: self.b1.stop())
        self.b2 = RestartableBackend("mbox2", "127.0.0.3").start()
        self.addCleanup(lambda: self.b2.stop())
        super().setUp()

    def source_hashed_to(self, name):
        """A client address whose IP hash picks the server `name` first."""
        for last in range(9, 250):
            source = f"127.0.0.{last}"
            if self.name_of(STATIC, source=source) == name:
                return source
        self.fail(f"no client address hashes to {name}")

    def served(self, backend):
        return backend.seen()["count"]

    def proxy_log(self):
        """zmproxyd's own log (server.log_file)."""
        with open(os.path.join(self.home, "log", "zmproxyd.log")) as f:
            return f.read()

    def down_lines(self, backend):
        return self.proxy_log().count(f"web upstream {backend.server} is left out")


class KilledServerIsLeftOutTest(HealthBase):
    # Long enough that nothing below outlives it (the test never waits for it).
    extra_http = 'max_fails = 2\nfail_timeout = "300s"'

    def test_after_max_fails_it_is_skipped_and_requests_succeed_on_the_other(self):
        source = self.source_hashed_to("mbox1")
        port = self.b1.port
        self.b1.stop()
        # Failure 1: refused, the request goes on to mbox2; not down yet.
        self.assertEqual(self.name_of(STATIC, source=source), "mbox2")
        self.assertEqual(self.down_lines(self.b1), 0, self.proxy_log())
        # Failure 2 (another connection, maybe another worker: the state is shared).
        self.assertEqual(self.name_of(STATIC, source=source), "mbox2")
        self.assertEqual(self.down_lines(self.b1), 1, self.proxy_log())
        # mbox1 answers again, but is left out for fail_timeout: IP hash goes
        # straight to mbox2 and mbox1 sees nothing.
        self.b1.start_on(port)
        mbox2_before = self.served(self.b2)
        for _ in range(10):
            self.assertEqual(self.name_of(STATIC, source=source), "mbox2")
        self.assertEqual(self.served(self.b2) - mbox2_before, 10)
        self.assertEqual(self.served(self.b1), 0)
        # A user routed to mbox1 gets 502 at once (the route has no other
        # server), the built-in page with the configured header.
        r, data = self.get("/home/user1@example.com/inbox")
        self.assertEqual(r.status, 502, data)
        self.assertEqual(r.getheader("X-Frame-Options"), "SAMEORIGIN")
        self.assertEqual(self.served(self.b1), 0)
        # A user on mbox2 is not affected.
        self.assertEqual(self.name_of("/home/user2@example.com/inbox"), "mbox2")


class ServerBackAfterTheTimeoutTest(HealthBase):
    extra_http = 'max_fails = 1\nfail_timeout = "1s"'

    def test_a_returned_server_is_used_again_after_the_reconnect_timeout(self):
        source = self.source_hashed_to("mbox1")
        port = self.b1.port
        self.b1.stop()
        self.assertEqual(self.name_of(STATIC, source=source), "mbox2")
        self.assertEqual(self.down_lines(self.b1), 1, self.proxy_log())
        self.b1.start_on(port)
        names = []

        def back_on_mbox1():
            names.append(self.name_of(STATIC, source=source))
            return names[-1] == "mbox1"

        poll(back_on_mbox1, "requests to go to mbox1 again")
        poll(lambda: f"web upstream {self.b1.server} answers again" in self.proxy_log(),
             "the 'answers again' line")
        # Back for good: the client stays on it.
        for _ in range(5):
            self.assertEqual(self.name_of(STATIC, source=source), "mbox1")


class MaxFailsZeroTest(HealthBase):
    extra_http = 'max_fails = 0\nfail_timeout = "300s"'

    def test_max_fails_zero_never_leaves_a_server_out(self):
        source = self.source_hashed_to("mbox1")
        port = self.b1.port
        self.b1.stop()
        for _ in range(3):
            self.assertEqual(self.name_of(STATIC, source=source), "mbox2")
        self.b1.start_on(port)
        # Never left out: the very next request is mbox1's.
        self.assertEqual(self.name_of(STATIC, source=source), "mbox1")
        self.assertEqual(self.down_lines(self.b1), 0)


class DeadUpstreamsBase(HealthBase):
    """http.upstreams: two addresses that refuse connections."""

    def setUp(self):
        self.dead = []
        for host in ("127.0.0.6", "127.0.0.7"):
            s, address = dead_address(host)
            self.addCleanup(s.close)
            self.dead.append(address)
        super().setUp()

    def upstreams(self):
        return self.dead


class ErrorHandlerRedirectTest(DeadUpstreamsBase):
    extra_http = 'error_handler_url = "https://errors.example.com/zmerror.html"'

    def test_a_502_redirects_to_the_handler_with_err_and_up(self):
        for _ in range(2):  # tried, then both left out: a 502 either way
            r, data = self.get(STATIC, source="127.0.0.9")
            self.assertEqual(r.status, 302, data)
            location = urllib.parse.urlsplit(r.getheader("Location"))
            self.assertEqual((location.scheme, location.netloc, location.path),
                             ("https", "errors.example.com", "/zmerror.html"))
            query = urllib.parse.parse_qs(location.query, keep_blank_values=True)
            self.assertEqual(query["err"], ["502"])
            self.assertEqual(sorted(query["up"][0].split(", ")), sorted(self.dead))
            self.assertEqual(r.getheader("X-Frame-Options"), "SAMEORIGIN")
            self.assertNotIn(b"127.0.0", data)


class BuiltInErrorPageTest(DeadUpstreamsBase):
    def test_a_502_is_the_built_in_page_with_the_configured_headers(self):
        r, data = self.get(STATIC, source="127.0.0.9")
        self.assertEqual(r.status, 502, data)
        self.assertIsNone(r.getheader("Location"))
        self.assertTrue(r.getheader("Content-Type").startswith("text/html"))
        self.assertIn(b"502 Bad Gateway", data)
        for address in self.dead:  # no upstream named
            self.assertNotIn(address.encode(), data)
            self.assertNotIn(address.split(":")[1].encode(), data)
        self.assertEqual(r.getheader("X-Frame-Options"), "SAMEORIGIN")
        # The proxy's other answers carry it too (nginx's `always`).
        r, _ = self.get(STATIC, host="evil.test")
        self.assertEqual(r.status, 400)
        self.assertEqual(r.getheader("X-Frame-Options"), "SAMEORIGIN")


class GeneratedConfigTest(HealthBase):
    """The attributes reach [http] through the template."""

    def test_attributes_render_into_http(self):
        r = self.run_tool("zmprov", input="mcf zimbraMailProxyMaxFails 3\nmcf zimbraMailProxyReconnectTimeout 7\n"
                          "mcf zimbraReverseProxyErrorHandlerURL https://errors.example.com/50x\n")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = self.run_tool("zmlocalconfig", "-e", "zimbra_noop_max_timeout=600")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = self.run_tool("zmproxyctl", "genconf", "-n")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("max_fails = 3\n", r.stdout)
        self.assertIn('fail_timeout = "7"\n', r.stdout)
        self.assertIn('noop_timeout = "620s"\n', r.stdout)
        self.assertIn('waitset_timeout = "1220s"\n', r.stdout)
        self.assertIn('error_handler_url = "https://errors.example.com/50x"\n', r.stdout)


if __name__ == "__main__":
    unittest.main()
