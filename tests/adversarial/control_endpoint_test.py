"""The daemons' control endpoint over TCP (issue 19, fleet-wide admin),
attacked from the network: zmproxyd's and zmlookupd's endpoints must serve
only a caller that proves the shared secret for this connection's nonce,
only their allowlisted commands, within bounds (line, connections, time),
and must never write the secret or a proof to a log. Without a secret of
16 bytes or more there is no listener at all."""
import adversarial_testing  # noqa: F401  (fixtures on the path)

import glob
import json
import os
import socket
import time
import unittest

import control_endpoint as ce
from process import free_port, free_ports_below_ephemeral, poll_until
from test_ca import self_signed_certificate as make_cert
from zmproxy_procs import Daemon, control
from zmproxy_testing import BIN_DIR, HomeTestCase

SECRET = "f3c1a9e07b52d4e8a6c0b9d1e2f3a4b5"
DEADLINE = 30.0


def wait_for(predicate, what, timeout=DEADLINE):
    try:
        return poll_until(predicate, timeout, 0.05)
    except TimeoutError:
        raise AssertionError(f"not within {timeout}s: {what}") from None


def logs(home):
    text = ""
    for path in glob.glob(os.path.join(home, "log", "*")):
        with open(path, errors="replace") as f:
            text += f.read()
    return text


def closed_without_reply(sock):
    """True when the peer closed (EOF or reset) without sending a line."""
    try:
        return ce.read_line(sock) == b""
    except ConnectionResetError:
        return True


