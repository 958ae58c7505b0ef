"""zmproxyd end to end: real Dovecot mailbox servers, memcached, zmlookupd,
and Python's imaplib/poplib as unmodified clients."""
import base64
import imaplib
import json
import os
import poplib
import re
import shutil
import socket
import sys
import tempfile
import time
import unittest

from zmproxy_testing import BIN_DIR, HomeTestCase

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "support"))
from process import unverified_tls as client_tls  # noqa: E402
from test_ca import proxy_certificate as make_cert  # noqa: E402
from zmproxy_procs import Daemon  # noqa: E402

PASSWORDS = {
    "user1@example.com": "Pw1-secret-alpha",
    "user2@example.com": "Pw2-secret-bravo",
    "mover@example.com": "Pw3-secret-charlie",
}


class MailProxyBase(HomeTestCase):
    """Two (or three) Dovecots, memcached, zmlookupd and zmproxyd on loopback."""

    starttls = "on"
    upstream_ssl = False
    extra_conf = ""
    imap_extra = ""

    @classmethod
    def setUpClass(cls):
        from dovecot import Dovecot
        from memcached import Memcached
        # With TLS upstream the mailbox certificates come from a test CA
        # (subjectAltName IP:127.0.0.x) that the proxy is told to trust.
        cls.upstream_ca = None
        if cls.upstream_ssl:
            from test_ca import TestCa
            cls.ca_dir = tempfile.mkdtemp(prefix="zmproxy-ca-")
            cls.upstream_ca = TestCa(cls.ca_dir)
        cls.dovecots = {}
        cls.dovecots["a"] = Dovecot("a", {"user1@example.com": PASSWORDS["user1@example.com"],
                                          "mover@example.com": PASSWORDS["mover@example.com"]},
                                    address="127.0.0.2", ssl=cls.upstream_ssl, tls_ca=cls.upstream_ca)
        cls.dovecots["b"] = Dovecot("b", {"user2@example.com": PASSWORDS["user2@example.com"]},
                                    address="127.0.0.3", ssl=cls.upstream_ssl, tls_ca=cls.upstream_ca)
        cls.dovecots["c"] = Dovecot("c", {"mover@example.com": PASSWORDS["mover@example.com"]},
                                    address="127.0.0.4", ssl=cls.upstream_ssl, tls_ca=cls.upstream_ca)
        for d in cls.dovecots.values():
            d.start()
        cls.dovecots["a"].deliver("user1@example.com", "one", "first")
        for i in range(2):
            cls.dovecots["b"].deliver("user2@example.com", f"m{i}", "body")
        for i in range(3):
            cls.dovecots["c"].deliver("mover@example.com", f"c{i}", "body")
        cls.mc = Memcached()
        cls.mc.start()

    @classmethod
    def tearDownClass(cls):
        cls.mc.stop()
        for d in cls.dovecots.values():
            d.stop()
        if cls.upstream_ca is not None:
            shutil.rmtree(cls.ca_dir, ignore_errors=True)

    def setUp(self):
        super().setUp()
        for d in self.dovecots.values():
            if d.pid is None:
                d.start()
        if not self.mc.running:
            self.mc.start()
        self.mc.flush_all()
        lines = ["cd example.com", "mcf zimbraDefaultDomainName example.com"]
        for key, d in self.dovecots.items():
            imap = d.imaps_port if self.upstream_ssl else d.imap_port
            pop3 = d.pop3s_port if self.upstream_ssl else d.pop3_port
            attr_i = "zimbraImapSSLBindPort" if self.upstream_ssl else "zimbraImapBindPort"
            attr_p = "zimbraPop3SSLBindPort" if self.upstream_ssl else "zimbraPop3BindPort"
            lines.append(f"cs {d.address} {attr_i} {imap} {attr_p} {pop3}")
        lines += [f"ca user1@example.com x zimbraMailHost 127.0.0.2",
                  f"ca user2@example.com x zimbraMailHost 127.0.0.3",
                  f"ca mover@example.com x zimbraMailHost 127.0.0.4"]
        r = self.run_tool("zmprov", input="\n".join(lines) + "\n")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.lookupd = Daemon(BIN_DIR, "zmlookupd", self.home, ["--listen", "127.0.0.1:0"]).start()
        self.addCleanup(self.lookupd.stop)
        make_cert(os.path.join(self.home, "conf"))
        self.write_conf()
        self.proxy = Daemon(BIN_DIR, "zmproxyd", self.home).start()
        self.addCleanup(self.proxy.stop)
        self.ports = self.proxy.listener_ports()

    def write_conf(self):
        conf = f"""
[server]
name = "proxy.example.com"
bind_address = "127.0.0.1"
workers = 2
log_file = "log/zmproxyd.log"
log_level = "debug"

[route]
handlers = ["{self.lookupd.address}"]
memcached = ["{self.mc.server}"]

[imap]
port = 0
ssl_port = 0
starttls = "{self.starttls}"
{self.imap_extra}

[pop3]
port = 0
ssl_port = 0
starttls = "{self.starttls}"

[upstream]
ssl = {"true" if self.upstream_ssl else "false"}
ca_file = "{self.upstream_ca.path if self.upstream_ca else ""}"
auth_wait = "0s"
connect_timeout = "5s"
{self.extra_conf}
"""
        with open(os.path.join(self.home, "conf", "zmproxy.conf"), "w") as f:
            f.write(conf)

    def imap(self):
        return imaplib.IMAP4("127.0.0.1", self.ports["imap"], timeout=30)

    def count(self, imap):
        typ, data = imap.select("INBOX", readonly=True)
        self.assertEqual(typ, "OK", data)
        return int(data[0])

    def raw(self, port, source="127.0.0.1"):
        s = socket.create_connection(("127.0.0.1", port), timeout=30, source_address=(source, 0))
        return s, s.makefile("rb")

    def all_logs(self):
        text = ""
        for root in [os.path.join(self.home, "log")]:
            for name in os.listdir(root):
                with open(os.path.join(root, name), errors="replace") as f:
                    text += f.read()
        for d in self.dovecots.values():
            text += d.log()
        return text

    def tearDown(self):
        logs = self.all_logs()
        for pw in PASSWORDS.values():
            self.assertNotIn(pw, logs, "a password reached a log")
        super().tearDown()


