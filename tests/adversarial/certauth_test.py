"""Client-certificate logins vouch for an account, so nothing a client sends
may stand in for a verified certificate (issue 17): identity fields a client
writes itself never reach a mailbox, on any web listener; a self-signed
certificate or one from another CA naming the account gets 403 and no
lookup; a subject that smuggles "emailAddress=" inside another attribute
names nobody (the printed subject escapes it); and zmlookupd gives no
certauth token to a caller outside zimbraReverseProxyAdminIPAddress."""
import adversarial_testing  # noqa: F401  (puts tests/integration and tests/support on the path)

import http.client
import json
import os
import unittest

from certauth_web_test import CertauthWebBase
import certauth_lookup_test
from test_ca import issue_client_certificate, self_signed_certificate

FORGED = {"X-Client-Cert-Verify": "SUCCESS",
          "X-Client-Cert-Subject": "emailAddress=zmnginx@example.com",
          "X-Zimbra-Certauth-Account": "zmnginx@example.com",
          "X-Zimbra-Certauth-Token": "zmlt1:9999999999:00",
          "x-ssl-client-s-dn": "CN=admin"}


class CertauthSpoofingTest(CertauthWebBase):

    def assert_no_forged_field(self, seen):
        names = {k.lower() for k in seen["headers"]}
        for forged in FORGED:
            self.assertNotIn(forged.lower(), names, seen["headers"])

    def test_identity_fields_from_the_client_never_reach_the_mailbox(self):
        good = self.client_cert("alice", "/CN=Alice/emailAddress=user1@example.com")
        # The HTTPS listener (with a valid certificate) and the plain one.
        status, _, body = self.request("https", "/service/soap", good, headers=FORGED)
        self.assertEqual(status, 200, body)
        self.assert_no_forged_field(json.loads(body))
        conn = http.client.HTTPConnection("127.0.0.1", self.ports["http"], timeout=30)
        conn.request("GET", "/", headers={"Host": "mail.example.com", **FORGED})
        seen = json.loads(conn.getresponse().read())
        conn.close()
        self.assert_no_forged_field(seen)
        # The certauth listener: the proxy's own values replace them.
        status, _, body = self.request("certauth", "/certauth", good, headers=FORGED)
        self.assertEqual(status, 200, body)
        h = json.loads(body)["headers"]
        self.assertEqual(h["X-Zimbra-Certauth-Account"], "user1@example.com")
        self.assertNotIn("zmnginx", json.dumps(h))
        self.assertNotIn("x-ssl-client-s-dn", {k.lower() for k in h})

    def test_forged_fields_without_a_certificate_are_forbidden(self):
        status, _, body = self.request("certauth", "/certauth", None, headers=FORGED)
        self.assertEqual(status, 403, body)

    def test_unsigned_certificates_naming_the_account_are_refused(self):
        clients = os.path.join(self.home, "clients")
        os.makedirs(clients, exist_ok=True)
        # Self-signed, and signed by a CA the proxy does not trust, both
        # claiming the admin account.
        self_signed = self_signed_certificate(os.path.join(clients, "self.pem"),
                                              os.path.join(clients, "self.key"),
                                              cn="zmnginx@example.com")
        other = issue_client_certificate(self.other_ca, "other", "/CN=x/emailAddress=zmnginx@example.com",
                                         directory=clients)
        for cert in (self_signed, other):
            for path in ("/certauth", "/certauth/admin"):
                with self.subTest(cert=cert[0], path=path):
                    status, _, body = self.request("certauth", path, cert)
                    self.assertEqual(status, 403, body)
        self.assertNotIn("certauth lookup from", self.lookupd.log())

    def test_email_smuggled_into_another_attribute_names_nobody(self):
        # A CA-signed certificate whose CN holds ",emailAddress=<admin>": the
        # subject is printed with the comma escaped, so it is the CN's text.
        cert = self.client_cert("smuggler", "/CN=x,emailAddress=zmnginx@example.com/O=Example")
        status, _, body = self.request("certauth", "/certauth", cert)
        self.assertEqual(status, 403, body)
        self.assertIn("account not found: O=Example,CN=x\\,emailAddress=zmnginx@example.com",
                      self.lookupd.log())


class CertauthLookupAbuseTest(certauth_lookup_test.CertauthLookupTest):

    def test_forged_x_proxy_ip_gets_no_token(self):
        h = self.ask(source="127.0.0.3", X_Proxy_IP="127.0.0.1")
        self.assertNotEqual(h["Auth-Status"], "OK")
        self.assertNotIn("Auth-Pass", h)

    def test_subject_with_control_bytes_is_refused(self):
        h = self.ask(Auth_User="emailAddress=alice@example.com%0D%0AX-Evil:%201")
        self.assertEqual(h["Auth-Status"], "(CERTAUTH) invalid header field Auth-User")
        self.assertNotIn("Auth-Pass", h)


if __name__ == "__main__":
    unittest.main()
