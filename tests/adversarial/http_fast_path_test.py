"""The web proxy's keep-alive fast path attacked (issue 18): a real zmproxyd
in front of a scripted mailbox web server (a raw socket server in this file,
so each answer's bytes, their framing and their timing are the test's), raw
sockets as the clients.

The fast path reads a plain upstream's answer in one recv, sends it on with
its head in one write straight from the buffer when Content-Length says it
is all there, waits on the reactor's edge instead of reading first, and
takes a pooled connection the reactor saw nothing on without a peek. Each
test names the hole it keeps closed:
- an answer whose Content-Length lies: shorter (the mailbox closes early:
  the client must see the connection end, never a hang or a pooled
  half-answer) or longer (bytes after the declared end must reach nobody);
- a FIN in the same segment as an answer's last bytes, on a connection the
  mailbox did not announce it would close: the next request on the pooled
  connection (taken without a peek) must still be answered, GET and POST;
- pipelined requests in one segment: each answered, in order;
- a header and a body split across reads (both directions), an interim
  100 answer in the same segment as the final one.
"""
import adversarial_testing  # noqa: F401  (puts tests/integration and tests/support on the path)

import hashlib
import re
import socket
import threading
import time

from web_proxy_test import WebProxyBase

HOST = "mail.example.com"