class ImapTest(MailProxyBase):
    def test_users_land_on_their_own_servers(self):
        for user, expected in (("user1@example.com", 1), ("user2@example.com", 2)):
            with self.subTest(user=user):
                m = self.imap()
                m.login(user, PASSWORDS[user])
                self.assertEqual(self.count(m), expected)
                m.logout()

    def test_bare_name_in_the_default_domain(self):
        m = self.imap()
        m.login("user2", PASSWORDS["user2@example.com"])
        self.assertEqual(self.count(m), 2)
        m.logout()

    def test_starttls_and_imaps(self):
        m = self.imap()
        self.assertIn("STARTTLS", m.capabilities)
        m.starttls(ssl_context=client_tls())
        m.login("user1@example.com", PASSWORDS["user1@example.com"])
        self.assertEqual(self.count(m), 1)
        m.logout()
        m = imaplib.IMAP4_SSL("127.0.0.1", self.ports["imaps"], ssl_context=client_tls(), timeout=30)
        m.login("user2@example.com", PASSWORDS["user2@example.com"])
        self.assertEqual(self.count(m), 2)
        m.logout()

    def test_authenticate_plain_with_sasl_ir_and_continuation(self):
        s, f = self.raw(self.ports["imap"])
        self.assertTrue(f.readline().startswith(b"* OK [CAPABILITY "))
        ir = base64.b64encode(b"\0user1@example.com\0" + PASSWORDS["user1@example.com"].encode())
        s.sendall(b"a1 AUTHENTICATE PLAIN " + ir + b"\r\n")
        line = f.readline()
        while line.startswith(b"*"):
            line = f.readline()
        self.assertTrue(line.startswith(b"a1 OK"), line)
        s.close()
        m = self.imap()
        m.authenticate("PLAIN", lambda _: b"\0user2@example.com\0" + PASSWORDS["user2@example.com"].encode())
        self.assertEqual(self.count(m), 2)
        m.logout()

    def test_login_with_literals(self):
        s, f = self.raw(self.ports["imap"])
        f.readline()
        user = b"user1@example.com"
        pw = PASSWORDS["user1@example.com"].encode()
        s.sendall(b"a1 LOGIN {%d}\r\n" % len(user))
        self.assertTrue(f.readline().startswith(b"+"))
        s.sendall(user + b" {%d+}\r\n" % len(pw) + pw + b"\r\n")  # and a LITERAL+ one
        line = f.readline()
        self.assertTrue(line.startswith(b"a1 OK"), line)
        s.sendall(b"a2 SELECT INBOX\r\n")
        data = b""
        while not data.startswith(b"a2 "):
            data = f.readline()
        self.assertTrue(data.startswith(b"a2 OK"), data)
        s.close()

    def test_client_address_reaches_dovecot(self):
        mark = len(self.dovecots["a"].log())
        s, f = self.raw(self.ports["imap"], source="127.0.0.9")
        f.readline()
        s.sendall(b'a0 ID ("name" "test-client" "version" "9")\r\n')
        while not f.readline().startswith(b"a0 "):
            pass
        s.sendall(b'a1 LOGIN "user1@example.com" "%s"\r\n' % PASSWORDS["user1@example.com"].encode())
        self.assertTrue(f.readline().startswith(b"a1 OK"))
        s.close()
        self.dovecots["a"].wait_for_log(r"imap-login: Info: Login: user=<user1@example.com>.*rip=127\.0\.0\.9",
                                        start=mark)

    def test_wrong_password_passes_the_mailbox_error(self):
        m = self.imap()
        with self.assertRaises(imaplib.IMAP4.error) as e:
            m.login("user1@example.com", "wrong")
        self.assertIn("AUTHENTICATIONFAILED", str(e.exception))
        m = self.imap()
        with self.assertRaises(imaplib.IMAP4.error) as e:
            m.login("nobody@example.com", "wrong")
        self.assertIn("AUTHENTICATIONFAILED", str(e.exception))

    def test_stopped_mailbox_is_unavailable_quickly(self):
        m = self.imap()
        m.login("user2@example.com", PASSWORDS["user2@example.com"])  # route now cached
        m.logout()
        self.dovecots["b"].stop(keep_data=True)
        started = time.monotonic()
        m = self.imap()
        with self.assertRaises(imaplib.IMAP4.error) as e:
            m.login("user2@example.com", PASSWORDS["user2@example.com"])
        self.assertIn("UNAVAILABLE", str(e.exception))
        self.assertLess(time.monotonic() - started, 2.0)

    def test_memcached_down_logins_keep_working(self):
        self.mc.stop()
        for _ in range(3):
            m = self.imap()
            m.login("user1@example.com", PASSWORDS["user1@example.com"])
            self.assertEqual(self.count(m), 1)
            m.logout()

    def test_moved_mailbox_followed_after_failed_connect(self):
        m = self.imap()
        m.login("mover@example.com", PASSWORDS["mover@example.com"])
        self.assertEqual(self.count(m), 3)  # on c
        m.logout()
        r = self.run_tool("zmprov", "ma", "mover@example.com", "zimbraMailHost", "127.0.0.2")
        self.assertEqual(r.returncode, 0)
        self.dovecots["c"].stop(keep_data=True)
        deadline = time.monotonic() + 5
        while True:  # zmlookupd sees the change by inotify; give it a moment
            m = self.imap()
            try:
                m.login("mover@example.com", PASSWORDS["mover@example.com"])
                break
            except imaplib.IMAP4.error:
                if time.monotonic() > deadline:
                    raise
        self.assertEqual(self.count(m), 0)  # now on a, where mover has no mail
        m.logout()

    def test_pre_login_commands_and_limits(self):
        s, f = self.raw(self.ports["imap"])
        f.readline()
        s.sendall(b"a1 CAPABILITY\r\na2 NOOP\r\na3 BOGUS\r\n")
        self.assertTrue(f.readline().startswith(b"* CAPABILITY IMAP4rev1"))
        self.assertEqual(f.readline(), b"a1 OK CAPABILITY completed\r\n")
        self.assertEqual(f.readline(), b"a2 OK NOOP completed\r\n")
        self.assertTrue(f.readline().startswith(b"a3 BAD"))
        s.sendall(b"a4 " + b"X" * 9000 + b"\r\n")
        self.assertTrue(f.readline().startswith(b"* BYE"))
        s.close()


