"""Client certificates through zmproxyd end to end: a test CA issues client
certificates; zmproxyd's certauth listener verifies them against
http.client_cert_ca, makes the certauth lookup at a real zmlookupd and
forwards /certauth to the account's mailbox (tests/support/web_backend.py)
with the identity fields; another CA's, an expired, or no certificate gets
403 or the login page per http.client_cert_mode; the HTTPS listener answers
400 as nginx does."""
import hashlib
import hmac
import http.client
import json
import os
import ssl
import sys
import unittest

from zmproxy_testing import BIN_DIR, HomeTestCase

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "support"))
from zmproxy_procs import Daemon, WebBackend  # noqa: E402
from test_ca import TestCa, issue_client_certificate, proxy_certificate  # noqa: E402

SECRET = "certauth-web-secret"
ADMIN_PASS = "nginx-admin-pw"


class CertauthWebBase(HomeTestCase):
    mode = "on"

    @classmethod
    def setUpClass(cls):
        cls.b1 = WebBackend("mbox1", "127.0.0.2").start()

    @classmethod
    def tearDownClass(cls):
        cls.b1.stop()

    def setUp(self):
        super().setUp()
        lines = ["cd example.com", "mcf zimbraDefaultDomainName example.com",
                 "mcf zimbraReverseProxyAdminIPAddress 127.0.0.1",
                 f"cs 127.0.0.2 zimbraMailPort {self.b1.port} zimbraAdminPort {self.b1.port}",
                 "ca user1@example.com pw zimbraMailHost 127.0.0.2",
                 f"ca zmnginx@example.com {ADMIN_PASS} zimbraIsAdminAccount TRUE"
                 " zimbraMailHost 127.0.0.2"]
        r = self.run_tool("zmprov", input="\n".join(lines) + "\n")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = self.run_tool("zmlocalconfig", "-e", f"zmlookupd_secret={SECRET}")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.lookupd = Daemon(BIN_DIR, "zmlookupd", self.home, ["--listen", "127.0.0.1:0"]).start()
        self.addCleanup(self.lookupd.stop)
        conf = os.path.join(self.home, "conf")
        proxy_certificate(conf)
        self.ca = TestCa(os.path.join(self.home, "ca"))
        self.other_ca = TestCa(os.path.join(self.home, "other-ca"), cn="another CA")
        with open(os.path.join(self.home, "conf", "zmproxy.conf"), "w") as f:
            f.write(f"""
[server]
bind_address = "127.0.0.1"
workers = 1

[route]
handlers = ["{self.lookupd.address}"]
secret = "{SECRET}"

[mail]
enabled = false

[upstream]
ssl = false

[http]
enabled = true
mode = "both"
port = 0
ssl_port = 0
strict_server_name = false
upstreams = ["{self.b1.server}"]
client_cert_mode = "{self.mode}"
client_cert_ca = "{self.ca.path}"
certauth_port = 0

[kerberos]
admin_user = "zmnginx"
admin_password = "{ADMIN_PASS}"
""")
        self.proxy = Daemon(BIN_DIR, "zmproxyd", self.home).start()
        self.addCleanup(self.proxy.stop)
        self.ports = self.proxy.listener_ports()

    def client_cert(self, name, subject, ca=None, expired=False):
        return issue_client_certificate(ca or self.ca, name, subject, expired=expired,
                                        directory=os.path.join(self.home, "clients"))

    def request(self, listener, path, cert=None, headers=None):
        """(status, headers, body) of one GET to `listener` presenting `cert`."""
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        if cert:
            context.load_cert_chain(*cert)
        conn = http.client.HTTPSConnection("127.0.0.1", self.ports[listener], context=context, timeout=30)
        conn.request("GET", path, headers={"Host": "mail.example.com", **(headers or {})})
        r = conn.getresponse()
        body = r.read()
        conn.close()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, body


