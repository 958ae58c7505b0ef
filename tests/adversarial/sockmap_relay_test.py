"""The kernel relay (issue 18): with server.kernel_relay on, a plaintext
IMAP or POP3 session is relayed by a BPF sockhash after login. Real
Dovecots, memcached, zmlookupd and zmproxyd (the fixtures of
tests/integration/mail_proxy_test.py); STATUS's kernel_relay.relayed proves
the kernel took the session. Each test names what could go wrong there:
bytes lost or reordered at the hand-off or in bulk, a close on one side
never reaching the other (the kernel does not forward FIN), an idle session
never closed (no user-space read ever sees its traffic), and a kernel that
cannot do it taking sessions down with it instead of falling back."""
import adversarial_testing  # noqa: F401  (the integration fixtures on sys.path)

import hashlib
import imaplib
import json
import os
import poplib
import re
import socket
import time
import unittest

from mail_proxy_test import PASSWORDS, MailProxyBase
from process import unverified_tls as client_tls
from zmproxy_procs import control, kernel_relay_on

USER = "user1@example.com"


def big_message(lines):
    body = b"".join(b"%07d " % i + b"y" * 70 + b"\r\n" for i in range(lines))
    return b"From: a@example.com\r\nSubject: big\r\n\r\n" + body


class KernelRelayBase(MailProxyBase):
    kernel_relay = True
    env = {}

    def write_conf(self):
        super().write_conf()
        if self.kernel_relay:
            kernel_relay_on(self.home, [])

    def setUp(self):
        if self.env:
            old = {k: os.environ.get(k) for k in self.env}
            os.environ.update(self.env)

            def restore():
                for k, v in old.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v
            self.addCleanup(restore)
        super().setUp()

    def status(self):
        return json.loads(control(self.home, "STATUS"))

    def relay_status(self):
        return self.status()["kernel_relay"]

    def wait_for(self, predicate, what, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.02)  # polling a condition with a deadline
        self.fail(f"not within {timeout}s: {what}")

    def access_lines(self):
        path = os.path.join(self.home, "log", "access.log")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return f.read().splitlines()

    def require_ready(self):
        st = self.relay_status()
        if st["state"] == "not built":
            self.skipTest("this build has no kernel relay (no BPF toolchain at configure time)")
        self.assertEqual(st["state"], "ready", st)


