"""What the hostile-neighbour tests share (hostile_upstream_test,
hostile_lookup_test, worker_limit_test): one real Dovecot as the healthy
mailbox, zmlookupd (or a stand-in), zmproxyd with short timeouts, and the
checks every case makes: the client's answer and how long it took, the log
lines naming the neighbour, a healthy session that keeps working."""
import adversarial_testing  # noqa: F401  (fixtures on the path)

import imaplib
import json
import os
import socket
import sys
import threading
import time

from process import poll_until
from scripted_server import ScriptedServer
from zmproxy_procs import Daemon, control
from zmproxy_testing import BIN_DIR, HomeTestCase

HEALTHY = "healthy@example.com"
HEALTHY_PW = "Healthy-secret-42"
HOSTILE_PW = "Hostile-secret-17"  # what logins routed to a hostile peer send


class HoldingServer(ScriptedServer):
    """A peer that says `first` (may be empty) and then reads until the
    proxy leaves, answering nothing: a mailbox or lookup handler that hangs."""

    def __init__(self, address, first=b""):
        super().__init__(address)
        self.first = first

    def converse(self, conn):
        if self.first:
            conn.sendall(self.first)
        while conn.recv(65536):
            pass


class HostileBase(HomeTestCase):
    """zmproxyd in front of one healthy Dovecot (127.0.0.2) and the hostile
    peers a test adds (hostile(): an account routed to a scripted server on
    an address of its own)."""

    connect_timeout = "3s"
    lookup_timeout = "3s"
    server_extra = ""
    route_extra = ""
    upstream_extra = ""
    memcached = None  # a Memcached fixture the route cache uses, when set

    @classmethod
    def setUpClass(cls):
        from dovecot import Dovecot
        cls.dovecot = Dovecot("healthy", {HEALTHY: HEALTHY_PW}, address="127.0.0.2")
        cls.dovecot.start()
        cls.addClassCleanup(cls.dovecot.stop)
        cls.dovecot.deliver(HEALTHY, "hello", "a healthy body")

    def setUp(self):
        super().setUp()
        self.store_lines = ["cd example.com", "mcf zimbraDefaultDomainName example.com",
                            f"cs 127.0.0.2 zimbraImapBindPort {self.dovecot.imap_port} "
                            f"zimbraPop3BindPort {self.dovecot.pop3_port}",
                            f"ca {HEALTHY} x zimbraMailHost 127.0.0.2"]
        self.add_hostiles()
        r = self.run_tool("zmprov", input="\n".join(self.store_lines) + "\n")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.handlers = self.lookup_handlers()
        from test_ca import proxy_certificate
        proxy_certificate(os.path.join(self.home, "conf"))
        with open(os.path.join(self.home, "conf", "zmproxy.conf"), "w") as f:
            f.write(self.conf())
        self.proxy = Daemon(BIN_DIR, "zmproxyd", self.home).start()
        self.addCleanup(self.proxy.stop)
        self.ports = self.proxy.listener_ports()

    def tearDown(self):
        said = self.log_text()
        try:
            with open(os.path.join(self.home, "log", "access.log"), errors="replace") as f:
                said += f.read()
        except FileNotFoundError:
            pass
        for password in (HEALTHY_PW, HOSTILE_PW):
            self.assertNotIn(password, said, "a password reached a log")
        super().tearDown()

    # ---- what a test class changes ----

    def add_hostiles(self):
        """Start the hostile peers; hostile() routes an account to each."""

    def lookup_handlers(self):
        """route.handlers: zmlookupd on this home by default."""
        lookupd = Daemon(BIN_DIR, "zmlookupd", self.home, ["--listen", "127.0.0.1:0"]).start()
        self.addCleanup(lookupd.stop)
        return [lookupd.address]

    def conf(self):
        memcached = f'memcached = ["{self.memcached.server}"]' if self.memcached else ""
        return f"""
[server]
name = "proxy.example.com"
bind_address = "127.0.0.1"
workers = 2
log_file = "log/zmproxyd.log"
access_log = "log/access.log"
{self.server_extra}

[route]
handlers = [{", ".join(f'"{h}"' for h in self.handlers)}]
lookup_timeout = "{self.lookup_timeout}"
{memcached}
{self.route_extra}

[imap]
port = 0
ssl_port = 0
starttls = "off"

[pop3]
port = 0
ssl_port = 0
starttls = "off"

[upstream]
ssl = false
auth_wait = "0s"
connect_timeout = "{self.connect_timeout}"
{self.upstream_extra}
"""

    def hostile(self, server, user, address, attribute="zimbraImapBindPort"):
        """Route `user` to `server` (started here, closed at cleanup), which
        listens on `address`."""
        server.start()
        self.addCleanup(server.close)
        self.store_lines += [f"cs {address} {attribute} {server.port}",
                             f"ca {user} x zimbraMailHost {address}"]
        return server

    # ---- clients ----

    def healthy_session(self):
        """A healthy IMAP session, logged in and selected, closed at cleanup."""
        c = imaplib.IMAP4("127.0.0.1", self.ports["imap"], timeout=30)
        self.addCleanup(_quietly, c.logout)
        try:
            c.login(HEALTHY, HEALTHY_PW)
        except imaplib.IMAP4.error as e:
            self.fail(f"the healthy login failed: {e}\n--- log ---\n{self.log_text()}")
        self.assertEqual(c.select("INBOX", readonly=True)[0], "OK")
        return c

    def assert_healthy(self, c, most=2.0):
        """The healthy session answers, each command within `most` seconds."""
        for command in (c.noop, lambda: c.fetch("1", "(BODY.PEEK[TEXT])")):
            start = time.monotonic()
            typ, data = command()
            took = time.monotonic() - start
            self.assertEqual(typ, "OK", data)
            self.assertLess(took, most, "the healthy session was held up")

    def assert_new_healthy_login(self):
        with imaplib.IMAP4("127.0.0.1", self.ports["imap"], timeout=30) as c:
            self.assertEqual(c.login(HEALTHY, HEALTHY_PW)[0], "OK")
            self.assertEqual(c.select("INBOX", readonly=True)[0], "OK")
            c.logout()

    def login_answer(self, user, password=HOSTILE_PW):
        """(seconds, the proxy's answer to `a LOGIN user password`: the
        tagged line, or b"" when the proxy closed without one, the client's
        "address:port" as the access log names it)."""
        s = socket.create_connection(("127.0.0.1", self.ports["imap"]), timeout=60)
        with s, s.makefile("rb") as f:
            client = "127.0.0.1:%d" % s.getsockname()[1]
            greeting = f.readline()
            self.assertTrue(greeting.startswith(b"* OK"), greeting)
            start = time.monotonic()
            s.sendall(f'a LOGIN "{user}" "{password}"\r\n'.encode())
            while True:
                line = f.readline()
                if not line or line.startswith(b"a "):
                    return time.monotonic() - start, line, client

    def while_healthy(self, action, healthy):
        """action() on a thread while the healthy session works; action's result."""
        out = {}
        t = threading.Thread(target=lambda: out.update(r=action()), daemon=True)
        t.start()
        while t.is_alive():
            self.assert_healthy(healthy)
            t.join(0.3)
        return out["r"]

    # ---- what zmproxyd said ----

    def log_text(self):
        try:
            with open(os.path.join(self.home, "log", "zmproxyd.log"), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def lines_naming(self, needle):
        return [line for line in self.log_text().splitlines() if needle in line]

    def wait_for_access_line(self, needle, timeout=10.0):
        """Until the access log has a line with `needle` (the session ended)."""
        path = os.path.join(self.home, "log", "access.log")

        def found():
            try:
                with open(path, errors="replace") as f:
                    return needle in f.read()
            except FileNotFoundError:
                return False
        poll_until(found, timeout, 0.05)

    def assert_one_line_naming(self, needle, session_marker):
        """Once the session with `session_marker` in the access log ended:
        exactly one line of zmproxyd's log names `needle`."""
        self.wait_for_access_line(session_marker)
        lines = self.lines_naming(needle)
        self.assertEqual(len(lines), 1, f"lines naming {needle}: {lines}\n--- log ---\n{self.log_text()}")
        print(f"\n  {lines[0]}", file=sys.stderr)
        return lines[0]

    def status(self):
        return json.loads(control(self.home, "STATUS", timeout=10))


def rss_kb(pid):
    """The resident set of `pid` in KiB (/proc/<pid>/status)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _quietly(f):
    try:
        f()
    except (OSError, imaplib.IMAP4.error):
        pass
