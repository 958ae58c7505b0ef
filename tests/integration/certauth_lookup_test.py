"""zmlookupd's certauth lookups against a real zmlookupd over a store
provisioned with zmprov: the account named by the certificate subject's
emailAddress (address or alias, RFC 4514 or nginx's slash form), the caller
checked as for gssapi (X-Proxy-IP and the connection's source address in
zimbraReverseProxyAdminIPAddress, the nginx admin's password), the account's
web route and a token in Auth-Pass verified with the secret."""
import hashlib
import hmac
import os
import sys
import time
import unittest

from zmproxy_testing import BIN_DIR, HomeTestCase
from gssapi_lookup_test import raw_lookup

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "support"))
from zmproxy_procs import Daemon  # noqa: E402

SECRET = "certauth-test-secret"
ADMIN_PASS = "nginx-admin-pw"
SUBJECT = "emailAddress=alice@example.com,CN=Alice Liddell,O=Example,C=US"


class CertauthLookupTest(HomeTestCase):

    def setUp(self):
        super().setUp()
        lines = ["cd example.com", "mcf zimbraDefaultDomainName example.com",
                 "mcf zimbraReverseProxyAdminIPAddress 127.0.0.1",
                 "cs 127.0.0.2 zimbraMailPort 8080 zimbraMailSSLPort 8443 zimbraAdminPort 7071",
                 "ca alice@example.com pw1 zimbraMailHost 127.0.0.2 zimbraMailAlias al@example.com",
                 f"ca zmnginx@example.com {ADMIN_PASS} zimbraIsAdminAccount TRUE"
                 " zimbraMailHost 127.0.0.2",
                 f"ca plain@example.com {ADMIN_PASS}"]
        r = self.run_tool("zmprov", input="\n".join(lines) + "\n")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = self.run_tool("zmlocalconfig", "-e", f"zmlookupd_secret={SECRET}")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.lookupd = Daemon(BIN_DIR, "zmlookupd", self.home, ["--listen", "127.0.0.1:0"]).start()
        self.addCleanup(self.lookupd.stop)

    def ask(self, source="127.0.0.1", **changes):
        headers = {"Auth-Method": "certauth", "Auth-User": SUBJECT.replace(" ", "%20"),
                   "Auth-Pass": "_password_", "Auth-Protocol": "httpssl",
                   "Auth-Login-Attempt": "0", "Client-IP": "192.0.2.10",
                   "X-Proxy-IP": "127.0.0.1", "Auth-Admin-User": "zmnginx",
                   "Auth-Admin-Pass": ADMIN_PASS, "X-Zmproxy-Lookup-Secret": SECRET}
        for k, v in changes.items():
            k = k.replace("_", "-")
            if v is None:
                headers.pop(k, None)
            else:
                headers[k] = v
        return raw_lookup(self.lookupd.address, headers, source)

    def test_subject_gets_route_user_and_token(self):
        before = int(time.time())
        h = self.ask()
        self.assertEqual(h["Auth-Status"], "OK", h)
        self.assertEqual((h["Auth-Server"], h["Auth-Port"]), ("127.0.0.2", "8443"))
        self.assertEqual(h["Auth-User"], "alice@example.com")
        prefix, expiry, mac = h["Auth-Pass"].split(":")
        self.assertEqual(prefix, "zmlt1")
        self.assertTrue(before + 60 <= int(expiry) <= int(time.time()) + 60)
        want = hmac.new(SECRET.encode(), f"alice@example.com|{expiry}".encode(),
                        hashlib.sha256).hexdigest()
        self.assertEqual(mac, want)
        # nginx's legacy form, an alias, plain http, the admin console.
        h = self.ask(Auth_User="/C=US/CN=Alice%20L/emailAddress=al@example.com",
                     Auth_Protocol="http")
        self.assertEqual((h["Auth-Status"], h["Auth-Port"], h["Auth-User"]),
                         ("OK", "8080", "alice@example.com"))
        h = self.ask(Auth_User="E=zmnginx@example.com", Auth_Zimbra_Admin="True")
        self.assertEqual((h["Auth-Status"], h["Auth-Port"]), ("OK", "7071"), h)
        log = self.lookupd.log()
        self.assertIn("certauth lookup from 127.0.0.1 (X-Proxy-IP 127.0.0.1): subject "
                      + SUBJECT + " is alice@example.com", log)

    def test_refusals(self):
        cases = [
            ({"Auth_Admin_Pass": "wrong"}, "nginx admin authentication failed"),
            ({"Auth_Admin_User": "plain"}, "nginx admin authentication failed"),
            ({"X_Proxy_IP": None}, "(CERTAUTH) missing header field X-Proxy-IP"),
            ({"X_Proxy_IP": "127.0.0.2"}, "X-Proxy-IP 127.0.0.2 is not allowed"),
            ({"Auth_User": "CN=alice@example.com"}, "account not found: CN=alice@example.com"),
            ({"Auth_User": "emailAddress=mallory@example.com"},
             "account not found: emailAddress=mallory@example.com"),
        ]
        for changes, status in cases:
            with self.subTest(changes=changes):
                h = self.ask(**changes)
                self.assertEqual(h["_status"], "HTTP/1.0 200 OK")
                self.assertEqual(h["Auth-Status"], status)
                self.assertNotIn("Auth-Pass", h)
        h = self.ask(source="127.0.0.2")
        self.assertEqual(h["Auth-Status"],
                         "lookup peer 127.0.0.2 is not allowed (not in zimbraReverseProxyAdminIPAddress)")
        log = self.lookupd.log()
        self.assertIn("certauth lookup from 127.0.0.1 (X-Proxy-IP 127.0.0.1) refused: "
                      "nginx admin authentication failed", log)
        self.assertNotIn(ADMIN_PASS, log)


if __name__ == "__main__":
    unittest.main()
