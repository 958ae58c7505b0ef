"""The web proxy's upstream health and error pages attacked (issue 17): a real
zmproxyd, zmlookupd or a hostile lookup handler, web_backend.py servers, and
in-test servers that misbehave.

Each test names the hole it keeps closed:
- a mailbox web server that accepts and never answers holds the request for
  ever, or is asked again and again: it gets 504 within http.read_timeout,
  counts as a failure, and is left out for the next requests;
- an upstream name (from a lookup handler, which may answer anything) put
  raw into the error redirect's `up=`: CR/LF would add headers, '&', '#',
  '?' would add URL parts; it is percent-encoded;
- the error redirect's Location carrying anything but the handler URL, err
  and up.
"""
import adversarial_testing  # noqa: F401  (puts tests/integration and tests/support on the path)

import http.client
import http.server
import importlib.util
import os
import socket
import threading
import time
import urllib.parse

from web_proxy_test import WebProxyBase


def integration_module():
    """tests/integration/web_upstream_health_test.py (it has this file's name)."""
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "integration",
                        "web_upstream_health_test.py")
    spec = importlib.util.spec_from_file_location("web_upstream_health_integration", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_health = integration_module()
STATIC, HealthBase, dead_address = _health.STATIC, _health.HealthBase, _health.dead_address


class SilentServer:
    """Accepts connections, reads what comes, never answers; counts accepts."""

    def __init__(self, host):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((host, 0))
        self.sock.listen(64)
        self.address = f"{host}:{self.sock.getsockname()[1]}"
        self.accepted = 0
        self.held = []
        self.lock = threading.Lock()
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.accepted += 1
                self.held.append(conn)

    def count(self):
        with self.lock:
            return self.accepted

    def close(self):
        self.sock.close()
        with self.lock:
            for c in self.held:
                c.close()


class SilentUpstreamTest(HealthBase):
    extra_http = 'read_timeout = "1s"\nmax_fails = 1\nfail_timeout = "300s"'

    def setUp(self):
        self.silent = SilentServer("127.0.0.6")
        self.addCleanup(self.silent.close)
        super().setUp()

    def upstreams(self):
        return [self.silent.address, self.b2.server]

    def test_a_server_that_never_answers_gets_504_and_is_left_out(self):
        # A client whose IP hash picks the silent server first: a 504, in
        # about the read timeout (bounded well below the client's 60 s). A
        # POST: a GET would go on to the next server (may_repeat).
        source = None
        for last in range(9, 250):
            started = time.monotonic()
            r, data = self.get(STATIC, source=f"127.0.0.{last}", method="POST", body=b"x")
            if r.status == 504:
                source = f"127.0.0.{last}"
                break
            self.assertEqual(r.status, 200, data)
        self.assertIsNotNone(source, "no client address hashed to the silent server")
        self.assertLess(time.monotonic() - started, 20)
        self.assertNotIn(self.silent.address.encode(), data)
        self.assertEqual(r.getheader("X-Frame-Options"), "SAMEORIGIN")
        self.assertIn(f"web upstream {self.silent.address} is left out", self.proxy_log())
        # Counted: the next requests go to mbox2 and never reach it.
        accepted = self.silent.count()
        for _ in range(5):
            self.assertEqual(self.name_of(STATIC, source=source), "mbox2")
        self.assertEqual(self.silent.count(), accepted)


class HostileLookupHandler(http.server.ThreadingHTTPServer):
    """A route lookup handler that answers every lookup with `server`."""

    def __init__(self, host, server, port):
        self.route_server = server
        self.route_port = port

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(inner):
                inner.send_response(200)
                inner.send_header("Auth-Status", "OK")
                inner.send_header("Auth-Server", self.route_server)
                inner.send_header("Auth-Port", str(self.route_port))
                inner.send_header("Auth-Cache-Alias", "FALSE")
                inner.send_header("Content-Length", "0")
                inner.end_headers()

        super().__init__((host, 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()
        self.address = f"{host}:{self.server_address[1]}"


HOSTILE = "127.0.0.6&err=200&up=x#frag?q=/ %0d%0aSet-Cookie: x"


class UpstreamNameInTheRedirectTest(WebProxyBase):
    extra_http = 'error_handler_url = "https://errors.example.com/50x.html?lang=en"\nconnect_timeout = "2s"'

    def setUp(self):
        self.dead_sock, dead = dead_address("127.0.0.6")
        self.addCleanup(self.dead_sock.close)
        self.dead_port = int(dead.split(":")[1])
        self.handler = HostileLookupHandler("127.0.0.1", HOSTILE, self.dead_port)
        self.addCleanup(self.handler.server_close)
        self.addCleanup(self.handler.shutdown)
        super().setUp()
        # Our handler, not zmlookupd: rewrite [route] and start again.
        self.proxy.stop()
        conf = os.path.join(self.home, "conf", "zmproxy.conf")
        with open(conf) as f:
            text = f.read()
        with open(conf, "w") as f:
            f.write(text.replace(f'handlers = ["{self.lookupd.address}"]', f'handlers = ["{self.handler.address}"]'))
        self.proxy.start()
        self.ports = self.proxy.listener_ports()

    def test_the_upstream_name_is_encoded_in_up(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.ports["http"], timeout=60)
        conn.request("GET", "/home/user1@example.com/inbox", headers={"Host": "mail.example.com"})
        r = conn.getresponse()
        body = r.read()
        raw_headers = r.msg.as_string()
        conn.close()
        self.assertEqual(r.status, 302, body)
        self.assertIsNone(r.getheader("Set-Cookie"))
        self.assertEqual([line.split(":")[0] for line in raw_headers.strip().split("\n")],
                         ["Content-Type", "Location", "X-Frame-Options", "Connection", "Content-Length"])
        location = r.getheader("Location")
        self.assertNotIn(" ", location)
        self.assertNotIn("#", location)
        parts = urllib.parse.urlsplit(location)
        self.assertEqual((parts.scheme, parts.netloc, parts.path, parts.fragment),
                         ("https", "errors.example.com", "/50x.html", ""))
        query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
        # One err, one up (the hostile '&err=200&up=x' did not add any), and
        # up decodes to exactly the name the handler gave (in brackets: it
        # has a colon, so it is written as an IPv6 host would be).
        self.assertEqual(query, {"lang": ["en"], "err": ["502"], "up": [f"[{HOSTILE}]:{self.dead_port}"]})
