"""zmproxyctl throttle attacked: what it reads comes from login names any
client chooses and from memcached servers it does not control.

Holes kept closed:
* A login name with terminal escapes or CR LF (stored escaped in the key,
  decoded for display) reaches the admin's terminal raw: zmproxyctl shows
  every non-printable byte as %XX, in the table and in --json, and the JSON
  stays valid.
* A user named "x,ip=10.0.0.1" makes its failed-login pair look like one of
  10.0.0.1: `clear 10.0.0.1` must not delete it, nor `show` list it.
* A memcached server (or anything on its path) that lists a key holding
  CR LF smuggles a second command into zmproxyctl's `get`/`delete`
  (flush_all, dropping the fleet's routes): such a dump line is refused and
  no command is built from it.
* A server that accepts and never answers, or sends an endless line, holds
  zmproxyctl forever: it gives up within route.memcached_timeout (per read)
  and a line bound, naming the server, and still lists the others.
"""
import json
import os
import socket
import threading
import time
import unittest

import adversarial_testing  # noqa: F401  (puts tests/integration and tests/support on sys.path)
from memcached import Memcached
from zmproxy_testing import HomeTestCase


def command(mc, text):
    with socket.create_connection((mc.address, mc.port), timeout=5) as s:
        s.sendall(text.encode("latin-1"))
        reply = b""
        while not reply.endswith(b"\r\n"):
            chunk = s.recv(4096)
            if not chunk:
                break
            reply += chunk
        return reply.decode().strip()


class FakeMemcached:
    """A scripted memcached on a loopback port: `reply(command_line)` returns
    the bytes to send (None: say nothing and keep the connection). Records
    every command line it received."""

    def __init__(self, reply):
        self.reply = reply
        self.received = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.server = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.sock.settimeout(0.2)
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn):
        conn.settimeout(0.2)
        buf = b""
        with conn:
            while not self.stopping:
                try:
                    chunk = conn.recv(4096)
                except socket.timeout:
                    continue
                except OSError:
                    return
                if not chunk:
                    return
                buf += chunk
                while b"\r\n" in buf:
                    line, buf = buf.split(b"\r\n", 1)
                    self.received.append(line)
                    out = self.reply(line)
                    if out is not None:
                        try:
                            conn.sendall(out)
                        except OSError:
                            return

    def stop(self):
        self.stopping = True
        self.sock.close()
        self.thread.join(5)


