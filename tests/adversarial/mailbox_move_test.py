"""A mailbox move (issue 19): `zmprov ma user zimbraMailHost mbs2` must reach
every proxy's next login of that user within a bounded time, not after the
route cache's hour (Zimbra's weak spot: REFERENCE-zimbra.md 2.4, 9 #5).

Three holes, each with its test:
  * memcached kept the old route until its TTL: zmlookupd now deletes the
    routes of every account a rebuild changed (route_purge.hpp);
  * zmproxyd's in-process cache kept it a minute more, and refilled from a
    memcached not purged yet: zmconfigd now sends FORGET ALL on every store
    change, and a forgotten user is not cached in process for a while;
  * a route the mailbox refuses was dropped on every refusal (a lookup per
    guessed password) or, in Zimbra, only then: now a refused login drops a
    route that did not come fresh from the lookup, at most once per user a
    minute.
Real parts: two Dovecots, memcached, zmlookupd, zmproxyd (started by
zmproxyctl from the store) and zmconfigd following the embedded store."""
import adversarial_testing  # noqa: F401  (puts tests/integration and tests/support on the path)

import imaplib
import json
import os
import poplib
import time
import unittest

from process import free_ports_below_ephemeral, poll_until
from test_ca import self_signed_certificate
from zmproxy_procs import Daemon, control, control_socket
from zmproxy_testing import BIN_DIR, HomeTestCase

PASSWORD = {"mover@example.com": "Pw-move-delta", "stay@example.com": "Pw-stay-echo",
            "gone@example.com": "Pw-gone-foxtrot"}
DEADLINE = 30.0  # under zmproxyd's in-process TTL (60 s): a route held there would fail the test


def wait_until(predicate, what, timeout=DEADLINE):
    try:
        return poll_until(predicate, timeout, 0.05)
    except TimeoutError:
        raise AssertionError(f"not within {timeout}s: {what}") from None


def lookupd(home, command):
    return control_socket(os.path.join(home, "run", "zmlookupd.sock"), command)


def lookupd_stats(home):
    return json.loads(lookupd(home, "STATS"))


class Mailboxes:
    """mbs1 (127.0.0.2) holds mover (1 message) and stay (2); mbs2
    (127.0.0.3) holds mover (3 messages) and gone (4), who mbs1 does not know."""

    @classmethod
    def start_mailboxes(cls):
        from dovecot import Dovecot
        from memcached import Memcached
        cls.mbs1 = Dovecot("mbs1", {"mover@example.com": PASSWORD["mover@example.com"],
                                    "stay@example.com": PASSWORD["stay@example.com"]}, address="127.0.0.2")
        cls.mbs2 = Dovecot("mbs2", {"mover@example.com": PASSWORD["mover@example.com"],
                                    "gone@example.com": PASSWORD["gone@example.com"]}, address="127.0.0.3")
        for d in (cls.mbs1, cls.mbs2):
            d.start()
        cls.mbs1.deliver("mover@example.com", "on mbs1", "1")
        for i in range(2):
            cls.mbs1.deliver("stay@example.com", f"s{i}", "body")
        for i in range(3):
            cls.mbs2.deliver("mover@example.com", f"on mbs2 {i}", "body")
        for i in range(4):
            cls.mbs2.deliver("gone@example.com", f"g{i}", "body")
        cls.mc = Memcached()
        cls.mc.start()

    @classmethod
    def stop_mailboxes(cls):
        cls.mc.stop()
        for d in (cls.mbs1, cls.mbs2):
            d.stop()

    def imap_count(self, user, password=None):
        """The INBOX size user sees through the proxy (which mailbox it landed on)."""
        with imaplib.IMAP4("127.0.0.1", self.imap_port, timeout=30) as m:
            m.login(user, password or PASSWORD[user])
            typ, data = m.select("INBOX", readonly=True)
            self.assertEqual(typ, "OK", data)
            m.logout()
            return int(data[0])

    def pop3_count(self, user):
        p = poplib.POP3("127.0.0.1", self.pop3_port, timeout=30)
        try:
            p.user(user)
            p.pass_(PASSWORD[user])
            return p.stat()[0]
        finally:
            p.quit()

    def imap_refused(self, user, password):
        m = imaplib.IMAP4("127.0.0.1", self.imap_port, timeout=30)
        try:
            with self.assertRaises(imaplib.IMAP4.error) as e:
                m.login(user, password)
            self.assertNotIsInstance(e.exception, imaplib.IMAP4.abort)  # a NO, not a dropped connection
        finally:
            m.shutdown()  # the proxy closes after a failed login: no LOGOUT


