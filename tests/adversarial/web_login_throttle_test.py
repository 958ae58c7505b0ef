"""Password guessing against the web side (issue 15): a real zmproxyd with
[throttle] over a real memcached, in front of a mailbox web backend that
answers ActiveSync's Basic logins (401 for a wrong password).

Each test names the hole it keeps closed:
- a guessing loop over Basic on ActiveSync, one connection per guess or all
  on one kept-alive connection, getting more than throttle.failed_lock
  guesses to the mailbox (each failure is counted before the client sees
  its 401, so the next guess, on any connection, finds it counted);
- guesses from several connections at once getting more than one guess each
  past the lock (a check and its count are not one atomic step: a guess in
  flight on each connection is the most that can slip through);
- the same account under other spellings (case, DOMAIN\\user) counted apart;
- a name too long for a memcached key turning throttling off (fail open);
- a refused request's unread body read as the next request (smuggled past
  the throttle to the mailbox).
"""
import adversarial_testing  # noqa: F401  (puts tests/integration and tests/support on the path)

import concurrent.futures
import http.client
import os
import socket

from process import read_text
from web_throttle_test import EAS, FAILED_LOCK, PASSWORD, WebThrottleBase, basic

GUESSES = 30


class WebLoginThrottleTest(WebThrottleBase):

    def guesses_through(self, user):
        return self.backend_logins(user)

    def test_a_guessing_loop_gets_at_most_failed_lock_guesses_through(self):
        refused = 0
        for i in range(GUESSES):
            status, r, _ = self.eas("user1@example.com", f"guess{i}")
            self.assertIn(status, (401, 429))
            if status == 429:
                refused += 1
                self.assertTrue(r.getheader("Retry-After"))
        self.assertEqual(self.guesses_through("user1@example.com"), FAILED_LOCK)
        self.assertEqual(refused, GUESSES - FAILED_LOCK)
        # The owner, from elsewhere, still gets in.
        self.assertEqual(self.eas("user1@example.com", PASSWORD, source="127.0.0.9")[0], 200)

    def test_guesses_on_one_kept_alive_connection_are_held_the_same(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        statuses = []
        for i in range(GUESSES):
            conn.request("GET", EAS, headers={"Host": "mail.example.com",
                                              "Authorization": basic("user1@example.com", f"g{i}")})
            r = conn.getresponse()
            r.read()
            statuses.append(r.status)
        conn.close()
        self.assertEqual(statuses, [401] * FAILED_LOCK + [429] * (GUESSES - FAILED_LOCK))
        self.assertEqual(self.guesses_through("user1@example.com"), FAILED_LOCK)

    def test_guesses_from_parallel_connections_get_at_most_one_each_past_the_lock(self):
        # Each connection's check sees every failure already answered, so
        # with k connections at most failed_lock + k - 1 guesses go through.
        workers = 6

        def guess(n):
            return [self.eas("user1@example.com", f"w{n}-{i}")[0] for i in range(GUESSES // workers)]

        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            statuses = [s for batch in pool.map(guess, range(workers)) for s in batch]
        self.assertLessEqual(self.guesses_through("user1@example.com"), FAILED_LOCK + workers - 1)
        self.assertEqual(statuses.count(401), self.guesses_through("user1@example.com"))
        self.assertGreaterEqual(statuses.count(429), GUESSES - FAILED_LOCK - workers + 1)

    def test_other_spellings_of_the_account_count_together(self):
        spellings = ["user1@example.com", "USER1@example.com", "example.com\\user1",
                     "User1@EXAMPLE.com", "EXAMPLE.COM\\USER1"]
        statuses = [self.eas(spellings[i % len(spellings)], f"guess{i}")[0] for i in range(GUESSES)]
        self.assertEqual(statuses.count(401), FAILED_LOCK)
        through = sum(self.backend_logins(name) for name in spellings)
        self.assertEqual(through, FAILED_LOCK)

    def test_a_name_too_long_for_a_memcached_key_is_still_counted(self):
        long_name = "a" * 240 + "@example.com"  # the key is over 250 bytes: hashed
        statuses = [self.eas(long_name, f"guess{i}")[0] for i in range(FAILED_LOCK + 3)]
        self.assertEqual(statuses, [401] * FAILED_LOCK + [429] * 3)
        log = read_text(os.path.join(self.home, "log", "zmproxyd.log"))
        self.assertNotIn("throttling is off", log)

    def test_a_refused_requests_body_is_not_read_as_the_next_request(self):
        self.lock("user1@example.com")
        smuggled = (b"GET /home/user2@example.com/smuggled HTTP/1.1\r\n"
                    b"Host: mail.example.com\r\n\r\n")
        head = (f"POST {EAS} HTTP/1.1\r\nHost: mail.example.com\r\n"
                f"Authorization: {basic('user1@example.com', 'x')}\r\n"
                f"Content-Length: {len(smuggled)}\r\n\r\n").encode()
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        try:
            sock.sendall(head + smuggled)
            data = b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break  # the proxy closed: nothing more was answered
                data += chunk
        finally:
            sock.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 429"), data[:200])
        self.assertEqual(data.count(b"HTTP/1.1 "), 1, data)
        self.assertFalse(any("smuggled" in q["path"] for q in self.backend.seen()["requests"]))
