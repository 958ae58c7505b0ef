"""What the proxy connects to is verified (issue 13, item 4): with upstream TLS,
a mailbox server's certificate must come from the configured CA and carry the
name or address the route gave, or the proxy sends it nothing: no password.

The attack: whoever answers at a mailbox server's address (a host that took
its IP, a spoofed route) with any certificate would otherwise receive every
password the proxy relays. Real Dovecots with ssl=True, real zmlookupd and
zmproxyd on loopback; the CA is a throw-away one (tests/support/test_ca.py).
"""
import adversarial_testing  # noqa: F401  (puts tests/integration and tests/support on the path)

import os
import signal
import re
import shutil
import socket
import tempfile
import time
import unittest

from zmproxy_testing import BIN_DIR, HomeTestCase
from process import read_text
from zmproxy_procs import Daemon

# One user per mailbox server; the passwords must never reach a log.
USERS = {
    "selfsigned": ("ss@example.com", "Ss-pw-never-sent-1"),
    "trusted": ("ok@example.com", "Ok-pw-trusted-2"),
    "wrongname": ("wn@example.com", "Wn-pw-never-sent-3"),
    "byname": ("bn@example.com", "Bn-pw-by-name-4"),
}
ADDRESSES = {"selfsigned": "127.0.0.2", "trusted": "127.0.0.3", "wrongname": "127.0.0.4",
             "byname": "127.0.0.1"}
# The name the route carries for each server (its zimbraMailHost and cn).
ROUTE_HOST = {"selfsigned": "127.0.0.2", "trusted": "127.0.0.3", "wrongname": "127.0.0.4",
              "byname": "localhost"}