class StartTlsOnlyTest(MailProxyBase):
    starttls = "only"

    def test_cleartext_login_refused_and_logindisabled(self):
        m = self.imap()
        self.assertIn("LOGINDISABLED", m.capabilities)
        self.assertNotIn("AUTH=PLAIN", m.capabilities)
        typ, data = m._simple_command("LOGIN", "user1@example.com", m._quote(PASSWORDS["user1@example.com"]))
        self.assertEqual(typ, "NO")
        self.assertIn(b"PRIVACYREQUIRED", data[0])
        m.starttls(ssl_context=client_tls())
        self.assertNotIn("LOGINDISABLED", m.capabilities)
        m.login("user1@example.com", PASSWORDS["user1@example.com"])
        self.assertEqual(self.count(m), 1)
        m.logout()

    def test_command_smuggled_with_starttls_is_not_executed(self):
        s, f = self.raw(self.ports["imap"])
        f.readline()
        s.sendall(b"a1 STARTTLS\r\na2 NOOP\r\n")
        self.assertEqual(f.readline(), b"a1 OK Begin TLS negotiation now\r\n")
        t = client_tls().wrap_socket(s)
        t.sendall(b"a3 NOOP\r\n")
        tf = t.makefile("rb")
        self.assertEqual(tf.readline(), b"a3 OK NOOP completed\r\n")  # not a2's answer
        t.close()

    def test_pop3_user_hidden_and_stls(self):
        p = poplib.POP3("127.0.0.1", self.ports["pop3"], timeout=30)
        caps = p.capa()
        self.assertIn("STLS", caps)
        self.assertNotIn("USER", caps)
        with self.assertRaises(poplib.error_proto):
            p.user("user1@example.com")
        p.stls(context=client_tls())
        p.user("user1@example.com")
        p.pass_(PASSWORDS["user1@example.com"])
        self.assertEqual(p.stat()[0], 1)
        p.quit()