class MoveTest(Mailboxes, HomeTestCase):
    """The whole path: zmprov -> store -> zmlookupd (purge) and zmconfigd
    (FORGET ALL) -> zmproxyd's next login."""

    @classmethod
    def setUpClass(cls):
        cls.start_mailboxes()

    @classmethod
    def tearDownClass(cls):
        cls.stop_mailboxes()

    def setUp(self):
        super().setUp()
        self.mc.flush_all()
        self.check("zmlocalconfig", "-e", "zimbra_server_hostname=proxy.example.com",
                   "zmproxy_bind_address=127.0.0.1", "zmproxy_drain_timeout=1")
        self.lookupd = Daemon(BIN_DIR, "zmlookupd", self.home, ["--listen", "127.0.0.1:0"]).start()
        self.addCleanup(self.lookupd.stop)
        self.imap_port, imaps, self.pop3_port, pop3s = free_ports_below_ephemeral(4)
        script = ["cd example.com", "mcf zimbraDefaultDomainName example.com",
                  "mcf zimbraReverseProxyAuthWaitInterval 0s"]
        for d in (self.mbs1, self.mbs2):
            script.append(f"cs {d.address} zimbraImapBindPort {d.imap_port} zimbraPop3BindPort {d.pop3_port}")
        script += ["ca mover@example.com x zimbraMailHost 127.0.0.2",
                   "ca stay@example.com x zimbraMailHost 127.0.0.2",
                   "ca gone@example.com x zimbraMailHost 127.0.0.3",
                   "cs proxy.example.com zimbraServiceHostname 127.0.0.1 zimbraReverseProxyLookupTarget TRUE "
                   f"zimbraExtensionBindPort {self.lookupd.port} "
                   f"zimbraImapProxyBindPort {self.imap_port} zimbraImapSSLProxyBindPort {imaps} "
                   f"zimbraPop3ProxyBindPort {self.pop3_port} zimbraPop3SSLProxyBindPort {pop3s} "
                   "zimbraReverseProxyImapStartTlsMode off zimbraReverseProxyPop3StartTlsMode off "
                   "zimbraReverseProxySSLToUpstreamEnabled FALSE zimbraReverseProxyWorkerProcesses 2 "
                   f"zimbraServiceEnabled memcached zimbraMemcachedBindPort {self.mc.port}"]
        self.check("zmprov", input="\n".join(script) + "\n")
        conf = os.path.join(self.home, "conf")
        os.makedirs(conf, exist_ok=True)
        self_signed_certificate(os.path.join(conf, "zmproxy.crt"), os.path.join(conf, "zmproxy.key"))
        r = self.run_tool("zmproxyctl", "start")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.addCleanup(self.run_tool, "zmproxyctl", "stop", "--grace", "0")
        # Its first look at the store ("initial") is a store change: one FORGET ALL.
        self.start_zmconfigd(ready=lambda status: status.get("forgets", 0) >= 1,
                             what="first FORGET ALL")

    def check(self, *args, input=None):
        r = self.run_tool(*args, input=input)
        self.assertEqual(r.returncode, 0, f"{args}: {r.stdout}{r.stderr}")
        return r

    def read_log(self, name):
        try:
            with open(os.path.join(self.home, "log", name), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def proxy_status(self):
        return json.loads(control(self.home, "STATUS"))

    def test_a_move_reaches_the_next_imap_and_pop3_login_without_a_reload(self):
        # Another user's session, open across the move.
        other = imaplib.IMAP4("127.0.0.1", self.imap_port, timeout=30)
        self.addCleanup(other.sock.close)
        other.login("stay@example.com", PASSWORD["stay@example.com"])
        self.assertEqual(other.select("INBOX")[0], "OK")

        self.assertEqual(self.imap_count("mover@example.com"), 1)  # on mbs1
        self.assertEqual(self.pop3_count("mover@example.com"), 1)
        old = {p: f"{self.mbs1.address}:{port}".encode()
               for p, port in (("imap", self.mbs1.imap_port), ("pop3", self.mbs1.pop3_port))}
        keys = {p: f"route:proto={p};user=mover@example.com" for p in old}
        for p in old:  # the fills are written in the background
            wait_until(lambda p=p: self.mc.get(keys[p]) == old[p], f"{keys[p]} cached")
        generation = self.proxy_status()["generation"]
        forgets = self.zmconfigd_status()["forgets"]
        renders = self.zmconfigd_status()["renders"]
        purged = lookupd_stats(self.home)["purged_accounts"]

        started = time.monotonic()
        self.check("zmprov", "ma", "mover@example.com", "zimbraMailHost", "127.0.0.3")
        # zmlookupd deleted the old routes from memcached...
        for p in keys:
            wait_until(lambda p=p: self.mc.get(keys[p]) is None, f"{keys[p]} purged from memcached")
        # ...and zmconfigd told zmproxyd to forget its own.
        wait_until(lambda: self.zmconfigd_status().get("forgets", 0) > forgets, "a FORGET ALL after the change")
        self.assertEqual(self.imap_count("mover@example.com"), 3)  # on mbs2, at the first try
        self.assertEqual(self.pop3_count("mover@example.com"), 3)
        print(f"\nmove followed after {time.monotonic() - started:.3f}s", flush=True)
        new = f"{self.mbs2.address}:{self.mbs2.imap_port}".encode()
        wait_until(lambda: self.mc.get(keys["imap"]) == new, "the new route cached")

        stats = lookupd_stats(self.home)
        self.assertEqual(stats["purged_accounts"], purged + 1, stats)  # mover only
        self.assertGreaterEqual(stats["purged_entries"], 2, stats)
        self.assertRegex(self.lookupd.log(), r"routes purged for 1 accounts: \d+ cached entries deleted")
        # No reload: an account is no part of zmproxy.conf.
        wait_until(lambda: self.zmconfigd_status().get("renders", 0) > renders, "zmconfigd rendered the change")
        self.assertEqual(self.zmconfigd_status()["result"], "unchanged")
        self.assertEqual(self.proxy_status()["generation"], generation)
        # The other user: untouched, still on mbs1, the open session still served.
        self.assertEqual(other.noop()[0], "OK")
        typ, data = other.select("INBOX", readonly=True)
        self.assertEqual((typ, int(data[0])), ("OK", 2))
        other.logout()
        self.assertEqual(self.imap_count("stay@example.com"), 2)
        self.assertIsNotNone(self.mc.get("route:proto=imap;user=stay@example.com"))

    def test_a_move_purges_only_that_account(self):
        self.assertEqual(self.imap_count("stay@example.com"), 2)
        key = "route:proto=imap;user=stay@example.com"
        wait_until(lambda: self.mc.get(key) is not None, "stay's route cached")
        before = lookupd_stats(self.home)
        self.check("zmprov", "ma", "mover@example.com", "zimbraMailHost", "127.0.0.3")
        wait_until(lambda: lookupd_stats(self.home)["reloads"] > before["reloads"], "zmlookupd rebuilt")
        wait_until(lambda: lookupd_stats(self.home)["purged_accounts"] > before["purged_accounts"], "the purge")
        self.assertIsNotNone(self.mc.get(key), "another account's route was purged")


class ProxyOnly(Mailboxes, HomeTestCase):
    """zmlookupd, memcached and a zmproxyd with a hand-written configuration
    (no zmconfigd): the FORGET command and the refusal rule on their own."""

    @classmethod
    def setUpClass(cls):
        cls.start_mailboxes()

    @classmethod
    def tearDownClass(cls):
        cls.stop_mailboxes()

    def setUp(self):
        super().setUp()
        self.mc.flush_all()
        script = ["cd example.com", "mcf zimbraDefaultDomainName example.com"]
        for d in (self.mbs1, self.mbs2):
            script.append(f"cs {d.address} zimbraImapBindPort {d.imap_port} zimbraPop3BindPort {d.pop3_port}")
        script += ["ca mover@example.com x zimbraMailHost 127.0.0.2",
                   "ca stay@example.com x zimbraMailHost 127.0.0.2",
                   "ca gone@example.com x zimbraMailHost 127.0.0.3"]
        r = self.run_tool("zmprov", input="\n".join(script) + "\n")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.lookupd = Daemon(BIN_DIR, "zmlookupd", self.home, ["--listen", "127.0.0.1:0"]).start()
        self.addCleanup(self.lookupd.stop)
        os.makedirs(os.path.join(self.home, "conf"), exist_ok=True)
        servers = ", ".join(f'"{d.address}:{p}"' for d in (self.mbs1, self.mbs2) for p in (d.imap_port, d.pop3_port))
        with open(os.path.join(self.home, "conf", "zmproxy.conf"), "w") as f:
            f.write(f"""
[server]
name = "proxy.example.com"
bind_address = "127.0.0.1"
workers = 2
log_file = "log/zmproxyd.log"

[route]
handlers = ["{self.lookupd.address}"]
memcached = ["{self.mc.server}"]
mailbox_servers = [{servers}]

[imap]
port = 0
ssl_enabled = false
starttls = "off"

[pop3]
port = 0
ssl_enabled = false
starttls = "off"

[upstream]
ssl = false
auth_wait = "0s"
connect_timeout = "5s"

[throttle]
failed_logins = false
""")
        self.proxy = Daemon(BIN_DIR, "zmproxyd", self.home).start()
        self.addCleanup(self.proxy.stop)
        ports = self.proxy.listener_ports()
        self.imap_port, self.pop3_port = ports["imap"], ports["pop3"]

    def lookups(self):
        return lookupd_stats(self.home)["requests"]

    # -- FORGET ------------------------------------------------------------

    def test_forget_names_drops_their_routes(self):
        self.assertEqual(self.imap_count("mover@example.com"), 1)
        self.assertEqual(self.pop3_count("mover@example.com"), 1)
        self.assertEqual(self.imap_count("stay@example.com"), 2)
        # Both of mover's protocols, by the account name; stay's is kept.
        self.assertEqual(control(self.home, "FORGET MOVER@example.com").strip(), "OK forgot 2")
        self.assertEqual(control(self.home, "FORGET mover@example.com").strip(), "OK forgot 0")
        self.assertEqual(control(self.home, "FORGET stay@example.com nobody@example.com").strip(), "OK forgot 1")
        self.assertEqual(self.imap_count("stay@example.com"), 2)
        self.assertEqual(control(self.home, "FORGET ALL").strip(), "OK forgot 0")

    def forgotten_user_follows_memcached(self, command):
        # FORGET may come before zmlookupd's purge: a route read from
        # memcached meanwhile must not be held in process for a minute.
        key = "route:proto=imap;user=mover@example.com"
        self.mc.set(key, f"{self.mbs1.address}:{self.mbs1.imap_port}", ttl=3600)
        self.assertEqual(self.imap_count("mover@example.com"), 1)  # memcached says mbs1
        self.assertEqual(control(self.home, command).strip(), "OK forgot 1")
        self.assertEqual(self.imap_count("mover@example.com"), 1)  # still mbs1, read again
        # The purge and a fresh route land in memcached (here: by hand).
        self.mc.set(key, f"{self.mbs2.address}:{self.mbs2.imap_port}", ttl=3600)
        self.assertEqual(self.imap_count("mover@example.com"), 3, "an old route was held in process")

    def test_a_forgotten_user_is_read_from_memcached_until_the_purge(self):
        self.forgotten_user_follows_memcached("FORGET mover@example.com")

    def test_after_forget_all_everyone_is_read_from_memcached_until_the_purge(self):
        self.forgotten_user_follows_memcached("FORGET ALL")

    def test_forget_bounds(self):
        too_many = "FORGET " + " ".join(f"u{i}@example.com" for i in range(101))
        cases = [
            (too_many, "ERROR FORGET takes at most 100 names"),
            ("FORGET", "ERROR FORGET needs ALL or names"),
            ("FORGET ALL mover@example.com", "ERROR FORGET ALL takes no names"),
            ("FORGET a@b@c", "ERROR not an account name: 'a@b@c'"),
            ("FORGET @example.com", "ERROR not an account name"),
            ("FORGET " + "x" * 300, "ERROR not an account name"),
            ("FORGETALL", "ERROR unknown command"),
            ("PURGE mover@example.com", "ERROR unknown command"),
        ]
        for command, expected in cases:
            with self.subTest(command=command[:40]):
                reply = control(self.home, command)
                self.assertTrue(reply.startswith(expected), reply)
                self.assertEqual(reply.count("\n"), 1, reply)
        self.assertIn("FORGET ALL|<name>", control(self.home, "PURGE x"))
        hundred = "FORGET " + " ".join(f"u{i}@example.com" for i in range(100))
        self.assertEqual(control(self.home, hundred).strip(), "OK forgot 0")
        # The proxy still serves.
        self.assertEqual(self.imap_count("stay@example.com"), 2)

    def test_zmproxyctl_forget(self):
        self.assertEqual(self.imap_count("mover@example.com"), 1)
        self.assertEqual(self.pop3_count("mover@example.com"), 1)
        r = self.run_tool("zmproxyctl", "forget", "mover@example.com")
        self.assertEqual((r.returncode, r.stdout), (0, "forgot 2 in-process routes\n"), r.stderr)
        # 150 names: two commands, each within FORGET's 100 names.
        r = self.run_tool("zmproxyctl", "forget", *(f"user{i}@example.com" for i in range(150)))
        self.assertEqual((r.returncode, r.stdout), (0, "forgot 0 in-process routes\n"), r.stderr)
        r = self.run_tool("zmproxyctl", "forget", "--all")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^forgot \d+ in-process routes\n$")
        for args, expected in ((["forget"], "forget takes account names or --all"),
                               (["forget", "--all", "mover@example.com"], "forget takes account names or --all"),
                               (["forget", "a@b@c"], "not an account name: 'a@b@c'")):
            with self.subTest(args=args):
                r = self.run_tool("zmproxyctl", *args)
                self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
                self.assertIn(expected, r.stderr)
        self.assertIn("forget", self.run_tool("zmproxyctl", "__complete", "").stdout.split())
        self.assertIn("--all", self.run_tool("zmproxyctl", "__complete", "--a").stdout.split())
        self.proxy.stop()
        r = self.run_tool("zmproxyctl", "forget", "--all")
        self.assertEqual((r.returncode, r.stdout), (1, "proxy is not running.\n"))

    # -- the refusal rule --------------------------------------------------

    def test_a_refused_stale_route_is_dropped_and_the_next_login_follows(self):
        # memcached says gone lives on mbs1 (a believed server: the route a
        # missed purge would leave); mbs1 does not know gone and refuses.
        key = "route:proto=imap;user=gone@example.com"
        self.assertTrue(self.mc.set(key, f"{self.mbs1.address}:{self.mbs1.imap_port}", ttl=3600))
        self.imap_refused("gone@example.com", PASSWORD["gone@example.com"])
        self.assertIsNone(self.mc.get(key), "the refused route was kept in memcached")
        self.assertEqual(self.imap_count("gone@example.com"), 4)  # looked up: mbs2

    def test_a_refused_stale_pop3_route_is_dropped_and_the_next_login_follows(self):
        # POP3 alike: -ERR at PASS from the old server. (A drop clears every
        # protocol's route of the user, and counts once for all of them.)
        key = "route:proto=pop3;user=gone@example.com"
        self.assertTrue(self.mc.set(key, f"{self.mbs1.address}:{self.mbs1.pop3_port}", ttl=3600))
        p = poplib.POP3("127.0.0.1", self.pop3_port, timeout=30)
        try:
            p.user("gone@example.com")
            with self.assertRaises(poplib.error_proto):
                p.pass_(PASSWORD["gone@example.com"])
        finally:
            p.close()
        self.assertIsNone(self.mc.get(key), "the refused route was kept in memcached")
        self.assertEqual(self.pop3_count("gone@example.com"), 4)

    def test_password_guessing_costs_at_most_one_lookup_a_minute(self):
        # Cold: the first guess is looked up (a fresh route: not dropped), the
        # second is served from the cache and drops it (the once a minute),
        # the third is looked up again; after that, no guess reaches zmlookupd.
        before = self.lookups()
        for _ in range(3):
            self.imap_refused("stay@example.com", "not-the-password")
        after_three = self.lookups()
        self.assertLessEqual(after_three - before, 2)
        for _ in range(5):
            self.imap_refused("stay@example.com", "not-the-password")
        self.assertEqual(self.lookups(), after_three, "a guessed password cost a lookup")
        wait_until(lambda: self.mc.get("route:proto=imap;user=stay@example.com") is not None,
                   "the route cached again")
        self.assertEqual(self.imap_count("stay@example.com"), 2)


if __name__ == "__main__":
    unittest.main()
