"""Small holes in the admin tools (issue 13 item 8), each tried as an attacker
(or a careless admin) would:

* a domain whose name is a path ("../../x", "a/b") must not make confgen write
  its certificate outside conf/domaincerts;
* `zmprov ca|sp <account> -` reads the password from a terminal (no echo) or
  standard input, so it never has to sit in argv where `ps` shows it;
* `zmproxyctl genconf --dry-run` (and -D) print the route secret masked."""
import adversarial_testing  # noqa: F401  (puts tests/integration and tests/support on the path)

import base64
import hashlib
import os
import select
import subprocess
import time
import unittest

from test_ca import proxy_certificate as make_cert
from zmproxy_testing import HomeTestCase, tool


def verify_ssha512(password, stored):
    """The {SSHA512} check Dovecot and OpenLDAP make."""
    assert stored.startswith("{SSHA512}"), stored
    raw = base64.b64decode(stored[len("{SSHA512}"):])
    digest, salt = raw[:64], raw[64:]
    return hashlib.sha512(password.encode() + salt).digest() == digest


class ToolsBase(HomeTestCase):
    def check_tool(self, name, *args, input=None):
        r = self.run_tool(name, *args, input=input)
        self.assertEqual(r.returncode, 0, f"{name} {args}: {r.stdout}{r.stderr}")
        return r

    def stored_password(self, account):
        # zmprov never prints userPassword: read the embedded store itself.
        with open(os.path.join(self.home, "data", "prov.ldif")) as f:
            text = f.read().replace("\n ", "")  # LDIF line folding
        for entry in text.split("\n\n"):
            lines = entry.splitlines()
            if f"zimbraMailDeliveryAddress: {account}" in lines:
                for line in lines:
                    if line.startswith("userPassword: "):
                        return line[len("userPassword: "):]
        self.fail(f"no userPassword for {account} in the store")


class DomainCertificateNameTest(ToolsBase):
    def setUp(self):
        super().setUp()
        conf = os.path.join(self.home, "conf")
        make_cert(conf)
        with open(os.path.join(conf, "zmproxy.crt")) as f:
            crt = f.read()
        with open(os.path.join(conf, "zmproxy.key")) as f:
            key = f.read()
        self.check_tool("zmprov", "cd", "good.test", "zimbraVirtualHostname", "mail.good.test",
                        "zimbraSSLCertificate", crt, "zimbraSSLPrivateKey", key)

    def rename_domain_in_the_store(self, name):
        # zmprov refuses such names; the store can still hold them (LDAP
        # written by other tools, an edited LDIF): confgen must check again.
        path = os.path.join(self.home, "data", "prov.ldif")
        with open(path) as f:
            text = f.read()
        self.assertIn("zimbraDomainName: good.test\n", text)
        with open(path, "w") as f:
            f.write(text.replace("zimbraDomainName: good.test\n", f"zimbraDomainName: {name}\n"))

    def test_the_good_name_gives_a_certificate_under_domaincerts(self):
        # The control: the same domain under its real name is used.
        r = self.check_tool("zmproxyctl", "genconf", "-D")
        self.assertIn("mail.good.test conf/domaincerts/good.test.crt conf/domaincerts/good.test.key",
                      r.stdout)

    def test_a_domain_named_like_a_path_is_refused(self):
        for name, escaped in (("../../x", "x.crt"), ("a/../../../y", "y.crt")):
            with self.subTest(name=name):
                self.rename_domain_in_the_store(name)
                for args in (("genconf",), ("genconf", "-n"), ("genconf", "-D")):
                    r = self.run_tool("zmproxyctl", *args)
                    self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                    errors = [line for line in r.stderr.splitlines() if "note:" not in line]
                    self.assertEqual(len(errors), 1, r.stderr)
                    self.assertIn(f"domain '{name}'", errors[0])
                    self.assertNotIn("domaincerts/" + name, r.stdout)
                for root, _, files in os.walk(os.path.dirname(self.home)):
                    if root.startswith(self.home) and "domaincerts" in root:
                        continue
                    self.assertNotIn(escaped, files, f"a certificate escaped into {root}")
                # Back to the good name for the next round.
                path = os.path.join(self.home, "data", "prov.ldif")
                with open(path) as f:
                    text = f.read()
                with open(path, "w") as f:
                    f.write(text.replace(f"zimbraDomainName: {name}\n", "zimbraDomainName: good.test\n"))

    def test_a_virtual_host_name_that_would_split_the_certificate_line_is_refused(self):
        self.check_tool("zmprov", "md", "good.test", "+zimbraVirtualHostname",
                        "evil.test /etc/shadow /etc/shadow")
        r = self.run_tool("zmproxyctl", "genconf", "-D")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("zimbraVirtualHostname 'evil.test /etc/shadow /etc/shadow'", r.stderr)


