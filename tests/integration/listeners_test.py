#!/usr/bin/env python3
"""zmproxyd on an IPv6 address: every place that shows a listener writes it
as [v6]:port (run/zmproxyd.addr, zmproxyctl status, the start-up log line),
and a client reaches it there."""

import json
import os
import socket
import sys
import unittest

from zmproxy_testing import BIN_DIR, HomeTestCase

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "support"))
from test_ca import proxy_certificate  # noqa: E402
from zmproxy_procs import Daemon  # noqa: E402


def have_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@unittest.skipUnless(have_ipv6_loopback(), "no ::1 on this machine")
class Ipv6ListenerTest(HomeTestCase):
    def setUp(self):
        super().setUp()
        proxy_certificate(os.path.join(self.home, "conf"))
        with open(os.path.join(self.home, "conf", "zmproxy.conf"), "w") as f:
            f.write('[server]\nbind_address = "::1"\nworkers = 1\nlog_file = "log/zmproxyd.log"\n'
                    '[mail]\nenabled = false\n[http]\nenabled = true\nport = 0\nssl_port = 0\n')
        self.proxy = Daemon(BIN_DIR, "zmproxyd", self.home).start()
        self.addCleanup(self.proxy.stop)

    def test_the_listener_is_written_with_brackets_and_answers_there(self):
        ports = self.proxy.listener_ports()
        self.assertLessEqual({"http", "https"}, set(ports))
        with open(os.path.join(self.home, "run", "zmproxyd.addr")) as f:
            lines = f.read().split("\n")
        for name, port in ports.items():
            self.assertIn(f"{name} [::1]:{port}", lines)
        port = ports["http"]

        status = self.run_tool("zmproxyctl", "status", "--json")
        self.assertEqual(status.returncode, 0, status.stdout + status.stderr)
        self.assertEqual(json.loads(status.stdout)["listeners"],
                         {name: f"[::1]:{p}" for name, p in ports.items()})
        with open(os.path.join(self.home, "log", "zmproxyd.log")) as f:
            self.assertIn(f"http [::1]:{port}", f.read())

        with socket.create_connection(("::1", port), timeout=10) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: mail.example.com\r\nConnection: close\r\n\r\n")
            self.assertTrue(s.recv(64).startswith(b"HTTP/1.1 "))


if __name__ == "__main__":
    unittest.main()
