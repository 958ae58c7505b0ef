"""The loose ends of the edge (issue 17) attacked: real zmproxyd, zmlookupd
and web_backend.py servers on loopback; the balancer is 127.0.0.5, an
attacker 127.0.0.6.

Each test names the hole it keeps closed:
- the certauth listener (http.certauth_port) could not be named in
  zmproxy_proxy_protocol_listeners: behind a balancer every certificate login
  looked like the balancer (the access log, X-Forwarded-For, the lookup's
  Client-IP); named, it takes the balancer's header and refuses a connection
  without one, or from a peer not in http.trusted_proxies.
"""
import adversarial_testing  # noqa: F401  (fixtures on the path)

import http.client
import json
import os
import re
import socket
import ssl
import unittest

import proxy_header
from certauth_web_test import CertauthWebBase
from process import poll_until, read_text

BALANCER = "127.0.0.5"
ATTACKER = "127.0.0.6"


def rewrite_conf(home, *replacements):
    """zmproxy.conf with each (old, new) replaced once; fails if `old` is absent."""
    path = os.path.join(home, "conf", "zmproxy.conf")
    with open(path) as f:
        text = f.read()
    for old, new in replacements:
        if old not in text:
            raise AssertionError(f"{old!r} not in zmproxy.conf")
        text = text.replace(old, new, 1)
    with open(path, "w") as f:
        f.write(text)


class CertauthBehindABalancerTest(CertauthWebBase):
    """server.proxy_protocol = "certauth": the certauth listener reads the
    balancer's header before the TLS handshake; the HTTPS listener (not
    named) does not."""

    def setUp(self):
        super().setUp()
        self.proxy.stop()
        rewrite_conf(self.home, ("workers = 1\n", 'workers = 1\nlog_file = "log/zmproxyd.log"\n'
                                                  'proxy_protocol = "certauth"\n'),
                     ("certauth_port = 0\n", f'certauth_port = 0\ntrusted_proxies = "{BALANCER}"\n'))
        self.proxy.start()
        self.ports = self.proxy.listener_ports()
        self.cert = self.client_cert("alice", "/CN=Alice/emailAddress=user1@example.com")

    def tls(self):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.load_cert_chain(*self.cert)
        return context

    def certauth_over(self, sock):
        """(status, body) of GET /certauth over `sock` (a header already sent)."""
        conn = http.client.HTTPSConnection("127.0.0.1", self.ports["certauth"], timeout=30)
        conn.sock = self.tls().wrap_socket(sock)
        conn.request("GET", "/certauth", headers={"Host": "mail.example.com"})
        r = conn.getresponse()
        body = r.read()
        conn.close()
        return r.status, body

    def proxy_log(self):
        return read_text(os.path.join(self.home, "log", "zmproxyd.log"))

    def access_log(self):
        return read_text(os.path.join(self.home, "log", "access.log"))

    def wait_log(self, pattern, text):
        try:
            return poll_until(lambda: re.search(pattern, text(), re.M), 5)
        except TimeoutError:
            self.fail(f"{pattern!r} not in the log:\n{text()[-2000:]}")

    def closed_without_a_byte(self, s):
        s.settimeout(10)
        try:
            data = s.recv(4096)
        except ConnectionResetError:
            data = b""
        except socket.timeout:
            self.fail("still open after 10 s")
        self.assertEqual(data, b"", "the proxy sent something before a header")

    def test_v1_and_v2_headers_from_the_balancer_name_the_client(self):
        port = self.ports["certauth"]
        for header, client in ((proxy_header.v2("192.0.2.33", 40033, destination_port=port), "192.0.2.33"),
                               (proxy_header.v1("192.0.2.34", 40034, destination_port=port), "192.0.2.34")):
            with self.subTest(client=client):
                status, body = self.certauth_over(proxy_header.connect(port, BALANCER, header))
                self.assertEqual(status, 200, body)
                seen = json.loads(body)
                self.assertEqual(seen["path"], "/certauth")
                self.assertEqual(seen["headers"]["X-Forwarded-For"], client)
                self.assertEqual(seen["headers"]["X-Zimbra-Certauth-Account"], "user1@example.com")
                self.wait_log(r"^" + re.escape(client) + r" - - \[.*\"GET /certauth HTTP/1\.1\" 200 ",
                              self.access_log)
        self.assertNotRegex(self.access_log(), r"^127\.0\.0\.5 ")

    def test_no_header_from_the_balancer_is_refused(self):
        # A client that starts its TLS handshake at once: the ClientHello is
        # not a PROXY header; closed without a byte sent.
        s = proxy_header.connect(self.ports["certauth"], BALANCER)
        with self.assertRaises((ssl.SSLError, ConnectionResetError, OSError)):
            self.tls().wrap_socket(s).do_handshake()
        s.close()
        self.wait_log(r"certauth connection from 127\.0\.0\.5:\d+ closed: not a PROXY protocol header",
                      self.proxy_log)
        self.assertNotIn("/certauth", self.access_log())

    def test_a_header_from_an_untrusted_peer_is_refused(self):
        port = self.ports["certauth"]
        s = proxy_header.connect(port, ATTACKER, proxy_header.v2("192.0.2.66", 5555, destination_port=port))
        self.closed_without_a_byte(s)
        s.close()
        self.wait_log(r"certauth connection from 127\.0\.0\.6:\d+ closed: not in http\.trusted_proxies",
                      self.proxy_log)
        self.assertNotIn("192.0.2.66", self.access_log())

    def test_the_https_listener_not_named_reads_no_header(self):
        status, _, body = self.request("https", "/", self.cert)
        self.assertEqual((status, json.loads(body)["name"]), (200, "mbox1"))


if __name__ == "__main__":
    unittest.main()
