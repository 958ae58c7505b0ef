"""Password guessing against the mail proxy, and throttle messages from a
hostile store: real zmproxyd, Dovecot, memcached and zmlookupd.

Holes kept closed here (issue 15):
  - a guesser got every guess to the mailbox (Zimbra counts only successful
    logins against a user); past throttle.failed_lock none gets there, however
    the guesser varies the name's case, the command (LOGIN, AUTHENTICATE,
    POP3 USER/PASS) or the protocol;
  - a throttle message holding CR LF (it comes from the directory) would write
    lines of the attacker's choosing to every throttled client.
"""
import base64
import os
import poplib
import re
import socket
import unittest

import adversarial_testing  # noqa: F401  (puts the fixtures on sys.path)
from mail_throttle_test import ThrottleBase

USER1 = "user1@example.com"
SOURCE = "127.0.0.7"


class GuessingTest(ThrottleBase):
    throttle = 'failed_free = 100\nfailed_lock = 4\nfailed_window = 60\n'

    def imap_guess(self, command):
        with socket.create_connection(("127.0.0.1", self.ports["imap"]), timeout=30,
                                      source_address=(SOURCE, 0)) as s, s.makefile("rb") as f:
            self.assertTrue(f.readline().startswith(b"* OK"))
            s.sendall(command)
            while True:
                line = f.readline()
                if not line or line.startswith(b"g1 "):
                    return line

    def pop3_guess(self, user):
        class SourcedPop3(poplib.POP3):
            def _create_socket(inner, timeout):
                return socket.create_connection((inner.host, inner.port), timeout, source_address=(SOURCE, 0))
        p = SourcedPop3("127.0.0.1", self.ports["pop3"], timeout=30)
        try:
            p.user(user)
            p.pass_("guess")
        except poplib.error_proto as e:
            return e.args[0]
        finally:
            p.close()
        return b"+OK"

    def test_guesses_past_the_lock_never_reach_the_mailbox(self):
        names = [USER1, "USER1@example.com", "User1@Example.COM"]
        for i in range(15):
            name = names[i % 3]
            if i % 3 == 0:
                reply = self.imap_guess(f'g1 LOGIN "{name}" "guess{i}"\r\n'.encode())
            elif i % 3 == 1:
                ir = base64.b64encode(b"\0" + name.encode() + b"\0guess%d" % i)
                reply = self.imap_guess(b"g1 AUTHENTICATE PLAIN " + ir + b"\r\n")
            else:
                reply = self.pop3_guess(name)
            self.assertTrue(reply.startswith((b"g1 NO", b"-ERR")), reply)
        log = self.wait_access(lambda t: len([ln for ln in t.splitlines() if f" {SOURCE}:" in ln]) >= 15,
                               "every guess logged")
        lines = [ln for ln in log.splitlines() if f" {SOURCE}:" in ln]
        failed = [ln for ln in lines if ln.endswith(" auth-failed")]
        throttled = [ln for ln in lines if " throttled:failed-logins" in ln]
        self.assertEqual(len(failed), 4, "\n".join(lines))
        self.assertEqual(len(throttled), 11, "\n".join(lines))
        # Under a lock every attempt of a pair seen failing is counted before it goes on.
        self.assertEqual(self.counter(f"zmproxy:authfail:user=user1@example.com,ip={SOURCE}"), 15)


class HostileMessageTest(ThrottleBase):
    # TOML's escapes put CR LF into the message, as a directory value could.
    throttle = ('ip_limit = 1\nip_window = 60\n'
                'ip_message = "Go away\\r\\n* OK [CAPABILITY IMAP4rev1] injected\\r\\na1 OK LOGIN completed"\n')

    def test_a_throttle_message_is_one_line(self):
        self.assertTrue(self.greeting(self.ports["imap"], SOURCE).startswith("* OK"))
        with socket.create_connection(("127.0.0.1", self.ports["imap"]), timeout=30,
                                      source_address=(SOURCE, 0)) as s:
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        self.assertEqual(data.count(b"\r\n"), 1, data)
        self.assertTrue(re.match(rb"\* BYE \[UNAVAILABLE\] Go away  \* OK", data), data)
        self.assertNotIn(b"\n", data[:-1])


if __name__ == "__main__":
    unittest.main()