class PasswordNotInArgvTest(ToolsBase):
    def setUp(self):
        super().setUp()
        self.check_tool("zmprov", "cd", "example.com")

    def test_ca_and_sp_read_the_password_from_standard_input(self):
        self.check_tool("zmprov", "ca", "alice@example.com", "-", "displayName", "Alice",
                        input="Stdin-pw-1\n")
        self.assertTrue(verify_ssha512("Stdin-pw-1", self.stored_password("alice@example.com")))
        self.check_tool("zmprov", "sp", "alice@example.com", "-", input="Stdin-pw-2\r\n")
        stored = self.stored_password("alice@example.com")
        self.assertTrue(verify_ssha512("Stdin-pw-2", stored))
        self.assertFalse(verify_ssha512("-", stored))
        # From a file given as standard input, no trailing newline.
        path = os.path.join(self.home, "pw.txt")
        with open(path, "w") as f:
            f.write("File-pw-3")
        with open(path) as f:
            r = subprocess.run([tool("zmprov"), "sp", "alice@example.com", "-"], stdin=f,
                               capture_output=True, text=True, timeout=60,
                               env=dict(os.environ, ZMPROXY_HOME=self.home))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(verify_ssha512("File-pw-3", self.stored_password("alice@example.com")))

    def test_nothing_to_read_is_refused_and_changes_nothing(self):
        self.check_tool("zmprov", "ca", "bob@example.com", "Arg-pw")
        before = self.stored_password("bob@example.com")
        r = self.run_tool("zmprov", "sp", "bob@example.com", "-", input="")
        self.assertEqual(r.returncode, 2)
        self.assertIn("cannot read the password for bob@example.com", r.stderr)
        r = self.run_tool("zmprov", "sp", "bob@example.com", "-", input="\n")
        self.assertEqual(r.returncode, 2)
        self.assertIn("the password read is empty", r.stderr)
        # In a script on standard input, "-" cannot share it with the commands.
        r = subprocess.run([tool("zmprov")], input="sp bob@example.com -\n", capture_output=True,
                           text=True, timeout=60, env=dict(os.environ, ZMPROXY_HOME=self.home),
                           start_new_session=True)  # no controlling terminal
        self.assertEqual(r.returncode, 2)
        self.assertIn("standard input carries the commands", r.stderr)
        self.assertEqual(self.stored_password("bob@example.com"), before)

    def test_sp_prompts_on_a_terminal_without_echo(self):
        self.check_tool("zmprov", "ca", "carol@example.com", "Old-pw")
        master, slave = os.openpty()
        p = subprocess.Popen([tool("zmprov"), "sp", "carol@example.com", "-"], stdin=slave,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=dict(os.environ, ZMPROXY_HOME=self.home))
        os.close(slave)
        self.addCleanup(os.close, master)
        seen = b""

        def read_until(text, timeout=10):
            nonlocal seen
            deadline = time.monotonic() + timeout
            while text not in seen:
                left = deadline - time.monotonic()
                self.assertGreater(left, 0, f"{text!r} never appeared on the terminal: {seen!r}")
                ready, _, _ = select.select([master], [], [], left)
                if ready:
                    try:
                        seen += os.read(master, 1024)
                    except OSError:
                        break
        read_until(b"Password for carol@example.com: ")
        os.write(master, b"Tty-pw-4\n")
        read_until(b"Retype the password: ")
        os.write(master, b"Tty-pw-4\n")
        out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 0, err)
        # Drain what is left on the terminal: the password was never echoed.
        while select.select([master], [], [], 0.1)[0]:
            try:
                chunk = os.read(master, 1024)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        self.assertNotIn(b"Tty-pw-4", seen)
        self.assertTrue(verify_ssha512("Tty-pw-4", self.stored_password("carol@example.com")))

    def test_completion_offers_the_dash(self):
        r = self.check_tool("zmprov", "__complete", "sp", "carol@example.com", "")
        self.assertEqual(r.stdout.split(), ["-"])
        r = self.check_tool("zmprov", "__complete", "ca", "carol@example.com", "")
        self.assertEqual(r.stdout.split(), ["-"])


class GenconfDryRunTest(ToolsBase):
    SECRET = "Route-S3cret-value"

    def setUp(self):
        super().setUp()
        self.check_tool("zmlocalconfig", "-e", f"zmlookupd_secret={self.SECRET}",
                        "zimbra_ldap_password=Ldap-S3cret")
        # Listener ports 0 (any free one): the check of free ports must not
        # depend on what else runs on this machine.
        self.check_tool("zmprov", "cs", "localhost", "zimbraReverseProxyLookupTarget", "TRUE",
                        "zimbraImapProxyBindPort", "0", "zimbraImapSSLProxyBindPort", "0",
                        "zimbraPop3ProxyBindPort", "0", "zimbraPop3SSLProxyBindPort", "0")

    def test_dry_run_and_variables_mask_the_route_secret(self):
        for args in (("genconf", "-n"), ("genconf", "--dry-run"), ("genconf", "-D")):
            with self.subTest(args=args):
                r = self.run_tool("zmproxyctl", *args)  # -n may fail its checks; it prints all the same
                self.assertTrue(r.stdout, r.stderr)
                self.assertNotIn(self.SECRET, r.stdout + r.stderr)
                self.assertNotIn("Ldap-S3cret", r.stdout + r.stderr)
        r = self.run_tool("zmproxyctl", "genconf", "-n")
        self.assertIn('secret = "********"\n', r.stdout)
        r = self.run_tool("zmproxyctl", "genconf", "-D")
        self.assertIn("zmlookupd_secret = ********  # localconfig\n", r.stdout)

    def test_the_installed_configuration_keeps_the_real_secret(self):
        # The control: what zmproxyd reads still has the secret.
        make_cert(os.path.join(self.home, "conf"))
        r = self.run_tool("zmproxyctl", "genconf")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        with open(os.path.join(self.home, "conf", "zmproxy.conf")) as f:
            self.assertIn(f'secret = "{self.SECRET}"\n', f.read(), r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main()
