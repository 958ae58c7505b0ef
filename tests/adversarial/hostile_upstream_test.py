"""Mailboxes that misbehave (issue 20, hostile neighbours): one that accepts
and never greets, one that greets and never answers LOGIN, one that answers
with a 10 MB line, one that trickles its greeting a byte at a time, one that
resets the connection in the middle of a FETCH after login, and one that
answers the TLS handshake with garbage. Each is a scripted server on an
address of its own; a real Dovecot (127.0.0.2) is the healthy neighbour.

Every case must give the client a protocol answer (a tagged NO, or the
close in the middle of a relayed response) within upstream.connect_timeout
(3 s here), write ONE line to zmproxyd's log naming the mailbox's address,
and leave a healthy session, logged in through the same proxy, answering
as before (and a new healthy login working after)."""
import os
import socket
import struct
import time
import unittest

from hostile_testing import HOSTILE_PW, HoldingServer, HostileBase, rss_kb  # (puts tests/support on the path)
import sanitizer_reports  # noqa: E402
from scripted_server import ScriptedServer

TIMEOUT = 3.0  # upstream.connect_timeout below
SLACK = 2.0    # a loaded machine's scheduling, a second connect attempt
KERNEL_RELAY = os.environ.get("ZMPROXY_TEST_KERNEL_RELAY") == "1"


class ImapScript(ScriptedServer):
    """An IMAP mailbox: greets with `greeting`, answers the proxy's ID, and
    hands LOGIN (and what follows) to on_login(conn, tag, lines)."""

    greeting = b"* OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR] fake ready\r\n"

    def converse(self, conn):
        conn.settimeout(30)
        f = conn.makefile("rb")
        conn.sendall(self.greeting)
        for line in f:
            parts = line.split(b" ", 2)
            if len(parts) >= 2 and parts[1].upper() == b"ID":
                conn.sendall(b"* ID NIL\r\n" + parts[0] + b" OK ID completed\r\n")
            elif len(parts) >= 2 and parts[1].upper() == b"LOGIN":
                self.on_login(conn, parts[0], f)
                return

    def on_login(self, conn, tag, lines):
        raise NotImplementedError


class NeverAnswersLogin(ImapScript):
    def on_login(self, conn, tag, lines):
        while conn.recv(65536):
            pass


class HugeLine(ImapScript):
    """Answers LOGIN with one 10 MB untagged line."""

    def on_login(self, conn, tag, lines):
        conn.sendall(b"* OK " + b"x" * (10 * 1024 * 1024) + b"\r\n")


class TrickledGreeting(ScriptedServer):
    """Greets one byte every 0.4 s, never reaching the line's end: each
    read arrives well within the timeout."""

    def converse(self, conn):
        for _ in range(100):
            conn.sendall(b"*")
            time.sleep(0.4)  # the attack's pace, not a synchronisation


class ResetsMidFetch(ImapScript):
    """Accepts the login and SELECT; answers FETCH with the start of a
    100 KB literal and then a TCP reset."""

    def on_login(self, conn, tag, lines):
        conn.sendall(tag + b" OK LOGIN completed\r\n")
        for line in lines:
            t, verb = line.split(b" ", 2)[:2]
            if verb.upper() == b"SELECT":
                conn.sendall(b"* 1 EXISTS\r\n" + t + b" OK [READ-ONLY] SELECT completed\r\n")
            elif verb.upper() == b"FETCH":
                conn.sendall(b"* 1 FETCH (BODY[TEXT] {100000}\r\n" + b"y" * 5000)
                time.sleep(0.2)  # the bytes leave before the reset overtakes them
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
                return


