"""Secrets never reach a log (issue 20's "secrets never logged", mail side):
at log level debug, a mix of logins that succeed and fail — IMAP LOGIN,
AUTHENTICATE PLAIN (initial response and continuation), AUTHENTICATE LOGIN,
AUTHENTICATE XOAUTH2, POP3 USER/PASS and AUTH PLAIN — and then every log of
the home (zmproxyd's, the access log, zmlookupd's, the audit log) and
Dovecot's are searched for each password and token used, and for the
base64 forms a client sent them in. MailProxyBase's tearDown already checks
the right passwords; this adds the wrong ones, the SASL blobs and a bearer
token, which a log line quoting what the client sent would leak.

The admin side (ToolSecretsTest): zmprov setting passwords every way it
can (ca, sp, ma userPassword refused, a batch on standard input, "-" read from
standard input, a failing command, -v), zmlocalconfig setting the LDAP
password and the control secret, zmlookupd at debug answering lookups that
carry Auth-Pass, zmconfigd at debug following all of it: no password or
secret in any log, the audit log, the tools' output or the store's files.
The web side (Basic, ZM_AUTH_TOKEN, tokens in URLs) is http_test's
test_credentials_never_reach_a_log."""
import adversarial_testing  # noqa: F401  (puts tests/integration and tests/support on the path)
import base64
import http.client
import os
import time
import unittest

from mail_proxy_test import PASSWORDS, MailProxyBase
from zmproxy_procs import Daemon
from zmproxy_testing import BIN_DIR, HomeTestCase

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


class ToolSecretsTest(HomeTestCase):
    ACCOUNT = "keeper@example.com"
    PASSWORDS = [f"Tool-Pw{i}-quebec-{4000 + i}" for i in range(9)]
    LDAP_PASSWORD = "Ldap-Secret-romeo-5512"
    CONTROL_SECRET = "Control-Secret-sierra-6623-0123456789"

    def tool_ok(self, *args, input=None):
        r = self.run_tool(*args, input=input)
        self.assertEqual(r.returncode, 0, f"{args[:2]}: {r.stdout}{r.stderr}")
        self.said.append(r.stdout + r.stderr)
        return r

    def lookup(self, user, password):
        c = http.client.HTTPConnection(self.lookupd.host, self.lookupd.port, timeout=10)
        try:
            c.request("GET", "/service/extension/nginx-lookup", headers={
                "Auth-Method": "plain", "Auth-User": user, "Auth-Pass": password,
                "Auth-Protocol": "imap", "Auth-Login-Attempt": "1", "Client-IP": "192.0.2.10",
                "X-Proxy-IP": "127.0.0.1"})
            return c.getresponse().getheader("Auth-Status")
        finally:
            c.close()

    def test_no_password_or_secret_the_admin_types_reaches_a_log(self):
        self.said = []
        pw = self.PASSWORDS
        self.tool_ok("zmprov", "cd", "example.com")
        self.tool_ok("zmprov", "cs", "127.0.0.2")
        self.lookupd = Daemon(BIN_DIR, "zmlookupd", self.home,
                              ["--listen", "127.0.0.1:0", "--log-level", "debug"]).start()
        self.addCleanup(self.lookupd.stop)
        self.start_zmconfigd()
        self.tool_ok("zmprov", "ca", self.ACCOUNT, pw[0], "zimbraMailHost", "127.0.0.2")
        self.tool_ok("zmprov", "sp", self.ACCOUNT, pw[1])
        failed = self.run_tool("zmprov", "ma", self.ACCOUNT, "userPassword", pw[2])  # sp's job
        self.assertIn("use zmprov setPassword", failed.stderr)
        self.said.append(failed.stdout + failed.stderr)
        self.tool_ok("zmprov", input=f"sp {self.ACCOUNT} {pw[3]}\nga {self.ACCOUNT} zimbraMailHost\n")
        self.tool_ok("zmprov", "sp", self.ACCOUNT, "-", input=pw[4] + "\n")
        self.tool_ok("zmprov", "-v", "sp", self.ACCOUNT, pw[5])
        failed = self.run_tool("zmprov", "ca", self.ACCOUNT, pw[6])  # the account exists
        self.assertNotEqual(failed.returncode, 0)
        self.said.append(failed.stdout + failed.stderr)
        failed = self.run_tool("zmprov", "sp", "nobody@example.com", pw[7])
        self.assertNotEqual(failed.returncode, 0)
        self.said.append(failed.stdout + failed.stderr)
        self.tool_ok("zmlocalconfig", "-e", f"zimbra_ldap_password={self.LDAP_PASSWORD}",
                     f"zmproxy_control_secret={self.CONTROL_SECRET}")
        # Lookups carry the client's password in Auth-Pass (nginx sends it).
        self.assertEqual(self.lookup(self.ACCOUNT, pw[8]), "OK")
        self.assertIsNotNone(self.lookup("nobody@example.com", pw[8]))
        # zmlookupd indexed the account the tools created; zmconfigd still answers.
        self.assertIn("index loaded (prov.ldif replaced): 1 accounts", self.lookupd.log())
        self.assertIn("renders", self.zmconfigd_status())

        texts = {"tool output": "\n".join(self.said)}
        for root in ("log", "data"):
            for directory, _, names in os.walk(os.path.join(self.home, root)):
                for name in names:
                    with open(os.path.join(directory, name), errors="replace") as f:
                        texts[os.path.join(root, name)] = f.read()
        audit = texts.get(os.path.join("log", "audit.log"), "")
        self.assertIn("userPassword", audit)  # the changes were audited, their values masked
        for secret in [*pw, self.LDAP_PASSWORD, self.CONTROL_SECRET]:
            for where, text in texts.items():
                with self.subTest(secret=secret, where=where):
                    self.assertNotIn(secret, text)


if __name__ == "__main__":
    unittest.main()
