"""HTTP/2 on zmproxyd's HTTPS (and admin) listener, end to end: curl
--http2, nghttp and tests/support/h2_client.py against zmproxyd in front of
the two web backends of web_proxy_test.py (its fixture, WebProxyBase).
Every stream is routed and forwarded as an HTTP/1.1 request is."""
import hashlib
import json
import os
import re
import ssl
import subprocess
import sys
import time
import unittest

from web_proxy_test import WebProxyBase

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "support"))
from h2_client import H2Client, tls_connect  # noqa: E402
from zmproxy_procs import control  # noqa: E402
from proc_usage import PeakRss  # noqa: E402
from web_backend import pattern_bytes  # noqa: E402

HOST = "mail.example.com"


def auth_token(account_id):
    """A ZM_AUTH_TOKEN cookie value naming account_id (as web_proxy_test's)."""
    return "0_abcdef_" + f"id=36:{account_id};exp=13:1999999999999;type=6:zimbra;".encode().hex()


def read_http1_response(sock):
    """One HTTP/1.1 answer with a Content-Length from sock: (head, body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError(f"closed before the end of the head: {data!r}")
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    length = int(re.search(rb"\r\ncontent-length:\s*(\d+)", head, re.I).group(1))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError(f"closed after {len(body)} of {length} body bytes")
        body += chunk
    return head, body


class Http2Base(WebProxyBase):
    """WebProxyBase (http.http2 at its default) with HTTP/2 clients."""

    def url(self, path, listener="https"):
        return f"https://127.0.0.1:{self.ports[listener]}{path}"

    def curl(self, path, *args, version="--http2", listener="https", host=HOST, timeout=300):
        """curl path on the listener: (HTTP version curl used, status, body).
        A Host header becomes HTTP/2's :authority in curl."""
        r = subprocess.run(["curl", "-sk", version, "-H", f"Host: {host}", *args,
                            "-w", "\n%{http_version} %{http_code}", self.url(path, listener)],
                           capture_output=True, timeout=timeout)
        self.assertEqual(r.returncode, 0, r.stderr)
        body, _, tail = r.stdout.rpartition(b"\n")
        http_version, code = tail.decode().split()
        return http_version, int(code), body

    def name_over_h2(self, path, *args, **kw):
        http_version, code, body = self.curl(path, *args, **kw)
        self.assertEqual((http_version, code), ("2", 200), body)
        return json.loads(body)["name"]

    def nghttp(self, path, *args, timeout=120):
        r = subprocess.run(["nghttp", "-H", f":authority: {HOST}", *args, self.url(path)],
                           capture_output=True, text=True, timeout=timeout)
        self.assertEqual(r.returncode, 0, r.stdout[-2000:] + r.stderr[-2000:])
        return r.stdout

    def h2(self, **kw):
        c = H2Client("127.0.0.1", self.ports["https"], authority=HOST, **kw)
        self.addCleanup(c.close)
        self.assertEqual(c.alpn, "h2")
        return c

    def access_log_line(self, marker, timeout=10.0):
        """The last access-log line holding marker (written just after the answer)."""
        path = os.path.join(self.home, "log", "access.log")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if os.path.exists(path):
                with open(path) as f:
                    lines = [x for x in f.read().splitlines() if marker in x]
                if lines:
                    return lines[-1]
            time.sleep(0.02)  # polling the file with a deadline
        return ""