class ControlEndpointTest(HomeTestCase):
    """One server entry running zmproxyd and zmlookupd, each with its own
    control port, and the fleet's secret in localconfig."""

    def setUp(self):
        super().setUp()
        self.name = f"proxy-{os.getpid()}-{id(self)}.example.com"
        self.proxy_port = free_port()
        self.lookup_port = free_port()
        imap, imaps, pop3, pop3s = free_ports_below_ephemeral(4)
        self.check("zmlocalconfig", "-e", f"zimbra_server_hostname={self.name}",
                   "zmproxy_bind_address=127.0.0.1", "zmproxy_drain_timeout=1",
                   f"zmproxy_control_secret={SECRET}")
        self.check("zmprov", input=(
            f"cs {self.name} zimbraServiceHostname 127.0.0.1 zimbraServiceEnabled proxy "
            f"zimbraReverseProxyLookupTarget TRUE "
            f"zmproxyControlPort {self.proxy_port} zmlookupdControlPort {self.lookup_port} "
            f"zimbraImapProxyBindPort {imap} zimbraImapSSLProxyBindPort {imaps} "
            f"zimbraPop3ProxyBindPort {pop3} zimbraPop3SSLProxyBindPort {pop3s} "
            f"zimbraReverseProxyWorkerProcesses 1\n"))
        self.lookupd = Daemon(BIN_DIR, "zmlookupd", self.home, ["--listen", "127.0.0.1:0"]).start()
        self.addCleanup(self.lookupd.stop)
        self.check("zmprov", "ms", self.name, "zimbraExtensionBindPort", str(self.lookupd.port))
        conf = os.path.join(self.home, "conf")
        make_cert(os.path.join(conf, "zmproxy.crt"), os.path.join(conf, "zmproxy.key"))
        r = self.run_tool("zmproxyctl", "start")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.addCleanup(self.run_tool, "zmproxyctl", "stop", "--grace", "0")
        wait_for(lambda: "control endpoint listening" in logs(self.home)
                 and self.greets(self.proxy_port) and self.greets(self.lookup_port),
                 "both control endpoints greet")
        self.sent_proofs = []

    def check(self, *args, input=None):
        r = self.run_tool(*args, input=input)
        self.assertEqual(r.returncode, 0, f"{args}: {r.stdout}{r.stderr}")
        return r

    @staticmethod
    def greets(port):
        try:
            sock, nonce = ce.connect(port, timeout=5)
            sock.close()
            return nonce is not None
        except OSError:
            return False

    def send(self, port, line):
        """`line` (bytes) after the greeting; the reply (b"" when closed)."""
        sock, nonce = ce.connect(port)
        with sock:
            self.assertIsNotNone(nonce)
            sock.sendall(line)
            try:
                return ce.read_line(sock)
            except ConnectionResetError:
                return b""

    def proved(self, port, command, secret=SECRET):
        sock, nonce = ce.connect(port)
        with sock:
            p = ce.proof(secret, nonce, command)
            self.sent_proofs.append(p)
            sock.sendall(f"{p} {command}\n".encode())
            return ce.read_line(sock).decode(errors="replace"), nonce

    def tearDown(self):
        # Nothing of the secret, nor any proof sent, in any log of the home.
        text = logs(self.home)
        self.assertNotIn(SECRET, text)
        self.assertNotIn(SECRET[:16], text)
        for p in self.sent_proofs:
            self.assertNotIn(p, text)
        super().tearDown()

    def test_status_and_stats_with_the_right_proof(self):
        reply, _ = self.proved(self.proxy_port, "STATUS")
        self.assertTrue(json.loads(reply)["running"])
        reply, _ = self.proved(self.lookup_port, "STATS")
        self.assertIn("reloads", json.loads(reply))

    def test_flush_over_tcp_rebuilds_zmlookupd(self):
        before = json.loads(self.proved(self.lookup_port, "STATS")[0])["reloads"]
        self.assertEqual(self.proved(self.lookup_port, "FLUSH")[0], "OK flushed")
        self.assertEqual(json.loads(self.proved(self.lookup_port, "STATS")[0])["reloads"], before + 1)

    def test_wrong_proof_is_refused_with_one_line_logged(self):
        # The hole: a caller without the secret runs commands.
        for port in (self.proxy_port, self.lookup_port):
            before = logs(self.home).count("wrong proof")
            reply, _ = self.proved(port, "STATUS" if port == self.proxy_port else "STATS",
                                   secret="not-the-fleet-secret-at-all")
            self.assertEqual(reply, "ERROR not authenticated")
            wait_for(lambda: logs(self.home).count("wrong proof") == before + 1,
                     "one line logged for the refusal")
        # Garbage instead of a proof: the same.
        self.assertEqual(self.send(self.proxy_port, b"STATUS\n"), b"ERROR not authenticated")
        self.assertEqual(self.send(self.proxy_port, b"deadbeef STATUS\n"), b"ERROR not authenticated")

    def test_a_replayed_proof_is_refused(self):
        # The hole: a proof sniffed off the wire replayed on a new connection.
        reply, nonce = self.proved(self.proxy_port, "STATUS")
        self.assertTrue(reply.startswith("{"))
        captured = ce.proof(SECRET, nonce, "STATUS")
        sock, other = ce.connect(self.proxy_port)
        with sock:
            self.assertNotEqual(other, nonce, "every connection gets a fresh nonce")
            sock.sendall(f"{captured} STATUS\n".encode())
            self.assertEqual(ce.read_line(sock), b"ERROR not authenticated")
        # And a proof for one command does not carry another.
        sock, nonce = ce.connect(self.proxy_port)
        with sock:
            sock.sendall(f"{ce.proof(SECRET, nonce, 'STATUS')} FORGET ALL\n".encode())
            self.assertEqual(ce.read_line(sock), b"ERROR not authenticated")

    def test_an_oversized_line_closes_the_connection(self):
        for port in (self.proxy_port, self.lookup_port):
            sock, nonce = ce.connect(port)
            with sock:
                self.assertIsNotNone(nonce)
                try:
                    sock.sendall(b"a" * 5000)
                except OSError:
                    pass
                self.assertTrue(closed_without_reply(sock))
        wait_for(lambda: logs(self.home).count("a line over 4096 bytes") >= 2,
                 "the oversized lines logged")

    def test_commands_off_the_allowlist_are_refused(self):
        # The hole: the TCP endpoint as a way to STOP or RELOAD a proxy.
        for command in ("STOP", "STOP 0", "RELOAD", "RELOAD /etc/passwd", "FLUSH", "status",
                        "FORGET", "FORGET  x", "FORGET a\tb"):
            reply, _ = self.proved(self.proxy_port, command)
            self.assertTrue(reply.startswith("ERROR not allowed over TCP"), (command, reply))
        for command in ("STATUS", "STOP", "FORGET ALL", "flush"):
            reply, _ = self.proved(self.lookup_port, command)
            self.assertTrue(reply.startswith("ERROR not allowed over TCP"), (command, reply))
        self.assertTrue(json.loads(control(self.home, "STATUS"))["running"], "still running")
        # FORGET passes the allowlist and reaches zmproxyd's own dispatch.
        for command in ("FORGET ALL", "FORGET user1@example.com alias@example.com"):
            reply, _ = self.proved(self.proxy_port, command)
            self.assertFalse(reply.startswith("ERROR not allowed"), (command, reply))

    def test_connections_are_capped(self):
        # The hole: idle connections that starve the admins' tools (or the
        # control thread) of descriptors.
        held = []
        try:
            for _ in range(8):
                sock, nonce = ce.connect(self.proxy_port)
                held.append(sock)
                self.assertIsNotNone(nonce)
            sock = socket.create_connection(("127.0.0.1", self.proxy_port), timeout=10)
            with sock:
                self.assertTrue(closed_without_reply(sock), "the ninth is closed unanswered")
        finally:
            for s in held:
                s.close()
        wait_for(lambda: self.greets(self.proxy_port), "served again once they closed")
        self.assertIn("connections open, the most it serves", logs(self.home))

    def test_a_silent_client_is_closed_at_the_deadline(self):
        sock, nonce = ce.connect(self.lookup_port, timeout=DEADLINE)
        with sock:
            self.assertIsNotNone(nonce)
            start = time.monotonic()
            self.assertTrue(closed_without_reply(sock))
            self.assertLess(time.monotonic() - start, DEADLINE)
        wait_for(lambda: "no command within" in logs(self.home), "the deadline logged")


    def test_zmproxyd_refuses_a_short_secret(self):
        # The hole: a guessable secret taken for a key; zmproxyd must not listen with it.
        self.check("zmlocalconfig", "-e", "zmproxy_control_secret=short-secret")
        r = self.run_tool("zmproxyctl", "restart", "--grace", "0")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        wait_for(lambda: "fewer than 16 bytes" in logs(self.home), "the refusal logged")
        self.assertEqual(logs(self.home).count("zmproxy_control_secret has fewer than 16 bytes"), 1)
        self.assertTrue(json.loads(control(self.home, "STATUS"))["running"], "the proxy serves on")
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", self.proxy_port), timeout=5).close()
        self.assertNotIn("short-secret", logs(self.home))


