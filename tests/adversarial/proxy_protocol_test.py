"""PROXY protocol listeners (server.proxy_protocol) attacked: only a balancer
in http.trusted_proxies may send the header that names the client, and
whatever else arrives (no header, garbage, an oversized one, one a byte at
a time, a valid one from anyone else) closes the connection within the
header's deadline, with nothing sent and one log line, and leaves no
connection counted behind. zmproxyd with zmlookupd and real Dovecots on
loopback; the balancer is 127.0.0.5, an attacker 127.0.0.6."""
import adversarial_testing  # noqa: F401  (fixtures on the path)

import json
import os
import re
import select
import socket
import ssl
import time
import unittest

import proxy_header
from mail_proxy_test import PASSWORDS, MailProxyBase
from process import poll_until, unverified_tls
from test_ca import proxy_certificate as make_cert
from zmproxy_testing import HomeTestCase

BALANCER = "127.0.0.5"
ATTACKER = "127.0.0.6"
IDLE = 4.0  # imap.idle_timeout here: the header's deadline (under 5 s)
SWEEP = 2.0  # deadlines are swept every 200 ms; slack for a loaded machine
AT_ONCE = IDLE / 2  # refused on its bytes, long before the deadline


class ProxyProtocolAttackTest(MailProxyBase):
    def write_conf(self):
        super().write_conf()
        path = os.path.join(self.home, "conf", "zmproxy.conf")
        with open(path) as f:
            conf = f.read()
        conf = conf.replace('log_level = "debug"\n',
                            'log_level = "debug"\nproxy_protocol = ["imap", "imaps", "pop3"]\n'
                            'max_connections_per_ip = 2\n', 1)
        conf = conf.replace("[pop3]\n", f'idle_timeout = "{int(IDLE)}s"\n\n[pop3]\n', 1)
        conf += f'\n[http]\ntrusted_proxies = "{BALANCER}, 10.0.0.0/8"\n'
        with open(path, "w") as f:
            f.write(conf)

    def proxy_log(self):
        with open(os.path.join(self.home, "log", "zmproxyd.log"), errors="replace") as f:
            return f.read()

    def wait_log(self, pattern, start=0):
        try:
            return poll_until(lambda: re.search(pattern, self.proxy_log()[start:]), 5)
        except TimeoutError:
            self.fail(f"{pattern!r} not in zmproxyd's log:\n{self.proxy_log()[-2000:]}")

    def closed_silently(self, s, within):
        """The proxy closes `s` within `within` seconds without a byte sent;
        returns the seconds it took."""
        started = time.monotonic()
        s.settimeout(within)
        try:
            data = s.recv(4096)
        except ConnectionResetError:
            data = b""
        except socket.timeout:
            self.fail(f"still open after {within} s")
        self.assertEqual(data, b"", "the proxy sent something before a header")
        return time.monotonic() - started

    def active(self):
        r = self.run_tool("zmproxyctl", "status", "--json")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        c = json.loads(r.stdout)["connections"]
        return sum(c[p]["active"] for p in ("imap", "imaps", "pop3"))

    def still_serves(self):
        """The daemon fine: a balancer's client logs in, and no connection
        stays counted once it is gone."""
        s = proxy_header.connect(self.ports["imap"], BALANCER, proxy_header.v1("192.0.2.50", 1234))
        f = s.makefile("rb")
        self.assertTrue(f.readline().startswith(b"* OK"))
        s.sendall(b'a1 LOGIN "user1@example.com" "%s"\r\n' % PASSWORDS["user1@example.com"].encode())
        line = f.readline()
        while line.startswith(b"*"):
            line = f.readline()
        self.assertTrue(line.startswith(b"a1 OK"), line)
        f.close()
        s.close()
        poll_until(lambda: self.active() == 0, 10)

    def test_a_valid_header_from_an_untrusted_peer_is_refused(self):
        mark = len(self.proxy_log())
        for port in (self.ports["imap"], self.ports["imaps"], self.ports["pop3"]):
            s = proxy_header.connect(port, ATTACKER, proxy_header.v1("192.0.2.66", 5555))
            self.assertLess(self.closed_silently(s, IDLE + SWEEP), AT_ONCE, "refused at once")
            s.close()
        self.wait_log(r"imap connection from 127\.0\.0\.6:\d+ closed: not in http\.trusted_proxies", mark)
        self.wait_log(r"pop3 connection from 127\.0\.0\.6:\d+ closed: not in http\.trusted_proxies", mark)
        # A plain client from that address (no header at all) fares no better.
        s = socket.create_connection(("127.0.0.1", self.ports["imap"]), timeout=5,
                                     source_address=(ATTACKER, 0))
        self.closed_silently(s, 5)
        s.close()
        self.assertNotIn("192.0.2.66", open(os.path.join(self.home, "log", "access.log")).read()
                         if os.path.exists(os.path.join(self.home, "log", "access.log")) else "")
        self.still_serves()

    def test_a_missing_header_closes_at_the_deadline(self):
        mark = len(self.proxy_log())
        s = proxy_header.connect(self.ports["imap"], BALANCER)
        took = self.closed_silently(s, IDLE + SWEEP)
        self.assertGreater(took, IDLE - 0.5, "closed before the deadline")
        s.close()
        self.wait_log(r"imap connection from 127\.0\.0\.5:\d+ closed: no PROXY protocol header in time", mark)
        # A TLS client that starts its handshake instead: refused at its first byte.
        s = proxy_header.connect(self.ports["imaps"], BALANCER)
        with self.assertRaises((ssl.SSLError, ConnectionResetError, OSError)):
            unverified_tls().wrap_socket(s).do_handshake()
        s.close()
        self.wait_log(r"imaps connection from 127\.0\.0\.5:\d+ closed: not a PROXY protocol header", mark)
        self.still_serves()

    def test_garbage_and_malformed_headers_close_at_once(self):
        mark = len(self.proxy_log())
        cases = [
            (b"a1 LOGIN user1@example.com secret\r\n", "not a PROXY protocol header"),
            (b"PROXY TCP4 192.0.2.7 127.0.0.1 01 143\r\n", "version 1 port"),
            (b"PROXY TCP4 192.0.2.7 127.0.0.1 1 143\n", "control or non-ASCII byte"),
            (b"PROXY TCP4 192.0.2.7 ::1 1 143\r\n", "version 1 address not canonical IPv4"),
            (proxy_header.V2_SIGNATURE + b"\x21\x12\x00\x0c" + bytes(12), "not TCP over IPv4 or IPv6"),
            (proxy_header.V2_SIGNATURE + b"\x23\x11\x00\x0c" + bytes(12), "neither LOCAL nor PROXY"),
            (proxy_header.v2("192.0.2.7", 1, tlvs=b"\x04\x00\x09ab"), "TLV longer than the header"),
        ]
        for data, reason in cases:
            with self.subTest(reason=reason):
                s = proxy_header.connect(self.ports["imap"], BALANCER, data)
                self.assertLess(self.closed_silently(s, IDLE + SWEEP), AT_ONCE, "refused at once")
                s.close()
                self.wait_log(r"imap connection from 127\.0\.0\.5:\d+ closed: .*" + re.escape(reason), mark)
        self.still_serves()

    def test_oversized_headers_are_refused_before_they_arrive(self):
        mark = len(self.proxy_log())
        # A version 1 line that never ends: refused at 107 bytes.
        s = proxy_header.connect(self.ports["imap"], BALANCER, b"PROXY UNKNOWN " + b"x" * 200)
        self.assertLess(self.closed_silently(s, IDLE + SWEEP), AT_ONCE)
        s.close()
        self.wait_log(r"closed: version 1 line without CRLF within 107 bytes", mark)
        # A version 2 header announcing 65535 bytes: refused from its 16 bytes,
        # not waited for.
        s = proxy_header.connect(self.ports["pop3"], BALANCER,
                                 proxy_header.V2_SIGNATURE + b"\x21\x11\xff\xff" + bytes(12))
        self.assertLess(self.closed_silently(s, IDLE + SWEEP), AT_ONCE)
        s.close()
        self.wait_log(r"pop3 connection from 127\.0\.0\.5:\d+ closed: version 2 header longer than 4096 bytes",
                      mark)
        self.still_serves()

    def test_a_header_a_byte_at_a_time_gets_no_longer(self):
        mark = len(self.proxy_log())
        header = proxy_header.v1("192.0.2.7", 40000)  # 43 bytes: 21 s at this pace
        s = proxy_header.connect(self.ports["imap"], BALANCER)
        started = time.monotonic()
        closed_at = None
        for byte in header:
            try:
                s.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                closed_at = time.monotonic()
                break
            # The pace: half a second, or until the proxy closes (readable).
            readable, _, _ = select.select([s], [], [], 0.5)
            if readable:
                self.assertEqual(s.recv(100), b"", "the proxy sent something")
                closed_at = time.monotonic()
                break
        s.close()
        self.assertIsNotNone(closed_at, "the whole header got through")
        self.assertLess(closed_at - started, IDLE + SWEEP, "the deadline was not kept")
        self.wait_log(r"imap connection from 127\.0\.0\.5:\d+ closed: PROXY protocol header not complete in time",
                      mark)
        self.still_serves()

    def test_the_per_address_cap_counts_the_carried_client(self):
        # max_connections_per_ip = 2: the third connection of one client is
        # refused though all come from the balancer, and another client
        # behind the same balancer still gets in.
        held = []
        self.addCleanup(lambda: [s.close() for s in held])
        for i in range(2):
            s = proxy_header.connect(self.ports["imap"], BALANCER, proxy_header.v1("192.0.2.77", 6000 + i))
            self.assertTrue(s.makefile("rb").readline().startswith(b"* OK"))
            held.append(s)
        s = proxy_header.connect(self.ports["imap"], BALANCER, proxy_header.v1("192.0.2.77", 6002))
        self.assertEqual(s.makefile("rb").readline(),
                         b"* BYE [UNAVAILABLE] too many connections from your address\r\n")
        s.close()
        s = proxy_header.connect(self.ports["imap"], BALANCER, proxy_header.v1("192.0.2.78", 6003))
        self.assertTrue(s.makefile("rb").readline().startswith(b"* OK"))
        held.append(s)
        self.wait_log(r"192\.0\.2\.77 holds 2 connections")
        for s in held:
            s.close()
        held.clear()
        poll_until(lambda: self.active() == 0, 10)


