"""Slow and greedy clients before login (issue 20, resource limits).

- An HTTP request head trickled a byte every half second, never finished:
  cut by http.client_timeout (3 s here), which bounds the whole head, not
  each read. (IMAP and POP3 trickled a byte at a time are cut by the login
  deadline: mail_login_test.test_a_trickling_client_is_cut_at_the_login_deadline.)
- `a LOGIN {104857600}` (a 100 MB literal announced before login): refused at
  once, no "+ go ahead", nothing of that size allocated; the same with a
  non-synchronising literal (`{104857600+}`) whose bytes follow at once:
  the connection is closed after the refusal, the bytes are not read into
  memory.
A healthy session through the same proxy goes on meanwhile."""
import select
import socket
import sys
import time
import unittest

from hostile_testing import HostileBase, rss_kb

CLIENT_TIMEOUT = 3.0


class SlowAndGreedyClientsTest(HostileBase):

    def conf(self):
        return super().conf() + (
            '\n[http]\nenabled = true\nport = 0\nssl_port = 0\nupstreams = ["127.0.0.2:1"]\n'
            f'client_timeout = "{int(CLIENT_TIMEOUT)}s"\n')

    def trickle_until_closed(self, port, text, pace=0.5, most=30.0):
        """Sends `text` a byte every `pace` seconds (then "a" after "a",
        never ending the head) until the proxy closes; (seconds, what the
        proxy said)."""
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        start = time.monotonic()
        said = b""
        i = 0
        with s:
            while time.monotonic() - start < most:
                try:
                    s.sendall(text[i:i + 1] if i < len(text) else b"a")
                except OSError:
                    break
                i += 1
                ready, _, _ = select.select([s], [], [], pace)
                if ready:
                    try:
                        chunk = s.recv(4096)
                    except OSError:
                        break
                    if not chunk:
                        break
                    said += chunk
        return time.monotonic() - start, said

    def test_an_http_head_trickled_a_byte_at_a_time_is_cut(self):
        healthy = self.healthy_session()
        head = b"GET /service/home/~healthy@example.com/inbox HTTP/1.1\r\nHost: proxy.example.com\r\nX-Pad: "
        took, said = self.while_healthy(lambda: self.trickle_until_closed(self.ports["http"], head),
                                        healthy)
        print(f"\n  trickled head cut after {took:.1f} s; the proxy said {said!r}", file=sys.stderr)
        self.assertGreater(took, CLIENT_TIMEOUT - 0.5, "cut before the timeout")
        self.assertLess(took, CLIENT_TIMEOUT + 3, "the timeout bounds the whole head, not each read")
        self.assertNotIn(b"200 OK", said)

    def literal_refusal(self, command, then=b""):
        """(seconds, what the proxy said until it closed) for `command`
        sent after the greeting, `then` (up to 4 MB) streamed after it."""
        s = socket.create_connection(("127.0.0.1", self.ports["imap"]), timeout=10)
        with s, s.makefile("rb") as f:
            self.assertTrue(f.readline().startswith(b"* OK"))
            start = time.monotonic()
            s.sendall(command)
            sent = 0
            s.setblocking(False)
            said = b""
            deadline = start + 10
            while time.monotonic() < deadline:
                if sent < len(then):
                    try:
                        sent += s.send(then[sent:sent + 65536])
                    except BlockingIOError:
                        pass
                    except OSError:
                        sent = len(then)  # the proxy closed
                ready, _, _ = select.select([s], [], [], 0.01 if sent < len(then) else 1)
                if ready:
                    try:
                        chunk = s.recv(65536)
                    except BlockingIOError:
                        continue
                    except OSError:
                        break
                    if not chunk:
                        break
                    said += chunk
            return time.monotonic() - start, said

    def test_a_100_mb_literal_announced_before_login_is_refused_at_once(self):
        rss_before = rss_kb(self.proxy.proc.pid)
        took, said = self.literal_refusal(b"a LOGIN {104857600}\r\n")
        print(f"\n  {{104857600}}: {said!r} after {took:.2f} s", file=sys.stderr)
        self.assertNotIn(b"+ ", said.split(b"\r\n")[0], "a go-ahead for 100 MB")
        self.assertRegex(said, rb"^(\* BYE \[TOOBIG\]|a BAD)")
        self.assertLess(took, 2.0)
        took, said = self.literal_refusal(b"a LOGIN {104857600+}\r\n", b"x" * (4 * 1024 * 1024))
        print(f"  {{104857600+}}: {said!r} after {took:.2f} s", file=sys.stderr)
        self.assertRegex(said, rb"^(\* BYE \[TOOBIG\]|a BAD)")
        self.assertLess(took, 5.0, "the connection was not closed after the refusal")
        grown = rss_kb(self.proxy.proc.pid) - rss_before
        self.assertLess(grown, 8 * 1024, f"zmproxyd grew {grown} KiB")
        self.assert_new_healthy_login()


if __name__ == "__main__":
    unittest.main()