class Http2Test(Http2Base):
    def test_curl_h2_routes_by_user_in_the_url(self):
        self.assertEqual(self.name_over_h2("/home/user1@example.com/inbox"), "mbox1")
        self.assertEqual(self.name_over_h2("/home/user2@example.com/inbox"), "mbox2")
        self.assertEqual(self.name_over_h2("/service/home/~user2@example.com/Calendar"), "mbox2")

    def test_curl_h2_routes_by_zm_auth_token_with_the_headers_of_http1(self):
        cookie = f"ZM_AUTH_TOKEN={auth_token(self.user2_id)}"
        http_version, code, body = self.curl("/", "-H", f"Cookie: {cookie}")
        self.assertEqual((http_version, code), ("2", 200), body)
        seen = json.loads(body)
        self.assertEqual(seen["name"], "mbox2")
        # Forwarded as HTTP/1.1 with what the proxy adds to every request
        # (field names as HTTP/2 has them: lower case).
        fields = {k.lower(): v for k, v in seen["headers"].items()}
        self.assertEqual(fields["host"], HOST)
        self.assertEqual(fields["x-forwarded-proto"], "https")
        self.assertEqual(fields["x-forwarded-for"], "127.0.0.1")
        self.assertEqual(fields["cookie"], cookie)

    def test_nghttp_fetches_routed_pages(self):
        self.assertEqual(json.loads(self.nghttp("/home/user2@example.com/x"))["name"], "mbox2")
        out = self.nghttp("/", "-H", f"cookie: ZM_AUTH_TOKEN={auth_token(self.user2_id)}")
        self.assertEqual(json.loads(out)["name"], "mbox2")
        self.assertEqual(json.loads(self.nghttp("/home/user1@example.com/x"))["name"], "mbox1")

    def test_100_concurrent_streams_on_one_connection_are_all_answered(self):
        # nghttp: one connection, the same URI 100 times at once.
        out = self.nghttp("/home/user1@example.com/m", "-n", "-s", "-m", "100")
        codes = re.findall(r"^\s*\d+\s+\+\S+\s+\+\S+\s+\S+\s+(\d{3})\s", out, re.M)
        self.assertEqual(codes, ["200"] * 100, out[-3000:])
        # h2_client: 100 HEADERS written before any answer is read, half to
        # each user; each answer from that user's backend.
        c = self.h2()
        ids = {c.request(f"/home/user{1 + i % 2}@example.com/s{i}"): i for i in range(100)}
        c.wait(lambda: all(c.responses[sid].done for sid in ids), timeout=120)
        for sid, i in ids.items():
            r = c.responses[sid]
            self.assertEqual(r.status, 200, (i, r.reset, bytes(r.body)))
            self.assertEqual(json.loads(r.body)["name"], f"mbox{1 + i % 2}")
            self.assertEqual(json.loads(r.body)["path"], f"/home/user{1 + i % 2}@example.com/s{i}")
        self.assertIsNone(c.goaway)

    def test_50_mib_download_and_10_mib_upload_arrive_intact_in_bounded_memory(self):
        down, up = 50 << 20, 10 << 20
        expected = hashlib.sha256()
        for block in pattern_bytes(down):
            expected.update(block)
        got = os.path.join(self.home, "download.bin")
        upload = os.path.join(self.home, "upload.bin")
        with open(upload, "wb") as f:
            data = os.urandom(up)
            f.write(data)
        with PeakRss(self.proxy.proc.pid) as rss:
            http_version, code, _ = self.curl(f"/home/user1@example.com/pattern?bytes={down}",
                                              "-o", got)
            self.assertEqual((http_version, code), ("2", 200))
            http_version, code, body = self.curl("/home/user2@example.com/up/hash", "-T", upload)
            self.assertEqual((http_version, code), ("2", 200), body)
        self.assertEqual(os.path.getsize(got), down)
        with open(got, "rb") as f:
            self.assertEqual(hashlib.file_digest(f, "sha256").hexdigest(), expected.hexdigest())
        answer = json.loads(body)
        self.assertEqual((answer["name"], answer["received"], answer["sha256"]),
                         ("mbox2", up, hashlib.sha256(data).hexdigest()))
        self.assertLess(rss.growth_kib, 40 << 10, "zmproxyd's RSS grew by "
                        f"{rss.growth_kib} KiB for a 50 MiB download and a 10 MiB upload")

    def test_a_streamed_request_body_reaches_the_backend(self):
        # No content-length: the body arrives in DATA frames as it is sent,
        # and goes on (chunked) to the backend.
        c = self.h2()
        pieces = [os.urandom(100_000) for _ in range(30)]
        sid = c.request("/home/user1@example.com/up/hash", method="POST", body=iter(pieces))
        r = c.response(sid, timeout=120)
        self.assertEqual(r.status, 200, bytes(r.body))
        answer = json.loads(r.body)
        self.assertEqual((answer["received"], answer["sha256"]),
                         (3_000_000, hashlib.sha256(b"".join(pieces)).hexdigest()))

    def test_strict_server_names_apply_per_stream(self):
        c = self.h2()
        bad = c.get("/home/user1@example.com/x", authority="evil.test")
        self.assertEqual(bad.status, 400)
        # The connection lives on for a name in server_names.
        good = c.get("/home/user1@example.com/x")
        self.assertEqual((good.status, json.loads(good.body)["name"]), (200, "mbox1"))
        self.assertIsNone(c.goaway)
        http_version, code, _ = self.curl("/x", host="evil.test")
        self.assertEqual((http_version, code), ("2", 400))

    def test_http1_still_served_on_the_same_listener(self):
        # The server picks h2 when the client offers both...
        with tls_connect("127.0.0.1", self.ports["https"], ("h2", "http/1.1")) as s:
            self.assertEqual(s.selected_alpn_protocol(), "h2")
        # ...HTTP/1.1 with ALPN http/1.1, and with no ALPN at all.
        for alpn in (("http/1.1",), ()):
            with tls_connect("127.0.0.1", self.ports["https"], alpn) as s:
                self.assertIn(s.selected_alpn_protocol(), ("http/1.1", None))
                s.sendall(f"GET /home/user2@example.com/h1 HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
                head, body = read_http1_response(s)
            self.assertTrue(head.startswith(b"HTTP/1.1 200"), (alpn, head))
            self.assertEqual(json.loads(body)["name"], "mbox2")
        http_version, code, _ = self.curl("/home/user1@example.com/x", version="--http1.1")
        self.assertEqual((http_version, code), ("1.1", 200))

    def test_access_log_says_http2(self):
        http_version, code, _ = self.curl("/home/user1@example.com/inbox", "-A", "h2tester/1")
        self.assertEqual((http_version, code), ("2", 200))
        line = self.access_log_line("h2tester/1")
        self.assertRegex(line, r'^127\.0\.0\.1 - - \[[^\]]+\] "GET /home/user1@example\.com/inbox '
                               r'HTTP/2\.0" 200 \d+ "-" "h2tester/1" 127\.0\.0\.2:\d+ \d+ms$')


class Http2AdminTest(Http2Base):
    extra_http = 'admin_enabled = true\nadmin_port = 0\nadmin_upstreams = ["{b1}"]'

    def test_admin_listener_speaks_h2_and_routes_by_admin_token(self):
        self.assertEqual(self.name_over_h2("/zimbraAdmin/", listener="admin"), "mbox1")
        token = "0_abcdef_" + f"id=36:{self.user2_id};type=6:zimbra;".encode().hex()
        self.assertEqual(self.name_over_h2("/service/admin/soap", "-H",
                                           f"Cookie: ZM_ADMIN_AUTH_TOKEN={token}", listener="admin"),
                         "mbox2")


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


class RetiredGenerationTest(Http2Base):
    """After a reload, web connections of the old generation wind down so
    that clients come back under the new one: HTTP/2 gets GOAWAY (NO_ERROR)
    and its stream is still answered; HTTP/1.1 gets Connection: close."""

    def reload(self):
        """RELOAD on zmproxyd's control socket (conf/zmproxy.conf as
        written by the fixture, no confgen)."""
        answer = control(self.home, "RELOAD")
        self.assertTrue(answer.startswith("OK"), answer)

    def test_h2_connection_gets_goaway_after_a_reload_and_its_stream_is_answered(self):
        c = self.h2()
        self.assertEqual(c.get("/home/user1@example.com/a").status, 200)
        self.assertIsNone(c.goaway)
        self.reload()
        c.request("/home/user1@example.com/b")
        c.read_until_closed()
        self.assertEqual(c.goaway, 0)  # GOAWAY NO_ERROR, then the close
        # The stream that came with the GOAWAY was still served (python-h2
        # stops reading frames at a GOAWAY, so the proxy's log says it).
        log = os.path.join(self.home, "log", "access.log")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with open(log) as f:
                if re.search(r'"GET /home/user1@example\.com/b HTTP/2\.0" 200 ', f.read()):
                    break
            time.sleep(0.05)
        else:
            self.fail("no access-log line for the stream sent with the GOAWAY")

    def test_http11_keep_alive_gets_connection_close_after_a_reload(self):
        s = tls_connect("127.0.0.1", self.ports["https"], alpn=("http/1.1",))
        try:
            request = b"GET /home/user1@example.com/a HTTP/1.1\r\nHost: mail.example.com\r\n\r\n"
            s.sendall(request)
            head, _ = read_http1_response(s)
            self.assertNotIn(b"connection: close", head.lower())
            self.reload()
            s.sendall(request)
            head, _ = read_http1_response(s)
            self.assertIn(b"connection: close", head.lower())
            self.assertEqual(s.recv(100), b"")  # and the proxy closes
        finally:
            s.close()
