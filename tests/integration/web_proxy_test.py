"""zmproxyd's web side end to end: two HTTP mailbox backends that name
themselves, zmlookupd, and http.client/curl as clients."""
import base64
import http.client
import json
import os
import socket
import subprocess
import sys
import time
import unittest

from zmproxy_testing import BIN_DIR, HomeTestCase

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "support"))
from zmproxy_procs import Daemon, WebBackend  # noqa: E402
from process import unverified_tls  # noqa: E402
from test_ca import proxy_certificate as make_cert  # noqa: E402
from websocket_client import echo_once  # noqa: E402


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class WebProxyBase(HomeTestCase):
    mode = "both"
    strict = True
    extra_http = ""
    upload_max = 0
    log_level = "info"

    @classmethod
    def setUpClass(cls):
        cls.b1 = WebBackend("mbox1", "127.0.0.2").start()
        cls.b2 = WebBackend("mbox2", "127.0.0.3").start()

    @classmethod
    def tearDownClass(cls):
        cls.b1.stop()
        cls.b2.stop()

    def setUp(self):
        super().setUp()
        lines = ["cd example.com zimbraVirtualHostname mail.example.com",
                 "mcf zimbraDefaultDomainName example.com",
                 f"cs 127.0.0.2 zimbraMailPort {self.b1.port}",
                 f"cs 127.0.0.3 zimbraMailPort {self.b2.port}",
                 "ca user1@example.com pw zimbraMailHost 127.0.0.2",
                 "ca user2@example.com pw zimbraMailHost 127.0.0.3",
                 f"ms 127.0.0.3 zimbraAdminPort {self.b2.port}",
                 "ma user2@example.com zimbraIsAdminAccount TRUE"]
        r = self.run_tool("zmprov", input="\n".join(lines) + "\n")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.user2_id = self.run_tool("zmprov", "ga", "user2@example.com", "zimbraId").stdout.split()[-1]
        self.lookupd = Daemon(BIN_DIR, "zmlookupd", self.home, ["--listen", "127.0.0.1:0"]).start()
        self.addCleanup(self.lookupd.stop)
        make_cert(os.path.join(self.home, "conf"))
        with open(os.path.join(self.home, "conf", "zmproxy.conf"), "w") as f:
            f.write(f"""
[server]
bind_address = "127.0.0.1"
workers = 2
log_file = "log/zmproxyd.log"
log_level = "{self.log_level}"

[route]
handlers = ["{self.lookupd.address}"]

[mail]
enabled = false

[upstream]
ssl = false
auth_wait = "0s"

[http]
enabled = true
mode = "{self.mode}"
port = 0
ssl_port = 0
strict_server_name = {"true" if self.strict else "false"}
server_names = ["proxy.example.com", "mail.example.com"]
upstreams = [{", ".join(f'"{u}"' for u in self.upstreams())}]
response_headers = ["X-Frame-Options: SAMEORIGIN"]
max_header_size = 8192
upload_max = {self.upload_max}
{self.extra_http.format(b1=self.b1.server)}
""")
        self.proxy = Daemon(BIN_DIR, "zmproxyd", self.home).start()
        self.addCleanup(self.proxy.stop)
        self.ports = self.proxy.listener_ports()

    def upstreams(self):
        """http.upstreams: the mailbox web servers chosen by IP hash."""
        return [self.b1.server, self.b2.server]

    def get(self, path, host="mail.example.com", headers=None, https=False, source=None, method="GET",
            body=None):
        if https:
            conn = http.client.HTTPSConnection("127.0.0.1", self.ports["https"], context=unverified_tls(),
                                               timeout=60)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.ports["http"], timeout=60,
                                              source_address=(source, 0) if source else None)
        h = {"Host": host}
        h.update(headers or {})
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        data = r.read()
        conn.close()
        return r, data

    def name_of(self, path, **kw):
        r, data = self.get(path, **kw)
        self.assertEqual(r.status, 200, data)
        return json.loads(data)["name"]


