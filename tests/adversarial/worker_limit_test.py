"""The worker connection limit reached (issue 20, resource limits): one
worker with server.worker_connections = 4, its places held by idle and
logged-in sessions, then a flood of new connections for two seconds.

Each connection over the limit must be told so (IMAP `* BYE [UNAVAILABLE]`,
POP3 `-ERR [SYS/TEMP]`, HTTP 503) and closed; the sessions holding the
places go on as before; the log says so at most once a second, with how
many were refused and the setting to raise; STATUS counts every refusal
(worker_refused); and the flood costs the proxy little CPU (it accepts,
answers and closes: no loop on a listener that stays readable). Once a
place is free, a new connection is served again."""
import imaplib
import os
import re
import socket
import sys
import time
import unittest

from hostile_testing import HEALTHY, HEALTHY_PW, HostileBase
from process import poll_until

LIMIT = 4
FLOOD_SECONDS = 2.0
PACE = 0.004  # at most 250 new connections a second


class WorkerLimitTest(HostileBase):
    server_extra = f"worker_connections = {LIMIT}\nmax_connections_per_ip = 0"

    def conf(self):
        text = super().conf().replace("workers = 2", "workers = 1")
        return text + '\n[http]\nenabled = true\nport = 0\nssl_port = 0\nupstreams = ["127.0.0.2:1"]\n'

    def hold_the_limit(self):
        """LIMIT sessions: two logged in to Dovecot, two idle before login."""
        held = [self.healthy_session(), self.healthy_session()]
        idle = []
        for _ in range(LIMIT - len(held)):
            s = socket.create_connection(("127.0.0.1", self.ports["imap"]), timeout=10)
            self.addCleanup(s.close)
            f = s.makefile("rb")
            self.assertTrue(f.readline().startswith(b"* OK"))
            idle.append((s, f))
        poll_until(lambda: self.status()["connections"]["imap"]["active"] == LIMIT, 10, 0.05)
        return held, idle

    def first_answer(self, port, send=b""):
        """What a new connection is told before the proxy closes it."""
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            if send:
                s.sendall(send)
            out = b""
            while True:
                try:
                    chunk = s.recv(4096)
                except ConnectionResetError:
                    return out
                if not chunk:
                    return out
                out += chunk

    def test_connections_over_the_limit_are_refused_cleanly(self):
        held, idle = self.hold_the_limit()
        first_refusal = time.monotonic()
        self.assertEqual(self.first_answer(self.ports["imap"]),
                         b"* BYE [UNAVAILABLE] the server is busy, try again later\r\n")
        self.assertEqual(self.first_answer(self.ports["pop3"]),
                         b"-ERR [SYS/TEMP] the server is busy, try again later\r\n")
        web = self.first_answer(self.ports["http"])
        self.assertTrue(web.startswith(b"HTTP/1.1 503 Service Unavailable\r\n"), web)
        self.assertIn(b"Retry-After: 10\r\n", web)
        self.assertTrue(web.endswith(b"\r\n\r\nthe server is busy, try again later\r\n"), web)
        # TLS listeners close without a handshake.
        self.assertEqual(self.first_answer(self.ports["imaps"]), b"")

        # The flood: new connections for two seconds, each read to its close.
        cpu_before = _cpu_seconds(self.proxy.proc.pid)
        start = time.monotonic()
        answers = {}
        flood = 0
        while time.monotonic() - start < FLOOD_SECONDS:
            answer = self.first_answer(self.ports["imap"])
            answers[answer] = answers.get(answer, 0) + 1
            flood += 1
            time.sleep(PACE)  # the flood's pace, not a synchronisation
        elapsed = time.monotonic() - start
        cpu = _cpu_seconds(self.proxy.proc.pid) - cpu_before
        print(f"\n{flood} connections refused in {elapsed:.1f} s, {cpu:.2f} s of zmproxyd's CPU",
              file=sys.stderr)
        self.assertEqual(answers, {b"* BYE [UNAVAILABLE] the server is busy, try again later\r\n": flood})
        self.assertLess(cpu, 0.5 * elapsed, f"{cpu:.2f} s of CPU for {flood} refusals in {elapsed:.1f} s")

        # The held sessions were never touched.
        for c in held:
            self.assert_healthy(c)
        for s, f in idle:
            s.sendall(b"n NOOP\r\n")
            self.assertEqual(f.readline(), b"n OK NOOP completed\r\n")

        # STATUS counted each refusal, per listener.
        refused = 1 + 1 + 1 + 1 + flood  # imap, pop3, http, imaps, then the flood
        connections = self.status()["connections"]
        self.assertEqual(sum(p["worker_refused"] for p in connections.values()), refused)
        self.assertEqual(connections["imap"]["worker_refused"], 1 + flood)
        text = self.run_tool("zmproxyctl", "status").stdout
        self.assertIn(f"refused over server.worker_connections: imap {1 + flood} imaps 1 pop3 1 http 1",
                      text)

        # The log: a line a second at most, each naming the setting, the
        # counts adding up to what was refused by the time of the last line.
        lines = [line for line in self.log_text().splitlines() if "server.worker_connections" in line]
        seconds = time.monotonic() - first_refusal
        self.assertGreaterEqual(len(lines), 1)
        self.assertLessEqual(len(lines), int(seconds) + 1, f"{len(lines)} lines in {seconds:.1f} s:\n" +
                             "\n".join(lines))
        print("\n".join(lines), file=sys.stderr)
        counted = 0
        for line in lines:
            self.assertIn("raise zimbraReverseProxyWorkerConnections", line)
            counted += int(re.search(r": (\d+) new connections? refused since the last line", line).group(1))
        self.assertLessEqual(counted, refused)
        self.assertGreater(counted, 0)

        # A place given back is taken by the next connection.
        s, f = idle.pop()
        s.close()
        f.close()

        def greeted():
            return self.first_answer(self.ports["imap"], b"a LOGOUT\r\n").startswith(b"* OK")
        poll_until(greeted, 10, 0.05)
        with imaplib.IMAP4("127.0.0.1", self.ports["imap"], timeout=30) as c:
            self.assertEqual(c.login(HEALTHY, HEALTHY_PW)[0], "OK")
            c.logout()


def _cpu_seconds(pid):
    """utime + stime of `pid` in seconds (/proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    unittest.main()
