"""http.http2 = false: the HTTPS listener never negotiates h2 (ALPN offers
http/1.1 only). Parked in tests/pending until the http.http2 switch is on
main (zmproxyd refuses the key before that); then it moves to
tests/integration, or its class into http2_test.py."""
import json
import ssl
import unittest

from http2_test import Http2Base
from h2_client import tls_connect


class Http2OffTest(Http2Base):
    extra_http = 'http2 = false\nadmin_enabled = true\nadmin_port = 0\nadmin_upstreams = ["{b1}"]'

    def test_alpn_never_picks_h2(self):
        for listener in ("https", "admin"):
            with tls_connect("127.0.0.1", self.ports[listener], ("h2", "http/1.1")) as s:
                self.assertIn(s.selected_alpn_protocol(), ("http/1.1", None), listener)
            try:  # offered h2 alone, the server may refuse the handshake (RFC 7301 §3.2)
                with tls_connect("127.0.0.1", self.ports[listener], ("h2",)) as s:
                    self.assertNotEqual(s.selected_alpn_protocol(), "h2", listener)
            except ssl.SSLError:
                pass
        http_version, code, body = self.curl("/home/user1@example.com/x")
        self.assertEqual((http_version, code), ("1.1", 200))
        self.assertEqual(json.loads(body)["name"], "mbox1")


if __name__ == "__main__":
    unittest.main()
