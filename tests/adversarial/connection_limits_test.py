"""One client address must not be able to take the whole proxy: 1,500 idle
pre-login IMAP connections from 127.0.0.1 hit the per-address cap
(server.max_connections_per_ip, default 100) and the ones past it are told
`* BYE [UNAVAILABLE] too many connections from your address` and closed, while
a client from another address (127.0.0.5) still logs in to the real Dovecot
behind the proxy."""
import adversarial_testing  # noqa: F401  (fixtures on the path)

import imaplib
import resource
import selectors
import socket
import time

from mail_proxy_test import PASSWORDS, MailProxyBase

FLOOD = 1500
CAP = 100  # the default of server.max_connections_per_ip
DEADLINE = 60.0


def raise_own_fd_limit(wanted):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= wanted


class PerAddressCapTest(MailProxyBase):
    def test_a_flood_from_one_address_is_capped_and_another_address_still_logs_in(self):
        if not raise_own_fd_limit(FLOOD + 200):
            self.skipTest(f"this process may not open {FLOOD + 200} files")
        port = self.ports["imap"]
        socks = []
        self.addCleanup(lambda: [s.close() for s in socks])
        sel = selectors.DefaultSelector()
        self.addCleanup(sel.close)
        for _ in range(FLOOD):
            s = socket.create_connection(("127.0.0.1", port), timeout=10,
                                         source_address=("127.0.0.1", 0))
            s.setblocking(False)
            socks.append(s)
            sel.register(s, selectors.EVENT_READ, bytearray())
        # Each connection gets a greeting or the refusal; read until all
        # have a full line (or the refused ones are closed).
        lines = {}
        deadline = time.monotonic() + DEADLINE
        while len(lines) < FLOOD and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=1):
                buf = key.data
                try:
                    chunk = key.fileobj.recv(4096)
                except (ConnectionResetError, BlockingIOError):
                    chunk = b""
                buf += chunk
                if b"\n" in buf or not chunk:
                    lines[key.fileobj] = bytes(buf).split(b"\r\n")[0]
                    sel.unregister(key.fileobj)
        greeted = [s for s, line in lines.items() if line.startswith(b"* OK")]
        refused = [s for s, line in lines.items()
                   if line == b"* BYE [UNAVAILABLE] too many connections from your address"]
        self.assertEqual(len(lines), FLOOD, "every connection was answered")
        self.assertEqual(len(greeted), CAP, "the cap lets exactly this many in")
        self.assertEqual(len(refused), FLOOD - CAP)
        # The refused ones are closed by the proxy, not left open.
        for s in refused[:50]:
            s.setblocking(True)
            s.settimeout(10)
            try:
                self.assertEqual(s.recv(100), b"")
            except ConnectionResetError:
                pass
        # Another address is not affected: a full login to Dovecot.
        c = _imap_from("127.0.0.5", port)
        try:
            typ, _ = c.login("user1@example.com", PASSWORDS["user1@example.com"])
            self.assertEqual(typ, "OK")
            self.assertGreaterEqual(self.count(c), 1)
        finally:
            c.logout()
        # Closing the flood frees the address's places again.
        for s in socks:
            s.close()
        socks.clear()

        def one_more_greeted():
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                    return s.makefile("rb").readline().startswith(b"* OK")
            except OSError:
                return False
        deadline = time.monotonic() + DEADLINE
        while not one_more_greeted():
            self.assertLess(time.monotonic(), deadline, "the cap was never given back")
            time.sleep(0.05)  # polling a condition with a deadline


def _imap_from(source, port):
    """An imaplib client whose connection comes from `source`."""
    class SourcedIMAP4(imaplib.IMAP4):
        def _create_socket(self, timeout):
            return socket.create_connection((self.host, self.port), timeout,
                                            source_address=(source, 0))
    return SourcedIMAP4("127.0.0.1", port, timeout=30)


if __name__ == "__main__":
    import unittest
    unittest.main()
