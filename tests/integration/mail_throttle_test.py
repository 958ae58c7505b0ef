"""Login throttling on the mail side, end to end: real Dovecot, memcached,
zmlookupd, and two zmproxyd sharing the memcached as a fleet does. Clients
come from their own loopback addresses (127.0.0.7, .8, ...)."""
import imaplib
import json
import os
import poplib
import re
import shutil
import socket
import tempfile
import unittest

from mail_proxy_test import PASSWORDS, MailProxyBase
from zmproxy_testing import BIN_DIR

import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "support"))
from process import poll_until  # noqa: E402
from zmproxy_procs import Daemon  # noqa: E402

USER1 = "user1@example.com"
USER2 = "user2@example.com"


class ThrottleBase(MailProxyBase):
    throttle = ""

    @property
    def extra_conf(self):
        return "[throttle]\n" + self.throttle

    def greeting(self, port, source):
        """The first line the proxy sends a client from `source`."""
        with socket.create_connection(("127.0.0.1", port), timeout=30, source_address=(source, 0)) as s:
            with s.makefile("rb") as f:
                return f.readline().decode()

    def imap_from(self, source):
        class SourcedImap(imaplib.IMAP4):
            def _create_socket(inner, timeout):
                return socket.create_connection((inner.host, inner.port), timeout,
                                                source_address=(source, 0))
        return SourcedImap("127.0.0.1", self.ports["imap"], timeout=30)

    def pop3_from(self, source):
        class SourcedPop3(poplib.POP3):
            def _create_socket(inner, timeout):
                return socket.create_connection((inner.host, inner.port), timeout,
                                                source_address=(source, 0))
        return SourcedPop3("127.0.0.1", self.ports["pop3"], timeout=30)

    def login_reply(self, source, user, password):
        """The reply lines to one LOGIN from `source` (the session then ends)."""
        with socket.create_connection(("127.0.0.1", self.ports["imap"]), timeout=30,
                                      source_address=(source, 0)) as s:
            f = s.makefile("rb")
            self.addCleanup(f.close)
            self.assertTrue(f.readline().startswith(b"* OK"))
            s.sendall(f'a1 LOGIN "{user}" "{password}"\r\n'.encode())
            lines = []
            while True:
                line = f.readline().decode()
                if not line:
                    break
                lines.append(line)
                if line.startswith("a1 "):
                    break
            if lines and lines[-1].startswith("a1 OK"):
                s.sendall(b"a2 LOGOUT\r\n")
            return lines

    def access_log(self, home=None):
        path = os.path.join(home or self.home, "log", "access.log")
        try:
            with open(path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_access(self, predicate, what):
        """The access log once `predicate` holds for it (it is flushed within a second)."""
        try:
            return poll_until(lambda: (lambda text: text if predicate(text) else None)(self.access_log()), 10)
        except TimeoutError:
            self.fail(what + ":\n" + self.access_log())

    def proxy_log(self):
        """zmproxyd's error log (server.log_file)."""
        with open(os.path.join(self.home, "log", "zmproxyd.log"), errors="replace") as f:
            return f.read()

    def counter(self, key):
        value = self.mc.get(key)
        return None if value is None else int(value)


class IpLimitTest(ThrottleBase):
    throttle = 'ip_limit = 5\nip_window = 60\nwhitelist = ["127.0.0.16/28", "::1"]\nip_message = "Slow down"\n'

    def second_proxy(self):
        """Another zmproxyd, in its own home, on the same memcached and lookup handler."""
        home = tempfile.mkdtemp(prefix="zmproxy-it2-")
        self.addCleanup(shutil.rmtree, home, True)
        os.makedirs(os.path.join(home, "conf"))
        for name in ("zmproxy.conf", "zmproxy.crt", "zmproxy.key"):
            shutil.copy(os.path.join(self.home, "conf", name), os.path.join(home, "conf", name))
        proxy = Daemon(BIN_DIR, "zmproxyd", home).start()
        self.addCleanup(proxy.stop)
        return proxy.listener_ports()

    def test_the_sixth_connection_in_the_window_is_refused_even_through_another_proxy(self):
        other = self.second_proxy()
        for _ in range(5):
            self.assertTrue(self.greeting(other["imap"], "127.0.0.7").startswith("* OK"))
        self.assertEqual(self.greeting(self.ports["imap"], "127.0.0.7"), "* BYE [UNAVAILABLE] Slow down\r\n")
        # Zimbra's key, byte for byte: a Zimbra proxy of the fleet counts into it too.
        self.assertEqual(self.counter("throttle:proto=i,ip=127.0.0.7"), 6)
        self.assertTrue(self.greeting(self.ports["imap"], "127.0.0.8").startswith("* OK"))
        # POP3 has its own counter.
        self.assertTrue(self.greeting(self.ports["pop3"], "127.0.0.7").startswith("+OK"))
        self.wait_access(lambda t: re.search(r"127\.0\.0\.7:\d+ imap .* throttled:ip-limit", t),
                         "the access log says why")
        self.assertIn("throttled: imap 1 imaps 0 pop3 0", self.run_tool("zmproxyctl", "status").stdout)
        status = json.loads(self.run_tool("zmproxyctl", "status", "--json").stdout)
        self.assertEqual(status["throttle"], {"active": True, "unchecked": 0})

    def test_a_whitelisted_block_is_never_counted(self):
        for _ in range(8):
            self.assertTrue(self.greeting(self.ports["imap"], "127.0.0.20").startswith("* OK"))
        self.assertIsNone(self.counter("throttle:proto=i,ip=127.0.0.20"))

    def test_pop3_is_refused_with_its_own_reply(self):
        for _ in range(5):
            self.assertTrue(self.greeting(self.ports["pop3"], "127.0.0.9").startswith("+OK"))
        self.assertEqual(self.greeting(self.ports["pop3"], "127.0.0.9"), "-ERR [SYS/TEMP] Slow down\r\n")
        self.assertEqual(self.counter("throttle:proto=p,ip=127.0.0.9"), 6)

    def test_memcached_down_lets_logins_through_and_says_so_once(self):
        self.mc.stop()
        for _ in range(7):
            m = self.imap_from("127.0.0.10")
            m.login(USER1, PASSWORDS[USER1])
            m.logout()
        log = self.proxy_log()
        self.assertEqual(log.count("login throttling is off"), 1, log)
        self.mc.start()

        def back_on():
            self.greeting(self.ports["imap"], "127.0.0.10")
            return "login throttling is on" in self.proxy_log()
        # The proxy tries a dead memcached again after 5 s.
        poll_until(back_on, 20, 0.2)
        self.assertIn("login throttling is on", self.proxy_log())
        self.assertEqual(self.proxy_log().count("login throttling is off"), 1)


class UserLimitTest(ThrottleBase):
    throttle = 'user_limit = 2\nuser_window = 60\nuser_message = "Too many logins"\n'

    def test_the_third_login_of_a_user_is_refused_and_others_log_in(self):
        for _ in range(2):
            self.assertTrue(self.login_reply("127.0.0.7", USER1, PASSWORDS[USER1])[-1].startswith("a1 OK"))
        self.assertEqual(self.login_reply("127.0.0.8", USER1, PASSWORDS[USER1]),
                         ["* BYE Too many logins\r\n", "a1 NO [LIMIT] Too many logins\r\n"])
        self.assertTrue(self.login_reply("127.0.0.7", USER2, PASSWORDS[USER2])[-1].startswith("a1 OK"))
        # The limit is for all mail protocols together.
        p = poplib.POP3("127.0.0.1", self.ports["pop3"], timeout=30)
        self.addCleanup(p.close)
        p.user(USER1)
        with self.assertRaises(poplib.error_proto) as refused:
            p.pass_(PASSWORDS[USER1])
        self.assertEqual(refused.exception.args[0], b"-ERR [LOGIN-DELAY] Too many logins")
        self.assertEqual(self.counter("throttle:user=user1@example.com"), 3)

    def test_wrong_passwords_never_count_against_the_user(self):
        for _ in range(4):
            self.assertTrue(self.login_reply("127.0.0.7", USER1, "wrong")[-1].startswith("a1 NO"))
        self.assertIsNone(self.counter("throttle:user=user1@example.com"))
        self.assertTrue(self.login_reply("127.0.0.7", USER1, PASSWORDS[USER1])[-1].startswith("a1 OK"))


class FailedLoginTest(ThrottleBase):
    throttle = 'failed_free = 2\nfailed_delay = "100ms"\nfailed_max_delay = "400ms"\n'

    def tarpits(self, source):
        """The tarpit waits the access log shows for USER1's logins from `source`, in order."""
        lines = [ln for ln in self.access_log().splitlines() if f" {source}:" in ln and USER1 in ln]
        return [int(m.group(1)) if (m := re.search(r" tarpit=(\d+)ms$", ln)) else 0 for ln in lines]

    def test_wrong_passwords_slow_the_pair_and_nobody_else(self):
        key = "zmproxy:authfail:user=user1@example.com,ip=127.0.0.7"
        for _ in range(10):
            self.assertTrue(self.login_reply("127.0.0.7", USER1, "wrong")[-1].startswith("a1 NO"))
        self.assertEqual(self.counter(key), 10)
        self.wait_access(lambda t: len(self.tarpits("127.0.0.7")) == 10, "ten logins logged")
        # Before each attempt: free, free, free, then doubling from 100 ms up to the bound.
        self.assertEqual(self.tarpits("127.0.0.7"), [0, 0, 0, 100, 200, 400, 400, 400, 400, 400])
        # The user from another address, and another user, wait for nothing.
        self.assertTrue(self.login_reply("127.0.0.8", USER1, PASSWORDS[USER1])[-1].startswith("a1 OK"))
        self.assertTrue(self.login_reply("127.0.0.7", USER2, PASSWORDS[USER2])[-1].startswith("a1 OK"))
        self.wait_access(lambda t: len(self.tarpits("127.0.0.8")) == 1, "the other address logged")
        self.assertEqual(self.tarpits("127.0.0.8"), [0])
        # The owner gets in (after the wait) and the pair is forgiven.
        self.assertTrue(self.login_reply("127.0.0.7", USER1, PASSWORDS[USER1])[-1].startswith("a1 OK"))
        self.assertIsNone(self.counter(key))


class FailedLoginLockTest(ThrottleBase):
    throttle = 'failed_free = 10\nfailed_lock = 3\nfailed_window = 60\n'

    def test_a_success_below_the_lock_forgives_the_pair(self):
        key = "zmproxy:authfail:user=user1@example.com,ip=127.0.0.7"
        for _ in range(2):
            self.assertTrue(self.login_reply("127.0.0.7", USER1, "wrong")[-1].startswith("a1 NO [AUTH"))
        self.assertEqual(self.counter(key), 2)
        self.assertTrue(self.login_reply("127.0.0.7", USER1, PASSWORDS[USER1])[-1].startswith("a1 OK"))
        self.assertIsNone(self.counter(key))

    def test_past_the_lock_the_pair_is_refused_without_asking_the_mailbox(self):
        for _ in range(3):
            self.assertTrue(self.login_reply("127.0.0.7", USER1, "wrong")[-1].startswith("a1 NO [AUTH"))
        refused = self.login_reply("127.0.0.7", USER1, PASSWORDS[USER1])
        self.assertEqual(refused, ["* BYE Too many failed logins; try again later\r\n",
                                   "a1 NO [LIMIT] Too many failed logins; try again later\r\n"])
        self.wait_access(lambda t: "throttled:failed-logins" in t, "the access log says why")
        self.assertTrue(self.login_reply("127.0.0.8", USER1, PASSWORDS[USER1])[-1].startswith("a1 OK"))
        p = self.pop3_from("127.0.0.7")
        self.addCleanup(p.close)
        p.user(USER1)
        with self.assertRaises(poplib.error_proto) as locked:
            p.pass_(PASSWORDS[USER1])
        self.assertEqual(locked.exception.args[0], b"-ERR [LOGIN-DELAY] Too many failed logins; try again later")


if __name__ == "__main__":
    unittest.main()