class ThrottleControlAttackTest(HomeTestCase):
    def setUp(self):
        super().setUp()
        os.makedirs(os.path.join(self.home, "conf"))
        self.mc = Memcached().start()
        self.addCleanup(self.mc.stop)

    def write_conf(self, servers):
        memcached = ", ".join(f'"{s}"' for s in servers)
        with open(os.path.join(self.home, "conf", "zmproxy.conf"), "w") as f:
            f.write(f'[route]\nmemcached = [{memcached}]\nmemcached_timeout = "300ms"\n'
                    '[throttle]\nuser_limit = 1\nfailed_lock = 5\n')

    def ctl(self, *args):
        return self.run_tool("zmproxyctl", "throttle", *args)

    def test_a_login_name_cannot_write_escapes_to_the_admins_terminal(self):
        # "evil\x1b]0;owned\x07\r\nuser" lower-cased and escaped as safe_key does;
        # \xc2\x9b is the one-byte CSI of C1; \xff is not UTF-8.
        key = "throttle:user=evil%1B]0;owned%07%0D%0A\xc2\x9b2J\xffuser"
        self.assertEqual(command(self.mc, f"add {key} 0 60 1\r\n1\r\n"), "STORED")
        self.write_conf([self.mc.server])
        r = self.run_tool("zmproxyctl", "throttle", "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        for forbidden in ("\x1b", "\x07", "\r", "\x9b", "\ufffd"):
            self.assertNotIn(forbidden, r.stdout)
        self.assertIn("evil%1B]0;owned%07%0D%0A%C2%9B2J%FFuser", r.stdout)
        self.assertEqual(len(r.stdout.splitlines()), 2, r.stdout)
        r = self.run_tool("zmproxyctl", "throttle", "list", "--json")
        raw = r.stdout.encode("utf-8", "surrogateescape")
        rows = json.loads(raw.decode("utf-8"))  # strict UTF-8: raises on a stray byte
        self.assertEqual(rows[0]["user"], "evil%1B]0;owned%07%0D%0A%C2%9B2J%FFuser")

    def test_a_user_named_like_a_pair_cannot_pass_for_another_address(self):
        key = "zmproxy:authfail:user=x,ip=10.0.0.1,ip=127.0.0.9"
        self.assertEqual(command(self.mc, f"add {key} 0 60 1\r\n9\r\n"), "STORED")
        self.write_conf([self.mc.server])
        r = self.ctl("show", "10.0.0.1")
        self.assertEqual((r.returncode, r.stdout), (0, "no throttle counters for 10.0.0.1\n"))
        r = self.ctl("clear", "10.0.0.1")
        self.assertEqual((r.returncode, r.stdout), (0, "nothing to clear for 10.0.0.1\n"))
        self.assertIsNotNone(self.mc.get(key))
        rows = json.loads(self.ctl("show", "127.0.0.9", "--json").stdout)
        self.assertEqual([(r["user"], r["address"], r["state"]) for r in rows], [("x,ip=10.0.0.1", "127.0.0.9", "locked")])

    def test_a_dumped_key_cannot_smuggle_a_command(self):
        def reply(line):
            if line.startswith(b"lru_crawler metadump"):
                return (b"key=throttle%3Auser%3Dx%0D%0Aflush_all exp=-1 la=1 cas=1 fetch=no cls=1 size=60\n"
                        b"END\r\n")
            if line == b"stats":
                return b"STAT time 1000\r\nEND\r\n"
            if line.startswith(b"get"):
                return b"END\r\n"
            return b"ERROR\r\n"
        fake = FakeMemcached(reply)
        self.addCleanup(fake.stop)
        self.write_conf([fake.server, self.mc.server])
        self.mc.set("route:proto=imap;user=a@example.com", "127.0.0.2:143")
        r = self.ctl("clear", "x")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn(fake.server, r.stderr)
        self.assertIn("unexpected key dump line", r.stderr)
        self.assertFalse([c for c in fake.received if b"flush_all" in c or c.startswith(b"delete")], fake.received)
        self.assertIsNotNone(self.mc.get("route:proto=imap;user=a@example.com"))

    def test_a_server_without_metadump_hash_is_listed_through_its_lrus(self):
        # Not an attack: an older memcached takes "hash" for a slab class.
        def reply(line):
            if line == b"lru_crawler metadump hash":
                return b"BADCLASS invalid class id\r\n"
            if line == b"lru_crawler metadump all":
                return b"key=throttle%3Aproto%3Di%2Cip%3D127.0.0.7 exp=1060 la=1 cas=1 fetch=no cls=1 size=60\nEND\r\n"
            if line == b"stats":
                return b"STAT pid 1\r\nSTAT time 1000\r\nEND\r\n"
            if line == b"get throttle:proto=i,ip=127.0.0.7":
                return b"VALUE throttle:proto=i,ip=127.0.0.7 0 1\r\n3\r\nEND\r\n"
            return b"ERROR\r\n"
        old = FakeMemcached(reply)
        self.addCleanup(old.stop)
        self.write_conf([old.server])
        rows = json.loads(self.ctl("list", "--json").stdout)
        self.assertEqual([(r["kind"], r["address"], r["count"], r["expires_in"]) for r in rows],
                         [("ip/imap", "127.0.0.7", 3, 60)])

    def test_a_server_that_never_answers_is_given_up_on_in_time(self):
        silent = FakeMemcached(lambda line: None)
        self.addCleanup(silent.stop)
        self.assertEqual(command(self.mc, "add throttle:proto=i,ip=127.0.0.7 0 60 1\r\n1\r\n"), "STORED")
        self.write_conf([silent.server, self.mc.server])
        start = time.monotonic()
        r = self.ctl("list")
        self.assertLess(time.monotonic() - start, 10)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, f"zmproxyctl: memcached {silent.server}: no answer within 300 ms\n")
        self.assertIn("127.0.0.7", r.stdout)

    def test_an_endless_line_is_refused(self):
        def reply(line):
            if line.startswith(b"lru_crawler"):
                return b"key=" + b"a" * 100_000
            return None
        flood = FakeMemcached(reply)
        self.addCleanup(flood.stop)
        self.write_conf([flood.server])
        start = time.monotonic()
        r = self.ctl("list")
        self.assertLess(time.monotonic() - start, 10)
        self.assertEqual(r.returncode, 1)
        self.assertIn("longer than 4096 bytes", r.stderr)
        self.assertEqual(len(r.stderr.splitlines()), 1)


if __name__ == "__main__":
    unittest.main()