class CertauthOnTest(CertauthWebBase):

    def test_signed_certificate_reaches_the_mailbox_with_its_identity(self):
        cert = self.client_cert("alice", "/CN=Alice Liddell/emailAddress=user1@example.com")
        status, _, body = self.request("certauth", "/certauth?x=1", cert,
                                       headers={"X-Zimbra-Certauth-Account": "zmnginx@example.com",
                                                "X-Client-Cert-Subject": "CN=forged"})
        self.assertEqual(status, 200, body)
        seen = json.loads(body)
        self.assertEqual((seen["name"], seen["path"]), ("mbox1", "/certauth?x=1"))
        h = seen["headers"]
        self.assertEqual(h["X-Client-Cert-Verify"], "SUCCESS")
        self.assertEqual(h["X-Client-Cert-Subject"],
                         "emailAddress=user1@example.com,CN=Alice Liddell")
        self.assertEqual(h["X-Zimbra-Certauth-Account"], "user1@example.com")
        _, expiry, mac = h["X-Zimbra-Certauth-Token"].split(":")
        self.assertEqual(mac, hmac.new(SECRET.encode(), f"user1@example.com|{expiry}".encode(),
                                       hashlib.sha256).hexdigest())
        # The client's own identity fields were dropped, not merely overridden.
        self.assertNotIn("forged", json.dumps(h))
        self.assertIn("certauth lookup from 127.0.0.1 (X-Proxy-IP 127.0.0.1): subject "
                      "emailAddress=user1@example.com,CN=Alice Liddell is user1@example.com",
                      self.lookupd.log())
        # The admin console variant: only for an admin account (user1 is not),
        # routed to its zimbraAdminPort.
        status, _, body = self.request("certauth", "/certauth/admin", cert)
        self.assertEqual(status, 403, body)
        admin = self.client_cert("admin", "/CN=Admin/emailAddress=zmnginx@example.com")
        status, _, body = self.request("certauth", "/certauth/admin", admin)
        self.assertEqual(status, 200, body)
        seen = json.loads(body)
        self.assertEqual((seen["path"], seen["headers"]["X-Zimbra-Certauth-Account"]),
                         ("/certauth/admin", "zmnginx@example.com"))

    def test_unsigned_expired_absent_and_unknown_are_forbidden(self):
        cases = {
            "another CA": self.client_cert("mallory", "/CN=M/emailAddress=user1@example.com",
                                           ca=self.other_ca),
            "expired": self.client_cert("old", "/CN=Old/emailAddress=user1@example.com",
                                        expired=True),
            "none": None,
            "no account": self.client_cert("nobody", "/CN=user1@example.com"),
        }
        for what, cert in cases.items():
            with self.subTest(what):
                status, _, body = self.request("certauth", "/certauth", cert)
                self.assertEqual(status, 403, body)
                self.assertNotIn(b"mbox1", body)
        self.assertIn("client certificate refused: certificate has expired", self.proxy.log())

    def test_only_certauth_paths_are_served(self):
        cert = self.client_cert("alice", "/CN=Alice/emailAddress=user1@example.com")
        for path in ("/", "/certauth/other", "/home/user1/inbox", "/certauthx"):
            with self.subTest(path):
                status, _, _ = self.request("certauth", path, cert)
                self.assertEqual(status, 403)

    def test_https_listener_requires_a_certificate_in_mode_on(self):
        status, _, body = self.request("https", "/", None)
        self.assertEqual(status, 400)
        self.assertIn(b"No required SSL certificate was sent", body)
        bad = self.client_cert("mallory", "/CN=M", ca=self.other_ca)
        status, _, body = self.request("https", "/", bad)
        self.assertEqual(status, 400)
        self.assertIn(b"The SSL certificate error", body)
        good = self.client_cert("alice", "/CN=Alice/emailAddress=user1@example.com")
        status, _, body = self.request("https", "/", good)
        self.assertEqual((status, json.loads(body)["name"]), (200, "mbox1"))


class CertauthOptionalTest(CertauthWebBase):
    mode = "optional"

    def test_no_certificate_goes_to_the_login_page(self):
        status, headers, _ = self.request("certauth", "/certauth", None)
        self.assertEqual(status, 302)
        self.assertEqual(headers["location"],
                         f"https://mail.example.com:{self.ports['https']}/?ignoreLoginURL=1")
        # The HTTPS listener lets a client without one in.
        status, _, body = self.request("https", "/", None)
        self.assertEqual((status, json.loads(body)["name"]), (200, "mbox1"))

    def test_a_certificate_naming_no_account_goes_to_the_login_page(self):
        cert = self.client_cert("nobody", "/CN=nobody/emailAddress=nobody@example.com")
        status, headers, _ = self.request("certauth", "/certauth", cert)
        self.assertEqual(status, 302)
        self.assertTrue(headers["location"].endswith("/?ignoreLoginURL=1"))
        bad = self.client_cert("mallory", "/CN=M/emailAddress=user1@example.com", ca=self.other_ca)
        status, _, _ = self.request("certauth", "/certauth", bad)
        self.assertEqual(status, 403)


if __name__ == "__main__":
    unittest.main()
