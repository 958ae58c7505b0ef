"""zmproxyctl throttle list|show|clear against real memcached servers.

The counters are written as a Zimbra proxy (and zmproxyd) writes them, over
memcached's text protocol: `add <key> 0 <ttl> 1` with "1", then `incr`,
under the exact keys of lib/throttle/throttle_keys.hpp. Two servers hold
keys spread by hand (as two proxies with different hashing would leave
them); conf/zmproxy.conf names both and sets the limits the rows are judged
against."""
import json
import os
import socket
import unittest

import mail_proxy_test  # the fixture only (MailProxyBase); `import` keeps its tests out of this module
from zmproxy_testing import HomeTestCase

from memcached import Memcached

IMAP_7 = "throttle:proto=i,ip=127.0.0.7"
POP3_V6 = "throttle:proto=p,ip=::1"
USER_ALICE = "throttle:user=alice@example.com"
PAIR_ALICE = "zmproxy:authfail:user=alice@example.com,ip=127.0.0.8"
# "Bob Smith%x@example.com" lower-cased, as safe_key escapes it.
PAIR_BOB_V6 = "zmproxy:authfail:user=bob%20smith%25x@example.com,ip=2001:db8::7"
WHITELIST_10 = "whitelist:ip=127.0.0.10"
ROUTE = "route:proto=imap;user=alice@example.com"

LIMITS = """
[throttle]
ip_limit = 5
user_limit = 10
failed_lock = 20
failed_free = 3
failed_delay = "1s"
failed_max_delay = "30s"
"""


def command(mc, text):
    """One text-protocol command on a fresh connection; the reply line."""
    with socket.create_connection((mc.address, mc.port), timeout=5) as s:
        s.sendall(text.encode())
        reply = b""
        while not reply.endswith(b"\r\n"):
            chunk = s.recv(4096)
            if not chunk:
                break
            reply += chunk
        return reply.decode().strip()


def count_to(mc, key, ttl, n):
    """The counter `key` at n, as throttling writes it: add "1" with the
    window as TTL, then incr."""
    assert command(mc, f"add {key} 0 {ttl} 1\r\n1\r\n") == "STORED"
    for _ in range(n - 1):
        command(mc, f"incr {key} 1\r\n")
    assert mc.get(key) == str(n).encode()