class HostileMailboxTest(HostileBase):
    connect_timeout = "3s"

    def add_hostiles(self):
        self.never_greets = self.hostile(HoldingServer("127.0.0.11"), "silent@example.com", "127.0.0.11")
        self.mute = self.hostile(NeverAnswersLogin("127.0.0.12"), "mute@example.com", "127.0.0.12")
        self.huge = self.hostile(HugeLine("127.0.0.13"), "huge@example.com", "127.0.0.13")
        self.trickle = self.hostile(TrickledGreeting("127.0.0.14"), "trickle@example.com", "127.0.0.14")
        self.resets = self.hostile(ResetsMidFetch("127.0.0.15"), "resets@example.com", "127.0.0.15")

    def refused_within_timeout(self, user, server, address):
        """A login routed to a hostile mailbox: a tagged NO within the
        timeout, one log line naming the mailbox, the healthy session
        unaffected meanwhile."""
        healthy = self.healthy_session()
        took, answer, client = self.while_healthy(lambda: self.login_answer(user), healthy)
        self.assertTrue(answer.startswith(b"a NO"), answer)
        self.assertIn(b"UNAVAILABLE", answer)
        self.assertLess(took, TIMEOUT + SLACK, f"answered after {took:.1f} s")
        self.assertGreater(server.connections, 0, "the login never reached the hostile mailbox")
        line = self.assert_one_line_naming(f"{address}:{server.port}", client)
        self.assert_healthy(healthy)
        self.assert_new_healthy_login()
        return line

    def test_a_mailbox_that_never_greets(self):
        line = self.refused_within_timeout("silent@example.com", self.never_greets, "127.0.0.11")
        self.assertIn("no IMAP greeting: no complete response within 3000 ms", line)

    def test_a_mailbox_that_never_answers_login(self):
        line = self.refused_within_timeout("mute@example.com", self.mute, "127.0.0.12")
        self.assertIn("no answer to the login: no complete response within 3000 ms", line)

    def test_a_mailbox_that_answers_with_a_10_mb_line(self):
        rss_before = rss_kb(self.proxy.proc.pid)
        line = self.refused_within_timeout("huge@example.com", self.huge, "127.0.0.13")
        self.assertIn("a response too long", line)
        grown = rss_kb(self.proxy.proc.pid) - rss_before
        if not sanitizer_reports.ENABLED:  # ASan's quarantine keeps what was freed: no measure
            self.assertLess(grown, 8 * 1024, f"zmproxyd grew {grown} KiB reading a 10 MB line")

    def test_a_mailbox_that_trickles_its_greeting(self):
        # One byte every 0.4 s never lets a single read time out; the
        # timeout bounds the whole dialogue.
        line = self.refused_within_timeout("trickle@example.com", self.trickle, "127.0.0.14")
        self.assertIn("no IMAP greeting: no complete response within 3000 ms", line)

    def test_a_mailbox_that_resets_in_the_middle_of_a_fetch(self):
        healthy = self.healthy_session()
        s = socket.create_connection(("127.0.0.1", self.ports["imap"]), timeout=30)
        client = "127.0.0.1:%d" % s.getsockname()[1]
        with s, s.makefile("rb") as f:
            f.readline()
            s.sendall(f'a LOGIN "resets@example.com" "{HOSTILE_PW}"\r\n'.encode())
            self.assertEqual(f.readline(), b"a OK LOGIN completed\r\n")
            s.sendall(b"b SELECT INBOX\r\n")
            while not f.readline().startswith(b"b OK"):
                pass
            s.sendall(b"c FETCH 1 BODY[TEXT]\r\n")
            start = time.monotonic()
            got = b""
            while True:
                try:
                    chunk = f.read1(65536)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                got += chunk
            took = time.monotonic() - start
        # The relay cannot speak inside a literal: the client sees what came
        # and the close, at once, never the rest of the 100 KB or a hang.
        self.assertTrue(got.startswith(b"* 1 FETCH (BODY[TEXT] {100000}\r\n"), got[:80])
        self.assertLess(len(got), 100000)
        self.assertLess(took, TIMEOUT + SLACK, f"closed after {took:.1f} s")
        if not KERNEL_RELAY:  # the kernel relay ends it without a line of its own
            line = self.assert_one_line_naming(f"127.0.0.15:{self.resets.port}", client)
            self.assertIn("the mailbox connection failed after login", line)
        self.assert_healthy(healthy)
        self.assert_new_healthy_login()