class RoutingTest(WebProxyBase):
    def test_rest_urls_route_by_user(self):
        self.assertEqual(self.name_of("/home/user1@example.com/inbox"), "mbox1")
        self.assertEqual(self.name_of("/home/user2@example.com/inbox"), "mbox2")
        self.assertEqual(self.name_of("/service/home/~user2@example.com/Calendar"), "mbox2")
        self.assertEqual(self.name_of("/home/user2%40example.com/x"), "mbox2")  # decoded
        self.assertEqual(self.name_of("/dav/user1@example.com/Calendar/"), "mbox1")

    def test_cookie_and_jwt_route_by_account_id(self):
        data = f"id=36:{self.user2_id};exp=13:1999999999999;type=6:zimbra;".encode()
        token = "0_abcdef_" + data.hex()
        self.assertEqual(self.name_of("/", headers={"Cookie": f"ZM_AUTH_TOKEN={token}"}), "mbox2")
        jwt = b64url(b'{"alg":"HS256"}') + "." + b64url(json.dumps({"sub": self.user2_id}).encode()) + ".sig"
        self.assertEqual(self.name_of("/service/soap", headers={"Authorization": f"Bearer {jwt}"}), "mbox2")

    def test_ip_hash_is_stable_and_forwarded_for_is_set(self):
        names = {self.name_of("/static/x.js", source="127.0.0.9") for _ in range(100)}
        self.assertEqual(len(names), 1)
        r, data = self.get("/static/y.js", source="127.0.0.9", headers={"X-Forwarded-For": "192.0.2.1"})
        headers = json.loads(data)["headers"]
        self.assertEqual(headers["X-Forwarded-For"], "127.0.0.9")  # the client's own is not believed
        self.assertEqual(headers["X-Forwarded-Proto"], "http")
        self.assertEqual(headers["Host"], "mail.example.com")
        self.assertEqual(r.getheader("X-Frame-Options"), "SAMEORIGIN")

    def test_location_rewritten_to_the_public_url(self):
        r, _ = self.get("/home/user1@example.com/redirect")
        self.assertEqual(r.status, 302)
        self.assertEqual(r.getheader("Location"), "http://mail.example.com/home/landed")

    def test_strict_server_names(self):
        self.assertEqual(self.get("/x", host="mail.example.com")[0].status, 200)
        self.assertEqual(self.get("/x", host="evil.test")[0].status, 400)

    def test_security_checks_and_the_next_connection_works(self):
        self.assertEqual(self.get("/home/user1%0Aset%20x@example.com/")[0].status, 403)
        s = socket.create_connection(("127.0.0.1", self.ports["http"]), timeout=30)
        s.sendall(b"POST /x HTTP/1.1\r\nHost: mail.example.com\r\nContent-Length: 4\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        self.assertTrue(s.recv(4096).startswith(b"HTTP/1.1 400"))
        s.close()
        s = socket.create_connection(("127.0.0.1", self.ports["http"]), timeout=30)
        s.sendall(b"GET /x HTTP/1.1\r\nHost: mail.example.com\r\nX-Big: " + b"a" * 10000 + b"\r\n\r\n")
        self.assertTrue(s.recv(4096).startswith(b"HTTP/1.1 431"))
        s.close()
        self.assertEqual(self.get("/x")[0].status, 200)

    def read_all(self, s):
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return data
            data += chunk

    def test_a_body_ended_by_the_close_reaches_both_http_versions(self):
        # HTTP/1.1: chunked, and the connection stays usable.
        conn = http.client.HTTPConnection("127.0.0.1", self.ports["http"], timeout=30)
        conn.request("GET", "/home/user1@example.com/until-close", headers={"Host": "mail.example.com"})
        r = conn.getresponse()
        self.assertEqual((r.getheader("Transfer-Encoding"), r.read()), ("chunked", b"the end is the close"))
        conn.request("GET", "/home/user1@example.com/next", headers={"Host": "mail.example.com"})
        self.assertEqual(conn.getresponse().status, 200)
        conn.close()
        # HTTP/1.0 asking for keep-alive: the body, then the proxy closes.
        s = socket.create_connection(("127.0.0.1", self.ports["http"]), timeout=30)
        s.sendall(b"GET /home/user1@example.com/until-close HTTP/1.0\r\nHost: mail.example.com\r\n"
                  b"Connection: keep-alive\r\n\r\n")
        data = self.read_all(s)  # returns only because the proxy closes
        s.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 200"), data)
        self.assertTrue(data.endswith(b"\r\n\r\nthe end is the close"), data)

    def test_a_streamed_answer_is_passed_on_as_it_comes(self):
        gate = os.path.join(self.home, "gate")
        s = socket.create_connection(("127.0.0.1", self.ports["http"]), timeout=20)
        s.sendall(b"GET /home/user1@example.com/stream?gate=" + gate.encode() +
                  b" HTTP/1.1\r\nHost: mail.example.com\r\n\r\n")
        data = b""
        while b"first" not in data:  # the server sends the rest only after this
            data += s.recv(65536)
        open(gate, "w").close()
        while not data.endswith(b"0\r\n\r\n"):
            data += s.recv(65536)
        s.close()
        self.assertIn(b"second", data)

    def test_websocket_upgrade_is_tunnelled(self):
        got = echo_once(("127.0.0.1", self.ports["http"]), "/home/user1@example.com/ws", "mail.example.com",
                        "ping through the tunnel")
        self.assertEqual(got, "ping through the tunnel")

    def test_dead_backend_ip_hash_fails_over_and_routed_gets_502(self):
        names = {self.name_of(f"/s/{i}", source=f"127.0.0.{20 + i}") for i in range(20)}
        self.assertEqual(names, {"mbox1", "mbox2"})  # both in use
        type(self).b2.stop()
        try:
            names = {self.name_of(f"/s/{i}", source=f"127.0.0.{20 + i}") for i in range(20)}
            self.assertEqual(names, {"mbox1"})
            r, data = self.get("/home/user2@example.com/x")
            self.assertEqual(r.status, 502)
            self.assertNotIn(b"zmproxy/", data)
        finally:
            type(self).b2 = WebBackend("mbox2", "127.0.0.3").start()

    def curl_down_and_up(self, scheme, down, up):
        """curl fetches `down` bytes and sends a file of `up` bytes through the proxy."""
        base = f"{scheme}://127.0.0.1:{self.ports[scheme]}/home"
        r = subprocess.run(["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code} %{size_download}",
                            "-H", "Host: mail.example.com", f"{base}/user1@example.com/download?bytes={down}"],
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(r.stdout, f"200 {down}")
        upload = os.path.join(self.home, f"upload-{scheme}.bin")
        with open(upload, "wb") as f:
            f.truncate(up)
        r = subprocess.run(["curl", "-sk", "-H", "Host: mail.example.com", "-T", upload,
                            f"{base}/user2@example.com/up"], capture_output=True, text=True, timeout=300)
        self.assertEqual(json.loads(r.stdout)["received"], up)

    def test_download_and_upload_over_https(self):
        # Many TLS records each way, through the proxy's own TLS stream.
        self.curl_down_and_up("https", 20 << 20, 5 << 20)

    def test_big_download_and_upload_stream_in_small_memory(self):
        def rss():
            with open(f"/proc/{self.proxy.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) * 1024
        before = rss()
        self.curl_down_and_up("http", 1 << 30, 100 << 20)
        self.assertLess(rss() - before, 32 << 20)

    def test_head_answer_has_no_body_and_the_connection_goes_on(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.ports["http"], timeout=30)
        conn.request("HEAD", "/home/user1@example.com/file", headers={"Host": "mail.example.com"})
        r = conn.getresponse()
        self.assertEqual((r.status, r.getheader("Content-Length"), r.read()), (200, "5000", b""))
        conn.request("GET", "/home/user1@example.com/after", headers={"Host": "mail.example.com"})
        r = conn.getresponse()
        self.assertEqual((r.status, json.loads(r.read())["path"]), (200, "/home/user1@example.com/after"))
        conn.close()
        # A HEAD answer that says chunked: still no body, not even the last
        # chunk; the next answer on the connection starts right after it.
        s = socket.create_connection(("127.0.0.1", self.ports["http"]), timeout=30)
        s.sendall(b"HEAD /home/user1@example.com/chunked HTTP/1.1\r\nHost: mail.example.com\r\n\r\n"
                  b"GET /home/user1@example.com/last HTTP/1.1\r\nHost: mail.example.com\r\n\r\n")
        data = b""
        while data.count(b"\r\n\r\n") < 2:
            data += s.recv(65536)
        s.close()
        first_end = data.index(b"\r\n\r\n") + 4
        self.assertIn(b"Transfer-Encoding: chunked", data[:first_end])
        self.assertTrue(data[first_end:].startswith(b"HTTP/1.1 200"), data)

    def test_chunked_upload_and_chunked_answer(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.ports["http"], timeout=30)
        pieces = [b"a" * 1000, b"b" * 70000, b"c"]
        conn.request("POST", "/home/user2@example.com/up", body=iter(pieces), encode_chunked=True,
                     headers={"Host": "mail.example.com", "Transfer-Encoding": "chunked"})
        r = conn.getresponse()
        self.assertEqual(json.loads(r.read())["received"], 71001)
        # The same connection, then a chunked answer.
        conn.request("GET", "/home/user2@example.com/chunked", headers={"Host": "mail.example.com"})
        r = conn.getresponse()
        self.assertEqual(r.read(), b"piece 0\npiece 1\npiece 2\n")
        conn.close()

    def test_access_log_is_combined_format(self):
        self.get("/home/user1@example.com/inbox", headers={"User-Agent": "tester/1"})
        path = os.path.join(self.home, "log", "access.log")
        line = ""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # the line is written just after the response
            if os.path.exists(path):
                with open(path) as f:
                    lines = [x for x in f.read().splitlines() if "tester/1" in x]
                if lines:
                    line = lines[-1]
                    break
            time.sleep(0.02)
        self.assertRegex(line, r'^127\.0\.0\.1 - - \[[^\]]+\] "GET /home/user1@example\.com/inbox HTTP/1\.1" '
                               r'200 \d+ "-" "tester/1" 127\.0\.0\.2:\d+ \d+ms$')


class TimeoutsTest(WebProxyBase):
    extra_http = 'read_timeout = "1s"\nclient_timeout = "1s"'

    def test_a_server_slower_than_read_timeout_gets_504(self):
        r, body = self.get("/home/user1@example.com/sleep?s=5")
        self.assertEqual(r.status, 504, body)  # the answer would have been a 200

    def test_a_server_within_read_timeout_answers(self):
        r, body = self.get("/home/user1@example.com/sleep?s=0.1")
        self.assertEqual(r.status, 200, body)

    def test_a_silent_client_is_closed_after_client_timeout(self):
        s = socket.create_connection(("127.0.0.1", self.ports["http"]), timeout=30)
        self.assertEqual(s.recv(100), b"")  # nothing sent: the proxy hangs up
        s.close()


class AdminAndLimitsTest(WebProxyBase):
    extra_http = 'admin_enabled = true\nadmin_port = 0\nadmin_upstreams = ["{b1}"]'
    upload_max = 1000

    def admin_get(self, path, headers=None):
        conn = http.client.HTTPSConnection("127.0.0.1", self.ports["admin"], context=unverified_tls(),
                                           timeout=60)
        h = {"Host": "mail.example.com"}
        h.update(headers or {})
        conn.request("GET", path, headers=h)
        r = conn.getresponse()
        data = r.read()
        conn.close()
        return r, data

    def test_admin_console_routes_by_admin_token(self):
        r, data = self.admin_get("/zimbraAdmin/")
        self.assertEqual((r.status, json.loads(data)["name"]), (200, "mbox1"))  # no token: admin_upstreams
        token = "0_abcdef_" + f"id=36:{self.user2_id};type=6:zimbra;".encode().hex()
        r, data = self.admin_get("/service/admin/soap", {"Cookie": f"ZM_ADMIN_AUTH_TOKEN={token}"})
        self.assertEqual((r.status, json.loads(data)["name"]), (200, "mbox2"))  # zimbraAdminPort of user2's server

    def test_upload_over_the_limit_is_413(self):
        r, _ = self.get("/home/user1@example.com/up", method="POST", body=b"x" * 2000)
        self.assertEqual(r.status, 413)
        r, data = self.get("/home/user1@example.com/up", method="POST", body=b"x" * 500)
        self.assertEqual(json.loads(data)["received"], 500)


class PublicUrlTest(WebProxyBase):
    extra_http = ('public_hostname = "www.example.net"\npublic_protocol = "https"\n'
                  'domain_public_services = ["example.com webmail.example.com https 8443"]')

    def test_location_follows_the_rest_url_rules(self):
        # The user's domain has its own public service...
        r, _ = self.get("/home/user1@example.com/redirect")
        self.assertEqual(r.getheader("Location"), "https://webmail.example.com:8443/home/landed")
        # ...a request routed by IP hash has no domain: the global public service.
        r, _ = self.get("/redirect", source="127.0.0.9")
        self.assertEqual(r.getheader("Location"), "https://www.example.net/home/landed")


class NotStrictTest(WebProxyBase):
    strict = False

    def test_any_host_passes(self):
        self.assertEqual(self.get("/x", host="mail.example.com")[0].status, 200)
        self.assertEqual(self.get("/x", host="evil.test")[0].status, 200)


class RedirectModeTest(WebProxyBase):
    mode = "redirect"

    def test_http_redirects_to_https(self):
        r, _ = self.get("/home/user1@example.com/inbox?a=1")
        self.assertEqual(r.status, 302)
        self.assertEqual(r.getheader("Location"),
                         f"https://mail.example.com:{self.ports['https']}/home/user1@example.com/inbox?a=1")
        self.assertEqual(self.name_of("/home/user1@example.com/inbox", https=True), "mbox1")


class HttpsModeTest(WebProxyBase):
    mode = "https"

    def test_no_http_listener(self):
        self.assertNotIn("http", self.ports)
        self.assertEqual(self.name_of("/home/user2@example.com/", https=True), "mbox2")


class MixedModeTest(WebProxyBase):
    mode = "mixed"

    def test_login_over_https_then_clear(self):
        r, _ = self.get("/")
        self.assertEqual(r.status, 302)
        self.assertTrue(r.getheader("Location").startswith(f"https://mail.example.com:{self.ports['https']}/"))
        self.assertIn("zminitmode=http", r.getheader("Location"))
        cookie = {"Cookie": "ZM_AUTH_TOKEN=0_x_00"}
        self.assertEqual(self.get("/", headers=cookie)[0].status, 200)
        r, _ = self.get("/?zminitmode=http", headers=cookie, https=True)
        self.assertEqual(r.status, 302)
        self.assertTrue(r.getheader("Location").startswith(f"http://mail.example.com:{self.ports['http']}/"))


def ipv6_loopback_available():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@unittest.skipUnless(ipv6_loopback_available(), "no IPv6 loopback (::1) on this host")
class Ipv6UpstreamTest(WebProxyBase):
    """An upstream written [::1]:port (the brackets once reached the connect
    as part of the host name, so every request to it failed)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.b6 = WebBackend("mbox6", "::1").start()

    @classmethod
    def tearDownClass(cls):
        cls.b6.stop()
        super().tearDownClass()

    def upstreams(self):
        return [f"[::1]:{self.b6.port}"]

    def test_an_ipv6_upstream_is_reached(self):
        # No account in the path: the IP hash over http.upstreams picks [::1].
        r, data = self.get("/")
        self.assertEqual(r.status, 200, data)
        self.assertEqual(json.loads(data)["name"], "mbox6")
        with open(os.path.join(self.home, "log", "zmproxyd.log")) as f:
            log = f.read()
        self.assertNotIn("[[::1]]", log)


if __name__ == "__main__":
    unittest.main()


class ReadTimeoutFallOverTest(WebProxyBase):
    """IP hash after a read timeout (nginx's proxy_next_upstream timeout): a
    request that may be repeated goes to the next server; a POST does not.
    Passive health is off (max_fails 0), so the silent server is tried each
    time rather than left out."""
    extra_http = 'read_timeout = "1s"\nmax_fails = 0'

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Accepts (the kernel's backlog) and never answers.
        cls.silent = socket.socket()
        cls.silent.bind(("127.0.0.4", 0))
        cls.silent.listen(64)

    @classmethod
    def tearDownClass(cls):
        cls.silent.close()
        super().tearDownClass()

    def upstreams(self):
        return [f"127.0.0.4:{self.silent.getsockname()[1]}", self.b1.server]

    def test_get_falls_over_and_post_gets_504(self):
        # Some client addresses hash to the silent server first: found by
        # their POST's 504; their GET still gets mbox1's answer.
        silent_first = []
        for last in range(10, 30):
            source = f"127.0.0.{last}"
            r, data = self.get("/", source=source, method="POST", body=b"x")
            if r.status == 504:
                silent_first.append(source)
            else:
                self.assertEqual(r.status, 200, data)
        self.assertTrue(silent_first, "no client address hashed to the silent server")
        for source in silent_first[:2]:
            self.assertEqual(self.name_of("/", source=source), "mbox1")
            r, data = self.get("/", source=source, method="HEAD")
            self.assertEqual(r.status, 200, data)