class ShortSecretTest(HomeTestCase):
    """zmlookupd and zmproxyd refuse to open the endpoint with a short (or
    no) secret: one line saying so, no listener, the daemon otherwise up."""

    def start_lookupd(self, secret):
        port = free_port()
        name = f"lookup-{os.getpid()}-{id(self)}"
        r = self.run_tool("zmlocalconfig", "-e", f"zimbra_server_hostname={name}",
                          f"zmproxy_control_secret={secret}")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.run_tool("zmprov", "cs", name, "zmlookupdControlPort", str(port))
        self.assertEqual(r.returncode, 0, r.stderr)
        d = Daemon(BIN_DIR, "zmlookupd", self.home, ["--listen", "127.0.0.1:0"]).start()
        self.addCleanup(d.stop)
        return d, port

    def test_secret_too_short(self):
        d, port = self.start_lookupd("fifteen-bytes!!")
        self.assertEqual(len("fifteen-bytes!!"), 15)
        wait_for(lambda: "fewer than 16 bytes" in d.log(), "the refusal logged")
        self.assertEqual(d.log().count("zmproxy_control_secret has fewer than 16 bytes"), 1)
        self.assertNotIn("fifteen-bytes!!", d.log())
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()

    def test_no_secret(self):
        d, port = self.start_lookupd("")
        wait_for(lambda: "is not started: no secret" in d.log(), "the refusal logged")
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()


if __name__ == "__main__":
    unittest.main()
