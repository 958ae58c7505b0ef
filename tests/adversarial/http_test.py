"""The web proxy attacked (issue 13, items 5, 6 and 9): a real zmproxyd in
front of two mailbox web servers (tests/support/web_backend.py), zmlookupd
for the routes, raw sockets and http.client as the clients.

Each test names the hole it keeps closed:
- a client's own X-Forwarded-For (and its kin) reaching the mailbox, which
  trusts the proxy's address and believes the leftmost entry;
- credentials in URLs and Referers written to the access log;
- kept upstream connections that the mailbox closed (POSTs lost, WebSocket
  upgrades broken and handed out again), and pooled connections with bytes
  nobody asked for;
- a client trickling a request body, an idle tunnel held for ever;
- absolute-form targets slipping past the strict server names; Upgrade
  tokens other than websocket reaching the mailbox.
"""
import adversarial_testing  # noqa: F401  (puts tests/integration and tests/support on the path)

import base64
import concurrent.futures
import http.client
import json
import os
import select
import socket
import time

from test_ca import proxy_certificate as make_cert
from web_proxy_test import WebProxyBase
from zmproxy_testing import HomeTestCase
from websocket_client import HandshakeFailed, echo_once, open_websocket, recv_frame, send_text

TRUSTED = "127.0.0.5"    # in http.trusted_proxies: a balancer in front of the proxy
UNTRUSTED = "127.0.0.9"  # any client
USER_PATH = "/service/home/~user1@example.com"  # routed to mbox1 (self.b1)


