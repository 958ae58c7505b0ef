"""Route lookup neighbours that misbehave (issue 20, hostile neighbours): a
lookup handler (zmlookupd's stand-in here, a scripted HTTP server) that
hangs, answers garbage, answers without a route, or answers with an
Auth-Server name that does not resolve; and a real memcached that hangs
(SIGSTOP).

A failed lookup must give the client a tagged NO [UNAVAILABLE] within
route.lookup_timeout (3 s), write ONE line to zmproxyd's log naming the
handler (or the server it named), and leave a healthy session, logged in
through the same proxy and the same handler, answering as before. A hung
memcached is only a cache: logins go on, each within the memcached
timeout, with one line naming memcached."""
import os
import signal
import sys
import time
import unittest
import urllib.parse

from hostile_testing import HostileBase
from scripted_server import ScriptedServer

TIMEOUT = 3.0  # route.lookup_timeout
SLACK = 2.0


class ScriptedHandler(ScriptedServer):
    """An nginx-lookup handler: healthy@ gets the Dovecot's route; the
    other users get what `script` says: "hang", "garbage", "no-route",
    "nowhere" (Auth-Server: a name that does not resolve)."""

    def __init__(self, address, imap_port):
        super().__init__(address)
        self.imap_port = imap_port

    def converse(self, conn):
        conn.settimeout(60)
        f = conn.makefile("rb")
        while True:
            head = []
            for line in f:
                if line in (b"\r\n", b"\n"):
                    break
                head.append(line.decode("latin-1"))
            if not head:
                return
            fields = dict(h.split(":", 1) for h in head[1:] if ":" in h)
            user = urllib.parse.unquote(fields.get("Auth-User", "").strip())
            local = user.split("@")[0]
            if local == "hang":
                while conn.recv(65536):
                    pass
                return
            if local == "garbage":
                conn.sendall(b"\x16\x03\x01\x00\x10 this is no HTTP at all\r\n\r\n")
                return
            if local == "no-route":
                conn.sendall(b"HTTP/1.1 200 OK\r\nAuth-Status: OK\r\nContent-Length: 0\r\n\r\n")
                continue
            server, port = ("127.0.0.2", self.imap_port)
            if local == "nowhere":
                server, port = ("mailbox.nowhere.invalid", 143)
            conn.sendall(f"HTTP/1.1 200 OK\r\nAuth-Status: OK\r\nAuth-Server: {server}\r\n"
                         f"Auth-Port: {port}\r\nContent-Length: 0\r\n\r\n".encode())


class HostileLookupHandlerTest(HostileBase):
    lookup_timeout = "3s"
    route_extra = 'local_cache_size = 0\nhandler_retry = "1s"'

    def lookup_handlers(self):
        self.handler = ScriptedHandler("127.0.0.21", self.dovecot.imap_port)
        self.handler.start()
        self.addCleanup(self.handler.close)
        return [f"127.0.0.21:{self.handler.port}"]

    def refused(self, user, needle, most=TIMEOUT + SLACK):
        healthy = self.healthy_session()
        took, answer, client = self.while_healthy(lambda: self.login_answer(user), healthy)
        self.assertTrue(answer.startswith(b"a NO"), answer)
        self.assertIn(b"UNAVAILABLE", answer)
        self.assertLess(took, most, f"answered after {took:.1f} s")
        line = self.assert_one_line_naming(needle, client)
        self.assert_healthy(healthy)
        self.assert_new_healthy_login()
        return line

    def handler_name(self):
        return f"127.0.0.21:{self.handler.port}"

    def test_a_handler_that_hangs(self):
        line = self.refused("hang@example.com", self.handler_name())
        self.assertIn("no answer within 3000 ms", line)

    def test_a_handler_that_answers_garbage(self):
        line = self.refused("garbage@example.com", self.handler_name())
        self.assertIn("not HTTP", line)

    def test_a_handler_that_answers_without_a_route(self):
        line = self.refused("no-route@example.com", self.handler_name())
        self.assertIn("without a usable route", line)

    def test_an_auth_server_that_does_not_resolve(self):
        # Two attempts (the route may be stale), each bounded by the timeout.
        line = self.refused("nowhere@example.com", "mailbox.nowhere.invalid", 2 * TIMEOUT + SLACK)
        self.assertIn("the name does", line)


class HungMemcachedTest(HostileBase):
    """A real memcached, stopped (SIGSTOP) after the routes are in it."""

    route_extra = ('memcached_timeout = "500ms"\nlocal_cache_size = 0\n'
                   'secret = "hostile-lookup-secret"')

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        from memcached import Memcached
        cls.memcached = Memcached().start()
        cls.addClassCleanup(cls.memcached.stop)

    def test_logins_go_on_while_memcached_hangs(self):
        healthy = self.healthy_session()  # fills memcached with the route
        queues = self.status()["queues"]
        for name in ("access_log", "memcached_writes", "memcached_reads"):
            self.assertIn(name, queues)
            self.assertEqual(queues[name]["dropped"], 0, name)
        pid = self.memcached.pid
        os.kill(pid, signal.SIGSTOP)
        self.addCleanup(os.kill, pid, signal.SIGCONT)
        for i in range(5):
            start = time.monotonic()
            self.assert_new_healthy_login()
            took = time.monotonic() - start
            self.assertLess(took, 0.5 + SLACK, f"login {i} took {took:.1f} s with memcached hung")
        self.assert_healthy(healthy)
        server = self.memcached.server
        lines = self.lines_naming(server)
        self.assertEqual(len(lines), 1, f"lines naming {server}: {lines}\n{self.log_text()}")
        print(f"\n  {lines[0]}", file=sys.stderr)
        status = self.status()
        self.assertEqual(status["queues"]["memcached_reads"]["dropped"], 0)
        os.kill(pid, signal.SIGCONT)
        self.assert_new_healthy_login()


if __name__ == "__main__":
    unittest.main()
