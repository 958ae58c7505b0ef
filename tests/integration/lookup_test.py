"""zmlookupd and the route resolver against real processes: curl and stock
nginx as clients, memcached as the cache, Dovecot as the mailbox."""
import http.client
import imaplib
import json
import os
import poplib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

from zmproxy_testing import BIN_DIR, HomeTestCase, tool

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "support"))
from zmproxy_procs import Daemon  # noqa: E402

PORTS = {
    "127.0.0.2": {"imap": 7143, "imapssl": 7993, "pop3": 7110, "pop3ssl": 7995,
                  "http": 8080, "httpssl": 8443},
    "127.0.0.3": {"imap": 17143, "imapssl": 17993, "pop3": 17110, "pop3ssl": 17995,
                  "http": 18080, "httpssl": 18443},
}
ATTR = {"imap": "zimbraImapBindPort", "imapssl": "zimbraImapSSLBindPort",
        "pop3": "zimbraPop3BindPort", "pop3ssl": "zimbraPop3SSLBindPort",
        "http": "zimbraMailPort", "httpssl": "zimbraMailSSLPort"}


def provision(case, ports=PORTS):
    lines = ["cd example.com", "mcf zimbraDefaultDomainName example.com",
             "cd other.test zimbraVirtualIPAddress 127.0.0.5",
             "cad alias.test example.com"]
    for host, p in ports.items():
        lines.append(f"cs {host} " + " ".join(f"{ATTR[k]} {v}" for k, v in p.items()))
    lines += ["ca user1@example.com pw1 zimbraMailHost 127.0.0.2",
              "aaa user1@example.com first@example.com",
              "ca user2@example.com pw2 zimbraMailHost 127.0.0.3",
              "ca bob@other.test pw3 zimbraMailHost 127.0.0.3",
              "ca jos\u00e9@example.com pw4 zimbraMailHost 127.0.0.2"]
    r = case.run_tool("zmprov", input="\n".join(lines) + "\n")
    case.assertEqual(r.returncode, 0, r.stdout + r.stderr)


def control(home, command):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(30)
    s.connect(os.path.join(home, "run", "zmlookupd.sock"))
    s.sendall(command.encode() + b"\n")
    data = b""
    while not data.endswith(b"\n"):
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    return data.decode()