class HostilePop3Test(HostileBase):
    """POP3: a mailbox that greets and never answers the client's address
    (XOIP) or the login."""

    def add_hostiles(self):
        self.mute = self.hostile(HoldingServer("127.0.0.18", b"+OK fake ready\r\n"), "mutepop@example.com",
                                 "127.0.0.18", "zimbraPop3BindPort")

    def pass_answer(self, user):
        s = socket.create_connection(("127.0.0.1", self.ports["pop3"]), timeout=60)
        with s, s.makefile("rb") as f:
            client = "127.0.0.1:%d" % s.getsockname()[1]
            self.assertTrue(f.readline().startswith(b"+OK"))
            s.sendall(f"USER {user}\r\n".encode())
            self.assertTrue(f.readline().startswith(b"+OK"))
            start = time.monotonic()
            s.sendall(f"PASS {HOSTILE_PW}\r\n".encode())
            answer = f.readline()
            return answer, time.monotonic() - start, client

    def test_a_pop3_mailbox_that_never_answers(self):
        healthy = self.healthy_session()
        answer, took, client = self.while_healthy(lambda: self.pass_answer("mutepop@example.com"), healthy)
        self.assertTrue(answer.startswith(b"-ERR"), answer)
        self.assertLess(took, TIMEOUT + SLACK, f"answered after {took:.1f} s")
        line = self.assert_one_line_naming(f"127.0.0.18:{self.mute.port}", client)
        self.assertIn("no complete response within 3000 ms", line)
        self.assert_healthy(healthy)


class GarbageTls(ScriptedServer):
    """Answers a ClientHello with bytes that are no TLS record."""

    def converse(self, conn):
        conn.recv(65536)
        conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n" + b"\x00" * 64)
        while conn.recv(65536):
            pass


class HoldsTls(HoldingServer):
    """Takes the ClientHello and never answers."""


class HostileTlsMailboxTest(HostileBase):
    """With upstream TLS on (the healthy session's Dovecot speaks IMAPS)."""

    connect_timeout = "3s"

    @classmethod
    def setUpClass(cls):
        import tempfile
        import shutil
        from dovecot import Dovecot
        from test_ca import TestCa
        from hostile_testing import HEALTHY, HEALTHY_PW
        cls.ca_dir = tempfile.mkdtemp(prefix="zmproxy-ca-")
        cls.addClassCleanup(shutil.rmtree, cls.ca_dir, True)
        cls.ca = TestCa(cls.ca_dir)
        cls.dovecot = Dovecot("healthy-tls", {HEALTHY: HEALTHY_PW}, address="127.0.0.2", ssl=True,
                              tls_ca=cls.ca)
        cls.dovecot.start()
        cls.addClassCleanup(cls.dovecot.stop)
        cls.dovecot.deliver(HEALTHY, "hello", "a healthy body")

    def setUp(self):
        self.upstream_extra = f'ca_file = "{self.ca.path}"'
        super().setUp()

    def add_hostiles(self):
        # The healthy mailbox is found on its IMAPS port.
        self.store_lines[2] = (f"cs 127.0.0.2 zimbraImapSSLBindPort {self.dovecot.imaps_port} "
                               f"zimbraPop3SSLBindPort {self.dovecot.pop3s_port}")
        self.garbage = self.hostile(GarbageTls("127.0.0.16"), "garbage@example.com", "127.0.0.16",
                                    "zimbraImapSSLBindPort")
        self.holds = self.hostile(HoldsTls("127.0.0.17"), "holds@example.com", "127.0.0.17",
                                  "zimbraImapSSLBindPort")

    def conf(self):
        return super().conf().replace("ssl = false", "ssl = true")

    def refused(self, user, server, address):
        healthy = self.healthy_session()
        took, answer, client = self.while_healthy(lambda: self.login_answer(user), healthy)
        self.assertTrue(answer.startswith(b"a NO"), answer)
        self.assertLess(took, 2 * TIMEOUT + SLACK, f"answered after {took:.1f} s")
        self.assertGreater(server.connections, 0)
        line = self.assert_one_line_naming(f"{address}:{server.port}", client)
        self.assert_healthy(healthy)
        self.assert_new_healthy_login()
        return line

    def test_garbage_instead_of_a_server_hello(self):
        line = self.refused("garbage@example.com", self.garbage, "127.0.0.16")
        self.assertIn("TLS", line)

    def test_no_server_hello_at_all(self):
        self.refused("holds@example.com", self.holds, "127.0.0.17")


if __name__ == "__main__":
    unittest.main()