class UpstreamCertificateTest(HomeTestCase):
    """Four IMAPS/POP3S mailbox servers: self-signed; issued by the trusted CA
    for its address; issued by the trusted CA for other names; issued by the
    trusted CA for the name "localhost" (routed by name)."""

    @classmethod
    def setUpClass(cls):
        from dovecot import Dovecot
        from test_ca import TestCa
        cls.ca_dir = tempfile.mkdtemp(prefix="zmproxy-ca-")
        cls.ca = TestCa(cls.ca_dir)
        names = {"selfsigned": None, "trusted": ["127.0.0.3"],
                 "wrongname": ["127.0.0.99", "elsewhere.zmproxy.test"], "byname": ["localhost"]}
        cls.dovecots = {}
        try:
            for key, address in ADDRESSES.items():
                user, password = USERS[key]
                cls.dovecots[key] = Dovecot(
                    key, {user: password}, address=address, ssl=True,
                    tls_ca=None if names[key] is None else cls.ca, tls_names=names[key]).start()
        except BaseException:
            cls.tearDownClass()
            raise
        cls.dovecots["trusted"].deliver(USERS["trusted"][0], "hello", "one message")

    @classmethod
    def tearDownClass(cls):
        for d in cls.dovecots.values():
            d.stop()
        shutil.rmtree(cls.ca_dir, ignore_errors=True)

    def setUp(self):
        super().setUp()
        lines = ["cd example.com", "mcf zimbraDefaultDomainName example.com",
                 # Routes carry the server's name as provisioned, not an address
                 # the handler resolved it to: "localhost" stays a name.
                 "mcf zimbraReverseProxyDnsLookupInServerEnabled FALSE"]
        for key, d in self.dovecots.items():
            lines.append(f"cs {ROUTE_HOST[key]} zimbraImapSSLBindPort {d.imaps_port} "
                         f"zimbraPop3SSLBindPort {d.pop3s_port}")
            lines.append(f"ca {USERS[key][0]} x zimbraMailHost {ROUTE_HOST[key]}")
        r = self.run_tool("zmprov", input="\n".join(lines) + "\n")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.lookupd = Daemon(BIN_DIR, "zmlookupd", self.home, ["--listen", "127.0.0.1:0"]).start()
        self.addCleanup(self.lookupd.stop)
        self.marks = {key: len(d.log()) for key, d in self.dovecots.items()}

    def start_proxy(self, allow_untrusted=False):
        conf = f"""
[server]
name = "proxy.example.com"
bind_address = "127.0.0.1"
workers = 1
log_file = "log/zmproxyd.log"

[route]
handlers = ["{self.lookupd.address}"]
memcached = []

[imap]
port = 0
ssl_enabled = false
starttls = "off"

[pop3]
port = 0
ssl_enabled = false
starttls = "off"

[upstream]
ssl = true
auth_wait = "0s"
connect_timeout = "5s"
ca_file = "{self.ca.path}"
allow_untrusted_certs = {"true" if allow_untrusted else "false"}
"""
        os.makedirs(os.path.join(self.home, "conf"), exist_ok=True)
        with open(os.path.join(self.home, "conf", "zmproxy.conf"), "w") as f:
            f.write(conf)
        self.proxy = Daemon(BIN_DIR, "zmproxyd", self.home).start()
        self.addCleanup(self.proxy.stop)
        self.ports = self.proxy.listener_ports()

    def proxy_log(self):
        return read_text(os.path.join(self.home, "log", "zmproxyd.log"))

    def imap_login(self, key):
        user, password = USERS[key]
        with socket.create_connection(("127.0.0.1", self.ports["imap"]), timeout=30) as s:
            f = s.makefile("rb")
            self.assertTrue(f.readline().startswith(b"* OK"))
            s.sendall(f"a LOGIN {user} {password}\r\n".encode())
            while True:
                line = f.readline()
                if not line or line.startswith(b"a "):
                    break
            if line.startswith(b"a OK"):
                s.sendall(b"b SELECT INBOX\r\n")
                selected = b""
                while not selected.startswith(b"b "):
                    selected = f.readline()
                    if not selected:
                        break
                    if selected.startswith(b"* ") and selected.rstrip().endswith(b"EXISTS"):
                        self.exists = int(selected.split()[1])
            return line

    def pop3_login(self, key):
        user, password = USERS[key]
        with socket.create_connection(("127.0.0.1", self.ports["pop3"]), timeout=30) as s:
            f = s.makefile("rb")
            self.assertTrue(f.readline().startswith(b"+OK"))
            s.sendall(f"USER {user}\r\n".encode())
            self.assertTrue(f.readline().startswith(b"+OK"))
            s.sendall(f"PASS {password}\r\n".encode())
            return f.readline()

    def wait_for_proxy_log(self, pattern, timeout=10.0):
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while not rx.search(self.proxy_log()):
            if time.monotonic() >= deadline:
                self.fail(f"{pattern!r} not in the proxy log:\n{self.proxy_log()[-3000:]}")
            time.sleep(0.02)  # poll interval

    def assert_refused_before_login(self, key, why, imap=True):
        """The refused server saw a TLS connection that never got as far as a
        login (Dovecot logs "no auth attempts", or "disconnected before auth
        was ready" when the proxy's close beat its auth process); the proxy
        logged one line naming the server and both fixes."""
        d = self.dovecots[key]
        user, password = USERS[key]
        d.wait_for_log(r"Disconnected.*(no auth attempts|before auth was ready)", timeout=10,
                       start=self.marks[key])
        seen = d.log()[self.marks[key]:]
        self.assertNotIn(user, seen, "the login reached the unverified server")
        self.assertNotRegex(seen, r"Login:|auth failed|passwd-file", "an auth attempt reached it")
        upstream = f"the mailbox server {ROUTE_HOST[key]}:{d.imaps_port if imap else d.pop3s_port}"
        self.wait_for_proxy_log(re.escape(upstream))
        lines = [l for l in self.proxy_log().splitlines() if upstream + " " in l]
        self.assertTrue(lines, self.proxy_log())
        for line in lines:
            self.assertIn(f"for {user}: {upstream} has a TLS certificate the proxy does not trust", line)
            self.assertIn(why, line)
            self.assertIn(f"add the CA that issued it to {self.ca.path} (zmproxy_upstream_ca_file)", line)
            self.assertIn("zmlocalconfig -e ssl_allow_untrusted_certs=true", line)
            self.assertRegex(line, r"\bwarn")
        self.assertNotIn(password, self.proxy_log())
        return lines

    def test_self_signed_upstream_is_refused_and_no_password_is_sent(self):
        self.start_proxy()
        reply = self.imap_login("selfsigned")
        self.assertTrue(reply.startswith(b"a NO [UNAVAILABLE]"), reply)
        lines = self.assert_refused_before_login("selfsigned", "self-signed certificate")
        self.assertEqual(len(lines), 1, "one warning line per refused connection")
        self.assertNotIn("cannot connect to", self.proxy_log(), "not retried as a moved mailbox")
        # POP3 the same way.
        self.marks["selfsigned"] = len(self.dovecots["selfsigned"].log())
        reply = self.pop3_login("selfsigned")
        self.assertTrue(reply.startswith(b"-ERR [SYS/TEMP]"), reply)
        self.assert_refused_before_login("selfsigned", "self-signed certificate", imap=False)

    def test_certificate_from_the_configured_ca_is_accepted(self):
        self.start_proxy()
        self.exists = None
        reply = self.imap_login("trusted")
        self.assertTrue(reply.startswith(b"a OK"), reply)
        self.assertEqual(self.exists, 1, "the session reached the trusted mailbox")
        self.assertTrue(self.pop3_login("trusted").startswith(b"+OK"))
        self.assertNotIn("certificate the proxy does not trust", self.proxy_log())

    def test_route_by_name_checks_the_name(self):
        self.start_proxy()
        reply = self.imap_login("byname")
        self.assertTrue(reply.startswith(b"a OK"), reply)
        self.assertNotIn("certificate the proxy does not trust", self.proxy_log())

    def test_certificate_for_another_name_is_refused(self):
        self.start_proxy()
        reply = self.imap_login("wrongname")
        self.assertTrue(reply.startswith(b"a NO [UNAVAILABLE]"), reply)
        self.assert_refused_before_login("wrongname", "IP address mismatch")

    def test_explicit_opt_out_accepts_any_certificate(self):
        self.start_proxy(allow_untrusted=True)
        for key in ("selfsigned", "wrongname"):
            with self.subTest(server=key):
                self.assertTrue(self.imap_login(key).startswith(b"a OK"))
                self.dovecots[key].wait_for_log(
                    rf"Login: user=<{re.escape(USERS[key][0])}>", timeout=10, start=self.marks[key])
        self.assertNotIn("certificate the proxy does not trust", self.proxy_log())
        # The opt-out is said out loud at start.
        self.wait_for_proxy_log(r"allow_untrusted_certs is on")

    def test_a_bad_ca_file_is_refused_at_start_naming_the_setting(self):
        conf_ca = os.path.join(self.home, "conf", "not-a-ca.pem")
        os.makedirs(os.path.dirname(conf_ca), exist_ok=True)
        with open(conf_ca, "w") as f:
            f.write("not a certificate\n")
        self.ca_saved, self.ca.path = self.ca.path, conf_ca
        try:
            with self.assertRaises(RuntimeError) as cm:
                self.start_proxy()
        finally:
            self.ca.path = self.ca_saved
        self.assertIn("upstream.ca_file: cannot load the CA bundle " + conf_ca,
                      str(cm.exception) + self.proxy_log())
        # zmproxyd -t (what zmproxyctl and zmconfigd check before a reload) says it too.
        self.ca.path = conf_ca
        try:
            r = self.run_tool("zmproxyd", "-t", "--home", self.home)
        finally:
            self.ca.path = self.ca_saved
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("upstream.ca_file: cannot load the CA bundle " + conf_ca, r.stderr)
        self.assertIn("zmproxy_upstream_ca_file", r.stderr)

    def test_localconfig_keys_reach_the_configuration(self):
        # Verification is on by default; the CA file and the opt-out come
        # from localconfig through the template. (genconf checks the listeners'
        # certificate too: give it one.)
        conf = os.path.join(self.home, "conf")
        os.makedirs(conf, exist_ok=True)
        cert, key = self.ca.issue("proxy", ["127.0.0.1"], directory=os.path.join(self.home, "tls"))
        shutil.copyfile(cert, os.path.join(conf, "zmproxy.crt"))
        shutil.copyfile(key, os.path.join(conf, "zmproxy.key"))
        r = self.run_tool("zmproxyctl", "genconf", "-n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('ca_file = ""\nallow_untrusted_certs = false\n', r.stdout)
        r = self.run_tool("zmlocalconfig", "-e", f"zmproxy_upstream_ca_file={self.ca.path}",
                          "ssl_allow_untrusted_certs=true")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.run_tool("zmproxyctl", "genconf", "-n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f'ca_file = "{self.ca.path}"\nallow_untrusted_certs = true\n', r.stdout)

    def tearDown(self):
        text = self.proxy_log() + "".join(d.log() for d in self.dovecots.values())
        for key, (user, password) in USERS.items():
            self.assertNotIn(password, text, "a password reached a log")
        super().tearDown()


class WebUpstreamCertificateTest(HomeTestCase):
    """The web proxy's HTTPS upstreams (upstream.ssl) are verified the same
    way: a mailbox web server with a certificate from another CA gets no
    request (the client gets 502), one from the configured CA serves it."""

    @classmethod
    def setUpClass(cls):
        from test_ca import TestCa
        from zmproxy_procs import WebBackend
        cls.ca_dir = tempfile.mkdtemp(prefix="zmproxy-ca-")
        cls.ca = TestCa(cls.ca_dir)
        rogue = TestCa(os.path.join(cls.ca_dir, "rogue"), cn="someone else's CA")
        # A reload reads the CA bundle as the service user.
        os.chmod(cls.ca_dir, 0o755)
        os.chmod(cls.ca.path, 0o644)
        cls.backends = {
            "trusted": WebBackend("trusted", "127.0.0.3", tls=cls.ca.issue("web-trusted", ["127.0.0.3"])),
            "rogue": WebBackend("rogue", "127.0.0.2", tls=rogue.issue("web-rogue", ["127.0.0.2"])),
        }
        try:
            for b in cls.backends.values():
                b.start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for b in cls.backends.values():
            b.stop()
        shutil.rmtree(cls.ca_dir, ignore_errors=True)

    def start_proxy(self, backend, allow_untrusted=False):
        os.makedirs(os.path.join(self.home, "conf"), exist_ok=True)
        with open(os.path.join(self.home, "conf", "zmproxy.conf"), "w") as f:
            f.write(f"""
[server]
bind_address = "127.0.0.1"
workers = 1
log_file = "log/zmproxyd.log"

[mail]
enabled = false

[upstream]
ssl = true
ca_file = "{self.ca.path}"
allow_untrusted_certs = {"true" if allow_untrusted else "false"}

[http]
enabled = true
mode = "http"
port = 0
strict_server_name = false
upstreams = ["{self.backends[backend].server}"]
""")
        self.proxy = Daemon(BIN_DIR, "zmproxyd", self.home).start()
        self.addCleanup(self.proxy.stop)
        self.port = self.proxy.listener_ports()["http"]

    def get(self):
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request("GET", "/whoami", headers={"Host": "mail.example.com"})
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def proxy_log(self):
        return read_text(os.path.join(self.home, "log", "zmproxyd.log"))

    def test_rogue_web_upstream_gets_no_request(self):
        self.start_proxy("rogue")
        status, _ = self.get()
        self.assertEqual(status, 502)
        upstream = f"the mailbox server {self.backends['rogue'].server} has a TLS certificate the proxy does not trust"
        deadline = time.monotonic() + 10
        while upstream not in self.proxy_log() and time.monotonic() < deadline:
            time.sleep(0.02)  # poll interval
        lines = [l for l in self.proxy_log().splitlines() if upstream in l]
        self.assertEqual(len(lines), 1, self.proxy_log())
        self.assertIn("zmproxy_upstream_ca_file", lines[0])
        self.assertIn("ssl_allow_untrusted_certs=true", lines[0])

    def test_trusted_web_upstream_serves(self):
        self.start_proxy("trusted")
        status, body = self.get()
        self.assertEqual(status, 200, body)
        self.assertIn(b'"trusted"', body)

    def test_a_kept_connection_does_not_outlive_the_opt_out(self):
        # Served with the opt-out, a connection to the rogue server is kept;
        # a reload that turns verification on must not reuse it.
        self.start_proxy("rogue", allow_untrusted=True)
        self.assertEqual(self.get()[0], 200)
        path = os.path.join(self.home, "conf", "zmproxy.conf")
        with open(path) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(text.replace("allow_untrusted_certs = true", "allow_untrusted_certs = false"))
        self.proxy.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while "reload (" not in self.proxy_log() and time.monotonic() < deadline:
            time.sleep(0.02)  # poll interval
        self.assertIn("generation 2", self.proxy_log())
        self.assertEqual(self.get()[0], 502, "a connection verified under the old settings was reused")

    def test_opt_out_reaches_the_rogue_one(self):
        self.start_proxy("rogue", allow_untrusted=True)
        status, body = self.get()
        self.assertEqual(status, 200, body)
        self.assertIn(b'"rogue"', body)


if __name__ == "__main__":
    unittest.main()
