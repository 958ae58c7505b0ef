"""Secrets never reach a log (issue 20's "secrets never logged", mail side):
at log level debug, a mix of logins that succeed and fail — IMAP LOGIN,
AUTHENTICATE PLAIN (initial response and continuation), AUTHENTICATE LOGIN,
AUTHENTICATE XOAUTH2, POP3 USER/PASS and AUTH PLAIN — and then every log of
the home (zmproxyd's, the access log, zmlookupd's, the audit log) and
Dovecot's are searched for each password and token used, and for the
base64 forms a client sent them in. MailProxyBase's tearDown already checks
the right passwords; this adds the wrong ones, the SASL blobs and a bearer
token, which a log line quoting what the client sent would leak."""
import adversarial_testing  # noqa: F401  (puts tests/integration and tests/support on the path)
import base64
import os
import time
import unittest

from mail_proxy_test import PASSWORDS, MailProxyBase

USER = "user1@example.com"
WRONG = "Wr0ng-guess-zulu-7731"
TOKEN = "ya29.Secret-Bearer-Token-yankee-4410"


def b64(text):
    return base64.b64encode(text.encode()).decode()


class SecretsInLogsTest(MailProxyBase):
    def converse(self, port, lines, stop):
        """Send each line after the previous reply; returns every byte read.
        `stop`: the reply that ends the exchange (a tagged answer or a
        POP3 status), read to its line's end."""
        s, f = self.raw(port)
        with s:
            seen = [f.readline().decode(errors="replace")]  # greeting
            for line in lines:
                s.sendall(line.encode() + b"\r\n")
                reply = f.readline().decode(errors="replace")
                seen.append(reply)
                if reply.startswith(stop) or reply == "":
                    break
            return "".join(seen)

    def secrets(self):
        plain_right = "\0" + USER + "\0" + PASSWORDS[USER]
        plain_wrong = "\0" + USER + "\0" + WRONG
        xoauth = f"user={USER}\x01auth=Bearer {TOKEN}\x01\x01"
        return [WRONG, TOKEN, PASSWORDS[USER], b64(plain_right), b64(plain_wrong), b64(xoauth),
                b64(PASSWORDS[USER]), b64(WRONG)]

    def test_no_password_token_or_sasl_blob_reaches_a_log(self):
        imap, pop3 = self.ports["imap"], self.ports["pop3"]
        right = PASSWORDS[USER]
        said = []
        said.append(self.converse(imap, [f'a LOGIN {USER} "{WRONG}"'], "a "))
        said.append(self.converse(imap, [f'a LOGIN {USER} "{right}"', "b LOGOUT"], "b "))
        said.append(self.converse(imap, [f"a AUTHENTICATE PLAIN {b64(chr(0) + USER + chr(0) + WRONG)}"], "a "))
        said.append(self.converse(imap, ["a AUTHENTICATE PLAIN", b64("\0" + USER + "\0" + right), "b LOGOUT"],
                                  "b "))
        said.append(self.converse(imap, ["a AUTHENTICATE LOGIN", b64(USER), b64(WRONG)], "a "))
        said.append(self.converse(imap, ["a AUTHENTICATE LOGIN", b64(USER), b64(right), "b LOGOUT"], "b "))
        xoauth = f"user={USER}\x01auth=Bearer {TOKEN}\x01\x01"
        said.append(self.converse(imap, [f"a AUTHENTICATE XOAUTH2 {b64(xoauth)}", ""], "a "))
        said.append(self.converse(pop3, [f"USER {USER}", f"PASS {WRONG}"], "-ERR"))
        said.append(self.converse(pop3, [f"USER {USER}", f"PASS {right}", "QUIT"], "+OK Logging out"))
        said.append(self.converse(pop3, [f"AUTH PLAIN {b64(chr(0) + USER + chr(0) + WRONG)}"], "-ERR"))
        transcript = "\n".join(said)
        # The exchanges happened: right passwords got in, wrong ones were refused.
        self.assertIn("a OK", transcript)
        self.assertIn("a NO", transcript)
        self.assertIn("-ERR", transcript)
        # Every session is written to the access log when it ends.
        self.wait_for_access_lines(10)
        logs = self.all_logs()
        # The right files (zmproxyd runs at log level debug here): the
        # sessions are in them, by user and outcome.
        self.assertIn(USER, logs)
        self.assertIn("auth-failed", logs)
        for secret in self.secrets():
            with self.subTest(secret=secret[:12]):
                self.assertNotIn(secret, logs)

    def wait_for_access_lines(self, count):
        path = os.path.join(self.home, "log", "access.log")
        deadline = time.monotonic() + 30
        while True:
            try:
                with open(path, errors="replace") as f:
                    lines = [line for line in f if line.strip()]
            except FileNotFoundError:
                lines = []
            if len(lines) >= count:
                return
            self.assertLess(time.monotonic(), deadline, f"{len(lines)} access-log lines, want {count}")
            time.sleep(0.05)  # polling a file under a deadline


if __name__ == "__main__":
    unittest.main()