class Pop3Test(MailProxyBase):
    def test_pop3_plain_stls_and_pop3s(self):
        p = poplib.POP3("127.0.0.1", self.ports["pop3"], timeout=30)
        p.user("user2@example.com")
        p.pass_(PASSWORDS["user2@example.com"])
        self.assertEqual(p.stat()[0], 2)
        p.quit()
        p = poplib.POP3("127.0.0.1", self.ports["pop3"], timeout=30)
        p.stls(context=client_tls())
        p.user("user1@example.com")
        p.pass_(PASSWORDS["user1@example.com"])
        self.assertEqual(p.stat()[0], 1)
        p.quit()
        p = poplib.POP3_SSL("127.0.0.1", self.ports["pop3s"], context=client_tls(), timeout=30)
        p.user("user2@example.com")
        p.pass_(PASSWORDS["user2@example.com"])
        self.assertEqual(p.stat()[0], 2)
        p.quit()

    def test_pop3_auth_plain_and_client_address(self):
        mark = len(self.dovecots["b"].log())
        s, f = self.raw(self.ports["pop3"], source="127.0.0.10")
        self.assertTrue(f.readline().startswith(b"+OK"))
        ir = base64.b64encode(b"\0user2@example.com\0" + PASSWORDS["user2@example.com"].encode())
        s.sendall(b"AUTH PLAIN " + ir + b"\r\n")
        self.assertTrue(f.readline().startswith(b"+OK"))
        s.sendall(b"STAT\r\n")
        self.assertTrue(f.readline().startswith(b"+OK 2 "))
        s.close()
        self.dovecots["b"].wait_for_log(r"pop3-login: Info: Login: user=<user2@example.com>.*rip=127\.0\.0\.10",
                                        start=mark)

    def test_pop3_wrong_password(self):
        p = poplib.POP3("127.0.0.1", self.ports["pop3"], timeout=30)
        p.user("user2@example.com")
        with self.assertRaises(poplib.error_proto):
            p.pass_("wrong")

    def test_status_counts_logins_per_listener(self):
        # The declared counters (lib/proxy/counters.hpp) reach zmproxyctl status.
        p = poplib.POP3("127.0.0.1", self.ports["pop3"], timeout=30)
        p.user("user2@example.com")
        p.pass_(PASSWORDS["user2@example.com"])
        p.quit()
        p = poplib.POP3("127.0.0.1", self.ports["pop3"], timeout=30)
        p.user("user2@example.com")
        with self.assertRaises(poplib.error_proto):
            p.pass_("wrong")
        p.close()
        r = self.run_tool("zmproxyctl", "status", "--json")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        conns = json.loads(r.stdout)["connections"]
        self.assertEqual((conns["pop3"]["logins"], conns["pop3"]["login_failures"]), (1, 1))
        self.assertEqual(conns["pop3"]["accepted"], 2)
        self.assertEqual((conns["imap"]["logins"], conns["pop3s"]["logins"]), (0, 0))
        text = self.run_tool("zmproxyctl", "status").stdout
        self.assertIn("logins (accepted/refused): imap 0/0 imaps 0/0 pop3 1/1 pop3s 0/0", text)