class KernelRelayTest(KernelRelayBase):
    def test_imap_session_goes_through_the_kernel_and_is_logged(self):
        self.require_ready()
        before = self.relay_status()["relayed"]
        m = self.imap()
        m.login(USER, PASSWORDS[USER])
        # The client has its OK before the proxy hands the pair over.
        self.wait_for(lambda: self.relay_status()["relayed"] == before + 1, "the pair in the kernel relay")
        self.assertEqual(self.relay_status()["sessions"], 1)
        self.assertEqual(self.count(m), 1)
        typ, data = m.fetch("1", "(BODY.PEEK[TEXT])")
        self.assertEqual(typ, "OK")
        self.assertIn(b"first", data[0][1])
        m.logout()  # the mailbox closes after BYE: the proxy closes the client
        self.wait_for(lambda: self.relay_status()["sessions"] == 0, "the pair left the kernel relay")
        line = self.wait_for(lambda: [x for x in self.access_lines() if " ok" in x and USER in x],
                             "the session's access-log line")[-1]
        m_in, m_out = map(int, re.search(r" in=(\d+) out=(\d+) ", line).groups())
        self.assertGreater(m_in, len(b"a SELECT INBOX\r\n"))
        self.assertGreater(m_out, len(b"first"))

    def test_bulk_both_ways_byte_for_byte(self):
        # APPEND client -> mailbox and FETCH mailbox -> client, 3 MB each,
        # far beyond socket buffers: the redirect must not lose, reorder or
        # stall bytes when the peer's send queue is full.
        self.require_ready()
        message = big_message(40000)
        m = self.imap()
        m.login(USER, PASSWORDS[USER])
        self.assertEqual(m.create("bulk")[0], "OK")
        self.assertEqual(m.append("bulk", None, None, message)[0], "OK")
        m.select("bulk")
        for _ in range(2):
            typ, data = m.fetch("1", "(BODY.PEEK[])")
            self.assertEqual(typ, "OK")
            self.assertEqual(hashlib.sha256(data[0][1]).hexdigest(), hashlib.sha256(message).hexdigest())
        m.close()
        self.assertEqual(m.delete("bulk")[0], "OK")
        m.logout()
        self.assertGreaterEqual(self.relay_status()["relayed"], 1)

    def test_commands_sent_right_after_the_login_reply_are_not_lost(self):
        # Bytes that reach the proxy between the login's OK and the sockets'
        # insertion wait in the receive queue: they must still be relayed.
        self.require_ready()
        s, f = self.raw(self.ports["imap"])
        f.readline()
        s.sendall(f'a LOGIN "{USER}" "{PASSWORDS[USER]}"\r\nb NOOP\r\nc SELECT INBOX\r\n'.encode())
        lines = []
        deadline = time.monotonic() + 10
        while not any(x.startswith(b"c OK") for x in lines) and time.monotonic() < deadline:
            lines.append(f.readline())
        self.assertTrue(any(x.startswith(b"a OK") for x in lines), lines)
        self.assertTrue(any(x.startswith(b"b OK") for x in lines), lines)
        self.assertTrue(any(x.startswith(b"c OK") for x in lines), lines)
        s.sendall(b"d LOGOUT\r\n")
        rest = f.read()  # to EOF: the proxy closes after the mailbox's BYE
        self.assertIn(b"d OK", rest)
        s.close()

    def test_sessions_the_mailbox_ends_right_after_login_all_end(self):
        # LOGOUT at once, as a benchmark client does: the mailbox's BYE and
        # its FIN follow the insertion closely. A bare FIN redirected to the
        # client's socket stopped its transmit for good (EPIPE): the BYE
        # never came and the proxy spun on the error.
        self.require_ready()
        before = self.relay_status()["relayed"]
        for _ in range(30):
            s = socket.create_connection(("127.0.0.1", self.ports["imap"]), timeout=10)
            f = s.makefile("rb")
            f.readline()
            s.sendall(f'a LOGIN "{USER}" "{PASSWORDS[USER]}"\r\n'.encode())
            self.assertTrue(f.readline().startswith(b"a OK"))
            s.sendall(b"b LOGOUT\r\n")
            rest = f.read()  # to EOF
            self.assertIn(b"* BYE", rest)
            self.assertIn(b"b OK", rest)
            f.close()
            s.close()
        self.assertEqual(self.relay_status()["relayed"], before + 30)
        self.wait_for(lambda: self.relay_status()["sessions"] == 0, "every pair left the kernel relay")

    def test_client_closing_mid_transfer_closes_the_mailbox_side(self):
        # The client goes away while the kernel is pushing a large FETCH at
        # it: the proxy must notice (the FIN is not forwarded), close the
        # mailbox connection and log the session.
        self.require_ready()
        message = big_message(40000)
        m = self.imap()
        m.login(USER, PASSWORDS[USER])
        m.create("gone")
        m.append("gone", None, None, message)
        m.logout()
        s, f = self.raw(self.ports["imap"])
        f.readline()
        s.sendall(f'a LOGIN "{USER}" "{PASSWORDS[USER]}"\r\n'.encode())
        self.assertTrue(f.readline().startswith(b"a OK"))
        s.sendall(b"b SELECT gone\r\nc FETCH 1 (BODY.PEEK[])\r\n")
        got = 0
        while got < 100_000:
            chunk = s.recv(65536)
            self.assertTrue(chunk, "the FETCH ended early")
            got += len(chunk)
        before = len([x for x in self.access_lines() if USER in x])
        f.close()  # the file holds the descriptor too
        s.close()
        self.wait_for(lambda: self.relay_status()["sessions"] == 0, "the pair left the kernel relay")
        self.wait_for(lambda: len([x for x in self.access_lines() if USER in x]) > before,
                      "the session's access-log line")
        self.wait_for(lambda: self.status()["connections"]["imap"]["active"] == 0, "no session open")
        m = self.imap()
        m.login(USER, PASSWORDS[USER])
        m.select("gone")
        m.store("1", "+FLAGS", "\\Deleted")
        m.expunge()
        m.logout()

    def test_mailbox_closing_reaches_the_client_after_every_byte(self):
        # POP3 QUIT: the mailbox answers +OK and closes. The client must get
        # the +OK (and a RETR's bytes before it) and then EOF.
        self.require_ready()
        before = self.relay_status()["relayed"]
        p = poplib.POP3("127.0.0.1", self.ports["pop3"], timeout=30)
        p.user(USER)
        p.pass_(PASSWORDS[USER])
        self.wait_for(lambda: self.relay_status()["relayed"] == before + 1, "the pair in the kernel relay")
        count, _ = p.stat()
        self.assertGreaterEqual(count, 1)
        resp, lines, _ = p.retr(1)
        self.assertTrue(resp.startswith(b"+OK"))
        self.assertIn(b"first", b"\n".join(lines))
        p.sock.sendall(b"QUIT\r\n")
        self.assertTrue(p.file.readline().startswith(b"+OK"))
        p.sock.settimeout(10)
        self.assertEqual(p.file.read(), b"")  # then EOF, forwarded by the proxy
        p.close()
        self.wait_for(lambda: self.relay_status()["sessions"] == 0, "the pair left the kernel relay")

    def test_tls_client_leg_stays_in_user_space(self):
        self.require_ready()
        before = self.relay_status()["relayed"]
        m = imaplib.IMAP4_SSL("127.0.0.1", self.ports["imaps"], ssl_context=client_tls(), timeout=30)
        m.login(USER, PASSWORDS[USER])
        self.assertEqual(self.count(m), 1)
        m.logout()
        self.assertEqual(self.relay_status()["relayed"], before)


