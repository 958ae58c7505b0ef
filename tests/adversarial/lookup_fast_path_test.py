"""zmlookupd's fast path against a real daemon: a connection's answers come
from its reused request and answer, the index the I/O thread keeps until it
is rebuilt, and one send for every request of a read. Hostile input must
still get what it got before: pipelined floods answered in order, a bad
escape an error status, a head over 16 KiB nothing, and a request whose FIN
came in the same segment (one readiness edge) answered and closed at once,
not after the 60 s idle timeout."""
import adversarial_testing  # noqa: F401  (puts tests/integration and tests/support on the path)

import socket
import time
import unittest

from lookup_test import provision
from zmproxy_procs import Daemon
from zmproxy_testing import BIN_DIR, HomeTestCase


def request(user, protocol="imap", extra=""):
    return ("GET /service/extension/nginx-lookup HTTP/1.1\r\nHost: x\r\nAuth-Method: username\r\n"
            f"Auth-User: {user}\r\nAuth-Pass: _password_\r\nAuth-Protocol: {protocol}\r\n"
            f"Auth-Login-Attempt: 1\r\nClient-IP: 192.0.2.1\r\nX-Proxy-IP: 127.0.0.1\r\n{extra}\r\n").encode()


def read_heads(sock, count, deadline_s=20):
    """`count` reply heads as {field: value} dicts (in order), then whatever
    follows until the server closes or the deadline passes."""
    sock.settimeout(deadline_s)
    data = b""
    heads = []
    while len(heads) < count:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return heads, True
            data += chunk
        head, data = data.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        fields = {"status-line": lines[0]}
        for line in lines[1:]:
            k, _, v = line.partition(": ")
            fields[k] = v
        heads.append(fields)
    return heads, False


def closed_within(sock, seconds):
    """True when the server closes (EOF, or a reset) within `seconds`, with
    nothing more sent."""
    sock.settimeout(seconds)
    try:
        return sock.recv(4096) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


class LookupFastPathTest(HomeTestCase):
    def setUp(self):
        super().setUp()
        provision(self)
        self.lookupd = Daemon(BIN_DIR, "zmlookupd", self.home, ["--listen", "127.0.0.1:0"]).start()
        self.addCleanup(self.lookupd.stop)

    def connect(self):
        s = socket.create_connection((self.lookupd.host, self.lookupd.port), timeout=20)
        self.addCleanup(s.close)
        return s

    def test_a_pipelined_flood_is_answered_in_order_in_few_writes(self):
        # 600 requests (~150 KB, several times the connection's 32 KiB
        # buffer) in one write: answers, errors and bad escapes interleaved.
        kinds = [("user1@example.com", "OK", "127.0.0.2"), ("USER2@Example.COM", "OK", "127.0.0.3"),
                 ("ghost@example.com", "user not found:ghost@example.com", None),
                 ("a%zz", "invalid Auth-User: malformed percent escape (a '%' without two hex digits)", None),
                 ("first@example.com", "OK", "127.0.0.2")]
        n = 600
        s = self.connect()
        s.sendall(b"".join(request(kinds[i % len(kinds)][0]) for i in range(n)))
        heads, closed = read_heads(s, n)
        self.assertFalse(closed, f"closed after {len(heads)} answers")
        for i, h in enumerate(heads):
            user, status, server = kinds[i % len(kinds)]
            self.assertEqual(h["status-line"], "HTTP/1.1 200 OK", (i, h))
            self.assertEqual(h["Auth-Status"], status, (i, h))
            if server is not None:
                self.assertEqual(h["Auth-Server"], server, (i, h))
                self.assertIn(h["Auth-User"], ("user1@example.com", "user2@example.com"), (i, h))
                self.assertNotIn("Auth-Wait", h, (i, h))  # nothing left of an error before it
            else:
                self.assertEqual(h["Auth-Wait"], "10", (i, h))
                self.assertNotIn("Auth-Server", h, (i, h))  # nothing left of an answer before it
        # The connection is still good, and ends with a request that closes it.
        s.sendall(request("user1@example.com", extra="Connection: close\r\n") + request("user2@example.com"))
        heads, _ = read_heads(s, 1)
        self.assertEqual(heads[0]["Connection"], "close")
        self.assertTrue(closed_within(s, 10), "the request after a close was answered")

    def test_a_request_with_its_fin_in_the_same_segment_is_answered_and_closed_at_once(self):
        s = self.connect()
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
        s.sendall(request("user1@example.com"))
        s.shutdown(socket.SHUT_WR)  # the FIN joins the corked request: one segment
        heads, _ = read_heads(s, 1)
        self.assertEqual(heads[0]["Auth-Server"], "127.0.0.2")
        started = time.monotonic()
        self.assertTrue(closed_within(s, 10), "zmlookupd kept a half-closed connection open")
        self.assertLess(time.monotonic() - started, 10)

    def test_a_head_over_16_kib_gets_nothing_and_the_next_caller_is_served(self):
        s = self.connect()
        s.sendall(b"GET /service/extension/nginx-lookup HTTP/1.1\r\nX-Pad: " + b"a" * 17000 + b"\r\n\r\n")
        self.assertTrue(closed_within(s, 10))
        t = self.connect()
        t.sendall(request("user1@example.com"))
        heads, _ = read_heads(t, 1)
        self.assertEqual(heads[0]["Auth-Status"], "OK")

    def test_a_kept_connection_sees_the_rebuilt_index(self):
        # The I/O thread keeps its index until a rebuild moves the generation:
        # the same connection must answer from the new one.
        s = self.connect()
        s.sendall(request("user1@example.com"))
        self.assertEqual(read_heads(s, 1)[0][0]["Auth-Server"], "127.0.0.2")
        r = self.run_tool("zmprov", "ma", "user1@example.com", "zimbraMailHost", "127.0.0.3")
        self.assertEqual(r.returncode, 0, r.stderr)
        deadline = time.monotonic() + 10
        server = None
        while time.monotonic() < deadline:
            s.sendall(request("user1@example.com"))
            server = read_heads(s, 1)[0][0]["Auth-Server"]
            if server == "127.0.0.3":
                break
            time.sleep(0.02)
        self.assertEqual(server, "127.0.0.3")


if __name__ == "__main__":
    unittest.main()