class ScriptedBackend:
    """A mailbox web server whose answers are scripted by path. Serves each
    connection in a thread until the peer closes or 30 s pass; records every
    request line and how many connections it accepted."""

    def __init__(self, address="127.0.0.4"):
        self.sock = socket.socket()
        self.sock.bind((address, 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.address, self.port = self.sock.getsockname()
        self.server = f"{self.address}:{self.port}"
        self.lock = threading.Lock()
        self.requests = []
        self.connections = 0
        self.closed = 0  # connections this side has closed
        self.stopping = False
        self.thread = threading.Thread(target=self.accept_loop, daemon=True)
        self.thread.start()

    def stop(self):
        self.stopping = True
        self.thread.join(5)
        self.sock.close()

    def accept_loop(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.connections += 1
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    @staticmethod
    def read_request(conn, buf):
        """(method, path, body, rest of buf) or None at EOF."""
        deadline = time.monotonic() + 30
        while b"\r\n\r\n" not in buf:
            if time.monotonic() > deadline:
                return None
            data = conn.recv(65536)
            if not data:
                return None
            buf += data
        head, buf = buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        while len(buf) < length:
            if time.monotonic() > deadline:
                return None
            data = conn.recv(65536)
            if not data:
                return None
            buf += data
        return method, path, buf[:length], buf[length:]

    def serve(self, conn):
        conn.settimeout(30)
        buf = b""
        try:
            while True:
                req = self.read_request(conn, buf)
                if req is None:
                    return
                method, path, body, buf = req
                with self.lock:
                    self.requests.append(f"{method} {path}")
                if not self.answer(conn, method, path, body):
                    return
        except OSError:
            pass
        finally:
            conn.close()
            with self.lock:
                self.closed += 1

    @staticmethod
    def head(length, extra=""):
        return (f"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n{extra}"
                f"Content-Length: {length}\r\n\r\n").encode()

    def answer(self, conn, method, path, body):
        """Whether the connection stays open."""
        if path.endswith("/short"):  # declares 100 bytes, sends 40, closes
            conn.sendall(self.head(100) + b"s" * 40)
            return False
        if path.endswith("/long"):  # declares 10 bytes, sends 10 and 20 more
            conn.sendall(self.head(10) + b"0123456789" + b"SMUGGLED-SMUGGLED-XX")
            return True
        if path.endswith("/fin-with-answer"):  # the answer and the FIN in one segment
            conn.sendall(self.head(2) + b"ok")
            conn.shutdown(socket.SHUT_WR)
            return False
        if path.endswith("/split"):  # header in two pieces, body in three
            data = hashlib.sha256(path.encode()).hexdigest().encode() * 60  # 3,840 bytes
            h = self.head(len(data))
            for piece in (h[:20], h[20:], data[:1000], data[1000:2500], data[2500:]):
                conn.sendall(piece)
                time.sleep(0.05)
            return True
        if path.endswith("/interim"):  # a 100 and the answer in one segment
            conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n" + self.head(5) + b"final")
            return True
        # Anything else: the path and what the body hashed to, so a lost,
        # repeated or shifted byte shows.
        text = f"{method} {path} {len(body)} {hashlib.sha256(body).hexdigest()}".encode()
        conn.sendall(self.head(len(text)) + text)
        return True


def read_answer(sock, buf=b""):
    """(status, body, rest) of one answer with a Content-Length; body None
    when the connection ended first (and then what came)."""
    deadline = time.monotonic() + 20
    while b"\r\n\r\n" not in buf:
        data = sock.recv(65536)
        if not data or time.monotonic() > deadline:
            return None, None, buf
        buf += data
    head, buf = buf.split(b"\r\n\r\n", 1)
    status = int(head.split(b" ", 2)[1])
    m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
    length = int(m.group(1)) if m else 0
    while len(buf) < length:
        data = sock.recv(65536)
        if not data or time.monotonic() > deadline:
            return status, None, buf
        buf += data
    return status, buf[:length], buf[length:]


def get(path, method="GET", body=b""):
    extra = f"Content-Length: {len(body)}\r\n" if body or method == "POST" else ""
    return f"{method} {path} HTTP/1.1\r\nHost: {HOST}\r\n{extra}\r\n".encode() + body


class FastPathBase(WebProxyBase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.scripted = ScriptedBackend()

    @classmethod
    def tearDownClass(cls):
        cls.scripted.stop()
        super().tearDownClass()

    def upstreams(self):
        return [self.scripted.server]  # every request without a user goes here

    def client(self):
        sock = socket.create_connection(("127.0.0.1", self.ports["http"]), timeout=20)
        self.addCleanup(sock.close)
        return sock

    def expect_echo(self, sock, method, path, body=b"", buf=b""):
        status, data, rest = read_answer(sock, buf)
        self.assertEqual(status, 200, data)
        self.assertEqual(data.decode(), f"{method} {path} {len(body)} {hashlib.sha256(body).hexdigest()}")
        return rest


class LyingContentLengthTest(FastPathBase):
    def test_an_answer_shorter_than_its_length_ends_the_connection_and_is_not_pooled(self):
        sock = self.client()
        sock.sendall(get("/x/short"))
        status, data, rest = read_answer(sock)
        self.assertEqual(status, 200)
        self.assertIsNone(data, "the client was given a whole answer the mailbox never sent")
        self.assertLessEqual(len(rest), 40)
        sock.settimeout(10)
        tail = b""
        while True:  # the proxy must end the connection, not hold it open
            more = sock.recv(65536)
            if not more:
                break
            tail += more
        self.assertLessEqual(len(rest) + len(tail), 40)
        # Nothing of it stays behind: a new client is answered in full.
        again = self.client()
        again.sendall(get("/x/after-short"))
        self.expect_echo(again, "GET", "/x/after-short")

    def test_bytes_past_a_declared_length_reach_nobody(self):
        sock = self.client()
        for i in range(3):
            sock.sendall(get("/x/long"))
            status, data, rest = read_answer(sock)
            self.assertEqual((status, data, rest), (200, b"0123456789", b""))
            sock.sendall(get(f"/x/next-{i}"))
            rest = self.expect_echo(sock, "GET", f"/x/next-{i}")
            self.assertEqual(rest, b"")
        with self.scripted.lock:
            smuggled = [r for r in self.scripted.requests if "next-" in r]
        self.assertEqual(len(smuggled), 3)


class ClosedWithTheAnswerTest(FastPathBase):
    def closed_count(self):
        with self.scripted.lock:
            return self.scripted.closed

    def wait_closed(self, count, timeout=10):
        deadline = time.monotonic() + timeout
        while self.closed_count() < count:
            self.assertLess(time.monotonic(), deadline, "the mailbox never closed its connection")
            time.sleep(0.01)

    def test_a_fin_in_the_answers_segment_costs_no_request(self):
        # One client connection: one worker, one pool. Each round leaves a
        # pooled connection whose close came with its answer's last bytes
        # (no Connection: close), then asks again on it: a GET (taken on the
        # reactor's word, no peek), then a POST (its body cannot go twice).
        sock = self.client()
        for i in range(4):
            sock.sendall(get("/x/fin-with-answer"))
            status, data, rest = read_answer(sock)
            self.assertEqual((status, data, rest), (200, b"ok", b""), f"round {i}")
            sock.sendall(get(f"/x/get-{i}"))
            self.expect_echo(sock, "GET", f"/x/get-{i}")
            closed = self.closed_count()
            sock.sendall(get("/x/fin-with-answer"))
            self.assertEqual(read_answer(sock)[:2], (200, b"ok"), f"round {i}")
            # The POST goes once the close has left the mailbox: a close
            # racing a request is lost to any proxy (its body cannot go
            # twice); one that came before it must not be.
            self.wait_closed(closed + 1)
            body = f"upload {i} ".encode() * 300
            sock.sendall(get(f"/x/post-{i}", method="POST", body=body))
            self.expect_echo(sock, "POST", f"/x/post-{i}", body)
        with self.scripted.lock:
            posts = [r for r in self.scripted.requests if "/x/post-" in r]
        self.assertEqual(len(posts), 4, "a POST reached the mailbox twice or not at all")


class FramingTest(FastPathBase):
    def test_pipelined_requests_are_answered_in_order(self):
        sock = self.client()
        paths = [f"/x/pipelined-{i}" for i in range(5)]
        body = b"b" * 700
        sock.sendall(b"".join(get(p) for p in paths[:4]) + get(paths[4], method="POST", body=body))
        buf = b""
        for p in paths[:4]:
            buf = self.expect_echo(sock, "GET", p, buf=buf)
        buf = self.expect_echo(sock, "POST", paths[4], body, buf=buf)
        self.assertEqual(buf, b"")

    def test_a_header_and_a_body_split_across_reads(self):
        sock = self.client()
        sock.sendall(get("/x/split"))
        status, data, rest = read_answer(sock)
        self.assertEqual(status, 200)
        self.assertEqual(data, hashlib.sha256(b"/x/split").hexdigest().encode() * 60)
        self.assertEqual(rest, b"")
        # The client's side split too: the request header in two writes,
        # then its body in three.
        body = bytes(range(256)) * 12
        request = get("/x/upload-split", method="POST", body=body)
        cut = request.index(b"\r\n\r\n") + 4
        for piece in (request[:15], request[15:cut], request[cut:cut + 1000], request[cut + 1000:cut + 2000],
                      request[cut + 2000:]):
            sock.sendall(piece)
            time.sleep(0.05)
        self.expect_echo(sock, "POST", "/x/upload-split", body)
        # And the connection goes on.
        sock.sendall(get("/x/after-split"))
        self.expect_echo(sock, "GET", "/x/after-split")

    def test_an_interim_answer_in_the_same_segment_as_the_final_one(self):
        sock = self.client()
        for _ in range(2):
            sock.sendall(get("/x/interim"))
            status, data, rest = read_answer(sock)
            self.assertEqual((status, data, rest), (200, b"final", b""))


if __name__ == "__main__":
    import unittest
    unittest.main()
