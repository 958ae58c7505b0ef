"""What the tools and daemons connect to is verified, LDAP side (issue 13,
item 4): StartTLS with certificate checks before the bind, and the shipped
default passwords never sent beyond loopback.

Towards another host StartTLS is always used; on loopback (all a test may
reach) ldap_starttls_supported = 1 asks for the same, so a real slapd that
refuses every operation in clear (security tls=1) shows it: the bind, and
the password in it, only ever travel inside a verified TLS session.
"""
import adversarial_testing  # noqa: F401  (puts tests/integration and tests/support on the path)

import http.client
import shutil
import tempfile
import time
import unittest
import uuid

from zmproxy_testing import BIN_DIR, HomeTestCase

PASSWORD = "Ldap-admin-pw-5"


class LdapTlsCases:
    """One slapd per class, serving `names` in its certificate, TLS required."""

    names = None     # subjectAltName of slapd's certificate; None: self-signed by the test CA
    slapd = None

    @classmethod
    def setUpClass(cls):
        from slapd import Slapd
        from test_ca import TestCa
        cls.ca_dir = tempfile.mkdtemp(prefix="zmproxy-ca-")
        cls.ca = TestCa(cls.ca_dir)
        if cls.names is None:
            # A certificate no configured CA vouches for: from a second CA.
            cert, key = TestCa(cls.ca_dir + "/other", cn="someone else's CA").issue("slapd", ["127.0.0.1"])
        else:
            cert, key = cls.ca.issue("slapd", cls.names)
        cls.slapd = Slapd(password=PASSWORD, tls_cert=cert, tls_key=key, require_tls=True)
        try:
            cls.slapd.start()
        except BaseException:
            shutil.rmtree(cls.ca_dir, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        cls.slapd.stop()
        shutil.rmtree(cls.ca_dir, ignore_errors=True)

    def configure(self, **keys):
        base = {"ldap_url": self.slapd.url, "zimbra_ldap_userdn": self.slapd.bind_dn,
                "zimbra_ldap_password": PASSWORD, "ldap_starttls_supported": "1",
                "ldap_ca_file": self.ca.path}
        base.update(keys)
        r = self.run_tool("zmlocalconfig", "-e", *[f"{k}={v}" for k, v in base.items()])
        self.assertEqual(r.returncode, 0, r.stderr)

    def gacf(self):
        return self.run_tool("zmprov", "gacf")

    def assert_refused(self, r, *fragments):
        self.assertNotEqual(r.returncode, 0, r.stdout)
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertIn(f"StartTLS with the LDAP server at {self.slapd.url} failed", lines[0])
        for f in fragments:
            self.assertIn(f, lines[0])
        self.assertNotIn(PASSWORD, r.stdout + r.stderr)


class TrustedCertificateTest(LdapTlsCases, HomeTestCase):
    names = ["127.0.0.1", "localhost"]

    def test_starttls_verified_against_ldap_ca_file(self):
        self.configure()
        r = self.gacf()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("cn: config", r.stdout)

    def test_without_the_ca_the_system_store_refuses_it(self):
        self.configure(ldap_ca_file="")
        self.assert_refused(self.gacf(), "set ldap_ca_file to the CA that issued its certificate",
                            "ssl_allow_untrusted_certs=true")

    def test_zmlookupd_and_its_change_feed_work_over_starttls(self):
        # zmlookupd reads the store (LdapStore) and follows it (LdapChangeFeed,
        # syncrepl): both connect over StartTLS, or this slapd would refuse them.
        from zmproxy_procs import Daemon
        self.configure()
        tag = uuid.uuid4().hex[:8]
        user = f"u{tag}@d{tag}.test"
        lines = [f"cd d{tag}.test", f"cs mb1-{tag} zimbraImapBindPort 7143",
                 f"cs mb2-{tag} zimbraImapBindPort 7143", f"ca {user} x zimbraMailHost mb1-{tag}"]
        r = self.run_tool("zmprov", input="\n".join(lines) + "\n")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = self.run_tool("zmprov", "mcf", "zimbraReverseProxyDnsLookupInServerEnabled", "FALSE")
        self.assertEqual(r.returncode, 0, r.stderr)
        lookupd = Daemon(BIN_DIR, "zmlookupd", self.home, ["--listen", "127.0.0.1:0"]).start()
        self.addCleanup(lookupd.stop)

        def server_of():
            conn = http.client.HTTPConnection(lookupd.host, lookupd.port, timeout=10)
            try:
                conn.request("GET", "/service/extension/nginx-lookup", headers={
                    "Auth-Method": "username", "Auth-User": user, "Auth-Pass": "_password_",
                    "Auth-Protocol": "imap", "Auth-Login-Attempt": "1", "Client-IP": "192.0.2.10",
                    "X-Proxy-IP": "127.0.0.1"})
                return conn.getresponse().getheader("Auth-Server")
            finally:
                conn.close()

        self.assertEqual(server_of(), f"mb1-{tag}")
        r = self.run_tool("zmprov", "ma", user, "zimbraMailHost", f"mb2-{tag}")
        self.assertEqual(r.returncode, 0, r.stderr)
        deadline = time.monotonic() + 10
        while server_of() != f"mb2-{tag}" and time.monotonic() < deadline:
            time.sleep(0.05)  # poll interval
        self.assertEqual(server_of(), f"mb2-{tag}", "the change feed did not follow:\n" + lookupd.log())
        self.assertRegex(lookupd.log(), r"index loaded \(entry uid=u[0-9a-f]+,.* modified")  # the feed told it
        self.assertNotIn("StartTLS", lookupd.log())

    def test_in_clear_the_server_refuses_the_bind(self):
        # The control: this slapd really refuses what did not come over TLS.
        self.configure(ldap_starttls_supported="0")
        r = self.gacf()
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("onfidentiality", r.stderr)


class WrongNameCertificateTest(LdapTlsCases, HomeTestCase):
    names = ["127.0.0.99", "elsewhere.zmproxy.test"]

    def test_a_certificate_for_another_host_is_refused(self):
        self.configure()
        self.assert_refused(self.gacf(), f"check that {self.ca.path} (ldap_ca_file)")

    def test_the_lab_opt_out_accepts_it(self):
        self.configure(ssl_allow_untrusted_certs="true")
        r = self.gacf()
        self.assertEqual(r.returncode, 0, r.stderr)


class UntrustedCaCertificateTest(LdapTlsCases, HomeTestCase):
    names = None

    def test_a_certificate_from_another_ca_is_refused(self):
        self.configure()
        self.assert_refused(self.gacf(), "ldap_ca_file")

    def test_the_lab_opt_out_accepts_it(self):
        self.configure(ssl_allow_untrusted_certs="true")
        self.assertEqual(self.gacf().returncode, 0)


class ShippedPasswordTest(HomeTestCase):
    """The default zimbra_ldap_password is refused before anything is sent to
    a directory on another host (ldap.invalid: RFC 6761, never resolves, so
    nothing leaves this machine even if the check were missing)."""

    def test_default_password_refused_beyond_loopback(self):
        r = self.run_tool("zmlocalconfig", "-e", "ldap_url=ldap://ldap.invalid:389")
        self.assertEqual(r.returncode, 0, r.stderr)
        started = time.monotonic()
        r = self.run_tool("zmprov", "gacf")
        self.assertNotEqual(r.returncode, 0)
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertIn("zimbra_ldap_password is still the password shipped with Zimbra", lines[0])
        self.assertIn("ldap://ldap.invalid:389", lines[0])
        self.assertIn("zmlocalconfig -e zimbra_ldap_password=<password>", lines[0])
        self.assertLess(time.monotonic() - started, 5, "refused before any connection attempt")

    def test_default_password_still_works_on_loopback(self):
        from slapd import Slapd
        with Slapd() as s:  # rootpw "zimbra", the shipped default
            r = self.run_tool("zmlocalconfig", "-e", f"ldap_url={s.url}")
            self.assertEqual(r.returncode, 0, r.stderr)
            r = self.run_tool("zmprov", "gacf")
            self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == "__main__":
    unittest.main()
