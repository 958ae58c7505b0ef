"""Failed-login throttling on the web side, end to end: zmproxyd with a
[throttle] section over a real memcached, zmlookupd, and a mailbox web
backend that checks ActiveSync's Basic logins (401 for a wrong password).
Wrong passwords for one (user, client address) pair are slowed (tarpit) and
then refused with 429 and Retry-After without the mailbox being asked; other
users and other addresses go on; a right password clears the pair; with
memcached gone every login passes and zmproxyd says so once."""
import base64
import http.client
import json
import os
import unittest

from zmproxy_testing import BIN_DIR, HomeTestCase
from zmproxy_procs import Daemon, WebBackend
from memcached import Memcached
from process import poll_until, read_text

PASSWORD = "right-password"
FAILED_LOCK = 5
EAS = "/Microsoft-Server-ActiveSync?Cmd=Sync&DeviceId=dev1&DeviceType=SmartPhone"


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def failure_key(user, address):
    return f"zmproxy:authfail:user={user},ip={address}"


class WebThrottleBase(HomeTestCase):
    """A proxy whose web side counts failed logins in a private memcached."""

    def setUp(self):
        super().setUp()
        # Its own per test: what it has seen is this test's.
        self.backend = WebBackend("mbox1", "127.0.0.2", password=PASSWORD).start()
        self.addCleanup(self.backend.stop)
        self.mc = Memcached("127.0.0.1").start()
        self.addCleanup(self.mc.stop)
        lines = ["cd example.com",
                 "mcf zimbraDefaultDomainName example.com",
                 f"cs 127.0.0.2 zimbraMailPort {self.backend.port}",
                 "ca user1@example.com pw zimbraMailHost 127.0.0.2",
                 "ca user2@example.com pw zimbraMailHost 127.0.0.2"]
        r = self.run_tool("zmprov", input="\n".join(lines) + "\n")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.lookupd = Daemon(BIN_DIR, "zmlookupd", self.home, ["--listen", "127.0.0.1:0"]).start()
        self.addCleanup(self.lookupd.stop)
        os.makedirs(os.path.join(self.home, "conf"), exist_ok=True)
        with open(os.path.join(self.home, "conf", "zmproxy.conf"), "w") as f:
            f.write(f"""
[server]
bind_address = "127.0.0.1"
workers = 2
log_file = "log/zmproxyd.log"

[route]
handlers = ["{self.lookupd.address}"]
memcached = ["{self.mc.server}"]

[mail]
enabled = false

[upstream]
ssl = false
auth_wait = "0s"

[http]
enabled = true
mode = "http"
port = 0
strict_server_name = false
upstreams = ["{self.backend.server}"]
trusted_proxies = "127.0.0.9"

[throttle]
failed_logins = true
failed_window = "900s"
failed_free = 2
failed_delay = "100ms"
failed_max_delay = "400ms"
failed_lock = {FAILED_LOCK}
""")
        self.proxy = Daemon(BIN_DIR, "zmproxyd", self.home).start()
        self.addCleanup(self.proxy.stop)
        self.port = self.proxy.listener_ports()["http"]

    # -- helpers ------------------------------------------------------------

    def eas(self, user, password, source=None, method="GET", forwarded_for=None):
        """One ActiveSync request with Basic credentials on a new connection
        (from `source`, a loopback address; with X-Forwarded-For
        `forwarded_for`): (status, headers, body)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60,
                                          source_address=(source, 0) if source else None)
        try:
            body = b"<Sync/>" if method == "POST" else None
            headers = {"Host": "mail.example.com", "Authorization": basic(user, password)}
            if forwarded_for:
                headers["X-Forwarded-For"] = forwarded_for
            conn.request(method, EAS, body=body, headers=headers)
            r = conn.getresponse()
            return r.status, r, r.read()
        finally:
            conn.close()

    def backend_logins(self, user):
        """ActiveSync requests the backend has seen for `user`."""
        return sum(1 for q in self.backend.seen()["requests"]
                   if q["user"] == user and q["path"].startswith("/Microsoft-Server-ActiveSync"))

    def access_lines(self, needle):
        path = os.path.join(self.home, "log", "access.log")
        return [line for line in read_text(path).splitlines() if needle in line]

    def wait_access_lines(self, needle, count=1):
        """The access log's lines holding `needle`, once there are `count` (it
        is flushed within a second)."""
        def enough():
            found = self.access_lines(needle)
            return found if len(found) >= count else None

        return poll_until(enough, 15)

    def counters(self):
        r = self.run_tool("zmproxyctl", "status", "--json")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return json.loads(r.stdout)["connections"]["http"]

    def lock(self, user, source=None):
        """failed_lock wrong passwords: each reaches the mailbox and gets its 401."""
        for i in range(FAILED_LOCK):
            status, _, body = self.eas(user, f"guess{i}", source)
            self.assertEqual(status, 401, body)


class WebThrottleTest(WebThrottleBase):

    def test_wrong_passwords_end_in_429_and_the_mailbox_is_no_longer_asked(self):
        self.lock("user1@example.com")
        self.assertEqual(self.backend_logins("user1@example.com"), FAILED_LOCK)
        self.assertEqual(self.mc.get(failure_key("user1@example.com", "127.0.0.1")), str(FAILED_LOCK).encode())
        for password in ("guess-more", PASSWORD):  # locked: even the right one waits
            status, r, body = self.eas("user1@example.com", password)
            self.assertEqual(status, 429, body)
            self.assertGreater(int(r.getheader("Retry-After")), 0)
            self.assertLessEqual(int(r.getheader("Retry-After")), 900)
            self.assertIn(b"Too many failed logins", body)
        status, _, _ = self.eas("user1@example.com", "post-guess", method="POST")
        self.assertEqual(status, 429)
        self.assertEqual(self.backend_logins("user1@example.com"), FAILED_LOCK)
        self.assertEqual(self.counters()["throttled"], 3)
        lines = self.wait_access_lines("throttled:failed-logins", 3)
        self.assertTrue(all('" 429 ' in line for line in lines), lines)
        self.assertTrue(all(line.endswith(" throttled:failed-logins") for line in lines), lines)
        # The attempts past failed_free waited (100 ms, then 200 ms) before
        # they went on, and said so.
        self.assertEqual(len(self.wait_access_lines(" tarpit=", 2)), 2)
        self.assertTrue(self.access_lines(" tarpit=100ms"))
        self.assertTrue(self.access_lines(" tarpit=200ms"))

    def test_other_users_and_other_addresses_are_not_affected(self):
        self.lock("user1@example.com")
        self.assertEqual(self.eas("user1@example.com", PASSWORD)[0], 429)
        self.assertEqual(self.eas("user2@example.com", PASSWORD)[0], 200)
        self.assertEqual(self.eas("user2@example.com", "wrong")[0], 401)
        # The same user from another client address.
        self.assertEqual(self.eas("user1@example.com", PASSWORD, source="127.0.0.7")[0], 200)
        self.assertEqual(self.eas("user1@example.com", "wrong", source="127.0.0.8")[0], 401)
        self.assertIsNone(self.mc.get(failure_key("user1@example.com", "127.0.0.7")))
        self.assertEqual(self.mc.get(failure_key("user1@example.com", "127.0.0.8")), b"1")
        self.assertEqual(self.mc.get(failure_key("user2@example.com", "127.0.0.1")), b"1")

    def test_behind_a_trusted_balancer_the_forwarded_client_is_counted(self):
        # 127.0.0.9 is the balancer (http.trusted_proxies): its clients are told apart.
        for i in range(FAILED_LOCK):
            self.assertEqual(self.eas("user1@example.com", f"guess{i}", source="127.0.0.9",
                                      forwarded_for="203.0.113.1, 198.51.100.7")[0], 401)
        self.assertEqual(self.mc.get(failure_key("user1@example.com", "198.51.100.7")), str(FAILED_LOCK).encode())
        self.assertIsNone(self.mc.get(failure_key("user1@example.com", "127.0.0.9")))
        self.assertEqual(self.eas("user1@example.com", PASSWORD, source="127.0.0.9",
                                  forwarded_for="198.51.100.7")[0], 429)
        # Another client behind the same balancer logs in.
        self.assertEqual(self.eas("user1@example.com", PASSWORD, source="127.0.0.9",
                                  forwarded_for="198.51.100.8")[0], 200)
        # An untrusted peer's X-Forwarded-For is not believed.
        self.assertEqual(self.eas("user2@example.com", "wrong", source="127.0.0.10",
                                  forwarded_for="198.51.100.9")[0], 401)
        self.assertEqual(self.mc.get(failure_key("user2@example.com", "127.0.0.10")), b"1")

    def test_domain_backslash_user_counts_as_user_at_domain(self):
        for i in range(FAILED_LOCK):
            self.assertEqual(self.eas("example.com\\user1", f"guess{i}")[0], 401)
        self.assertEqual(self.mc.get(failure_key("user1@example.com", "127.0.0.1")), str(FAILED_LOCK).encode())
        self.assertEqual(self.eas("User1@Example.com", PASSWORD)[0], 429)

    def test_a_right_password_below_the_lock_clears_the_pair(self):
        key = failure_key("user1@example.com", "127.0.0.1")
        for i in range(FAILED_LOCK - 1):
            self.assertEqual(self.eas("user1@example.com", f"guess{i}")[0], 401)
        self.assertEqual(self.mc.get(key), str(FAILED_LOCK - 1).encode())
        status, _, body = self.eas("user1@example.com", PASSWORD)
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["name"], "mbox1")
        self.assertIsNone(self.mc.get(key))  # cleared before the answer left
        # A fresh start: failed_lock more failures before the lock.
        self.lock("user1@example.com")
        self.assertEqual(self.eas("user1@example.com", PASSWORD)[0], 429)

    def test_requests_without_credentials_are_not_throttled(self):
        self.lock("user1@example.com")
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        conn.request("GET", "/home/user1@example.com/inbox", headers={"Host": "mail.example.com"})
        r = conn.getresponse()
        r.read()
        conn.close()
        self.assertEqual(r.status, 200)

    def test_a_refused_request_without_a_body_keeps_its_connection(self):
        self.lock("user1@example.com")
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {"Host": "mail.example.com", "Authorization": basic("user1@example.com", "x")}
        conn.request("GET", EAS, headers=headers)
        r = conn.getresponse()
        r.read()
        self.assertEqual(r.status, 429)
        self.assertFalse(r.will_close)
        conn.request("GET", "/home/user2@example.com/inbox", headers={"Host": "mail.example.com"})
        r = conn.getresponse()
        r.read()
        conn.close()
        self.assertEqual(r.status, 200)


class WebThrottleFailOpenTest(WebThrottleBase):

    def off_lines(self):
        log = os.path.join(self.home, "log", "zmproxyd.log")
        return [line for line in read_text(log).splitlines() if "login throttling is off" in line]

    def guess_with_memcached_stopped(self):
        self.mc.stop()
        for i in range(FAILED_LOCK + 3):
            self.assertEqual(self.eas("user1@example.com", f"guess{i}")[0], 401)
        self.assertEqual(self.eas("user1@example.com", PASSWORD)[0], 200)
        self.assertEqual(self.eas("user2@example.com", PASSWORD)[0], 200)
        poll_until(self.off_lines, 15)

    def test_memcached_stopped_logins_pass_and_the_log_says_throttling_is_off(self):
        self.guess_with_memcached_stopped()
        self.assertIn("memcached", self.off_lines()[0])

    # Two deciders (mail, web without the user limit) share one "off" line.
    def test_memcached_stopped_one_line_says_throttling_is_off(self):
        self.guess_with_memcached_stopped()
        self.assertEqual(len(self.off_lines()), 1, self.off_lines())


if __name__ == "__main__":
    unittest.main()
