"""One client address must not be able to take the whole proxy: 1,500 idle
pre-login IMAP connections from 127.0.0.1 hit the per-address cap
(server.max_connections_per_ip, default 100) and the ones past it are told
`* BYE [UNAVAILABLE] too many connections from your address` and closed, while
a client from another address (127.0.0.5) still logs in to the real Dovecot
behind the proxy."""
import adversarial_testing  # noqa: F401  (fixtures on the path)

import imaplib
import os
import resource
import selectors
import signal
import socket
import subprocess
import time

from config_pipeline_test import wait_until
from mail_proxy_test import PASSWORDS, MailProxyBase
from process import read_named_addresses
from zmproxy_testing import HomeTestCase, tool

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


class OutOfDescriptorsTest(HomeTestCase):
    """A proxy out of file descriptors must pause its accepts, not spin on a
    listening socket that stays readable, and serve again once descriptors
    are free."""

    FD_LIMIT = 96

    def test_accept_pauses_on_emfile_and_recovers(self):
        conf = os.path.join(self.home, "conf")
        os.makedirs(conf)
        with open(os.path.join(conf, "zmproxy.conf"), "w") as f:
            f.write('[server]\nbind_address = "127.0.0.1"\nworkers = 1\nworker_connections = 1000\n'
                    'log_file = "log/zmproxyd.log"\nmax_connections_per_ip = 0\n'
                    '[route]\nhandlers = []\n'
                    '[imap]\nport = 0\nssl_enabled = false\nstarttls = "off"\n'
                    '[pop3]\nenabled = false\nssl_enabled = false\nstarttls = "off"\n')
        limit = self.FD_LIMIT

        def low_fd_limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
        proxy = subprocess.Popen([tool("zmproxyd"), "--home", self.home], preexec_fn=low_fd_limit,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(proxy.wait, 10)
        self.addCleanup(proxy.send_signal, signal.SIGINT)
        addr = os.path.join(self.home, "run", "zmproxyd.addr")
        log = os.path.join(self.home, "log", "zmproxyd.log")
        wait_until(lambda: "imap " in _text(addr), "zmproxyd listens")
        port = read_named_addresses(addr)["imap"]
        # More connections than descriptors: the kernel queues them, the
        # proxy runs out while accepting.
        socks = []
        self.addCleanup(lambda: [s.close() for s in socks])
        for _ in range(2 * limit):
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        wait_until(lambda: "pausing accepts" in _text(log), "the proxy notices it is out of descriptors")
        # Not a busy loop: over two seconds the process uses a fraction of a CPU.
        before = _cpu_seconds(proxy.pid)
        time.sleep(2.0)  # a measurement window, not a synchronisation
        used = _cpu_seconds(proxy.pid) - before
        self.assertLess(used, 0.5, f"{used:.2f} s of CPU in 2 s while out of descriptors")
        self.assertEqual(_text(log).count("pausing accepts"), 1, "logged once per episode")
        # Descriptors back: it accepts and greets again.
        for s in socks:
            s.close()
        socks.clear()

        def greeted():
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                    s.settimeout(5)
                    return s.makefile("rb").readline().startswith(b"* OK")
            except OSError:
                return False
        wait_until(greeted, "a greeting once descriptors are free", timeout=DEADLINE)
        self.assertIn("accepting imap connections again", _text(log))


def _text(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def _cpu_seconds(pid):
    """utime + stime of `pid` in seconds (/proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