class UpstreamTlsTest(MailProxyBase):
    upstream_ssl = True

    def test_tls_to_the_mailbox(self):
        m = self.imap()
        m.login("user2@example.com", PASSWORDS["user2@example.com"])
        self.assertEqual(self.count(m), 2)
        m.logout()
        p = poplib.POP3("127.0.0.1", self.ports["pop3"], timeout=30)
        p.user("user1@example.com")
        p.pass_(PASSWORDS["user1@example.com"])
        self.assertEqual(p.stat()[0], 1)
        p.quit()


    def test_large_message_both_ways_over_tls_on_both_sides(self):
        # Bigger than any TLS record or socket buffer: partial writes and
        # want-read/want-write retries on both TLS legs.
        body = b"".join(b"%07d " % i + b"x" * 64 + b"\r\n" for i in range(40000))
        message = b"From: a@example.com\r\nSubject: big\r\n\r\n" + body
        m = imaplib.IMAP4_SSL("127.0.0.1", self.ports["imaps"], ssl_context=client_tls(), timeout=60)
        m.login("user1@example.com", PASSWORDS["user1@example.com"])
        self.assertEqual(m.create("big")[0], "OK")
        self.assertEqual(m.append("big", None, None, message)[0], "OK")
        m.select("big")
        typ, data = m.fetch("1", "(BODY.PEEK[])")
        self.assertEqual(typ, "OK")
        self.assertEqual(data[0][1], message)
        m.logout()


class IdleTimeoutTest(MailProxyBase):
    imap_extra = 'idle_timeout = "1s"\nauthenticated_idle_timeout = "1s"'

    def test_logged_in_session_idle_too_long_is_closed_and_logged(self):
        m = self.imap()
        m.login("user1@example.com", PASSWORDS["user1@example.com"])
        m.select("INBOX")
        started = time.monotonic()
        m.sock.settimeout(30)
        self.assertEqual(m.sock.recv(100), b"")  # the relay closes it
        self.assertLess(time.monotonic() - started, 10)
        path = os.path.join(self.home, "log", "access.log")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and " idle-timeout" not in open(path).read():
            time.sleep(0.02)  # polling a condition with a deadline
        line = [x for x in open(path).read().splitlines() if "idle-timeout" in x][-1]
        self.assertRegex(line, r" imap user1@example\.com 127\.0\.0\.2:\d+ in=\d+ out=\d+ ms=\d+ idle-timeout$")

    def test_idle_client_is_told_and_closed(self):
        s, f = self.raw(self.ports["imap"])
        f.readline()
        started = time.monotonic()
        line = f.readline()  # nothing sent: the proxy speaks first
        self.assertTrue(line.startswith(b"* BYE"), line)
        self.assertEqual(f.readline(), b"")  # then closes
        self.assertLess(time.monotonic() - started, 10)
        s.close()


class AccessLogTest(MailProxyBase):
    def test_one_line_per_session(self):
        m = self.imap()
        m.login("user1@example.com", PASSWORDS["user1@example.com"])
        m.logout()
        path = os.path.join(self.home, "log", "access.log")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if os.path.exists(path) and " ok" in open(path).read():
                break
            time.sleep(0.02)
        line = [x for x in open(path).read().splitlines() if " ok" in x][-1]
        self.assertRegex(line, r"127\.0\.0\.1:\d+ imap user1@example\.com 127\.0\.0\.2:\d+ in=\d+ out=\d+ ms=\d+ ok$")


if __name__ == "__main__":
    unittest.main()
