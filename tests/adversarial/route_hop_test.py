"""The login's memcached read now runs on zmproxyd's worker (issue 18: no
thread hop), through a text-protocol client of its own instead of
libmemcached. memcached is shared and unauthenticated: whoever can write it
chooses the bytes that client parses. A value that spells a second reply
(END, then a VALUE naming a thief) must stay one opaque value, which the
route rule then refuses; the login goes to the right mailbox."""
import adversarial_testing  # noqa: F401  (puts tests/integration and tests/support on the path)
import imaplib
import json
import os
import re
import time
import unittest

from mail_proxy_test import PASSWORDS, MailProxyBase
from route_cache_test import Listener


class SmuggledReplyTest(MailProxyBase):
    """A real zmproxyd with the mailbox server list confgen renders (so it
    reads routes from memcached at all)."""

    def write_conf(self):
        r = self.run_tool("zmproxyctl", "genconf", "-n")
        found = re.search(r"^mailbox_servers = (\[.*\])$", r.stdout, re.M)
        self.assertIsNotNone(found, r.stdout + r.stderr)
        self.mailbox_servers = json.loads(found.group(1))
        super().write_conf()
        path = os.path.join(self.home, "conf", "zmproxy.conf")
        with open(path) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(text.replace("[route]\n", f"[route]\nmailbox_servers = {found.group(1)}\n", 1))

    def setUp(self):
        super().setUp()
        self.thief = Listener("127.0.0.9")
        self.addCleanup(self.thief.close)

    def proxy_log(self):
        with open(os.path.join(self.home, "log", "zmproxyd.log"), errors="replace") as f:
            return f.read()

    def login_imap(self, user):
        m = self.imap()
        m.login(user, PASSWORDS[user])
        typ, data = m.select("INBOX", readonly=True)
        m.logout()
        return int(data[0])

    def test_a_value_spelling_a_second_reply_is_one_value(self):
        # user1's value holds the rest of a reply: END, then a VALUE for
        # user2's route naming Dovecot a (user2 lives on b). A reader that
        # stopped at the first END would leave that VALUE unread on its
        # connection and take it for the answer to the next login's get,
        # sending user2's password to the wrong mailbox.
        a = self.dovecots["a"]
        key1 = "route:proto=imap;user=user1@example.com"
        key2 = "route:proto=imap;user=user2@example.com"
        wrong = f"{a.address}:{a.imap_port}"
        smuggled = f"x\r\nEND\r\nVALUE {key2} 0 {len(wrong)}\r\n{wrong}"
        self.assertTrue(self.mc.set(key1, smuggled, ttl=3600))
        self.assertEqual(self.login_imap("user1@example.com"), 1)  # user1's one message, on a
        m = self.imap()
        m.login("user2@example.com", PASSWORDS["user2@example.com"])  # refused on a
        m.logout()
        deadline = time.monotonic() + 5
        while f"memcached route {key1} ignored" not in self.proxy_log():
            self.assertLess(time.monotonic(), deadline, self.proxy_log()[-2000:])
            time.sleep(0.02)
        self.assertEqual(self.thief.connections, 0)

    def test_the_positive_control_a_plain_known_route_is_used(self):
        # The same key holding a route to a known server is believed (the
        # reader is not simply ignoring memcached): it names Dovecot b, where
        # user1 has no mailbox, so the login there fails.
        b = self.dovecots["b"]
        key = "route:proto=imap;user=user1@example.com"
        self.assertTrue(self.mc.set(key, f"{b.address}:{b.imap_port}", ttl=3600))
        m = self.imap()
        self.addCleanup(m.shutdown)
        with self.assertRaises(imaplib.IMAP4.error):
            m.login("user1@example.com", PASSWORDS["user1@example.com"])
        self.assertEqual(self.thief.connections, 0)

if __name__ == "__main__":
    unittest.main()