def raw_exchange(port, request, source=None, timeout=30):
    """Sends `request` (bytes) on a new connection; returns the response."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                    source_address=(source, 0) if source else None)
    try:
        sock.sendall(request)
        resp = http.client.HTTPResponse(sock)
        resp.begin()
        body = resp.read()
        return resp, body
    finally:
        sock.close()


class HttpBoundaryBase(WebProxyBase):
    log_level = "debug"  # what a debug line writes is searched for secrets too
    extra_http = (f'trusted_proxies = "{TRUSTED}, 10.0.0.0/8 ::1"\n'
                  'body_timeout = "1s"\nbody_min_rate = 1000\ntunnel_idle_timeout = "2s"')

    def backend_headers(self, response_body):
        return json.loads(response_body)["headers"]

    def access_log(self, marker, count, timeout=10):
        """The access log once `count` lines carry `marker` (written just after each response)."""
        path = os.path.join(self.home, "log", "access.log")
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            if os.path.exists(path):
                with open(path) as f:
                    text = f.read()
                if text.count(marker) >= count:
                    return text
            time.sleep(0.02)
        self.fail(f"the access log has not {count} lines with {marker!r}: {text!r}")


class ClientIdentityTest(HttpBoundaryBase):
    def test_spoofed_forwarding_fields_from_an_untrusted_client_never_reach_the_mailbox(self):
        request = (b"GET /static/a.js HTTP/1.1\r\nHost: mail.example.com\r\n"
                   b"X-Forwarded-For: 192.0.2.1\r\nx-forwarded-for: 192.0.2.11\r\n"
                   b"X-Real-IP: 192.0.2.2\r\nForwarded: for=192.0.2.3;proto=https\r\n"
                   b"X-Forwarded-Host: evil.example\r\nX-Forwarded-Proto: https\r\n"
                   b"X-Forwarded-Port: 443\r\nX-Forwarded-Server: evil.example\r\n\r\n")
        r, body = raw_exchange(self.ports["http"], request, source=UNTRUSTED)
        self.assertEqual(r.status, 200, body)
        headers = self.backend_headers(body)
        self.assertNotIn("192.0.2", body.decode(), "a spoofed address reached the mailbox")
        self.assertNotIn("evil.example", body.decode())
        self.assertEqual(headers["X-Forwarded-For"], UNTRUSTED)  # exactly the client's address
        self.assertEqual(headers["X-Real-IP"], UNTRUSTED)
        self.assertEqual(headers["X-Forwarded-Proto"], "http")
        self.assertEqual(headers["X-Forwarded-Host"], "mail.example.com")
        self.assertNotIn("Forwarded", headers)
        self.assertNotIn("X-Forwarded-Port", headers)

    def test_a_trusted_proxy_keeps_its_chain(self):
        r, body = self.get("/static/b.js", source=TRUSTED,
                           headers={"X-Forwarded-For": "192.0.2.1", "X-Real-IP": "192.0.2.1",
                                    "X-Forwarded-Proto": "https"})
        self.assertEqual(r.status, 200, body)
        headers = self.backend_headers(body)
        self.assertEqual(headers["X-Forwarded-For"], f"192.0.2.1, {TRUSTED}")
        self.assertEqual(headers["X-Real-IP"], "192.0.2.1")
        self.assertEqual(headers["X-Forwarded-Proto"], "https")

    def test_credentials_never_reach_a_log(self):
        secrets = [f"S3CRET{i}x" for i in range(10)]
        basic = base64.b64encode(b"user1@example.com:S3CRETbasic").decode()
        requests = [
            (f"{USER_PATH}/inbox?zauthtoken={secrets[0]}&fmt=json", {}),
            (f"{USER_PATH}/inbox?fmt=json&ZAuthToken={secrets[1]}", {}),
            (f"{USER_PATH}/inbox?%7Aauthtoken={secrets[2]}", {}),
            (f"/service/preauth?account=user1@example.com&preauth={secrets[3]}&timestamp=1", {}),
            (f"{USER_PATH}/inbox?zjwt={secrets[4]};auth={secrets[5]}", {}),
            (f"{USER_PATH}/inbox", {"Referer": f"https://mail.example.com/?zauthtoken={secrets[6]}&x=1"}),
            (f"{USER_PATH}/inbox", {"Cookie": f"ZM_AUTH_TOKEN={secrets[7]}"}),
            (f"{USER_PATH}/inbox", {"Authorization": f"Bearer {secrets[8]}"}),
            (f"{USER_PATH}/inbox?AUTH={secrets[9]}#frag", {}),
            (f"{USER_PATH}/inbox", {"Authorization": f"Basic {basic}"}),
        ]
        secrets += ["S3CRETbasic", basic]
        for path, headers in requests:
            headers = dict(headers, **{"User-Agent": "redaction-probe"})
            self.get(path, headers=headers)
        # A password in an absolute-form target (refused with 400, logged all
        # the same) and in a Referer's user information.
        secrets.append("S3CRETuserinfo")
        r, body = raw_exchange(self.ports["http"],
                               b"GET http://alice:S3CRETuserinfo@mail.example.com/ HTTP/1.1\r\n"
                               b"Host: mail.example.com\r\nUser-Agent: redaction-probe\r\n\r\n")
        self.assertEqual(r.status, 400, body)
        secrets.append("S3CRETreferer")
        self.get(f"{USER_PATH}/inbox", headers={"User-Agent": "redaction-probe",
                                                "Referer": "https://bob:S3CRETreferer@mail.example.com/"})
        log = self.access_log("redaction-probe", len(requests) + 2)
        # Every other log of the home too (zmproxyd's own among them).
        for name in os.listdir(os.path.join(self.home, "log")):
            with open(os.path.join(self.home, "log", name), errors="replace") as f:
                log += f.read()
        for secret in secrets:
            self.assertNotIn(secret, log)
        self.assertIn("zauthtoken=***&fmt=json", log)
        self.assertIn("?zauthtoken=***&x=1", log)  # the Referer
        self.assertIn("http://***@mail.example.com/", log)


class ReusedUpstreamTest(HttpBoundaryBase):
    def post(self, i):
        body = bytes([65 + i % 26]) * 2048
        r, data = self.get(f"{USER_PATH}/post-{i}", method="POST", body=body,
                           headers={"Content-Type": "application/octet-stream"})
        return r.status, data

    def websocket(self, i):
        try:
            return echo_once(("127.0.0.1", self.ports["http"]), f"{USER_PATH}/ws-echo", "mail.example.com",
                             f"hello {i}")
        except (HandshakeFailed, OSError) as e:
            return f"failed: {e}"

    def drop_kept_connections(self):
        conn = http.client.HTTPConnection(self.b1.address, self.b1.port, timeout=30)
        conn.request("GET", "/_drop-kept")
        dropped = json.loads(conn.getresponse().read())["dropped"]
        conn.close()
        return dropped

    def test_posts_and_websockets_survive_a_mailbox_closing_kept_connections(self):
        # The mailbox closes every kept connection after the POSTs and after
        # the upgrades: each batch finds the pool full of closed connections.
        after_posts, after_upgrades = [], []
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            for round_no in range(4):
                posts = list(pool.map(self.post, range(6)))
                for status, data in posts:
                    self.assertEqual(status, 200, f"round {round_no}: {data!r}")
                    self.assertEqual(json.loads(data)["received"], 2048)
                after_posts.append(self.drop_kept_connections())
                echoes = list(pool.map(self.websocket, range(6)))
                self.assertEqual(echoes, [f"hello {i}" for i in range(6)], f"round {round_no}")
                after_upgrades.append(self.drop_kept_connections())
        # The POSTs left kept connections for the upgrades to meet closed
        # (else this proves nothing). Were an upgraded connection pooled, the
        # next round's POSTs would land in a tunnel.
        self.assertGreater(sum(after_posts), 0, after_posts)

    def test_a_pooled_connection_with_unread_bytes_is_not_reused(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.ports["http"], timeout=30)
        try:
            for _ in range(3):  # one client connection: one worker, one pool
                conn.request("GET", f"{USER_PATH}/smuggle", headers={"Host": "mail.example.com"})
                r = conn.getresponse()
                self.assertEqual(r.read(), b"ok")
                conn.request("GET", f"{USER_PATH}/after", headers={"Host": "mail.example.com"})
                r = conn.getresponse()
                data = r.read()
                self.assertNotIn(b"SMUGGLED", data, "the pool handed out a connection with an answer in it")
                self.assertEqual(json.loads(data)["path"], f"{USER_PATH}/after")
        finally:
            conn.close()


class SlowAndOddClientsTest(HttpBoundaryBase):
    def test_a_trickled_body_is_cut(self):
        # body_timeout 1 s, then 1000 bytes/s on average; this client sends 50.
        sock = socket.create_connection(("127.0.0.1", self.ports["http"]), timeout=30)
        self.addCleanup(sock.close)
        sock.sendall(f"POST {USER_PATH}/slow HTTP/1.1\r\nHost: mail.example.com\r\n"
                     f"Content-Length: 100000\r\n\r\n".encode())
        started = time.monotonic()
        answer = b""
        closed = False
        while time.monotonic() - started < 15 and not closed:
            try:
                sock.sendall(b"x" * 10)
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            readable, _, _ = select.select([sock], [], [], 0.2)
            if readable:
                try:
                    chunk = sock.recv(4096)
                except ConnectionResetError:
                    chunk = b""
                answer += chunk
                closed = not chunk
        elapsed = time.monotonic() - started
        self.assertTrue(closed or answer, "a client trickling its body was never cut")
        self.assertLess(elapsed, 10)
        if answer:
            self.assertTrue(answer.startswith(b"HTTP/1.1 408"), answer)

    def test_an_idle_tunnel_is_closed_and_a_busy_one_is_not(self):
        address = ("127.0.0.1", self.ports["http"])
        busy = open_websocket(address, f"{USER_PATH}/ws-busy", "mail.example.com")
        self.addCleanup(busy.close)
        idle = open_websocket(address, f"{USER_PATH}/ws-idle", "mail.example.com")
        self.addCleanup(idle.close)
        started = time.monotonic()
        idle_closed_at = None
        i = 0
        # The busy tunnel talks every 0.4 s for 4 s, twice tunnel_idle_timeout.
        while time.monotonic() - started < 4:
            send_text(busy, f"tick {i}")
            self.assertEqual(recv_frame(busy), (1, f"tick {i}".encode()))
            i += 1
            readable, _, _ = select.select([idle], [], [], 0.4)
            if readable and idle_closed_at is None:
                try:
                    data = idle.recv(100)
                except ConnectionResetError:
                    data = b""
                if not data:
                    idle_closed_at = time.monotonic() - started
        self.assertIsNotNone(idle_closed_at, "an idle tunnel outlived tunnel_idle_timeout")
        self.assertGreater(idle_closed_at, 1.5)

    def test_absolute_form_targets_meet_the_strict_server_names(self):
        r, body = raw_exchange(self.ports["http"],
                               b"GET http://evil.example/ HTTP/1.1\r\nHost: mail.example.com\r\n\r\n")
        self.assertEqual(r.status, 400, body)
        r, body = raw_exchange(self.ports["http"],
                               f"GET HTTP://mail.example.com{USER_PATH}/abs?x=1 HTTP/1.1\r\n"
                               f"Host: evil.example\r\n\r\n".encode())
        self.assertEqual(r.status, 200, body)
        seen = json.loads(body)
        self.assertEqual(seen["path"], f"{USER_PATH}/abs?x=1")  # origin-form upstream
        self.assertEqual(seen["headers"]["Host"], "mail.example.com")
        for target in (b"http://user@mail.example.com/", b"mail.example.com:80", b"*", b"static/x.js"):
            r, body = raw_exchange(self.ports["http"],
                                   b"GET " + target + b" HTTP/1.1\r\nHost: mail.example.com\r\n\r\n")
            self.assertEqual(r.status, 400, (target, body))

    def test_only_websocket_upgrades_reach_the_mailbox(self):
        for upgrade, extra in (("h2c", "HTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n"), ("test", "")):
            r, body = raw_exchange(self.ports["http"],
                                   f"GET {USER_PATH}/up HTTP/1.1\r\nHost: mail.example.com\r\n"
                                   f"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: {upgrade}\r\n{extra}\r\n"
                                   .encode())
            self.assertEqual(r.status, 200, body)  # served as plain HTTP, not switched
            headers = self.backend_headers(body)
            self.assertNotIn("Upgrade", headers)
            self.assertNotIn("HTTP2-Settings", headers)
            self.assertEqual(headers.get("Connection"), "keep-alive")


class TrustedProxiesSettingTest(HomeTestCase):
    """zmproxy_trusted_proxies reaches zmproxy.conf, and a wrong entry is refused, not half-trusted."""

    def test_localconfig_renders_into_http_trusted_proxies(self):
        r = self.run_tool("zmlocalconfig", "-e", "zmproxy_trusted_proxies=10.1.0.0/16, 127.0.0.5 ::1",
                          "zmproxy_http_body_min_rate=2000", "zmproxy_http_tunnel_idle_timeout=120")
        self.assertEqual(r.returncode, 0, r.stderr)
        make_cert(os.path.join(self.home, "conf"))
        r = self.run_tool("zmproxyctl", "genconf", "--dry-run")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('trusted_proxies = "10.1.0.0/16, 127.0.0.5 ::1"\n', r.stdout)
        self.assertIn("body_min_rate = 2000\n", r.stdout)
        self.assertIn('tunnel_idle_timeout = "120s"\n', r.stdout)

    def test_a_wrong_entry_is_refused_with_one_line_naming_it(self):
        r = self.run_tool("zmlocalconfig", "-e", "zmproxy_trusted_proxies=10.0.0.0/8, proxy.example.com")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.run_tool("zmproxyctl", "genconf")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("http.trusted_proxies: 'proxy.example.com' is not an address or CIDR", r.stderr)
        self.assertIn("zmproxy_trusted_proxies", r.stderr)
