"""zmlookupd's gssapi lookups against a real zmlookupd over a store provisioned
with zmprov: the account found by its Kerberos principal, the caller checked
by X-Proxy-IP and by the connection's real source address, the nginx admin's
password, and the token in Auth-Pass verified with the secret."""
import hashlib
import hmac
import os
import socket
import sys
import time
import unittest

from zmproxy_testing import BIN_DIR, HomeTestCase

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "support"))
from zmproxy_procs import Daemon  # noqa: E402

SECRET = "gssapi-test-secret"
ADMIN_PASS = "nginx-admin-pw"


def raw_lookup(address, headers, source="127.0.0.1"):
    """One HTTP/1.0 lookup sent by hand from `source`; the reply's status
    line and headers."""
    host, port = address.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=30, source_address=(source, 0))
    request = "GET /service/extension/nginx-lookup HTTP/1.0\r\nHost: localhost\r\n"
    request += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    s.sendall(request.encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    lines = data.decode().split("\r\n\r\n", 1)[0].split("\r\n")
    reply = {"_status": lines[0]}
    for line in lines[1:]:
        k, v = line.split(": ", 1)
        reply[k] = v
    return reply


class GssapiLookupBase(HomeTestCase):
    """A store with alice (principal alice@ZMPROXY.TEST), bob, the admin
    zmnginx and the non-admin plain; zmlookupd with a secret on 127.0.0.1;
    only 127.0.0.1 in zimbraReverseProxyAdminIPAddress."""
    slapd = None  # the LDAP variant sets it

    def setUp(self):
        super().setUp()
        if self.slapd is not None:
            r = self.run_tool("zmlocalconfig", "-e", f"ldap_url={self.slapd.url}",
                              f"zimbra_ldap_userdn={self.slapd.bind_dn}",
                              f"zimbra_ldap_password={self.slapd.password}")
            self.assertEqual(r.returncode, 0, r.stderr)
        lines = ["cd example.com", "mcf zimbraDefaultDomainName example.com",
                 "mcf zimbraReverseProxyAdminIPAddress 127.0.0.1",
                 "cs 127.0.0.2 zimbraImapBindPort 7143 zimbraPop3BindPort 7110",
                 "ca alice@example.com pw1 zimbraMailHost 127.0.0.2"
                 " zimbraForeignPrincipal kerberos5:alice@ZMPROXY.TEST",
                 "ca bob@example.com pw2 zimbraMailHost 127.0.0.2",
                 f"ca zmnginx@example.com {ADMIN_PASS} zimbraIsAdminAccount TRUE",
                 f"ca plain@example.com {ADMIN_PASS}"]
        r = self.run_tool("zmprov", input="\n".join(lines) + "\n")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = self.run_tool("zmlocalconfig", "-e", f"zmlookupd_secret={SECRET}")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.lookupd = Daemon(BIN_DIR, "zmlookupd", self.home, ["--listen", "127.0.0.1:0"]).start()
        self.addCleanup(self.lookupd.stop)

    def ask(self, source="127.0.0.1", **changes):
        headers = {"Auth-Method": "gssapi", "Auth-User": "alice@ZMPROXY.TEST",
                   "Auth-Id": "alice@ZMPROXY.TEST", "Auth-Pass": "_password_",
                   "Auth-Protocol": "imap", "Auth-Login-Attempt": "1",
                   "Client-IP": "192.0.2.10", "X-Proxy-IP": "127.0.0.1",
                   "Auth-Admin-User": "zmnginx", "Auth-Admin-Pass": ADMIN_PASS,
                   "X-Zmproxy-Lookup-Secret": SECRET}
        for k, v in changes.items():
            k = k.replace("_", "-")
            if v is None:
                headers.pop(k, None)
            else:
                headers[k] = v
        return raw_lookup(self.lookupd.address, headers, source)


class GssapiLookupTest(GssapiLookupBase):

    def test_allowed_caller_gets_route_user_and_token(self):
        before = int(time.time())
        h = self.ask()
        self.assertEqual(h["Auth-Status"], "OK", h)
        self.assertEqual((h["Auth-Server"], h["Auth-Port"]), ("127.0.0.2", "7143"))
        self.assertEqual(h["Auth-User"], "alice@example.com")
        token = h["Auth-Pass"]
        prefix, expiry, mac = token.split(":")
        self.assertEqual(prefix, "zmlt1")
        self.assertTrue(before + 60 <= int(expiry) <= int(time.time()) + 60)
        want = hmac.new(SECRET.encode(), f"alice@example.com|{expiry}".encode(),
                        hashlib.sha256).hexdigest()
        self.assertEqual(mac, want)
        h = self.ask(Auth_Protocol="pop3", Auth_User="alice")  # authz by its own bare name
        self.assertEqual((h["Auth-Status"], h["Auth-Port"]), ("OK", "7110"))

    def test_peer_not_allowed_though_header_is(self):
        h = self.ask(source="127.0.0.2")
        self.assertEqual(h["Auth-Status"],
                         "lookup peer 127.0.0.2 is not allowed (not in zimbraReverseProxyAdminIPAddress)")
        self.assertNotIn("Auth-Pass", h)

    def test_header_not_allowed_though_peer_is(self):
        h = self.ask(X_Proxy_IP="127.0.0.2")
        self.assertEqual(h["Auth-Status"], "X-Proxy-IP 127.0.0.2 is not allowed")
        self.assertNotIn("Auth-Pass", h)

    def test_refusals_use_zimbras_texts(self):
        cases = [
            ({"Auth_Admin_Pass": "wrong"}, "nginx admin authentication failed"),
            ({"Auth_Admin_User": "plain"}, "nginx admin authentication failed"),
            ({"Auth_Id": None}, "(GSSAPI) missing header field Auth-ID"),
            ({"Auth_Admin_Pass": None}, "(GSSAPI) missing header field Auth-Admin-Pass"),
            ({"Auth_Id": "carol@ZMPROXY.TEST", "Auth_User": "carol@ZMPROXY.TEST"},
             "No account was found which has kerberos principal carol@ZMPROXY.TEST"),
            ({"Auth_Id": "ALICE@ZMPROXY.TEST", "Auth_User": "ALICE@ZMPROXY.TEST"},
             "No account was found which has kerberos principal ALICE@ZMPROXY.TEST"),
            ({"Auth_User": "bob"}, "authorization failed for bob@example.com"),
        ]
        for changes, status in cases:
            with self.subTest(changes=changes):
                h = self.ask(**changes)
                self.assertEqual(h["_status"], "HTTP/1.0 200 OK")
                self.assertEqual(h["Auth-Status"], status)
                self.assertEqual(h["Auth-Wait"], "10")
                self.assertNotIn("Auth-Pass", h)
        log = self.lookupd.log()
        self.assertIn("refused: nginx admin authentication failed", log)
        self.assertIn("refused: authorization failed for bob@example.com", log)

    def test_no_password_or_token_in_the_log(self):
        token = self.ask()["Auth-Pass"]
        self.ask(Auth_Admin_Pass="wrong-" + ADMIN_PASS)
        log = self.lookupd.log()
        self.assertNotIn(ADMIN_PASS, log)
        self.assertNotIn(token.split(":")[2], log)


class LdapGssapiLookupTest(GssapiLookupTest):
    """The same over a real slapd: the principal, the admin flag and the
    userPassword hash reach zmlookupd's index through LDAP. Each test gets a
    directory of its own (each provisions the same accounts)."""

    def setUp(self):
        from slapd import Slapd
        self.slapd = Slapd()
        self.slapd.start()
        self.addCleanup(self.slapd.stop)
        super().setUp()
        # The accounts are in slapd, not in a file store beside it.
        found = self.slapd.ldapsearch("dc=example,dc=com", "(zimbraForeignPrincipal=*)",
                                      ["zimbraForeignPrincipal", "userPassword"])
        self.assertIn("zimbraForeignPrincipal: kerberos5:alice@ZMPROXY.TEST", found)


if __name__ == "__main__":
    unittest.main()
