"""One client address must not be able to take the whole proxy: 1,500 idle
pre-login IMAP connections from 127.0.0.1 hit the per-address cap
(server.max_connections_per_ip, default 100) and the ones past it are told
`* BYE [UNAVAILABLE] too many connections from your address` and closed, while
a client from another address (127.0.0.5) still logs in to the real Dovecot
behind the proxy."""
import adversarial_testing  # noqa: F401  (fixtures on the path)

import contextlib
import imaplib
import os
import resource
import selectors
import shutil
import signal
import socket
import subprocess
import time
import unittest

import sanitizer_reports
from mail_proxy_test import PASSWORDS, MailProxyBase
from process import poll_until, read_named_addresses
from zmproxy_procs import control
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
    are free; out of them at start it serves or exits saying why, never
    dies of a signal. A failure here shows what zmproxyd said (explain)."""

    FD_LIMIT = 96

    def test_accept_pauses_on_emfile_and_recovers(self):
        proxy = self.start_proxy(self.FD_LIMIT)
        with self.explained(proxy):
            self.pause_and_recover(proxy, self.FD_LIMIT)

    def pause_and_recover(self, proxy, limit):
        addr = os.path.join(self.home, "run", "zmproxyd.addr")
        log = os.path.join(self.home, "log", "zmproxyd.log")
        self.wait_for(proxy, lambda: "imap " in _text(addr), "zmproxyd listens")
        port = read_named_addresses(addr)["imap"]
        # More connections than descriptors: the kernel queues them, the
        # proxy runs out while accepting.
        socks = []
        self.addCleanup(lambda: [s.close() for s in socks])
        for _ in range(2 * limit):
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        self.wait_for(proxy, lambda: "pausing accepts" in _text(log),
                      "the proxy notices it is out of descriptors")
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
        self.wait_for(proxy, greeted, "a greeting once descriptors are free")
        self.assertIn("accepting imap connections again", _text(log))

    # The sanitizers' own runtime needs descriptors too (UBSan's vptr check
    # tests memory with a pipe): out of them, it reports an "invalid vptr"
    # that is its own failure, not the daemon's.
    @unittest.skipIf(sanitizer_reports.ENABLED, "the sanitizer runtime needs descriptors itself")
    def test_out_of_descriptors_at_start_it_serves_or_exits_saying_why(self):
        # Connections queued at start could take every descriptor before the
        # control thread had made its own (event loop, signal pipe, control
        # socket): asio threw past the running workers and zmproxyd died of
        # SIGABRT (the flood above, once in a while). A limit a few short of
        # what a serving zmproxyd holds runs out at that step without a race:
        # the control thread's descriptors are the last that start makes.
        # Every limit from ten short to one over: serve, or exit saying why.
        probe = self.start_proxy(256)
        with self.explained(probe):
            self.wait_for(probe, lambda: "serving with" in _text(self.log_file()),
                          "zmproxyd serves")
            needed = len(os.listdir(f"/proc/{probe.pid}/fd"))
        self.stop_proxy(probe)
        self.assertEqual(probe.returncode, 0, self.explain(probe))
        for limit in range(max(5, needed - 10), needed + 2):
            with self.subTest(limit=limit):
                self.reset_home()
                proxy = self.start_proxy(limit)
                context = f"under an open-file limit of {limit} ({needed} in use when serving)"
                with self.explained(proxy, context):
                    self.serves_or_exits(proxy)

    def serves_or_exits(self, proxy):
        try:
            poll_until(lambda: "serving with" in _text(self.log_file()), DEADLINE, 0.02,
                       give_up=lambda: proxy.poll() is not None)
        except TimeoutError:
            self.fail("neither served nor exited")
        self.stop_proxy(proxy)
        self.assertGreaterEqual(proxy.returncode, 0, "died of a signal")
        if proxy.returncode != 0:
            said = _text(self.log_file()) + _text(self.output_file())
            self.assertIn("Too many open files", said, "an exit without the reason")

    # ---- zmproxyd under an open-file limit, and what it said ----

    def log_file(self):
        return os.path.join(self.home, "log", "zmproxyd.log")

    def output_file(self):
        return os.path.join(self.home, "zmproxyd.out")

    def reset_home(self):
        for name in ("conf", "log", "run"):
            shutil.rmtree(os.path.join(self.home, name), True)
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.output_file())

    def start_proxy(self, limit):
        """zmproxyd (one worker, IMAP on an ephemeral port, no lookups) under
        an open-file limit of `limit`; its standard output and error in
        zmproxyd.out."""
        conf = os.path.join(self.home, "conf")
        os.makedirs(conf, exist_ok=True)
        with open(os.path.join(conf, "zmproxy.conf"), "w") as f:
            f.write('[server]\nbind_address = "127.0.0.1"\nworkers = 1\nworker_connections = 1000\n'
                    'log_file = "log/zmproxyd.log"\nmax_connections_per_ip = 0\n'
                    '[route]\nhandlers = []\n'
                    '[imap]\nport = 0\nssl_enabled = false\nstarttls = "off"\n'
                    '[pop3]\nenabled = false\nssl_enabled = false\nstarttls = "off"\n')

        def low_fd_limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
        with open(self.output_file(), "wb") as out:
            proxy = subprocess.Popen([tool("zmproxyd"), "--home", self.home],
                                     preexec_fn=low_fd_limit, stdin=subprocess.DEVNULL,
                                     stdout=out, stderr=out)
        self.addCleanup(self.stop_proxy, proxy)
        return proxy

    @staticmethod
    def stop_proxy(proxy):
        if proxy.poll() is None:
            proxy.send_signal(signal.SIGINT)
        try:
            proxy.wait(10)
        except subprocess.TimeoutExpired:
            proxy.kill()
            proxy.wait(10)

    def wait_for(self, proxy, predicate, what, timeout=DEADLINE):
        """Poll predicate() until true; fail naming `what` after timeout
        seconds, or at once when zmproxyd has exited."""
        try:
            if poll_until(predicate, timeout, 0.02, give_up=lambda: proxy.poll() is not None):
                return
        except TimeoutError:
            self.fail(f"not within {timeout}s: {what}")
        self.fail(f"zmproxyd exited before {what}")

    @contextlib.contextmanager
    def explained(self, proxy, context=""):
        """A failure inside gets what zmproxyd said appended (explain)."""
        try:
            yield
        except (AssertionError, OSError) as e:
            raise self.failureException(f"{e} {context}\n{self.explain(proxy)}") from e

    def explain(self, proxy):
        """zmproxyd's state, its STATUS, and the tails of its log and output."""
        code = proxy.poll()
        if code is None:
            status = _status(self.home) or "(no answer)"
            state = f"zmproxyd (pid {proxy.pid}) runs; STATUS: {status}"
        elif code < 0:
            state = f"zmproxyd died of {signal.Signals(-code).name}"
        else:
            state = f"zmproxyd exited with status {code}"
        parts = [state]
        for name, path in (("log", self.log_file()), ("output", self.output_file())):
            tail = _text(path).splitlines()[-25:]
            parts.append(f"--- {name} ({len(tail)} last lines) ---\n" + "\n".join(tail))
        return "\n".join(parts)


def _status(home):
    """STATUS from zmproxyd's control socket, or "" when it does not answer."""
    try:
        return control(home, "STATUS", timeout=5).strip()
    except OSError:
        return ""


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
    unittest.main()
