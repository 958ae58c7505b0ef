"""gssapi lookups mint login tokens, so zmlookupd must hand them only to the
proxies (issue 16). Zimbra's handler believes the X-Proxy-IP header and
answers "No account was found which has kerberos principal" to anyone; here
the TCP peer must be an admin address too, the admin password is checked
before any principal is looked up, and a token is bound to its user, its
expiry and the secret."""
import adversarial_testing  # noqa: F401  (puts tests/integration and tests/support on the path)

import time
import unittest

from gssapi_lookup_test import ADMIN_PASS, SECRET, GssapiLookupBase


class GssapiLookupAbuseTest(GssapiLookupBase):
    def test_forged_x_proxy_ip_with_stolen_admin_password_gets_no_token(self):
        # Everything right, the header claims the allowed address, but the
        # connection comes from 127.0.0.3.
        h = self.ask(source="127.0.0.3", X_Proxy_IP="127.0.0.1")
        self.assertNotEqual(h["Auth-Status"], "OK")
        self.assertNotIn("Auth-Pass", h)
        self.assertNotIn("Auth-Server", h)
        self.assertIn("lookup peer 127.0.0.3 is not allowed", self.lookupd.log())

    def test_principals_cannot_be_probed_without_the_admin_password(self):
        known = self.ask(Auth_Admin_Pass="guess")
        unknown = self.ask(Auth_Admin_Pass="guess", Auth_Id="nobody@ZMPROXY.TEST",
                           Auth_User="nobody@ZMPROXY.TEST")
        self.assertEqual(known["Auth-Status"], "nginx admin authentication failed")
        self.assertEqual(unknown["Auth-Status"], known["Auth-Status"])
        # Nor from a disallowed peer with the right password.
        known = self.ask(source="127.0.0.4")
        unknown = self.ask(source="127.0.0.4", Auth_Id="nobody@ZMPROXY.TEST",
                           Auth_User="nobody@ZMPROXY.TEST")
        self.assertEqual(unknown["Auth-Status"], known["Auth-Status"])

    def test_a_non_admin_account_password_is_not_enough(self):
        h = self.ask(Auth_Admin_User="plain", Auth_Admin_Pass=ADMIN_PASS)
        self.assertEqual(h["Auth-Status"], "nginx admin authentication failed")
        self.assertNotIn("Auth-Pass", h)

    def test_a_principal_cannot_act_for_another_account(self):
        for other in ("bob", "bob@example.com", "zmnginx"):
            with self.subTest(other=other):
                h = self.ask(Auth_User=other)
                self.assertTrue(h["Auth-Status"].startswith("authorization failed for "), h)
                self.assertNotIn("Auth-Pass", h)

    def test_control_bytes_and_huge_values_are_refused(self):
        # A tab is legal HTTP inside a field value; the lookup refuses it.
        h = self.ask(Auth_Id="alice@ZMPROXY.TEST\tx")
        self.assertEqual(h.get("Auth-Status"), "(GSSAPI) invalid header field Auth-ID", h)
        # Other control bytes are not HTTP at all: the connection is closed.
        h = self.ask(Auth_Id="alice@ZMPROXY.TEST\x01")
        self.assertNotIn("Auth-Pass", h)
        h = self.ask(Auth_Admin_Pass="x" * 5000)
        self.assertEqual(h["Auth-Status"], "(GSSAPI) invalid header field Auth-Admin-Pass")

    def test_the_token_is_bound_to_user_expiry_and_secret(self):
        import hashlib
        import hmac
        h = self.ask()
        self.assertEqual(h["Auth-Status"], "OK", h)
        _, expiry, mac = h["Auth-Pass"].split(":")
        self.assertLessEqual(int(expiry), int(time.time()) + 60)

        def mac_for(user, exp, key=SECRET):
            return hmac.new(key.encode(), f"{user}|{exp}".encode(), hashlib.sha256).hexdigest()
        self.assertEqual(mac, mac_for("alice@example.com", expiry))
        self.assertNotEqual(mac, mac_for("bob@example.com", expiry))
        self.assertNotEqual(mac, mac_for("alice@example.com", int(expiry) + 3600))
        self.assertNotEqual(mac, mac_for("alice@example.com", expiry, "another-secret"))

    def test_without_a_secret_no_token_is_minted(self):
        self.lookupd.stop()
        r = self.run_tool("zmlocalconfig", "-e", "zmlookupd_secret=")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.lookupd.start()
        h = self.ask(X_Zmproxy_Lookup_Secret=None)
        self.assertTrue(h["Auth-Status"].startswith("gssapi lookups need zmlookupd_secret"), h)
        self.assertNotIn("Auth-Pass", h)


if __name__ == "__main__":
    unittest.main()