class ThrottleControlTest(HomeTestCase):
    def setUp(self):
        super().setUp()
        os.makedirs(os.path.join(self.home, "conf"))
        self.mc1 = Memcached().start()
        self.addCleanup(self.mc1.stop)
        self.mc2 = Memcached().start()
        self.addCleanup(self.mc2.stop)
        self.write_conf([self.mc1.server, self.mc2.server])
        count_to(self.mc1, IMAP_7, 60, 6)
        count_to(self.mc1, POP3_V6, 60, 2)
        count_to(self.mc1, USER_ALICE, 3600, 3)
        count_to(self.mc1, PAIR_ALICE, 900, 12)
        count_to(self.mc1, WHITELIST_10, 300, 1)
        self.mc1.set(ROUTE, "127.0.0.2:143", ttl=600)
        # The second server: a Zimbra proxy hashed 127.0.0.7 here too.
        count_to(self.mc2, IMAP_7, 60, 2)
        count_to(self.mc2, PAIR_BOB_V6, 900, 25)

    def write_conf(self, servers, limits=LIMITS):
        memcached = ", ".join(f'"{s}"' for s in servers)
        with open(os.path.join(self.home, "conf", "zmproxy.conf"), "w") as f:
            f.write(f'[route]\nmemcached = [{memcached}]\nmemcached_timeout = "500ms"\n{limits}')

    def ctl(self, *args):
        return self.run_tool("zmproxyctl", "throttle", *args)

    def rows(self, *args):
        r = self.ctl(*args, "--json")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(r.stderr, "")
        return json.loads(r.stdout)

    @staticmethod
    def find(rows, kind, server, **fields):
        hits = [row for row in rows if row["kind"] == kind and row["server"] == server
                and all(row[k] == v for k, v in fields.items())]
        return hits[0] if len(hits) == 1 else None

    # -- list -------------------------------------------------------------

    def test_list_shows_every_counter_of_every_server_judged_against_the_limits(self):
        rows = self.rows("list")
        self.assertEqual(len(rows), 7, rows)
        s1, s2 = self.mc1.server, self.mc2.server
        imap = self.find(rows, "ip/imap", s1, address="127.0.0.7")
        self.assertEqual((imap["count"], imap["limit"], imap["state"], imap["user"]), (6, 5, "blocked", None))
        self.assertTrue(50 <= imap["expires_in"] <= 60, imap)
        self.assertEqual(imap["key"], IMAP_7)
        self.assertEqual(self.find(rows, "ip/imap", s2, address="127.0.0.7")["state"], "none")
        pop3 = self.find(rows, "ip/pop3", s1, address="::1")
        self.assertEqual((pop3["count"], pop3["limit"], pop3["state"]), (2, 5, "none"))
        user = self.find(rows, "user", s1, user="alice@example.com")
        self.assertEqual((user["count"], user["limit"], user["state"], user["address"]), (3, 10, "none", None))
        self.assertTrue(3590 <= user["expires_in"] <= 3600, user)
        pair = self.find(rows, "failed-logins", s1, user="alice@example.com", address="127.0.0.8")
        self.assertEqual((pair["count"], pair["limit"], pair["state"], pair["delay_ms"]),
                         (12, 20, "tarpit", 30000))
        bob = self.find(rows, "failed-logins", s2, user="bob smith%x@example.com", address="2001:db8::7")
        self.assertEqual((bob["count"], bob["state"]), (25, "locked"))
        verdict = self.find(rows, "whitelist-verdict", s1, address="127.0.0.10")
        self.assertEqual((verdict["count"], verdict["state"]), (1, "whitelisted"))
        # Blocked and locked first, then the tarpit, then by count.
        self.assertEqual([r["state"] for r in rows[:3]], ["locked", "blocked", "tarpit"])
        counts = [r["count"] for r in rows[3:]]
        self.assertEqual(counts, sorted(counts, reverse=True))

    def test_list_as_text_is_an_aligned_table(self):
        r = self.ctl("list")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0].split(), ["KIND", "WHO", "COUNT", "LIMIT", "EXPIRES", "STATE", "SERVER"])
        self.assertEqual(len(lines), 8, r.stdout)
        self.assertRegex(lines[1], r"^failed-logins +bob smith%x@example.com from 2001:db8::7 +25 +20 +\d+s +locked +"
                         + self.mc2.server.replace(".", r"\.") + "$")
        self.assertRegex(lines[2], r"^ip/imap +127\.0\.0\.7 +6 +5 +\d+s +blocked ")
        self.assertRegex(lines[3], r"^failed-logins +alice@example.com from 127\.0\.0\.8 +12 +20 +\d+s +tarpit 30s ")
        # Aligned: every column starts where the header's does.
        state_at = lines[0].index("STATE")
        for line in lines[1:]:
            self.assertEqual(line[state_at - 2:state_at], "  ", line)
            self.assertNotEqual(line[state_at], " ", line)
        self.assertNotIn("route:", r.stdout)

    # -- show ---------------------------------------------------------------

    def test_show_an_ipv4_address_finds_its_counters_on_every_server(self):
        rows = self.rows("show", "127.0.0.7")
        self.assertEqual(sorted((r["kind"], r["server"], r["count"]) for r in rows),
                         sorted([("ip/imap", self.mc1.server, 6), ("ip/imap", self.mc2.server, 2)]))
        pair = self.rows("show", "127.0.0.8")
        self.assertEqual([(r["kind"], r["user"]) for r in pair], [("failed-logins", "alice@example.com")])

    def test_show_an_ipv6_address_in_any_spelling(self):
        rows = self.rows("show", "2001:DB8:0:0::7")
        self.assertEqual([(r["kind"], r["user"], r["server"]) for r in rows],
                         [("failed-logins", "bob smith%x@example.com", self.mc2.server)])
        rows = self.rows("show", "0:0::1")
        self.assertEqual([(r["kind"], r["address"]) for r in rows], [("ip/pop3", "::1")])

    def test_show_a_user_finds_the_user_counter_and_its_pairs(self):
        rows = self.rows("show", "Alice@Example.com")
        self.assertEqual(sorted(r["kind"] for r in rows), ["failed-logins", "user"])
        r = self.ctl("show", "alice@example.com")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("tarpit 30s", r.stdout)
        self.assertNotIn("127.0.0.7", r.stdout)
        r = self.ctl("show", "Bob Smith%x@example.com")
        self.assertIn("locked", r.stdout)

    def test_show_a_cidr_block(self):
        rows = self.rows("show", "127.0.0.0/29")
        self.assertEqual(sorted(r["address"] for r in rows), ["127.0.0.7", "127.0.0.7"])

    def test_show_nothing_found_says_so(self):
        r = self.ctl("show", "nobody@example.com")
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, "no throttle counters for nobody@example.com\n", ""))
        self.assertEqual(self.rows("show", "192.0.2.1"), [])

    # -- clear --------------------------------------------------------------

    def test_clear_an_address_deletes_it_on_every_server_and_keeps_the_rest(self):
        r = self.ctl("clear", "127.0.0.7")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(sorted(r.stdout.splitlines()), sorted([
            f"removed ip/imap 127.0.0.7 (count 6) on {self.mc1.server}",
            f"removed ip/imap 127.0.0.7 (count 2) on {self.mc2.server}"]))
        self.assertIsNone(self.mc1.get(IMAP_7))
        self.assertIsNone(self.mc2.get(IMAP_7))
        for key in (POP3_V6, USER_ALICE, PAIR_ALICE, WHITELIST_10, ROUTE):
            self.assertIsNotNone(self.mc1.get(key), key)
        self.assertIsNotNone(self.mc2.get(PAIR_BOB_V6))
        r = self.ctl("clear", "127.0.0.7")
        self.assertEqual((r.returncode, r.stdout), (0, "nothing to clear for 127.0.0.7\n"))

    def test_clear_a_user_lifts_the_user_counter_and_its_pairs(self):
        r = self.ctl("clear", "ALICE@example.com")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(len(r.stdout.splitlines()), 2, r.stdout)
        self.assertIsNone(self.mc1.get(USER_ALICE))
        self.assertIsNone(self.mc1.get(PAIR_ALICE))
        self.assertIsNotNone(self.mc1.get(IMAP_7))
        self.assertIsNotNone(self.mc1.get(ROUTE))

    def test_clear_an_ipv6_pair_on_the_second_server(self):
        r = self.ctl("clear", "2001:db8::7")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(r.stdout, f"removed failed-logins bob smith%x@example.com from 2001:db8::7 (count 25) "
                                   f"on {self.mc2.server}\n")
        self.assertIsNone(self.mc2.get(PAIR_BOB_V6))

    # -- failures -----------------------------------------------------------

    def test_a_stopped_server_is_one_line_and_the_others_are_still_listed(self):
        self.mc2.stop()
        r = self.ctl("list")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
        self.assertIn(self.mc2.server, r.stderr)
        self.assertIn("blocked", r.stdout)
        self.assertNotIn(self.mc2.server, r.stdout)
        r = self.ctl("clear", "127.0.0.7")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, f"removed ip/imap 127.0.0.7 (count 6) on {self.mc1.server}\n")
        self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)

    def test_no_memcached_configured_is_one_line(self):
        self.write_conf([])
        for args in (["list"], ["show", "127.0.0.7"], ["clear", "alice@example.com"]):
            r = self.ctl(*args)
            self.assertEqual(r.returncode, 1, args)
            self.assertEqual(r.stdout, "")
            self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
            self.assertIn("[route] memcached", r.stderr)

    def test_usage_errors_exit_2_with_the_usage_line(self):
        for args in ([], ["frob"], ["show"], ["clear"], ["list", "extra"], ["show", "a", "b"], ["show", " "],
                     ["clear", "a", "--json"]):
            r = self.ctl(*args)
            self.assertEqual(r.returncode, 2, args)
            self.assertTrue(r.stderr.startswith("usage: zmproxyctl throttle list"), r.stderr)
        self.assertIsNotNone(self.mc1.get(IMAP_7))

    def test_limits_off_mean_nothing_is_blocked(self):
        self.write_conf([self.mc1.server], limits="")
        rows = self.rows("list")
        self.assertTrue(rows)
        for row in rows:
            if row["kind"] != "whitelist-verdict" and row["kind"] != "failed-logins":
                self.assertEqual((row["limit"], row["state"]), (None, "none"), row)