class KernelRelayIdleTest(KernelRelayBase):
    imap_extra = 'authenticated_idle_timeout = "1s"'

    def test_idle_session_in_the_kernel_is_closed_and_logged(self):
        # No read of the proxy's sees the session's traffic any more: the
        # idle timeout comes from TCP_INFO, and must still fire.
        self.require_ready()
        m = self.imap()
        m.login(USER, PASSWORDS[USER])
        m.select("INBOX")
        started = time.monotonic()
        m.sock.settimeout(30)
        self.assertEqual(m.sock.recv(100), b"")
        self.assertLess(time.monotonic() - started, 10)
        m.shutdown()
        line = self.wait_for(lambda: [x for x in self.access_lines() if "idle-timeout" in x],
                             "the idle-timeout line")[-1]
        self.assertRegex(line, r" imap user1@example\.com 127\.0\.0\.2:\d+ in=\d+ out=\d+ ms=\d+ idle-timeout$")

    def test_traffic_keeps_a_session_alive(self):
        self.require_ready()
        m = self.imap()
        m.login(USER, PASSWORDS[USER])
        end = time.monotonic() + 2.5
        while time.monotonic() < end:
            self.assertEqual(m.noop()[0], "OK")
            time.sleep(0.3)  # the client's pace, not a synchronisation
        m.logout()


class KernelRelayFallbackTest(KernelRelayBase):
    env = {"ZMPROXY_TEST_KERNEL_RELAY_FAIL": "1"}

    def test_a_failed_self_test_falls_back_to_user_space(self):
        st = self.relay_status()
        if st["state"] == "not built":
            self.skipTest("this build has no kernel relay")
        self.assertEqual(st["state"], "unavailable")
        self.assertIn("self-test", st["reason"])
        with open(os.path.join(self.home, "log", "zmproxyd.log")) as f:
            self.assertIn("kernel relay unavailable", f.read())
        m = self.imap()
        m.login(USER, PASSWORDS[USER])
        self.assertEqual(self.count(m), 1)
        m.logout()
        p = poplib.POP3("127.0.0.1", self.ports["pop3"], timeout=30)
        p.user(USER)
        p.pass_(PASSWORDS[USER])
        self.assertGreaterEqual(p.stat()[0], 1)
        p.quit()
        self.assertEqual(self.relay_status()["relayed"], 0)


class KernelRelayOffTest(KernelRelayBase):
    kernel_relay = False

    def test_off_by_default(self):
        if os.environ.get("ZMPROXY_TEST_KERNEL_RELAY") == "1":
            self.skipTest("the suite runs with the kernel relay on")
        st = self.relay_status()
        self.assertIn(st["state"], ("off", "not built"))
        m = self.imap()
        m.login(USER, PASSWORDS[USER])
        m.logout()
        self.assertEqual(st["relayed"], 0)


if __name__ == "__main__":
    unittest.main()
