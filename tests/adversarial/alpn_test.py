"""TLS settings chosen per connection, against a real zmproxyd (issue 17).

ALPN: the HTTPS listener answers "h2" only to a client that offers it (and
"http/1.1" otherwise); the mail listeners share the same TLS contexts, and a
mail client offering "imap" (or an ALPN list naming only HTTP) still gets its
handshake and its greeting.

Per-domain client certificates: with the global mode off and domain a's
virtual host in mode on, a client reaching a by SNI without a certificate
gets 400 and the default host does not; another CA's certificate is refused
on a; a TLS session made on a with a good certificate is not taken as
verified on another host name that asks with another CA."""
import adversarial_testing  # noqa: F401  (puts tests/integration and tests/support on the path)

import http.client
import os
import socket
import ssl
import unittest

from zmproxy_testing import BIN_DIR, HomeTestCase
from zmproxy_procs import Daemon, WebBackend
from test_ca import TestCa, issue_client_certificate, proxy_certificate


def client_context(cert=None, alpn=None, max_version=None):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if cert:
        context.load_cert_chain(*cert)
    if alpn:
        context.set_alpn_protocols(alpn)
    if max_version:
        context.maximum_version = max_version
    return context


class TlsPerConnectionBase(HomeTestCase):
    @classmethod
    def setUpClass(cls):
        cls.b1 = WebBackend("mbox1", "127.0.0.2").start()

    @classmethod
    def tearDownClass(cls):
        cls.b1.stop()

    def setUp(self):
        super().setUp()
        conf = os.path.join(self.home, "conf")
        proxy_certificate(conf)
        self.ca_a = TestCa(os.path.join(self.home, "ca-a"), cn="CA of a")
        self.ca_c = TestCa(os.path.join(self.home, "ca-c"), cn="CA of c")
        with open(os.path.join(conf, "zmproxy.conf"), "w") as f:
            f.write(f"""
[server]
bind_address = "127.0.0.1"
workers = 1

[mail]
enabled = true

[imap]
enabled = false
ssl_enabled = true
ssl_port = 0

[pop3]
enabled = false
ssl_enabled = true
ssl_port = 0

[upstream]
ssl = false

[http]
enabled = true
mode = "https"
ssl_port = 0
strict_server_name = false
upstreams = ["{self.b1.server}"]
client_cert_mode = "off"
domain_client_certs = ["a.example.com on {self.ca_a.path}", "c.example.com on {self.ca_c.path}"]
""")
        self.proxy = Daemon(BIN_DIR, "zmproxyd", self.home).start()
        self.addCleanup(self.proxy.stop)
        self.ports = self.proxy.listener_ports()

    def client_cert(self, ca, name):
        return issue_client_certificate(ca, name, f"/CN={name}/emailAddress={name}@example.com",
                                        directory=os.path.join(self.home, "clients"))

    def tls(self, listener, sni=None, context=None, session=None):
        raw = socket.create_connection(("127.0.0.1", self.ports[listener]), timeout=30)
        try:
            return (context or client_context()).wrap_socket(raw, server_hostname=sni, session=session)
        except BaseException:
            raw.close()
            raise

    def get(self, sni=None, cert=None, session=None, context=None):
        """(status, body, session, reused) of GET / on the HTTPS listener
        (a session is resumed only with the context that made it)."""
        s = self.tls("https", sni, context or client_context(cert), session)
        conn = http.client.HTTPConnection("127.0.0.1", self.ports["https"], timeout=30)
        conn.sock = s  # already connected, with our SNI
        try:
            conn.request("GET", "/", headers={"Host": sni or "proxy.example.com"})
            r = conn.getresponse()
            body = r.read()
            return r.status, body, s.session, s.session_reused
        finally:
            conn.close()


class AlpnTest(TlsPerConnectionBase):

    def test_https_answers_what_the_client_offered_and_refuses_a_mail_protocol(self):
        with self.tls("https", "proxy.example.com", client_context(alpn=["h2", "http/1.1"])) as s:
            self.assertEqual(s.selected_alpn_protocol(), "h2")
        with self.tls("https", "proxy.example.com", client_context(alpn=["http/1.1"])) as s:
            self.assertEqual(s.selected_alpn_protocol(), "http/1.1")
        with self.tls("https", "proxy.example.com", client_context()) as s:
            self.assertIsNone(s.selected_alpn_protocol())
        # ALPACA: a client that speaks something else is refused at the
        # handshake (no_application_protocol), as nginx does.
        for alpn in (["spdy/1"], ["imap"]):
            with self.subTest(alpn=alpn):
                with self.assertRaises(ssl.SSLError):
                    self.tls("https", "proxy.example.com", client_context(alpn=alpn)).close()

    def test_mail_listeners_take_their_protocol_or_none_and_refuse_http(self):
        for listener, greeting, own, other in (("imaps", b"* OK", "imap", "pop3"),
                                               ("pop3s", b"+OK", "pop3", "imap")):
            for alpn in (None, [own], ["h2", own]):
                with self.subTest(listener=listener, alpn=alpn):
                    with self.tls(listener, "proxy.example.com", client_context(alpn=alpn)) as s:
                        self.assertEqual(s.selected_alpn_protocol(), own if alpn else None)
                        self.assertTrue(s.recv(512).startswith(greeting))
            # ALPACA: a browser's HTTPS request sent to the mail port, or the
            # other mail protocol, never reaches the dialogue.
            for alpn in (["http/1.1"], ["h2", "http/1.1"], [other]):
                with self.subTest(listener=listener, alpn=alpn):
                    with self.assertRaises(ssl.SSLError):
                        self.tls(listener, "proxy.example.com", client_context(alpn=alpn)).close()


class DomainClientCertTest(TlsPerConnectionBase):

    def test_domain_on_refuses_a_client_without_certificate_the_default_host_does_not(self):
        status, body, _, _ = self.get("a.example.com")
        self.assertEqual(status, 400, body)
        self.assertIn(b"No required SSL certificate was sent", body)
        for sni in (None, "proxy.example.com", "b.example.com"):
            with self.subTest(sni=sni):
                status, body, _, _ = self.get(sni)
                self.assertEqual(status, 200, body)

    def test_the_domain_ca_decides(self):
        good = self.client_cert(self.ca_a, "alice")
        status, body, _, _ = self.get("a.example.com", good)
        self.assertEqual(status, 200, body)
        status, body, _, _ = self.get("c.example.com", good)  # c trusts another CA
        self.assertEqual(status, 400, body)
        self.assertIn(b"The SSL certificate error", body)

    def test_a_session_verified_on_one_host_is_not_resumed_on_another(self):
        good = self.client_cert(self.ca_a, "alice")
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            with self.subTest(version=version):
                context = client_context(good, max_version=version)
                status, body, session, _ = self.get("a.example.com", context=context)
                self.assertEqual(status, 200, body)
                self.assertIsNotNone(session)
                # Resumed on a itself (the test can see a resumption) ...
                status, body, _, reused = self.get("a.example.com", session=session, context=context)
                self.assertEqual(status, 200, body)
                self.assertTrue(reused)
                # ... but not on c, which verifies against CA c: a's certificate fails there.
                status, body, _, reused = self.get("c.example.com", session=session, context=context)
                self.assertFalse(reused)
                self.assertEqual(status, 400, body)
                self.assertIn(b"The SSL certificate error", body)


if __name__ == "__main__":
    unittest.main()
