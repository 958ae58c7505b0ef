"""The proxy's side of a gssapi lookup: the RouteResolver (through tests'
resolver_probe) asks a real zmlookupd with Auth-Method gssapi, the principal
and the nginx admin's account, gets the account and a token the secret
verifies, and never caches the answer: not in process, not in memcached."""
import hashlib
import hmac
import json
import os
import subprocess
import sys
import unittest

from zmproxy_testing import tool

from gssapi_lookup_test import ADMIN_PASS, SECRET, GssapiLookupBase

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "support"))


class GssapiResolverTest(GssapiLookupBase):

    def setUp(self):
        super().setUp()
        from memcached import Memcached
        self.mc = Memcached()
        self.mc.start()
        self.addCleanup(self.mc.stop)

    def probe(self, admin_pass=ADMIN_PASS):
        args = [tool("resolver_probe"), "--handler", self.lookupd.address,
                "--memcached", self.mc.server, "--mailbox-server", "127.0.0.2:7143",
                "--mailbox-server", "127.0.0.2:7110", "--secret", SECRET,
                "--local-ttl", "60", "--gssapi-admin-user", "zmnginx",
                "--gssapi-admin-password", admin_pass]
        p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.addCleanup(p.stdout.close)
        self.addCleanup(p.wait, 30)
        self.addCleanup(p.stdin.close)

        def ask(line):
            p.stdin.write(line + "\n")
            p.stdin.flush()
            return json.loads(p.stdout.readline())
        return ask

    def check_token(self, token, account):
        prefix, expiry, mac = token.split(":")
        self.assertEqual(prefix, "zmlt1")
        want = hmac.new(SECRET.encode(), f"{account}|{expiry}".encode(),
                        hashlib.sha256).hexdigest()
        self.assertEqual(mac, want)

    def test_gssapi_route_account_and_token_never_cached(self):
        ask = self.probe()
        for _ in range(2):
            r = ask("gssapi imap alice@ZMPROXY.TEST -")
            self.assertEqual((r["ok"], r["host"], r["port"], r["user"], r["source"]),
                             (True, "127.0.0.2", 7143, "alice@example.com", "handler"), r)
            self.check_token(r["token"], "alice@example.com")
        r = ask("gssapi pop3 alice@ZMPROXY.TEST alice")  # authz by its own bare name
        self.assertEqual((r["ok"], r["port"], r["user"]), (True, 7110, "alice@example.com"), r)
        stats = ask("stats")
        self.assertEqual((stats["local_hits"], stats["memcached_hits"], stats["local_entries"]),
                         (0, 0, 0), stats)
        self.assertEqual(stats["handler_lookups"], 3)
        self.assertIsNone(self.mc.get("route:proto=imap;user=alice@example.com"))
        self.assertIsNone(self.mc.get("route:proto=pop3;user=alice@example.com"))
        self.assertIsNone(self.mc.get("alias:user=alice@zmproxy.test;ip=127.0.0.1"))
        # The same resolver does cache a username route (so the checks above can fail).
        r = ask("resolve imap bob@example.com")
        self.assertEqual((r["ok"], r["source"]), (True, "handler"), r)
        self.assertNotIn("token", r)
        self.assertEqual(self.mc.get("route:proto=imap;user=bob@example.com"),
                         b"127.0.0.2:7143")

    def test_refusals_come_back_without_a_token(self):
        r = self.probe(admin_pass="wrong")("gssapi imap alice@ZMPROXY.TEST -")
        self.assertEqual((r["ok"], r["message"]), (False, "nginx admin authentication failed"), r)
        ask = self.probe()
        r = ask("gssapi imap carol@ZMPROXY.TEST -")
        self.assertEqual(r["message"],
                         "No account was found which has kerberos principal carol@ZMPROXY.TEST")
        r = ask("gssapi imap alice@ZMPROXY.TEST bob")
        self.assertEqual(r["message"], "authorization failed for bob@example.com")
        self.assertNotIn("token", r)
        # Nothing reached memcached for these either.
        self.assertIsNone(self.mc.get("route:proto=imap;user=alice@example.com"))
        # The admin password never reaches zmlookupd's log.
        self.assertNotIn(ADMIN_PASS, self.lookupd.log())


if __name__ == "__main__":
    unittest.main()
