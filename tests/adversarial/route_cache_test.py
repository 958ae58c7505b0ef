"""Route cache abuse (issue 13 items 4 and 7): whoever can write memcached
must not be able to send a user's password anywhere but a mailbox server.

memcached is shared and unauthenticated. A route read from it is believed
only when it names a known mailbox server (route.mailbox_servers, which
confgen fills from the server entries) or carries an HMAC made with the route
secret; anything else is a miss: zmproxyd asks zmlookupd, logs one warning
naming the key, and replaces the entry."""
import adversarial_testing  # noqa: F401  (puts tests/integration and tests/support on the path)

import hashlib
import hmac
import imaplib
import json
import os
import poplib
import re
import socket
import subprocess
import threading
import time
import unittest

from lookup_test import PORTS, provision
from mail_proxy_test import PASSWORDS, MailProxyBase
from zmproxy_procs import Daemon
from zmproxy_testing import BIN_DIR, HomeTestCase, tool

SECRET = "route-secret-for-tests"


class Listener:
    """A TCP listener the test owns, recording whether anything connects."""

    def __init__(self, address):
        self.sock = socket.socket()
        self.sock.bind((address, 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.address, self.port = self.sock.getsockname()
        self.connections = 0
        self.received = b""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.settimeout(1)
            try:
                conn.sendall(b"* OK ready\r\n")  # what a thief would say, to get the LOGIN line
                self.received += conn.recv(4096)
            except OSError:
                pass
            conn.close()

    def close(self):
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


def lookupd_requests(home):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(30)
    s.connect(os.path.join(home, "run", "zmlookupd.sock"))
    s.sendall(b"STATS\n")
    data = b""
    while not data.endswith(b"\n"):
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    return json.loads(data)["requests"]


def seal(key, value, secret=SECRET):
    mac = hmac.new(secret.encode(), f"{key}\n{value}".encode(), hashlib.sha256).hexdigest()
    return f"{value};hmac={mac}"


class PoisonedRouteTest(MailProxyBase):
    """A real zmproxyd with the mailbox server list confgen generates."""

    def write_conf(self):
        # The list the proxy knows is the one `zmproxyctl genconf` renders from
        # the server entries setUp provisioned (its exit status may complain
        # about the default listener ports; the text is what matters here).
        r = self.run_tool("zmproxyctl", "genconf", "-n")
        found = re.search(r"^mailbox_servers = (\[.*\])$", r.stdout, re.M)
        self.assertIsNotNone(found, r.stdout + r.stderr)
        self.mailbox_servers = json.loads(found.group(1))
        super().write_conf()
        path = os.path.join(self.home, "conf", "zmproxy.conf")
        with open(path) as f:
            text = f.read()
        text = text.replace("[route]\n", f"[route]\nmailbox_servers = {found.group(1)}\n"
                                         f'secret = "{SECRET}"\n', 1)
        with open(path, "w") as f:
            f.write(text)

    def setUp(self):
        super().setUp()
        self.thief = Listener("127.0.0.9")
        self.addCleanup(self.thief.close)

    def proxy_log(self):
        with open(os.path.join(self.home, "log", "zmproxyd.log"), errors="replace") as f:
            return f.read()

    def wait_for_log(self, text, timeout=5.0):
        deadline = time.monotonic() + timeout
        while text not in self.proxy_log():
            if time.monotonic() > deadline:
                self.fail(f"{text!r} never reached the zmproxyd log:\n{self.proxy_log()[-3000:]}")
            time.sleep(0.02)

    def login_imap(self, user="user1@example.com"):
        m = self.imap()
        m.login(user, PASSWORDS[user])
        typ, data = m.select("INBOX", readonly=True)
        m.logout()
        return int(data[0])

    def test_confgen_lists_every_mail_port_of_every_server(self):
        for d in self.dovecots.values():
            self.assertIn(f"{d.address}:{d.imap_port}", self.mailbox_servers)
            self.assertIn(f"{d.address}:{d.pop3_port}", self.mailbox_servers)
        self.assertNotIn(f"127.0.0.9:{self.thief.port}", self.mailbox_servers)

    def test_poisoned_imap_route_to_an_unknown_host_is_ignored(self):
        key = "route:proto=imap;user=user1@example.com"
        self.assertTrue(self.mc.set(key, f"127.0.0.9:{self.thief.port}", ttl=3600))
        self.assertEqual(self.login_imap(), 1)  # user1's one message: the right Dovecot
        self.assertEqual(self.thief.connections, 0, "the login went to the poisoned address")
        self.wait_for_log(f"memcached route {key} ignored")
        self.assertEqual(self.proxy_log().count(f"memcached route {key} ignored"), 1)
        # The handler's answer replaced the poisoned entry.
        a = self.dovecots["a"]
        self.assertEqual(self.mc.get(key), f"{a.address}:{a.imap_port}".encode())

    def test_poisoned_pop3_route_to_a_known_host_on_another_port_is_ignored(self):
        other_port = Listener("127.0.0.2")  # the right host, a port no server entry names
        self.addCleanup(other_port.close)
        key = "route:proto=pop3;user=user1@example.com"
        self.assertTrue(self.mc.set(key, f"127.0.0.2:{other_port.port}", ttl=3600))
        p = poplib.POP3("127.0.0.1", self.ports["pop3"], timeout=30)
        p.user("user1@example.com")
        p.pass_(PASSWORDS["user1@example.com"])
        self.assertEqual(p.stat()[0], 1)
        p.quit()
        self.assertEqual(other_port.connections, 0)
        self.wait_for_log(f"memcached route {key} ignored")

    def test_forged_or_copied_hmac_is_ignored(self):
        key = "route:proto=imap;user=user1@example.com"
        value = f"127.0.0.9:{self.thief.port}"
        self.assertTrue(self.mc.set(key, seal(key, value, secret="not-the-secret"), ttl=3600))
        self.assertEqual(self.login_imap(), 1)
        # A correct seal for another user's key, copied over, does not verify either.
        self.mc.flush_all()
        self.assertTrue(self.mc.set(key, seal("route:proto=imap;user=user2@example.com", value),
                                    ttl=3600))
        self.assertEqual(self.login_imap(), 1)
        self.assertEqual(self.thief.connections, 0)
        self.wait_for_log("its HMAC does not verify")

    def test_route_sealed_with_the_secret_is_believed(self):
        # The positive control: the same address, sealed with the route secret
        # (as zmproxyd seals an external route), is used: the test can fail.
        key = "route:proto=imap;user=user1@example.com"
        self.assertTrue(self.mc.set(key, seal(key, f"127.0.0.9:{self.thief.port}"), ttl=3600))
        m = self.imap()
        self.addCleanup(m.shutdown)
        with self.assertRaises(imaplib.IMAP4.error):
            m.login("user1@example.com", PASSWORDS["user1@example.com"])
        self.assertEqual(self.thief.connections, 1)

    def test_zimbra_plain_value_naming_a_known_server_is_used(self):
        # What a Zimbra proxy sharing the memcached writes: host:port, no HMAC.
        a = self.dovecots["a"]
        key = "route:proto=imap;user=user1@example.com"
        self.assertTrue(self.mc.set(key, f"{a.address}:{a.imap_port}", ttl=3600))
        before = lookupd_requests(self.home)
        self.assertEqual(self.login_imap(), 1)
        self.assertEqual(lookupd_requests(self.home), before, "zmlookupd was asked: the value was not used")
        self.assertNotIn("ignored", self.proxy_log())


class NoServerListTest(MailProxyBase):
    """A hand-written configuration without mailbox_servers nor secret: memcached
    routes are never believed (and zmproxyd says so once at start)."""

    def test_every_memcached_route_is_ignored(self):
        thief = Listener("127.0.0.9")
        self.addCleanup(thief.close)
        key = "route:proto=imap;user=user2@example.com"
        self.assertTrue(self.mc.set(key, f"127.0.0.9:{thief.port}", ttl=3600))
        m = self.imap()
        m.login("user2@example.com", PASSWORDS["user2@example.com"])
        self.assertEqual(self.count(m), 2)
        m.logout()
        self.assertEqual(thief.connections, 0)
        with open(os.path.join(self.home, "log", "zmproxyd.log")) as f:
            self.assertIn("route.mailbox_servers is empty and route.secret is unset", f.read())


class ResolverBoundsTest(HomeTestCase):
    """The in-process cache and the memcached fills stay bounded whatever the
    clients send (item 7), through the real RouteResolver (resolver_probe)
    against zmlookupd and memcached."""

    def setUp(self):
        super().setUp()
        from memcached import Memcached
        provision(self)
        self.mc = Memcached()
        self.mc.start()
        self.addCleanup(self.mc.stop)
        self.lookupd = Daemon(BIN_DIR, "zmlookupd", self.home, ["--listen", "127.0.0.1:0"]).start()
        self.addCleanup(self.lookupd.stop)

    def probe(self, *options):
        args = [tool("resolver_probe"), "--handler", self.lookupd.address, "--memcached", self.mc.server]
        for host, ports in PORTS.items():
            for port in ports.values():
                args += ["--mailbox-server", f"{host}:{port}"]
        p = subprocess.Popen(args + list(options), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
        self.addCleanup(p.stdout.close)
        self.addCleanup(p.wait, 30)
        self.addCleanup(p.stdin.close)

        def ask(line):
            p.stdin.write(line + "\n")
            p.stdin.flush()
            return json.loads(p.stdout.readline())
        return ask

    def test_case_variants_share_one_entry_and_the_bound_holds(self):
        ask = self.probe("--local-ttl", "60", "--local-capacity", "2")
        for login in ("user1@example.com", "USER1@Example.COM", "User1@EXAMPLE.com"):
            self.assertTrue(ask(f"resolve imap {login}")["ok"])
        self.assertEqual(ask("stats")["local_entries"], 1)
        for login in ("user2@example.com", "bob@other.test", "first@example.com"):
            ask(f"resolve imap {login}")
        self.assertEqual(ask("stats")["local_entries"], 2)

    def test_fills_beyond_the_queue_bound_are_dropped(self):
        ask = self.probe("--local-ttl", "0", "--max-pending-fills", "0")
        self.assertTrue(ask("resolve imap user1@example.com")["ok"])
        self.assertEqual(ask("stats")["fills_dropped"], 1)
        self.assertIsNone(self.mc.get("route:proto=imap;user=user1@example.com"))
        # The control: with room in the queue the same lookup is written.
        ask = self.probe("--local-ttl", "0")
        ask("resolve imap user1@example.com")
        self.assertEqual(ask("stats")["fills_dropped"], 0)
        self.assertEqual(self.mc.get("route:proto=imap;user=user1@example.com"), b"127.0.0.2:7143")


class SettingsTest(HomeTestCase):
    """A bad route.mailbox_servers or local_cache_size is refused at load,
    with one line naming the key."""

    def check(self, route_lines):
        path = os.path.join(self.home, "bad.conf")
        with open(path, "w") as f:
            f.write("[route]\n" + route_lines + "\n")
        return self.run_tool("zmproxyd", "--home", self.home, "-c", path, "--check")

    def test_refused_with_one_line(self):
        for lines, expected in (('mailbox_servers = ["mbox1.example.com"]',
                                 "route.mailbox_servers: 'mbox1.example.com' is not host:port"),
                                ('mailbox_servers = ["::1:7143"]', "'::1:7143' is not host:port"),
                                ("local_cache_size = 1000001", "route.local_cache_size: expected a whole number")):
            with self.subTest(lines=lines):
                r = self.check(lines)
                self.assertNotEqual(r.returncode, 0)
                self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
                self.assertIn(expected, r.stderr)


if __name__ == "__main__":
    unittest.main()