class ZmlookupdTest(HomeTestCase):
    def setUp(self):
        super().setUp()
        provision(self)
        self.lookupd = Daemon(BIN_DIR, "zmlookupd", self.home, ["--listen", "127.0.0.1:0"]).start()
        self.addCleanup(self.lookupd.stop)

    def curl(self, user, protocol, *extra, method="username", http10=False):
        headers = {"Auth-Method": method, "Auth-User": user, "Auth-Pass": "_password_",
                   "Auth-Protocol": protocol, "Auth-Login-Attempt": "1",
                   "Client-IP": "192.0.2.10", "X-Proxy-IP": "127.0.0.1"}
        for h in extra:
            k, v = h.split(": ", 1)
            headers[k] = v
        args = ["curl", "-s", "-D", "-", "-o", "/dev/null",
                f"http://{self.lookupd.address}/service/extension/nginx-lookup"]
        if http10:
            args.insert(1, "--http1.0")
        for k, v in headers.items():
            args += ["-H", f"{k}: {v}"]
        r = subprocess.run(args, capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        headers = {}
        for line in lines[1:]:
            if ": " in line:
                k, v = line.split(": ", 1)
                headers[k] = v
        headers["_status"] = lines[0]
        return headers

    def test_every_protocol(self):
        for proto in ATTR:
            with self.subTest(proto=proto):
                h = self.curl("user1@example.com", proto)
                self.assertEqual(h["Auth-Status"], "OK")
                self.assertEqual(h["Auth-Server"], "127.0.0.2")
                self.assertEqual(int(h["Auth-Port"]), PORTS["127.0.0.2"][proto])
                self.assertEqual(h["Auth-User"], "user1@example.com")
                self.assertEqual(h["Auth-Cache-Alias"], "TRUE")
                h = self.curl("user2@example.com", proto)
                self.assertEqual((h["Auth-Server"], int(h["Auth-Port"])),
                                 ("127.0.0.3", PORTS["127.0.0.3"][proto]))

    def test_names(self):
        zid = self.run_tool("zmprov", "ga", "user2@example.com", "zimbraId").stdout.split()[-1]
        cases = [
            (("user1@example.com", "imap"), ("127.0.0.2", "user1@example.com")),
            (("first@example.com", "imap"), ("127.0.0.2", "user1@example.com")),   # alias
            (("user1", "pop3"), ("127.0.0.2", "user1@example.com")),               # default domain
            (("user1@alias.test", "imap"), ("127.0.0.2", "user1@example.com")),   # alias domain
            (("jos%C3%A9@example.com", "imap"), ("127.0.0.2", "jos%C3%A9@example.com")),  # UTF-8
        ]
        for (user, proto), (server, auth_user) in cases:
            with self.subTest(user=user):
                h = self.curl(user, proto)
                self.assertEqual((h["Auth-Status"], h["Auth-Server"], h["Auth-User"]),
                                 ("OK", server, auth_user))
        h = self.curl("bob", "imap", "X-Proxy-IP: 127.0.0.5")  # virtual IP qualifies
        self.assertEqual((h["Auth-Server"], h["Auth-User"]), ("127.0.0.3", "bob@other.test"))
        self.assertEqual(h["Auth-Cache-Alias"], "FALSE")
        h = self.curl(zid, "httpssl", method="zimbraId")
        self.assertEqual((h["Auth-Server"], h["Auth-Port"]), ("127.0.0.3", "18443"))

    def test_unknown_user_gets_error_and_wait(self):
        h = self.curl("ghost@example.com", "imap")
        self.assertEqual(h["_status"], "HTTP/1.1 200 OK")
        self.assertEqual(h["Auth-Status"], "user not found:ghost@example.com")
        self.assertEqual(h["Auth-Wait"], "10")
        self.assertNotIn("Auth-Server", h)

    def test_missing_header(self):
        r = subprocess.run(["curl", "-s", "-D", "-", "-o", "/dev/null",
                            f"http://{self.lookupd.address}/service/extension/nginx-lookup",
                            "-H", "Auth-Method: username", "-H", "Auth-Protocol: imap"],
                           capture_output=True, text=True, timeout=30)
        self.assertIn("Auth-Status: missing header field Auth-User", r.stdout)

    def test_keep_alive_http11_and_http10(self):
        conn = http.client.HTTPConnection(self.lookupd.host, self.lookupd.port, timeout=10)
        headers = {"Auth-Method": "username", "Auth-User": "user1@example.com",
                   "Auth-Protocol": "imap", "Client-IP": "192.0.2.1", "X-Proxy-IP": "127.0.0.1"}
        for _ in range(3):
            conn.request("GET", "/service/extension/nginx-lookup", headers=headers)
            r = conn.getresponse()
            r.read()
            self.assertEqual(r.getheader("Auth-Server"), "127.0.0.2")
            self.assertFalse(r.will_close)
        conn.close()
        h = self.curl("user1@example.com", "imap", "Connection: keep-alive", http10=True)
        self.assertEqual(h["Connection"], "keep-alive")
        h = self.curl("user1@example.com", "imap", http10=True)
        self.assertEqual(h["Connection"], "close")

    def test_store_changes_are_followed(self):
        r = self.run_tool("zmprov", "ma", "user1@example.com", "zimbraMailHost", "127.0.0.3")
        self.assertEqual(r.returncode, 0, r.stderr)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if self.curl("user1@example.com", "imap")["Auth-Server"] == "127.0.0.3":
                break
            time.sleep(0.02)
        self.assertEqual(self.curl("user1@example.com", "imap")["Auth-Server"], "127.0.0.3")

    def test_flush_cache(self):
        r = self.run_tool("zmprov", "fc", "reverseproxylookup")
        self.assertEqual(r.returncode, 0, r.stderr)
        stats = json.loads(control(self.home, "STATS"))
        self.assertGreaterEqual(stats["reloads"], 2)
        self.assertEqual(stats["accounts"], 4)
        self.lookupd.stop()
        r = self.run_tool("zmprov", "fc", "reverseproxylookup")
        self.assertEqual(r.returncode, 2)
        self.assertIn("zmlookupd is not running", r.stderr)

    def test_caller_authentication(self):
        self.lookupd.stop()
        self.run_tool("zmlocalconfig", "-e", "zmlookupd_secret=s3cr3t")
        self.lookupd.start()
        self.assertEqual(self.curl("user1@example.com", "imap")["_status"], "HTTP/1.1 403 Forbidden")
        h = self.curl("user1@example.com", "imap", "X-Zmproxy-Lookup-Secret: s3cr3t")
        self.assertEqual(h["Auth-Status"], "OK")
        self.lookupd.stop()
        self.run_tool("zmlocalconfig", "-e", "zmlookupd_secret=", "zmlookupd_allowed_peers=10.9.9.0/24")
        self.lookupd.start()
        self.assertEqual(self.curl("user1@example.com", "imap")["_status"], "HTTP/1.1 403 Forbidden")

    def test_crlf_in_user_cannot_split_headers(self):
        h = self.curl("user1%0D%0AAuth-Status:%20OK@example.com", "imap")
        self.assertTrue(h["Auth-Status"].startswith("user not found:"), h)
        self.assertNotIn("Auth-Server", h)


class NginxInteropTest(HomeTestCase):
    """Debian's stock nginx mail proxy, auth_http pointed at zmlookupd,
    logs an IMAP and a POP3 client into a real Dovecot."""

    def test_nginx_logs_in_through_zmlookupd(self):
        from dovecot import Dovecot
        from nginx_mail import NginxMail
        dovecot = Dovecot("interop", {"user1@example.com": "pw1"}, address="127.0.0.2")
        dovecot.start()
        self.addCleanup(dovecot.stop)
        dovecot.deliver("user1@example.com", "hello", "through nginx")
        provision(self, {"127.0.0.2": {"imap": dovecot.imap_port, "pop3": dovecot.pop3_port}})
        lookupd = Daemon(BIN_DIR, "zmlookupd", self.home, ["--listen", "127.0.0.1:0"]).start()
        self.addCleanup(lookupd.stop)
        nginx = NginxMail(f"http://{lookupd.address}/service/extension/nginx-lookup")
        nginx.start()
        self.addCleanup(nginx.stop)
        imap = imaplib.IMAP4("127.0.0.1", nginx.imap_port, timeout=30)
        imap.login("user1", "pw1")  # bare name: qualified with the default domain
        typ, data = imap.select("INBOX")
        self.assertEqual((typ, data[0]), ("OK", b"1"))
        imap.logout()
        pop = poplib.POP3("127.0.0.1", nginx.pop3_port, timeout=30)
        pop.user("user1@example.com")
        pop.pass_("pw1")
        self.assertEqual(pop.stat()[0], 1)
        pop.quit()
        # The password reached neither zmlookupd's log nor nginx's.
        self.assertNotIn("pw1", lookupd.log())


class ResolverTest(HomeTestCase):
    """The RouteResolver (through tests' resolver_probe) with real memcached
    and two zmlookupd handlers."""

    def setUp(self):
        super().setUp()
        from memcached import Memcached
        provision(self)
        self.mc = Memcached()
        self.mc.start()
        self.addCleanup(self.mc.stop)
        self.a = Daemon(BIN_DIR, "zmlookupd", self.home, ["--listen", "127.0.0.1:0"]).start()
        self.addCleanup(self.a.stop)
        # A second handler over the same store, in its own home.
        self.home_b = tempfile.mkdtemp(prefix="zmproxy-it-b-")
        self.addCleanup(shutil.rmtree, self.home_b, True)
        os.symlink(os.path.join(self.home, "data"), os.path.join(self.home_b, "data"))
        self.b = Daemon(BIN_DIR, "zmlookupd", self.home_b, ["--listen", "127.0.0.1:0"]).start()
        self.addCleanup(self.b.stop)

    def probe(self, *handlers, memcached=True):
        args = [tool("resolver_probe")]
        for h in handlers:
            args += ["--handler", h.address]
        if memcached:
            args += ["--memcached", self.mc.server]
            # The mailbox servers a memcached route may name (confgen's route.mailbox_servers).
            for host, ports in PORTS.items():
                for port in ports.values():
                    args += ["--mailbox-server", f"{host}:{port}"]
        args += ["--retry-ms", "60000"]
        p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.addCleanup(p.stdout.close)
        self.addCleanup(p.wait, 30)
        self.addCleanup(p.stdin.close)

        def ask(line):
            p.stdin.write(line + "\n")
            p.stdin.flush()
            return json.loads(p.stdout.readline())
        return ask

    def requests(self, daemon_home):
        return json.loads(control(daemon_home, "STATS"))["requests"]

    def test_second_lookup_comes_from_memcached(self):
        first = self.probe(self.a)("resolve imap user1@example.com")
        self.assertEqual((first["ok"], first["host"], first["port"], first["source"]),
                         (True, "127.0.0.2", 7143, "handler"))
        before = self.requests(self.home)
        second = self.probe(self.a)("resolve imap user1@example.com")  # a new process: no local cache
        self.assertEqual((second["host"], second["port"], second["source"]),
                         ("127.0.0.2", 7143, "memcached"))
        self.assertEqual(self.requests(self.home), before)
        self.assertEqual(self.mc.get("route:proto=imap;user=user1@example.com"), b"127.0.0.2:7143")
        # An alias login maps to the account through the alias key.
        self.probe(self.a)("resolve pop3 first@example.com")
        self.assertEqual(self.mc.get("alias:user=first@example.com;ip=127.0.0.1"), b"user1@example.com")

    def test_memcached_down_lookups_still_answer(self):
        self.mc.stop()
        ask = self.probe(self.a)
        for _ in range(3):
            r = ask("resolve imap user2@example.com")
            self.assertEqual((r["ok"], r["host"], r["source"]), (True, "127.0.0.3", "handler"))
        self.assertGreater(ask("stats")["memcached_errors"], 0)

    def test_failover_to_the_second_handler(self):
        self.a.stop()
        ask = self.probe(self.a, self.b, memcached=False)
        for _ in range(4):
            r = ask("resolve imap user1@example.com")
            self.assertEqual((r["ok"], r["host"]), (True, "127.0.0.2"))
        stats = ask("stats")
        self.assertEqual(stats["handler_failures"], 1)  # then skipped for the retry interval

    def test_no_handler_at_all_is_unavailable(self):
        self.a.stop()
        self.b.stop()
        r = self.probe(self.a, self.b, memcached=False)("resolve imap user1@example.com")
        self.assertEqual((r["ok"], r["unavailable"]), (False, True))

    def test_unknown_user_is_not_cached(self):
        ask = self.probe(self.a)
        r = ask("resolve imap ghost@example.com")
        self.assertEqual((r["ok"], r["unavailable"], r["wait"]), (False, False, 10))
        self.assertIsNone(self.mc.get("route:proto=imap;user=ghost@example.com"))

    def test_moved_mailbox_after_purge(self):
        self.assertEqual(self.probe(self.a)("resolve imap user1@example.com")["host"], "127.0.0.2")
        r = self.run_tool("zmprov", "ma", "user1@example.com", "zimbraMailHost", "127.0.0.3")
        self.assertEqual(r.returncode, 0)
        self.assertEqual(self.probe(self.a)("resolve imap user1@example.com")["host"], "127.0.0.2")
        r = self.run_tool("zmproxypurge", "-a", "user1@example.com", self.mc.server)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("purged", r.stdout)
        # zmlookupd follows the store by itself; wait until it has the move.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            r = self.probe(self.a, memcached=False)("resolve imap user1@example.com")
            if r["host"] == "127.0.0.3":
                break
            time.sleep(0.02)
        r = self.probe(self.a)("resolve imap user1@example.com")
        self.assertEqual((r["host"], r["port"]), ("127.0.0.3", 17143))

    def test_invalidate_removes_cached_routes(self):
        ask = self.probe(self.a)
        ask("resolve imap user1@example.com")
        self.assertIsNotNone(self.mc.get("route:proto=imap;user=user1@example.com"))
        ask("invalidate user1@example.com")
        self.assertIsNone(self.mc.get("route:proto=imap;user=user1@example.com"))


if __name__ == "__main__":
    unittest.main()
