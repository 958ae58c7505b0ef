"""The accept path takes one connection per readiness of the listener with
accept4 (the client's address, non-blocking and close-on-exec from the call
itself) and re-arms the listener's readiness after each: a burst of
connections arriving at once must all be taken, none left in the backlog
waiting for an edge that already went; the address the access log names must
be the client's own, port included; a client that resets before the proxy
takes its connection must not stop the listener (issue 18, bench/RESULTS.md:
"System calls per session")."""
import adversarial_testing  # noqa: F401  (fixtures on the path)

import errno
import os
import selectors
import socket
import struct
import time

from mail_proxy_test import PASSWORDS, MailProxyBase

BURST_SOURCES = [f"127.0.0.{i}" for i in range(20, 26)]  # 6 addresses,
PER_SOURCE = 50  # 50 each: under the per-address cap (100)
DEADLINE = 60.0


def access_log_lines(home):
    path = os.path.join(home, "log", "access.log")
    return open(path).read().splitlines() if os.path.exists(path) else []


class AcceptPathTest(MailProxyBase):
    def test_a_burst_of_connections_is_all_greeted(self):
        port = self.ports["imap"]
        sel = selectors.DefaultSelector()
        self.addCleanup(sel.close)
        socks = []
        self.addCleanup(lambda: [s.close() for s in socks])
        # Every connect started before any greeting is read: they land in
        # the listener's backlog together.
        for source in BURST_SOURCES:
            for _ in range(PER_SOURCE):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.bind((source, 0))
                s.setblocking(False)
                rc = s.connect_ex(("127.0.0.1", port))
                self.assertIn(rc, (0, errno.EINPROGRESS))
                socks.append(s)
                sel.register(s, selectors.EVENT_READ, bytearray())
        greeted = 0
        deadline = time.monotonic() + DEADLINE
        while greeted < len(socks) and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=1):
                try:
                    chunk = key.fileobj.recv(4096)
                except (BlockingIOError, InterruptedError):
                    continue
                except ConnectionError:
                    chunk = b""
                key.data.extend(chunk)
                if b"\r\n" in key.data or not chunk:
                    self.assertTrue(bytes(key.data).startswith(b"* OK"), bytes(key.data)[:100])
                    greeted += 1
                    sel.unregister(key.fileobj)
        self.assertEqual(greeted, len(socks), "every connection of the burst was taken and greeted")

    def test_the_access_log_names_the_clients_own_address_and_port(self):
        s = socket.create_connection(("127.0.0.1", self.ports["imap"]), timeout=30,
                                     source_address=("127.0.0.9", 0))
        self.addCleanup(s.close)
        source_port = s.getsockname()[1]
        f = s.makefile("rb")
        self.assertTrue(f.readline().startswith(b"* OK"))
        s.sendall(b'a LOGIN user1@example.com "' + PASSWORDS["user1@example.com"].encode() + b'"\r\n')
        while not (line := f.readline()).startswith(b"a "):
            self.assertNotEqual(line, b"")
        self.assertTrue(line.startswith(b"a OK"), line)
        s.sendall(b"b LOGOUT\r\n")
        while f.readline():
            pass
        want = f"127.0.0.9:{source_port} imap user1@example.com "
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(want in x for x in access_log_lines(self.home)):
            time.sleep(0.02)  # polling a condition with a deadline
        self.assertTrue(any(want in x for x in access_log_lines(self.home)),
                        f"no access-log line with {want!r}: {access_log_lines(self.home)[-3:]}")

    def test_clients_that_reset_at_once_do_not_stop_the_listener(self):
        for _ in range(50):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.connect(("127.0.0.1", self.ports["imap"]))
            s.close()  # RST, most likely before the proxy took it
        for proto in ("imap", "pop3"):
            s = socket.create_connection(("127.0.0.1", self.ports[proto]), timeout=30)
            self.addCleanup(s.close)
            self.assertTrue(s.makefile("rb").readline().startswith(b"* OK" if proto == "imap" else b"+OK"))


if __name__ == "__main__":
    import unittest
    unittest.main()
