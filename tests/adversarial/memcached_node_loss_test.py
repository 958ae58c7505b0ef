"""A memcached node that stops answering must not cost every login its
timeout.

The hole (found by the fault drill, tests/drill, `--faults memcached-hung`):
libmemcached ejects a server only when connecting to it fails. A node that
accepts connections and never answers (a hung host, a stopped process, a
full accept queue) was never ejected, so every call for a key on it (the
route's get and add, the throttle's counters) waited the whole memcached
timeout, for as long as it hung: logins took seconds each and some clients
gave up. Now a call that times out marks its server for the retry interval
(lib/route/memcached_hung.cpp) and calls for its keys are not sent
meanwhile: the lookup handlers answer instead.

The hung node here is a listener that reads and never answers, counting the
commands it was sent: a bounded number, whatever the number of logins.
"""
import adversarial_testing  # noqa: F401  (puts tests/integration and tests/support on the path)

import imaplib
import os
import sys
import threading
import unittest

from scripted_server import ScriptedServer
from zmproxy_procs import Daemon
from zmproxy_testing import BIN_DIR, HomeTestCase

USERS = {f"u{i}@example.com": f"pw-{i}" for i in range(30)}


class HungMemcached(ScriptedServer):
    """Accepts, reads every command, answers none; counts the commands."""

    def __init__(self, address="127.0.0.1"):
        super().__init__(address)
        self.commands = 0
        self._lock = threading.Lock()

    def converse(self, conn):
        buf = b""
        while True:
            chunk = conn.recv(4096)
            if not chunk:
                return
            buf += chunk
            while b"\r\n" in buf:
                line, buf = buf.split(b"\r\n", 1)
                verb = line.split(b" ", 1)[0]
                if verb in (b"get", b"gets", b"add", b"set", b"incr", b"decr", b"delete"):
                    with self._lock:
                        self.commands += 1


class HungNodeTest(HomeTestCase):
    @classmethod
    def setUpClass(cls):
        from dovecot import Dovecot
        from memcached import Memcached
        cls.dovecot = Dovecot("hung", USERS, address="127.0.0.2")
        cls.dovecot.start()
        cls.addClassCleanup(cls.dovecot.stop)
        cls.mc = Memcached().start()
        cls.addClassCleanup(cls.mc.stop)

    def setUp(self):
        super().setUp()
        self.hung = HungMemcached()
        self.hung.start()
        self.addCleanup(self.hung.close)
        lines = ["cd example.com",
                 f"cs 127.0.0.2 zimbraImapBindPort {self.dovecot.imap_port} "
                 f"zimbraPop3BindPort {self.dovecot.pop3_port}"]
        lines += [f"ca {u} {pw} zimbraMailHost 127.0.0.2" for u, pw in USERS.items()]
        r = self.run_tool("zmprov", input="\n".join(lines) + "\n")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.lookupd = Daemon(BIN_DIR, "zmlookupd", self.home, ["--listen", "127.0.0.1:0"]).start()
        self.addCleanup(self.lookupd.stop)
        from test_ca import proxy_certificate
        proxy_certificate(os.path.join(self.home, "conf"))
        with open(os.path.join(self.home, "conf", "zmproxy.conf"), "w") as f:
            f.write(f"""
[server]
name = "proxy.example.com"
bind_address = "127.0.0.1"
workers = 1
log_file = "log/zmproxyd.log"

[route]
handlers = ["{self.lookupd.address}"]
memcached = ["{self.mc.server}", "127.0.0.1:{self.hung.port}"]
memcached_timeout = "300ms"
handler_retry = "60s"
secret = "hung-node-test-secret"
mailbox_servers = ["127.0.0.2:{self.dovecot.imap_port}", "127.0.0.2:{self.dovecot.pop3_port}"]

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
""")
        self.proxy = Daemon(BIN_DIR, "zmproxyd", self.home).start()
        self.addCleanup(self.proxy.stop)
        self.port = self.proxy.listener_ports()["imap"]

    def test_a_node_that_never_answers_is_skipped_after_its_first_timeout(self):
        for user, password in USERS.items():
            with imaplib.IMAP4("127.0.0.1", self.port, timeout=30) as c:
                self.assertEqual(c.login(user, password)[0], "OK", user)
        # About half the users' keys hash to the hung node: two or more
        # commands each (the route's get and add) when every call is sent.
        # Skipped after a timeout, it sees one command per memcached client
        # of the proxy (the worker's reader, the route cache, the throttle)
        # before the mark, and none after.
        print(f"\nhung node: {self.hung.connections} connections, {self.hung.commands} commands", file=sys.stderr)
        self.assertGreater(self.hung.connections, 0, "no key hashed to the hung node")
        self.assertLessEqual(self.hung.commands, 6,
                             f"{self.hung.commands} commands were sent to a node that timed out "
                             f"(for {len(USERS)} logins)")


if __name__ == "__main__":
    unittest.main()