class DumpingDisabled(Memcached):
    """A memcached started with -X (--disable-dumping): it cannot list its keys."""

    def spawn(self, argv, output_path, **popen_args):
        return super().spawn([*argv, "-X"], output_path, **popen_args)


class DumpingDisabledTest(HomeTestCase):
    def setUp(self):
        super().setUp()
        os.makedirs(os.path.join(self.home, "conf"))
        self.mc = DumpingDisabled().start()
        self.addCleanup(self.mc.stop)
        with open(os.path.join(self.home, "conf", "zmproxy.conf"), "w") as f:
            f.write(f'[route]\nmemcached = ["{self.mc.server}"]\n[throttle]\nuser_limit = 2\n')
        count_to(self.mc, USER_ALICE, 3600, 3)
        count_to(self.mc, PAIR_ALICE, 900, 4)

    def test_the_fix_is_named_and_named_counters_are_still_found_and_cleared(self):
        r = self.run_tool("zmproxyctl", "throttle", "list")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
        self.assertIn("-X", r.stderr)
        self.assertIn(self.mc.server, r.stderr)
        # The user's own counter is asked for by name; the pair needs the dump.
        r = self.run_tool("zmproxyctl", "throttle", "show", "alice@example.com")
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stdout, r"user +alice@example.com +3 +2 +\? +blocked")
        r = self.run_tool("zmproxyctl", "throttle", "clear", "alice@example.com")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, f"removed user alice@example.com (count 3) on {self.mc.server}\n")
        self.assertIsNone(self.mc.get(USER_ALICE))