class ProxyProtocolSettingTest(HomeTestCase):
    """zmproxy_proxy_protocol_listeners reaches zmproxy.conf; a name that is
    not a listener is refused with the key named, not half applied."""

    def test_localconfig_renders_into_server_and_upstream_proxy_protocol(self):
        make_cert(os.path.join(self.home, "conf"))
        r = self.run_tool("zmproxyctl", "genconf", "--dry-run")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('proxy_protocol = ""\n', r.stdout)  # the defaults: no listener, nothing sent
        self.assertIn("proxy_protocol = false\n", r.stdout)
        r = self.run_tool("zmlocalconfig", "-e", "zmproxy_proxy_protocol_listeners=imap, imaps https",
                          "zmproxy_trusted_proxies=10.0.0.5", "zmproxy_upstream_proxy_protocol=true")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.run_tool("zmproxyctl", "genconf", "--dry-run")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('proxy_protocol = "imap, imaps https"\n', r.stdout)
        self.assertIn("proxy_protocol = true\n", r.stdout)

    def test_a_wrong_name_is_refused_with_one_line_naming_it(self):
        r = self.run_tool("zmlocalconfig", "-e", "zmproxy_proxy_protocol_listeners=imap, smtp",
                          "zmproxy_trusted_proxies=10.0.0.5")
        self.assertEqual(r.returncode, 0, r.stderr)
        make_cert(os.path.join(self.home, "conf"))
        r = self.run_tool("zmproxyctl", "genconf")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("server.proxy_protocol: 'smtp' is not a listener", r.stderr)
        self.assertIn("zmproxy_proxy_protocol_listeners", r.stderr)


if __name__ == "__main__":
    unittest.main()