class CrawlerOff(Memcached):
    """A memcached started with -o no_lru_crawler: it cannot list its keys."""

    def spawn(self, argv, output_path, **popen_args):
        return super().spawn([*argv, "-o", "no_lru_crawler"], output_path, **popen_args)


class CrawlerOffTest(HomeTestCase):
    def test_the_fix_is_named_and_works(self):
        os.makedirs(os.path.join(self.home, "conf"))
        mc = CrawlerOff().start()
        self.addCleanup(mc.stop)
        with open(os.path.join(self.home, "conf", "zmproxy.conf"), "w") as f:
            f.write(f'[route]\nmemcached = ["{mc.server}"]\n')
        count_to(mc, IMAP_7, 60, 2)
        r = self.run_tool("zmproxyctl", "throttle", "list")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
        self.assertIn("no_lru_crawler", r.stderr)
        self.assertIn(f"echo 'lru_crawler enable' | nc -q1 {mc.address} {mc.port}", r.stderr)
        # The fix it names, sent as it says.
        self.assertEqual(command(mc, "lru_crawler enable\n"), "OK")
        r = self.run_tool("zmproxyctl", "throttle", "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("127.0.0.7", r.stdout)


class ThrottleEndToEndTest(mail_proxy_test.MailProxyBase):
    """zmproxyd counting failed logins in a real memcached, in front of a real
    Dovecot; zmproxyctl shows the pair and lifts its lock."""

    extra_conf = "[throttle]\nfailed_free = 10\nfailed_lock = 5\n"

    def login(self, password, source):
        """A LOGIN of user1 from `source`; the tagged reply line."""
        s, f = self.raw(self.ports["imap"], source)
        with s:
            self.assertTrue(f.readline().startswith(b"* OK"))
            s.sendall(f"a LOGIN user1@example.com {password}\r\n".encode())
            while True:
                line = f.readline()
                if not line or line.startswith(b"a "):
                    return line.decode().strip()

    def test_a_locked_pair_is_listed_and_clear_lifts_it(self):
        password = mail_proxy_test.PASSWORDS["user1@example.com"]
        for _ in range(5):
            self.assertTrue(self.login("wrong", "127.0.0.8").startswith("a NO"))
        self.assertTrue(self.login(password, "127.0.0.8").startswith("a NO"))
        r = self.run_tool("zmproxyctl", "throttle", "list", "--json")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        pairs = [row for row in json.loads(r.stdout) if row["kind"] == "failed-logins"]
        self.assertEqual([(p["user"], p["address"], p["count"], p["limit"], p["state"]) for p in pairs],
                         # Five failures and the refused attempt: under a lock each
                         # attempt of a pair seen failing counts before it goes on.
                         [("user1@example.com", "127.0.0.8", 6, 5, "locked")])
        self.assertTrue(0 < pairs[0]["expires_in"] <= 900, pairs)
        # Another address is not affected.
        self.assertTrue(self.login(password, "127.0.0.9").startswith("a OK"))
        r = self.run_tool("zmproxyctl", "throttle", "clear", "127.0.0.8")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(r.stdout, f"removed failed-logins user1@example.com from 127.0.0.8 (count 6) "
                                   f"on {self.mc.server}\n")
        self.assertTrue(self.login(password, "127.0.0.8").startswith("a OK"))


if __name__ == "__main__":
    unittest.main()
